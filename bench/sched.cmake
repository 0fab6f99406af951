# Benchmarks of the scheduler (issue 4).
ac_bench(sched_spawn SOURCES sched_spawn.c baselines/pthread_pool.c)
ac_bench(sched_deque SOURCES sched_deque.c)
ac_bench(sched_steal SOURCES sched_steal.c)
