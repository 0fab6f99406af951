ac_test(net/http parse)
target_compile_definitions(test_net_http_parse PRIVATE
                           AC_HTTP_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/net/http/corpus")
ac_test(net/http response LIBS PkgConfig::JANSSON ac_http_parser_lib)
ac_test(net/http server LABELS concurrency)
target_compile_definitions(test_net_http_server PRIVATE
                           AC_HTTP_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/net/http/corpus")

# libFuzzer harness for the HTTP parser: only with clang, never in the
# default build (a custom target: build it by name).
find_program(AC_CLANG clang)
if(AC_CLANG AND NOT AC_SANITIZE)
  set(fuzz_src ${CMAKE_CURRENT_SOURCE_DIR}/net/http/fuzz_parse.c
      ${PROJECT_SOURCE_DIR}/net/http/parse.c ${PROJECT_SOURCE_DIR}/net/http/framing.c
      ${PROJECT_SOURCE_DIR}/net/http/errors.c)
  add_custom_target(fuzz_http_parse
    COMMAND ${AC_CLANG} -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
            -I${PROJECT_SOURCE_DIR}/include -I${HTTP_PARSER_INCLUDE_DIR} ${fuzz_src}
            ${HTTP_PARSER_LIBRARY} -o ${CMAKE_BINARY_DIR}/tests/fuzz_http_parse
    DEPENDS ${fuzz_src} SOURCES ${fuzz_src}
    COMMENT "libFuzzer harness for ac_http_parser")
endif()
ac_test(net/http client LABELS concurrency LIBS PkgConfig::HIREDIS)
