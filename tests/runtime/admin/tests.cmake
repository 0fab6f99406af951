ac_test(runtime/admin admin LABELS concurrency)
