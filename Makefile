# ingot: the two commands a newcomer needs are `make run` and `make test`.
# Both install what is missing first (scripts/setup.sh).

BUILD      ?= build
JOBS       ?= $(shell nproc)
NVCC       := $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
CMAKE_ARGS ?=
CONFIGURE  := cmake -S . -B $(BUILD) -G Ninja -DCMAKE_C_COMPILER=clang -DINGOT_WERROR=ON \
              $(if $(NVCC),-DCMAKE_CUDA_COMPILER=$(NVCC)) $(CMAKE_ARGS)

.PHONY: all setup build run test format lint clean

all: build

setup:
	@bash scripts/setup.sh

$(BUILD)/build.ninja:
	@$(CONFIGURE) >/dev/null

build: setup $(BUILD)/build.ninja
	@ninja -C $(BUILD) -j $(JOBS)

# The main job: text generation end to end. Writes once (cached in
# $(BUILD)/demo-model) a small Qwen3-architecture model folder with random
# weights and the real Qwen3 tokenizer, then streams `ingot generate` on it.
# The weights are random, so the text is meaningless; point the same command
# at any Hugging Face folder for real text.
run: build
	@test -f $(BUILD)/demo-model/tokenizer_config.json || \
	  $(BUILD)/bin/ingot random-model --shape tiny --seed 0 \
	    --tokenizer .cache/assets/tokenizer-qwen3/models $(BUILD)/demo-model
	@echo "ingot: generating with $(BUILD)/demo-model, a Qwen3-architecture model with RANDOM"
	@echo "weights (and the real Qwen3 tokenizer): the text below is meaningless by design."
	@echo "For real text, point it at a Hugging Face model folder (e.g. Qwen3-0.6B):"
	@echo "  $(BUILD)/bin/ingot generate --model DIR --prompt 'Why is the sky blue?'"
	@echo
	@$(BUILD)/bin/ingot generate --model $(BUILD)/demo-model \
	  --prompt "Write a haiku about the sea." --max-tokens 48 --temp 0.8 --seed 1

# Every test: unit tests, the same tests under ASan+UBSan, libFuzzer smoke
# runs. ctest's summary is the last line printed.
test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h' '*.cu')

lint: $(BUILD)/build.ninja
	@clang-tidy -p $(BUILD) --quiet $$(git ls-files 'src/*.c' 'tools/*.c')
	@cppcheck --quiet --enable=warning,performance,portability --inline-suppr \
	  -I include -I src $$(git ls-files 'src/*.c' 'tools/*.c')

clean:
	@rm -rf $(BUILD)
