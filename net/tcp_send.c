/*
 * A connection's output queue.
 *
 * Writes queue in order; at most one send is in the kernel per connection,
 * carrying everything queued when it was issued (up to AC_SEND_IOV_MAX
 * buffers through one SENDMSG), so a burst of small writes costs one SQE.
 * A partial send consumes what the kernel took and the rest goes out in
 * the next one.
 *
 * A single buffer of at least zc_threshold bytes goes out with SEND_ZC: a
 * result CQE (F_MORE) and later a notification CQE (F_NOTIF) once the
 * kernel no longer reads the pages — only then is the buffer released.
 * When the notification says the kernel copied anyway (loopback always
 * does), zero-copy only added work, so the connection switches to plain
 * sends and counts it.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

static void send_complete(struct ac_op *op, int res, uint32_t flags);
static void shutdown_complete(struct ac_op *op, int res, uint32_t flags);

static void wreq_finish(struct ac_tcp_conn *c, struct ac__wreq *w, int res)
{
    if (w->cb)
        w->cb(w->arg, c, res);
    if (w->slice.io.group)
        ac_slice_release(&w->slice);
    ac__wreq_put(c->net, w);
}

static struct ac__wreq *pop(struct ac_tcp_conn *c)
{
    struct ac__wreq *w = STAILQ_FIRST(&c->wq);
    STAILQ_REMOVE_HEAD(&c->wq, link);
    c->queued -= w->len - w->sent;
    return w;
}

void ac__send_fail_all(struct ac_tcp_conn *c, int res)
{
    while (!STAILQ_EMPTY(&c->wq))
        wreq_finish(c, pop(c), res);
}

static int enqueue(struct ac_tcp_conn *c, const void *buf, size_t len, ac_tcp_write_fn cb,
                   void *arg, const struct ac_slice *slice)
{
    if (c->state != AC_CONN_OPEN || c->shut_wanted)
        return -ENOTCONN;
    if (len > UINT32_MAX)
        return -EINVAL;
    struct ac__wreq *w = ac__wreq_get(c->net);
    if (!w)
        return -ENOMEM;
    *w = (struct ac__wreq){.buf = buf, .len = (uint32_t)len, .cb = cb, .arg = arg};
    if (slice) {
        w->slice = *slice;
        ac_slice_hold(slice);
    }
    STAILQ_INSERT_TAIL(&c->wq, w, link);
    c->queued += len;
    if (c->queued > c->net->cfg.high_water)
        ac__conn_pause(c);
    ac__send_flush(c);
    return 0;
}

int ac_tcp_write(ac_tcp_conn *c, const void *buf, size_t len, ac_tcp_write_fn cb, void *arg)
{
    return enqueue(c, buf, len, cb, arg, NULL);
}

int ac_tcp_write_slice(ac_tcp_conn *c, const struct ac_slice *s)
{
    return enqueue(c, s->data, s->len, NULL, NULL, s);
}

static void submit_shutdown(struct ac_tcp_conn *c)
{
    c->shut_sent = true;
    c->aux_op = (struct ac_op){.complete = shutdown_complete, .kind = AC_OP_SHUTDOWN, .fd = c->fd};
    c->aux_op.u.shutdown.how = SHUT_WR;
    if (ac__conn_submit(c, &c->aux_op) != 0)
        shutdown(c->fd, SHUT_WR); /* no SQE: the same effect, one syscall */
}

int ac_tcp_shutdown(ac_tcp_conn *c)
{
    if (c->state != AC_CONN_OPEN)
        return -ENOTCONN;
    if (c->shut_wanted)
        return 0;
    c->shut_wanted = true;
    if (!c->send_busy && STAILQ_EMPTY(&c->wq))
        submit_shutdown(c);
    return 0;
}

static void shutdown_complete(struct ac_op *op, int res, uint32_t flags)
{
    (void)res;
    (void)flags;
    ac__conn_op_done(AC_CONTAINER_OF(op, struct ac_tcp_conn, aux_op));
}

/* Plain send of one buffer, SEND_ZC when large enough, SENDMSG for several. */
static void prepare(struct ac_tcp_conn *c, struct ac_op *op)
{
    struct ac_net *net = c->net;
    struct ac__wreq *w = STAILQ_FIRST(&c->wq);

    if (!STAILQ_NEXT(w, link)) {
        const char *p = w->buf + w->sent;
        uint32_t n = w->len - w->sent;
        op->u.send.buf = p;
        op->u.send.len = n;
        op->u.send.fixed_index = -1;
        op->kind = AC_OP_SEND;
        if (net->cfg.zc_threshold && n >= net->cfg.zc_threshold && !c->zc_off) {
            op->kind = AC_OP_SEND_ZC;
            op->u.send.fixed_index = ac__bufpool_fixed_index(&net->pool, p, n);
        }
        return;
    }
    struct ac__sendvec *v = c->vec;
    unsigned n = 0;
    for (; w && n < AC_SEND_IOV_MAX; w = STAILQ_NEXT(w, link), n++) {
        v->iov[n].iov_base = (void *)(w->buf + w->sent);
        v->iov[n].iov_len = w->len - w->sent;
    }
    v->msg = (struct msghdr){.msg_iov = v->iov, .msg_iovlen = n};
    op->kind = AC_OP_SENDMSG;
    op->u.send.msg = &v->msg;
}

void ac__send_flush(struct ac_tcp_conn *c)
{
    struct ac_net *net = c->net;
    struct ac_op *op = &c->send_op;

    if (c->send_busy || STAILQ_EMPTY(&c->wq) || c->state != AC_CONN_OPEN)
        return;
    if (STAILQ_NEXT(STAILQ_FIRST(&c->wq), link) && !c->vec) {
        c->vec = malloc(sizeof *c->vec);
        if (!c->vec) {
            ac__send_fail_all(c, -ENOMEM);
            return;
        }
    }
    *op = (struct ac_op){.complete = send_complete, .fd = c->fd};
    prepare(c, op);
    int err = ac__conn_submit(c, op);
    if (err == -EOPNOTSUPP && op->kind == AC_OP_SEND_ZC) {
        c->zc_off = true;
        op->kind = AC_OP_SEND;
        err = ac__conn_submit(c, op);
    }
    if (err) {
        ac__send_fail_all(c, err);
        return;
    }
    c->send_busy = true;
    net->stats.sends++;
    if (op->kind == AC_OP_SENDMSG)
        net->stats.sends_vectored++;
    else if (op->kind == AC_OP_SEND_ZC)
        net->stats.zc_sends++;
}

/* Marks `n` sent bytes done, completing the writes they finish. */
static void consume(struct ac_tcp_conn *c, uint32_t n)
{
    struct ac__wreq *w;
    while ((w = STAILQ_FIRST(&c->wq))) {
        uint32_t take = w->len - w->sent < n ? w->len - w->sent : n;
        w->sent += take;
        c->queued -= take;
        n -= take;
        if (w->sent < w->len)
            break;
        wreq_finish(c, pop(c), 0);
    }
}

static void send_complete(struct ac_op *op, int res, uint32_t flags)
{
    struct ac_tcp_conn *c = AC_CONTAINER_OF(op, struct ac_tcp_conn, send_op);
    struct ac_net *net = c->net;

    if (op->kind == AC_OP_SEND_ZC) {
        if (!(flags & IORING_CQE_F_NOTIF)) {
            c->zc_res = res;
            if (flags & IORING_CQE_F_MORE)
                return; /* the buffer is the kernel's until the notification */
        } else {
            if ((uint32_t)res & IORING_NOTIF_USAGE_ZC_COPIED) {
                net->stats.zc_copied++;
                if (!net->cfg.zc_no_adapt && !c->zc_off) {
                    c->zc_off = true;
                    net->stats.zc_fallbacks++;
                }
            }
            res = c->zc_res;
        }
    }
    if (res >= 0) {
        uint32_t offered = op->kind == AC_OP_SENDMSG ? 0 : op->u.send.len;
        if (op->kind == AC_OP_SENDMSG)
            for (size_t i = 0; i < c->vec->msg.msg_iovlen; i++)
                offered += (uint32_t)c->vec->iov[i].iov_len;
        if ((uint32_t)res < offered)
            net->stats.sends_partial++;
        net->stats.bytes_out += (uint64_t)res;
        consume(c, (uint32_t)res); /* still busy: callbacks that write only queue */
    } else if ((res == -EAGAIN || res == -EINTR) && c->state == AC_CONN_OPEN) {
        /* Nothing sent. io_uring normally waits for room itself, but a send
         * completed from its worker on a non-blocking socket may report
         * -EAGAIN: the writes stay queued and go out again below, never
         * failed (failing them lost echoed bytes under load). */
    } else {
        /* After a close the error is the close's doing (rule 5). */
        if (c->state == AC_CONN_OPEN && c->cause == AC_CLOSE_LOCAL)
            c->cause = AC_CLOSE_ERROR;
        ac__send_fail_all(c, c->state == AC_CONN_OPEN ? res : -ECANCELED);
    }
    c->send_busy = false;
    if (c->state == AC_CONN_OPEN) {
        if (c->paused && c->queued <= net->cfg.high_water / 2)
            ac__conn_resume(c);
        if (!STAILQ_EMPTY(&c->wq))
            ac__send_flush(c);
        else if (c->shut_wanted && !c->shut_sent)
            submit_shutdown(c);
        else if (c->drain_close)
            ac__net_stop_conn(c);
    }
    ac__conn_op_done(c);
}
