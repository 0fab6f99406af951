ac_test(base cpulist)
ac_test(base hist)
ac_test(base units)
ac_test(base log)
