/*
 * HTTP/1.1 client with a keep-alive connection pool per peer (see http.h).
 *
 * Data layout: the client holds a list of peers (one per "host:port" it
 * has talked to); each peer holds its idle connections (a stack: the most
 * recently used is warmest), a count of open ones and a FIFO of requests
 * waiting for a connection. A connection carries at most one request at
 * a time (no pipelining: a slow answer must not hold the ones behind it).
 *
 * A response is parsed by libhttp-parser in response mode. Received
 * bytes are appended to the connection's buffer; header fields and values
 * are recorded as offsets into it (the buffer may move when it grows) and
 * the de-chunked body is collected apart.
 *
 * Failure rules: every request's callback runs exactly once — with the
 * response, -ETIMEDOUT at its deadline, -ECONNREFUSED (or the connect's
 * error) when the peer cannot be reached, -ECONNRESET when the connection
 * ended before the response, -EPROTO for a malformed response, -EMSGSIZE
 * past max_response, -ECANCELED when the client is destroyed. A request
 * sent on a reused keep-alive connection that ends before any response
 * byte is sent once more on a new connection: the peer closed an idle
 * connection at the moment we reused it (it cannot have seen the request
 * and answered nothing).
 */
#include "internal.h"

#include "agentcore/net.h"
#include "agentcore/timer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESP_HEADERS 32

struct req;

struct conn {
    struct conn *next_idle, *next_all;
    struct peer *peer;
    ac_tcp_conn *tcp; /* NULL while connecting */
    struct req *req;  /* in flight */
    unsigned served;  /* requests sent on it */
    bool reused;      /* served a request before the current one */
    bool got_bytes;   /* a byte of the current response arrived */
    bool complete, keep_alive;
    int error;
    http_parser hp;
    char *buf; /* the response head (and body bytes) as received */
    size_t len, cap;
    char *body;
    size_t body_len, body_cap;
    struct {
        size_t name, name_len, value, value_len;
    } hdr[MAX_RESP_HEADERS];
    unsigned nhdr;
    bool in_value;
};

struct peer {
    struct peer *next;
    ac_http_client *cl;
    struct sockaddr_storage addr;
    socklen_t alen;
    struct conn *idle, *all;
    unsigned nconns;
    struct req *qhead, *qtail;
    char name[];
};

struct req {
    struct req *next;
    struct peer *peer;
    struct conn *conn;
    struct ac_timer timer;
    ac_http_client_fn cb;
    void *arg;
    char *out;
    size_t out_len;
    int fail; /* set: end with this at once, not -ETIMEDOUT */
    bool retried;
};

struct ac_http_client {
    struct ac_net *net;
    struct ac_http_client_config cfg;
    struct peer *peers;
    unsigned open; /* connections not yet freed */
    bool destroying;
};

void ac_http_client_config_init(struct ac_http_client_config *cfg)
{
    *cfg = (struct ac_http_client_config){.max_conns_per_peer = 64,
                                          .connect_timeout_ns = 1000000000ull,
                                          .idle_timeout_ns = 30000000000ull,
                                          .max_response = 16u << 20};
}

int ac_http_client_create(struct ac_net *net, const struct ac_http_client_config *cfg,
                          ac_http_client **out)
{
    ac_http_client *cl;
    if (cfg && (!cfg->max_conns_per_peer || !cfg->max_response))
        return -EINVAL;
    cl = calloc(1, sizeof *cl);
    if (!cl)
        return -ENOMEM;
    cl->net = net;
    if (cfg)
        cl->cfg = *cfg;
    else
        ac_http_client_config_init(&cl->cfg);
    *out = cl;
    return 0;
}

/* "a.b.c.d:port" or "[v6]:port" into a socket address. */
static int parse_peer(const char *name, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    const char *colon = strrchr(name, ':');
    const char *h = name;
    size_t hl;
    char *end;
    if (!colon || !colon[1])
        return -EINVAL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end || port == 0 || port > 65535)
        return -EINVAL;
    hl = (size_t)(colon - name);
    if (hl >= 2 && name[0] == '[' && name[hl - 1] == ']')
        h++, hl -= 2;
    if (hl == 0 || hl >= sizeof host)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = 0;
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
    } else {
        return -EINVAL;
    }
    return 0;
}

static struct peer *peer_get(ac_http_client *cl, const char *name, int *err)
{
    struct peer *p;
    for (p = cl->peers; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    p = calloc(1, sizeof *p + strlen(name) + 1);
    if (!p) {
        *err = -ENOMEM;
        return NULL;
    }
    *err = parse_peer(name, &p->addr, &p->alen);
    if (*err) {
        free(p);
        return NULL;
    }
    strcpy(p->name, name);
    p->cl = cl;
    p->next = cl->peers;
    cl->peers = p;
    return p;
}

static void dispatch(struct peer *p);

/* Ends `r` with `res` (and the response when res == 0); frees it. */
static void req_end(struct req *r, int res, const struct ac_http_client_response *resp)
{
    ac_timer_cancel(&r->timer);
    r->cb(r->arg, res, resp);
    free(r->out);
    free(r);
}

static void conn_free(struct conn *c)
{
    ac_http_client *cl = c->peer->cl;
    for (struct conn **pp = &c->peer->all; *pp; pp = &(*pp)->next_all)
        if (*pp == c) {
            *pp = c->next_all;
            break;
        }
    c->peer->nconns--;
    cl->open--;
    free(c->buf);
    free(c->body);
    struct peer *p = c->peer;
    free(c);
    if (cl->destroying) {
        if (!cl->open) {
            for (struct peer *q = cl->peers, *next; q; q = next) {
                next = q->next;
                free(q);
            }
            free(cl);
        }
        return;
    }
    dispatch(p); /* a queued request may now get a connection */
}

static void on_closed(void *arg, ac_tcp_conn *tcp)
{
    (void)tcp;
    conn_free(arg);
}

static void idle_remove(struct conn *c)
{
    for (struct conn **pp = &c->peer->idle; *pp; pp = &(*pp)->next_idle)
        if (*pp == c) {
            *pp = c->next_idle;
            return;
        }
}

/* Closes a connection that holds no request. */
static void conn_close(struct conn *c)
{
    AC_ASSERT(!c->req);
    idle_remove(c);
    ac_tcp_close(c->tcp, on_closed, c);
}

static void queue_front(struct peer *p, struct req *r)
{
    r->next = p->qhead;
    p->qhead = r;
    if (!p->qtail)
        p->qtail = r;
}

/* The in-flight request of `c` failed with `res`: retry or end it, close c. */
static void conn_fail(struct conn *c, int res)
{
    struct req *r = c->req;
    c->req = NULL;
    if (r) {
        r->conn = NULL;
        /* not when the net is stopping (-ECANCELED): no new connection then */
        if (c->reused && !c->got_bytes && !r->retried && res != -ECANCELED &&
            !c->peer->cl->destroying) {
            r->retried = true;
            queue_front(c->peer, r); /* dispatch runs when c is freed */
        } else {
            req_end(r, res, NULL);
        }
    }
    if (ac_tcp_is_closing(c->tcp))
        conn_free(c); /* closed by ac_net_stop: no close callback follows */
    else
        conn_close(c);
}

/* ---- response parsing ---- */

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    struct conn *c = hp->data;
    if (!c->in_value && c->nhdr > 0 && c->hdr[c->nhdr - 1].value_len == 0 &&
        c->hdr[c->nhdr - 1].name + c->hdr[c->nhdr - 1].name_len == (size_t)(at - c->buf)) {
        c->hdr[c->nhdr - 1].name_len += len; /* continued across feeds */
        return 0;
    }
    if (c->nhdr == MAX_RESP_HEADERS)
        return 0; /* kept the first ones; a proxied answer has few */
    c->hdr[c->nhdr].name = (size_t)(at - c->buf);
    c->hdr[c->nhdr].name_len = len;
    c->hdr[c->nhdr].value = c->hdr[c->nhdr].value_len = 0;
    c->nhdr++;
    c->in_value = false;
    return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    struct conn *c = hp->data;
    if (!c->nhdr)
        return 0;
    if (c->in_value) {
        c->hdr[c->nhdr - 1].value_len += len;
    } else {
        c->hdr[c->nhdr - 1].value = (size_t)(at - c->buf);
        c->hdr[c->nhdr - 1].value_len = len;
        c->in_value = true;
    }
    return 0;
}

static int on_headers_complete(http_parser *hp)
{
    ((struct conn *)hp->data)->in_value = false;
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    struct conn *c = hp->data;
    if (c->body_len + len > c->peer->cl->cfg.max_response) {
        c->error = -EMSGSIZE;
        return 1;
    }
    if (c->body_len + len > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 4096;
        while (cap < c->body_len + len)
            cap *= 2;
        char *b = realloc(c->body, cap);
        if (!b) {
            c->error = -ENOMEM;
            return 1;
        }
        c->body = b;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, at, len);
    c->body_len += len;
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    struct conn *c = hp->data;
    c->complete = true;
    c->keep_alive = http_should_keep_alive(hp);
    http_parser_pause(hp, 1); /* bytes after the answer are not ours */
    return 0;
}

static const http_parser_settings resp_settings = {
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void deliver(struct conn *c)
{
    struct ac_http_header hdrs[MAX_RESP_HEADERS];
    struct req *r = c->req;
    for (unsigned i = 0; i < c->nhdr; i++) {
        hdrs[i].name = (struct ac_http_str){c->buf + c->hdr[i].name, c->hdr[i].name_len};
        hdrs[i].value = (struct ac_http_str){c->buf + c->hdr[i].value, c->hdr[i].value_len};
    }
    struct ac_http_client_response resp = {.status = (int)c->hp.status_code,
                                           .headers = hdrs,
                                           .nheaders = c->nhdr,
                                           .body = {c->body, c->body_len}};
    c->req = NULL;
    r->conn = NULL;
    req_end(r, 0, &resp);
    if (c->peer->cl->destroying || !c->keep_alive || ac_tcp_is_closing(c->tcp)) {
        if (!ac_tcp_is_closing(c->tcp))
            ac_tcp_close(c->tcp, on_closed, c);
        return;
    }
    c->next_idle = c->peer->idle;
    c->peer->idle = c;
    ac_tcp_set_idle_timeout(c->tcp, c->peer->cl->cfg.idle_timeout_ns);
    dispatch(c->peer);
}

static void on_read(void *arg, ac_tcp_conn *tcp, int res, const struct ac_slice *s)
{
    struct conn *c = arg;
    (void)tcp;
    if (res <= 0) {
        if (!c->req) { /* idle: the peer closed it, or it timed out idle */
            if (ac_tcp_is_closing(c->tcp)) {
                idle_remove(c);
                conn_free(c);
            } else {
                conn_close(c);
            }
            return;
        }
        conn_fail(c, res == 0 || res == -ETIMEDOUT ? -ECONNRESET : res);
        return;
    }
    if (!c->req)
        return; /* bytes nobody asked for: dropped; the next request resets */
    c->got_bytes = true;
    if (c->len + (size_t)res > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + (size_t)res)
            cap *= 2;
        char *b = cap > c->peer->cl->cfg.max_response + 65536 ? NULL : realloc(c->buf, cap);
        if (!b) {
            conn_fail(c, -EMSGSIZE);
            return;
        }
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, s->data, (size_t)res);
    size_t at = c->len;
    c->len += (size_t)res;
    http_parser_execute(&c->hp, &resp_settings, c->buf + at, (size_t)res);
    if (c->complete) {
        deliver(c);
        return;
    }
    if (c->error || HTTP_PARSER_ERRNO(&c->hp) != HPE_OK)
        conn_fail(c, c->error ? c->error : -EPROTO);
}

static void on_written(void *arg, ac_tcp_conn *tcp, int res)
{
    struct conn *c = arg;
    if (res < 0 && !ac_tcp_is_closing(tcp) && c->req)
        conn_fail(c, res);
}

/* Sends r on connection c (idle, open). */
static void assign(struct conn *c, struct req *r)
{
    c->req = r;
    r->conn = c;
    c->reused = c->served++ > 0;
    c->got_bytes = c->complete = c->keep_alive = c->in_value = false;
    c->error = 0;
    c->len = c->body_len = 0;
    c->nhdr = 0;
    http_parser_init(&c->hp, HTTP_RESPONSE);
    c->hp.data = c;
    ac_tcp_set_idle_timeout(c->tcp, 0); /* the request's deadline bounds it now */
    if (ac_tcp_write(c->tcp, r->out, r->out_len, on_written, c) != 0)
        conn_fail(c, -ECONNRESET);
}

static void on_connected(void *arg, ac_tcp_conn *tcp, int res)
{
    struct conn *c = arg;
    struct peer *p = c->peer;
    if (res < 0) {
        /* the peer cannot be reached: everything waiting for it fails now */
        struct req *q = p->qhead;
        p->qhead = p->qtail = NULL;
        conn_free(c);
        while (q) {
            struct req *next = q->next;
            req_end(q, res, NULL);
            q = next;
        }
        return;
    }
    c->tcp = tcp;
    if (ac_tcp_read_start(tcp, on_read, c) != 0) {
        ac_tcp_close(tcp, on_closed, c);
        return;
    }
    if (p->cl->destroying) {
        ac_tcp_close(tcp, on_closed, c);
        return;
    }
    c->next_idle = p->idle;
    p->idle = c;
    dispatch(p);
}

static void on_deadline(struct ac_timer *t, void *arg);

/* Ends a queued request from a later loop turn (never inside the call
 * that queued it, rule 2), through its deadline timer. */
static void fail_soon(struct req *r, int res)
{
    if (r->fail)
        return;
    r->fail = res;
    ac_timer_cancel(&r->timer);
    AC_ASSERT(ac_timer_start(&r->timer, 0, on_deadline, r) == 0);
}

static void dispatch(struct peer *p)
{
    ac_http_client *cl = p->cl;
    while (p->qhead && !p->qhead->fail) {
        struct conn *c = p->idle;
        if (c) {
            struct req *r = p->qhead;
            p->idle = c->next_idle;
            p->qhead = r->next;
            if (!p->qhead)
                p->qtail = NULL;
            assign(c, r);
            continue;
        }
        if (p->nconns >= cl->cfg.max_conns_per_peer)
            return;
        c = calloc(1, sizeof *c);
        if (!c) {
            fail_soon(p->qhead, -ENOMEM);
            return;
        }
        c->peer = p;
        c->next_all = p->all;
        p->all = c;
        p->nconns++;
        cl->open++;
        int err = ac_tcp_connect(cl->net, (struct sockaddr *)&p->addr, p->alen,
                                 cl->cfg.connect_timeout_ns, on_connected, c);
        if (err) {
            p->all = c->next_all;
            p->nconns--;
            cl->open--;
            free(c);
            fail_soon(p->qhead, err);
            return;
        }
        /* the connection serves the queue's head when it lands; a request
         * made meanwhile starts another connect (up to the cap) */
        return;
    }
}

static void on_deadline(struct ac_timer *t, void *arg)
{
    struct req *r = arg;
    (void)t;
    if (r->conn) {
        struct conn *c = r->conn;
        c->req = NULL;
        r->conn = NULL;
        r->cb(r->arg, -ETIMEDOUT, NULL);
        free(r->out);
        free(r);
        conn_close(c); /* the answer may still come: the connection is unusable */
        return;
    }
    struct peer *p = r->peer;
    struct req **pp = &p->qhead, *prev = NULL;
    for (; *pp && *pp != r; prev = *pp, pp = &(*pp)->next)
        ;
    AC_ASSERT(*pp == r);
    *pp = r->next;
    if (p->qtail == r)
        p->qtail = prev;
    r->cb(r->arg, r->fail ? r->fail : -ETIMEDOUT, NULL);
    free(r->out);
    free(r);
    if (!p->cl->destroying)
        dispatch(p);
}

int ac_http_client_request(ac_http_client *cl, const char *peer,
                           const struct ac_http_client_request *rq, ac_http_client_fn cb, void *arg)
{
    int err;
    struct peer *p;
    struct req *r;
    size_t cap = 256 + strlen(rq->method) + strlen(rq->path) + strlen(peer) + rq->body_len;
    if (cl->destroying || !cb || !rq->method || !rq->path)
        return -EINVAL;
    p = peer_get(cl, peer, &err);
    if (!p)
        return err;
    for (unsigned i = 0; i < rq->nheaders; i++)
        cap += rq->headers[i].name.len + rq->headers[i].value.len + 4;
    r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->out = malloc(cap);
    if (!r->out) {
        free(r);
        return -ENOMEM;
    }
    int n = snprintf(r->out, cap, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n",
                     rq->method, rq->path, peer, rq->body_len);
    size_t len = (size_t)n;
    for (unsigned i = 0; i < rq->nheaders; i++) {
        const struct ac_http_header *h = &rq->headers[i];
        memcpy(r->out + len, h->name.p, h->name.len);
        len += h->name.len;
        memcpy(r->out + len, ": ", 2);
        len += 2;
        memcpy(r->out + len, h->value.p, h->value.len);
        len += h->value.len;
        memcpy(r->out + len, "\r\n", 2);
        len += 2;
    }
    memcpy(r->out + len, "\r\n", 2);
    len += 2;
    if (rq->body_len)
        memcpy(r->out + len, rq->body, rq->body_len);
    r->out_len = len + rq->body_len;
    r->peer = p;
    r->cb = cb;
    r->arg = arg;
    err = ac_timer_start_at(&r->timer, rq->deadline_ns, on_deadline, r);
    if (err) {
        free(r->out);
        free(r);
        return err;
    }
    if (p->qtail)
        p->qtail->next = r;
    else
        p->qhead = r;
    p->qtail = r;
    dispatch(p);
    return 0;
}

void ac_http_client_destroy(ac_http_client *cl)
{
    if (!cl)
        return;
    cl->destroying = true;
    for (struct peer *p = cl->peers; p; p = p->next) {
        while (p->qhead) {
            struct req *r = p->qhead;
            p->qhead = r->next;
            req_end(r, -ECANCELED, NULL);
        }
        p->qtail = NULL;
        while (p->idle) {
            struct conn *c = p->idle;
            p->idle = c->next_idle;
            ac_tcp_close(c->tcp, on_closed, c);
        }
    }
    /* in-flight requests end now; connects in progress close when they land */
    for (struct peer *p = cl->peers; p; p = p->next) {
        struct conn *c = p->all;
        while (c) {
            struct conn *next = c->next_all;
            if (c->req)
                conn_fail(c, -ECANCELED);
            c = next;
        }
    }
    if (!cl->open) {
        for (struct peer *q = cl->peers, *next; q; q = next) {
            next = q->next;
            free(q);
        }
        free(cl);
    }
}
