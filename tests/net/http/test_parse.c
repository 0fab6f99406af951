/*
 * The HTTP/1.1 request parser: the malformed-request corpus, pipelining,
 * byte splits, chunked bodies, 100-continue, keep-alive and the
 * zero-copy lifetime rules.
 */
#include "agentcore/http.h"
#include "net/http/client.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ac_http_parser *new_parser(const struct ac_http_limits *lim)
{
    ac_http_parser *p;
    cr_assert_eq(ac_http_parser_create(lim, &p), 0);
    return p;
}

/* Feeds data in pieces of `step` bytes (0: all at once) until an event
 * other than NEED_MORE/CONTINUE; returns it (NEED_MORE if data ran out). */
static enum ac_http_event feed_all(ac_http_parser *p, const char *data, size_t len, size_t step,
                                   size_t *used_total, unsigned *continues)
{
    size_t off = 0;
    *used_total = 0;
    while (off < len) {
        size_t n = step && len - off > step ? step : len - off, used;
        enum ac_http_event ev = ac_http_parser_feed(p, data + off, n, &used);
        cr_assert_leq(used, n);
        off += used;
        if (ev == AC_HTTP_CONTINUE && continues)
            ++*continues;
        if (ev == AC_HTTP_REQUEST || ev == AC_HTTP_ERROR) {
            *used_total = off;
            return ev;
        }
        if (ev == AC_HTTP_NEED_MORE)
            cr_assert_eq(used, n, "NEED_MORE must use every byte");
    }
    *used_total = off;
    return AC_HTTP_NEED_MORE;
}

/* One corpus file, fed in pieces of `step`: must be refused as named. */
static void check_corpus_file(const char *name, const char *data, size_t len, size_t step)
{
    int status;
    char code[64];
    cr_assert_eq(sscanf(name, "%d.%63[^.]", &status, code), 2, "bad corpus name %s", name);
    ac_http_parser *p = new_parser(NULL);
    size_t used;
    enum ac_http_event ev = feed_all(p, data, len, step, &used, NULL);
    cr_assert_eq(ev, AC_HTTP_ERROR, "%s (step %zu): not refused (event %d)", name, step, ev);
    const struct ac_http_error *e = ac_http_parser_error(p);
    cr_assert_eq(e->status, status, "%s (step %zu): status %d, code %s", name, step, e->status,
                 e->code);
    cr_assert_str_eq(e->code, code, "%s (step %zu)", name, step);
    /* the parser stays dead */
    cr_assert_eq(ac_http_parser_feed(p, "GET / HTTP/1.1\r\n", 16, &used), AC_HTTP_ERROR);
    cr_assert_eq(used, 0);
    ac_http_parser_destroy(p);
}

Test(net_http_parse, every_corpus_request_gets_its_status_whole_and_byte_by_byte)
{
    DIR *d = opendir(AC_HTTP_CORPUS);
    struct dirent *de;
    unsigned files = 0;
    cr_assert_not_null(d);
    while ((de = readdir(d))) {
        char path[1024];
        size_t len;
        if (!strstr(de->d_name, ".http"))
            continue;
        snprintf(path, sizeof path, "%s/%s", AC_HTTP_CORPUS, de->d_name);
        char *data = hc_read_file(path, &len);
        cr_assert_not_null(data, "%s", path);
        check_corpus_file(de->d_name, data, len, 0);
        check_corpus_file(de->d_name, data, len, 1);
        check_corpus_file(de->d_name, data, len, 7);
        /* the next connection still parses a good request */
        ac_http_parser *p = new_parser(NULL);
        size_t used;
        cr_assert_eq(feed_all(p, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, 0, &used, NULL),
                     AC_HTTP_REQUEST);
        ac_http_parser_destroy(p);
        free(data);
        files++;
    }
    closedir(d);
    cr_assert_geq(files, 50, "the corpus holds %u files", files);
}

static const char sample[] = "POST /v1/agents/echo/invoke?x=1 HTTP/1.1\r\n"
                             "Host: localhost:8080\r\n"
                             "User-Agent: test\r\n"
                             "Content-Type: application/json\r\n"
                             "X-Blank:   \t\r\n"
                             "Content-Length: 26\r\n"
                             "\r\n"
                             "{\"input\":\"hello, world!!\"}";

static void check_sample(const struct ac_http_request *r)
{
    cr_assert_not_null(r);
    cr_assert_eq(r->method, AC_HTTP_POST);
    cr_assert(ac_http_str_eq(r->method_str, "POST"));
    cr_assert(ac_http_str_eq(r->target, "/v1/agents/echo/invoke?x=1"));
    cr_assert(ac_http_str_eq(r->path, "/v1/agents/echo/invoke"));
    cr_assert(ac_http_str_eq(r->query, "x=1"));
    cr_assert_eq(r->version_minor, 1);
    cr_assert_eq(r->nheaders, 5);
    cr_assert(ac_http_str_eq(r->headers[0].name, "Host"));
    cr_assert(ac_http_str_eq(r->headers[0].value, "localhost:8080"));
    cr_assert(ac_http_str_eq(r->headers[3].value, ""), "blank value trimmed");
    cr_assert(ac_http_str_eq(ac_http_request_header(r, "content-type")->value, "application/json"));
    cr_assert(ac_http_str_eq(r->body, "{\"input\":\"hello, world!!\"}"));
    cr_assert(r->keep_alive);
    cr_assert(!r->chunked);
    cr_assert(!r->expect_continue);
}

Test(net_http_parse, whole_request_in_one_slice_is_not_copied)
{
    ac_http_parser *p = new_parser(NULL);
    size_t used, n = sizeof sample - 1;
    cr_assert_eq(ac_http_parser_feed(p, sample, n, &used), AC_HTTP_REQUEST);
    cr_assert_eq(used, n);
    const struct ac_http_request *r = ac_http_parser_request(p);
    check_sample(r);
    cr_assert(r->path.p >= sample && r->path.p < sample + n);
    cr_assert(r->headers[0].value.p >= sample && r->headers[0].value.p < sample + n);
    cr_assert(r->body.p >= sample && r->body.p < sample + n);
    ac_http_parser_destroy(p);
}

Test(net_http_parse, every_two_way_byte_split_parses_identically)
{
    size_t n = sizeof sample - 1;
    ac_http_parser *p = new_parser(NULL);
    for (size_t cut = 1; cut < n; cut++) {
        char *a = malloc(cut), *b = malloc(n - cut);
        size_t used;
        memcpy(a, sample, cut);
        memcpy(b, sample + cut, n - cut);
        cr_assert_eq(ac_http_parser_feed(p, a, cut, &used), AC_HTTP_NEED_MORE, "cut %zu", cut);
        cr_assert_eq(used, cut);
        /* rule 1: nothing may point into an earlier slice */
        memset(a, '#', cut);
        free(a);
        cr_assert_eq(ac_http_parser_feed(p, b, n - cut, &used), AC_HTTP_REQUEST, "cut %zu", cut);
        cr_assert_eq(used, n - cut);
        check_sample(ac_http_parser_request(p));
        free(b);
    }
    ac_http_parser_destroy(p);
}

Test(net_http_parse, one_byte_at_a_time_parses_identically)
{
    size_t n = sizeof sample - 1, used;
    ac_http_parser *p = new_parser(NULL);
    for (size_t i = 0; i + 1 < n; i++) {
        char c = sample[i];
        cr_assert_eq(ac_http_parser_feed(p, &c, 1, &used), AC_HTTP_NEED_MORE);
        cr_assert(ac_http_parser_busy(p));
    }
    cr_assert_eq(ac_http_parser_feed(p, sample + n - 1, 1, &used), AC_HTTP_REQUEST);
    check_sample(ac_http_parser_request(p));
    ac_http_parser_destroy(p);
}

Test(net_http_parse, hundred_pipelined_requests_come_out_in_order)
{
    char *buf = malloc(100 * 128);
    size_t len = 0, off = 0, used;
    for (int i = 0; i < 100; i++) {
        if (i % 3 == 0)
            len += (size_t)sprintf(buf + len, "GET /r/%d HTTP/1.1\r\nHost: a\r\n\r\n", i);
        else if (i % 3 == 1)
            len += (size_t)sprintf(
                buf + len, "POST /r/%d HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n%04d", i, i);
        else
            len += (size_t)sprintf(buf + len,
                                   "POST /r/%d HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                                   "chunked\r\n\r\n2\r\n%02d\r\n2\r\n%02d\r\n0\r\n\r\n",
                                   i, i / 10, i % 100 % 10 * 11);
    }
    ac_http_parser *p = new_parser(NULL);
    for (int i = 0; i < 100; i++) {
        char path[32];
        cr_assert_eq(ac_http_parser_feed(p, buf + off, len - off, &used), AC_HTTP_REQUEST,
                     "request %d", i);
        off += used;
        const struct ac_http_request *r = ac_http_parser_request(p);
        snprintf(path, sizeof path, "/r/%d", i);
        cr_assert(ac_http_str_eq(r->path, path), "request %d out of order", i);
        cr_assert_eq(r->body.len, i % 3 == 0 ? 0u : 4u);
    }
    cr_assert_eq(off, len);
    cr_assert_eq(ac_http_parser_feed(p, buf + off, 0, &used), AC_HTTP_NEED_MORE);
    cr_assert(!ac_http_parser_busy(p));
    ac_http_parser_destroy(p);
    free(buf);
}

static const struct ac_http_request *parse_one(ac_http_parser *p, const char *s)
{
    size_t used;
    enum ac_http_event ev = feed_all(p, s, strlen(s), 0, &used, NULL);
    cr_assert_eq(ev, AC_HTTP_REQUEST, "event %d, error %s", ev,
                 ev == AC_HTTP_ERROR ? ac_http_parser_error(p)->code : "-");
    cr_assert_eq(used, strlen(s));
    return ac_http_parser_request(p);
}

Test(net_http_parse, chunked_edge_cases_decode)
{
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"0\r\n\r\n", ""},
        {"5\r\nhello\r\n0\r\n\r\n", "hello"},
        {"0005\r\nhello\r\n000\r\n\r\n", "hello"},      /* leading zeros */
        {"A\r\n0123456789\r\n0\r\n\r\n", "0123456789"}, /* upper-case hex */
        {"a;name=val;x\r\n0123456789\r\n0;end\r\n\r\n", "0123456789"},
        {"1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n", "abc"},
        {"3\r\n\r\n\n\r\n0\r\n\r\n", "\r\n\n"}, /* CR/LF inside data is data */
        {"2\r\nok\r\n0\r\nTrailer-A: 1\r\nTrailer-B: 2\r\n\r\n", "ok"},
    };
    ac_http_parser *p = new_parser(NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[256];
        snprintf(req, sizeof req,
                 "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n%s",
                 cases[i].body);
        for (size_t step = 0; step <= 3; step++) {
            size_t used;
            cr_assert_eq(feed_all(p, req, strlen(req), step, &used, NULL), AC_HTTP_REQUEST,
                         "case %zu step %zu", i, step);
            const struct ac_http_request *r = ac_http_parser_request(p);
            cr_assert(r->chunked);
            cr_assert(ac_http_str_eq(r->body, cases[i].want), "case %zu: %.*s", i, (int)r->body.len,
                      r->body.p);
        }
    }
    ac_http_parser_destroy(p);
}

Test(net_http_parse, chunked_body_over_max_body_is_413_as_data_arrives)
{
    struct ac_http_limits lim;
    ac_http_limits_init(&lim);
    lim.max_body = 10;
    ac_http_parser *p = new_parser(&lim);
    const char *req = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "6\r\n123456\r\n5\r\n12345\r\n0\r\n\r\n";
    size_t used;
    cr_assert_eq(feed_all(p, req, strlen(req), 0, &used, NULL), AC_HTTP_ERROR);
    cr_assert_eq(ac_http_parser_error(p)->status, 413);
    ac_http_parser_destroy(p);
    p = new_parser(&lim);
    req = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789";
    cr_assert(ac_http_str_eq(parse_one(p, req)->body, "0123456789"), "exactly max_body is fine");
    ac_http_parser_destroy(p);
}

Test(net_http_parse, head_limit_is_exact_and_configurable)
{
    struct ac_http_limits lim;
    char req[256];
    ac_http_limits_init(&lim);
    int n = snprintf(req, sizeof req, "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n",
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    lim.max_head = (size_t)n;
    ac_http_parser *p = new_parser(&lim);
    parse_one(p, req);
    ac_http_parser_destroy(p);
    lim.max_head = (size_t)n - 1;
    p = new_parser(&lim);
    size_t used;
    cr_assert_eq(feed_all(p, req, (size_t)n, 0, &used, NULL), AC_HTTP_ERROR);
    cr_assert_eq(ac_http_parser_error(p)->status, 431);
    ac_http_parser_destroy(p);
    lim.max_head = 8192;
    lim.max_headers = 1;
    p = new_parser(&lim);
    parse_one(p, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(feed_all(p, "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n", 34, 0, &used, NULL),
                 AC_HTTP_ERROR);
    cr_assert_str_eq(ac_http_parser_error(p)->code, "too_many_headers");
    ac_http_parser_destroy(p);
}

Test(net_http_parse, expect_100_continue_asks_once_then_delivers)
{
    const char *req = "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
                      "Content-Length: 5\r\n\r\nhello";
    size_t head = strlen(req) - 5, used;
    ac_http_parser *p = new_parser(NULL);
    cr_assert_eq(ac_http_parser_feed(p, req, strlen(req), &used), AC_HTTP_CONTINUE);
    cr_assert_eq(used, head);
    cr_assert_eq(ac_http_parser_feed(p, req + used, 5, &used), AC_HTTP_REQUEST);
    const struct ac_http_request *r = ac_http_parser_request(p);
    cr_assert(r->expect_continue);
    cr_assert(ac_http_str_eq(r->body, "hello"));
    cr_assert(ac_http_str_eq(r->path, "/"), "head survived the CONTINUE return");
    /* no body: nothing to continue */
    unsigned conts = 0;
    cr_assert_eq(feed_all(p, "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", 49, 0,
                          &used, &conts),
                 AC_HTTP_REQUEST);
    cr_assert_eq(conts, 0);
    /* HTTP/1.0 clients never get a 100 */
    const char *old = "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx";
    cr_assert_eq(feed_all(p, old, strlen(old), 0, &used, &conts), AC_HTTP_REQUEST);
    cr_assert_eq(conts, 0);
    cr_assert(!ac_http_parser_request(p)->expect_continue);
    ac_http_parser_destroy(p);
}

Test(net_http_parse, keep_alive_follows_version_and_connection)
{
    ac_http_parser *p = new_parser(NULL);
    cr_assert(parse_one(p, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")->keep_alive);
    cr_assert(!parse_one(p, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")->keep_alive);
    cr_assert(!parse_one(p, "GET / HTTP/1.0\r\n\r\n")->keep_alive);
    cr_assert(parse_one(p, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")->keep_alive);
    cr_assert_eq(parse_one(p, "GET / HTTP/1.0\r\n\r\n")->version_minor, 0);
    ac_http_parser_destroy(p);
}

Test(net_http_parse, head_method_and_other_methods_are_named)
{
    ac_http_parser *p = new_parser(NULL);
    cr_assert_eq(parse_one(p, "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n")->method, AC_HTTP_HEAD);
    cr_assert_eq(parse_one(p, "DELETE / HTTP/1.1\r\nHost: a\r\n\r\n")->method, AC_HTTP_DELETE);
    const struct ac_http_request *r = parse_one(p, "PROPFIND / HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(r->method, AC_HTTP_OTHER);
    cr_assert(ac_http_str_eq(r->method_str, "PROPFIND"));
    ac_http_parser_destroy(p);
}

Test(net_http_parse, leading_empty_lines_and_absolute_targets_are_accepted)
{
    ac_http_parser *p = new_parser(NULL);
    const struct ac_http_request *r =
        parse_one(p, "\r\n\r\nGET http://example.com:80/a/b?q=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert(ac_http_str_eq(r->method_str, "GET"));
    cr_assert(ac_http_str_eq(r->path, "/a/b"));
    cr_assert(ac_http_str_eq(r->query, "q=1"));
    cr_assert(ac_http_str_eq(parse_one(p, "GET /x#frag HTTP/1.1\r\nHost: a\r\n\r\n")->path, "/x"));
    ac_http_parser_destroy(p);
}

Test(net_http_parse, upgrade_requests_are_served_as_plain_requests)
{
    ac_http_parser *p = new_parser(NULL);
    size_t used;
    const char *req =
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
    cr_assert_eq(ac_http_parser_feed(p, req, strlen(req), &used), AC_HTTP_REQUEST);
    cr_assert_eq(ac_http_parser_feed(p, req + used, strlen(req) - used, &used), AC_HTTP_REQUEST);
    cr_assert(ac_http_str_eq(ac_http_parser_request(p)->path, "/next"));
    ac_http_parser_destroy(p);
}

Test(net_http_parse, trim_frees_buffers_between_requests)
{
    ac_http_parser *p = new_parser(NULL);
    size_t n = sizeof sample - 1, used;
    cr_assert_eq(ac_http_parser_feed(p, sample, 10, &used), AC_HTTP_NEED_MORE);
    cr_assert_eq(ac_http_parser_feed(p, sample + 10, n - 10, &used), AC_HTTP_REQUEST);
    ac_http_parser_trim(p);
    cr_assert_null(ac_http_parser_request(p), "trim ends the delivered request");
    cr_assert_eq(ac_http_parser_feed(p, sample, 10, &used), AC_HTTP_NEED_MORE);
    cr_assert_eq(ac_http_parser_feed(p, sample + 10, n - 10, &used), AC_HTTP_REQUEST);
    check_sample(ac_http_parser_request(p));
    ac_http_parser_destroy(p);
}
