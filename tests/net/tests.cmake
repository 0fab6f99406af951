ac_test(net ring)
ac_test(net http_parse)
target_compile_definitions(test_net_http_parse PRIVATE
                           AC_HTTP_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/net/http_corpus")
ac_test(net http_response LIBS PkgConfig::JANSSON ac_http_parser_lib)
