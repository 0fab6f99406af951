# libFuzzer targets (make fuzz): only in a clang build with AC_FUZZ=ON,
# where every library is compiled with -fsanitize=fuzzer-no-link (coverage).
# The older parser-only harness (tests/net/http/fuzz_parse.c) stays as is.
if(AC_FUZZ)
  add_executable(fuzz_http ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_http.c)
  target_link_libraries(fuzz_http PRIVATE agentcore_static ac_warnings ac_http_parser_lib)
  target_link_options(fuzz_http PRIVATE -fsanitize=fuzzer)
  add_executable(fuzz_config ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_config.c
    ${PROJECT_SOURCE_DIR}/apps/agentd/config.c ${PROJECT_SOURCE_DIR}/apps/agentd/keys.c
    ${PROJECT_SOURCE_DIR}/apps/agentd/yaml_read.c ${PROJECT_SOURCE_DIR}/apps/agentd/settings.c
    ${PROJECT_SOURCE_DIR}/apps/agentd/print.c)
  target_include_directories(fuzz_config PRIVATE ${PROJECT_SOURCE_DIR}/apps/agentd)
  target_link_libraries(fuzz_config PRIVATE agentcore_static ac_warnings PkgConfig::AGENTD_YAML)
  target_link_options(fuzz_config PRIVATE -fsanitize=fuzzer)
endif()
