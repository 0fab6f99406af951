/*
 * The epoll backend: the seam's operations on hosts where io_uring is
 * blocked (seccomp profiles, kernel.io_uring_disabled, old kernels), with
 * io_uring's completion semantics — one completion per single-shot
 * operation, F_MORE on every completion of a multishot one but its last,
 * received bytes in a pooled buffer named by F_BUFFER and its id, a
 * cancelled operation ending with -ECANCELED — so TCP and everything above
 * it run unchanged.
 *
 * Submitting queues the operation; ac_ring_enter starts the queued ones in
 * order (as io_uring issues SQEs), then waits in epoll_pwait2 and retries
 * the operations whose readiness arrived; each result becomes a completion
 * in a queue that ac_ring_dispatch hands to the callbacks. No callback runs
 * inside enter.
 *
 * Readiness is edge-triggered, latched per fd (`readable`, `writable`):
 * an fd joins the epoll set once (EPOLLIN|EPOLLOUT|EPOLLET) and is never
 * modified, so a steady connection costs no epoll_ctl. A latch is cleared
 * only by a result that proves the fd drained — -EAGAIN, or a receive or
 * send shorter than asked (the kernel stops a stream recv/send only when
 * the queue or the room ran out; not a receive once the peer's FIN was
 * reported, as the EOF behind the data has no edge of its own left) — and
 * set by every edge; so an operation
 * waits only when a later edge is certain to come. A latch that is wrongly
 * set costs one -EAGAIN attempt, never a hang. Operations are tried before
 * they wait, so a send with room costs one send(2) and nothing else.
 *
 * Registration happens when an fd gets its first waiting operation
 * (-EEXIST: still registered). Callers may close fds themselves, so a
 * number may come back as a new file: its registration is new (close
 * removed the old one) and epoll reports its readiness at once.
 *
 * Multishot receives and accepts stay in their fd's wait list after each
 * result; a burst larger than a few results per turn goes on `again` and
 * continues next turn, so one busy fd cannot starve the rest.
 *
 * Receives fill the buffer on top of the stack the buffer pool lends
 * (ac__ring_pbuf_add), packed as io_uring's incremental consumption packs
 * them (IORING_CQE_F_BUF_MORE while the buffer keeps room), so small
 * messages on many connections do not spend a buffer each; an empty stack
 * ends a receive with -ENOBUFS only when data is waiting, as an empty
 * io_uring buffer ring does. Wake-ups are an eventfd write (ac_ring_fd is the
 * eventfd), in place of IORING_OP_MSG_RING.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* op->be_state: where the operation is, plus connect's phase. */
enum { ST_IDLE, ST_QUEUED, ST_WAIT_RD, ST_WAIT_WR, ST_WHERE = 3, ST_CONNECTING = 8 };

enum { DIR_NONE, DIR_RD, DIR_WR };

#define WAKE_TAG     UINT64_MAX /* epoll data of the eventfd */
#define BURST        8          /* multishot results per fd per turn */
#define EVENTS_BATCH 256
#define PACK_MIN     512 /* a packed buffer with less room left is handed over */

struct ac__epoll_fd {
    struct ac_op *rd, *wr;   /* waiting operations, FIFO through be_next */
    bool readable, writable; /* latched readiness: true means "try" */
    bool hup;                /* the peer's FIN (or an error) was reported */
    bool nopoll;             /* epoll refuses the fd (regular file): always ready */
    bool again;              /* on ep->again */
};

/* One row per kind: the readiness it waits for, and one attempt at it. */
struct ep_op_desc {
    uint8_t dir;
    bool multishot;
    bool zero_ends; /* a multishot result of 0 is its last (EOF) */
    /* A result (≥ 0 or -errno), or -EAGAIN to wait for `dir`; sets CQE flags. */
    int (*attempt)(struct ac_ring *r, struct ac_op *op, struct ac__epoll_fd *f, uint32_t *flags);
};

static const struct ep_op_desc ep_ops[AC_OP_KIND_COUNT];

/* ---- completions ---------------------------------------------------------- */

static void cq_push(struct ac_ring *r, struct ac_op *op, int res, uint32_t flags)
{
    struct ac__epoll *ep = &r->ep;
    if (AC_UNLIKELY(ep->cq_tail - ep->cq_head == ep->cq_cap)) {
        /* Grow in order; dispatch copies an entry out before its callback,
         * so growing under a nested enter is safe. */
        unsigned cap = ep->cq_cap * 2;
        struct ac__epoll_cqe *cq = malloc(sizeof *cq * cap);
        if (!cq)
            AC_PANIC("epoll: no memory for %u completions", cap);
        for (unsigned i = 0; i < ep->cq_cap; i++)
            cq[i] = ep->cq[(ep->cq_head + i) & (ep->cq_cap - 1)];
        free(ep->cq);
        ep->cq = cq;
        ep->cq_tail = ep->cq_cap;
        ep->cq_head = 0;
        ep->cq_cap = cap;
    }
    ep->cq[ep->cq_tail++ & (ep->cq_cap - 1)] = (struct ac__epoll_cqe){op, res, flags};
}

/* The operation's last completion: it is the caller's again. */
static void finish(struct ac_ring *r, struct ac_op *op, int res, uint32_t flags)
{
    op->be_state = ST_IDLE;
    cq_push(r, op, res, flags);
}

/* ---- per-fd state ------------------------------------------------------- */

static struct ac__epoll_fd *fd_state(struct ac_ring *r, int fd)
{
    struct ac__epoll *ep = &r->ep;
    if (fd < 0)
        return NULL;
    if ((unsigned)fd >= ep->nfds) {
        unsigned n = ep->nfds ? ep->nfds : 64;
        while (n <= (unsigned)fd)
            n *= 2;
        struct ac__epoll_fd *fds = realloc(ep->fds, sizeof *fds * n);
        if (!fds)
            return NULL;
        for (unsigned i = ep->nfds; i < n; i++)
            fds[i] = (struct ac__epoll_fd){.readable = true, .writable = true};
        ep->fds = fds;
        ep->nfds = n;
    }
    return &ep->fds[fd];
}

static struct ac_op **wait_list(struct ac__epoll_fd *f, unsigned dir)
{
    return dir == DIR_RD ? &f->rd : &f->wr;
}

static bool *latch(struct ac__epoll_fd *f, unsigned dir)
{
    return dir == DIR_RD ? &f->readable : &f->writable;
}

static void list_append(struct ac_op **head, struct ac_op *op)
{
    op->be_next = NULL;
    while (*head)
        head = &(*head)->be_next;
    *head = op;
}

static bool list_remove(struct ac_op **head, struct ac_op *op)
{
    for (; *head; head = &(*head)->be_next) {
        if (*head == op) {
            *head = op->be_next;
            return true;
        }
    }
    return false;
}

/* Ends every operation waiting on fd with -ECANCELED; returns how many. */
static int cancel_fd_waiters(struct ac_ring *r, int fd)
{
    struct ac__epoll *ep = &r->ep;
    int n = 0;
    if (fd < 0 || (unsigned)fd >= ep->nfds)
        return 0;
    struct ac__epoll_fd *f = &ep->fds[fd];
    for (unsigned dir = DIR_RD; dir <= DIR_WR; dir++) {
        struct ac_op **head = wait_list(f, dir);
        while (*head) {
            struct ac_op *op = *head;
            *head = op->be_next;
            ep->nwaiting--;
            finish(r, op, -ECANCELED, 0);
            n++;
        }
    }
    return n;
}

static void mark_again(struct ac_ring *r, struct ac__epoll_fd *f, int fd)
{
    struct ac__epoll *ep = &r->ep;
    if (f->again)
        return;
    if (ep->nagain == ep->again_cap) {
        unsigned cap = ep->again_cap ? ep->again_cap * 2 : 64;
        int *a = realloc(ep->again, sizeof *a * cap);
        if (!a)
            return; /* the latch stays set: the next edge or submit retries */
        ep->again = a;
        ep->again_cap = cap;
    }
    ep->again[ep->nagain++] = fd;
    f->again = true;
}

/*
 * Tries the operations waiting on (f, dir) in order while the latch says
 * the fd may be ready. Multishot operations stay at the head and go on
 * until their burst is spent (then `again`), others leave the list.
 */
static void run_waiters(struct ac_ring *r, struct ac__epoll_fd *f, int fd, unsigned dir)
{
    struct ac_op **head = wait_list(f, dir);
    unsigned burst = BURST;

    while (*head && *latch(f, dir)) {
        struct ac_op *op = *head;
        const struct ep_op_desc *d = &ep_ops[op->kind];
        uint32_t flags = 0;
        int res = d->attempt(r, op, f, &flags);
        if (res == -EAGAIN) {
            if (!f->nopoll)
                *latch(f, dir) = false;
            break;
        }
        if (d->multishot && res >= 0 && !(res == 0 && d->zero_ends)) {
            cq_push(r, op, res, flags | IORING_CQE_F_MORE);
            if (--burst == 0) {
                if (*latch(f, dir))
                    mark_again(r, f, fd);
                break;
            }
            continue;
        }
        *head = op->be_next;
        r->ep.nwaiting--;
        finish(r, op, res, flags);
    }
}

/* Puts fd in the epoll set (once per open file; -EEXIST: it is). */
static void watch(struct ac_ring *r, struct ac__epoll_fd *f, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = (uint64_t)fd};
    if (epoll_ctl(r->ep.epfd, EPOLL_CTL_ADD, fd, &ev) == 0 || errno == EEXIST)
        return;
    if (errno == EPERM) {
        /* A regular file: always ready, its operations never wait. */
        f->nopoll = true;
        f->readable = f->writable = true;
        run_waiters(r, f, fd, DIR_RD);
        run_waiters(r, f, fd, DIR_WR);
        return;
    }
    /* Not watchable at all (e.g. a closed fd): end what waits on it. */
    int err = -errno;
    for (unsigned dir = DIR_RD; dir <= DIR_WR; dir++) {
        struct ac_op **head = wait_list(f, dir);
        while (*head) {
            struct ac_op *op = *head;
            *head = op->be_next;
            r->ep.nwaiting--;
            finish(r, op, err, 0);
        }
    }
}

/* Starts one submitted operation: at once, or waiting for readiness. */
static void start(struct ac_ring *r, struct ac_op *op)
{
    const struct ep_op_desc *d = &ep_ops[op->kind];
    uint32_t flags = 0;

    r->stats.submitted++;
    if (d->dir == DIR_NONE) {
        int res = d->attempt(r, op, NULL, &flags);
        finish(r, op, res, flags);
        return;
    }
    struct ac__epoll_fd *f = fd_state(r, op->fd);
    if (!f) {
        finish(r, op, op->fd < 0 ? -EBADF : -ENOMEM, 0);
        return;
    }
    bool was_idle = !f->rd && !f->wr;
    op->be_state = d->dir == DIR_RD ? ST_WAIT_RD : ST_WAIT_WR;
    list_append(wait_list(f, d->dir), op);
    r->ep.nwaiting++;
    run_waiters(r, f, op->fd, d->dir);
    if (was_idle && (f->rd || f->wr) && !f->nopoll)
        watch(r, f, op->fd);
}

/* ---- attempts, one per kind --------------------------------------------- */

static int attempt_nop(struct ac_ring *r, struct ac_op *op, struct ac__epoll_fd *f, uint32_t *flags)
{
    (void)r, (void)op, (void)f, (void)flags;
    return 0;
}

/*
 * read/write may meet blocking fds (a signalfd, a pipe): poll first, so
 * the call cannot block. One function for both directions (preadv2 and
 * pwritev2 with offset -1 use the file position, like read/write).
 */
static int rw(struct ac__epoll_fd *f, const struct ac_op *op, bool out)
{
    struct pollfd p = {.fd = op->fd, .events = out ? POLLOUT : POLLIN};
    if (!f->nopoll && poll(&p, 1, 0) <= 0)
        return -EAGAIN;
    struct iovec iov = {.iov_base = op->u.rw.buf, .iov_len = op->u.rw.len};
    off_t off = op->u.rw.off == (uint64_t)-1 ? -1 : (off_t)op->u.rw.off;
    ssize_t n = out ? pwritev2(op->fd, &iov, 1, off, 0) : preadv2(op->fd, &iov, 1, off, 0);
    return n < 0 ? -errno : (int)n;
}

static int attempt_read(struct ac_ring *r, struct ac_op *op, struct ac__epoll_fd *f,
                        uint32_t *flags)
{
    (void)r, (void)flags;
    return rw(f, op, false);
}

static int attempt_write(struct ac_ring *r, struct ac_op *op, struct ac__epoll_fd *f,
                         uint32_t *flags)
{
    (void)r, (void)flags;
    return rw(f, op, true);
}

/* As io_uring's: non-blocking accepted sockets (see ring_ops.c). */
static int attempt_accept(struct ac_ring *r, struct ac_op *op, struct ac__epoll_fd *f,
                          uint32_t *flags)
{
    (void)r, (void)f, (void)flags;
    int fd = accept4(op->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

static int attempt_recv(struct ac_ring *r, struct ac_op *op, struct ac__epoll_fd *f,
                        uint32_t *flags)
{
    struct ac__epoll *ep = &r->ep;
    if (ep->nbufs == 0) {
        /* As io_uring: a buffer is picked only when data is there, so an
         * empty pool ends a receive only then (-ENOBUFS parks the
         * connection until a buffer returns); without data it waits. */
        char c;
        ssize_t n = recv(op->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0)
            return -errno;
        return n == 0 ? 0 : -ENOBUFS;
    }
    struct ac__epoll_buf *b = &ep->bufs[ep->nbufs - 1];
    size_t room = ep->buf_len - b->used;
    ssize_t n = recv(op->fd, b->addr + b->used, room, MSG_DONTWAIT);
    if (n <= 0)
        return n == 0 ? 0 : -errno; /* nothing received: the buffer stays */
    /* A short read emptied the queue — unless the FIN is already in: its
     * edge came before this read, and the next read (EOF) gets no other. */
    if ((size_t)n < room && !f->hup)
        f->readable = false;
    *flags |= IORING_CQE_F_BUFFER | ((uint32_t)b->bid << IORING_CQE_BUFFER_SHIFT);
    b->used += (uint32_t)n;
    if (ep->pack && ep->buf_len - b->used >= PACK_MIN)
        *flags |= IORING_CQE_F_BUF_MORE; /* the next receive goes on filling it */
    else
        ep->nbufs--; /* done with it: its last slice owns it */
    return (int)n;
}

/* MSG_NOSIGNAL: a peer that reset is -EPIPE, not SIGPIPE (as ring_ops.c). */
static int attempt_send(struct ac_ring *r, struct ac_op *op, struct ac__epoll_fd *f,
                        uint32_t *flags)
{
    (void)r, (void)flags;
    ssize_t n = send(op->fd, op->u.send.buf, op->u.send.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0)
        return -errno;
    if ((size_t)n < op->u.send.len)
        f->writable = false; /* the socket buffer is full */
    return (int)n;
}

static int attempt_sendmsg(struct ac_ring *r, struct ac_op *op, struct ac__epoll_fd *f,
                           uint32_t *flags)
{
    (void)r, (void)flags;
    const struct msghdr *m = op->u.send.msg;
    ssize_t n = sendmsg(op->fd, m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0)
        return -errno;
    size_t want = 0;
    for (size_t i = 0; i < m->msg_iovlen; i++)
        want += m->msg_iov[i].iov_len;
    if ((size_t)n < want)
        f->writable = false;
    return (int)n;
}

/*
 * Connect in two phases: connect(2) once (EINPROGRESS on a non-blocking
 * socket), then, when writable, the outcome from SO_ERROR. A socket still
 * connecting has no peer: then it waits on.
 */
static int attempt_connect(struct ac_ring *r, struct ac_op *op, struct ac__epoll_fd *f,
                           uint32_t *flags)
{
    (void)r, (void)flags;
    if (!(op->be_state & ST_CONNECTING)) {
        op->be_state |= ST_CONNECTING;
        if (connect(op->fd, op->u.connect.addr, op->u.connect.len) == 0)
            return 0;
        if (errno != EINPROGRESS)
            return -errno;
        f->writable = false;
        return -EAGAIN;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        return -errno;
    if (soerr)
        return -soerr;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    if (getpeername(op->fd, (struct sockaddr *)&peer, &plen) < 0)
        return errno == ENOTCONN ? -EAGAIN : -errno;
    return 0;
}

static int attempt_shutdown(struct ac_ring *r, struct ac_op *op, struct ac__epoll_fd *f,
                            uint32_t *flags)
{
    (void)r, (void)f, (void)flags;
    return shutdown(op->fd, op->u.shutdown.how) == 0 ? 0 : -errno;
}

/* Ends what waits on the fd first (io_uring holds its own file reference;
 * we would otherwise keep operations on a number that is reused). */
static int attempt_close(struct ac_ring *r, struct ac_op *op, struct ac__epoll_fd *f,
                         uint32_t *flags)
{
    (void)f, (void)flags;
    cancel_fd_waiters(r, op->fd);
    if (op->fd >= 0 && (unsigned)op->fd < r->ep.nfds)
        r->ep.fds[op->fd] = (struct ac__epoll_fd){
            .readable = true, .writable = true, .again = r->ep.fds[op->fd].again};
    return close(op->fd) == 0 ? 0 : -errno;
}

static int attempt_cancel(struct ac_ring *r, struct ac_op *op, struct ac__epoll_fd *f,
                          uint32_t *flags)
{
    (void)f, (void)flags;
    struct ac_op *t = op->u.cancel.target;
    unsigned where = t->be_state & ST_WHERE;
    if (where != ST_WAIT_RD && where != ST_WAIT_WR)
        return -ENOENT; /* done, or not started yet */
    struct ac__epoll_fd *tf = fd_state(r, t->fd);
    if (!tf || !list_remove(wait_list(tf, where == ST_WAIT_RD ? DIR_RD : DIR_WR), t))
        return -ENOENT;
    r->ep.nwaiting--;
    finish(r, t, -ECANCELED, 0);
    return 0;
}

static int attempt_cancel_fd(struct ac_ring *r, struct ac_op *op, struct ac__epoll_fd *f,
                             uint32_t *flags)
{
    (void)f, (void)flags;
    int n = cancel_fd_waiters(r, op->fd);
    return n ? n : -ENOENT;
}

static const struct ep_op_desc ep_ops[AC_OP_KIND_COUNT] = {
    [AC_OP_NOP] = {.dir = DIR_NONE, .attempt = attempt_nop},
    [AC_OP_READ] = {.dir = DIR_RD, .attempt = attempt_read},
    [AC_OP_WRITE] = {.dir = DIR_WR, .attempt = attempt_write},
    [AC_OP_CANCEL] = {.dir = DIR_NONE, .attempt = attempt_cancel},
    [AC_OP_CLOSE] = {.dir = DIR_NONE, .attempt = attempt_close},
    [AC_OP_ACCEPT] = {.dir = DIR_RD, .attempt = attempt_accept},
    [AC_OP_ACCEPT_MULTI] = {.dir = DIR_RD, .multishot = true, .attempt = attempt_accept},
    [AC_OP_RECV] = {.dir = DIR_RD, .attempt = attempt_recv},
    [AC_OP_RECV_MULTI] = {.dir = DIR_RD,
                          .multishot = true,
                          .zero_ends = true,
                          .attempt = attempt_recv},
    [AC_OP_SEND] = {.dir = DIR_WR, .attempt = attempt_send},
    [AC_OP_SENDMSG] = {.dir = DIR_WR, .attempt = attempt_sendmsg},
    /* AC_OP_SEND_ZC: none (no zero-copy without io_uring); not in r->kinds */
    [AC_OP_CONNECT] = {.dir = DIR_WR, .attempt = attempt_connect},
    [AC_OP_SHUTDOWN] = {.dir = DIR_NONE, .attempt = attempt_shutdown},
    [AC_OP_CANCEL_FD] = {.dir = DIR_NONE, .attempt = attempt_cancel_fd},
};

/* ---- the backend table ---------------------------------------------------- */

static void ep_destroy(struct ac_ring *r)
{
    struct ac__epoll *ep = &r->ep;
    if (ep->efd >= 0)
        close(ep->efd);
    if (ep->epfd >= 0)
        close(ep->epfd);
    free(ep->fds);
    free(ep->cq);
    free(ep->again);
    free(ep->bufs);
}

static int ep_create(struct ac_ring *r, const struct ac_ring_config *cfg)
{
    struct ac__epoll *ep = &r->ep;
    int err;

    *ep = (struct ac__epoll){.epfd = -1, .efd = -1};
    unsigned cap = 64;
    while (cap < (cfg->entries ? cfg->entries : 256) * 4u)
        cap *= 2;
    ep->cq = malloc(sizeof *ep->cq * cap);
    if (!ep->cq)
        return -ENOMEM;
    ep->cq_cap = cap;
    ep->epfd = epoll_create1(EPOLL_CLOEXEC);
    ep->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = WAKE_TAG};
    if (ep->epfd < 0 || ep->efd < 0 || epoll_ctl(ep->epfd, EPOLL_CTL_ADD, ep->efd, &ev) < 0) {
        err = -errno;
        ep_destroy(r);
        return err;
    }
    r->feat = (struct ac_ring_features){.backend = AC_RING_BACKEND_EPOLL};
    for (unsigned k = 0; k < AC_OP_KIND_COUNT; k++)
        if (ep_ops[k].attempt)
            r->kinds |= 1ull << k;
    return 0;
}

static int ep_fd(const struct ac_ring *r)
{
    return r->ep.efd;
}

static void ep_describe(const struct ac_ring *r, char *buf, size_t len)
{
    (void)r;
    snprintf(buf, len,
             "epoll: edge-triggered readiness, eventfd wake-ups, receives into pooled "
             "buffers; io_uring off (send_zc=off sqpoll=off buf_ring=off msg_ring=off)");
}

static int ep_submit(struct ac_ring *r, struct ac_op *op)
{
    struct ac__epoll *ep = &r->ep;
    AC_ASSERT((op->be_state & ST_WHERE) == ST_IDLE); /* not submitted twice */
    op->be_state = ST_QUEUED;
    op->be_next = NULL;
    if (ep->sq_tail)
        ep->sq_tail->be_next = op;
    else
        ep->sq_head = op;
    ep->sq_tail = op;
    ep->nqueued++;
    return 0;
}

static int ep_submit_wake(struct ac_ring *r, int target_fd)
{
    (void)r;
    uint64_t one = 1;
    return write(target_fd, &one, sizeof one) == (ssize_t)sizeof one ? 0 : -errno;
}

static void handle_event(struct ac_ring *r, const struct epoll_event *ev)
{
    struct ac__epoll *ep = &r->ep;
    if (ev->data.u64 == WAKE_TAG) {
        uint64_t n;
        if (read(ep->efd, &n, sizeof n) == (ssize_t)sizeof n) {
            r->stats.wakeups += n;
            cq_push(r, NULL, 0, 0); /* counted by dispatch, like a wake CQE */
        }
        return;
    }
    int fd = (int)ev->data.u64;
    if ((unsigned)fd >= ep->nfds)
        return;
    struct ac__epoll_fd *f = &ep->fds[fd];
    uint32_t e = ev->events;
    if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        f->hup = true;
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        f->readable = true;
        run_waiters(r, f, fd, DIR_RD);
    }
    if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
        f->writable = true;
        run_waiters(r, f, fd, DIR_WR);
    }
}

static int ep_enter(struct ac_ring *r, uint64_t timeout_ns)
{
    struct ac__epoll *ep = &r->ep;
    struct epoll_event evs[EVENTS_BATCH];

    /* 1. start what was submitted, in order (as io_uring issues SQEs) */
    bool counted = ep->sq_head != NULL;
    if (counted)
        r->stats.enters++; /* "enters": turns that handed work over or waited */
    while (ep->sq_head) {
        struct ac_op *op = ep->sq_head;
        ep->sq_head = op->be_next;
        if (!ep->sq_head)
            ep->sq_tail = NULL;
        ep->nqueued--;
        start(r, op);
    }
    /* 2. multishot bursts cut short last turn */
    unsigned nagain = ep->nagain;
    ep->nagain = 0;
    for (unsigned i = 0; i < nagain; i++) {
        int fd = ep->again[i];
        struct ac__epoll_fd *f = &ep->fds[fd];
        f->again = false;
        run_waiters(r, f, fd, DIR_RD);
        run_waiters(r, f, fd, DIR_WR);
    }
    if (ep->cq_tail != ep->cq_head || ep->nagain)
        timeout_ns = 0;
    /* Nothing waits on an fd: a wake-up found later is as good as now. */
    if (timeout_ns == 0 && ep->nwaiting == 0)
        return 0;

    /* 3. wait for readiness (or a wake-up) */
    int n;
    if (!counted)
        r->stats.enters++;
    if (!ep->pwait2_missing) {
        struct timespec ts, *tsp = NULL;
        if (timeout_ns != UINT64_MAX) {
            ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
            ts.tv_nsec = (long)(timeout_ns % 1000000000u);
            tsp = &ts;
        }
        n = epoll_pwait2(ep->epfd, evs, EVENTS_BATCH, tsp, NULL);
        if (n < 0 && errno == ENOSYS)
            ep->pwait2_missing = true; /* Linux < 5.11 or a sandbox: ms below */
    }
    if (ep->pwait2_missing) {
        int ms = -1;
        if (timeout_ns != UINT64_MAX)
            ms = timeout_ns / 1000000u >= INT_MAX ? INT_MAX
                                                  : (int)((timeout_ns + 999999u) / 1000000u);
        n = epoll_wait(ep->epfd, evs, EVENTS_BATCH, ms);
    }
    if (n < 0)
        return errno == EINTR ? 0 : -errno;

    /* 4. retry what became ready */
    for (int i = 0; i < n; i++)
        handle_event(r, &evs[i]);
    return 0;
}

static unsigned ep_dispatch(struct ac_ring *r)
{
    struct ac__epoll *ep = &r->ep;
    unsigned n = 0;
    while (ep->cq_head != ep->cq_tail) {
        struct ac__epoll_cqe c = ep->cq[ep->cq_head++ & (ep->cq_cap - 1)];
        n++;
        if (c.op)
            ac__ring_complete(r, c.op, c.res, c.flags);
    }
    r->stats.completions += n;
    return n;
}

static int ep_pbuf_register(struct ac_ring *r, uint16_t bgid, unsigned count, bool want_incremental,
                            bool *incremental)
{
    struct ac__epoll *ep = &r->ep;
    (void)bgid;
    /* Packing is ours to do (we pick the buffer): as IOU_PBUF_RING_INC,
     * consecutive receives fill one buffer, BUF_MORE while it has room. */
    ep->pack = want_incremental;
    *incremental = want_incremental;
    ep->bufs = malloc(sizeof *ep->bufs * count);
    if (!ep->bufs)
        return -ENOMEM;
    ep->bufs_cap = count;
    ep->nbufs = 0;
    return 0;
}

static void ep_pbuf_add(struct ac_ring *r, void *addr, unsigned len, uint16_t bid)
{
    struct ac__epoll *ep = &r->ep;
    AC_ASSERT(ep->nbufs < ep->bufs_cap);
    ep->buf_len = len;
    ep->bufs[ep->nbufs++] = (struct ac__epoll_buf){.addr = addr, .bid = bid};
}

static void ep_pbuf_unregister(struct ac_ring *r, uint16_t bgid)
{
    (void)bgid;
    free(r->ep.bufs);
    r->ep.bufs = NULL;
    r->ep.nbufs = r->ep.bufs_cap = 0;
}

static int ep_buffers_register(struct ac_ring *r, void *base, size_t len)
{
    (void)r, (void)base, (void)len;
    return -EOPNOTSUPP; /* fixed buffers serve SEND_ZC only */
}

static void ep_buffers_unregister(struct ac_ring *r)
{
    (void)r;
}

const struct ac__backend ac__backend_epoll = {
    .name = "epoll",
    .create = ep_create,
    .destroy = ep_destroy,
    .fd = ep_fd,
    .describe = ep_describe,
    .submit = ep_submit,
    .submit_wake = ep_submit_wake,
    .enter = ep_enter,
    .dispatch = ep_dispatch,
    .pbuf_register = ep_pbuf_register,
    .pbuf_add = ep_pbuf_add,
    .pbuf_unregister = ep_pbuf_unregister,
    .buffers_register = ep_buffers_register,
    .buffers_unregister = ep_buffers_unregister,
};
