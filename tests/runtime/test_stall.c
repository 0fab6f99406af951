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

/* ---- attribution by name (ac_shard_callback_name) ---------------------- */

static struct ac_stall_stats seen[AC_STALL_NAMES];
static unsigned nseen;
static char names[AC_STALL_NAMES + 2][16];

static void named_spin(void *arg)
{
    ac_shard_callback_name(arg); /* the rest of this task is "arg"'s */
    uint64_t until = ac_now_ns() + 12u * 1000000u;
    while (ac_now_ns() < until)
        ;
}

static void collect_and_stop(void *arg)
{
    (void)arg;
    nseen = ac_shard_stalls(seen, AC_STALL_NAMES);
    ac_runtime_stop(rt);
}

/* The last of the spinning tasks (one class, FIFO): queues the reading. */
static void plain_spin(void *arg)
{
    (void)arg;
    uint64_t until = ac_now_ns() + 12u * 1000000u;
    while (ac_now_ns() < until)
        ;
    cr_assert_eq(ac_spawn(AC_PRIO_NORMAL, collect_and_stop, NULL), 0);
}

static const struct ac_stall_stats *find(const char *name)
{
    for (unsigned i = 0; i < nseen; i++)
        if (strcmp(seen[i].name, name) == 0)
            return &seen[i];
    return NULL;
}

static void spawn_named(void *arg, unsigned shard)
{
    unsigned n = (unsigned)(uintptr_t)arg;
    (void)shard;
    for (unsigned i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "cb-%u", i);
        cr_assert_eq(ac_spawn(AC_PRIO_NORMAL, named_spin, names[i]), 0);
    }
    cr_assert_eq(ac_spawn(AC_PRIO_NORMAL, plain_spin, NULL), 0);
}

static void run_named(unsigned n)
{
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = 1;
    cfg.stall_threshold_ns = 5ull * 1000 * 1000;
    cfg.on_shard_start = spawn_named;
    cfg.hook_arg = (void *)(uintptr_t)n;
    cr_assert_eq(ac_runtime_create(&cfg, &rt), 0);
    test_run(rt);
    ac_runtime_destroy(rt);
}

Test(runtime_stall, a_named_callback_is_counted_under_its_name)
{
    run_named(2);
    const struct ac_stall_stats *a = find("cb-0"), *b = find("cb-1"), *t = find("task");
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_not_null(t, "the unnamed task counts as \"task\"");
    cr_assert_eq(a->hist.count, 1);
    cr_assert_eq(b->hist.count, 1);
    cr_assert_geq(a->hist.sum_ns, 12u * 1000000u);
    cr_assert_geq(t->hist.count, 1);
}

Test(runtime_stall, names_past_the_table_count_as_other)
{
    run_named(AC_STALL_NAMES + 2);
    cr_assert_eq(nseen, AC_STALL_NAMES);
    cr_assert_not_null(find("cb-0"));
    const struct ac_stall_stats *o = find("other");
    cr_assert_not_null(o);
    cr_assert_geq(o->hist.count, 3); /* cb-15, cb-16, cb-17 and the plain task */
    cr_assert_null(find("cb-16"));
}
