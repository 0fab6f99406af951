ac_test(net ring)
ac_test(net tcp_conn LABELS concurrency)
ac_test(net tcp_server LABELS concurrency)
ac_test(net bufring LABELS concurrency)
