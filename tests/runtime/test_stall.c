/* The stall detector counts and measures a callback that runs too long. */
#include "runtime/helpers.h"

static ac_runtime *rt;

static void spin_ms(void *arg)
{
    uint64_t until = ac_now_ns() + (uint64_t)(uintptr_t)arg * 1000000u;
    while (ac_now_ns() < until)
        ;
    ac_runtime_stop(rt);
}

static void send_spin(void *arg, unsigned shard)
{
    (void)arg;
    if (shard == 0)
        cr_assert_eq(ac_submit_to(0, spin_ms, (void *)(uintptr_t)30), 0);
}

static void spawn_spin(void *arg, unsigned shard)
{
    (void)arg;
    if (shard == 0)
        cr_assert_eq(ac_spawn(AC_PRIO_NORMAL, spin_ms, (void *)(uintptr_t)30), 0);
}

/* Runs one shard whose start hook queues a 30 ms callback; threshold 5 ms. */
static void expect_one_stall(ac_shard_hook_fn on_start)
{
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = 1;
    cfg.stall_threshold_ns = 5ull * 1000 * 1000;
    cfg.on_shard_start = on_start;
    cr_assert_eq(ac_runtime_create(&cfg, &rt), 0);
    test_run(rt);
    struct ac_shard_stats st;
    cr_assert_eq(ac_runtime_shard_stats(rt, 0, &st), 0);
    cr_assert_geq(st.stalls, 1); /* more if the host preempts us past 5 ms */
    cr_assert_geq(st.stall_max_ns, 30ull * 1000 * 1000);
    ac_runtime_destroy(rt);
}

Test(runtime_stall, message_over_threshold_is_counted_with_its_duration)
{
    expect_one_stall(send_spin);
}

Test(runtime_stall, task_over_threshold_is_counted_with_its_duration)
{
    expect_one_stall(spawn_spin);
}
