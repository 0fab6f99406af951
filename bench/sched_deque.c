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

/* ns per item moved by one steal-half on one thread (no contention): fill
 * 256, take 128 with one call (what ac_sched_steal does), pop the rest;
 * only the steals are timed. */
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
        unsigned got = ac__deque_steal_half(&dq, out, 128);
        ns += ac_now_ns() - t0;
        AC_BENCH_CHECK(got == 128 && out[0] == ITEM(0) && out[127] == ITEM(127));
        moved += got;
        unsigned left = 0;
        while (ac__deque_pop(&dq))
            left++;
        AC_BENCH_CHECK(left == 128);
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

/* Cross-core: the owner (CPU 0) fills 256 items and waits until the
 * thief (CPU 1) has drained them with steal-half calls; the thief times its
 * calls. Items and slots come from the other core's cache, the cost a real
 * steal pays. Returns ns per item moved. */
static struct ac__deque xdq;
static atomic_uint xround; /* owner: filled round r; thief: drained it */
static atomic_uint xdrained;
static uint64_t xrounds;

static void *owner_thread(void *arg)
{
    (void)arg;
    (void)ac_bench_pin(0);
    for (unsigned r = 1; r <= xrounds; r++) {
        for (unsigned i = 0; i < 256; i++)
            AC_BENCH_CHECK(ac__deque_push(&xdq, ITEM(i)) == 0);
        atomic_store_explicit(&xround, r, memory_order_release);
        while (atomic_load_explicit(&xdrained, memory_order_acquire) != r)
            ;
    }
    return NULL;
}

static double steal_half_cross_core(uint64_t n, double *calls_per_item)
{
    AC_BENCH_CHECK(ac__deque_init(&xdq, 10) == 0);
    atomic_store(&xround, 0);
    atomic_store(&xdrained, 0);
    xrounds = n / 256;
    pthread_t th;
    AC_BENCH_CHECK(pthread_create(&th, NULL, owner_thread, NULL) == 0);
    (void)ac_bench_pin(1);
    void *out[128];
    uint64_t moved = 0, calls = 0, ns = 0;
    for (unsigned r = 1; r <= xrounds; r++) {
        while (atomic_load_explicit(&xround, memory_order_acquire) != r)
            ;
        uint64_t t0 = ac_now_ns();
        unsigned got, round = 0;
        while ((got = ac__deque_steal_half(&xdq, out, 128)) > 0) {
            round += got;
            calls++;
        }
        ns += ac_now_ns() - t0;
        AC_BENCH_CHECK(round == 256);
        moved += round;
        atomic_store_explicit(&xdrained, r, memory_order_release);
    }
    pthread_join(th, NULL);
    ac__deque_close(&xdq);
    (void)ac_bench_pin(0);
    *calls_per_item = (double)calls / (double)moved;
    return (double)ns / (double)moved;
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
    ac_bench_result("steal-half 128 of 256, same core", "ns/item", &st);

    for (unsigned r = 0; r < o.runs; r++)
        smp[r] = sched_steal_alone(n / 10);
    ac_bench_stats_of(smp, o.runs, &st);
    ac_bench_result("ac_sched_steal (into thief deque), same core", "ns/item", &st);

    double calls = 0;
    for (unsigned r = 0; r < o.runs; r++)
        smp[r] = steal_half_cross_core(n / 10, &calls);
    ac_bench_stats_of(smp, o.runs, &st);
    ac_bench_result("steal-half until empty, from the other core", "ns/item", &st);
    ac_bench_value("  steal-half calls per item moved", "calls", calls);
    free(smp);
    ac_bench_end();
    return 0;
}
