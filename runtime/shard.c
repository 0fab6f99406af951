/*
 * A shard: one pinned thread, its ring, its timer wheel, its loop.
 *
 * Loop turn (DESIGN.md "One shard"):
 *   1. run ready tasks (the scheduler, when one is attached) and due timers;
 *   2. drain the cross-shard inboxes;
 *   3. one io_uring_enter: submit everything queued, wait for a completion
 *      or a wake-up, at most until the nearest timer (0 if work remains);
 *   4. dispatch each CQE to the operation its user_data names.
 *
 * Stopping is two-phase so that no message is lost: a shard that sees the
 * stop runs its stop hook, closes its sending side and counts itself; only
 * when every shard has closed can no new message appear, and each shard
 * then drains its inboxes one last time and exits.
 */
#include "internal.h"

#include "agentcore/mem.h"

#include <errno.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>

static _Thread_local struct ac_shard *current_shard;

struct ac_shard *ac__shard_current(void)
{
    return current_shard;
}

unsigned ac_shard_id(void)
{
    return current_shard ? current_shard->id : AC_SHARD_NONE;
}

ac_runtime *ac_runtime_current(void)
{
    return current_shard ? current_shard->rt : NULL;
}

static int shard_boot(struct ac_shard *s)
{
    struct ac_runtime *rt = s->rt;
    char tag[16];
    int err;

    snprintf(tag, sizeof tag, "shard=%u", s->id);
    ac_log_set_thread_tag(tag);
    /* First-touch allocations of this thread land on its own node. */
    if (numa_available() >= 0)
        numa_set_localalloc();

    /* The heap first: everything this shard allocates comes from it. */
    err = ac__memory_boot(s);
    if (err) {
        ac_log_error("heap set-up failed: %s", ac_strerror(err));
        return err;
    }

    struct ac_ring_config rc = {
        .backend = rt->backend,
        .entries = rt->cfg.ring_entries,
        .sqpoll = rt->cfg.sqpoll,
        .sqpoll_cpu = -1,
    };
    err = ac_ring_create(&rc, &s->ring);
    if (err) {
        ac_log_error("%s set-up failed: %s", ac_ring_backend_name(rt->backend),
                     ac_strerror(err));
        return err;
    }
    err = ac__tasks_boot(s);
    if (err) {
        ac_log_error("scheduler set-up failed: %s", ac_strerror(err));
        return err;
    }
    atomic_store_explicit(&s->ring_fd, ac_ring_fd(s->ring), memory_order_relaxed);
    ac_ring_set_callback_hook(s->ring, ac__after_callback_hook, s);
    ac_timer_wheel_init(&s->wheel, ac_now_ns());
    if (s->id == 0) {
        char desc[256];
        ac_ring_describe(s->ring, desc, sizeof desc);
        ac_log_info("%u shard(s); %s", rt->nshards, desc);
    }
    if (s->id == 0 && rt->cfg.handle_signals) {
        err = ac__signals_start(s);
        if (err) {
            ac_log_error("signalfd: %s", ac_strerror(err));
            return err;
        }
    }
    return 0;
}

/*
 * Phase one of stopping: run the stop hook once, then close as soon as no
 * hold is left (ac_shard_hold_stop) or the stop deadline has passed.
 */
static void shard_try_close(struct ac_shard *s)
{
    struct ac_runtime *rt = s->rt;

    if (!s->stop_hook_ran) {
        s->stop_hook_ran = true;
        s->stop_deadline_ns = ac_now_ns() + rt->cfg.stop_timeout_ns;
        if (rt->cfg.on_shard_stop)
            rt->cfg.on_shard_stop(rt->cfg.hook_arg, s->id);
    }
    /* Stop stealing and send stolen tasks home while messages still flow;
     * -EAGAIN (an inbox was full) means: again next turn. */
    if (!s->sched_stopped) {
        if (ac_sched_stop(s->sched) != 0)
            return;
        s->sched_stopped = true;
    }
    if (s->stop_holds > 0) {
        if (ac_now_ns() < s->stop_deadline_ns)
            return;
        ac_log_warn("stop deadline passed with %u hold(s) on shard %u; closing anyway",
                    s->stop_holds, s->id);
    }
    ac__msg_flush_wakes(s); /* for what this turn sent before closing */
    s->closed = true;
    /* acq_rel: our last pushes happen-before the count others wait on. */
    unsigned closed = atomic_fetch_add_explicit(&rt->closed_shards, 1, memory_order_acq_rel) + 1;
    if (closed == rt->nshards) {
        /* seq_cst: the count is visible before we read `sleeping` (msg.c) */
        atomic_thread_fence(memory_order_seq_cst);
        for (unsigned i = 0; i < rt->nshards; i++)
            if (i != s->id)
                ac__shard_wake(rt, &rt->shards[i]);
    }
}

static bool all_closed(struct ac_runtime *rt)
{
    return atomic_load_explicit(&rt->closed_shards, memory_order_acquire) == rt->nshards;
}

/* The wait of step 3, in ns: 0 when work is left, else until the next timer. */
static uint64_t wait_budget(struct ac_shard *s, bool busy)
{
    if (busy)
        return 0;
    uint64_t next = ac_timer_wheel_next(&s->wheel);
    if (s->stop_hook_ran && !s->closed && s->stop_deadline_ns < next)
        next = s->stop_deadline_ns; /* wake to enforce the stop deadline */
    if (next == UINT64_MAX)
        return UINT64_MAX;
    uint64_t now = ac_now_ns();
    return next > now ? next - now : 0;
}

static void shard_loop(struct ac_shard *s)
{
    struct ac_runtime *rt = s->rt;
    struct ac_ring_stats rs;

    for (;;) {
        AC_STAT_INC(s->stats.loops);
        ac__stall_mark(s);

        /* 1. tasks (for a slice of time, see tasks.c), then timers */
        s->turn_mark = s->stall_mark;
        ac_sched_run(s->sched, rt->cfg.task_budget);
        unsigned fired = ac_timer_wheel_expire(&s->wheel, ac_now_ns());
        if (fired) {
            AC_STAT_ADD(s->stats.timers_fired, fired);
            ac__after_callback(s, "timer");
        }

        /* 2. inboxes: messages, then memory other shards freed */
        bool busy = ac__msg_drain(s) > 0;
        ac_heap_reclaim(s->heap);
        busy = busy || ac_sched_has_ready(s->sched);

        if (AC_UNLIKELY(atomic_load_explicit(&rt->stop_requested, memory_order_relaxed))) {
            if (!s->closed)
                shard_try_close(s);
            if (all_closed(rt)) {
                /* Every sender is closed; only non-shard submitters that
                 * passed the stop check may still be pushing. */
                while (atomic_load_explicit(&rt->ext_inflight, memory_order_seq_cst))
                    sched_yield();
                ac__msg_drain(s);
                break;
            }
        }

        /* idle: look for stealable work on other shards before sleeping */
        if (!busy && ac_sched_steal(s->sched) > 0)
            busy = true;

        /* 3. submit and wait, announcing sleep first (handshake in msg.c;
         * the scheduler's mark comes after our flag, see sched.h) */
        ac__msg_flush_wakes(s);
        uint64_t timeout = wait_budget(s, busy);
        bool sched_asleep = false;
        if (timeout) {
            atomic_store_explicit(&s->sleeping, 1, memory_order_relaxed);
            /* seq_cst: the store above is visible before we re-check. */
            atomic_thread_fence(memory_order_seq_cst);
            if (ac__msg_pending(s) ||
                atomic_load_explicit(&rt->stop_requested, memory_order_relaxed) ||
                !(sched_asleep = ac_sched_sleep_prepare(s->sched))) {
                atomic_store_explicit(&s->sleeping, 0, memory_order_relaxed);
                timeout = 0;
            } else {
                AC_STAT_INC(s->stats.sleeps);
            }
        }
        int err = ac_ring_enter(s->ring, timeout);
        atomic_store_explicit(&s->sleeping, 0, memory_order_relaxed);
        if (sched_asleep)
            ac_sched_sleep_done(s->sched);
        if (err)
            AC_PANIC("io_uring_enter failed on shard %u: %s", s->id, ac_strerror(err));

        /* 4. completions */
        ac__stall_mark(s);
        ac_ring_dispatch(s->ring);
        ac_ring_stats(s->ring, &rs);
        atomic_store_explicit(&s->stats.enters, rs.enters, memory_order_relaxed);
        atomic_store_explicit(&s->stats.completions, rs.completions, memory_order_relaxed);
        atomic_store_explicit(&s->stats.wakes_received, rs.wakeups, memory_order_relaxed);
    }
}

void ac_shard_hold_stop(void)
{
    AC_ASSERT(current_shard);
    current_shard->stop_holds++;
}

void ac_shard_release_stop(void)
{
    struct ac_shard *s = current_shard;
    AC_ASSERT(s && s->stop_holds > 0);
    s->stop_holds--;
}

bool ac__gate_wait(struct ac_runtime *rt)
{
    bool ok = true;
    pthread_mutex_lock(&rt->gate_lock);
    if (++rt->booted == rt->nshards)
        pthread_cond_broadcast(&rt->gate_cond);
    while (rt->booted < rt->nshards && !rt->gate_abort)
        pthread_cond_wait(&rt->gate_cond, &rt->gate_lock);
    if (rt->gate_abort)
        ok = false;
    for (unsigned i = 0; i < rt->nshards && ok; i++)
        ok = rt->shards[i].start_err == 0;
    pthread_mutex_unlock(&rt->gate_lock);
    return ok;
}

void ac__gate_abort(struct ac_runtime *rt)
{
    pthread_mutex_lock(&rt->gate_lock);
    rt->gate_abort = true;
    pthread_cond_broadcast(&rt->gate_cond);
    pthread_mutex_unlock(&rt->gate_lock);
}

void *ac__shard_main(void *arg)
{
    struct ac_shard *s = arg;
    struct ac_runtime *rt = s->rt;

    current_shard = s;
    s->start_err = shard_boot(s);
    /* Every ring exists (or failed) before anyone may send a wake-up;
     * the gate's mutex also publishes start_err and ring_fd. */
    if (ac__gate_wait(rt)) {
        int err = ac__tasks_connect(s);
        if (err)
            AC_PANIC("shard %u: cannot connect the schedulers: %s", s->id, ac_strerror(err));
        ac_timer_wheel_set_current(&s->wheel);
        ac_ring_set_current(s->ring);
        if (ac__memory_start(s))
            AC_PANIC("shard %u: cannot start heap maintenance", s->id);
        if (rt->cfg.on_shard_start)
            rt->cfg.on_shard_start(rt->cfg.hook_arg, s->id);
        shard_loop(s);
        ac_timer_wheel_set_current(NULL);
        ac_sched_set_current(NULL);
        ac_ring_set_current(NULL);
    }
    ac__memory_fini(s);
    free(s->stalls);
    s->stalls = NULL;
    current_shard = NULL;
    ac_log_set_thread_tag(NULL);
    return NULL;
}
