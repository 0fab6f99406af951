ac_bench(runtime SOURCES bench_runtime.c)
