/*
 * Calibration of ac_cycles() against CLOCK_MONOTONIC. Computed once per
 * process (pthread_once) and never written again, so it is shared
 * read-only state, not per-shard mutable state.
 *
 * Each clock reading is bracketed by two cycle readings, and of several
 * tries the narrowest bracket is kept: a preemption between the two reads
 * (likely on a busy machine) would otherwise skew the ratio by the length
 * of the preemption — seen as a 30 ms stall measured as 9 ms.
 */
#include "agentcore/base.h"

#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static double per_ns = 1.0;

#define TRIES   16
#define SPAN_NS 5000000u /* 5 ms between the two samples */

struct sample {
    uint64_t ns, cycles;
};

/* A clock reading with the cycle count at that moment (narrowest of TRIES). */
static struct sample tight_sample(void)
{
    struct sample best = {0, 0};
    uint64_t best_width = UINT64_MAX;
    for (int i = 0; i < TRIES; i++) {
        uint64_t a = ac_cycles();
        uint64_t t = ac_now_ns();
        uint64_t b = ac_cycles();
        if (b - a < best_width) {
            best_width = b - a;
            best = (struct sample){t, a + (b - a) / 2};
        }
    }
    return best;
}

static void calibrate(void)
{
#if defined(__x86_64__) || defined(__i386__)
    struct sample s0 = tight_sample(), s1;
    do {
        s1 = tight_sample();
    } while (s1.ns - s0.ns < SPAN_NS);
    per_ns = (double)(s1.cycles - s0.cycles) / (double)(s1.ns - s0.ns);
    if (per_ns <= 0)
        per_ns = 1.0;
#endif
}

double ac_cycles_per_ns(void)
{
    pthread_once(&once, calibrate);
    return per_ns;
}
