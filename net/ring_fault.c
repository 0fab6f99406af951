/*
 * Fault injection at the ring (agentcore/fault.h; AC_FAULTS builds only).
 *
 * Both hooks sit in ring.c's backend-independent functions (ac_ring_submit,
 * ac_ring_enter, ac_ring_dispatch), so the io_uring and the epoll backend
 * get the same faults; completions go through ac__ring_complete as the
 * backends' own do.
 *
 * Faithful failures only: an operation chosen to fail is never handed to
 * the backend (the kernel) at all, so nothing happened that its error would
 * hide — no bytes taken from a socket, none sent — and it completes once,
 * as a final CQE without flags, on the ring's next dispatch. That is what
 * the kernel does when it fails an operation, multishot ones included.
 * Short sends shrink what the send is offered before it is prepared, so
 * the kernel really sends fewer bytes. Accept, receive, send and connect
 * kinds are chosen; cancels, closes and shutdowns never (their failure is
 * not a state the kernel produces for a valid request).
 */
#include "internal.h"

#ifdef AC_FAULTS

#include "agentcore/fault.h"

#include <errno.h>
#include <string.h>

static bool is_recv(unsigned kind)
{
    return kind == AC_OP_RECV || kind == AC_OP_RECV_MULTI;
}

static bool is_send(unsigned kind)
{
    return kind == AC_OP_SEND || kind == AC_OP_SENDMSG || kind == AC_OP_SEND_ZC;
}

static int pick_error(unsigned kind)
{
    if (is_recv(kind) && ac_fault_hit(AC_FAULT_NOBUFS))
        return -ENOBUFS;
    bool io = is_recv(kind) || is_send(kind) || kind == AC_OP_ACCEPT ||
              kind == AC_OP_ACCEPT_MULTI || kind == AC_OP_CONNECT;
    if (!io || !ac_fault_hit(AC_FAULT_IO))
        return 0;
    static const int errs[] = {-ENOMEM, -ECANCELED, -ECONNRESET, -EAGAIN};
    return errs[ac_fault_pick(AC_ARRAY_LEN(errs))];
}

bool ac__ring_fault_submit(struct ac_ring *r, struct ac_op *op)
{
    if ((op->kind == AC_OP_SEND || op->kind == AC_OP_SEND_ZC) && op->u.send.len > 1 &&
        ac_fault_hit(AC_FAULT_SHORT_SEND))
        op->u.send.len = 1 + ac_fault_pick(op->u.send.len - 1);
    if (r->fault_n == AC_ARRAY_LEN(r->fault_q))
        return false;
    int err = pick_error(op->kind);
    if (!err)
        return false;
    r->fault_q[r->fault_n].op = op;
    r->fault_q[r->fault_n].res = err;
    r->fault_n++;
    return true;
}

unsigned ac__ring_fault_dispatch(struct ac_ring *r)
{
    /* Completions may submit (and fail) again: those wait for the next round. */
    unsigned n = r->fault_n;
    struct ac__ring_fault q[AC_ARRAY_LEN(r->fault_q)];
    memcpy(q, r->fault_q, n * sizeof q[0]);
    r->fault_n = 0;
    for (unsigned i = 0; i < n; i++)
        ac__ring_complete(r, q[i].op, q[i].res, 0);
    return n;
}

#endif
