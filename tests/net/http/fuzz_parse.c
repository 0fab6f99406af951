/*
 * libFuzzer harness for the HTTP request parser (built only when clang is
 * found: `cmake --build --preset release --target fuzz_http_parse`, then
 * `build/tests/fuzz_http_parse -max_total_time=60 tests/net/http/corpus`).
 *
 * The first input byte picks a slice size, the rest is fed in slices of
 * that size; each slice is a fresh heap copy freed right after the feed,
 * so ASan catches any request pointer left in an old slice (lifetime rule
 * 1). Invariants: used ≤ len, NEED_MORE uses every byte, an error has a
 * 4xx/5xx status, a request's strings lie in the current slice or parser
 * memory (read them all) and its body respects max_body.
 */
#include "agentcore/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void touch(struct ac_http_str s)
{
    volatile unsigned char sum = 0;
    for (size_t i = 0; i < s.len; i++)
        sum ^= (unsigned char)s.p[i];
    (void)sum;
}

static void check_request(const struct ac_http_request *r, const struct ac_http_limits *lim)
{
    if (!r || r->body.len > lim->max_body)
        abort();
    touch(r->method_str);
    touch(r->target);
    touch(r->path);
    touch(r->query);
    touch(r->body);
    for (unsigned i = 0; i < r->nheaders; i++) {
        touch(r->headers[i].name);
        touch(r->headers[i].value);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    struct ac_http_limits lim;
    ac_http_parser *p;
    if (len < 1)
        return 0;
    size_t step = data[0] ? data[0] : len;
    data++, len--;
    ac_http_limits_init(&lim);
    lim.max_body = 4096;
    if (ac_http_parser_create(&lim, &p))
        return 0;
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        char *slice = malloc(n);
        memcpy(slice, data + off, n);
        size_t pos = 0;
        enum ac_http_event ev = AC_HTTP_NEED_MORE;
        while (pos < n) {
            size_t used;
            ev = ac_http_parser_feed(p, slice + pos, n - pos, &used);
            if (used > n - pos || (ev == AC_HTTP_NEED_MORE && used != n - pos))
                abort();
            pos += used;
            if (ev == AC_HTTP_REQUEST)
                check_request(ac_http_parser_request(p), &lim);
            if (ev == AC_HTTP_ERROR) {
                int st = ac_http_parser_error(p)->status;
                if (st < 400 || st > 599)
                    abort();
                break;
            }
        }
        free(slice);
        off += n;
        if (ev == AC_HTTP_ERROR)
            break;
    }
    ac_http_parser_destroy(p);
    return 0;
}
