# ingot: the two commands a newcomer needs are `make run` and `make test`.
# Both install what is missing first (scripts/setup.sh).
#
# Build trees:
#   build/        the system's default C compiler (cc: gcc on Debian), configured
#                 the way the README tells people to, plus the CUDA plugin where
#                 nvcc exists; `make run` uses it
#   build-clang/  clang, with every test also under ASan+UBSan and the libFuzzer
#                 smoke runs
#   build-gcc/    gcc, only when cc is not gcc (so both compilers always run the suite)

BUILD       ?= build
CLANG_BUILD ?= build-clang
GCC_BUILD   ?= build-gcc
JOBS        ?= $(shell nproc)
NVCC        := $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
CMAKE_ARGS  ?=
CC_IS_GCC   := $(shell env -u CC cc -v 2>&1 | grep -q '^gcc version' && echo yes)
TREES       := $(BUILD) $(CLANG_BUILD) $(if $(CC_IS_GCC),,$(GCC_BUILD))

# Warnings are errors in every tree; the default tree names no compiler.
CONFIGURE := cmake -G Ninja -DINGOT_WERROR=ON $(CMAKE_ARGS)

.PHONY: all setup build run test format lint clean

all: build

setup:
	@bash scripts/setup.sh

$(BUILD)/build.ninja:
	@env -u CC $(CONFIGURE) -S . -B $(BUILD) $(if $(NVCC),-DCMAKE_CUDA_COMPILER=$(NVCC)) >/dev/null

$(CLANG_BUILD)/build.ninja:
	@$(CONFIGURE) -S . -B $(CLANG_BUILD) -DCMAKE_C_COMPILER=clang -DINGOT_CUDA=OFF >/dev/null

$(GCC_BUILD)/build.ninja:
	@$(CONFIGURE) -S . -B $(GCC_BUILD) -DCMAKE_C_COMPILER=gcc -DINGOT_CUDA=OFF >/dev/null

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

# Every test in every tree: unit tests (gcc and clang), the same tests under
# ASan+UBSan and libFuzzer smoke runs (clang), source checks. One ctest run
# per tree; the last line printed is the sum over all of them.
test: setup $(addsuffix /build.ninja,$(TREES))
	@for t in $(TREES); do ninja -C $$t -j $(JOBS) || exit 1; done
	@bash scripts/ctest_trees.sh $(JOBS) $(TREES)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h' '*.cu')

lint: $(CLANG_BUILD)/build.ninja
	@clang-tidy -p $(CLANG_BUILD) --quiet $$(git ls-files 'src/*.c' 'tools/*.c')
	@cppcheck --quiet --enable=warning,performance,portability --inline-suppr \
	  -I include -I src $$(git ls-files 'src/*.c' 'tools/*.c')

clean:
	@rm -rf $(BUILD) $(CLANG_BUILD) $(GCC_BUILD)
