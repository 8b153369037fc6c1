# The two commands of the README. Both install missing Debian packages, configure and build.
#   make demo   tunes the built-in SGEMM at 1024^3 on this machine (about a minute)
#   make test   runs every test
BUILD_DIR ?= build/release
JOBS ?= $(shell nproc)
DEMO_ARGS ?= --m 1024 --n 1024 --k 1024 --budget 40

.PHONY: all deps configure build demo test bench clean format

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake --preset release >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	$(BUILD_DIR)/attune tune gemm $(DEMO_ARGS)

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

bench: build
	$(BUILD_DIR)/bench/space_construction

format:
	clang-format -i $$(git ls-files '*.hpp' '*.cpp')

clean:
	rm -rf build
