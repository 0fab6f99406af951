/*
 * The per-shard scheduler: admission, weighted shares, execution, cancel,
 * deadlines and counters. Stealing and completions of stolen tasks are in
 * steal.c, the deque in deque.c, task structs in task.c.
 *
 * Per class there are two queues: `local` (an intrusive FIFO of tasks only
 * this shard may run; no atomics) and `dq` (a Chase-Lev deque of stealable
 * tasks, which the owner and thieves alike take oldest-first: see
 * take_oldest).
 * The owner alternates between the two within a class so neither starves.
 * A class' length is local.len + the deque's size; admission refuses a
 * spawn with -EBUSY when it reaches queue_size.
 *
 * Weighted shares: a round gives class c up to weights[c] tasks, highest
 * class first; a class without work ends its turn early. (cur_class,
 * credit) persists across ac_sched_run calls so that small budgets keep the
 * ratios.
 *
 * Cancellation and deadlines are lazy: the task stays queued and is
 * dropped (done gets -ECANCELED / -ETIMEDOUT) when it reaches the head.
 * Only tasks that have an id or a deadline pay for the check.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* initial-exec: a plain %fs-relative load instead of a __tls_get_addr call
 * (the library is PIC); agentcore is never dlopen()ed after start-up. */
static _Thread_local ac_sched *current __attribute__((tls_model("initial-exec")));

enum ac_prio ac_prio_from_level(int level)
{
    if (level > 80)
        return AC_PRIO_HIGH;
    if (level > 50)
        return AC_PRIO_NORMAL;
    return AC_PRIO_LOW;
}

void ac_sched_config_default(struct ac_sched_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->weights[AC_PRIO_HIGH] = 8;
    cfg->weights[AC_PRIO_NORMAL] = 4;
    cfg->weights[AC_PRIO_LOW] = 1;
    cfg->queue_size = 4096;
    cfg->stealing = true;
}

void ac_sched_set_current(ac_sched *s)
{
    current = s;
}

ac_sched *ac_sched_current(void)
{
    return current;
}

int ac_sched_create(const struct ac_sched_config *cfg, ac_sched **out)
{
    if (cfg->queue_size == 0)
        return -EINVAL;
    for (unsigned c = 0; c < AC_PRIO_COUNT; c++)
        if (cfg->weights[c] == 0)
            return -EINVAL;
    size_t size = (sizeof(ac_sched) + AC_CACHELINE - 1) & ~(size_t)(AC_CACHELINE - 1);
    ac_sched *s = aligned_alloc(AC_CACHELINE, size);
    if (!s)
        return -ENOMEM;
    memset(s, 0, sizeof *s);
    unsigned c;
    for (c = 0; c < AC_PRIO_COUNT; c++)
        if (ac__deque_init(&s->dq[c], 6) < 0)
            goto out_close_deques;
    ac__task_pool_init(&s->pool);
    for (unsigned k = 0; k < AC_PRIO_COUNT; k++)
        ac__fifo_init(&s->local[k]);
    s->cur_class = AC_PRIO_COUNT - 1; /* the first round starts at HIGH */
    s->queue_size = cfg->queue_size;
    memcpy(s->weights, cfg->weights, sizeof s->weights);
    s->shard_id = cfg->shard_id;
    s->stealing = cfg->stealing;
    s->hooks = cfg->hooks;
    s->group = cfg->group;
    s->rng = 0x9e3779b97f4a7c15ull * (cfg->shard_id + 1);
    *out = s;
    return 0;

out_close_deques:
    while (c-- > 0)
        ac__deque_close(&s->dq[c]);
    free(s);
    return -ENOMEM;
}

static uint32_t class_len(const ac_sched *s, unsigned c)
{
    return s->local[c].len + (uint32_t)ac__own_dq_size(s, c);
}

void ac__sched_complete(ac_sched *s, struct ac__task *t)
{
    int res = t->res;
    if (res == 0) {
        s->stats.completed++;
    } else {
        s->stats.failed++;
        s->stats.timed_out += res == -ETIMEDOUT;
        s->stats.cancelled += res == -ECANCELED;
    }
    ac_task_done_fn done = t->done;
    void *done_arg = t->done_arg;
    /* Freed first: done() may spawn and reuse the struct. */
    ac__task_free(&s->pool, t);
    if (done)
        done(done_arg, res);
}

/* Drops every queued task with -ECANCELED; panics on a peer's task. */
static void drop_queued(ac_sched *s)
{
    bool again = true;
    while (again) { /* done() may spawn more */
        again = false;
        for (unsigned c = 0; c < AC_PRIO_COUNT; c++) {
            struct ac__task *t;
            while ((t = ac__fifo_pop(&s->local[c])) || (t = ac__deque_pop(&s->dq[c]))) {
                if (t->origin != s)
                    AC_PANIC("sched %u destroyed holding a task of shard %u", s->shard_id,
                             t->origin->shard_id);
                t->res = -ECANCELED;
                ac__sched_complete(s, t);
                again = true;
            }
        }
    }
}

void ac_sched_destroy(ac_sched *s)
{
    if (!s)
        return;
    drop_queued(s);
    if (s->ndirty)
        AC_PANIC("sched %u destroyed with completions not yet posted home", s->shard_id);
    if (s->pool.live)
        AC_PANIC("sched %u destroyed while peers hold %llu of its tasks", s->shard_id,
                 (unsigned long long)s->pool.live);
    for (unsigned c = 0; c < AC_PRIO_COUNT; c++)
        ac__deque_close(&s->dq[c]);
    ac__task_pool_close(&s->pool);
    free(s->peers);
    free(s->victims);
    free(s->remote);
    free(s->dirty);
    if (current == s)
        current = NULL;
    free(s);
}

static int spawn(ac_sched *s, enum ac_prio prio, ac_task_fn fn, void *arg,
                 const struct ac_task_opts *o, ac_task_id *id)
{
    if (AC_UNLIKELY(!s || (unsigned)prio >= AC_PRIO_COUNT || !fn))
        return -EINVAL;
    if (AC_UNLIKELY(class_len(s, prio) >= s->queue_size)) {
        s->stats.rejected++;
        return -EBUSY;
    }
    struct ac__task *t = ac__task_alloc(&s->pool, s);
    if (AC_UNLIKELY(!t))
        return -ENOMEM;
    t->fn = fn;
    t->arg = arg;
    t->prio = (uint8_t)prio;
    t->res = 0;
    if (!o) {
        t->flags = 0;
        t->done = NULL;
        t->deadline_ns = 0;
        ac__fifo_push(&s->local[prio], t);
        s->stats.submitted++;
        return 0;
    }
    t->done = o->done;
    t->done_arg = o->done_arg;
    t->deadline_ns = o->deadline_ns;
    t->flags = (o->stealable ? TASK_F_STEALABLE : 0) | (id ? TASK_F_CANCELLABLE : 0);
    /* Relaxed: the deque's release store of bottom publishes it to thieves. */
    atomic_store_explicit(&t->state, TASK_QUEUED, memory_order_relaxed);
    if (id)
        *id = ac__task_id(t);
    if (o->stealable && s->stealing) {
        t->spawn_ns = ac_now_ns();
        if (ac__own_dq_push(s, prio, t) < 0) {
            ac__task_free(&s->pool, t);
            return -ENOMEM;
        }
        s->stats.submitted++;
        ac__sched_notify(s);
        return 0;
    }
    ac__fifo_push(&s->local[prio], t);
    s->stats.submitted++;
    return 0;
}

int ac_spawn(enum ac_prio prio, ac_task_fn fn, void *arg)
{
    return spawn(current, prio, fn, arg, NULL, NULL);
}

int ac_spawn_stealable(enum ac_prio prio, ac_task_fn fn, void *arg, ac_task_done_fn done,
                       void *done_arg)
{
    struct ac_task_opts o = {.done = done, .done_arg = done_arg, .stealable = true};
    return spawn(current, prio, fn, arg, &o, NULL);
}

int ac_spawn_opts(enum ac_prio prio, ac_task_fn fn, void *arg, const struct ac_task_opts *opts,
                  ac_task_id *id)
{
    static const struct ac_task_opts none;
    return spawn(current, prio, fn, arg, opts ? opts : &none, id);
}

int ac_task_cancel(ac_task_id id)
{
    ac_sched *s = current;
    if (!s)
        return -ENOENT;
    struct ac__task *t = ac__task_lookup(&s->pool, id);
    if (!t || !(t->flags & TASK_F_CANCELLABLE))
        return -ENOENT;
    /* The runner (maybe a thief) moves QUEUED -> RUNNING with the same CAS:
     * exactly one of us wins. Relaxed: no data is published by the state;
     * the result travels home with the task. */
    uint8_t expect = TASK_QUEUED;
    if (!atomic_compare_exchange_strong_explicit(&t->state, &expect, TASK_CANCELLED,
                                                 memory_order_relaxed, memory_order_relaxed))
        return -ENOENT;
    return 0;
}

/* Why a task must not start (0: run it). */
static int veto(struct ac__task *t)
{
    if (t->flags & TASK_F_CANCELLABLE) {
        uint8_t expect = TASK_QUEUED;
        if (!atomic_compare_exchange_strong_explicit(&t->state, &expect, TASK_RUNNING,
                                                     memory_order_relaxed, memory_order_relaxed))
            return -ECANCELED;
    }
    if (t->deadline_ns && ac_now_ns() > t->deadline_ns)
        return -ETIMEDOUT;
    return 0;
}

static void execute(ac_sched *s, struct ac__task *t)
{
    s->stats.ran++;
    if (AC_LIKELY(t->flags == 0 && t->deadline_ns == 0)) {
        t->fn(t->arg);
    } else {
        t->res = veto(t);
        if (t->res == 0)
            t->fn(t->arg);
    }
    if (AC_LIKELY(t->origin == s))
        ac__sched_complete(s, t);
    else
        ac__sched_finish_foreign(s, t);
    if (s->hooks.after_task)
        s->hooks.after_task(s->hooks.arg);
}

static bool class_ready(const ac_sched *s, unsigned c)
{
    return s->local[c].len || ac__own_dq_size(s, c) > 0;
}

/*
 * The owner takes its stealable tasks oldest first, as thieves do (a
 * steal on its own deque: Chase-Lev allows any thread to steal). These
 * are request-level tasks (a call's work), not fork-join children: LIFO
 * let the newest call's work overtake older ones and the oldest waited
 * for a thief — a long tail when a session's calls spread over shards.
 * A steal lost to a thief is retried while the deque looks non-empty.
 * Without peers nobody else takes from it and the order matters less than
 * the locked op a steal costs over a pop (the scheduler alone, as in
 * bench_sched_spawn; a one-shard runtime queues stealable tasks locally).
 */
static inline __attribute__((always_inline)) struct ac__task *take_oldest(const ac_sched *s,
                                                                          struct ac__deque *dq)
{
    if (s->nvictims == 0)
        return ac__deque_size(dq) > 0 ? ac__deque_pop(dq) : NULL;
    while (ac__deque_size(dq) > 0) {
        struct ac__task *t = ac__deque_steal(dq);
        if (t)
            return t;
    }
    return NULL;
}

static struct ac__task *take_from_class(ac_sched *s, unsigned c)
{
    unsigned bit = 1u << c;
    if (!(s->dq_used & bit)) /* the common case: no stealable work here */
        return ac__fifo_pop(&s->local[c]);
    struct ac__task *t = NULL;
    /* Take from the deque only when it looks non-empty: it costs a locked op. */
    bool dq_first = s->from_deque & bit;
    if (dq_first)
        t = take_oldest(s, &s->dq[c]);
    if (!t)
        t = ac__fifo_pop(&s->local[c]);
    if (!t && !dq_first)
        t = take_oldest(s, &s->dq[c]);
    if (ac__deque_size(&s->dq[c]) == 0) {
        s->dq_used &= (uint8_t)~bit;
    } else if (!s->notified) {
        /* About to run a task with stealable ones queued behind it: a
         * sleeping peer could take those now rather than after this one
         * (the wake at spawn may have been skipped while a peer searched,
         * or spent). Once per run: it costs a fence. Only this path (the
         * deque is in use) pays the check. */
        s->notified = true;
        ac__sched_notify(s);
    }
    s->from_deque ^= bit;
    return t;
}

/* Moves the round to the next class with work; false when none has any. */
static bool next_turn(ac_sched *s)
{
    for (unsigned k = 1; k <= AC_PRIO_COUNT; k++) {
        unsigned c = (s->cur_class + k) % AC_PRIO_COUNT;
        if (class_ready(s, c)) {
            s->cur_class = c;
            s->credit = s->weights[c];
            return true;
        }
    }
    return false;
}

void ac_sched_yield(ac_sched *s)
{
    s->yield = true;
}

unsigned ac_sched_run(ac_sched *s, unsigned budget)
{
    unsigned n = 0;
    s->yield = false;
    s->notified = false;
    while (n < budget && !s->yield) {
        if ((s->credit == 0 || !class_ready(s, s->cur_class)) && !next_turn(s))
            break;
        struct ac__task *t = take_from_class(s, s->cur_class);
        if (!t) { /* a thief took the last stealable task */
            s->credit = 0;
            continue;
        }
        s->credit--;
        n++;
        execute(s, t);
    }
    if (s->ndirty)
        ac__sched_flush_remote(s);
    return n;
}

bool ac_sched_has_ready(const ac_sched *s)
{
    for (unsigned c = 0; c < AC_PRIO_COUNT; c++)
        if (class_ready(s, c))
            return true;
    return false;
}

void ac_sched_stats_get(const ac_sched *s, struct ac_sched_stats *out)
{
    *out = s->stats;
    for (unsigned c = 0; c < AC_PRIO_COUNT; c++)
        out->queued[c] = class_len(s, c);
}

uint64_t ac_sched_steal_delay_ns(const ac_sched *s, enum ac_prio prio, uint64_t now_ns)
{
    if ((unsigned)prio >= AC_PRIO_COUNT || ac__own_dq_size(s, prio) == 0)
        return 0;
    const struct ac__task *t = ac__deque_peek_oldest((struct ac__deque *)&s->dq[prio]);
    /* spawn_ns is written by this (the origin) shard only, before the push */
    return t && now_ns > t->spawn_ns ? now_ns - t->spawn_ns : 0;
}
