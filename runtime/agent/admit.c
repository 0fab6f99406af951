/*
 * Admission by queueing delay (CoDel's control law, at the door).
 *
 * Queue length says little about latency: 600 queued 1 ms calls wait
 * 600 ms, 600 queued echo calls a few microseconds. So calls are refused
 * (503 + Retry-After, code "overloaded") when the time calls of a class
 * wait on a shard has stayed above `target` for a whole `interval`, the
 * way CoDel decides to drop.
 *
 * The wait is sampled twice per call:
 *   - at arrival, predicted: the age of the oldest queued call of the
 *     class, or the calls queued ahead times the class's recent handler
 *     run time (a shard runs a batch of handlers back to back, so a whole
 *     burst arrives before any of it waits), or the age of the oldest
 *     stealable task of the class no shard has taken (the compute agent's
 *     work: ac_sched_steal_delay_ns) — the largest;
 *   - when the handler starts, measured: the call's sojourn in the queue.
 * Each sample drives one state machine per agent and shard:
 *   - below target: admit; forget when it went above; stop shedding;
 *   - above since less than `interval`: admit (a burst is not overload),
 *     unless shedding stopped less than `interval` ago (CoDel re-enters at
 *     once when the queue comes back soon after);
 *   - above for `interval` or more: shed.
 * While shedding, an arriving call whose predicted wait is above target
 * gets 503 at once, before any work is spent on it; a queued call whose
 * measured wait is above target gets 503 when it reaches the head instead
 * of running (the batch that was admitted before shedding began). So
 * admitted calls wait about `target`; the rest are told to come back.
 * High-class calls have their own queue, which the scheduler serves first
 * by weight: their wait stays low and they keep being admitted while
 * lower classes shed.
 */
#include "internal.h"

#include "agentcore/base.h"
#include "agentcore/sched.h"

static const enum ac_prio class_prio[] = {
    [AC_AGENT_HIGH] = AC_PRIO_HIGH,
    [AC_AGENT_NORMAL] = AC_PRIO_NORMAL,
    [AC_AGENT_LOW] = AC_PRIO_LOW,
};

/* Weight of a new sample in the class's handler run time (1/8, as TCP's srtt). */
#define EWMA_SHIFT 3

void ac__admit_queue_push(struct ac__agent_shard *sh, enum ac_agent_class cls, struct ac__queued *q,
                          uint64_t now_ns)
{
    q->since_ns = now_ns;
    q->cls = (uint8_t)cls;
    q->linked = true;
    TAILQ_INSERT_TAIL(&sh->queued[cls], q, link);
    sh->nqueued[cls]++;
}

void ac__admit_queue_remove(struct ac__agent_shard *sh, struct ac__queued *q)
{
    if (!q->linked)
        return;
    TAILQ_REMOVE(&sh->queued[q->cls], q, link);
    q->linked = false;
    sh->nqueued[q->cls]--;
}

uint64_t ac__admit_delay_ns(const struct ac__agent_shard *sh, enum ac_agent_class cls,
                            uint64_t now_ns)
{
    const struct ac__queued *q = TAILQ_FIRST(&sh->queued[cls]);
    uint64_t d = q && now_ns > q->since_ns ? now_ns - q->since_ns : 0;
    uint64_t ahead = (uint64_t)sh->nqueued[cls] * sh->run_ns[cls];
    if (ahead > d)
        d = ahead;
    ac_sched *s = ac_sched_current();
    if (s) {
        uint64_t w = ac_sched_steal_delay_ns(s, class_prio[cls], now_ns);
        if (w > d)
            d = w;
    }
    return d;
}

/* One sample of the wait `d`: moves the state machine (see the top). */
static void sample(struct ac__agent *a, uint64_t d, uint64_t now_ns)
{
    struct ac__admit *st = &a->admit;
    uint64_t interval = a->def.admit_interval_ns;
    if (d < a->def.admit_target_ns) {
        st->above_since = 0;
        if (st->shedding) {
            st->shedding = false;
            st->left_ns = now_ns;
        }
        return;
    }
    if (st->shedding)
        return;
    if (!st->above_since)
        st->above_since = now_ns;
    bool recent = st->left_ns && now_ns - st->left_ns < interval;
    if (!recent && now_ns - st->above_since < interval)
        return;
    st->shedding = true;
    AC_AGENT_STAT_ADD(a->c.shed_periods, 1);
    if (!st->logged) {
        st->logged = true; /* once per agent and shard: the counters tell the rest */
        ac_log_warn("agent \"%s\": calls waited %llu ms (target %llu ms) for %llu ms: "
                    "refusing calls with 503 while they wait longer than the target "
                    "(counted in \"shed\"; logged once)",
                    a->def.name, (unsigned long long)(d / 1000000),
                    (unsigned long long)(a->def.admit_target_ns / 1000000),
                    (unsigned long long)(interval / 1000000));
    }
}

bool ac__admit(struct ac__agent_shard *sh, struct ac__agent *a, uint64_t now_ns)
{
    if (!a->def.admit_target_ns)
        return true; /* off */
    uint64_t d = ac__admit_delay_ns(sh, a->def.priority, now_ns);
    sample(a, d, now_ns);
    if (!a->admit.shedding || d < a->def.admit_target_ns)
        return true;
    AC_AGENT_STAT_ADD(a->c.shed, 1);
    return false;
}

bool ac__admit_start(struct ac__agent_shard *sh, struct ac__agent *a, struct ac__queued *q,
                     uint64_t now_ns)
{
    uint64_t d = now_ns > q->since_ns ? now_ns - q->since_ns : 0;
    ac__admit_queue_remove(sh, q);
    if (!a->def.admit_target_ns)
        return true;
    sample(a, d, now_ns);
    if (!a->admit.shedding || d < a->def.admit_target_ns)
        return true;
    AC_AGENT_STAT_ADD(a->c.shed, 1);
    return false;
}

void ac__admit_ran(struct ac__agent_shard *sh, enum ac_agent_class cls, uint64_t ns)
{
    int64_t diff = (int64_t)ns - (int64_t)sh->run_ns[cls];
    sh->run_ns[cls] = (uint64_t)((int64_t)sh->run_ns[cls] + diff / (1 << EWMA_SHIFT));
}
