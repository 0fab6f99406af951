ac_bench(http SOURCES bench_http.c LIBS ac_http_parser_lib)
