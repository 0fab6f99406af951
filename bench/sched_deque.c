/*
 * The Chase-Lev deque's costs: owner push+pop, steal-half per item moved
 * (alone, through ac_sched_steal, and from another core while the owner
 * keeps pushing). Each run checks that every item pushed was taken.
 */
#include "harness.h"

#include "../sched/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define ITEM(i) ((void *)(uintptr_t)((i) + 1))

/* ns per push+pop pair, batches of 1024 (the buffer is grown once first). */
static double push_pop(uint64_t n)
{
    struct ac__deque dq;
    AC_BENCH_CHECK(ac__deque_init(&dq, 10) == 0);
    uint64_t sum = 0, t0 = ac_now_ns();
    for (uint64_t done = 0; done < n; done += 1024) {
        for (unsigned i = 0; i < 1024; i++)
            AC_BENCH_CHECK(ac__deque_push(&dq, ITEM(i)) == 0);
        for (unsigned i = 0; i < 1024; i++)
            sum += (uintptr_t)ac__deque_pop(&dq);
    }
    uint64_t t1 = ac_now_ns();
    uint64_t pairs = (n + 1023) / 1024 * 1024;
    AC_BENCH_CHECK(sum == pairs / 1024 * (1024ull * 1025 / 2));
    ac__deque_close(&dq);
    return (double)(t1 - t0) / (double)pairs;
}

/* ns per item moved by steal-half on one thread (no contention): fill 256,
 * steal halves until empty; only the steals are timed. */
static double steal_half_alone(uint64_t n)
{
    struct ac__deque dq;
    void *out[128];
    AC_BENCH_CHECK(ac__deque_init(&dq, 8) == 0);
    uint64_t moved = 0, ns = 0;
    while (moved < n) {
        for (unsigned i = 0; i < 256; i++)
            AC_BENCH_CHECK(ac__deque_push(&dq, ITEM(i)) == 0);
        uint64_t t0 = ac_now_ns();
        unsigned got, cycle = 0;
        while ((got = ac__deque_steal_half(&dq, out, 128)) > 0)
            cycle += got;
        ns += ac_now_ns() - t0;
        AC_BENCH_CHECK(cycle == 256);
        moved += cycle;
    }
    ac__deque_close(&dq);
    return (double)ns / (double)moved;
}

/* Completions go home at once: one thread plays both shards here. */
static int post_now(void *arg, unsigned shard, void (*fn)(void *), void *fnarg)
{
    (void)arg;
    (void)shard;
    fn(fnarg);
    return 0;
}

static void noop(void *arg)
{
    (*(uint64_t *)arg)++;
}

/* ns per task moved by ac_sched_steal (victim deque -> thief deque). */
static double sched_steal_alone(uint64_t n)
{
    ac_sched *s[2];
    for (unsigned i = 0; i < 2; i++) {
        struct ac_sched_config cfg;
        ac_sched_config_default(&cfg);
        cfg.shard_id = i;
        cfg.hooks.post = post_now;
        AC_BENCH_CHECK(ac_sched_create(&cfg, &s[i]) == 0);
    }
    uint8_t d[2] = {0, 0};
    for (unsigned i = 0; i < 2; i++)
        AC_BENCH_CHECK(ac_sched_set_peers(s[i], s, 2, d) == 0);
    uint64_t counter = 0, moved = 0, ns = 0;
    while (moved < n) {
        ac_sched_set_current(s[0]);
        for (unsigned i = 0; i < 256; i++)
            AC_BENCH_CHECK(ac_spawn_stealable(AC_PRIO_NORMAL, noop, &counter, NULL, NULL) == 0);
        uint64_t t0 = ac_now_ns();
        unsigned got = ac_sched_steal(s[1]);
        ns += ac_now_ns() - t0;
        AC_BENCH_CHECK(got == 128);
        moved += got;
        ac_sched_set_current(s[1]);
        AC_BENCH_CHECK(ac_sched_run(s[1], 1000) == got);
        ac_sched_set_current(s[0]);
        AC_BENCH_CHECK(ac_sched_run(s[0], 1000) == 256 - got);
    }
    AC_BENCH_CHECK(counter == moved * 2);
    for (unsigned i = 0; i < 2; i++)
        ac_sched_destroy(s[i]);
    return (double)ns / (double)moved;
}

/* Cross-core: the owner (CPU 0) keeps ~256 items queued, the thief (CPU 1)
 * steal-halves `n` items. Returns the thief's ns per item moved. */
static struct ac__deque xdq;
static atomic_bool xstop;
static uint64_t xpushed;

static void *owner_thread(void *arg)
{
    (void)arg;
    (void)ac_bench_pin(0);
    uint64_t i = 0;
    while (!atomic_load_explicit(&xstop, memory_order_relaxed)) {
        if (ac__deque_size(&xdq) < 256)
            AC_BENCH_CHECK(ac__deque_push(&xdq, ITEM(i++)) == 0);
    }
    xpushed = i;
    return NULL;
}

static double steal_half_cross_core(uint64_t n, double *steals_per_item)
{
    AC_BENCH_CHECK(ac__deque_init(&xdq, 10) == 0);
    atomic_store(&xstop, false);
    pthread_t th;
    AC_BENCH_CHECK(pthread_create(&th, NULL, owner_thread, NULL) == 0);
    (void)ac_bench_pin(1);
    void *out[128];
    uint64_t moved = 0, calls = 0, t0 = ac_now_ns();
    while (moved < n) {
        moved += ac__deque_steal_half(&xdq, out, 128);
        calls++;
    }
    uint64_t t1 = ac_now_ns();
    atomic_store(&xstop, true);
    pthread_join(th, NULL);
    void *p;
    uint64_t left = 0;
    while ((p = ac__deque_pop(&xdq)))
        left++;
    AC_BENCH_CHECK(moved + left == xpushed);
    ac__deque_close(&xdq);
    (void)ac_bench_pin(0);
    *steals_per_item = (double)calls / (double)moved;
    return (double)(t1 - t0) / (double)moved;
}

int main(int argc, char **argv)
{
    struct ac_bench_opts o;
    if (ac_bench_parse(argc, argv, &o) < 0)
        return 2;
    uint64_t n = o.quick ? 2000000 : 50000000;
    AC_BENCH_CHECK(ac_bench_pin(0) == 0);
    ac_bench_begin(&o, "sched_deque");
    double *smp = calloc(o.runs, sizeof *smp);
    struct ac_bench_stats st;

    for (unsigned r = 0; r < o.runs; r++)
        smp[r] = push_pop(n);
    ac_bench_stats_of(smp, o.runs, &st);
    ac_bench_result("owner push+pop (pair)", "ns/pair", &st);

    for (unsigned r = 0; r < o.runs; r++)
        smp[r] = steal_half_alone(n / 4);
    ac_bench_stats_of(smp, o.runs, &st);
    ac_bench_result("steal-half, same core, uncontended", "ns/item", &st);

    for (unsigned r = 0; r < o.runs; r++)
        smp[r] = sched_steal_alone(n / 10);
    ac_bench_stats_of(smp, o.runs, &st);
    ac_bench_result("ac_sched_steal (into thief deque), same core", "ns/item", &st);

    double calls = 0;
    for (unsigned r = 0; r < o.runs; r++)
        smp[r] = steal_half_cross_core(n / 10, &calls);
    ac_bench_stats_of(smp, o.runs, &st);
    ac_bench_result("steal-half cross-core, owner pushing", "ns/item", &st);
    ac_bench_value("  steal-half calls per item moved (last run)", "calls", calls);
    free(smp);
    ac_bench_end();
    return 0;
}
