/*
 * A TCP connection: receive side, idle timeout and close.
 *
 * Receiving is one multishot recv with buffer selection: each CQE carries
 * a buffer id from the shard's ring, handed to the read callback as a
 * slice. A multishot recv ends (no IORING_CQE_F_MORE) when the ring ran
 * dry (-ENOBUFS), when the kernel decides to (e.g. CQ pressure), on EOF or
 * error, or when cancelled; we re-arm in the first two cases — at once if
 * buffers are left, else after parking until one returns. Without
 * multishot support (probe or config mask) every receive is single-shot
 * and re-armed after each CQE: same code, more SQEs.
 *
 * Lifetime: `inflight` counts operations whose last CQE has not arrived.
 * Closing cancels everything on the fd (one ASYNC_CANCEL by fd); once
 * inflight reaches 0 a CLOSE op closes the socket, and its completion runs
 * the close callback and frees the connection. Memory is therefore freed
 * only from a completion, never while a caller walks a list.
 */
#include "internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void recv_complete(struct ac_op *op, int res, uint32_t flags);
static void cancel_complete(struct ac_op *op, int res, uint32_t flags);
static void close_complete(struct ac_op *op, int res, uint32_t flags);

int ac__conn_new(struct ac_net *net, int fd, struct ac_tcp_server *srv, struct ac_tcp_conn **out)
{
    struct ac_tcp_conn *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->net = net;
    c->server = srv;
    c->fd = fd;
    c->state = AC_CONN_OPEN;
    c->recv_op = (struct ac_op){.complete = recv_complete, .fd = fd};
    c->recv_op.u.recv.bgid = net->pool.bgid;
    c->cancel_op = (struct ac_op){.complete = cancel_complete, .kind = AC_OP_CANCEL_FD, .fd = fd};
    /* Small messages must not wait for Nagle. Accepted sockets inherit
     * TCP_NODELAY from their listener (set once in tcp_server.c), so only
     * client sockets pay a setsockopt, once per connection. */
    if (!srv) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    STAILQ_INIT(&c->wq);
    LIST_INSERT_HEAD(&net->conns, c, link);
    net->stats.conns_open++;
    if (srv)
        srv->nconns++;
    *out = c;
    return 0;
}

int ac__conn_submit(struct ac_tcp_conn *c, struct ac_op *op)
{
    int err = ac_ring_submit(c->net->ring, op);
    if (err == 0)
        c->inflight++;
    return err;
}

void ac__conn_arm_recv(struct ac_tcp_conn *c)
{
    struct ac_net *net = c->net;

    if (!c->reading || c->recv_armed || c->paused || c->user_paused || c->state != AC_CONN_OPEN)
        return;
    if (net->pool.avail == 0) {
        ac__net_park(net, c);
        return;
    }
    c->recv_op.kind = AC_OP_RECV_MULTI;
    int err = ac__conn_submit(c, &c->recv_op);
    if (err == -EOPNOTSUPP) {
        c->recv_op.kind = AC_OP_RECV;
        err = ac__conn_submit(c, &c->recv_op);
        net->stats.fallback_recv++;
    }
    if (err) {
        /* No SQE even after flushing, or no recv at all: report it as a
         * read error rather than stall silently. */
        c->reading = false;
        c->read_cb(c->read_arg, c, err, NULL);
        return;
    }
    c->recv_armed = true;
}

int ac_tcp_read_start(ac_tcp_conn *c, ac_tcp_read_fn cb, void *arg)
{
    if (c->state != AC_CONN_OPEN)
        return -ENOTCONN;
    if (c->reading)
        return -EALREADY;
    c->reading = true;
    c->read_cb = cb;
    c->read_arg = arg;
    if (c->idle_ns)
        c->last_rx_ns = ac_now_ns();
    ac__conn_arm_recv(c);
    return 0;
}

static void recv_complete(struct ac_op *op, int res, uint32_t flags)
{
    struct ac_tcp_conn *c = AC_CONTAINER_OF(op, struct ac_tcp_conn, recv_op);
    struct ac_net *net = c->net;
    bool last = !(flags & IORING_CQE_F_MORE);

    if (last)
        c->recv_armed = false;
    if (res <= 0 && (flags & IORING_CQE_F_BUFFER)) {
        /* A buffer named without data (not seen on 6.18): give it back. */
        struct ac_slice s;
        ac__bufpool_take(&net->pool, (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT), 0, flags, &s);
        ac_slice_release(&s);
    }
    if (res > 0) {
        AC_ASSERT(flags & IORING_CQE_F_BUFFER);
        struct ac_slice s;
        ac__bufpool_take(&net->pool, (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT), (uint32_t)res,
                         flags, &s);
        net->stats.bytes_in += (uint64_t)res;
        if (c->idle_ns)
            c->last_rx_ns = ac_now_ns();
        if (c->reading && c->state == AC_CONN_OPEN)
            c->read_cb(c->read_arg, c, res, &s);
        ac_slice_release(&s);
    } else if (res == -ENOBUFS) {
        net->stats.enobufs++;
    } else if (res == -ECANCELED) {
        /* only we cancel: closing, or paused (high-water mark or the owner) */
    } else if (res == -EAGAIN || res == -EINTR) {
        /* nothing received (non-blocking socket, worker path): re-armed below */
    } else if (res == -EINVAL && c->recv_op.kind == AC_OP_RECV_MULTI) {
        /* A kernel whose recv has no multishot mode: single-shot from now on. */
        ac_ring_mask_kinds(net->ring, 1ull << AC_OP_RECV_MULTI);
    } else if (c->reading && c->state == AC_CONN_OPEN) {
        /* 0: end of stream; < 0: error. Reading stops either way. */
        if (c->cause == AC_CLOSE_LOCAL)
            c->cause = res == 0 ? AC_CLOSE_PEER : AC_CLOSE_ERROR;
        c->reading = false;
        c->read_cb(c->read_arg, c, res, NULL);
    }
    if (last) {
        if (c->reading && c->state == AC_CONN_OPEN && !c->paused && !c->user_paused &&
            c->recv_op.kind == AC_OP_RECV_MULTI)
            net->stats.recv_rearms++; /* a multishot ended under us: re-arm (maybe parked) */
        ac__conn_arm_recv(c);
        ac__conn_op_done(c);
    }
}

static void cancel_complete(struct ac_op *op, int res, uint32_t flags)
{
    (void)res;
    (void)flags;
    struct ac_tcp_conn *c = AC_CONTAINER_OF(op, struct ac_tcp_conn, cancel_op);
    c->cancel_busy = false;
    if (c->cancel_again && c->state == AC_CONN_CLOSING && c->inflight > 1) {
        /* close came while a pause-cancel was out: cancel by fd now */
        c->cancel_again = false;
        c->cancel_op.kind = AC_OP_CANCEL_FD;
        if (ac__conn_submit(c, &c->cancel_op) == 0)
            c->cancel_busy = true;
    }
    ac__conn_op_done(c);
}

/* Takes the receive out of the kernel (a pause; completions already
 * queued are still delivered). */
static void cancel_recv(struct ac_tcp_conn *c)
{
    ac__net_unpark(c->net, c);
    if (c->recv_armed && !c->cancel_busy) {
        c->cancel_op.kind = AC_OP_CANCEL;
        c->cancel_op.u.cancel.target = &c->recv_op;
        if (ac__conn_submit(c, &c->cancel_op) == 0)
            c->cancel_busy = true;
    }
}

void ac__conn_pause(struct ac_tcp_conn *c)
{
    if (c->paused)
        return;
    c->paused = true;
    c->net->stats.read_pauses++;
    cancel_recv(c);
}

void ac__conn_resume(struct ac_tcp_conn *c)
{
    if (!c->paused)
        return;
    c->paused = false;
    ac__conn_arm_recv(c);
}

void ac_tcp_read_pause(ac_tcp_conn *c)
{
    if (c->user_paused)
        return;
    c->user_paused = true;
    cancel_recv(c);
}

void ac_tcp_read_resume(ac_tcp_conn *c)
{
    if (!c->user_paused)
        return;
    c->user_paused = false;
    ac__conn_arm_recv(c);
}

static void free_conn(struct ac_tcp_conn *c)
{
    struct ac_net *net = c->net;
    ac__send_fail_all(c, -ECANCELED);
    if (c->close_cb)
        c->close_cb(c->close_arg, c);
    LIST_REMOVE(c, link);
    net->stats.conns_open--;
    net->stats.closed[c->cause]++;
    if (c->server)
        c->server->nconns--;
    free(c->vec);
    free(c);
    ac__net_handle_gone(net);
}

static void close_complete(struct ac_op *op, int res, uint32_t flags)
{
    (void)res;
    (void)flags;
    free_conn(AC_CONTAINER_OF(op, struct ac_tcp_conn, aux_op));
}

static void close_retry(struct ac_timer *t, void *arg)
{
    (void)t;
    free_conn(arg);
}

void ac__conn_op_done(struct ac_tcp_conn *c)
{
    AC_ASSERT(c->inflight > 0);
    if (--c->inflight || c->state != AC_CONN_CLOSING)
        return;
    c->state = AC_CONN_CLOSED;
    c->aux_op = (struct ac_op){.complete = close_complete, .kind = AC_OP_CLOSE, .fd = c->fd};
    if (ac_ring_submit(c->net->ring, &c->aux_op) == 0)
        return;
    /* No SQE: close directly and free on the next turn (never synchronously,
     * see the file comment). */
    close(c->fd);
    if (ac_timer_start(&c->idle, 0, close_retry, c) != 0)
        AC_PANIC("net: cannot finish closing a connection");
}

void ac_tcp_close(ac_tcp_conn *c, ac_tcp_close_fn cb, void *arg)
{
    AC_ASSERT(c->state == AC_CONN_OPEN);
    c->state = AC_CONN_CLOSING;
    c->reading = false;
    c->close_cb = cb;
    c->close_arg = arg;
    ac__net_unpark(c->net, c);
    if (ac_timer_armed(&c->idle))
        ac_timer_cancel(&c->idle);
    /* One in-flight count for the close itself keeps op_done from finishing
     * before the cancel is queued. */
    c->inflight++;
    /* A send stuck on a full socket buffer is not always found by the
     * cancel (seen on 6.18 with a partially sent buffer); shutting the
     * socket down ends it with an error either way. One syscall, only
     * when a send is out. */
    if (c->send_busy)
        shutdown(c->fd, SHUT_RDWR);
    if (c->cancel_busy) {
        c->cancel_again = true;
    } else if (c->inflight > 1) {
        c->cancel_op.kind = AC_OP_CANCEL_FD;
        if (ac__conn_submit(c, &c->cancel_op) == 0)
            c->cancel_busy = true;
    }
    ac__conn_op_done(c);
}

static void idle_check(struct ac_timer *t, void *arg)
{
    (void)t;
    struct ac_tcp_conn *c = arg;
    uint64_t due = c->last_rx_ns + c->idle_ns, now = ac_now_ns();
    if (now < due) {
        if (ac_timer_start_at(&c->idle, due, idle_check, c) == 0)
            return;
    }
    c->net->stats.idle_timeouts++;
    if (c->cause == AC_CLOSE_LOCAL)
        c->cause = AC_CLOSE_IDLE;
    if (c->reading) {
        c->reading = false;
        c->read_cb(c->read_arg, c, -ETIMEDOUT, NULL);
    }
    if (c->state == AC_CONN_OPEN)
        ac_tcp_close(c, c->close_cb, c->close_arg);
}

void ac_tcp_set_idle_timeout(ac_tcp_conn *c, uint64_t ns)
{
    c->idle_ns = ns;
    if (ac_timer_armed(&c->idle))
        ac_timer_cancel(&c->idle);
    if (ns == 0 || c->state != AC_CONN_OPEN)
        return;
    /* Restarted lazily: a receive only stamps last_rx_ns, and the timer
     * re-arms itself for the remainder when it finds recent traffic. */
    c->last_rx_ns = ac_now_ns();
    if (ac_timer_start(&c->idle, ns, idle_check, c) != 0)
        c->idle_ns = 0;
}

bool ac_tcp_is_closing(const ac_tcp_conn *c)
{
    return c->state != AC_CONN_OPEN;
}

size_t ac_tcp_queued(const ac_tcp_conn *c)
{
    return c->queued;
}

void ac_tcp_set_data(ac_tcp_conn *c, void *data)
{
    c->data = data;
}

void *ac_tcp_data(const ac_tcp_conn *c)
{
    return c->data;
}

ac_net *ac_tcp_net(const ac_tcp_conn *c)
{
    return c->net;
}
