/*
 * Listening sockets: one per shard and port, SO_REUSEPORT so the kernel
 * spreads incoming connections over the shards, each accepting with one
 * multishot accept (a CQE per connection). When the kernel (or the config
 * mask) lacks multishot accept, a single-shot accept is re-armed after
 * every connection.
 *
 * The connection limit is per shard: past it a new connection is closed
 * at once (the client sees a reset or EOF) and counted, which is cheaper
 * and more honest than leaving it in the backlog.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACCEPT_RETRY_NS (10 * 1000 * 1000) /* after EMFILE and friends */

static void accept_complete(struct ac_op *op, int res, uint32_t flags);
static void server_cancel_complete(struct ac_op *op, int res, uint32_t flags);

static unsigned server_inflight(const struct ac_tcp_server *s)
{
    return (unsigned)s->armed + (unsigned)(s->cancel_op.kind == AC_OP_CANCEL);
}

static void server_free_if_done(struct ac_tcp_server *s)
{
    if (!s->closing || server_inflight(s) || ac_timer_armed(&s->retry))
        return;
    struct ac_net *net = s->net;
    LIST_REMOVE(s, link);
    /* Its connections outlive it: they no longer count against its limit. */
    struct ac_tcp_conn *c;
    LIST_FOREACH(c, &net->conns, link)
        if (c->server == s)
            c->server = NULL;
    close(s->fd);
    net->nservers--;
    free(s);
    ac__net_handle_gone(net);
}

static void arm_accept(struct ac_tcp_server *s);

static void retry_accept(struct ac_timer *t, void *arg)
{
    (void)t;
    arm_accept(arg);
}

static void arm_accept(struct ac_tcp_server *s)
{
    if (s->closing || s->armed)
        return;
    s->accept_op.kind = s->multishot ? AC_OP_ACCEPT_MULTI : AC_OP_ACCEPT;
    int err = ac_ring_submit(s->net->ring, &s->accept_op);
    if (err == -EOPNOTSUPP && s->multishot) {
        s->multishot = false;
        s->net->stats.fallback_accept++;
        s->accept_op.kind = AC_OP_ACCEPT;
        err = ac_ring_submit(s->net->ring, &s->accept_op);
    }
    if (err == 0) {
        s->armed = true;
        return;
    }
    ac_log_warn("net: cannot arm accept on port %u: %s; retrying", s->port, ac_strerror(err));
    if (ac_timer_start(&s->retry, ACCEPT_RETRY_NS, retry_accept, s) != 0)
        AC_PANIC("net: accept retry timer");
}

static void take(struct ac_tcp_server *s, int fd)
{
    struct ac_net *net = s->net;
    struct ac_tcp_conn *c;

    if (s->closing) {
        close(fd);
        return;
    }
    if (s->cfg.max_connections && s->nconns >= s->cfg.max_connections) {
        close(fd);
        net->stats.refused++;
        return;
    }
    if (ac__conn_new(net, fd, s, &c) != 0) {
        close(fd);
        net->stats.refused++;
        return;
    }
    net->stats.accepted++;
    if (s->cfg.idle_timeout_ns)
        ac_tcp_set_idle_timeout(c, s->cfg.idle_timeout_ns);
    s->cb(s->arg, c);
}

static void accept_complete(struct ac_op *op, int res, uint32_t flags)
{
    struct ac_tcp_server *s = AC_CONTAINER_OF(op, struct ac_tcp_server, accept_op);
    bool last = !(flags & IORING_CQE_F_MORE);
    bool retry_later = false;

    if (last)
        s->armed = false;
    if (res >= 0) {
        take(s, res);
    } else if (res == -EINVAL && s->multishot) {
        /* accepted the opcode but not the multishot flag (kernel < 5.19) */
        s->multishot = false;
        ac_ring_mask_kinds(s->net->ring, 1ull << AC_OP_ACCEPT_MULTI);
        s->net->stats.fallback_accept++;
    } else if (res != -ECANCELED) {
        ac_log_warn("net: accept on port %u: %s", s->port, ac_strerror(res));
        retry_later = res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS;
    }
    if (!last)
        return;
    if (s->closing) {
        server_free_if_done(s);
        return;
    }
    s->net->stats.accept_rearms++;
    if (retry_later) {
        if (ac_timer_start(&s->retry, ACCEPT_RETRY_NS, retry_accept, s) != 0)
            AC_PANIC("net: accept retry timer");
        return;
    }
    arm_accept(s);
}

static void server_cancel_complete(struct ac_op *op, int res, uint32_t flags)
{
    (void)res;
    (void)flags;
    struct ac_tcp_server *s = AC_CONTAINER_OF(op, struct ac_tcp_server, cancel_op);
    s->cancel_op.kind = AC_OP_NOP; /* no longer in flight */
    server_free_if_done(s);
}

/* A bound SO_REUSEPORT socket, listening unless `reserve` (then blocking). */
static int bound_socket(const struct ac_tcp_server_config *cfg, bool reserve, int *out_fd,
                        uint16_t *out_port)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
        struct sockaddr_storage ss;
    } a;
    socklen_t alen;
    const char *host = cfg->host ? cfg->host : "127.0.0.1";
    int one = 1, err;

    memset(&a, 0, sizeof a);
    if (inet_pton(AF_INET, host, &a.v4.sin_addr) == 1) {
        a.v4.sin_family = AF_INET;
        a.v4.sin_port = htons(cfg->port);
        alen = sizeof a.v4;
    } else if (inet_pton(AF_INET6, host, &a.v6.sin6_addr) == 1) {
        a.v6.sin6_family = AF_INET6;
        a.v6.sin6_port = htons(cfg->port);
        alen = sizeof a.v6;
    } else {
        return -EINVAL;
    }
    int fd = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | (reserve ? 0 : SOCK_NONBLOCK), 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        /* inherited by every accepted socket: no setsockopt per connection */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        bind(fd, &a.sa, alen) < 0 ||
        (!reserve && listen(fd, cfg->backlog > 0 ? cfg->backlog : 4096) < 0) ||
        getsockname(fd, &a.sa, &alen) < 0) {
        err = -errno;
        close(fd);
        return err;
    }
    *out_fd = fd;
    *out_port = ntohs(a.sa.sa_family == AF_INET ? a.v4.sin_port : a.v6.sin6_port);
    return 0;
}

int ac_tcp_server_start(ac_net *net, const struct ac_tcp_server_config *cfg, ac_tcp_accept_fn cb,
                        void *arg, ac_tcp_server **out)
{
    struct ac_tcp_server *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int err = bound_socket(cfg, false, &s->fd, &s->port);
    if (err) {
        free(s);
        return err;
    }
    s->net = net;
    s->cfg = *cfg;
    s->cb = cb;
    s->arg = arg;
    s->multishot = true;
    s->accept_op = (struct ac_op){.complete = accept_complete, .fd = s->fd};
    s->cancel_op = (struct ac_op){.complete = server_cancel_complete, .kind = AC_OP_NOP};
    LIST_INSERT_HEAD(&net->servers, s, link);
    net->nservers++;
    arm_accept(s);
    *out = s;
    return 0;
}

uint16_t ac_tcp_server_port(const ac_tcp_server *s)
{
    return s->port;
}

void ac_tcp_server_close(ac_tcp_server *s)
{
    AC_ASSERT(!s->closing);
    s->closing = true;
    if (ac_timer_armed(&s->retry))
        ac_timer_cancel(&s->retry);
    if (s->armed) {
        s->cancel_op.kind = AC_OP_CANCEL;
        s->cancel_op.u.cancel.target = &s->accept_op;
        if (ac_ring_submit(s->net->ring, &s->cancel_op) != 0) {
            /* No SQE: shutting the socket down ends the accept as well. */
            s->cancel_op.kind = AC_OP_NOP;
            shutdown(s->fd, SHUT_RDWR);
        }
    }
    server_free_if_done(s);
}

int ac_tcp_reserve_port(const char *host, uint16_t *port)
{
    struct ac_tcp_server_config cfg = {.host = host, .port = *port};
    int fd = -1, err = bound_socket(&cfg, true, &fd, port);
    return err ? err : fd;
}
