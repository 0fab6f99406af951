/*
 * Calibration of ac_cycles() against CLOCK_MONOTONIC. Computed once per
 * process (pthread_once) and never written again, so it is shared
 * read-only state, not per-shard mutable state.
 */
#include "agentcore/base.h"

#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static double per_ns = 1.0;

static void calibrate(void)
{
#if defined(__x86_64__) || defined(__i386__)
    uint64_t t0 = ac_now_ns(), c0 = ac_cycles(), t1, c1;
    do {
        t1 = ac_now_ns();
        c1 = ac_cycles();
    } while (t1 - t0 < 2000000);
    per_ns = (double)(c1 - c0) / (double)(t1 - t0);
    if (per_ns <= 0)
        per_ns = 1.0;
#endif
}

double ac_cycles_per_ns(void)
{
    pthread_once(&once, calibrate);
    return per_ns;
}
