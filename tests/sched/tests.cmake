ac_test(sched timer_wheel)
