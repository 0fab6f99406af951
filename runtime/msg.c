/*
 * Cross-shard messages and wake-ups.
 *
 * Every ordered pair of shards has its own SPSC ring, so a send is two
 * plain stores and a release; FIFO per pair comes for free. Non-shard
 * threads use one bounded MPSC queue per target shard.
 *
 * Sleep/wake handshake (no lost wake-up, no syscall when the target is
 * awake): the target stores sleeping=1, fences, then re-checks its
 * inboxes before it waits; a producer publishes its message, fences, then
 * reads `sleeping`. With both fences sequentially consistent at least one
 * side sees the other's store (Dekker): either the target finds the
 * message, or the producer finds it sleeping. The producer that swaps
 * sleeping 1→0 sends the single IORING_OP_MSG_RING wake-up.
 */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

/*
 * Bounded retry before a full ring gives -EAGAIN: a short spin (a busy
 * consumer on another CPU frees slots within µs), then a few yields (a
 * consumer sharing our CPU, with oversubscribed shards, needs the CPU).
 */
#define FULL_SPINS   128
#define FULL_YIELDS  4
#define FULL_RETRIES (FULL_SPINS + FULL_YIELDS)

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

/* ---- SPSC ---------------------------------------------------------------- */

static bool spsc_push(struct ac_spsc *q, ac_msg_fn fn, void *arg)
{
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if (tail - q->head_cache > q->mask) {
        /* acquire: the consumer has finished reading the slots it freed. */
        q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
        if (tail - q->head_cache > q->mask)
            return false;
    }
    q->slots[tail & q->mask] = (struct ac_msg){fn, arg};
    /* release: the slot's contents are visible before the new tail. */
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    return true;
}

static unsigned spsc_drain(struct ac_spsc *q, struct ac_shard *self)
{
    uint32_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    /* acquire: pairs with the producer's release of tail. */
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    unsigned n = 0;

    /* Only what was queued at entry: a message that sends to this same
     * ring runs next turn, so a drain always ends. */
    while (head != tail) {
        struct ac_msg m = q->slots[head & q->mask];
        head++;
        /* release: our read of the slot completes before the producer may
         * reuse it. */
        atomic_store_explicit(&q->head, head, memory_order_release);
        m.fn(m.arg);
        ac__after_callback(self, "message");
        n++;
    }
    return n;
}

static bool spsc_pending(const struct ac_spsc *q)
{
    return atomic_load_explicit(&q->tail, memory_order_acquire) !=
           atomic_load_explicit(&q->head, memory_order_relaxed);
}

/* ---- MPSC (Vyukov bounded queue, single consumer) ------------------------ */

static int mpsc_init(struct ac_mpsc *q, unsigned size)
{
    q->cells = calloc(size, sizeof *q->cells);
    if (!q->cells)
        return -ENOMEM;
    q->mask = size - 1;
    q->head = 0;
    atomic_init(&q->tail, 0);
    for (unsigned i = 0; i < size; i++)
        atomic_init(&q->cells[i].seq, i);
    return 0;
}

static bool mpsc_push(struct ac_mpsc *q, ac_msg_fn fn, void *arg)
{
    uint32_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    struct ac_mpsc_cell *c;

    for (;;) {
        c = &q->cells[pos & q->mask];
        /* acquire: the consumer's reading of this cell's last message is
         * complete when its seq says the cell is free again. */
        uint32_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        int32_t diff = (int32_t)(seq - pos);
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (diff < 0) {
            return false; /* full */
        } else {
            pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
        }
    }
    c->msg = (struct ac_msg){fn, arg};
    /* release: publishes the message to the consumer. */
    atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
    return true;
}

static bool mpsc_pending(const struct ac_mpsc *q)
{
    const struct ac_mpsc_cell *c = &q->cells[q->head & q->mask];
    return atomic_load_explicit(&c->seq, memory_order_acquire) == q->head + 1;
}

static unsigned mpsc_drain(struct ac_mpsc *q, struct ac_shard *self)
{
    unsigned n = 0;
    /* Bounded by one lap so producers cannot keep the shard here. */
    for (unsigned i = 0; i <= q->mask; i++) {
        struct ac_mpsc_cell *c = &q->cells[q->head & q->mask];
        if (atomic_load_explicit(&c->seq, memory_order_acquire) != q->head + 1)
            break;
        struct ac_msg m = c->msg;
        /* release: frees the cell for the producer one lap ahead. */
        atomic_store_explicit(&c->seq, q->head + q->mask + 1, memory_order_release);
        q->head++;
        m.fn(m.arg);
        ac__after_callback(self, "message");
        n++;
    }
    return n;
}

/* ---- set-up -------------------------------------------------------------- */

static bool is_pow2(unsigned x)
{
    return x && !(x & (x - 1));
}

int ac__msg_init(struct ac_runtime *rt)
{
    unsigned n = rt->nshards, size = rt->cfg.msg_ring_size, ext = rt->cfg.ext_inbox_size;
    if (!is_pow2(size) || !is_pow2(ext)) {
        ac_log_error("runtime: msg_ring_size (%u) and ext_inbox_size (%u) must be powers of two",
                     size, ext);
        return -EINVAL;
    }
    rt->spsc = aligned_alloc(AC_CACHELINE, sizeof *rt->spsc * n * n);
    if (!rt->spsc)
        return -ENOMEM;
    memset(rt->spsc, 0, sizeof *rt->spsc * n * n);
    for (unsigned i = 0; i < n * n; i++) {
        rt->spsc[i].mask = size - 1;
        rt->spsc[i].slots = calloc(size, sizeof(struct ac_msg));
        if (!rt->spsc[i].slots)
            return -ENOMEM; /* ac__msg_fini frees what was allocated */
    }
    for (unsigned i = 0; i < n; i++) {
        int err = mpsc_init(&rt->shards[i].ext_inbox, ext);
        if (err)
            return err;
        rt->shards[i].wake_pending = calloc((n + 63) / 64, sizeof(uint64_t));
        if (!rt->shards[i].wake_pending)
            return -ENOMEM;
    }
    return 0;
}

void ac__msg_fini(struct ac_runtime *rt)
{
    if (rt->spsc) {
        for (unsigned i = 0; i < rt->nshards * rt->nshards; i++)
            free(rt->spsc[i].slots);
        free(rt->spsc);
        rt->spsc = NULL;
    }
    for (unsigned i = 0; i < rt->nshards; i++) {
        free(rt->shards[i].ext_inbox.cells);
        rt->shards[i].ext_inbox.cells = NULL;
        free(rt->shards[i].wake_pending);
        rt->shards[i].wake_pending = NULL;
    }
}

/* ---- wake-ups ------------------------------------------------------------ */

static void wake_via_ext_ring(struct ac_runtime *rt, struct ac_shard *target)
{
    pthread_mutex_lock(&rt->ext_lock);
    /* The fd is read under the lock that ac_runtime_run holds while it
     * retires the rings: a target being torn down reads -1, never a
     * closed (or reused) fd number. */
    int fd = atomic_load_explicit(&target->ring_fd, memory_order_relaxed);
    if (fd < 0) {
        pthread_mutex_unlock(&rt->ext_lock);
        return;
    }
    /* Reap (and log) failures of earlier wake-ups; successes post no CQE. */
    ac_ring_dispatch(rt->ext_ring);
    int err = ac_ring_submit_wake(rt->ext_ring, fd);
    if (!err)
        err = ac_ring_enter(rt->ext_ring, 0);
    pthread_mutex_unlock(&rt->ext_lock);
    if (err)
        AC_PANIC("runtime: cannot send a wake-up: %s", ac_strerror(err));
}

void ac__shard_wake(struct ac_runtime *rt, struct ac_shard *target)
{
    /* Cheap check first: most sends find the target awake. */
    if (!atomic_load_explicit(&target->sleeping, memory_order_relaxed))
        return;
    if (!atomic_exchange_explicit(&target->sleeping, 0, memory_order_relaxed))
        return; /* another producer is waking it */
    int fd = atomic_load_explicit(&target->ring_fd, memory_order_relaxed);
    if (fd < 0)
        return;
    struct ac_shard *self = ac__shard_current();
    if (self && self->rt == rt && self != target) {
        /* Sent at once: the target sleeps, so latency matters more than
         * batching (a busy target never gets here). */
        if (ac_ring_submit_wake(self->ring, fd) == 0) {
            int err = ac_ring_enter(self->ring, 0);
            if (err)
                ac_log_warn("wake-up of shard %u: %s", target->id, ac_strerror(err));
            AC_STAT_INC(self->stats.wakes_sent);
            return;
        }
    }
    wake_via_ext_ring(rt, target);
}

/* ---- sending and draining ------------------------------------------------ */

static int submit_from_shard(struct ac_runtime *rt, struct ac_shard *self, struct ac_shard *target,
                             ac_msg_fn fn, void *arg)
{
    struct ac_spsc *q = &rt->spsc[self->id * rt->nshards + target->id];

    if (self->closed)
        return -ECANCELED;
    if (AC_UNLIKELY(!spsc_push(q, fn, arg))) {
        /* Full: make sure the target is draining, then retry a bounded time. */
        atomic_thread_fence(memory_order_seq_cst);
        ac__shard_wake(rt, target);
        unsigned i;
        for (i = 0; i < FULL_RETRIES; i++) {
            if (i < FULL_SPINS)
                cpu_relax();
            else
                sched_yield();
            if (spsc_push(q, fn, arg))
                break;
        }
        if (i == FULL_RETRIES) {
            AC_STAT_INC(self->stats.msgs_full);
            return -EAGAIN;
        }
    }
    AC_STAT_INC(self->stats.msgs_sent);
    /* The wake-up check waits until the running callback returns
     * (ac__after_callback): one fence per callback, not per message. */
    self->wake_pending[target->id / 64] |= 1ull << (target->id % 64);
    self->wake_any = true;
    return 0;
}

void ac__msg_flush_wakes(struct ac_shard *self)
{
    struct ac_runtime *rt = self->rt;
    bool fenced = false;
    if (!self->wake_any)
        return;
    self->wake_any = false;
    for (unsigned w = 0; w < (rt->nshards + 63) / 64; w++) {
        uint64_t bits = self->wake_pending[w];
        if (!bits)
            continue;
        if (!fenced) {
            /* seq_cst: orders our tail stores before the reads of `sleeping`
             * (the handshake at the top of this file). */
            atomic_thread_fence(memory_order_seq_cst);
            fenced = true;
        }
        self->wake_pending[w] = 0;
        while (bits) {
            unsigned b = (unsigned)__builtin_ctzll(bits);
            bits &= bits - 1;
            ac__shard_wake(rt, &rt->shards[w * 64 + b]);
        }
    }
}

static int submit_external(struct ac_runtime *rt, struct ac_shard *target, ac_msg_fn fn, void *arg)
{
    int ret = 0;

    /* seq_cst pairs with the stopping shard's check of ext_inflight after
     * it has set stop_requested: either we see the stop, or it sees us. */
    atomic_fetch_add_explicit(&rt->ext_inflight, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&rt->stop_requested, memory_order_seq_cst)) {
        ret = -ECANCELED;
        goto out;
    }
    unsigned i;
    for (i = 0; i < FULL_RETRIES; i++) {
        if (mpsc_push(&target->ext_inbox, fn, arg))
            break;
        sched_yield();
    }
    if (i == FULL_RETRIES) {
        ret = -EAGAIN;
        goto out;
    }
    atomic_thread_fence(memory_order_seq_cst);
    ac__shard_wake(rt, target);
out:
    atomic_fetch_sub_explicit(&rt->ext_inflight, 1, memory_order_seq_cst);
    return ret;
}

int ac_runtime_submit(ac_runtime *rt, unsigned shard, ac_msg_fn fn, void *arg)
{
    if (!rt || shard >= rt->nshards || !fn)
        return -EINVAL;
    struct ac_shard *self = ac__shard_current();
    struct ac_shard *target = &rt->shards[shard];
    if (self && self->rt == rt)
        return submit_from_shard(rt, self, target, fn, arg);
    return submit_external(rt, target, fn, arg);
}

int ac_submit_to(unsigned shard, ac_msg_fn fn, void *arg)
{
    struct ac_shard *self = ac__shard_current();
    if (!self)
        return -ENXIO;
    return ac_runtime_submit(self->rt, shard, fn, arg);
}

unsigned ac__msg_drain(struct ac_shard *self)
{
    struct ac_runtime *rt = self->rt;
    unsigned n = 0;
    for (unsigned src = 0; src < rt->nshards; src++)
        n += spsc_drain(&rt->spsc[src * rt->nshards + self->id], self);
    n += mpsc_drain(&self->ext_inbox, self);
    if (n)
        AC_STAT_ADD(self->stats.msgs_run, n);
    return n;
}

bool ac__msg_pending(const struct ac_shard *self)
{
    const struct ac_runtime *rt = self->rt;
    for (unsigned src = 0; src < rt->nshards; src++)
        if (spsc_pending(&rt->spsc[src * rt->nshards + self->id]))
            return true;
    return mpsc_pending(&self->ext_inbox);
}
