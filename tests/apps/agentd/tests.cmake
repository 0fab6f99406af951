# agentd's parts, as a process: alert rules at run time.
ac_test(apps/agentd alerts LABELS concurrency TIMEOUT 90)
add_dependencies(test_apps_agentd_alerts agentd)
target_compile_definitions(test_apps_agentd_alerts PRIVATE AGENTD_BIN="$<TARGET_FILE:agentd>")
