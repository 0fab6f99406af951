/*
 * Incremental HTTP/1.1 request parser (see agentcore/http.h).
 *
 * A request goes through three phases: HEAD (the strict line scanner finds
 * the end of the head), then libhttp-parser tokenizes the whole head in
 * one call, then BODY (Content-Length) or CHUNKED (http_framing.c) until
 * the body ends. Because libhttp-parser only ever sees a complete,
 * contiguous head, each field and value arrives in exactly one callback,
 * so the request refers straight into that head.
 *
 * Where bytes live:
 *  - head: in the caller's slice when it arrived whole in one feed
 *    (nothing copied), else in head_buf, appended slice by slice;
 *  - body: in the slice when it is one piece of the feed that completes
 *    the request, else in body_buf;
 *  - when a feed returns before the request is complete ("parking"),
 *    whatever still points into the slice is copied to head_buf/body_buf
 *    and the pointers rebased, so a request never refers to an old slice.
 * Buffers and the header array grow on demand and are reused across
 * requests until ac_http_parser_trim.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum phase { PH_HEAD, PH_BODY, PH_CHUNKED, PH_DONE, PH_ERROR };

struct ac_http_parser {
    struct ac_http_limits lim;
    enum phase phase;
    http_parser hp;
    struct ac_http_lines scan;
    struct ac_http_chunked chunked;

    /* head: where it was parsed from, and the copy for split heads */
    const char *head;
    size_t head_len;
    char *head_buf;
    size_t head_cap, head_used;

    struct ac_http_header *hdrs;
    unsigned hdr_cap;

    uint64_t body_left; /* Content-Length bytes still to come */
    bool body_in_buf;   /* req.body points into body_buf */
    char *body_buf;
    size_t body_cap;

    bool cb_failed; /* a callback stored cb_err */
    enum ac_http_err cb_err;
    struct ac_http_request req;
    const struct ac_http_error *err;
};

static const http_parser_settings settings;

void ac_http_limits_init(struct ac_http_limits *lim)
{
    lim->max_head = 8192;
    lim->max_headers = 64;
    lim->max_body = 1u << 20;
}

int ac_http_parser_create(const struct ac_http_limits *lim, ac_http_parser **out)
{
    struct ac_http_parser *p;
    if (lim && (!lim->max_head || !lim->max_headers || !lim->max_body))
        return -EINVAL;
    p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    if (lim)
        p->lim = *lim;
    else
        ac_http_limits_init(&p->lim);
    p->phase = PH_DONE; /* the first feed starts a request */
    *out = p;
    return 0;
}

void ac_http_parser_trim(ac_http_parser *p)
{
    /* Only between requests: a request in progress may point into them. */
    if (p->phase != PH_DONE && !(p->phase == PH_HEAD && p->head_used == 0))
        return;
    free(p->head_buf);
    free(p->body_buf);
    free(p->hdrs);
    p->head_buf = p->body_buf = NULL;
    p->hdrs = NULL;
    p->head_cap = p->body_cap = 0;
    p->hdr_cap = 0;
    if (p->phase == PH_DONE)
        memset(&p->req, 0, sizeof p->req);
}

void ac_http_parser_destroy(ac_http_parser *p)
{
    if (!p)
        return;
    free(p->head_buf);
    free(p->body_buf);
    free(p->hdrs);
    free(p);
}

const struct ac_http_request *ac_http_parser_request(const ac_http_parser *p)
{
    return p->phase == PH_DONE && p->req.method_str.p ? &p->req : NULL;
}

const struct ac_http_error *ac_http_parser_error(const ac_http_parser *p)
{
    return p->phase == PH_ERROR ? p->err : NULL;
}

bool ac_http_parser_busy(const ac_http_parser *p)
{
    return p->phase == PH_BODY || p->phase == PH_CHUNKED ||
           (p->phase == PH_HEAD && p->scan.bytes > 0);
}

bool ac_http_str_eq(struct ac_http_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && (n == 0 || memcmp(s.p, lit, n) == 0);
}

static bool str_ieq(struct ac_http_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && strncasecmp(s.p, lit, n) == 0;
}

const struct ac_http_header *ac_http_request_header(const struct ac_http_request *r,
                                                    const char *name)
{
    for (unsigned i = 0; i < r->nheaders; i++)
        if (str_ieq(r->headers[i].name, name))
            return &r->headers[i];
    return NULL;
}

/* Grows *buf to hold `need` bytes (doubling). */
static bool reserve(char **buf, size_t *cap, size_t need)
{
    size_t n = *cap ? *cap : 1024;
    char *b;
    if (need <= *cap)
        return true;
    while (n < need)
        n *= 2;
    b = realloc(*buf, n);
    if (!b)
        return false;
    *buf = b;
    *cap = n;
    return true;
}

static enum ac_http_event fail(ac_http_parser *p, enum ac_http_err e)
{
    p->phase = PH_ERROR;
    p->err = &ac__http_errors[e];
    return AC_HTTP_ERROR;
}

/* ---- head ----------------------------------------------------------- */

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static ac_http_parser *of(http_parser *hp)
{
    return hp->data;
}

static int cb_fail(ac_http_parser *p, enum ac_http_err e)
{
    p->cb_failed = true;
    p->cb_err = e;
    return -1;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
    ac_http_parser *p = of(hp);
    struct ac_http_request *r = &p->req;
    /* exactly one SP on each side (the library tolerates more) */
    if (at[-1] != ' ' || at - 1 == p->head || at[-2] == ' ' ||
        (at + n < p->head + p->head_len && at[n] == ' ' && at[n + 1] == ' '))
        return cb_fail(p, AC_HTTP_E_BAD_REQUEST_LINE);
    r->target = (struct ac_http_str){at, n};
    if (n && at[0] != '/') {
        /* absolute form (or authority / asterisk form): let the library split it */
        struct http_parser_url u;
        http_parser_url_init(&u);
        if (http_parser_parse_url(at, n, hp->method == HTTP_CONNECT, &u) != 0)
            return cb_fail(p, AC_HTTP_E_BAD_TARGET);
        if (u.field_set & (1 << UF_PATH))
            r->path =
                (struct ac_http_str){at + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len};
        if (u.field_set & (1 << UF_QUERY))
            r->query =
                (struct ac_http_str){at + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len};
        return 0;
    }
    const char *q = memchr(at, '?', n), *frag = memchr(at, '#', n);
    size_t path_end = q ? (size_t)(q - at) : frag ? (size_t)(frag - at) : n;
    r->path = (struct ac_http_str){at, path_end};
    if (q) {
        size_t qe = frag && frag > q ? (size_t)(frag - at) : n;
        r->query = (struct ac_http_str){q + 1, qe - path_end - 1};
    }
    return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
    ac_http_parser *p = of(hp);
    if (p->req.nheaders == p->hdr_cap) /* the scanner counted the lines */
        return cb_fail(p, AC_HTTP_E_TOO_MANY_HEADERS);
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)at[i]))
            return cb_fail(p, AC_HTTP_E_BAD_HEADER_NAME);
    p->hdrs[p->req.nheaders++] = (struct ac_http_header){{at, n}, {at + n, 0}};
    return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
    ac_http_parser *p = of(hp);
    while (n && (at[n - 1] == ' ' || at[n - 1] == '\t'))
        n--;
    p->hdrs[p->req.nheaders - 1].value = (struct ac_http_str){at, n};
    return 0;
}

static bool parse_length(struct ac_http_str v, uint64_t *out)
{
    uint64_t n = 0;
    if (v.len == 0 || v.len > 18)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return false;
        n = n * 10 + (uint64_t)(v.p[i] - '0');
    }
    *out = n;
    return true;
}

/* Framing, Host and Expect rules (see the header's list). */
static int check_fields(ac_http_parser *p, uint64_t *content_length)
{
    struct ac_http_request *r = &p->req;
    unsigned n_cl = 0, n_te = 0, n_host = 0;
    const struct ac_http_header *te = NULL, *cl = NULL;
    for (unsigned i = 0; i < r->nheaders; i++) {
        const struct ac_http_header *h = &r->headers[i];
        if (str_ieq(h->name, "content-length"))
            n_cl++, cl = h;
        else if (str_ieq(h->name, "transfer-encoding"))
            n_te++, te = h;
        else if (str_ieq(h->name, "host"))
            n_host++;
        else if (str_ieq(h->name, "expect")) {
            if (!str_ieq(h->value, "100-continue"))
                return AC_HTTP_E_EXPECTATION_FAILED;
            /* RFC 9110 §10.1.1: ignore it from HTTP/1.0 clients */
            r->expect_continue = r->version_minor == 1;
        }
    }
    if (n_cl && n_te)
        return AC_HTTP_E_CONFLICTING_FRAMING;
    if (n_cl > 1)
        return AC_HTTP_E_DUPLICATE_CONTENT_LENGTH;
    if (n_te > 1 || (n_te && r->version_minor == 0))
        return AC_HTTP_E_BAD_TRANSFER_ENCODING;
    if (te && !str_ieq(te->value, "chunked"))
        return AC_HTTP_E_UNSUPPORTED_TRANSFER_ENCODING;
    if (n_host > 1 || (n_host == 0 && r->version_minor == 1))
        return AC_HTTP_E_BAD_HOST;
    *content_length = 0;
    if (cl && !parse_length(cl->value, content_length))
        return AC_HTTP_E_BAD_CONTENT_LENGTH;
    if (*content_length > p->lim.max_body)
        return AC_HTTP_E_BODY_TOO_LARGE;
    r->chunked = te != NULL;
    return -1;
}

static enum ac_http_method method_of(unsigned m)
{
    switch (m) {
    case HTTP_GET:
        return AC_HTTP_GET;
    case HTTP_HEAD:
        return AC_HTTP_HEAD;
    case HTTP_POST:
        return AC_HTTP_POST;
    case HTTP_PUT:
        return AC_HTTP_PUT;
    case HTTP_DELETE:
        return AC_HTTP_DELETE;
    case HTTP_OPTIONS:
        return AC_HTTP_OPTIONS;
    case HTTP_PATCH:
        return AC_HTTP_PATCH;
    default:
        return AC_HTTP_OTHER;
    }
}

static int on_headers_complete(http_parser *hp)
{
    ac_http_parser *p = of(hp);
    struct ac_http_request *r = &p->req;
    uint64_t cl;
    int e;
    if (hp->http_major != 1 || hp->http_minor > 1)
        return cb_fail(p, AC_HTTP_E_VERSION_NOT_SUPPORTED);
    r->version_minor = hp->http_minor;
    r->method = method_of(hp->method);
    e = check_fields(p, &cl);
    if (e >= 0)
        return cb_fail(p, (enum ac_http_err)e);
    r->keep_alive = http_should_keep_alive(hp);
    p->body_left = cl;
    /* No protocol upgrades: an Upgrade or CONNECT request is served (or
     * refused by the router) as an ordinary request. */
    hp->upgrade = 0;
    return 1; /* skip the body: its framing is ours (http_framing.c) */
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
};

/* Maps a libhttp-parser error at head offset `at` to ours. */
static enum ac_http_err map_errno(ac_http_parser *p, enum http_errno e, size_t at)
{
    switch (e) {
    case HPE_INVALID_METHOD: {
        /* A well-formed token we do not know is 501, garbage is 400. */
        const char *s = p->head, *end = p->head + p->head_len;
        while (s < end && (*s == '\r' || *s == '\n'))
            s++;
        const char *t = s;
        while (t < end && is_tchar((unsigned char)*t))
            t++;
        return t > s && t < end && *t == ' ' ? AC_HTTP_E_METHOD_NOT_IMPLEMENTED
                                             : AC_HTTP_E_BAD_METHOD;
    }
    case HPE_INVALID_URL:
    case HPE_INVALID_HOST:
    case HPE_INVALID_PORT:
    case HPE_INVALID_PATH:
    case HPE_INVALID_QUERY_STRING:
    case HPE_INVALID_FRAGMENT:
        return AC_HTTP_E_BAD_TARGET;
    case HPE_INVALID_VERSION:
        return AC_HTTP_E_BAD_VERSION;
    case HPE_HEADER_OVERFLOW:
        return AC_HTTP_E_HEAD_TOO_LARGE;
    case HPE_INVALID_CONTENT_LENGTH:
        return AC_HTTP_E_BAD_CONTENT_LENGTH;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        for (unsigned i = 0; i < p->req.nheaders; i++)
            if (str_ieq(p->req.headers[i].name, "transfer-encoding"))
                return AC_HTTP_E_CONFLICTING_FRAMING;
        return AC_HTTP_E_DUPLICATE_CONTENT_LENGTH;
    case HPE_INVALID_TRANSFER_ENCODING:
        return AC_HTTP_E_UNSUPPORTED_TRANSFER_ENCODING;
    case HPE_INVALID_HEADER_TOKEN:
        return AC_HTTP_E_BAD_HEADER;
    default: {
        /* which line failed: after the target on the request line is the version */
        const char *s = p->head, *end = p->head + p->head_len;
        while (s < end && (*s == '\r' || *s == '\n'))
            s++;
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        if (eol && p->head + at > eol)
            return AC_HTTP_E_BAD_HEADER;
        return p->req.target.p ? AC_HTTP_E_BAD_VERSION : AC_HTTP_E_BAD_REQUEST_LINE;
    }
    }
}

/* Tokenizes the complete head at p->head. */
static enum ac_http_event parse_head(ac_http_parser *p)
{
    struct ac_http_request *r = &p->req;
    unsigned fields = p->scan.lines - 1; /* lines = request line + fields */
    const char *s = p->head;
    size_t n;
    if (fields > p->hdr_cap) {
        struct ac_http_header *h = realloc(p->hdrs, fields * sizeof *h);
        if (!h)
            return fail(p, AC_HTTP_E_NO_MEMORY);
        p->hdrs = h;
        p->hdr_cap = fields;
    }
    r->headers = p->hdrs;
    http_parser_init(&p->hp, HTTP_REQUEST);
    p->hp.data = p;
    n = http_parser_execute(&p->hp, &settings, p->head, p->head_len);
    if (p->cb_failed)
        return fail(p, p->cb_err);
    if (HTTP_PARSER_ERRNO(&p->hp) != HPE_OK)
        return fail(p, map_errno(p, HTTP_PARSER_ERRNO(&p->hp), n));
    if (n != p->head_len)
        return fail(p, AC_HTTP_E_BAD_HEADER);
    while (*s == '\r' || *s == '\n')
        s++;
    /* the library accepted the request line, so a space follows the method */
    r->method_str = (struct ac_http_str){
        s, (size_t)((const char *)memchr(s, ' ', (size_t)(p->head + p->head_len - s)) - s)};
    return AC_HTTP_NEED_MORE;
}

/* ---- body and parking --------------------------------------------------- */

/* Moves a body that still points into the caller's slice to body_buf. */
static bool body_to_buf(ac_http_parser *p)
{
    struct ac_http_str *b = &p->req.body;
    if (p->body_in_buf)
        return true;
    if (!reserve(&p->body_buf, &p->body_cap, b->len))
        return false;
    if (b->len)
        memcpy(p->body_buf, b->p, b->len);
    b->p = p->body_buf;
    p->body_in_buf = true;
    return true;
}

static bool body_piece(void *arg, const char *at, size_t n, enum ac_http_err *err)
{
    ac_http_parser *p = arg;
    struct ac_http_str *b = &p->req.body;
    if (n > p->lim.max_body - b->len) {
        *err = AC_HTTP_E_BODY_TOO_LARGE;
        return false;
    }
    if (n == 0)
        return true;
    if (b->len == 0 && !p->body_in_buf) {
        *b = (struct ac_http_str){at, n}; /* first piece: no copy yet */
        return true;
    }
    if (!body_to_buf(p) || !reserve(&p->body_buf, &p->body_cap, b->len + n)) {
        *err = AC_HTTP_E_NO_MEMORY;
        return false;
    }
    memcpy(p->body_buf + b->len, at, n);
    *b = (struct ac_http_str){p->body_buf, b->len + n};
    return true;
}

static void rebase(struct ac_http_str *s, const char *from, const char *to)
{
    if (s->p)
        s->p = to + (s->p - from);
}

/*
 * The feed is returning with the request incomplete: copy what points into
 * the caller's slice. Returns false on allocation failure.
 */
static bool park(ac_http_parser *p)
{
    struct ac_http_request *r = &p->req;
    if (p->head && p->head != p->head_buf) {
        const char *from = p->head;
        if (!reserve(&p->head_buf, &p->head_cap, p->head_len))
            return false;
        memcpy(p->head_buf, from, p->head_len);
        p->head = p->head_buf;
        p->head_used = p->head_len;
        rebase(&r->method_str, from, p->head);
        rebase(&r->target, from, p->head);
        rebase(&r->path, from, p->head);
        rebase(&r->query, from, p->head);
        for (unsigned i = 0; i < r->nheaders; i++) {
            rebase(&p->hdrs[i].name, from, p->head);
            rebase(&p->hdrs[i].value, from, p->head);
        }
    }
    return r->body.len == 0 || body_to_buf(p);
}

static void start_request(ac_http_parser *p)
{
    p->phase = PH_HEAD;
    p->scan = (struct ac_http_lines){0};
    p->head = NULL;
    p->head_len = p->head_used = 0;
    p->body_in_buf = false;
    p->cb_failed = false;
    p->req = (struct ac_http_request){0};
}

/* Feeds the head scanner; returns PH_HEAD's outcome. */
static enum ac_http_event feed_head(ac_http_parser *p, const char *data, size_t len, size_t *used)
{
    enum ac_http_err e;
    bool end;
    long r = ac__http_lines_scan(&p->scan, data, len, p->lim.max_head, p->lim.max_headers + 1, true,
                                 &end, &e);
    if (r < 0)
        return fail(p, e);
    *used = (size_t)r;
    if (!end || p->head_used) {
        /* split head: gather it (the scanner bounds it by max_head) */
        if (r == 0)
            return AC_HTTP_NEED_MORE; /* an empty slice */
        if (!reserve(&p->head_buf, &p->head_cap, p->head_used + (size_t)r))
            return fail(p, AC_HTTP_E_NO_MEMORY);
        memcpy(p->head_buf + p->head_used, data, (size_t)r);
        p->head_used += (size_t)r;
        if (!end)
            return AC_HTTP_NEED_MORE;
        p->head = p->head_buf;
        p->head_len = p->head_used;
    } else {
        p->head = data;
        p->head_len = (size_t)r;
    }
    if (parse_head(p) == AC_HTTP_ERROR)
        return AC_HTTP_ERROR;
    p->phase = p->req.chunked ? PH_CHUNKED : PH_BODY;
    if (p->req.chunked)
        p->chunked = (struct ac_http_chunked){0};
    if (p->req.expect_continue && (p->req.chunked || p->body_left))
        return AC_HTTP_CONTINUE;
    return AC_HTTP_NEED_MORE;
}

static enum ac_http_event feed_body(ac_http_parser *p, const char *data, size_t len, size_t *used)
{
    enum ac_http_err e;
    bool done;
    if (p->phase == PH_BODY) {
        size_t n = len < p->body_left ? len : (size_t)p->body_left;
        if (!body_piece(p, data, n, &e))
            return fail(p, e);
        *used = n;
        p->body_left -= n;
        done = p->body_left == 0;
    } else {
        long r = ac__http_chunked_feed(&p->chunked, data, len, &p->lim, body_piece, p, &done, &e);
        if (r < 0)
            return fail(p, e);
        *used = (size_t)r;
    }
    if (!done)
        return AC_HTTP_NEED_MORE;
    p->phase = PH_DONE;
    return AC_HTTP_REQUEST;
}

enum ac_http_event ac_http_parser_feed(ac_http_parser *p, const char *data, size_t len,
                                       size_t *consumed)
{
    enum ac_http_event ev = AC_HTTP_NEED_MORE;
    size_t used = 0, n = 0;
    *consumed = 0;
    if (p->phase == PH_ERROR)
        return AC_HTTP_ERROR;
    if (p->phase == PH_DONE)
        start_request(p);
    if (p->phase == PH_HEAD) {
        ev = feed_head(p, data, len, &used);
        if (ev == AC_HTTP_ERROR)
            return ev;
    }
    if (ev == AC_HTTP_NEED_MORE && p->phase != PH_HEAD) {
        ev = feed_body(p, data + used, len - used, &n);
        used += n;
        if (ev == AC_HTTP_ERROR)
            return ev;
    }
    if (ev != AC_HTTP_REQUEST && !park(p))
        return fail(p, AC_HTTP_E_NO_MEMORY);
    *consumed = used;
    return ev;
}
