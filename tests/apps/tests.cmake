# agentd as a real process, driven by curl and the test client.
ac_test(apps agentd LABELS concurrency)
add_dependencies(test_apps_agentd agentd)
target_compile_definitions(test_apps_agentd PRIVATE AGENTD_BIN="$<TARGET_FILE:agentd>")
# Programs in apps/, driven as processes.
ac_test(apps ac_echo)
target_compile_definitions(test_apps_ac_echo PRIVATE AC_ECHO_BIN="$<TARGET_FILE:ac-echo>")
add_dependencies(test_apps_ac_echo ac-echo)
# Several agentd nodes with a real redis-server (issue 16).
ac_test(apps cluster LIBS PkgConfig::HIREDIS TIMEOUT 600)
add_dependencies(test_apps_cluster agentd)
target_compile_definitions(test_apps_cluster PRIVATE AGENTD_BIN="$<TARGET_FILE:agentd>")
# exclusive-counter: two agentd processes and real redis-servers.
ac_test(apps agentd_locks LABELS concurrency LIBS PkgConfig::HIREDIS PkgConfig::JANSSON)
add_dependencies(test_apps_agentd_locks agentd)
target_compile_definitions(test_apps_agentd_locks PRIVATE AGENTD_BIN="$<TARGET_FILE:agentd>")
# agentd's config, flags, log file and systemd readiness, as a process.
ac_test(apps agentd_config LABELS concurrency)
add_dependencies(test_apps_agentd_config agentd)
target_compile_definitions(test_apps_agentd_config PRIVATE AGENTD_BIN="$<TARGET_FILE:agentd>"
                           SOURCE_DIR="${PROJECT_SOURCE_DIR}" AGENTD_VERSION="${PROJECT_VERSION}")
# agentd's config loader compiled in: key -> knob mapping, truncation fuzz.
ac_test(apps agentd_settings LIBS PkgConfig::AGENTD_YAML)
target_sources(test_apps_agentd_settings PRIVATE
  ${PROJECT_SOURCE_DIR}/apps/agentd/config.c ${PROJECT_SOURCE_DIR}/apps/agentd/keys.c
  ${PROJECT_SOURCE_DIR}/apps/agentd/yaml_read.c ${PROJECT_SOURCE_DIR}/apps/agentd/settings.c
  ${PROJECT_SOURCE_DIR}/apps/agentd/cluster.c)
target_include_directories(test_apps_agentd_settings PRIVATE ${PROJECT_SOURCE_DIR}/apps/agentd)
target_compile_definitions(test_apps_agentd_settings PRIVATE SOURCE_DIR="${PROJECT_SOURCE_DIR}")
# agentd's admin listener and metrics as a real process (curl, promtool, wrk).
ac_test(apps agentd_metrics LABELS concurrency)
add_dependencies(test_apps_agentd_metrics agentd)
target_compile_definitions(test_apps_agentd_metrics PRIVATE AGENTD_BIN="$<TARGET_FILE:agentd>")
# agentd where io_uring is blocked: a child under a seccomp filter (libseccomp).
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)
ac_test(apps agentd_backend LIBS PkgConfig::SECCOMP)
add_dependencies(test_apps_agentd_backend agentd)
target_compile_definitions(test_apps_agentd_backend PRIVATE AGENTD_BIN="$<TARGET_FILE:agentd>")
