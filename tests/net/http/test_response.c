/*
 * The response writer: heads that a client parser accepts, HEAD and
 * body-less statuses, chunks, SSE framing, the JSON error body, the Date
 * cache and buffer bounds.
 */
#include "agentcore/http.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <string.h>
#include <time.h>

static struct ac_http_date date;

/* Parses `len` bytes as one HTTP response; returns its status code. */
static int client_parse(const char *buf, size_t len, bool head_request)
{
    http_parser hp;
    http_parser_settings st;
    http_parser_settings_init(&st);
    http_parser_init(&hp, HTTP_RESPONSE);
    if (head_request)
        hp.flags |= F_SKIPBODY;
    size_t n = http_parser_execute(&hp, &st, buf, len);
    cr_assert_eq(HTTP_PARSER_ERRNO(&hp), HPE_OK, "%s in:\n%.*s",
                 http_errno_name(HTTP_PARSER_ERRNO(&hp)), (int)len, buf);
    cr_assert_eq(n, len);
    return hp.status_code;
}

Test(net_http_response, head_has_status_date_server_length_and_parses)
{
    char buf[512];
    struct ac_http_response r = {
        .status = 200, .content_type = "application/json", .keep_alive = true, .content_length = 2};
    int n = ac_http_response_head(buf, sizeof buf, &r, &date, "agentcore");
    cr_assert_gt(n, 0);
    buf[n] = 0;
    cr_assert(strncmp(buf, "HTTP/1.1 200 OK\r\nDate: ", 23) == 0, "%s", buf);
    cr_assert_not_null(strstr(buf, " GMT\r\nServer: agentcore\r\n"));
    cr_assert_not_null(strstr(buf, "\r\nContent-Type: application/json\r\n"));
    cr_assert_not_null(strstr(buf, "\r\nContent-Length: 2\r\n"));
    cr_assert_null(strstr(buf, "Connection"), "HTTP/1.1 keep-alive is the default");
    cr_assert(strcmp(buf + n - 4, "\r\n\r\n") == 0);
    memcpy(buf + n, "{}", 2);
    cr_assert_eq(client_parse(buf, (size_t)n + 2, false), 200);
}

Test(net_http_response, connection_header_follows_keep_alive_and_version)
{
    char buf[512];
    struct ac_http_response r = {.status = 404, .keep_alive = false};
    int n = ac_http_response_head(buf, sizeof buf, &r, &date, NULL);
    buf[n] = 0;
    cr_assert_not_null(strstr(buf, "HTTP/1.1 404 Not Found\r\n"));
    cr_assert_not_null(strstr(buf, "\r\nConnection: close\r\n"));
    cr_assert_null(strstr(buf, "Server:"));
    r = (struct ac_http_response){.status = 200, .keep_alive = true, .http10 = true};
    n = ac_http_response_head(buf, sizeof buf, &r, &date, NULL);
    buf[n] = 0;
    cr_assert_not_null(strstr(buf, "\r\nConnection: keep-alive\r\n"));
    cr_assert_not_null(strstr(buf, "\r\nContent-Length: 0\r\n"));
}

Test(net_http_response, head_requests_get_the_length_but_no_body)
{
    char head[512];
    struct iovec iov[2];
    struct ac_http_response r = {.status = 200, .keep_alive = true, .head_only = true};
    cr_assert_eq(ac_http_response_iov(iov, head, sizeof head, &r, &date, NULL, "hello", 5), 1);
    cr_assert_not_null(memmem(iov[0].iov_base, iov[0].iov_len, "Content-Length: 5\r\n", 19));
    cr_assert_eq(client_parse(iov[0].iov_base, iov[0].iov_len, true), 200);
    r.head_only = false;
    cr_assert_eq(ac_http_response_iov(iov, head, sizeof head, &r, &date, NULL, "hello", 5), 2);
    cr_assert_eq(iov[1].iov_len, 5);
    cr_assert(memcmp(iov[1].iov_base, "hello", 5) == 0, "body referenced, not copied");
}

Test(net_http_response, no_content_statuses_carry_no_framing_headers)
{
    char buf[512];
    struct ac_http_response r = {.status = 204, .keep_alive = true, .content_length = 9};
    int n = ac_http_response_head(buf, sizeof buf, &r, &date, NULL);
    buf[n] = 0;
    cr_assert_null(strstr(buf, "Content-Length"));
    cr_assert_null(strstr(buf, "Transfer-Encoding"));
}

Test(net_http_response, chunked_body_and_sse_events_parse_as_one_stream)
{
    char out[2048], head[256], hdr[20], ev[256];
    struct iovec iov[3];
    size_t len = 0;
    struct ac_http_response r = {
        .status = 200, .keep_alive = true, .chunked = true, .content_type = "text/event-stream"};
    int n = ac_http_response_head(head, sizeof head, &r, &date, NULL);
    cr_assert(r.chunked);
    memcpy(out, head, (size_t)n);
    len = (size_t)n;
    const char *msgs[] = {"one", "two\nlines", "crlf\r\nand\rcr"};
    for (int i = 0; i < 3; i++) {
        int e = ac_http_sse_event(ev, sizeof ev, i == 2 ? "done" : NULL, msgs[i], strlen(msgs[i]));
        cr_assert_eq((size_t)e, ac_http_sse_size(i == 2 ? "done" : NULL, msgs[i], strlen(msgs[i])));
        int k = ac_http_chunk_iov(iov, hdr, ev, (size_t)e);
        for (int j = 0; j < k; j++) {
            memcpy(out + len, iov[j].iov_base, iov[j].iov_len);
            len += iov[j].iov_len;
        }
    }
    cr_assert_eq(ac_http_chunk_iov(iov, hdr, NULL, 0), 1);
    memcpy(out + len, iov[0].iov_base, iov[0].iov_len);
    len += iov[0].iov_len;
    out[len] = 0;
    cr_assert_not_null(strstr(out, "data: two\ndata: lines\n\n"));
    cr_assert_not_null(strstr(out, "event: done\ndata: crlf\ndata: and\ndata: cr\n\n"));
    cr_assert_eq(client_parse(out, len, false), 200);
}

Test(net_http_response, chunked_is_dropped_for_http10_clients)
{
    char buf[256];
    struct ac_http_response r = {
        .status = 200, .keep_alive = true, .chunked = true, .http10 = true};
    int n = ac_http_response_head(buf, sizeof buf, &r, &date, NULL);
    buf[n] = 0;
    cr_assert(!r.chunked);
    cr_assert(!r.keep_alive);
    cr_assert_null(strstr(buf, "Transfer-Encoding"));
    cr_assert_null(strstr(buf, "Content-Length"));
    cr_assert_not_null(strstr(buf, "Connection: close"));
}

Test(net_http_response, error_response_is_json_with_retry_after)
{
    char buf[1024];
    struct ac_http_response r = {.status = 503, .keep_alive = true, .retry_after = 2};
    int n = ac_http_error_response(buf, sizeof buf, &r, &date, "agentcore", "overloaded",
                                   "queue \"high\" is full\\\n");
    cr_assert_gt(n, 0);
    buf[n] = 0;
    cr_assert_not_null(strstr(buf, "HTTP/1.1 503 Service Unavailable\r\n"));
    cr_assert_not_null(strstr(buf, "\r\nRetry-After: 2\r\n"));
    cr_assert_not_null(strstr(buf, "\r\nContent-Type: application/json\r\n"));
    const char *body = strstr(buf, "\r\n\r\n") + 4;
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    cr_assert_not_null(j, "%s: %s", je.text, body);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                     "overloaded");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                     "queue \"high\" is full\\\n");
    json_decref(j);
    cr_assert_eq(client_parse(buf, (size_t)n, false), 503);
}

Test(net_http_response, small_buffers_get_enobufs)
{
    char buf[64];
    struct ac_http_response r = {.status = 200, .keep_alive = true};
    cr_assert_eq(ac_http_response_head(buf, 10, &r, &date, "agentcore"), -ENOBUFS);
    cr_assert_eq(ac_http_error_body(buf, 10, "x", "y"), -ENOBUFS);
    cr_assert_eq(ac_http_sse_event(buf, 5, NULL, "hello", 5), -ENOBUFS);
    cr_assert_eq(ac_http_error_body(buf, sizeof buf, "x", "y"),
                 (int)strlen("{\"error\":{\"code\":\"x\",\"message\":\"y\"}}"));
}

Test(net_http_response, date_is_cached_within_a_second)
{
    struct ac_http_date d = {0};
    const char *a = ac_http_date_now(&d);
    int64_t sec = d.sec;
    cr_assert_neq(sec, 0);
    cr_assert_eq(strlen(a), 29, "%s", a);
    /* IMF-fixdate, as strftime writes it in the C locale */
    struct tm tm;
    char want[64];
    time_t t = (time_t)sec;
    gmtime_r(&t, &tm);
    strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cr_assert_str_eq(a, want);
    cr_assert_eq(ac_http_date_now(&d), a, "same buffer");
    /* An unchanged second must not reformat: plant a marker and see it kept. */
    d.sec = sec;
    memcpy(d.text, "cached", 7);
    const char *b = ac_http_date_now(&d);
    cr_assert(strcmp(b, "cached") == 0 || d.sec != sec, "reformatted within the same second");
    d.sec = 1;
    cr_assert_neq(strcmp(ac_http_date_now(&d), "cached"), 0, "a new second reformats");
    cr_assert_eq(ac_http_date_now(&d)[3], ',');
}
