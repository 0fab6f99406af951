ac_test(base cpulist)
