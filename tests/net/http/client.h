/*
 * A small blocking HTTP/1.1 client for the server tests: one connection,
 * pipelined requests, responses read one at a time (Content-Length
 * bodies, or up to the close), every wait bounded by SO_RCVTIMEO.
 */
#ifndef AC_TEST_NET_HTTP_CLIENT_H
#define AC_TEST_NET_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Longest a client waits for one response or the close (bounded waits). */
#define HC_WAIT_MS 10000

struct hc {
    int fd;
    char buf[1 << 16];
    size_t len;
};

struct hc_resp {
    int status;
    char head[4096]; /* status line and headers, NUL-terminated */
    char body[1 << 15];
    size_t body_len;
};

static inline void hc_set_timeout(struct hc *c, unsigned ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* Connects to 127.0.0.1:port; false on failure. */
static inline bool hc_open(struct hc *c, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int one = 1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->len = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return false;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    hc_set_timeout(c, HC_WAIT_MS);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(c->fd);
        c->fd = -1;
        return false;
    }
    return true;
}

static inline void hc_close(struct hc *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static inline bool hc_send(struct hc *c, const void *p, size_t n)
{
    const char *q = p;
    while (n) {
        ssize_t k = send(c->fd, q, n, MSG_NOSIGNAL);
        if (k <= 0)
            return false;
        q += k;
        n -= (size_t)k;
    }
    return true;
}

static inline bool hc_sends(struct hc *c, const char *s)
{
    return hc_send(c, s, strlen(s));
}

/* Reads more into the buffer; false on EOF, error or timeout. */
static inline bool hc_fill(struct hc *c)
{
    if (c->len == sizeof c->buf)
        return false;
    ssize_t k = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (k <= 0)
        return false;
    c->len += (size_t)k;
    return true;
}

/* The value of header `name` in r->head (copied to out), or false. */
static inline bool hc_header(const struct hc_resp *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *l = p + 2;
        if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
            const char *v = l + n + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            size_t len = (size_t)(e - v) < cap - 1 ? (size_t)(e - v) : cap - 1;
            memcpy(out, v, len);
            out[len] = 0;
            return true;
        }
    }
    return false;
}

/*
 * Reads one response. `head_only`: the request was HEAD (no body).
 * Returns false on EOF, timeout or a malformed response.
 */
static inline bool hc_read(struct hc *c, struct hc_resp *r, bool head_only)
{
    char *end;
    char v[32];
    size_t hlen, blen = 0;
    bool until_close = false;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (!hc_fill(c))
            return false;
    hlen = (size_t)(end - c->buf) + 4;
    if (hlen >= sizeof r->head)
        return false;
    memcpy(r->head, c->buf, hlen);
    r->head[hlen] = 0;
    if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
        return false;
    if (hc_header(r, "Content-Length", v, sizeof v))
        blen = strtoul(v, NULL, 10);
    else if (r->status >= 200 && r->status != 204 && r->status != 304)
        until_close = true;
    if (head_only || r->status < 200)
        blen = 0, until_close = false;
    while (until_close && hc_fill(c))
        ;
    if (until_close)
        blen = c->len - hlen;
    while (c->len < hlen + blen)
        if (!hc_fill(c))
            return false;
    if (blen >= sizeof r->body)
        return false;
    memcpy(r->body, c->buf + hlen, blen);
    r->body[blen] = 0;
    r->body_len = blen;
    memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
    c->len -= hlen + blen;
    return true;
}

/* True when the server closes the connection (EOF or reset) before the timeout. */
static inline bool hc_wait_closed(struct hc *c)
{
    char b[4096];
    for (;;) {
        ssize_t k = recv(c->fd, b, sizeof b, 0);
        if (k == 0 || (k < 0 && errno == ECONNRESET))
            return true;
        if (k < 0)
            return false; /* timeout */
    }
}

/* One request on a new connection; the status, or -1. */
static inline int hc_status_of(uint16_t port, const char *raw, struct hc_resp *r)
{
    static struct hc c; /* big buffer: not on the stack */
    int st = -1;
    if (!hc_open(&c, port))
        return -1;
    if (hc_sends(&c, raw) && hc_read(&c, r, false))
        st = r->status;
    hc_close(&c);
    return st;
}

/* A whole file (a corpus request) in malloc'd memory, or NULL. */
static inline char *hc_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

#endif
