# The two commands: `make run` and `make test`. Everything else is CMake.
#   make run     install deps, build release, start agentd (foreground, :8080)
#   make test    install deps, build and test release, asan and tsan presets
#   make bench   build release and run the benchmark suite (bench/suite/README.md):
#                build/bench/results.json, plots, bench/RESULTS.md's generated
#                section. QUICK=1: the quick suite (< 2 min on 2 cores).
#   make bench-compare OLD=old/results.json [NEW=...]  ratios that moved > 10 %
#   make faults  the fault-injection preset (ASan + AC_FAULTS) and its tests
#   make fuzz    build the libFuzzer targets, run each FUZZ_SECONDS (60)
#   make soak    mixed load against agentd for DURATION seconds (600)
SHELL := /bin/bash
JOBS ?= $(shell nproc)
CTEST = ctest --output-on-failure -j$(JOBS) --timeout 300

.PHONY: all deps deps-test deps-bench build run test test-release test-clang test-asan test-tsan \
        test-bench bench bench-compare clean faults fuzz soak

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

test: deps-test test-release test-clang test-asan test-tsan faults test-bench

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

# Fault injection: only the library and the two workload tests are built
# (labelled "faults"); the other tests run in the asan preset already.
faults: deps-test
	cmake --preset faults >/dev/null
	cmake --build --preset faults -j$(JOBS) --target test_faults_echo test_faults_http
	cd build-faults && $(CTEST) -L faults

# libFuzzer: fuzz_http (request path end to end) and fuzz_config (agentd's
# YAML loader) from build-fuzz (clang, ASan+UBSan, every library with
# coverage), plus the older harnesses of the normal build: fuzz_http_parse
# (the parser alone) and fuzz_agent_request (the envelope scan vs jansson).
# Each runs FUZZ_SECONDS from its seed corpus (binary:seed dirs); a crash
# stops it with the input under build-fuzz/artifacts/ (make it a
# regression test).
FUZZ_SECONDS ?= 60
FUZZ_RUNS = build-fuzz/bin/fuzz_http:tests/fuzz/corpus/http:tests/net/http/corpus \
            build-fuzz/bin/fuzz_config:tests/fuzz/corpus/config:configs \
            build/tests/fuzz_http_parse:tests/net/http/corpus \
            build/tests/fuzz_agent_request:tests/runtime/agent/corpus
fuzz: deps-test
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DAC_SANITIZE=address -DAC_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j$(JOBS) --target fuzz_http fuzz_config
	cmake --preset release >/dev/null
	cmake --build --preset release -j$(JOBS) --target fuzz_http_parse fuzz_agent_request
	mkdir -p build-fuzz/artifacts
	set -e; for spec in $(FUZZ_RUNS); do \
	    bin=$${spec%%:*}; t=$$(basename $$bin); seeds=$$(echo $${spec#*:} | tr : ' '); \
	    mkdir -p build-fuzz/corpus/$$t; echo "== $$t: $(FUZZ_SECONDS) s"; \
	    $$bin -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=build-fuzz/artifacts/$$t- build-fuzz/corpus/$$t $$seeds 2>&1 | \
	        grep -E '^(INFO: seed|Done|stat::number_of_executed_units|SUMMARY|artifact_prefix)|ERROR' ; \
	    test $${PIPESTATUS[0]} -eq 0; \
	done

# Soak: mixed load with churn against a release agentd (bench/soak.py).
DURATION ?= 600
soak: build
	bench/soak.py --duration $(DURATION)

# CI: the quick suite once, into its own folder (bench/RESULTS.md untouched);
# fails when a step fails or results.json is malformed, never on the numbers.
test-bench: deps-bench build
	bench/suite/run.py --quick --out build/bench-ci/results.json
	bench/suite/check.py build/bench-ci/results.json
	bench/suite/compare.py build/bench-ci/results.json build/bench-ci/results.json >/dev/null

BENCH_FLAGS = $(if $(filter 1,$(QUICK)),--quick)
bench: deps-bench build
	bench/suite/run.py $(BENCH_FLAGS); s=$$?; \
	  bench/suite/plot.py && bench/suite/report.py && bench/suite/check.py && exit $$s

bench-compare:
	@test -n "$(OLD)" || { echo "usage: make bench-compare OLD=path/to/results.json [NEW=path]" >&2; exit 2; }
	bench/suite/compare.py $(OLD) $(or $(NEW),build/bench/results.json)

clean:
	rm -rf build build-debug build-asan build-tsan build-clang build-faults build-fuzz
