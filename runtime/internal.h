/* runtime module private declarations: the runtime and shard objects. */
#ifndef AC_RUNTIME_INTERNAL_H
#define AC_RUNTIME_INTERNAL_H

#include "agentcore/ring.h"
#include "agentcore/runtime.h"
#include "agentcore/sched.h"
#include "agentcore/timer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/signalfd.h>

struct ac_msg {
    ac_msg_fn fn;
    void *arg;
};

/*
 * Single-producer single-consumer ring for one (source, target) pair.
 * Producer and consumer indices live on separate cache lines; the producer
 * caches the consumer's index so a push that finds room touches no line
 * the consumer writes (Rigtorp's layout). The consumer reads `tail` once
 * per drain.
 */
struct ac_spsc {
    _Alignas(AC_CACHELINE) _Atomic uint32_t tail; /* written by the producer */
    uint32_t head_cache;                          /* producer's view of head */
    _Alignas(AC_CACHELINE) _Atomic uint32_t head; /* written by the consumer */
    _Alignas(AC_CACHELINE) uint32_t mask;
    struct ac_msg *slots;
};

/*
 * Bounded multi-producer single-consumer queue (Vyukov's bounded MPMC
 * algorithm with one consumer) for messages from non-shard threads.
 */
struct ac_mpsc_cell {
    _Atomic uint32_t seq;
    struct ac_msg msg;
};
struct ac_mpsc {
    _Alignas(AC_CACHELINE) _Atomic uint32_t tail; /* producers claim here */
    _Alignas(AC_CACHELINE) uint32_t head;         /* consumer only */
    uint32_t mask;
    struct ac_mpsc_cell *cells;
};

/* Counter update by the single writer; others read it with a relaxed load. */
#define AC_STAT_ADD(field, n)                                                                      \
    atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (n),    \
                          memory_order_relaxed)
#define AC_STAT_INC(field) AC_STAT_ADD(field, 1)

struct ac_shard_counters {
    _Atomic uint64_t loops, sleeps, enters, completions, msgs_sent, msgs_run, msgs_full, wakes_sent,
        wakes_received, timers_fired, stalls, stall_max_ns;
};

struct ac_shard {
    /* Read by other shards: the wake-up handshake and the ring fd. */
    _Alignas(AC_CACHELINE) _Atomic uint32_t sleeping;
    _Atomic int ring_fd; /* -1 until the shard's ring exists */

    /* Owned by the shard's thread. */
    _Alignas(AC_CACHELINE) struct ac_runtime *rt;
    unsigned id;
    int cpu, node;
    pthread_t thread;
    struct ac_ring *ring;
    struct ac_timer_wheel wheel;
    ac_sched *sched;
    struct ac_heap *heap; /* this shard's memory (mem.h) */
    struct ac_timer heap_timer;
    uint64_t *wake_pending;    /* bitmap: shards we sent to since the last flush */
    bool wake_any;             /* wake_pending has a bit set */
    bool closed;               /* stop seen: sending side closed */
    bool stop_hook_ran;        /* on_shard_stop has run */
    bool sched_stopped;        /* ac_sched_stop has returned 0 */
    unsigned stop_holds;       /* ac_shard_hold_stop count */
    uint64_t stop_deadline_ns; /* close regardless of holds after this */
    uint64_t stall_mark;       /* ac_cycles() at the start of the timed callback */
    uint64_t turn_mark;        /* ac_cycles() when this turn started running tasks */
    const char *cb_name;       /* ac_shard_callback_name of the running callback */
    unsigned nstalls;          /* entries used in `stalls` */
    struct ac_stall_stats *stalls; /* [AC_STALL_NAMES], allocated on the first stall */
    int start_err;             /* set before the start barrier */

    /* SIGINT/SIGTERM, shard 0 only */
    int signal_fd;
    struct ac_op signal_op;
    struct signalfd_siginfo siginfo;

    struct ac_mpsc ext_inbox; /* from non-shard threads */
    _Alignas(AC_CACHELINE) struct ac_shard_counters stats;
};

struct ac_runtime {
    ac_runtime_config cfg;
    enum ac_ring_backend backend; /* resolved: IO_URING or EPOLL */
    uint64_t stall_threshold_cycles;
    uint64_t task_slice_cycles;
    unsigned nshards;
    struct ac_shard *shards;
    /* spsc[src * nshards + dst] */
    struct ac_spsc *spsc;
    ac_steal_group *steal_group;
    ac_sched **scheds; /* every shard's scheduler, for set_peers */

    /* Start gate: shards wait until every ring exists (or start failed). */
    pthread_mutex_t gate_lock;
    pthread_cond_t gate_cond;
    unsigned booted; /* shards that finished booting */
    bool gate_abort; /* a shard thread could not be created */
    bool ran;

    _Alignas(AC_CACHELINE) _Atomic bool stop_requested;
    _Atomic unsigned closed_shards; /* shards whose sending side is closed */
    _Atomic unsigned ext_inflight;  /* non-shard submissions in progress */

    /* Wake-ups from non-shard threads go through this ring. */
    pthread_mutex_t ext_lock;
    struct ac_ring *ext_ring;
};

/* The calling thread's shard, or NULL. */
struct ac_shard *ac__shard_current(void);

/* msg.c */
AC_MUST_USE int ac__msg_init(struct ac_runtime *rt);
void ac__msg_fini(struct ac_runtime *rt);
/* Runs queued messages from every source; returns how many ran. */
unsigned ac__msg_drain(struct ac_shard *self);
/* True when any inbox of `self` holds a message. */
bool ac__msg_pending(const struct ac_shard *self);
/* Wakes every shard this shard sent to since the last call, if asleep.
 * Called before each io_uring_enter of the shard. */
void ac__msg_flush_wakes(struct ac_shard *self);
/* Wakes `target` if it sleeps (from a shard: via its ring; else ext ring). */
void ac__shard_wake(struct ac_runtime *rt, struct ac_shard *target);

/* memory.c: the heap attached to each shard */
AC_MUST_USE int ac__memory_boot(struct ac_shard *s);
AC_MUST_USE int ac__memory_start(struct ac_shard *s);
void ac__memory_fini(struct ac_shard *s);

/* tasks.c: the scheduler attached to each shard */
AC_MUST_USE int ac__tasks_boot(struct ac_shard *s);
AC_MUST_USE int ac__tasks_connect(struct ac_shard *s);
void ac__tasks_fini(struct ac_runtime *rt);

/* stall.c: what runs after every task, message, timer and completion */
void ac__stall_mark(struct ac_shard *self);
/* The stall check, then the wake-ups the callback's messages need. */
void ac__after_callback(struct ac_shard *self, const char *what);
void ac__after_callback_hook(void *arg, const char *what);

/* backend.c: which backend the shards use */
/* Resolves `want` (AUTO: environment, io_uring, epoll; logs a fallback or
 * a refusal once, naming the cause). 0 and *out, or -errno. */
AC_MUST_USE int ac__backend_choose(enum ac_ring_backend want, enum ac_ring_backend *out);

/* signals.c */
AC_MUST_USE int ac__signals_block(sigset_t *old);
void ac__signals_restore(const sigset_t *old);
AC_MUST_USE int ac__signals_start(struct ac_shard *shard0);
void ac__signals_close(struct ac_shard *shard0);

/* shard.c */
void *ac__shard_main(void *arg);
/* Start gate: true when every shard booted and none failed. */
bool ac__gate_wait(struct ac_runtime *rt);
void ac__gate_abort(struct ac_runtime *rt);

#endif
