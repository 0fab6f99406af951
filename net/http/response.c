/*
 * Response writing into caller-provided buffers: status line and headers,
 * chunk framing, Server-Sent Events and the JSON error body.
 *
 * Every writer appends through `struct out`, which keeps counting past
 * the end of the buffer without writing, so one pass both bounds-checks
 * and measures (the error response sizes its body this way).
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct out {
    char *p;
    size_t cap, len;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len + n <= o->cap)
        memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_s(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
    char tmp[24];
    int i = (int)sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, tmp + i, sizeof tmp - (size_t)i);
}

static int finish(const struct out *o)
{
    return o->len <= o->cap && o->len <= INT32_MAX ? (int)o->len : -ENOBUFS;
}

/* Writes the 2 chars of `lit`, or `v` as two digits. */
static char *two(char *p, const char *lit, int v)
{
    p[0] = lit ? lit[0] : (char)('0' + v / 10 % 10);
    p[1] = lit ? lit[1] : (char)('0' + v % 10);
    return p + 2;
}

const char *ac_http_date_now(struct ac_http_date *d)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct timespec ts;
    struct tm tm;
    /* The coarse clock is a vDSO read without a TSC access: cheap enough to
     * call per response; formatting happens only when the second changes. */
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec == d->sec)
        return d->text;
    time_t t = ts.tv_sec;
    gmtime_r(&t, &tm);
    /* "Sun, 06 Nov 1994 08:49:37 GMT" by hand: fixed English names
     * (strftime's %a/%b follow the locale) and a fixed width */
    char *p = d->text;
    memcpy(p, days[tm.tm_wday], 3);
    p = two(p + 3, ", ", 0);
    p = two(p, NULL, tm.tm_mday);
    *p++ = ' ';
    memcpy(p, months[tm.tm_mon], 3);
    p += 3;
    *p++ = ' ';
    int year = tm.tm_year + 1900;
    p = two(p, NULL, year / 100 % 100);
    p = two(p, NULL, year % 100);
    *p++ = ' ';
    p = two(p, NULL, tm.tm_hour);
    *p++ = ':';
    p = two(p, NULL, tm.tm_min);
    *p++ = ':';
    p = two(p, NULL, tm.tm_sec);
    memcpy(p, " GMT", 5);
    d->sec = ts.tv_sec;
    return d->text;
}

const char *ac_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 417:
        return "Expectation Failed";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

static bool has_no_body(int status)
{
    return status < 200 || status == 204 || status == 304;
}

int ac_http_response_head(char *buf, size_t cap, struct ac_http_response *r,
                          struct ac_http_date *date, const char *server)
{
    struct out o = {buf, cap, 0};
    if (r->chunked && r->http10) {
        /* HTTP/1.0 has no chunked coding: the body ends when we close. */
        r->chunked = false;
        r->keep_alive = false;
    }
    put_s(&o, "HTTP/1.1 ");
    put_u64(&o, (uint64_t)r->status);
    put_s(&o, " ");
    put_s(&o, ac_http_reason(r->status));
    put_s(&o, "\r\nDate: ");
    put_s(&o, ac_http_date_now(date));
    if (server) {
        put_s(&o, "\r\nServer: ");
        put_s(&o, server);
    }
    if (r->content_type) {
        put_s(&o, "\r\nContent-Type: ");
        put_s(&o, r->content_type);
    }
    if (has_no_body(r->status)) {
        /* no framing headers */
    } else if (r->chunked) {
        put_s(&o, "\r\nTransfer-Encoding: chunked");
    } else if (r->keep_alive || !r->http10) {
        put_s(&o, "\r\nContent-Length: ");
        put_u64(&o, r->content_length);
    }
    if (!r->keep_alive)
        put_s(&o, "\r\nConnection: close");
    else if (r->http10)
        put_s(&o, "\r\nConnection: keep-alive");
    if (r->retry_after) {
        put_s(&o, "\r\nRetry-After: ");
        put_u64(&o, r->retry_after);
    }
    for (unsigned i = 0; i < r->nheaders; i++) {
        put_s(&o, "\r\n");
        put(&o, r->headers[i].name.p, r->headers[i].name.len);
        put_s(&o, ": ");
        put(&o, r->headers[i].value.p, r->headers[i].value.len);
    }
    put_s(&o, "\r\n\r\n");
    return finish(&o);
}

int ac_http_response_iov(struct iovec iov[2], char *headbuf, size_t cap, struct ac_http_response *r,
                         struct ac_http_date *date, const char *server, const void *body,
                         size_t body_len)
{
    int n;
    if (!r->chunked)
        r->content_length = body_len;
    n = ac_http_response_head(headbuf, cap, r, date, server);
    if (n < 0)
        return n;
    iov[0] = (struct iovec){headbuf, (size_t)n};
    if (r->head_only || has_no_body(r->status) || body_len == 0)
        return 1;
    iov[1] = (struct iovec){(void *)body, body_len};
    return 2;
}

int ac_http_chunk_iov(struct iovec iov[3], char hdr[20], const void *data, size_t len)
{
    static const char crlf[] = "\r\n", last[] = "0\r\n\r\n";
    if (len == 0) {
        iov[0] = (struct iovec){(void *)last, sizeof last - 1};
        return 1;
    }
    int n = snprintf(hdr, 20, "%zx\r\n", len);
    iov[0] = (struct iovec){hdr, (size_t)n};
    iov[1] = (struct iovec){(void *)data, len};
    iov[2] = (struct iovec){(void *)crlf, 2};
    return 3;
}

static void sse_write(struct out *o, const char *event, const char *data, size_t len)
{
    const char *s = data, *end = data + len;
    if (event) {
        put_s(o, "event: ");
        put_s(o, event);
        put_s(o, "\n");
    }
    for (;;) { /* one "data:" line per line of data, CRLF / CR / LF alike */
        const char *e = s;
        while (e < end && *e != '\n' && *e != '\r')
            e++;
        put_s(o, "data: ");
        put(o, s, (size_t)(e - s));
        put_s(o, "\n");
        if (e == end)
            break;
        s = e + (*e == '\r' && e + 1 < end && e[1] == '\n' ? 2 : 1);
    }
    put_s(o, "\n");
}

int ac_http_sse_event(char *buf, size_t cap, const char *event, const char *data, size_t len)
{
    struct out o = {buf, cap, 0};
    sse_write(&o, event, data, len);
    return finish(&o);
}

size_t ac_http_sse_size(const char *event, const char *data, size_t len)
{
    struct out o = {NULL, 0, 0};
    sse_write(&o, event, data, len);
    return o.len;
}

static void put_json_string(struct out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put_s(o, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(o, e, 2);
        } else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(o, e, 6);
        } else {
            put(o, s, 1);
        }
    }
    put_s(o, "\"");
}

static void error_body(struct out *o, const char *code, const char *message)
{
    put_s(o, "{\"error\":{\"code\":");
    put_json_string(o, code);
    put_s(o, ",\"message\":");
    put_json_string(o, message);
    put_s(o, "}}");
}

int ac_http_error_body(char *buf, size_t cap, const char *code, const char *message)
{
    struct out o = {buf, cap, 0};
    error_body(&o, code, message);
    return finish(&o);
}

int ac_http_error_response(char *buf, size_t cap, struct ac_http_response *r,
                           struct ac_http_date *date, const char *server, const char *code,
                           const char *message)
{
    struct out sized = {NULL, 0, 0}, o;
    int n;
    error_body(&sized, code, message);
    r->content_type = "application/json";
    r->chunked = false;
    r->content_length = sized.len;
    n = ac_http_response_head(buf, cap, r, date, server);
    if (n < 0)
        return n;
    if (r->head_only)
        return n;
    o = (struct out){buf, cap, (size_t)n};
    error_body(&o, code, message);
    return finish(&o);
}
