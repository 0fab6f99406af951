/*
 * Ring set-up, feature probing, the single submit-and-wait, and CQE
 * dispatch. This file and ring_ops.c are the only users of SQEs and CQEs.
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

int ac_ring_create(const struct ac_ring_config *cfg, struct ac_ring **out)
{
    static const struct ac_ring_config defaults = {.entries = 256, .sqpoll_cpu = -1};
    const uint32_t si = IORING_SETUP_SINGLE_ISSUER, dt = IORING_SETUP_DEFER_TASKRUN,
                   tf = IORING_SETUP_TASKRUN_FLAG, coop = IORING_SETUP_COOP_TASKRUN,
                   sq = IORING_SETUP_SQPOLL;
    const uint32_t plain_sets[] = {si | dt | tf, si | coop | tf, coop | tf, 0};
    const uint32_t sqpoll_sets[] = {sq | si, sq};
    const uint32_t *sets;
    size_t nsets;
    int ret = -EINVAL;

    if (!cfg)
        cfg = &defaults;
    struct ac_ring *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
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
        goto out_free;

    uint32_t f = r->feat.setup_flags;
    r->feat.single_issuer = f & si;
    r->feat.defer_taskrun = f & dt;
    r->feat.coop_taskrun = f & coop;
    r->feat.sqpoll = f & sq;
    probe_ops(r);
    r->feat.msg_ring = r->feat.op[IORING_OP_MSG_RING];
    /* A registered ring fd saves an fget/fput per enter. It is registered
     * in the calling thread only, so a ring shared by threads cannot. */
    if (!cfg->multi_thread)
        r->feat.registered_fd = io_uring_register_ring_fd(&r->uring) == 1;
    *out = r;
    return 0;

out_free:
    free(r);
    return ret;
}

void ac_ring_destroy(struct ac_ring *r)
{
    if (!r)
        return;
    io_uring_queue_exit(&r->uring);
    free(r);
}

int ac_ring_fd(const struct ac_ring *r)
{
    return r->uring.ring_fd;
}

const struct ac_ring_features *ac_ring_features(const struct ac_ring *r)
{
    return &r->feat;
}

struct io_uring *ac_ring_raw(struct ac_ring *r)
{
    return &r->uring;
}

void ac_ring_describe(const struct ac_ring *r, char *buf, size_t len)
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

void ac_ring_mask_kinds(struct ac_ring *r, uint64_t kinds)
{
    r->masked_kinds |= kinds;
}

bool ac_ring_supports(const struct ac_ring *r, unsigned kind)
{
    return kind < AC_OP_KIND_COUNT && r->feat.op[ac__op_table[kind].opcode] &&
           !(r->masked_kinds & (1ull << kind));
}

static _Thread_local struct ac_ring *current_ring;

void ac_ring_set_current(struct ac_ring *r)
{
    current_ring = r;
}

struct ac_ring *ac_ring_current(void)
{
    return current_ring;
}

int ac_ring_submit(struct ac_ring *r, struct ac_op *op)
{
    AC_ASSERT(op->kind < AC_OP_KIND_COUNT);
    const struct ac_op_desc *d = &ac__op_table[op->kind];
    if (AC_UNLIKELY(!r->feat.op[d->opcode] || (r->masked_kinds & (1ull << op->kind))))
        return -EOPNOTSUPP;
    struct io_uring_sqe *sqe = get_sqe(r);
    if (!sqe)
        return -EBUSY;
    d->prep(sqe, op);
    sqe->flags |= op->sqe_flags;
    io_uring_sqe_set_data(sqe, op);
    r->stats.ops_inflight++;
    return 0;
}

int ac_ring_submit_wake(struct ac_ring *r, int target_fd)
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

int ac_ring_enter(struct ac_ring *r, uint64_t timeout_ns)
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

unsigned ac_ring_dispatch(struct ac_ring *r)
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
        struct ac_op *op = (struct ac_op *)(uintptr_t)ud;
        unsigned kind = op->kind; /* the callback may free op */
        if (!(flags & IORING_CQE_F_MORE))
            r->stats.ops_inflight--; /* its last CQE (multishot and SEND_ZC post several) */
        op->complete(op, res, flags);
        if (r->after_cb)
            r->after_cb(r->after_cb_arg, ac_op_kind_name(kind));
    }
    r->stats.completions += n;
    return n;
}

void ac_ring_set_callback_hook(struct ac_ring *r, void (*after_cb)(void *arg, const char *what),
                               void *arg)
{
    r->after_cb = after_cb;
    r->after_cb_arg = arg;
}

void ac_ring_stats(const struct ac_ring *r, struct ac_ring_stats *out)
{
    *out = r->stats;
    /* the kernel's own count of completions it dropped (no CQ room) */
    const unsigned *koverflow = r->uring.cq.koverflow;
    out->cq_overflows = koverflow ? __atomic_load_n(koverflow, __ATOMIC_RELAXED) : 0;
}
