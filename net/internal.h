/* net module private declarations. */
#ifndef AC_NET_INTERNAL_H
#define AC_NET_INTERNAL_H

#include "agentcore/ring.h"

#include <liburing.h>

struct ac_ring {
    struct io_uring uring;
    struct ac_ring_features feat;
    struct ac_ring_stats stats;
    void (*after_cb)(void *arg, const char *what);
    void *after_cb_arg;
};

/* One row per enum ac_op_kind: how to prepare its SQE, and its name. */
struct ac_op_desc {
    const char *name;
    uint8_t opcode; /* IORING_OP_* it needs (checked against the probe) */
    void (*prep)(struct io_uring_sqe *sqe, const struct ac_op *op);
};

extern const struct ac_op_desc ac__op_table[AC_OP_KIND_COUNT];

#endif
