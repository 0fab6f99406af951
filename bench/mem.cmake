ac_bench(mem SOURCES bench_mem.c LIBS ${CMAKE_DL_LIBS} Threads::Threads)
