# Benchmarks of the net module (issue 5).
ac_bench(net_zc SOURCES net_zc.c)
