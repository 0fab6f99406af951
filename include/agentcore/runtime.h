/*
 * agentcore/runtime.h — shards (one pinned thread per CPU, each with its
 * own io_uring), their loop, and cross-shard messages.
 *
 * A runtime owns N shards. Each shard runs, per loop turn: ready tasks
 * (ac_spawn, see sched.h), expired timers, its cross-shard inboxes, then
 * — if idle — tries to steal stealable tasks, then one io_uring_enter that
 * submits everything queued and sleeps until a completion, a message or
 * the nearest timer — then dispatches the completions. Nothing is shared
 * between shards except the message rings.
 *
 * Lifecycle: ac_runtime_create → ac_runtime_run (blocks; once) →
 * ac_runtime_destroy. ac_runtime_stop may come from any thread, or from
 * SIGINT/SIGTERM when handle_signals is set.
 */
#ifndef AGENTCORE_RUNTIME_H
#define AGENTCORE_RUNTIME_H

#include "agentcore/base.h"
#include "agentcore/hist.h"
#include "agentcore/ring.h"
#include "agentcore/sched.h"

struct ac_heap_stats;

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ac_runtime ac_runtime;

/* A cross-shard message: fn(arg) runs on the target shard. */
typedef void (*ac_msg_fn)(void *arg);

/* Called on each shard (shard = its index), see on_shard_start/stop. */
typedef void (*ac_shard_hook_fn)(void *arg, unsigned shard);

#define AC_SHARD_NONE (~0u)

typedef struct ac_runtime_config {
    /* Where shards run. Precedence: cpus, then numa_node, then the
     * process' affinity mask (the default). */
    const char *cpus;   /* CPU list, e.g. "0-3,6"; NULL: not set */
    int numa_node;      /* ≥ 0: every CPU of that node; -1: not set */
    unsigned shards;    /* 0: one per CPU; fewer uses the first CPUs */
    bool oversubscribe; /* allow more shards than CPUs (round-robin) */

    /* I/O backend: AUTO (the default) takes AC_BACKEND from the
     * environment, else io_uring, else epoll with one warning naming why
     * io_uring was refused; IO_URING fails (-EPERM, -ENOSYS, -EOPNOTSUPP)
     * with an error naming the cause and the fix; EPOLL always works. */
    enum ac_ring_backend backend;

    /* io_uring */
    bool sqpoll;           /* kernel SQ polling thread per shard */
    unsigned ring_entries; /* SQ size per shard (default 256) */

    /* cross-shard messages */
    unsigned msg_ring_size;  /* per (source, target) pair, power of 2 (default 1024) */
    unsigned ext_inbox_size; /* per shard, for non-shard threads (default 1024) */

    /* tasks (sched.h): per loop turn at most task_budget tasks run, by
     * weighted shares between the classes, and no new one starts once
     * task_slice_ns have passed in the turn (long tasks never hold I/O,
     * messages and completions back for more than one task); 0 fields
     * take the defaults */
    unsigned task_budget;                  /* default 64 */
    uint64_t task_slice_ns;                /* default 250 us */
    unsigned sched_weights[AC_PRIO_COUNT]; /* default 8:4:1 */
    unsigned sched_queue_size;             /* per class, default 4096 */
    bool no_stealing;                      /* never steal stealable tasks */

    /* memory (mem.h): each shard's heap on its NUMA node */
    size_t memory_limit;             /* bytes per shard; 0: no budget */
    uint64_t memory_idle_release_ns; /* idle empty slabs go back to the OS (default 5 s) */
    bool memory_hugetlb;             /* try MAP_HUGETLB chunks first */

    /* stall detector: a callback running longer is counted and logged */
    uint64_t stall_threshold_ns; /* default 10 ms */

    /* SIGINT/SIGTERM stop the runtime, SIGHUP reopens the log file
     * (ac_log_reopen); all read through shard 0's ring */
    bool handle_signals;

    /* longest a shard waits for its stop holds (ac_shard_hold_stop) */
    uint64_t stop_timeout_ns; /* default 5 s */

    /* hooks, run on every shard: after all shards booted / when stopping */
    ac_shard_hook_fn on_shard_start;
    ac_shard_hook_fn on_shard_stop;
    void *hook_arg;
} ac_runtime_config;

/* Fills `cfg` with the defaults documented above (handle_signals = true). */
void ac_runtime_config_init(ac_runtime_config *cfg);

/*
 * Resolves CPUs and allocates the runtime; no thread starts yet.
 * Returns 0 and *out, -EINVAL for a malformed CPU list, a CPU outside the
 * process' affinity mask, an unknown NUMA node or too many shards without
 * oversubscribe (each logged with the reason), or -ENOMEM. Any thread.
 */
AC_MUST_USE int ac_runtime_create(const ac_runtime_config *cfg, ac_runtime **out);

/*
 * Starts the shards and blocks until the runtime stops and every shard
 * thread has exited. Returns 0, or -errno when a shard could not start
 * (e.g. io_uring set-up failed; logged). Call once, from a non-shard thread.
 * With handle_signals, SIGINT, SIGTERM and SIGHUP are blocked in the
 * calling thread during the call; other threads of the process should
 * block them too.
 */
AC_MUST_USE int ac_runtime_run(ac_runtime *rt);

/*
 * Asks every shard to stop: each runs its on_shard_stop hook, keeps running
 * while it holds stop holds (ac_shard_hold_stop; at most stop_timeout_ns),
 * then closes its sending side (later ac_submit_to calls get -ECANCELED);
 * once all shards have closed, each runs the messages still in its inboxes
 * and exits.
 * Pending timers and in-flight I/O are dropped without callbacks.
 * Idempotent; any thread, also before ac_runtime_run (which then returns
 * at once after booting).
 */
void ac_runtime_stop(ac_runtime *rt);

/* Frees the runtime. Not while ac_runtime_run is running. */
void ac_runtime_destroy(ac_runtime *rt);

/* The backend the shards run on (IO_URING or EPOLL, never AUTO). Any thread. */
enum ac_ring_backend ac_runtime_backend(const ac_runtime *rt);

/*
 * What this host allows agentcore (`agentd --capabilities`): the backend
 * AUTO picks, what io_uring offers (or why it is refused), resource limits,
 * NUMA nodes and CPUs. Plain data, so exporters can publish it.
 */
struct ac_capabilities {
    enum ac_ring_backend backend;       /* what AUTO picks here (AC_BACKEND applied) */
    struct ac_uring_probe uring;        /* io_uring: usable, or the cause; features */
    uint64_t memlock_cur, memlock_max;  /* RLIMIT_MEMLOCK bytes; UINT64_MAX: unlimited */
    uint64_t nofile_cur, nofile_max;    /* RLIMIT_NOFILE */
    int numa_nodes;                     /* configured nodes; 0: no NUMA support */
    unsigned cpus_online, cpus_allowed; /* online; in this process' affinity mask */
};

/* Probes the host (creates and destroys a few io_uring rings). Any thread. */
void ac_capabilities_probe(struct ac_capabilities *out);

/*
 * Writes the report into buf (NUL-terminated, truncated to len): one line
 * per capability with its value and what agentcore does without it.
 * Returns the length the whole report needs (as snprintf).
 */
size_t ac_capabilities_report(const struct ac_capabilities *c, char *buf, size_t len);

/* One line, "backend=... io_uring=... ...", for start-up logs. */
void ac_capabilities_summary(const struct ac_capabilities *c, char *buf, size_t len);

/* Number of shards. Any thread. */
unsigned ac_runtime_shard_count(const ac_runtime *rt);

/* CPU that shard `shard` is pinned to, or -EINVAL. Any thread. */
int ac_runtime_shard_cpu(const ac_runtime *rt, unsigned shard);

/* NUMA node of shard `shard`'s CPU (0 without NUMA), or -EINVAL. */
int ac_runtime_shard_node(const ac_runtime *rt, unsigned shard);

/*
 * Runs fn(arg) on shard `shard`. From a shard: through the single-producer
 * ring of the (this, target) pair — messages between one pair run in the
 * order they were sent. From any other thread: through the target's
 * multi-producer inbox (FIFO per sending thread). An idle target is woken
 * with IORING_OP_MSG_RING. Returns 0; -EAGAIN when the ring stays full
 * after a bounded retry (nothing was queued: try again later);
 * -ECANCELED once stopping; -EINVAL for a bad shard. When it fails, fn is
 * never called.
 */
AC_MUST_USE int ac_runtime_submit(ac_runtime *rt, unsigned shard, ac_msg_fn fn, void *arg);

/* ac_runtime_submit on the calling shard's runtime. Shard threads only
 * (-ENXIO elsewhere). */
AC_MUST_USE int ac_submit_to(unsigned shard, ac_msg_fn fn, void *arg);

/*
 * Delays the calling shard's stop: while holds remain after the stop hook
 * ran, the shard keeps running its loop (e.g. to let in-flight writes
 * finish), up to stop_timeout_ns. Each hold is given back with
 * ac_shard_release_stop. Shard threads only.
 */
void ac_shard_hold_stop(void);
void ac_shard_release_stop(void);

/* Index of the calling shard, or AC_SHARD_NONE on other threads. */
unsigned ac_shard_id(void);

/* The runtime of the calling shard, or NULL on other threads. */
ac_runtime *ac_runtime_current(void);

/* Per-shard counters. Written by the owning shard only. */
struct ac_shard_stats {
    uint64_t loops;          /* loop turns */
    uint64_t sleeps;         /* turns that waited in the kernel */
    uint64_t enters;         /* io_uring_enter calls */
    uint64_t completions;    /* CQEs dispatched */
    uint64_t msgs_sent;      /* messages queued by this shard */
    uint64_t msgs_run;       /* messages run on this shard */
    uint64_t msgs_full;      /* submissions refused with -EAGAIN (ring full) */
    uint64_t wakes_sent;     /* MSG_RING wake-ups sent */
    uint64_t wakes_received; /* wake-up CQEs received */
    uint64_t timers_fired;
    uint64_t stalls;       /* callbacks over the stall threshold */
    uint64_t stall_max_ns; /* longest such callback */
};

/*
 * Copies shard `shard`'s counters (each read atomically; the set is not a
 * single snapshot). Returns 0 or -EINVAL. Any thread.
 */
AC_MUST_USE int ac_runtime_shard_stats(const ac_runtime *rt, unsigned shard,
                                       struct ac_shard_stats *out);

/*
 * Copies the calling shard's heap counters. The heap is owned by its shard,
 * so `shard` must be the calling shard (ask others with a message).
 * Returns 0 or -EINVAL.
 */
AC_MUST_USE int ac_runtime_shard_heap_stats(const ac_runtime *rt, unsigned shard,
                                            struct ac_heap_stats *out);

/*
 * Names the callback now running on the calling shard, so that a stall in
 * it is counted and logged under this name (e.g. the agent's) instead of
 * the loop's generic "task", "message", "timer" or completion kind. The
 * name holds until the current callback returns; `name` must stay valid
 * that long (it is copied only when a stall is recorded). One store;
 * ignored off shard threads.
 */
void ac_shard_callback_name(const char *name);

/* Distinct callback names the stall table keeps per shard; more count as "other". */
#define AC_STALL_NAMES 16

/* Stalls of one callback name on one shard (hist.count is the number). */
struct ac_stall_stats {
    char name[64];
    struct ac_hist hist; /* how long each stalled callback ran */
};

/*
 * Copies the calling shard's stall table (at most `cap` entries, in the
 * order names first stalled). Returns the number written. Shard threads
 * only (0 elsewhere): the table is plain memory of its shard.
 */
unsigned ac_shard_stalls(struct ac_stall_stats *out, unsigned cap);

#ifdef __cplusplus
}
#endif
#endif
