# agentd as a real process, driven by curl and the test client.
ac_test(apps agentd LABELS concurrency)
add_dependencies(test_apps_agentd agentd)
target_compile_definitions(test_apps_agentd PRIVATE AGENTD_BIN="$<TARGET_FILE:agentd>")
# Programs in apps/, driven as processes.
ac_test(apps ac_echo)
target_compile_definitions(test_apps_ac_echo PRIVATE AC_ECHO_BIN="$<TARGET_FILE:ac-echo>")
add_dependencies(test_apps_ac_echo ac-echo)
# agentd's admin listener and metrics as a real process (curl, promtool, wrk).
ac_test(apps agentd_metrics LABELS concurrency)
add_dependencies(test_apps_agentd_metrics agentd)
target_compile_definitions(test_apps_agentd_metrics PRIVATE AGENTD_BIN="$<TARGET_FILE:agentd>")
