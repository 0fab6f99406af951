/*
 * The io_uring backend: ring set-up, feature probing, the single
 * submit-and-wait, CQE dispatch and the provided-buffer ring. This file
 * and ring_ops.c (the op table) are the only users of SQEs and CQEs.
 *
 * Set-up tries flag sets from the most to the least capable, because
 * older kernels reject unknown flags with -EINVAL rather than ignoring them.
 * DEFER_TASKRUN runs completion work only inside our own io_uring_enter,
 * so no other thread or interrupt touches the ring's completions between
 * our loop turns; TASKRUN_FLAG lets us skip that enter when nothing waits.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int try_setup(struct ac_ring *r, unsigned entries, uint32_t flags,
                     const struct ac_ring_config *cfg)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = entries * 4; /* multishot ops produce many CQEs per SQE */
    if (flags & IORING_SETUP_SQPOLL) {
        p.sq_thread_idle = cfg->sqpoll_idle_ms ? cfg->sqpoll_idle_ms : 100;
        if (cfg->sqpoll_cpu >= 0) {
            p.flags |= IORING_SETUP_SQ_AFF;
            p.sq_thread_cpu = (uint32_t)cfg->sqpoll_cpu;
        }
    }
    int ret = io_uring_queue_init_params(entries, &r->uring, &p);
    if (ret == 0) {
        r->feat.setup_flags = p.flags;
        r->feat.ext_arg = p.features & IORING_FEAT_EXT_ARG;
    }
    return ret;
}

static void probe_ops(struct ac_ring *r)
{
    struct io_uring_probe *probe = io_uring_get_probe_ring(&r->uring);
    if (!probe)
        return;
    for (unsigned op = 0; op < AC_ARRAY_LEN(r->feat.op); op++)
        r->feat.op[op] = io_uring_opcode_supported(probe, (int)op);
    io_uring_free_probe(probe);
}

/* Every operation the seam performs, by opcode: a kernel lacking one is "old". */
static uint64_t kinds_supported(const struct ac_ring *r)
{
    uint64_t k = 0;
    for (unsigned kind = 0; kind < AC_OP_KIND_COUNT; kind++)
        if (r->feat.op[ac__op_table[kind].opcode])
            k |= 1ull << kind;
    return k;
}

static int uring_create(struct ac_ring *r, const struct ac_ring_config *cfg)
{
    const uint32_t si = IORING_SETUP_SINGLE_ISSUER, dt = IORING_SETUP_DEFER_TASKRUN,
                   tf = IORING_SETUP_TASKRUN_FLAG, coop = IORING_SETUP_COOP_TASKRUN,
                   sq = IORING_SETUP_SQPOLL;
    const uint32_t plain_sets[] = {si | dt | tf, si | coop | tf, coop | tf, 0};
    const uint32_t sqpoll_sets[] = {sq | si, sq};
    const uint32_t *sets;
    size_t nsets;
    int ret = -EINVAL;

    unsigned entries = cfg->entries ? cfg->entries : 256;
    static const uint32_t shared_sets[] = {0};
    if (cfg->multi_thread) {
        sets = shared_sets;
        nsets = 1;
    } else if (cfg->sqpoll) {
        sets = sqpoll_sets;
        nsets = AC_ARRAY_LEN(sqpoll_sets);
    } else {
        sets = plain_sets + (cfg->no_defer_taskrun ? 1 : 0);
        nsets = AC_ARRAY_LEN(plain_sets) - (cfg->no_defer_taskrun ? 1 : 0);
    }
    for (size_t i = 0; i < nsets; i++) {
        ret = try_setup(r, entries, sets[i], cfg);
        if (ret != -EINVAL)
            break;
    }
    if (ret < 0)
        return ret;

    uint32_t f = r->feat.setup_flags;
    r->feat.backend = AC_RING_BACKEND_IO_URING;
    r->feat.single_issuer = f & si;
    r->feat.defer_taskrun = f & dt;
    r->feat.coop_taskrun = f & coop;
    r->feat.sqpoll = f & sq;
    probe_ops(r);
    r->feat.msg_ring = r->feat.op[IORING_OP_MSG_RING];
    if (!r->feat.msg_ring) {
        /* Shards wake each other with MSG_RING (Linux >= 5.18). */
        io_uring_queue_exit(&r->uring);
        return -EOPNOTSUPP;
    }
    r->kinds = kinds_supported(r);
    /* A registered ring fd saves an fget/fput per enter. It is registered
     * in the calling thread only, so a ring shared by threads cannot. */
    if (!cfg->multi_thread)
        r->feat.registered_fd = io_uring_register_ring_fd(&r->uring) == 1;
    return 0;
}

static void uring_destroy(struct ac_ring *r)
{
    io_uring_queue_exit(&r->uring);
}

static int uring_fd(const struct ac_ring *r)
{
    return r->uring.ring_fd;
}

static void uring_describe(const struct ac_ring *r, char *buf, size_t len)
{
    const struct ac_ring_features *f = &r->feat;
    snprintf(buf, len,
             "io_uring: single_issuer=%s defer_taskrun=%s coop_taskrun=%s sqpoll=%s "
             "registered_fd=%s ext_arg=%s msg_ring=%s send_zc=%s",
             f->single_issuer ? "on" : "off", f->defer_taskrun ? "on" : "off",
             f->coop_taskrun ? "on" : "off", f->sqpoll ? "on" : "off",
             f->registered_fd ? "on" : "off", f->ext_arg ? "on" : "off",
             f->op[IORING_OP_MSG_RING] ? "yes" : "no", f->op[IORING_OP_SEND_ZC] ? "yes" : "no");
}

static struct io_uring_sqe *get_sqe(struct ac_ring *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);
    if (AC_UNLIKELY(!sqe)) {
        /* SQ full: hand what is queued to the kernel and try once more. */
        int n = io_uring_submit(&r->uring);
        r->stats.sq_full++;
        r->stats.enters++;
        if (n > 0)
            r->stats.submitted += (uint64_t)n;
        sqe = io_uring_get_sqe(&r->uring);
    }
    return sqe;
}

/* The seam has checked that the kind is supported and not masked. */
static int uring_submit(struct ac_ring *r, struct ac_op *op)
{
    const struct ac_op_desc *d = &ac__op_table[op->kind];
    struct io_uring_sqe *sqe = get_sqe(r);
    if (!sqe)
        return -EBUSY;
    d->prep(sqe, op);
    sqe->flags |= op->sqe_flags;
    io_uring_sqe_set_data(sqe, op);
    return 0;
}

static int uring_submit_wake(struct ac_ring *r, int target_fd)
{
    if (!r->feat.op[IORING_OP_MSG_RING])
        return -EOPNOTSUPP;
    struct io_uring_sqe *sqe = get_sqe(r);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_msg_ring(sqe, target_fd, 0, AC_RING_UD_WAKE, 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, AC_RING_UD_IGNORE);
    return 0;
}

static int uring_enter(struct ac_ring *r, uint64_t timeout_ns)
{
    struct io_uring *u = &r->uring;
    unsigned queued = io_uring_sq_ready(u);
    int ret;

    if (timeout_ns == 0) {
        bool taskrun = IO_URING_READ_ONCE(*u->sq.kflags) & IORING_SQ_TASKRUN;
        if (queued == 0 && !taskrun && !io_uring_cq_has_overflow(u))
            return 0; /* nothing to hand over or reap: no system call */
        ret = io_uring_submit_and_get_events(u);
    } else {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts, *tsp = NULL;
        if (io_uring_cq_ready(u)) {
            ret = io_uring_submit(u);
        } else {
            if (timeout_ns != UINT64_MAX) {
                ts.tv_sec = (long long)(timeout_ns / 1000000000u);
                ts.tv_nsec = (long long)(timeout_ns % 1000000000u);
                tsp = &ts;
            }
            ret = io_uring_submit_and_wait_timeout(u, &cqe, 1, tsp, NULL);
        }
    }
    r->stats.enters++;
    if (queued)
        r->stats.submitted += queued;
    if (ret == -ETIME || ret == -EINTR || ret == -EAGAIN || ret == -EBUSY)
        return 0;
    return ret < 0 ? ret : 0;
}

static unsigned uring_dispatch(struct ac_ring *r)
{
    struct io_uring *u = &r->uring;
    struct io_uring_cqe *cqe;
    unsigned n = 0;

    /*
     * Advance the CQ head once per CQE, before the callback: a callback may
     * submit and enter recursively (e.g. a full SQ flush) and must see a
     * consistent ring.
     */
    while (io_uring_peek_cqe(u, &cqe) == 0) {
        uint64_t ud = cqe->user_data;
        int res = cqe->res;
        uint32_t flags = cqe->flags;
        io_uring_cqe_seen(u, cqe);
        n++;
        if (ud == AC_RING_UD_WAKE) {
            r->stats.wakeups++;
            continue;
        }
        if (ud == AC_RING_UD_IGNORE) {
            ac_log_warn("io_uring: wake-up message failed: %s", ac_strerror(res));
            continue;
        }
        ac__ring_complete(r, (struct ac_op *)(uintptr_t)ud, res, flags);
    }
    r->stats.completions += n;
    return n;
}

/*
 * The provided-buffer ring: page-aligned io_uring_buf descriptors set up by
 * hand (liburing 2.3 has no io_uring_setup_buf_ring) and registered.
 */
static int uring_pbuf_register(struct ac_ring *r, uint16_t bgid, unsigned count,
                               bool want_incremental, bool *incremental)
{
    int err;

    r->br_len = (size_t)count * sizeof(struct io_uring_buf);
    r->br = mmap(NULL, r->br_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r->br == MAP_FAILED) {
        r->br = NULL;
        return -ENOMEM;
    }
    r->br_mask = (unsigned)io_uring_buf_ring_mask(count);
    r->br_bgid = bgid;
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)r->br, .ring_entries = count, .bgid = bgid};
    err = -EINVAL;
    *incremental = false;
    if (want_incremental) {
        reg.pad = IOU_PBUF_RING_INC; /* `flags` in newer uapi headers */
        err = io_uring_register_buf_ring(&r->uring, &reg, 0);
        *incremental = err == 0;
    }
    if (err == -EINVAL) { /* not asked for, or a kernel < 6.12: a buffer per receive */
        reg.pad = 0;
        err = io_uring_register_buf_ring(&r->uring, &reg, 0);
    }
    if (err) {
        munmap(r->br, r->br_len);
        r->br = NULL;
        return err == -EINVAL ? -EOPNOTSUPP : err; /* -EINVAL: kernel < 5.19 */
    }
    io_uring_buf_ring_init(r->br);
    return 0;
}

static void uring_pbuf_add(struct ac_ring *r, void *addr, unsigned len, uint16_t bid)
{
    io_uring_buf_ring_add(r->br, addr, len, bid, (int)r->br_mask, 0);
    /* advance is a release store of the tail: the descriptor is visible first. */
    io_uring_buf_ring_advance(r->br, 1);
}

static void uring_pbuf_unregister(struct ac_ring *r, uint16_t bgid)
{
    if (!r->br)
        return;
    io_uring_unregister_buf_ring(&r->uring, bgid);
    munmap(r->br, r->br_len);
    r->br = NULL;
}

static int uring_buffers_register(struct ac_ring *r, void *base, size_t len)
{
    struct iovec iov = {.iov_base = base, .iov_len = len};
    return io_uring_register_buffers(&r->uring, &iov, 1);
}

static void uring_buffers_unregister(struct ac_ring *r)
{
    io_uring_unregister_buffers(&r->uring);
}

static void uring_stats(const struct ac_ring *r, struct ac_ring_stats *out)
{
    /* the kernel's own count of completions it dropped (no CQ room) */
    const unsigned *koverflow = r->uring.cq.koverflow;
    out->cq_overflows = koverflow ? __atomic_load_n(koverflow, __ATOMIC_RELAXED) : 0;
}

const struct ac__backend ac__backend_uring = {
    .name = "io_uring",
    .create = uring_create,
    .destroy = uring_destroy,
    .fd = uring_fd,
    .describe = uring_describe,
    .submit = uring_submit,
    .submit_wake = uring_submit_wake,
    .enter = uring_enter,
    .dispatch = uring_dispatch,
    .stats = uring_stats,
    .pbuf_register = uring_pbuf_register,
    .pbuf_add = uring_pbuf_add,
    .pbuf_unregister = uring_pbuf_unregister,
    .buffers_register = uring_buffers_register,
    .buffers_unregister = uring_buffers_unregister,
};
