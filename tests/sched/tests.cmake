ac_test(sched deque LABELS concurrency)
ac_test(sched sched)
ac_test(sched steal LABELS concurrency)
ac_test(sched topology)
