/* The log-linear histogram's bounds, merge and quantiles (hist.h). */
#include "agentcore/hist.h"

uint64_t ac_hist_bound_ns(unsigned i)
{
    if (i == 0)
        return 1024;
    unsigned k = 10 + (i - 1) / 2;
    return (i & 1) ? (3ull << k) / 2 : 2ull << k;
}

void ac_hist_merge(struct ac_hist *dst, const struct ac_hist *src)
{
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    for (unsigned i = 0; i <= AC_HIST_BUCKETS; i++)
        dst->bucket[i] += src->bucket[i];
}

double ac_hist_quantile(const struct ac_hist *h, double q)
{
    uint64_t total = 0;
    for (unsigned i = 0; i <= AC_HIST_BUCKETS; i++)
        total += h->bucket[i];
    if (!total)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    double rank = q * (double)total, seen = 0;
    for (unsigned i = 0; i < AC_HIST_BUCKETS; i++) {
        double n = (double)h->bucket[i];
        if (n > 0 && seen + n >= rank) {
            double lo = i ? (double)ac_hist_bound_ns(i - 1) : 0, hi = (double)ac_hist_bound_ns(i);
            return lo + (hi - lo) * ((rank - seen) / n);
        }
        seen += n;
    }
    return (double)ac_hist_bound_ns(AC_HIST_BUCKETS - 1);
}
