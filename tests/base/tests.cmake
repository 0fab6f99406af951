ac_test(base cpulist)
ac_test(base hist)
