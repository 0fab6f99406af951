# configs/: the shipped Prometheus rules pass `promtool test rules`
# (skipped, exit 77, when promtool is not installed).
add_test(NAME configs/prometheus_rules
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/configs/promtool.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(configs/prometheus_rules PROPERTIES LABELS configs SKIP_RETURN_CODE 77
                     TIMEOUT 60)
