ac_test(runtime/agent request)
ac_test(runtime/agent session LABELS concurrency)
ac_test(runtime/agent router LABELS concurrency LIBS ac_http_parser_lib)
ac_test(runtime/agent http LABELS concurrency)
target_compile_definitions(test_runtime_agent_http PRIVATE
                           AC_HTTP_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/net/http/corpus")
ac_test(runtime/agent json)
target_compile_definitions(test_runtime_agent_json PRIVATE
                           AC_AGENT_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/runtime/agent/corpus")
