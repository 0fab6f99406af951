/* net module private declarations. */
#ifndef AC_NET_INTERNAL_H
#define AC_NET_INTERNAL_H

#include <sys/queue.h> /* the one list facility (docs/ARCHITECTURE.md, "Lists") */
#include "agentcore/net.h"
#include "agentcore/ring.h"
#include "agentcore/timer.h"

#include <liburing.h>
#include <sys/uio.h>

/* ---- the seam: one const table of operations per backend ---- */

/*
 * A backend: how a ring is created, fed and reaped. ring.c (the public
 * ac_ring_* functions) forwards to the table of the ring's backend; no
 * other file switches on the backend. Completions reach callers through
 * ac__ring_complete on both.
 */
struct ac__backend {
    const char *name;
    /* Fills r's backend part, r->feat and r->kinds. 0 or -errno. */
    int (*create)(struct ac_ring *r, const struct ac_ring_config *cfg);
    void (*destroy)(struct ac_ring *r);
    int (*fd)(const struct ac_ring *r);
    void (*describe)(const struct ac_ring *r, char *buf, size_t len);
    int (*submit)(struct ac_ring *r, struct ac_op *op);
    int (*submit_wake)(struct ac_ring *r, int target_fd);
    int (*enter)(struct ac_ring *r, uint64_t timeout_ns);
    unsigned (*dispatch)(struct ac_ring *r);
    /* Optional: fills the counters only the backend knows (cq_overflows). */
    void (*stats)(const struct ac_ring *r, struct ac_ring_stats *out);
    /* Provided buffers: one group per ring, `count` buffers (a power of 2). */
    int (*pbuf_register)(struct ac_ring *r, uint16_t bgid, unsigned count, bool want_incremental,
                         bool *incremental);
    void (*pbuf_add)(struct ac_ring *r, void *addr, unsigned len, uint16_t bid);
    void (*pbuf_unregister)(struct ac_ring *r, uint16_t bgid);
    /* Registers [base, base+len) as fixed buffer 0. 0 or -errno. */
    int (*buffers_register)(struct ac_ring *r, void *base, size_t len);
    void (*buffers_unregister)(struct ac_ring *r);
};

extern const struct ac__backend ac__backend_uring; /* backend_uring.c */
extern const struct ac__backend ac__backend_epoll; /* backend_epoll.c */

/* The epoll backend's state (backend_epoll.c has the design comment). */
struct ac__epoll_fd;
struct ac__epoll_cqe {
    struct ac_op *op; /* NULL: a wake-up */
    int res;
    uint32_t flags;
};
struct ac__epoll_buf {
    char *addr;
    uint32_t used; /* bytes already received into it (packing) */
    uint16_t bid;
};
struct ac__epoll {
    int epfd, efd;                   /* the epoll set; eventfd for wake-ups */
    struct ac__epoll_fd *fds;        /* indexed by fd */
    unsigned nfds;                   /* capacity of fds */
    struct ac_op *sq_head, *sq_tail; /* submitted, started at the next enter */
    unsigned nqueued;
    unsigned nwaiting;        /* operations in the fds' wait lists */
    struct ac__epoll_cqe *cq; /* completions not yet dispatched (ring) */
    unsigned cq_head, cq_tail, cq_cap;
    int *again; /* fds with a multishot op cut short */
    unsigned nagain, again_cap;
    struct ac__epoll_buf *bufs; /* provided buffers, a stack */
    unsigned nbufs, bufs_cap, buf_len;
    bool pack;           /* receives share a buffer (incremental) */
    bool pwait2_missing; /* epoll_pwait2 is ENOSYS: ms timeouts */
};

struct ac_ring {
    const struct ac__backend *be;
    union {
        struct {
            struct io_uring uring;
            struct io_uring_buf_ring *br; /* provided-buffer ring */
            size_t br_len;
            unsigned br_mask;
            uint16_t br_bgid;
        };
        struct ac__epoll ep;
    };
    struct ac_ring_features feat;
    struct ac_ring_stats stats;
    void (*after_cb)(void *arg, const char *what);
    void *after_cb_arg;
    uint64_t kinds;        /* bit k: the backend performs kind k */
    uint64_t masked_kinds; /* ac_ring_mask_kinds */
};

/* Runs op's callback for one completion, then the callback hook. */
void ac__ring_complete(struct ac_ring *r, struct ac_op *op, int res, uint32_t flags);

/* Provided buffers at the seam (bufring.c's only way to the backend). */
AC_MUST_USE int ac__ring_pbuf_register(struct ac_ring *r, uint16_t bgid, unsigned count,
                                       bool want_incremental, bool *incremental);
void ac__ring_pbuf_add(struct ac_ring *r, void *addr, unsigned len, uint16_t bid);
void ac__ring_pbuf_unregister(struct ac_ring *r, uint16_t bgid);
AC_MUST_USE int ac__ring_buffers_register(struct ac_ring *r, void *base, size_t len);
void ac__ring_buffers_unregister(struct ac_ring *r);

/* One row per enum ac_op_kind: how to prepare its SQE, and its name. */
struct ac_op_desc {
    const char *name;
    uint8_t opcode; /* IORING_OP_* it needs (checked against the probe) */
    void (*prep)(struct io_uring_sqe *sqe, const struct ac_op *op);
};

extern const struct ac_op_desc ac__op_table[AC_OP_KIND_COUNT];
_Static_assert(AC_OP_KIND_COUNT <= 64, "ac_ring_mask_kinds takes a 64-bit mask");

/* liburing 2.3 predates the SEND_ZC usage report (kernel 6.2); uapi values. */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

/* Incremental buffer consumption (kernel 6.12), newer than liburing 2.3; uapi values. */
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)
#endif

/* ---- bufring.c: the per-shard provided-buffer ring ---- */

/*
 * `count` buffers of `size` bytes: a mem/ buffer group, whose ids are the
 * ring's bids and whose reference counts are the only ones. lent[bid] is
 * the kernel's reference while bid is in the ring (a slice over the part
 * not filled yet; .group == NULL once the kernel is done with it). With
 * incremental consumption the kernel fills a buffer across several
 * receives (CQE flag BUF_MORE while it keeps it), each cut off the front
 * of lent[bid]. `avail` is how many buffers the kernel can still pick.
 */
struct ac__bufpool {
    ac_bufgroup *group;
    struct ac_ioslice *lent;
    unsigned count, size;
    unsigned avail;
    uint16_t bgid;
    bool ready;       /* registered with the ring */
    bool registered;  /* the group's region is registered as fixed buffer 0 (for SEND_ZC) */
    bool incremental; /* registered with IOU_PBUF_RING_INC */
    struct ac_net *net;
};

/* Creates the group (size: one of AC_IOBUF_*) and registers its ring. 0 or -errno. */
AC_MUST_USE int ac__bufpool_init(struct ac__bufpool *p, struct ac_ring *ring, unsigned count,
                                 unsigned size, bool want_registered, bool want_incremental);
/* Unregisters and frees; panics if a slice is still held (net.h rule 7). */
void ac__bufpool_fini(struct ac__bufpool *p, struct ac_ring *ring);
/*
 * A CQE named buffer `bid` (with `cqe_flags`): makes a slice of the len
 * bytes it received (one reference). Without BUF_MORE the kernel is done
 * with the buffer and its reference becomes the slice's; with it, it keeps
 * filling the rest.
 */
void ac__bufpool_take(struct ac__bufpool *p, uint16_t bid, uint32_t len, uint32_t cqe_flags,
                      struct ac_slice *out);
/* Fixed-buffer index for [buf, buf+len) or -1 when it is not in registered memory. */
int ac__bufpool_fixed_index(const struct ac__bufpool *p, const void *buf, size_t len);

/* ---- net.c: per-shard state ---- */

/* A queued write: caller bytes (cb) or a held slice. */
struct ac__wreq {
    STAILQ_ENTRY(ac__wreq) link; /* conn's write queue, or net's free list */
    const char *buf;
    uint32_t len, sent;
    ac_tcp_write_fn cb;
    void *arg;
    struct ac_slice slice; /* .io.group != NULL: release after sending */
};

/* Vectored-send scratch, allocated on a connection's first batched send. */
#define AC_SEND_IOV_MAX 32
struct ac__sendvec {
    struct msghdr msg;
    struct iovec iov[AC_SEND_IOV_MAX];
};

enum { AC_CONN_OPEN, AC_CONN_CLOSING, AC_CONN_CLOSED };

struct ac_tcp_conn {
    struct ac_net *net;
    struct ac_tcp_server *server; /* NULL for client connections */
    int fd;
    uint8_t state;
    uint8_t inflight;  /* operations whose last CQE has not arrived */
    uint8_t cause;     /* enum ac_close_cause: the first reason to close seen */
    bool reading;      /* ac_tcp_read_start called, no EOF/error yet */
    bool recv_armed;   /* a receive is in the kernel */
    bool paused;       /* output above high water: no receive armed */
    bool user_paused;  /* ac_tcp_read_pause: no receive armed */
    bool waiting_bufs; /* parked on net->waiters until a buffer returns */
    bool send_busy;    /* a send is in the kernel */
    bool zc_off;       /* the kernel copied SEND_ZC data: plain sends */
    bool shut_wanted, shut_sent;
    bool drain_close;  /* graceful stop: close once the queue is empty */
    bool cancel_busy;  /* cancel_op is in the kernel */
    bool cancel_again; /* close came while cancel_op was busy */
    int zc_res;        /* SEND_ZC result, used when its notification arrives */
    struct ac_op recv_op, send_op, cancel_op, aux_op; /* aux: connect, shutdown, close */
    ac_tcp_read_fn read_cb;
    void *read_arg;
    void *data;
    STAILQ_HEAD(, ac__wreq) wq; /* queued writes, in order */
    size_t queued;
    struct ac__sendvec *vec;
    struct ac_timer idle;
    uint64_t idle_ns, last_rx_ns;
    ac_tcp_close_fn close_cb;
    void *close_arg;
    LIST_ENTRY(ac_tcp_conn) link;        /* net->conns */
    STAILQ_ENTRY(ac_tcp_conn) wait_link; /* net->waiters */
};

struct ac_tcp_server {
    struct ac_net *net;
    int fd;
    uint16_t port;
    bool multishot, armed, closing;
    unsigned nconns;
    struct ac_tcp_server_config cfg;
    ac_tcp_accept_fn cb;
    void *arg;
    struct ac_op accept_op, cancel_op;
    struct ac_timer retry;          /* re-arm after a resource error (EMFILE) */
    LIST_ENTRY(ac_tcp_server) link; /* net->servers */
};

struct ac_net {
    struct ac_ring *ring;
    struct ac_net_config cfg;
    struct ac__bufpool pool;
    LIST_HEAD(, ac_tcp_conn) conns; /* every connection not yet freed */
    LIST_HEAD(, ac_tcp_server) servers;
    unsigned nservers;                  /* not yet freed */
    STAILQ_HEAD(, ac_tcp_conn) waiters; /* parked for buffers, FIFO */
    STAILQ_HEAD(, ac__wreq) wreq_free;  /* used as a stack */
    struct ac_net_stats stats;
    bool stopping;
    uint64_t stop_deadline_ns;
    struct ac_timer stop_timer;
    ac_net_stopped_fn stop_cb;
    void *stop_arg;
};

/* net.c */
struct ac__wreq *ac__wreq_get(struct ac_net *net);
void ac__wreq_put(struct ac_net *net, struct ac__wreq *w);
/* A buffer went back to the ring: re-arm parked receivers. */
void ac__net_bufs_returned(struct ac_net *net);
void ac__net_park(struct ac_net *net, struct ac_tcp_conn *c);
void ac__net_unpark(struct ac_net *net, struct ac_tcp_conn *c);
/* Closes c for ac_net_stop (telling a reader first). */
void ac__net_stop_conn(struct ac_tcp_conn *c);
/* A handle was freed: finishes a stop when it was the last. */
void ac__net_handle_gone(struct ac_net *net);

/* tcp_conn.c */
AC_MUST_USE int ac__conn_new(struct ac_net *net, int fd, struct ac_tcp_server *srv,
                             struct ac_tcp_conn **out);
void ac__conn_arm_recv(struct ac_tcp_conn *c);
/* Submits an operation of c; counts it in flight. */
AC_MUST_USE int ac__conn_submit(struct ac_tcp_conn *c, struct ac_op *op);
/* An operation of c ended (its last CQE): may finish a close. */
void ac__conn_op_done(struct ac_tcp_conn *c);
/* Backpressure: stop receiving while output is above high water / read again. */
void ac__conn_pause(struct ac_tcp_conn *c);
void ac__conn_resume(struct ac_tcp_conn *c);

/* tcp_send.c */
void ac__send_flush(struct ac_tcp_conn *c);
/* Fails every queued write with `res` and empties the queue. */
void ac__send_fail_all(struct ac_tcp_conn *c, int res);

#endif
