ac_test(runtime/cluster placement)
