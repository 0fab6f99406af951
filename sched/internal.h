/*
 * sched/internal.h — declarations shared by the files of the scheduler:
 * the Chase-Lev deque (deque.c), the task pool (task.c), the scheduler
 * struct (sched.c) and stealing (steal.c).
 */
#ifndef AC_SCHED_INTERNAL_H
#define AC_SCHED_INTERNAL_H

#include <sys/queue.h> /* the one list facility (docs/ARCHITECTURE.md, "Lists") */
#include "agentcore/sched.h"

#include <stdatomic.h>

/* ---- Chase-Lev deque (deque.c) ------------------------------------------ */

struct ac__deque_buf;

/*
 * Owner pushes and pops at the bottom, thieves steal at the top. Items are
 * non-NULL pointers. `top` sits on its own cache line (thieves write it);
 * `bottom` and `buf` share the owner's line (thieves only read them).
 */
struct ac__deque {
    _Atomic int64_t top AC_CACHE_ALIGNED;
    _Atomic int64_t bottom AC_CACHE_ALIGNED;
    _Atomic(struct ac__deque_buf *) buf;
    struct ac__deque_buf *retired; /* owner only: outgrown buffers, freed at close */
};

/* Initial capacity 2^log2_cap. 0 or -ENOMEM. Any thread, before sharing. */
AC_MUST_USE int ac__deque_init(struct ac__deque *dq, unsigned log2_cap);
/* Frees all buffers. No thief may still use the deque. */
void ac__deque_close(struct ac__deque *dq);
/* Owner. Grows the buffer when full: 0 or -ENOMEM (nothing pushed). */
AC_MUST_USE int ac__deque_push(struct ac__deque *dq, void *item);
/* Owner. The newest item, or NULL when empty. */
void *ac__deque_pop(struct ac__deque *dq);
/* Any thread. The oldest item, or NULL when empty or a race was lost. */
void *ac__deque_steal(struct ac__deque *dq);
/* Any thread. Steals up to min(max, ceil(size/2)) oldest items into out[],
 * oldest first; returns how many (stops early when a race is lost). */
unsigned ac__deque_steal_half(struct ac__deque *dq, void **out, unsigned max);
/* Owner. The oldest item (the next a thief would take), or NULL when
 * empty; it may be stolen the moment after, so only fields the owner alone
 * writes may be read through it. */
void *ac__deque_peek_oldest(struct ac__deque *dq);
/* Any thread: items present (a snapshot, ≥ 0). Relaxed: callers use it
 * for admission and idle checks and act through pop/steal, which
 * synchronise. */
static inline int64_t ac__deque_size(const struct ac__deque *dq)
{
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&dq->top, memory_order_relaxed);
    return b > t ? b - t : 0;
}

/* ---- tasks (task.c) ------------------------------------------------------ */

enum { TASK_QUEUED, TASK_RUNNING, TASK_CANCELLED };

enum {
    TASK_F_STEALABLE = 1u << 0,
    TASK_F_CANCELLABLE = 1u << 1, /* an id was handed out: check state before running */
};

struct ac__task {
    ac_task_fn fn;
    void *arg;
    STAILQ_ENTRY(ac__task) link; /* FIFO link / free list / completion chain */
    ac_task_done_fn done;
    void *done_arg;
    uint64_t deadline_ns;
    uint64_t spawn_ns;       /* stealable tasks: when spawned (queue delay); origin writes */
    struct ac_sched *origin; /* the spawning scheduler: owns this struct */
    uint32_t index;          /* slot in origin's pool, for ids */
    uint32_t gen;            /* bumped at each free: stale ids miss */
    /* QUEUED -> RUNNING by the runner, QUEUED -> CANCELLED by the owner;
     * atomic because a thief may be the runner. */
    _Atomic uint8_t state;
    uint8_t prio;
    uint8_t flags;
    int32_t res; /* result carried home to done() */
};

#define AC__TASK_CHUNK_SHIFT 8
#define AC__TASK_CHUNK       (1u << AC__TASK_CHUNK_SHIFT)

/*
 * Per-scheduler pool of task structs: chunks of AC__TASK_CHUNK allocated on
 * demand and never returned until close, plus a LIFO free list. Owner only
 * (stolen tasks come home before they are freed).
 */
struct ac__task_pool {
    STAILQ_HEAD(, ac__task) free; /* used as a stack */
    struct ac__task **chunks;
    uint32_t nchunks, cap_chunks;
    uint64_t live; /* allocated and not yet freed */
};

void ac__task_pool_init(struct ac__task_pool *p);
void ac__task_pool_close(struct ac__task_pool *p);
/* Adds a chunk of free structs: false on -ENOMEM. */
bool ac__task_pool_grow(struct ac__task_pool *p);

/* A task struct owned by `origin`, or NULL on -ENOMEM. Inline: this and
 * free are on every spawn (no LTO across the module's files). */
static inline struct ac__task *ac__task_alloc(struct ac__task_pool *p, struct ac_sched *origin)
{
    if (AC_UNLIKELY(STAILQ_EMPTY(&p->free)) && !ac__task_pool_grow(p))
        return NULL;
    struct ac__task *t = STAILQ_FIRST(&p->free);
    STAILQ_REMOVE_HEAD(&p->free, link);
    p->live++;
    t->origin = origin;
    return t;
}

static inline void ac__task_free(struct ac__task_pool *p, struct ac__task *t)
{
    t->gen++;
    STAILQ_INSERT_HEAD(&p->free, t, link);
    p->live--;
}
/* The id of a queued task; resolves an id back, or NULL for a stale one. */
ac_task_id ac__task_id(const struct ac__task *t);
struct ac__task *ac__task_lookup(struct ac__task_pool *p, ac_task_id id);

/* ---- the scheduler (sched.c, steal.c) ------------------------------------- */

/* A counted FIFO of tasks; the list is NULL-terminated, so its first task
 * is also a chain that can be handed to another shard (steal.c). */
struct ac__fifo {
    STAILQ_HEAD(, ac__task) q;
    uint32_t len;
};

static inline void ac__fifo_init(struct ac__fifo *f)
{
    STAILQ_INIT(&f->q);
    f->len = 0;
}

static inline void ac__fifo_push(struct ac__fifo *f, struct ac__task *t)
{
    STAILQ_INSERT_TAIL(&f->q, t, link);
    f->len++;
}

static inline struct ac__task *ac__fifo_pop(struct ac__fifo *f)
{
    struct ac__task *t = STAILQ_FIRST(&f->q);
    if (t) {
        STAILQ_REMOVE_HEAD(&f->q, link);
        f->len--;
    }
    return t;
}

/* Completions of stolen tasks waiting to be posted home, per origin shard. */
struct ac__remote_done {
    struct ac__fifo q;
    bool dirty; /* listed in ac_sched.dirty */
};

struct ac_steal_group {
    unsigned nshards;
    _Atomic unsigned searching AC_CACHE_ALIGNED; /* shards inside ac_sched_steal */
    _Atomic unsigned nsleeping AC_CACHE_ALIGNED;
    _Atomic bool *sleeping; /* [nshards] */
};

struct ac_sched {
    /* Hot, owner only. */
    struct ac__fifo local[AC_PRIO_COUNT];
    struct ac__task_pool pool;
    unsigned cur_class; /* weighted round position */
    unsigned credit;    /* tasks left in cur_class' turn */
    uint8_t from_deque; /* per-class bit: take from the deque next */
    /* Per-class bit: we pushed to dq[c] since we last saw it empty. Only
     * the owner pushes, so a clear bit proves the deque empty without
     * touching its cache lines (the spawn+run fast path of local tasks). */
    uint8_t dq_used;
    bool yield;          /* ac_sched_yield: end this ac_sched_run */
    bool notified;       /* this ac_sched_run woke a peer for queued work */
    unsigned queue_size; /* per class */
    unsigned weights[AC_PRIO_COUNT];
    /* queued[] is computed on read: local[c].len + size of dq[c], which
     * is also what admission bounds by queue_size. */
    struct ac_sched_stats stats;

    /* Read by thieves. */
    struct ac__deque dq[AC_PRIO_COUNT];

    /* Cold. */
    unsigned shard_id;
    bool stealing;
    struct ac_sched_hooks hooks;
    ac_steal_group *group;
    ac_sched **peers; /* [npeers], index = shard id */
    unsigned npeers;
    unsigned *victims; /* peer ids, nearest level first */
    unsigned nvictims;
    unsigned level_end[3]; /* victims[level_end[l-1] .. level_end[l]) are level l */
    uint64_t rng;
    struct ac__remote_done *remote; /* [npeers] */
    unsigned *dirty;                /* [npeers]: origins with pending completions */
    unsigned ndirty;
};

/* Items in our own deque of class c (a snapshot; 0 for sure when unused). */
static inline int64_t ac__own_dq_size(const ac_sched *s, unsigned c)
{
    return (s->dq_used >> c) & 1 ? ac__deque_size(&s->dq[c]) : 0;
}

/* Owner: pushes to our deque of class c. 0 or -ENOMEM. */
static inline int ac__own_dq_push(ac_sched *s, unsigned c, struct ac__task *t)
{
    s->dq_used |= (uint8_t)(1u << c);
    return ac__deque_push(&s->dq[c], t);
}

/* steal.c: hands a finished foreign task back towards its origin. */
void ac__sched_finish_foreign(ac_sched *s, struct ac__task *t);
/* steal.c: posts pending completions home; keeps what the inbox refused. */
void ac__sched_flush_remote(ac_sched *s);
/* sched.c: the origin side of a completion: done(), counters, free. */
void ac__sched_complete(ac_sched *s, struct ac__task *t);
/* steal.c: after queueing stealable work, wakes one sleeper if none searches. */
void ac__sched_notify(ac_sched *s);

#endif
