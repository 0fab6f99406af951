/*
 * agentcore/sched.h — the per-shard task scheduler: three priority classes
 * served by weighted shares, bounded queues (admission control), deadlines,
 * cancellation, and work stealing of tasks a shard marks stealable.
 *
 * Ownership and threads. Every ac_sched belongs to one shard (one thread).
 * Functions marked "owner" may only be called on that shard's thread; the
 * spawn functions act on the calling thread's current scheduler
 * (ac_sched_set_current). The only cross-thread operations are the steals
 * that idle peers perform on a scheduler's stealable deques (lock-free,
 * Chase-Lev) and the steal group's counters; everything else is plain
 * per-shard memory.
 *
 * The scheduler never includes the runtime: the runtime hands it two hooks,
 * `post` (run a function on another shard: a cross-shard message) and `wake`
 * (wake a sleeping shard: IORING_OP_MSG_RING). A stolen task runs on the
 * thief; its done callback is posted back and always runs on the spawning
 * shard.
 *
 * Runtime loop contract (per shard):
 *   ac_sched_run(s, budget);                        run ready tasks
 *   ... drain inboxes, submit and reap I/O ...
 *   if (!ac_sched_has_ready(s) && ac_sched_steal(s) == 0) {
 *       set the runtime's own "sleeping" flag; seq_cst fence;
 *       if (nothing else pending && ac_sched_sleep_prepare(s)) {
 *           block in io_uring_enter;                a wake() ends it
 *           ac_sched_sleep_done(s);
 *       }
 *   }
 * sleep_prepare comes after the runtime's flag so that a waker which sees
 * the scheduler's mark also sees the runtime's flag (docs/ARCHITECTURE.md,
 * section sched, lists the exact calls).
 */
#ifndef AGENTCORE_SCHED_H
#define AGENTCORE_SCHED_H

#include "agentcore/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Priority classes, highest first. */
enum ac_prio { AC_PRIO_HIGH, AC_PRIO_NORMAL, AC_PRIO_LOW, AC_PRIO_COUNT };

/*
 * Maps the original Go design's 0..100 priority level onto a class:
 * > 80 high, > 50 normal, anything else low. Any thread.
 */
enum ac_prio ac_prio_from_level(int level);

typedef void (*ac_task_fn)(void *arg);
/* res: 0 the task ran; -ETIMEDOUT past its deadline; -ECANCELED cancelled. */
typedef void (*ac_task_done_fn)(void *arg, int res);

typedef struct ac_sched ac_sched;
typedef struct ac_steal_group ac_steal_group;

/* Names a task for ac_task_cancel(); 0 never names a task. */
typedef uint64_t ac_task_id;

struct ac_sched_hooks { /* provided by the runtime; sched never includes runtime */
    void *arg;
    /* Runs fn(fnarg) on shard `shard` (cross-shard message); 0 or -EAGAIN
     * (inbox full: the scheduler keeps the message and retries on its next
     * ac_sched_run or ac_sched_steal). Called on the scheduler's shard. */
    int (*post)(void *arg, unsigned shard, void (*fn)(void *), void *fnarg);
    /* Wakes shard `shard` if it sleeps (IORING_OP_MSG_RING in the runtime).
     * Called on the scheduler's shard. */
    void (*wake)(void *arg, unsigned shard);
    /* Optional: runs after each task (the runtime's stall detector). */
    void (*after_task)(void *arg);
};

struct ac_sched_config {
    unsigned shard_id;
    unsigned weights[AC_PRIO_COUNT]; /* tasks per round per class, e.g. 8:4:1; each ≥ 1 */
    unsigned queue_size;             /* per class; a full class -> -EBUSY (≥ 1) */
    bool stealing;                   /* false: never steal and never wake peers */
    struct ac_sched_hooks hooks;
    /* Shared by all shards that steal from each other: the searcher cap
     * and the set of sleeping shards. NULL: no cap, no wake-ups. */
    ac_steal_group *group;
};

/* Fills `cfg` with the defaults: weights 8:4:1, queue_size 4096, stealing
 * on, no hooks, no group. Any thread. */
void ac_sched_config_default(struct ac_sched_config *cfg);

/*
 * Creates a scheduler for one shard. Returns 0 and `*out`, -EINVAL for a
 * zero weight or queue_size, or -ENOMEM. The caller owns the scheduler and
 * destroys it with ac_sched_destroy. Any thread (usually the shard's own, so
 * its memory is first touched on the shard's NUMA node).
 */
AC_MUST_USE int ac_sched_create(const struct ac_sched_config *cfg, ac_sched **out);

/*
 * Destroys a scheduler. Tasks still queued are dropped: their done callbacks
 * run here with -ECANCELED. Every shard must first have called
 * ac_sched_stop and run the messages that followed (no task of this
 * scheduler may still be held by a peer, and this scheduler may hold none of
 * a peer's); a violation panics. Owner, or any thread once shards stopped.
 */
void ac_sched_destroy(ac_sched *s);

/* Makes `s` the calling thread's scheduler for ac_spawn* and ac_task_cancel
 * (thread-local; NULL clears). Called at shard start. */
void ac_sched_set_current(ac_sched *s);

/* The calling thread's scheduler, or NULL. */
ac_sched *ac_sched_current(void);

/*
 * Tells `s` about every shard's scheduler (`peers[i]` is shard i's; n shards
 * including `s` itself) and the topology distance from this shard to each
 * (`distance[i]`: 0 same last-level cache, 1 same NUMA node, 2 remote; see
 * ac_sched_topology_distances). Victims are tried nearest level first, in
 * random order within a level. The arrays are copied. Returns 0, -EINVAL
 * (n too small for this shard id, peers[shard_id] != s, a distance > 2, or
 * stealing on without hooks.post), -EBUSY (completions of stolen tasks are
 * still waiting to be posted) or -ENOMEM. Owner, before the peers start
 * stealing.
 */
AC_MUST_USE int ac_sched_set_peers(ac_sched *s, ac_sched *const *peers, unsigned n,
                                   const uint8_t *distance);

/*
 * Runs at most `budget` tasks (cancelled and expired ones count too) by
 * weighted shares between the classes that have work: in each round class c
 * gets up to weights[c] tasks, highest class first, and a class with no work
 * gives up the rest of its turn. The round position persists across calls,
 * so small budgets keep the shares. Also flushes completions of stolen tasks
 * back to their shards. Ends early when ac_sched_yield was called during
 * the run. Before it runs a stealable task while more of them wait in its
 * deque, it wakes one sleeping peer (once per call), so queued work does
 * not wait for the next spawn to be seen. Returns the number of tasks
 * taken. Owner.
 */
unsigned ac_sched_run(ac_sched *s, unsigned budget);

/*
 * Ends the ac_sched_run in progress after the task that is running (from
 * a task or the after_task hook; e.g. the runtime's time slice per loop
 * turn, so long tasks never hold I/O back). The shares are kept: the
 * round resumes where it stopped. Owner.
 */
void ac_sched_yield(ac_sched *s);

/* True when some task is queued on this shard (own or stolen). Owner. */
bool ac_sched_has_ready(const ac_sched *s);

/*
 * When idle, before sleeping: tries the peers nearest first and moves half
 * of the first non-empty victim's stealable tasks (per class, at most 128
 * each) into this shard's queues. Does nothing when stealing is off, when
 * this shard has no peers, or when too many shards already search (at most
 * half of the group searches at once: Tokio's rule). Returns tasks taken.
 * Owner.
 */
unsigned ac_sched_steal(ac_sched *s);

/*
 * Announces that the shard is about to sleep: marks it sleeping in the
 * steal group, then looks at the peers' stealable work once more (work
 * queued just before the mark would otherwise not wake it). Returns true
 * when the caller may sleep, false (mark cleared) when it should instead
 * try ac_sched_steal again. Owner.
 */
bool ac_sched_sleep_prepare(ac_sched *s);

/* Clears the sleeping mark after the shard woke up. Owner. */
void ac_sched_sleep_done(ac_sched *s);

/*
 * First half of shutting down, while cross-shard messages still flow (the
 * runtime's stop phase one): turns stealing off for this shard (it neither
 * steals nor is stolen from nor wakes anyone any more), moves its own
 * stealable tasks to its local queues, sends stolen tasks it has not run
 * back home unrun (their done gets -ECANCELED) and posts pending
 * completions. Returns 0, or -EAGAIN when an inbox was full: call again.
 * Owner.
 */
AC_MUST_USE int ac_sched_stop(ac_sched *s);

/*
 * Queues fn(arg) on the current shard in class `prio`. Returns 0, -EBUSY
 * when that class' queue is full (nothing is queued), -EINVAL for a bad
 * class or no current scheduler, or -ENOMEM. Task structs come from a
 * per-scheduler free list, so steady state allocates nothing.
 * Current shard.
 */
AC_MUST_USE int ac_spawn(enum ac_prio prio, ac_task_fn fn, void *arg);

/*
 * Like ac_spawn, but any shard may take the task and run it (it must not
 * touch shard-owned state). `done(done_arg, res)` (may be NULL) runs on this
 * shard afterwards, whichever shard ran the task. Wakes a sleeping peer when
 * none is searching. On failure nothing is queued and done is never called.
 * Current shard.
 */
AC_MUST_USE int ac_spawn_stealable(enum ac_prio prio, ac_task_fn fn, void *arg,
                                   ac_task_done_fn done, void *done_arg);

struct ac_task_opts {
    uint64_t deadline_ns; /* absolute ac_now_ns() time; a task not started by
                           * then is dropped and done gets -ETIMEDOUT; 0: none */
    ac_task_done_fn done; /* may be NULL */
    void *done_arg;
    bool stealable;
};

/*
 * The general spawn: options as above, and the task's id in `*id` (may be
 * NULL) for ac_task_cancel. Returns as ac_spawn. Current shard.
 */
AC_MUST_USE int ac_spawn_opts(enum ac_prio prio, ac_task_fn fn, void *arg,
                              const struct ac_task_opts *opts, ac_task_id *id);

/*
 * Cancels a task that has not started: it will not run, and its done
 * callback runs with -ECANCELED when the task reaches the head of its queue
 * (on the spawning shard). Returns 0, or -ENOENT when the task already
 * started, finished, was cancelled, or `id` names no task of the current
 * shard. Current shard (the one that spawned it).
 */
AC_MUST_USE int ac_task_cancel(ac_task_id id);

/* Plain counters; the fate of a task is counted on the shard that spawned it. */
struct ac_sched_stats {
    uint64_t submitted;             /* spawns accepted */
    uint64_t completed;             /* of those: ran (done got 0) */
    uint64_t failed;                /* of those: never ran (timed out, cancelled, dropped) */
    uint64_t rejected;              /* spawns refused with -EBUSY */
    uint64_t stolen;                /* tasks this shard took from peers */
    uint64_t timed_out;             /* part of failed: past the deadline */
    uint64_t cancelled;             /* part of failed: ac_task_cancel */
    uint64_t ran;                   /* tasks this shard executed (own and stolen) */
    uint32_t queued[AC_PRIO_COUNT]; /* queue length per class (own tasks, incl. cancelled
                                     * ones not yet reached; stealable ones until taken) */
};

/* Copies the counters. Owner. */
void ac_sched_stats_get(const ac_sched *s, struct ac_sched_stats *out);

/*
 * How long the oldest stealable task of class `prio` spawned here has
 * been waiting at `now_ns` (0 when none waits): the queueing delay of
 * that class's stealable work, for admission control. Costs two loads
 * when the class has no stealable work. Owner.
 */
uint64_t ac_sched_steal_delay_ns(const ac_sched *s, enum ac_prio prio, uint64_t now_ns);

/*
 * Creates the object that shards which steal from each other share: the
 * count of searching shards (capped at half the group) and which of the
 * `nshards` shards sleep. Returns 0, -EINVAL (nshards 0) or -ENOMEM. The
 * runtime creates it before the schedulers, puts it into every config and
 * destroys it after them. Any thread.
 */
AC_MUST_USE int ac_steal_group_create(unsigned nshards, ac_steal_group **out);
void ac_steal_group_destroy(ac_steal_group *g);

/*
 * Topology distances for ac_sched_set_peers: for shard i pinned to CPU
 * cpus[i] and shard `self`, writes distance[i] = 0 when the two CPUs share
 * a last-level cache (sysfs cache topology), 1 when they share a NUMA node
 * (libnuma), else 2. Unknown topology counts as the same node. Returns 0 or
 * -EINVAL (self ≥ n). Any thread.
 */
AC_MUST_USE int ac_sched_topology_distances(const unsigned *cpus, unsigned n, unsigned self,
                                            uint8_t *distance);

#ifdef __cplusplus
}
#endif
#endif
