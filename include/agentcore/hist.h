/*
 * agentcore/hist.h — a log-linear latency histogram (base module): plain
 * counters that one thread writes and a scrape copies on that same thread
 * (runtime/metrics gathers them by cross-shard message), so recording is
 * a few plain adds — no atomic, no lock.
 *
 * Layout (fixed, so Prometheus `le` bounds never change): bucket 0 holds
 * values ≤ 1024 ns; then two buckets per doubling with upper bounds
 * 1.5·2^k and 2^(k+1) ns for k = 10..35; the last finite bound is 2^36 ns
 * (68.7 s); one more bucket holds everything above. A bucket holds
 * (lower, upper] like Prometheus' `le`. A quantile read from it is off by
 * at most one bucket's width (≤ 50 % of the value); ac_hist_quantile
 * interpolates linearly inside the bucket as histogram_quantile does.
 */
#ifndef AGENTCORE_HIST_H
#define AGENTCORE_HIST_H

#include "agentcore/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Finite buckets (bounds ac_hist_bound_ns(0 .. AC_HIST_BUCKETS-1)). */
#define AC_HIST_BUCKETS 53

struct ac_hist {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t bucket[AC_HIST_BUCKETS + 1]; /* not cumulative; the last: > 2^36 ns */
};

/* Bucket index of a value in ns. */
static inline unsigned ac_hist_index(uint64_t ns)
{
    uint64_t x = ns ? ns - 1 : 0; /* (lower, upper]: an exact bound stays below it */
    if (x < 1024)
        return 0;
    unsigned k = 63u - (unsigned)__builtin_clzll(x);
    unsigned i = 1 + (k - 10) * 2 + (unsigned)((x >> (k - 1)) & 1);
    return i < AC_HIST_BUCKETS ? i : AC_HIST_BUCKETS;
}

/* Records one value. The owning thread only. */
static inline void ac_hist_record(struct ac_hist *h, uint64_t ns)
{
    h->count++;
    h->sum_ns += ns;
    h->bucket[ac_hist_index(ns)]++;
}

/* Upper bound of bucket i (< AC_HIST_BUCKETS) in ns. */
uint64_t ac_hist_bound_ns(unsigned i);

/* Adds src's counts to dst. */
void ac_hist_merge(struct ac_hist *dst, const struct ac_hist *src);

/*
 * The q-quantile (0 ≤ q ≤ 1) in ns, interpolated linearly inside its
 * bucket (as Prometheus' histogram_quantile does). 0 for an empty
 * histogram; the last finite bound when it falls in the overflow bucket.
 */
double ac_hist_quantile(const struct ac_hist *h, double q);

#ifdef __cplusplus
}
#endif
#endif
