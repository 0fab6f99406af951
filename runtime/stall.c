/*
 * After each callback: the stall detector, then the wake-ups for shards the
 * callback sent messages to (sent now, not at the end of the loop turn, so
 * a long turn never delays a sleeping shard's wake-up).
 *
 * Stall detector. The loop stamps the cycle counter once between callbacks
 * (the end of one is the start of the next), so timing every task,
 * message, timer and completion costs one rdtsc each (~13 ns here, against
 * ~29 ns for clock_gettime), not two clock reads.
 */
#include "internal.h"

void ac__stall_mark(struct ac_shard *self)
{
    self->stall_mark = ac_cycles();
}

static void stall_check(struct ac_shard *self, const char *what)
{
    uint64_t now = ac_cycles();
    uint64_t took = now - self->stall_mark;
    self->stall_mark = now;
    if (AC_UNLIKELY(took > self->rt->stall_threshold_cycles)) {
        uint64_t ns = (uint64_t)((double)took / ac_cycles_per_ns());
        AC_STAT_INC(self->stats.stalls);
        if (ns > atomic_load_explicit(&self->stats.stall_max_ns, memory_order_relaxed))
            atomic_store_explicit(&self->stats.stall_max_ns, ns, memory_order_relaxed);
        ac_log_warn("stall: a %s callback on shard %u ran %.3f ms (threshold %.3f ms)", what,
                    self->id, (double)ns / 1e6, (double)self->rt->cfg.stall_threshold_ns / 1e6);
    }
}

void ac__after_callback(struct ac_shard *self, const char *what)
{
    stall_check(self, what);
    if (self->wake_any)
        ac__msg_flush_wakes(self);
}

void ac__after_callback_hook(void *arg, const char *what)
{
    ac__after_callback(arg, what);
}
