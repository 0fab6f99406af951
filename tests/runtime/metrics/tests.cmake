ac_test(runtime/metrics metrics LABELS concurrency)
