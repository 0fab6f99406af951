ac_bench(dlock SOURCES dlock.c)
