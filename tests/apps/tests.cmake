# agentd as a real process, driven by curl and the test client.
ac_test(apps agentd LABELS concurrency)
add_dependencies(test_apps_agentd agentd)
target_compile_definitions(test_apps_agentd PRIVATE AGENTD_BIN="$<TARGET_FILE:agentd>")
# Programs in apps/, driven as processes.
ac_test(apps ac_echo)
target_compile_definitions(test_apps_ac_echo PRIVATE AC_ECHO_BIN="$<TARGET_FILE:ac-echo>")
add_dependencies(test_apps_ac_echo ac-echo)
# agentd where io_uring is blocked: a child under a seccomp filter (libseccomp).
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)
ac_test(apps agentd_backend LIBS PkgConfig::SECCOMP)
add_dependencies(test_apps_agentd_backend agentd)
target_compile_definitions(test_apps_agentd_backend PRIVATE AGENTD_BIN="$<TARGET_FILE:agentd>")
