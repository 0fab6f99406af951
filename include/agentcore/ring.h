/*
 * agentcore/ring.h — the I/O seam (part of the net module).
 *
 * Every operation the project submits goes through here, described by a
 * struct ac_op of one of the kinds below, and every completion is
 * dispatched here to that operation's callback. Callers embed a struct
 * ac_op in their own object (a connection, a timer, a wake-up), fill the
 * arguments of its kind and submit it; its `complete` callback runs on the
 * ring's thread for every completion the operation produces (several for
 * multishot kinds, flagged with IORING_CQE_F_MORE until the last).
 *
 * Two backends perform the operations with the same completion semantics
 * (results, flags, provided buffers, cancellation): io_uring, and epoll
 * for hosts that forbid io_uring (seccomp profiles, the
 * kernel.io_uring_disabled sysctl, old kernels). The completion flags are
 * io_uring's vocabulary on both (IORING_CQE_F_MORE, _F_BUFFER with the
 * buffer id, _F_NOTIF). Code above the seam never asks which backend it
 * runs on; it asks ac_ring_supports() for an operation kind. The epoll
 * backend has no SEND_ZC, SQPOLL or kernel-shared buffer rings: it reports
 * them off and receives into the same pooled buffers itself.
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
    uint8_t sqe_flags; /* IOSQE_* for the submission (io_uring backend only) */
    uint8_t be_state;  /* private: the backend's bookkeeping */
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
    struct ac_op *be_next; /* private: the backend's bookkeeping */
};

/* user_data values that name no operation (pointers are never this small). */
#define AC_RING_UD_WAKE   1u /* a wake-up posted by another ring's MSG_RING */
#define AC_RING_UD_IGNORE 2u /* sender side of a wake-up; success CQE skipped */

/* Which backend performs the operations. */
enum ac_ring_backend {
    AC_RING_BACKEND_AUTO,     /* AC_BACKEND from the environment, else io_uring, else epoll */
    AC_RING_BACKEND_IO_URING, /* io_uring only: creation fails where it is blocked */
    AC_RING_BACKEND_EPOLL,    /* epoll (+ eventfd wake-ups), everywhere */
};

struct ac_ring_config {
    enum ac_ring_backend backend; /* default AUTO */
    unsigned entries;             /* SQ size (power of two; default 256) */
    bool sqpoll;                  /* kernel SQ polling thread */
    unsigned sqpoll_idle_ms;      /* its idle time before sleeping (default 100) */
    int sqpoll_cpu;               /* pin it there; -1: not pinned */
    bool no_defer_taskrun;        /* refuse DEFER_TASKRUN even if the kernel has it */
    bool multi_thread;            /* several threads submit (under the caller's lock):
                                     no SINGLE_ISSUER, no DEFER_TASKRUN, no SQPOLL */
};

/* What the kernel gave us, probed once at ring creation (all off on epoll). */
struct ac_ring_features {
    enum ac_ring_backend backend; /* IO_URING or EPOLL: the one in use */
    uint32_t setup_flags;         /* IORING_SETUP_* in effect */
    bool single_issuer, defer_taskrun, coop_taskrun, sqpoll, registered_fd;
    bool ext_arg;  /* timeout in the same io_uring_enter as the wait */
    bool msg_ring; /* IORING_OP_MSG_RING (cross-ring wake-ups) */
    bool op[64];   /* op[IORING_OP_x]: the kernel supports opcode x */
};

/*
 * Creates a ring on the calling thread (that thread becomes its only
 * issuer) with the backend cfg->backend names. io_uring setup flags are
 * tried from the most to the least capable: SINGLE_ISSUER|DEFER_TASKRUN,
 * then COOP_TASKRUN, then none (or SQPOLL variants when cfg->sqpoll).
 * AUTO takes AC_BACKEND from the environment ("epoll", "io_uring",
 * "auto"), else io_uring, else — silently; callers that want the cause
 * use ac_uring_probe() — epoll. Returns 0 and *out, or -errno (io_uring:
 * -ENOSYS when the kernel has no io_uring, -EPERM when it is disabled,
 * -EOPNOTSUPP when it lacks an operation the seam needs).
 */
AC_MUST_USE int ac_ring_create(const struct ac_ring_config *cfg, struct ac_ring **out);

/* Closes the ring; in-flight operations are dropped without callbacks. */
void ac_ring_destroy(struct ac_ring *r);

/* The ring's wake-up target: the io_uring fd (for IORING_OP_MSG_RING) or
 * the epoll backend's eventfd. Any thread. */
int ac_ring_fd(const struct ac_ring *r);

/* The probed features. */
const struct ac_ring_features *ac_ring_features(const struct ac_ring *r);

/* Writes one line describing the features (for the start-up log). */
void ac_ring_describe(const struct ac_ring *r, char *buf, size_t len);

/* The underlying liburing ring, for net internals that need raw access;
 * NULL on the epoll backend. */
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
 * Queues a wake-up for ring `target_fd` (ac_ring_fd of a ring of the same
 * backend): its next ac_ring_enter returns and counts one wake-up.
 * Returns 0 or -EBUSY (SQ full). The epoll backend sends it at once.
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

/* "auto", "io_uring" or "epoll". */
const char *ac_ring_backend_name(enum ac_ring_backend b);

/* Parses "auto", "io_uring" (or "uring") and "epoll". 0 or -EINVAL. */
AC_MUST_USE int ac_ring_backend_parse(const char *s, enum ac_ring_backend *out);

/*
 * `b` with the test override applied: when b is AUTO and AC_BACKEND is set
 * in the environment to a valid name, that backend; else b.
 */
enum ac_ring_backend ac_ring_backend_from_env(enum ac_ring_backend b);

/*
 * What io_uring on this host allows, found by creating (and destroying) a
 * throw-away ring. Why: hosts refuse io_uring for several reasons, and
 * the fix differs for each; the runtime's fallback and `agentd
 * --capabilities` name the one found.
 */
struct ac_uring_probe {
    int setup_err;         /* 0, or -errno of io_uring_setup */
    int sysctl_disabled;   /* /proc/sys/kernel/io_uring_disabled, -1: absent */
    bool seccomp_filtered; /* /proc/self/status says Seccomp: 2 */
    bool usable;           /* every operation the seam needs is there */
    const char *cause;     /* why not usable: "seccomp", "sysctl", "old kernel",
                              "missing opcode", "setup failed"; NULL if usable */
    char detail[160];      /* one line: the cause with its evidence and the fix */
    uint32_t setup_flags;  /* IORING_SETUP_* accepted (the most capable set) */
    bool sqpoll;           /* an SQPOLL ring could be made (probed when asked) */
    bool buf_ring;         /* provided-buffer rings (5.19) */
    bool buf_ring_inc;     /* incremental consumption (6.12) */
    bool registered_fd;    /* ring fd registration */
    bool op[64];           /* op[IORING_OP_x] */
    unsigned nops;         /* opcodes the kernel reports */
};

/*
 * Fills *out (never fails: what could not be probed reads as absent).
 * with_sqpoll also tries an SQPOLL ring (a kernel thread for a moment).
 * Any thread; the throw-away rings live on a short-lived thread of their own.
 */
void ac_uring_probe(struct ac_uring_probe *out, bool with_sqpoll);

#ifdef __cplusplus
}
#endif
#endif
