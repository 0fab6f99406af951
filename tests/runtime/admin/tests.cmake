ac_test(runtime/admin admin LABELS concurrency)
# The admin module's pages. CPU profiles: read by google-pprof, in-process
# and from agentd over HTTP; the dashboard: loaded by headless Chromium
# from agentd under load (screenshot kept in build/artifacts/).
ac_test(runtime/admin pprof TIMEOUT 60)
target_include_directories(test_runtime_admin_pprof PRIVATE ${PROJECT_SOURCE_DIR}/runtime/admin)
target_compile_definitions(test_runtime_admin_pprof PRIVATE AGENTD_BIN="$<TARGET_FILE:agentd>")
add_dependencies(test_runtime_admin_pprof agentd)
ac_test(runtime/admin dashboard TIMEOUT 120)
target_compile_definitions(test_runtime_admin_dashboard PRIVATE AGENTD_BIN="$<TARGET_FILE:agentd>"
                           AC_ARTIFACT_DIR="${CMAKE_BINARY_DIR}/artifacts")
add_dependencies(test_runtime_admin_dashboard agentd)
