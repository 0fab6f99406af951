ac_bench(cluster_placement SOURCES cluster_placement.c)
