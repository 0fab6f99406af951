/*
 * Client connections: an io_uring CONNECT on a fresh socket, bounded by a
 * timer that cancels it. The connection object exists from the start (so
 * ac_net_stop can cancel a connect in progress) but reaches the caller
 * only once connected; from there it is an ordinary ac_tcp_conn.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct connect_req {
    struct sockaddr_storage addr; /* must outlive the SQE */
    socklen_t len;
    ac_tcp_connect_fn cb;
    void *arg;
    struct ac_timer timer;
    bool timed_out;
};

static void connect_timeout(struct ac_timer *t, void *arg)
{
    struct ac_tcp_conn *c = arg;
    struct connect_req *req = AC_CONTAINER_OF(t, struct connect_req, timer);
    req->timed_out = true;
    if (c->cancel_busy || c->state != AC_CONN_OPEN)
        return;
    c->cancel_op.kind = AC_OP_CANCEL;
    c->cancel_op.u.cancel.target = &c->aux_op;
    if (ac__conn_submit(c, &c->cancel_op) == 0)
        c->cancel_busy = true;
}

static void connect_complete(struct ac_op *op, int res, uint32_t flags)
{
    (void)flags;
    struct ac_tcp_conn *c = AC_CONTAINER_OF(op, struct ac_tcp_conn, aux_op);
    struct connect_req *req = c->data;
    ac_tcp_connect_fn cb = req->cb;
    void *arg = req->arg;

    if (ac_timer_armed(&req->timer))
        ac_timer_cancel(&req->timer);
    if (res == -ECANCELED && req->timed_out)
        res = -ETIMEDOUT;
    c->data = NULL;
    free(req);
    bool open = c->state == AC_CONN_OPEN;
    ac__conn_op_done(c);
    if (res == 0 && open) {
        cb(arg, c, 0);
        return;
    }
    if (open)
        ac_tcp_close(c, NULL, NULL);
    cb(arg, NULL, res ? res : -ECANCELED);
}

int ac_tcp_connect(ac_net *net, const struct sockaddr *addr, socklen_t len, uint64_t timeout_ns,
                   ac_tcp_connect_fn cb, void *arg)
{
    struct ac_tcp_conn *c;
    int err;

    if (len > sizeof(struct sockaddr_storage))
        return -EINVAL;
    struct connect_req *req = calloc(1, sizeof *req);
    if (!req)
        return -ENOMEM;
    memcpy(&req->addr, addr, len);
    req->len = len;
    req->cb = cb;
    req->arg = arg;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        err = -errno;
        goto out_free;
    }
    err = ac__conn_new(net, fd, NULL, &c);
    if (err) {
        close(fd);
        goto out_free;
    }
    c->data = req;
    c->aux_op = (struct ac_op){.complete = connect_complete, .kind = AC_OP_CONNECT, .fd = fd};
    c->aux_op.u.connect.addr = (const struct sockaddr *)&req->addr;
    c->aux_op.u.connect.len = len;
    err = ac__conn_submit(c, &c->aux_op);
    if (err) {
        /* Nothing in flight: the close frees c (from its completion). */
        c->data = NULL;
        ac_tcp_close(c, NULL, NULL);
        goto out_free;
    }
    if (timeout_ns && ac_timer_start(&req->timer, timeout_ns, connect_timeout, c) != 0)
        ac_log_warn("net: connect timeout not armed (no timer wheel on this thread)");
    return 0;

out_free:
    free(req);
    return err;
}
