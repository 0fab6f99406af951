ac_test(net ring)
