# The admin module's pages: CPU profiles (google-pprof reads them).
ac_test(runtime/admin pprof TIMEOUT 60)
target_include_directories(test_runtime_admin_pprof PRIVATE ${PROJECT_SOURCE_DIR}/runtime/admin)
