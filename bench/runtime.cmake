ac_bench(runtime SOURCES bench_runtime.c)
ac_bench(runtime_steal SOURCES runtime_steal.c)
