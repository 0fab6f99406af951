/*
 * Fault injection switches (agentcore/fault.h). The rate and kinds are
 * process-wide test knobs, read with relaxed atomics at each injection
 * point; they are not shard state (a test or agentd's environment sets
 * them, ac_fault_set changes them at run time). The generators are per
 * thread, so shards never share one.
 */
#include "agentcore/fault.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic uint32_t threshold;   /* rate * 2^32, saturated; 0: off */
static _Atomic unsigned kind_mask = (1u << AC_FAULT_KIND_COUNT) - 1;
static _Atomic uint64_t counts[AC_FAULT_KIND_COUNT];
static _Atomic uint32_t next_thread; /* seeds threads apart */
static uint32_t seed = 1;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static _Thread_local uint64_t rng; /* xorshift64; 0: not seeded yet */

static uint32_t rate_threshold(double rate)
{
    if (!(rate > 0))
        return 0;
    if (rate >= 1)
        return UINT32_MAX;
    return (uint32_t)(rate * 4294967296.0);
}

static void read_env(void)
{
    const char *s = getenv("AC_FAULT_SEED");
    if (s && *s)
        seed = (uint32_t)strtoul(s, NULL, 0);
    s = getenv("AC_FAULT_RATE");
    if (s && *s)
        atomic_store(&threshold, rate_threshold(strtod(s, NULL)));
    s = getenv("AC_FAULT_KINDS");
    if (s && *s) {
        static const char *const names[AC_FAULT_KIND_COUNT] = {"alloc", "io", "short", "nobufs"};
        unsigned m = 0;
        for (unsigned k = 0; k < AC_FAULT_KIND_COUNT; k++)
            if (strstr(s, names[k]))
                m |= 1u << k;
        atomic_store(&kind_mask, m);
    }
}

bool ac_fault_compiled(void)
{
#ifdef AC_FAULTS
    return true;
#else
    return false;
#endif
}

void ac_fault_set(double rate, unsigned kinds)
{
    pthread_once(&env_once, read_env); /* a later first use must not undo this */
    atomic_store(&kind_mask, kinds);
    atomic_store(&threshold, rate_threshold(rate));
}

uint64_t ac_fault_count(enum ac_fault_kind kind)
{
    return kind < AC_FAULT_KIND_COUNT ? atomic_load(&counts[kind]) : 0;
}

static uint64_t draw(void)
{
    if (!rng) {
        uint32_t t = atomic_fetch_add(&next_thread, 1) + 1;
        rng = ((uint64_t)seed << 32 | t) * 0x9E3779B97F4A7C15ull;
        if (!rng)
            rng = 1;
    }
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

bool ac_fault_hit(enum ac_fault_kind kind)
{
    pthread_once(&env_once, read_env);
    uint32_t th = atomic_load_explicit(&threshold, memory_order_relaxed);
    if (!th || !(atomic_load_explicit(&kind_mask, memory_order_relaxed) & (1u << kind)))
        return false;
    if ((uint32_t)(draw() >> 32) >= th && th != UINT32_MAX)
        return false;
    atomic_fetch_add_explicit(&counts[kind], 1, memory_order_relaxed);
    return true;
}

uint32_t ac_fault_pick(uint32_t n)
{
    return (uint32_t)(draw() % n);
}
