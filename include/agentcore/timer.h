/*
 * agentcore/timer.h — per-shard timers (part of the sched module).
 *
 * Every shard owns one hierarchical timer wheel; its loop sleeps until the
 * nearest deadline. Timers fire on the shard that started them, in deadline
 * order (FIFO among equal deadlines), never before their deadline.
 *
 * Ownership: struct ac_timer is caller-owned, zero-initialised before its
 * first start, and embedded in the caller's
 * object. It must stay valid until it fires or ac_timer_cancel() returns;
 * from inside its own callback it may be freed or restarted.
 */
#ifndef AGENTCORE_TIMER_H
#define AGENTCORE_TIMER_H

#include "agentcore/base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ac_timer;
typedef void (*ac_timer_fn)(struct ac_timer *t, void *arg);

struct ac_timer {
    ac_timer_fn cb;
    void *arg;
    /* private: the wheel's bookkeeping */
    uint64_t deadline;
    struct ac_timer *next, *prev;
    uint8_t level, slot;
    bool armed;
};

/*
 * Arms `t` to call cb(t, arg) on the calling shard once `delay_ns` has
 * passed (0: on the next loop turn). Returns 0, -EALREADY if `t` is armed,
 * or -ENXIO when the calling thread is not a shard. Calling shard only;
 * `t` must not be armed on another shard.
 */
AC_MUST_USE int ac_timer_start(struct ac_timer *t, uint64_t delay_ns, ac_timer_fn cb, void *arg);

/* As ac_timer_start, with an absolute CLOCK_MONOTONIC deadline in ns. */
AC_MUST_USE int ac_timer_start_at(struct ac_timer *t, uint64_t deadline_ns, ac_timer_fn cb,
                                  void *arg);

/*
 * Disarms `t`. Returns true when it was armed (its callback will not run),
 * false when it had fired or was never started. Owning shard only.
 */
bool ac_timer_cancel(struct ac_timer *t);

/* True while `t` is armed. Owning shard only. */
static inline bool ac_timer_armed(const struct ac_timer *t)
{
    return t->armed;
}

/*
 * The wheel itself, for the runtime (one per shard) and for tests.
 * All calls on the owning thread only.
 */
#define AC_WHEEL_LEVELS 6
#define AC_WHEEL_SLOTS  64

struct ac_timer_wheel {
    uint64_t cur;   /* next tick to process; earlier ticks are done */
    uint64_t count; /* armed timers */
    bool expiring;
    struct ac_timer *deferred; /* started during expiry with a due deadline */
    uint64_t bitmap[AC_WHEEL_LEVELS];
    struct ac_timer *slots[AC_WHEEL_LEVELS][AC_WHEEL_SLOTS];
};

/* Initialises an empty wheel whose time starts at `now_ns`. */
void ac_timer_wheel_init(struct ac_timer_wheel *w, uint64_t now_ns);

/* Arms `t` (cb/arg already set) at absolute `deadline_ns`. */
void ac_timer_wheel_add(struct ac_timer_wheel *w, struct ac_timer *t, uint64_t deadline_ns);

/* Unlinks an armed timer. */
void ac_timer_wheel_del(struct ac_timer_wheel *w, struct ac_timer *t);

/*
 * Fires every timer whose deadline is ≤ now_ns, in deadline order.
 * Returns how many fired. Timers started by callbacks with a deadline that
 * is already due fire on the next call, not in this one (so a callback that
 * restarts itself with delay 0 cannot starve the loop).
 */
unsigned ac_timer_wheel_expire(struct ac_timer_wheel *w, uint64_t now_ns);

/*
 * When the loop should next look at the wheel: the nearest deadline, or an
 * earlier time at which far timers move down a level. UINT64_MAX if no
 * timer is armed.
 */
uint64_t ac_timer_wheel_next(const struct ac_timer_wheel *w);

/* Makes `w` the wheel ac_timer_start uses on the calling thread (or NULL). */
void ac_timer_wheel_set_current(struct ac_timer_wheel *w);

#ifdef __cplusplus
}
#endif
#endif
