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

# The main job, as far as it exists today: a tour of the library (arrays,
# ops, autograd, safetensors round trip) through the command-line tool.
run: build
	@$(BUILD)/bin/ingot demo

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
