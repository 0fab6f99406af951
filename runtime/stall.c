/*
 * Stall detector. The loop reads the clock once between callbacks (the end
 * of one is the start of the next), so timing every task, message, timer
 * and completion costs one vDSO clock read each (~20 ns), not two.
 */
#include "internal.h"

void ac__stall_mark(struct ac_shard *self)
{
    self->stall_mark_ns = ac_now_ns();
}

void ac__stall_check(struct ac_shard *self, const char *what)
{
    uint64_t now = ac_now_ns();
    uint64_t took = now - self->stall_mark_ns;
    self->stall_mark_ns = now;
    if (AC_UNLIKELY(took > self->rt->cfg.stall_threshold_ns)) {
        AC_STAT_INC(self->stats.stalls);
        if (took > atomic_load_explicit(&self->stats.stall_max_ns, memory_order_relaxed))
            atomic_store_explicit(&self->stats.stall_max_ns, took, memory_order_relaxed);
        ac_log_warn("stall: a %s callback on shard %u ran %.3f ms (threshold %.3f ms)", what,
                    self->id, (double)took / 1e6, (double)self->rt->cfg.stall_threshold_ns / 1e6);
    }
}

void ac__stall_hook(void *arg, const char *what)
{
    ac__stall_check(arg, what);
}
