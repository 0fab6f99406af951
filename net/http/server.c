/*
 * The HTTP server handle: its listener, its graceful stop and the
 * exchanges it hands out (http_conn.c runs the connections).
 *
 * Exchanges come from a per-server free list, so a keep-alive connection
 * at steady state allocates nothing per request. An exchange whose
 * connection closed first moves to the server's orphan list and waits for
 * its done (an answer may still be on its way from another shard); the
 * destroy frees whatever the runtime's stop left there.
 */
#include "server_internal.h"
#include "agentcore/mem.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Free exchanges kept per server; more go back to malloc. */
#define FREE_X_MAX 1024
/* A reused exchange keeps at most this much buffer. */
#define KEEP_BUF 4096

int ac__hbuf_add(struct ac__hbuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return -ENOMEM;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

/* ---- the shared connection budget ------------------------------------- */

struct ac_http_conn_budget {
    _Atomic unsigned used;
    unsigned max;
};

int ac_http_conn_budget_create(unsigned max, ac_http_conn_budget **out)
{
    if (!max)
        return -EINVAL;
    struct ac_http_conn_budget *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->max = max;
    *out = b;
    return 0;
}

void ac_http_conn_budget_destroy(ac_http_conn_budget *b)
{
    free(b);
}

unsigned ac_http_conn_budget_used(const ac_http_conn_budget *b)
{
    return atomic_load_explicit(&((struct ac_http_conn_budget *)b)->used, memory_order_relaxed);
}

bool ac__http_budget_take(ac_http_conn_budget *b, unsigned slack)
{
    /* relaxed: a count, it orders nothing; over by `slack` is refused outright */
    unsigned n = atomic_fetch_add_explicit(&b->used, 1, memory_order_relaxed);
    if (n < b->max + slack)
        return true;
    atomic_fetch_sub_explicit(&b->used, 1, memory_order_relaxed);
    return false;
}

void ac__http_budget_give(ac_http_conn_budget *b)
{
    atomic_fetch_sub_explicit(&b->used, 1, memory_order_relaxed);
}

bool ac__http_budget_over(const ac_http_conn_budget *b)
{
    return ac_http_conn_budget_used(b) > b->max;
}

void ac_http_server_config_init(struct ac_http_server_config *cfg)
{
    *cfg = (struct ac_http_server_config){
        .request_timeout_ns = 10000000000ull,
        .idle_timeout_ns = 60000000000ull,
        .linger_ns = 1000000000ull,
        .linger_max = 1024 * 1024,
        .max_pipeline = 32,
        .max_output = 256 * 1024,
        .max_conns = 16384,
        .max_buffered = 4u << 20,
    };
    ac_http_limits_init(&cfg->limits);
}

/* The running servers of this thread, for whoever reports on them (metrics). */
static _Thread_local LIST_HEAD(, ac_http_server) thread_servers;

static void thread_list_add(struct ac_http_server *s)
{
    LIST_INSERT_HEAD(&thread_servers, s, thread_link);
    s->listed = true;
}

static void thread_list_remove(struct ac_http_server *s)
{
    if (!s->listed)
        return;
    LIST_REMOVE(s, thread_link);
    s->listed = false;
}

int ac_http_server_start(struct ac_net *net, const struct ac_tcp_server_config *tcp,
                         const struct ac_http_server_config *cfg, ac_http_request_fn cb, void *arg,
                         ac_http_server **out)
{
    struct ac_http_server *s;
    int err;
    if (!cb || !cfg || !cfg->request_timeout_ns || !cfg->max_pipeline || !cfg->max_output)
        return -EINVAL;
    s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    TAILQ_INIT(&s->free_x);
    TAILQ_INIT(&s->orphans);
    s->net = net;
    s->cfg = *cfg;
    /* the bounds added later: 0 (a config made without ac_http_server_config_init) is the default */
    struct ac_http_server_config def;
    ac_http_server_config_init(&def);
    if (!s->cfg.max_conns)
        s->cfg.max_conns = def.max_conns;
    if (!s->cfg.max_buffered)
        s->cfg.max_buffered = def.max_buffered;
    if (s->cfg.max_buffered < s->cfg.max_output)
        s->cfg.max_buffered = s->cfg.max_output; /* what parsing may let pile up anyway */
    if (!s->cfg.linger_max)
        s->cfg.linger_max = def.linger_max;
    s->cb = cb;
    s->arg = arg;
    err = ac_tcp_server_start(net, tcp, ac__hconn_accept, s, &s->tcp);
    if (err) {
        free(s);
        return err;
    }
    s->port = ac_tcp_server_port(s->tcp);
    thread_list_add(s);
    *out = s;
    return 0;
}

uint16_t ac_http_server_port(const ac_http_server *s)
{
    return s->port;
}

ac_http_server *ac_http_server_next(const ac_http_server *prev)
{
    return prev ? LIST_NEXT(prev, thread_link) : LIST_FIRST(&thread_servers);
}

static void finish_stop(struct ac_timer *t, void *arg)
{
    struct ac_http_server *s = arg;
    (void)t;
    if (s->nconns || !s->stop_cb)
        return;
    ac_http_server_stopped_fn cb = s->stop_cb;
    s->stop_cb = NULL;
    cb(s->stop_arg, s);
}

/* The deadline: whatever still has answers pending is closed now. */
static void stop_deadline(struct ac_timer *t, void *arg)
{
    struct ac_http_server *s = arg;
    (void)t;
    for (struct ac__hconn *c = LIST_FIRST(&s->conns), *next; c; c = next) {
        next = LIST_NEXT(c, link);
        if (!c->closing)
            ac__hconn_close(c);
    }
}

void ac_http_server_stop(ac_http_server *s, uint64_t deadline_ns, ac_http_server_stopped_fn cb,
                         void *arg)
{
    AC_ASSERT(!s->stopping);
    s->stopping = true;
    thread_list_remove(s);
    s->stop_cb = cb;
    s->stop_arg = arg;
    ac_tcp_server_close(s->tcp);
    s->tcp = NULL;
    for (struct ac__hconn *c = LIST_FIRST(&s->conns), *next; c; c = next) {
        next = LIST_NEXT(c, link); /* closing never frees synchronously (net.h), but be safe */
        if (c->closing)
            continue;
        if (ac__hconn_idle(c))
            ac__hconn_close(c);
        else
            ac__hconn_drain(c);
    }
    if (s->nconns == 0) {
        /* the callback runs from the loop, never inside this call */
        AC_ASSERT(ac_timer_start(&s->stop_timer, 0, finish_stop, s) == 0);
        return;
    }
    if (ac_timer_start_at(&s->stop_timer, deadline_ns, stop_deadline, s) != 0)
        stop_deadline(&s->stop_timer, s);
}

void ac__http_server_conn_gone(struct ac_http_server *s)
{
    if (!s->stopping || s->nconns || !s->stop_cb)
        return;
    ac_timer_cancel(&s->stop_timer);
    AC_ASSERT(ac_timer_start(&s->stop_timer, 0, finish_stop, s) == 0);
}

void ac_http_server_destroy(ac_http_server *s)
{
    struct ac_http_exchange *x;
    AC_ASSERT(s->nconns == 0 && !s->stop_cb);
    while ((x = TAILQ_FIRST(&s->orphans))) {
        TAILQ_REMOVE(&s->orphans, x, link);
        free(x->buf.p);
        ac_free(x);
    }
    while ((x = TAILQ_FIRST(&s->free_x))) {
        TAILQ_REMOVE(&s->free_x, x, link);
        free(x->buf.p);
        ac_free(x);
    }
    free(s);
}

void ac_http_server_stats(const ac_http_server *s, struct ac_http_server_stats *out)
{
    *out = s->stats;
}

/* ---- exchanges -------------------------------------------------------- */

struct ac_http_exchange *ac__hx_get(struct ac_http_server *s)
{
    struct ac_http_exchange *x = TAILQ_FIRST(&s->free_x);
    if (x) {
        TAILQ_REMOVE(&s->free_x, x, link);
        s->nfree_x--;
    } else {
        x = ac_calloc(1, AC__HX_HEAD + s->cfg.exchange_data);
        if (!x)
            return NULL;
        x->srv = s;
    }
    x->done = false;
    x->buf.len = 0;
    return x;
}

void ac__hx_put(struct ac_http_server *s, struct ac_http_exchange *x)
{
    x->conn = NULL;
    if (s->nfree_x >= FREE_X_MAX) {
        free(x->buf.p);
        ac_free(x);
        return;
    }
    if (x->buf.cap > KEEP_BUF) {
        free(x->buf.p);
        x->buf = (struct ac__hbuf){0};
    }
    TAILQ_INSERT_HEAD(&s->free_x, x, link);
    s->nfree_x++;
}

void ac__hx_orphan(struct ac_http_server *s, struct ac_http_exchange *x)
{
    x->conn = NULL;
    TAILQ_INSERT_HEAD(&s->orphans, x, link);
    s->stats.orphans++;
}

void *ac_http_exchange_data(ac_http_exchange *x)
{
    return (char *)x + AC__HX_HEAD;
}

int ac_http_exchange_write(ac_http_exchange *x, const struct iovec *iov, int iovcnt)
{
    AC_ASSERT(!x->done);
    if (!x->conn)
        return 0;
    return ac__hconn_write(x->conn, x, iov, iovcnt);
}

void ac_http_exchange_done(ac_http_exchange *x, bool keep_alive)
{
    struct ac_http_server *s = x->srv;
    AC_ASSERT(!x->done);
    if (!x->conn) {
        TAILQ_REMOVE(&s->orphans, x, link);
        ac__hx_put(s, x);
        return;
    }
    x->done = true;
    x->keep_alive = keep_alive;
    ac__hconn_done(x->conn, x);
}
