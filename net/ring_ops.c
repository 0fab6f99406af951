/*
 * The operation table: the one place where an ac_op becomes an SQE.
 * Adding an operation kind means one enum entry in ring.h and one row here.
 */
#include "internal.h"

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

const struct ac_op_desc ac__op_table[AC_OP_KIND_COUNT] = {
    [AC_OP_NOP] = {.name = "nop", .opcode = IORING_OP_NOP, .prep = prep_nop},
    [AC_OP_READ] = {.name = "read", .opcode = IORING_OP_READ, .prep = prep_read},
    [AC_OP_WRITE] = {.name = "write", .opcode = IORING_OP_WRITE, .prep = prep_write},
    [AC_OP_CANCEL] = {.name = "cancel", .opcode = IORING_OP_ASYNC_CANCEL, .prep = prep_cancel},
    [AC_OP_CLOSE] = {.name = "close", .opcode = IORING_OP_CLOSE, .prep = prep_close},
};

const char *ac_op_kind_name(unsigned kind)
{
    return kind < AC_OP_KIND_COUNT ? ac__op_table[kind].name : "?";
}
