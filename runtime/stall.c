/*
 * After each callback: the stall detector, then the wake-ups for shards the
 * callback sent messages to (sent now, not at the end of the loop turn, so
 * a long turn never delays a sleeping shard's wake-up).
 *
 * Stall detector. The loop stamps the cycle counter once between callbacks
 * (the end of one is the start of the next), so timing every task,
 * message, timer and completion costs one rdtsc each (~13 ns here, against
 * ~29 ns for clock_gettime), not two clock reads.
 *
 * Attribution. A callback that knows a better name than the loop's kind
 * ("task", "timer", "recv"...) sets it with ac_shard_callback_name (one
 * store; agents do so before their handler); the check reads and clears
 * it. Stalls are counted per name in a small per-shard table with a
 * histogram each, read by the metrics scrape on the shard itself.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ac_shard_callback_name(const char *name)
{
    struct ac_shard *s = ac__shard_current();
    if (s)
        s->cb_name = name;
}

/* The table entry for `name`; the last slot takes every name past the table. */
static struct ac_stall_stats *stall_entry(struct ac_shard *self, const char *name)
{
    if (!self->stalls) {
        self->stalls = calloc(AC_STALL_NAMES, sizeof *self->stalls);
        if (!self->stalls)
            return NULL;
    }
    for (unsigned i = 0; i < self->nstalls; i++)
        if (strncmp(self->stalls[i].name, name, sizeof self->stalls[i].name - 1) == 0)
            return &self->stalls[i];
    if (self->nstalls == AC_STALL_NAMES - 1)
        name = "other";
    if (self->nstalls == AC_STALL_NAMES)
        return &self->stalls[AC_STALL_NAMES - 1];
    struct ac_stall_stats *e = &self->stalls[self->nstalls++];
    snprintf(e->name, sizeof e->name, "%s", name);
    return e;
}

unsigned ac_shard_stalls(struct ac_stall_stats *out, unsigned cap)
{
    struct ac_shard *s = ac__shard_current();
    unsigned n = 0;
    if (!s)
        return 0;
    for (; n < s->nstalls && n < cap; n++)
        out[n] = s->stalls[n];
    return n;
}

void ac__stall_mark(struct ac_shard *self)
{
    self->stall_mark = ac_cycles();
}

static void stall_check(struct ac_shard *self, const char *what)
{
    uint64_t now = ac_cycles();
    uint64_t took = now - self->stall_mark;
    const char *name = self->cb_name;
    self->stall_mark = now;
    self->cb_name = NULL;
    if (AC_UNLIKELY(took > self->rt->stall_threshold_cycles)) {
        uint64_t ns = (uint64_t)((double)took / ac_cycles_per_ns());
        struct ac_stall_stats *e = stall_entry(self, name ? name : what);
        AC_STAT_INC(self->stats.stalls);
        if (ns > atomic_load_explicit(&self->stats.stall_max_ns, memory_order_relaxed))
            atomic_store_explicit(&self->stats.stall_max_ns, ns, memory_order_relaxed);
        if (e)
            ac_hist_record(&e->hist, ns);
        double ms = (double)ns / 1e6, limit = (double)self->rt->cfg.stall_threshold_ns / 1e6;
        if (name)
            ac_log_warn("stall: callback \"%s\" (a %s) on shard %u ran %.3f ms (threshold %.3f ms)",
                        name, what, self->id, ms, limit);
        else
            ac_log_warn("stall: a %s callback on shard %u ran %.3f ms (threshold %.3f ms)", what,
                        self->id, ms, limit);
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
