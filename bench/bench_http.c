/*
 * bench_http: cost of parsing HTTP/1.1 requests with ac_http_parser,
 * beside libhttp-parser alone on the same bytes with callbacks that keep
 * url/header/body pointers (the baseline: what the library costs without
 * our strict scanner, header array and framing checks).
 *
 *   GET    a wrk-style GET /healthz with 4 headers
 *   POST   an agent invoke with 6 headers and an 86-byte JSON body
 *   split  the POST arriving in two slices (head copied once)
 *   piped  100 pipelined GETs in one buffer
 *
 * Reports ns/request and M requests/s (medians of --runs); every run
 * checks that the expected number of requests came out.
 */
#include "harness.h"

#include "agentcore/http.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char get_req[] = "GET /healthz HTTP/1.1\r\n"
                              "Host: 127.0.0.1:8080\r\n"
                              "User-Agent: wrk/4.1\r\n"
                              "Accept: */*\r\n"
                              "Connection: keep-alive\r\n\r\n";

static const char post_req[] = "POST /v1/agents/echo/invoke HTTP/1.1\r\n"
                               "Host: 127.0.0.1:8080\r\n"
                               "User-Agent: wrk/4.1\r\n"
                               "Accept: */*\r\n"
                               "Content-Type: application/json\r\n"
                               "X-Request-Id: 7f9c2ba4e88f827d616045507605853e\r\n"
                               "Content-Length: 86\r\n\r\n"
                               "{\"session_id\":\"s-000123\",\"user_id\":\"u-42\",\"input\":"
                               "\"hello there, agent\",\"stream\":false}";

static struct ac_bench_opts opts;

static double now_s(void)
{
    return (double)ac_now_ns() / 1e9;
}

/* Parses `reqs` requests from buf (pieces of `split` bytes first if > 0). */
static unsigned parse_ours(ac_http_parser *p, const char *buf, size_t len, size_t split)
{
    unsigned got = 0;
    size_t off = 0, used;
    if (split) {
        AC_BENCH_CHECK(ac_http_parser_feed(p, buf, split, &used) == AC_HTTP_NEED_MORE);
        off = split;
    }
    while (off < len) {
        enum ac_http_event ev = ac_http_parser_feed(p, buf + off, len - off, &used);
        off += used;
        if (ev == AC_HTTP_REQUEST)
            got++;
        else
            AC_BENCH_CHECK(ev == AC_HTTP_NEED_MORE);
    }
    return got;
}

/* The baseline keeps what any server needs: url, header and body pointers. */
struct lib_req {
    unsigned got, n;
    const char *url, *body, *hdr[64];
};

static int lib_url(http_parser *hp, const char *at, size_t n)
{
    (void)n;
    ((struct lib_req *)hp->data)->url = at;
    return 0;
}

static int lib_field(http_parser *hp, const char *at, size_t n)
{
    struct lib_req *r = hp->data;
    (void)n;
    r->hdr[r->n++ & 63] = at;
    return 0;
}

static int lib_body(http_parser *hp, const char *at, size_t n)
{
    (void)n;
    ((struct lib_req *)hp->data)->body = at;
    return 0;
}

static int lib_complete(http_parser *hp)
{
    ((struct lib_req *)hp->data)->got++;
    return 0;
}

static unsigned parse_lib(http_parser *hp, const char *buf, size_t len)
{
    static const http_parser_settings st = {.on_url = lib_url,
                                            .on_header_field = lib_field,
                                            .on_header_value = lib_field,
                                            .on_body = lib_body,
                                            .on_message_complete = lib_complete};
    struct lib_req r = {0};
    hp->data = &r;
    AC_BENCH_CHECK(http_parser_execute(hp, &st, buf, len) == len);
    AC_BENCH_CHECK(r.url && r.n > 0);
    return r.got;
}

/* ns per request over `iters` parses of buf (holding `per` requests). */
static double run_ours(const char *buf, size_t len, unsigned per, size_t split, unsigned iters)
{
    ac_http_parser *p;
    AC_BENCH_CHECK(ac_http_parser_create(NULL, &p) == 0);
    unsigned got = 0;
    double t0 = now_s();
    for (unsigned i = 0; i < iters; i++)
        got += parse_ours(p, buf, len, split);
    double t = now_s() - t0;
    AC_BENCH_CHECK(got == per * iters);
    ac_http_parser_destroy(p);
    return t * 1e9 / ((double)per * iters);
}

static double run_lib(const char *buf, size_t len, unsigned per, unsigned iters)
{
    http_parser hp;
    unsigned got = 0;
    http_parser_init(&hp, HTTP_REQUEST);
    double t0 = now_s();
    for (unsigned i = 0; i < iters; i++)
        got += parse_lib(&hp, buf, len);
    double t = now_s() - t0;
    AC_BENCH_CHECK(got == per * iters);
    return t * 1e9 / ((double)per * iters);
}

static void scenario(const char *name, const char *buf, size_t len, unsigned per, size_t split)
{
    unsigned iters = (opts.quick ? 20000 : 400000) / per, runs = opts.runs;
    double ours[64], lib[64], rps[64];
    struct ac_bench_stats so, sl, sr;
    char label[96];
    if (runs > 64)
        runs = 64;
    for (unsigned r = 0; r < runs; r++) {
        ours[r] = run_ours(buf, len, per, split, iters);
        lib[r] = run_lib(buf, len, per, iters);
        rps[r] = 1e3 / ours[r]; /* M requests/s */
    }
    ac_bench_stats_of(ours, runs, &so);
    ac_bench_stats_of(lib, runs, &sl);
    ac_bench_stats_of(rps, runs, &sr);
    snprintf(label, sizeof label, "%s: ac_http_parser", name);
    ac_bench_result(label, "ns/req", &so);
    ac_bench_result(label, "M req/s", &sr);
    snprintf(label, sizeof label, "%s: libhttp-parser alone (baseline)", name);
    ac_bench_result(label, "ns/req", &sl);
    snprintf(label, sizeof label, "%s: ratio ours / library", name);
    ac_bench_value(label, "x", so.median / sl.median);
}

int main(int argc, char **argv)
{
    if (ac_bench_parse(argc, argv, &opts) < 0)
        return 2;
    ac_bench_pin(0);
    ac_bench_begin(&opts, "http");
    scenario("GET", get_req, sizeof get_req - 1, 1, 0);
    scenario("POST", post_req, sizeof post_req - 1, 1, 0);
    scenario("POST split in 2", post_req, sizeof post_req - 1, 1, 60);
    size_t one = sizeof get_req - 1;
    char *piped = malloc(one * 100);
    for (unsigned i = 0; i < 100; i++)
        memcpy(piped + i * one, get_req, one);
    scenario("100 pipelined GETs", piped, one * 100, 100, 0);
    free(piped);
    ac_bench_end();
    return 0;
}
