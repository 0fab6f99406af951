/*
 * The operation table: the one place where an ac_op becomes an SQE.
 * Adding an operation kind means one enum entry in ring.h and one row here.
 */
#include "internal.h"

#include <sys/socket.h>

static void prep_nop(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    (void)op;
    io_uring_prep_nop(sqe);
}

static void prep_read(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    io_uring_prep_read(sqe, op->fd, op->u.rw.buf, op->u.rw.len, op->u.rw.off);
}

static void prep_write(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    io_uring_prep_write(sqe, op->fd, op->u.rw.buf, op->u.rw.len, op->u.rw.off);
}

static void prep_cancel(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    io_uring_prep_cancel(sqe, op->u.cancel.target, 0);
}

static void prep_close(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    io_uring_prep_close(sqe, op->fd);
}

/*
 * Accepted sockets are non-blocking: io_uring then waits for readiness by
 * poll, which a cancel can always end. On a blocking socket a send that
 * does not fit is handed to an io-wq worker that blocks in the kernel and
 * cannot be cancelled, so closing such a connection would hang.
 */
static void prep_accept(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    io_uring_prep_accept(sqe, op->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

static void prep_accept_multi(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    io_uring_prep_multishot_accept(sqe, op->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

/* Receives take no buffer: the kernel picks one from group recv.bgid. */
static void prep_recv(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    io_uring_prep_recv(sqe, op->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = op->u.recv.bgid;
}

static void prep_recv_multi(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    io_uring_prep_recv_multishot(sqe, op->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = op->u.recv.bgid;
}

/* MSG_NOSIGNAL: a peer that reset must be an -EPIPE result, not SIGPIPE. */
static void prep_send(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    io_uring_prep_send(sqe, op->fd, op->u.send.buf, op->u.send.len, MSG_NOSIGNAL);
}

static void prep_sendmsg(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    io_uring_prep_sendmsg(sqe, op->fd, op->u.send.msg, MSG_NOSIGNAL);
}

/* liburing 2.3 predates the usage report (kernel 6.2); same values as the uapi. */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif

static void prep_send_zc(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    if (op->u.send.fixed_index >= 0)
        io_uring_prep_send_zc_fixed(sqe, op->fd, op->u.send.buf, op->u.send.len, MSG_NOSIGNAL, 0,
                                    (unsigned)op->u.send.fixed_index);
    else
        io_uring_prep_send_zc(sqe, op->fd, op->u.send.buf, op->u.send.len, MSG_NOSIGNAL, 0);
    /* The notification then says whether the kernel copied after all. */
    sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
}

static void prep_connect(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    io_uring_prep_connect(sqe, op->fd, op->u.connect.addr, op->u.connect.len);
}

static void prep_shutdown(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    io_uring_prep_shutdown(sqe, op->fd, op->u.shutdown.how);
}

static void prep_cancel_fd(struct io_uring_sqe *sqe, const struct ac_op *op)
{
    io_uring_prep_cancel_fd(sqe, op->fd, IORING_ASYNC_CANCEL_ALL);
}

const struct ac_op_desc ac__op_table[AC_OP_KIND_COUNT] = {
    [AC_OP_NOP] = {.name = "nop", .opcode = IORING_OP_NOP, .prep = prep_nop},
    [AC_OP_READ] = {.name = "read", .opcode = IORING_OP_READ, .prep = prep_read},
    [AC_OP_WRITE] = {.name = "write", .opcode = IORING_OP_WRITE, .prep = prep_write},
    [AC_OP_CANCEL] = {.name = "cancel", .opcode = IORING_OP_ASYNC_CANCEL, .prep = prep_cancel},
    [AC_OP_CLOSE] = {.name = "close", .opcode = IORING_OP_CLOSE, .prep = prep_close},
    [AC_OP_ACCEPT] = {.name = "accept", .opcode = IORING_OP_ACCEPT, .prep = prep_accept},
    [AC_OP_ACCEPT_MULTI] = {.name = "accept_multi",
                            .opcode = IORING_OP_ACCEPT,
                            .prep = prep_accept_multi},
    [AC_OP_RECV] = {.name = "recv", .opcode = IORING_OP_RECV, .prep = prep_recv},
    [AC_OP_RECV_MULTI] = {.name = "recv_multi", .opcode = IORING_OP_RECV, .prep = prep_recv_multi},
    [AC_OP_SEND] = {.name = "send", .opcode = IORING_OP_SEND, .prep = prep_send},
    [AC_OP_SENDMSG] = {.name = "sendmsg", .opcode = IORING_OP_SENDMSG, .prep = prep_sendmsg},
    [AC_OP_SEND_ZC] = {.name = "send_zc", .opcode = IORING_OP_SEND_ZC, .prep = prep_send_zc},
    [AC_OP_CONNECT] = {.name = "connect", .opcode = IORING_OP_CONNECT, .prep = prep_connect},
    [AC_OP_SHUTDOWN] = {.name = "shutdown", .opcode = IORING_OP_SHUTDOWN, .prep = prep_shutdown},
    [AC_OP_CANCEL_FD] = {.name = "cancel_fd",
                         .opcode = IORING_OP_ASYNC_CANCEL,
                         .prep = prep_cancel_fd},
};

const char *ac_op_kind_name(unsigned kind)
{
    return kind < AC_OP_KIND_COUNT ? ac__op_table[kind].name : "?";
}
