/* Timers on a real shard: the loop sleeps until the nearest deadline. */
#include "runtime/helpers.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#define N 500

static struct {
    ac_runtime *rt;
    struct ac_timer t[N];
    uint64_t deadline[N];
    unsigned fired, early, out_of_order, cancelled_fired;
    uint64_t last;
    struct ac_timer cancel_me;
} T;

static void on_cancelled(struct ac_timer *t, void *arg)
{
    (void)t;
    (void)arg;
    T.cancelled_fired++;
}

static void on_fire(struct ac_timer *t, void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    uint64_t now = ac_now_ns();
    (void)t;
    if (now < T.deadline[i])
        T.early++;
    if (T.deadline[i] < T.last)
        T.out_of_order++;
    T.last = T.deadline[i];
    if (++T.fired == N)
        ac_runtime_stop(T.rt);
}

static void start_timers(void *arg, unsigned shard)
{
    (void)arg;
    if (shard != 0)
        return;
    uint64_t now = ac_now_ns();
    srand(7);
    for (unsigned i = 0; i < N; i++) {
        /* 0..200 ms, random order of starts */
        T.deadline[i] = now + (uint64_t)(rand() % 200000) * 1000;
        cr_assert_eq(ac_timer_start_at(&T.t[i], T.deadline[i], on_fire, (void *)(uintptr_t)i), 0);
    }
    cr_assert_eq(ac_timer_start_at(&T.t[0], T.deadline[0], on_fire, NULL), -EALREADY);
    cr_assert_eq(ac_timer_start(&T.cancel_me, 50ull * 1000 * 1000, on_cancelled, NULL), 0);
    cr_assert(ac_timer_armed(&T.cancel_me));
    cr_assert(ac_timer_cancel(&T.cancel_me));
    cr_assert(!ac_timer_cancel(&T.cancel_me), "second cancel reports not armed");
}

Test(runtime_timer, timers_on_a_shard_fire_in_deadline_order_never_early)
{
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = 1;
    cfg.on_shard_start = start_timers;
    memset(&T, 0, sizeof T);
    cr_assert_eq(ac_runtime_create(&cfg, &T.rt), 0);
    test_run(T.rt);
    cr_assert_eq(T.fired, N);
    cr_assert_eq(T.early, 0);
    cr_assert_eq(T.out_of_order, 0);
    cr_assert_eq(T.cancelled_fired, 0);
    struct ac_shard_stats st;
    cr_assert_eq(ac_runtime_shard_stats(T.rt, 0, &st), 0);
    cr_assert_geq(st.timers_fired, N); /* plus the runtime's own (heap upkeep) */
    cr_assert_gt(st.sleeps, 0, "the shard slept between timers instead of spinning");
    ac_runtime_destroy(T.rt);
}
