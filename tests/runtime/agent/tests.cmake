ac_test(runtime/agent request)
ac_test(runtime/agent session LABELS concurrency)
ac_test(runtime/agent router LABELS concurrency LIBS ac_http_parser_lib)
ac_test(runtime/agent http LABELS concurrency)
target_compile_definitions(test_runtime_agent_http PRIVATE
                           AC_HTTP_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/net/http/corpus")
ac_test(runtime/agent json)
target_compile_definitions(test_runtime_agent_json PRIVATE
                           AC_AGENT_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/runtime/agent/corpus")

# libFuzzer harness: the AgentRequest scan against jansson (see
# fuzz_agent_request.c); only with clang, built by name.
if(AC_CLANG AND NOT AC_SANITIZE)
  set(fuzz_agent_src ${CMAKE_CURRENT_SOURCE_DIR}/runtime/agent/fuzz_request.c
      ${PROJECT_SOURCE_DIR}/runtime/agent/json.c ${PROJECT_SOURCE_DIR}/runtime/agent/request.c)
  add_custom_target(fuzz_agent_request
    COMMAND ${AC_CLANG} -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
            -I${PROJECT_SOURCE_DIR}/include ${fuzz_agent_src} -ljansson -lm
            -o ${CMAKE_BINARY_DIR}/tests/fuzz_agent_request
    DEPENDS ${fuzz_agent_src} SOURCES ${fuzz_agent_src}
    COMMENT "libFuzzer harness: AgentRequest scan vs jansson")
endif()
