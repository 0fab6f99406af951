# The alert module: pure unit tests on the parser, the state machine (fed
# synthetic samples, the engine's own input) and the Prometheus writer.
ac_test(runtime/alert condition)
ac_test(runtime/alert engine)
ac_test(runtime/alert prometheus)
