/*
 * Per-shard net state: the buffer ring, the write-request free list, the
 * connections parked until a buffer returns, and the graceful stop.
 *
 * Parking: a receive that finds the ring empty ends with -ENOBUFS. Its
 * data stays in the socket, so nothing is lost; the connection waits in a
 * FIFO and is re-armed when buffers come back — at most as many waiters as
 * buffers returned, so a returning buffer never wakes thousands of
 * connections to fight over it.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

void ac_net_config_init(struct ac_net_config *cfg)
{
    *cfg = (struct ac_net_config){
        .buf_count = 256,
        .buf_size = 16 * 1024,
        .zc_threshold = AC_NET_ZC_THRESHOLD,
        .high_water = 1024 * 1024,
    };
}

/* The net of this thread's ring (one per ring: it owns buffer group 0). */
static _Thread_local struct ac_net *thread_net;

ac_net *ac_net_current(void)
{
    return thread_net;
}

int ac_net_create(const struct ac_net_config *cfg, ac_net **out)
{
    struct ac_net_config defaults;
    struct ac_ring *ring = ac_ring_current();
    int err;

    if (!ring)
        return -ENXIO;
    if (!cfg) {
        ac_net_config_init(&defaults);
        cfg = &defaults;
    }
    struct ac_net *net = calloc(1, sizeof *net);
    if (!net)
        return -ENOMEM;
    net->ring = ring;
    net->cfg = *cfg;
    STAILQ_INIT(&net->waiters);
    STAILQ_INIT(&net->wreq_free);
    if (!net->cfg.high_water)
        net->cfg.high_water = 1024 * 1024;
    ac_ring_mask_kinds(ring, cfg->mask_kinds);
    net->pool.net = net;
    err = ac__bufpool_init(&net->pool, ring, cfg->buf_count, cfg->buf_size,
                           cfg->zc_threshold > 0 && ac_ring_supports(ring, AC_OP_SEND_ZC),
                           !cfg->no_incremental);
    if (err)
        goto out_free;
    thread_net = net;
    *out = net;
    return 0;

out_free:
    free(net);
    return err;
}

void ac_net_destroy(ac_net *net)
{
    if (!net)
        return;
    AC_ASSERT(LIST_EMPTY(&net->conns) && net->nservers == 0);
    if (thread_net == net)
        thread_net = NULL;
    ac__bufpool_fini(&net->pool, net->ring);
    struct ac__wreq *w;
    while ((w = STAILQ_FIRST(&net->wreq_free))) {
        STAILQ_REMOVE_HEAD(&net->wreq_free, link);
        free(w);
    }
    if (ac_timer_armed(&net->stop_timer))
        ac_timer_cancel(&net->stop_timer);
    free(net);
}

void ac_net_stats(const ac_net *net, struct ac_net_stats *out)
{
    *out = net->stats;
    out->incremental = net->pool.incremental;
}

struct ac__wreq *ac__wreq_get(struct ac_net *net)
{
    struct ac__wreq *w = STAILQ_FIRST(&net->wreq_free);
    if (w)
        STAILQ_REMOVE_HEAD(&net->wreq_free, link);
    else
        w = malloc(sizeof *w);
    return w;
}

void ac__wreq_put(struct ac_net *net, struct ac__wreq *w)
{
    STAILQ_INSERT_HEAD(&net->wreq_free, w, link);
}

void ac__net_park(struct ac_net *net, struct ac_tcp_conn *c)
{
    if (c->waiting_bufs)
        return;
    c->waiting_bufs = true;
    STAILQ_INSERT_TAIL(&net->waiters, c, wait_link);
    net->stats.bufs_waits++;
}

void ac__net_unpark(struct ac_net *net, struct ac_tcp_conn *c)
{
    if (!c->waiting_bufs)
        return;
    STAILQ_REMOVE(&net->waiters, c, ac_tcp_conn, wait_link);
    c->waiting_bufs = false;
}

void ac__net_bufs_returned(struct ac_net *net)
{
    /*
     * A returned buffer serves one receive — unless the kernel packs
     * receives into it (incremental consumption), when it may serve every
     * waiter: wake them all then, or waiters beyond the first would stay
     * parked while the ring has room and no further buffer comes back (a
     * stall seen with 64 connections on 4 buffers). A waiter that still
     * finds no room gets -ENOBUFS and parks again.
     */
    unsigned budget = net->pool.incremental ? UINT_MAX : net->pool.avail;
    unsigned n = 0;
    struct ac_tcp_conn *c;
    STAILQ_FOREACH(c, &net->waiters, wait_link)
        n++;
    if (budget > n)
        budget = n; /* a waiter parked again goes to the tail: not seen twice */
    while ((c = STAILQ_FIRST(&net->waiters)) && budget--) {
        STAILQ_REMOVE_HEAD(&net->waiters, wait_link);
        c->waiting_bufs = false;
        ac__conn_arm_recv(c);
    }
}

static void maybe_stopped(struct ac_net *net)
{
    if (!net->stopping || !LIST_EMPTY(&net->conns) || net->nservers || !net->stop_cb)
        return;
    ac_net_stopped_fn cb = net->stop_cb;
    net->stop_cb = NULL;
    if (ac_timer_armed(&net->stop_timer))
        ac_timer_cancel(&net->stop_timer);
    cb(net->stop_arg, net);
}

void ac__net_handle_gone(struct ac_net *net)
{
    maybe_stopped(net);
}

/*
 * Closes a connection for the stop: a reader first learns it through its
 * read callback (-ECANCELED) so it can drop its own state. Connections are
 * freed only from completions, so `c` and the list stay valid here.
 */
void ac__net_stop_conn(struct ac_tcp_conn *c)
{
    if (c->cause == AC_CLOSE_LOCAL)
        c->cause = AC_CLOSE_SHUTDOWN;
    if (c->reading && c->read_cb) {
        c->reading = false;
        c->read_cb(c->read_arg, c, -ECANCELED, NULL);
    }
    if (c->state == AC_CONN_OPEN)
        ac_tcp_close(c, NULL, NULL);
}

/* The drain deadline passed: close whatever still has output queued. */
static void stop_deadline(struct ac_timer *t, void *arg)
{
    (void)t;
    struct ac_net *net = arg;
    struct ac_tcp_conn *c;
    LIST_FOREACH(c, &net->conns, link)
        if (c->state == AC_CONN_OPEN)
            ac__net_stop_conn(c);
}

void ac_net_stop(ac_net *net, uint64_t deadline_ns, ac_net_stopped_fn cb, void *arg)
{
    AC_ASSERT(!net->stopping);
    net->stopping = true;
    net->stop_cb = cb;
    net->stop_arg = arg;
    net->stop_deadline_ns = deadline_ns;
    struct ac_tcp_server *s, *s_next;
    /* Closing may free a server that has nothing in flight: take next first. */
    for (s = LIST_FIRST(&net->servers); s; s = s_next) {
        s_next = LIST_NEXT(s, link);
        if (!s->closing)
            ac_tcp_server_close(s);
    }
    struct ac_tcp_conn *c;
    LIST_FOREACH(c, &net->conns, link) {
        if (c->state != AC_CONN_OPEN)
            continue;
        if (c->queued == 0)
            ac__net_stop_conn(c);
        else
            c->drain_close = true;
    }
    if (!LIST_EMPTY(&net->conns) && ac_timer_start_at(&net->stop_timer, deadline_ns, stop_deadline, net) != 0)
        stop_deadline(&net->stop_timer, net);
    maybe_stopped(net);
}
