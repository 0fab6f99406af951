# The two commands: `make run` and `make test`. Everything else is CMake.
#   make run     install deps, build release, start agentd (foreground, :8080)
#   make test    install deps, build and test release, asan and tsan presets
#   make bench   build release and run the benchmark suite (bench/run.sh)
JOBS ?= $(shell nproc)
CTEST = ctest --output-on-failure -j$(JOBS) --timeout 300

.PHONY: all deps deps-test deps-bench build run test test-release test-clang test-asan test-tsan bench clean

all: build

deps:
	@scripts/deps.sh build
deps-test:
	@scripts/deps.sh test
deps-bench:
	@scripts/deps.sh bench

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j$(JOBS)

run: build
	./build/bin/agentd

test: deps-test test-release test-clang test-asan test-tsan

test-release: build
	cd build && $(CTEST)

# A build the presets do not make: CMake's plain Release (-O3 -DNDEBUG) with
# clang and -Werror, so a warning only -O3 or clang shows fails CI.
test-clang: deps-test
	CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Release -DAC_WERROR=ON \
	    -DBUILD_TESTING=OFF >/dev/null
	cmake --build build-clang -j$(JOBS)

test-asan: deps-test
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j$(JOBS)
	cd build-asan && $(CTEST)

# ThreadSanitizer runs the tests labelled "concurrency" (the lock-free code).
test-tsan: deps-test
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j$(JOBS)
	cd build-tsan && $(CTEST) -L concurrency

bench: deps-bench build
	bench/run.sh

clean:
	rm -rf build build-debug build-asan build-tsan build-clang
