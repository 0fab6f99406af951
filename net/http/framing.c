/*
 * Strict framing scanners: CRLF lines (request head, chunk trailers) and
 * chunked transfer coding. They exist because Debian's libhttp-parser is
 * built without HTTP_PARSER_STRICT: it accepts bare LF, treats a bare CR
 * as a line end and never checks the CRLF after chunk data — each of
 * those is a request-smuggling vector when a proxy in front disagrees.
 * libhttp-parser still tokenizes the head (method, target, version,
 * fields, Connection semantics); it only ever sees a head these scanners
 * have already accepted, whole and contiguous.
 */
#include "internal.h"

long ac__http_lines_scan(struct ac_http_lines *s, const char *data, size_t len, size_t max_bytes,
                         unsigned max_lines, bool head, bool *end, enum ac_http_err *err)
{
    /* State in locals: `data` is char, which may alias *s, so the compiler
     * would otherwise store s->... back on every byte. */
    size_t room = max_bytes - s->bytes, n = len < room ? len : room, i;
    unsigned lines = s->lines, line_len = s->line_len;
    bool expect_lf = s->expect_lf;
    enum ac_http_err e = AC_HTTP_E_HEAD_TOO_LARGE;
    *end = false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)data[i];
        if (AC_LIKELY(c > ' ' && c != 0x7f && !expect_lf)) {
            line_len++; /* the common byte: visible, mid-line */
            continue;
        }
        if (expect_lf) {
            if (c != '\n') {
                e = AC_HTTP_E_BARE_CR;
                goto fail;
            }
            expect_lf = false;
            if (line_len == 0) {
                if (head && lines == 0)
                    continue; /* empty line before the request line */
                *end = true;
                i++;
                break;
            }
            line_len = 0;
            if (++lines > max_lines) {
                e = AC_HTTP_E_TOO_MANY_HEADERS;
                goto fail;
            }
        } else if (c == '\r') {
            expect_lf = true;
        } else if (c == '\n') {
            e = AC_HTTP_E_BARE_LF;
            goto fail;
        } else if (c == ' ' || c == '\t') {
            if (line_len == 0 && lines > 0) {
                e = AC_HTTP_E_OBS_FOLD;
                goto fail;
            }
            line_len++;
        } else {
            e = AC_HTTP_E_BAD_CHARACTER; /* other controls and DEL */
            goto fail;
        }
    }
    if (!*end && n < len)
        goto fail; /* more than max_bytes without the end of the section */
    s->bytes += i;
    s->lines = lines;
    s->line_len = line_len;
    s->expect_lf = expect_lf;
    return (long)i;
fail:
    *err = e;
    return -1;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Longest chunk-size line extension we skip (nobody sends long ones). */
#define MAX_CHUNK_EXT 1024
/* 15 hex digits keep the size below 2^60: no overflow in size * 16. */
#define MAX_CHUNK_DIGITS 15

#define FAIL(e)                                                                                    \
    do {                                                                                           \
        *err = (e);                                                                                \
        return -1;                                                                                 \
    } while (0)

long ac__http_chunked_feed(struct ac_http_chunked *c, const char *data, size_t len,
                           const struct ac_http_limits *lim, ac_http_body_fn body, void *arg,
                           bool *done, enum ac_http_err *err)
{
    size_t i = 0;
    *done = false;
    while (i < len) {
        unsigned char ch = (unsigned char)data[i];
        switch (c->state) {
        case AC_CH_SIZE: {
            int v = hex_value(ch);
            if (v >= 0) {
                if (++c->digits > MAX_CHUNK_DIGITS)
                    FAIL(AC_HTTP_E_BAD_CHUNK_SIZE);
                c->size = c->size * 16 + (uint64_t)v;
            } else if (c->digits == 0) {
                FAIL(AC_HTTP_E_BAD_CHUNK_SIZE);
            } else if (ch == ';') {
                c->state = AC_CH_EXT;
                c->ext_len = 0;
            } else if (ch == '\r') {
                c->state = AC_CH_SIZE_LF;
            } else if (ch == '\n') {
                FAIL(AC_HTTP_E_BARE_LF);
            } else {
                /* also blanks before ';' (RFC 9112's BWS): nobody needs them */
                FAIL(AC_HTTP_E_BAD_CHUNK_SIZE);
            }
            i++;
            break;
        }
        case AC_CH_EXT:
            if (ch == '\r')
                c->state = AC_CH_SIZE_LF;
            else if (ch == '\n')
                FAIL(AC_HTTP_E_BARE_LF);
            else if ((ch < 0x20 && ch != '\t') || ch == 0x7f || ++c->ext_len > MAX_CHUNK_EXT)
                FAIL(AC_HTTP_E_BAD_CHUNK);
            i++;
            break;
        case AC_CH_SIZE_LF:
            if (ch != '\n')
                FAIL(AC_HTTP_E_BARE_CR);
            i++;
            /* refuse a chunk that cannot fit before its data arrives */
            c->total += c->size;
            if (c->total > lim->max_body)
                FAIL(AC_HTTP_E_BODY_TOO_LARGE);
            if (c->size == 0) {
                c->state = AC_CH_TRAILERS;
                c->trailers = (struct ac_http_lines){0};
            } else {
                c->state = AC_CH_DATA;
                c->left = c->size;
            }
            break;
        case AC_CH_DATA: {
            size_t n = len - i < c->left ? len - i : (size_t)c->left;
            if (!body(arg, data + i, n, err))
                return -1;
            i += n;
            c->left -= n;
            if (c->left == 0)
                c->state = AC_CH_DATA_CR;
            break;
        }
        case AC_CH_DATA_CR:
            if (ch != '\r')
                FAIL(AC_HTTP_E_BAD_CHUNK); /* data longer than its size */
            c->state = AC_CH_DATA_LF;
            i++;
            break;
        case AC_CH_DATA_LF:
            if (ch != '\n')
                FAIL(AC_HTTP_E_BARE_CR);
            c->state = AC_CH_SIZE;
            c->size = 0;
            c->digits = 0;
            i++;
            break;
        case AC_CH_TRAILERS: {
            long r = ac__http_lines_scan(&c->trailers, data + i, len - i, lim->max_head,
                                         lim->max_headers, false, done, err);
            if (r < 0)
                return -1;
            i += (size_t)r;
            if (*done)
                return (long)i;
            break;
        }
        }
    }
    return (long)i;
}
