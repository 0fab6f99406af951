/*
 * agentcore/ring.h — the io_uring seam (part of the net module).
 *
 * Every SQE the project submits is prepared here, from a const table of
 * operation kinds, and every CQE is dispatched here to the operation
 * object its user_data names. Callers embed a struct ac_op in their own
 * object (a connection, a timer, a wake-up), fill the arguments of its
 * kind and submit it; its `complete` callback runs on the ring's thread
 * for every CQE the operation produces (several for multishot kinds,
 * flagged with IORING_CQE_F_MORE until the last).
 *
 * Ownership: an ac_op must stay valid until its last CQE (one without
 * IORING_CQE_F_MORE) has been dispatched. A ring is used by one thread
 * only (its shard); only ac_ring_fd() may be read by others.
 */
#ifndef AGENTCORE_RING_H
#define AGENTCORE_RING_H

#include "agentcore/base.h"

#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

struct io_uring;
struct ac_ring;
struct ac_op;

/* Called once per CQE; `res` is cqe->res (≥ 0 or -errno), `flags` cqe->flags. */
typedef void (*ac_op_complete_fn)(struct ac_op *op, int res, uint32_t flags);

enum ac_op_kind {
    AC_OP_NOP,
    AC_OP_READ,   /* fd, rw.buf, rw.len, rw.off */
    AC_OP_WRITE,  /* fd, rw.buf, rw.len, rw.off */
    AC_OP_CANCEL, /* cancel.target: the op to cancel */
    AC_OP_CLOSE,  /* fd */
    /* TCP (net/tcp_*.c). Multishot kinds use the same opcode as their
     * single-shot row; the kernel reports a missing multishot mode only at
     * completion (-EINVAL), so they can also be masked (ac_ring_mask_kinds). */
    AC_OP_ACCEPT,       /* fd: listening socket; one connection */
    AC_OP_ACCEPT_MULTI, /* fd: listening socket; a CQE per connection */
    AC_OP_RECV,         /* fd, recv.bgid: one buffer from the provided ring */
    AC_OP_RECV_MULTI,   /* fd, recv.bgid: a CQE per buffer, until it ends */
    AC_OP_SEND,         /* fd, send.buf, send.len */
    AC_OP_SENDMSG,      /* fd, send.msg (vectored) */
    AC_OP_SEND_ZC,      /* fd, send.buf, send.len, send.fixed_index (-1: none);
                           a result CQE with F_MORE, then a notification */
    AC_OP_CONNECT,      /* fd, connect.addr, connect.len */
    AC_OP_SHUTDOWN,     /* fd, shutdown.how */
    AC_OP_CANCEL_FD,    /* fd: cancel every operation on it */
    AC_OP_KIND_COUNT
};

struct ac_op {
    ac_op_complete_fn complete;
    uint8_t kind;      /* enum ac_op_kind */
    uint8_t sqe_flags; /* IOSQE_* for the submission */
    int fd;
    union {
        struct {
            void *buf;
            uint32_t len;
            uint64_t off;
        } rw;
        struct {
            struct ac_op *target;
        } cancel;
        struct {
            uint16_t bgid; /* provided-buffer group */
        } recv;
        struct {
            const void *buf;
            uint32_t len;
            int32_t fixed_index; /* registered buffer for SEND_ZC, or -1 */
            const struct msghdr *msg;
        } send;
        struct {
            const struct sockaddr *addr;
            socklen_t len;
        } connect;
        struct {
            int how;
        } shutdown;
    } u;
};

/* user_data values that name no operation (pointers are never this small). */
#define AC_RING_UD_WAKE   1u /* a wake-up posted by another ring's MSG_RING */
#define AC_RING_UD_IGNORE 2u /* sender side of a wake-up; success CQE skipped */

struct ac_ring_config {
    unsigned entries;        /* SQ size (power of two; default 256) */
    bool sqpoll;             /* kernel SQ polling thread */
    unsigned sqpoll_idle_ms; /* its idle time before sleeping (default 100) */
    int sqpoll_cpu;          /* pin it there; -1: not pinned */
    bool no_defer_taskrun;   /* refuse DEFER_TASKRUN even if the kernel has it */
    bool multi_thread;       /* several threads submit (under the caller's lock):
                                no SINGLE_ISSUER, no DEFER_TASKRUN, no SQPOLL */
};

/* What the kernel gave us, probed once at ring creation. */
struct ac_ring_features {
    uint32_t setup_flags; /* IORING_SETUP_* in effect */
    bool single_issuer, defer_taskrun, coop_taskrun, sqpoll, registered_fd;
    bool ext_arg;  /* timeout in the same io_uring_enter as the wait */
    bool msg_ring; /* IORING_OP_MSG_RING (cross-ring wake-ups) */
    bool op[64];   /* op[IORING_OP_x]: the kernel supports opcode x */
};

/*
 * Creates a ring on the calling thread (that thread becomes its only
 * issuer). Setup flags are tried from the most to the least capable:
 * SINGLE_ISSUER|DEFER_TASKRUN, then COOP_TASKRUN, then none (or SQPOLL
 * variants when cfg->sqpoll). Returns 0 and *out, or -errno (-ENOSYS when
 * the kernel has no io_uring, -EPERM when it is disabled).
 */
AC_MUST_USE int ac_ring_create(const struct ac_ring_config *cfg, struct ac_ring **out);

/* Closes the ring; in-flight operations are dropped without callbacks. */
void ac_ring_destroy(struct ac_ring *r);

/* The ring's file descriptor (target of IORING_OP_MSG_RING). Any thread. */
int ac_ring_fd(const struct ac_ring *r);

/* The probed features. */
const struct ac_ring_features *ac_ring_features(const struct ac_ring *r);

/* Writes one line describing the features (for the start-up log). */
void ac_ring_describe(const struct ac_ring *r, char *buf, size_t len);

/* The underlying liburing ring, for net internals that need raw access. */
struct io_uring *ac_ring_raw(struct ac_ring *r);

/*
 * Marks operation kinds unsupported, as if the probe had not found them:
 * bit k of `kinds` masks kind k (1ull << AC_OP_RECV_MULTI, ...). Used by
 * config to exercise fallbacks and to steer around a kernel bug. Owning
 * thread only.
 */
void ac_ring_mask_kinds(struct ac_ring *r, uint64_t kinds);

/* True when ac_ring_submit accepts kind `kind` on this ring. */
bool ac_ring_supports(const struct ac_ring *r, unsigned kind);

/*
 * The calling thread's ring, set by its owner (the runtime sets each
 * shard's ring at start; NULL elsewhere). Lets net code reach the shard's
 * ring without pointing up the layers.
 */
void ac_ring_set_current(struct ac_ring *r);
struct ac_ring *ac_ring_current(void);

/*
 * Queues `op` (prepared from the table for op->kind). Nothing reaches the
 * kernel until the next ac_ring_enter(). Returns 0, -EOPNOTSUPP when the
 * kernel lacks the opcode, or -EBUSY when the SQ is full even after
 * flushing it. On failure the callback is never called.
 */
AC_MUST_USE int ac_ring_submit(struct ac_ring *r, struct ac_op *op);

/*
 * Queues a wake-up for ring `target_fd`: it receives one CQE with
 * user_data AC_RING_UD_WAKE. Returns 0 or -EBUSY (SQ full).
 */
AC_MUST_USE int ac_ring_submit_wake(struct ac_ring *r, int target_fd);

/*
 * One io_uring_enter: submits everything queued and waits until at least
 * one CQE is ready or `timeout_ns` has passed (0: do not wait,
 * UINT64_MAX: no timeout). Returns 0 or -errno (-EINTR/-ETIME are not
 * errors and return 0).
 */
int ac_ring_enter(struct ac_ring *r, uint64_t timeout_ns);

/* Counters the ring keeps (plain, read by runtime metrics). */
struct ac_ring_stats {
    uint64_t enters;      /* io_uring_enter calls */
    uint64_t submitted;   /* SQEs submitted */
    uint64_t completions; /* CQEs dispatched */
    uint64_t wakeups;     /* AC_RING_UD_WAKE CQEs received */
    uint64_t sq_full;     /* SQE requests that found the SQ full (flushed early) */
    uint64_t cq_overflows; /* the kernel's CQ overflow count (read on copy) */
    uint64_t ops_inflight; /* operations submitted whose last CQE has not come */
};

/*
 * Per-callback hook: `after_cb(arg)` runs after each completion callback
 * (the runtime's stall detector). NULL disables.
 */
void ac_ring_set_callback_hook(struct ac_ring *r, void (*after_cb)(void *arg, const char *what),
                               void *arg);

/*
 * Dispatches every ready CQE to its operation's callback, in order.
 * Returns how many CQEs were dispatched. Wake-up CQEs are counted only.
 */
unsigned ac_ring_dispatch(struct ac_ring *r);

/* A copy of the ring's counters. */
void ac_ring_stats(const struct ac_ring *r, struct ac_ring_stats *out);

/* The name of an operation kind ("read", "cancel", ...). */
const char *ac_op_kind_name(unsigned kind);

#ifdef __cplusplus
}
#endif
#endif
