/* The per-shard scheduler on one thread: classes, shares, admission,
 * deadlines, cancellation, counters. */
#include "agentcore/sched.h"

#include <criterion/criterion.h>
#include <errno.h>

static ac_sched *s;

static void make(unsigned queue_size)
{
    struct ac_sched_config cfg;
    ac_sched_config_default(&cfg);
    cfg.queue_size = queue_size;
    cr_assert_eq(ac_sched_create(&cfg, &s), 0);
    ac_sched_set_current(s);
}

static void teardown(void)
{
    ac_sched_destroy(s);
    s = NULL;
}

TestSuite(sched_sched, .fini = teardown);

/* A log of which class ran, in order. */
static unsigned char order[1 << 20];
static unsigned norder;
static unsigned counts[AC_PRIO_COUNT];

static void record(void *arg)
{
    unsigned c = (unsigned)(uintptr_t)arg;
    if (norder < sizeof order)
        order[norder++] = (unsigned char)c;
    counts[c]++;
}

/* Records its class and queues itself again: keeps its class saturated. */
static void record_and_respawn(void *arg)
{
    record(arg);
    cr_assert_eq(ac_spawn((enum ac_prio)(uintptr_t)arg, record_and_respawn, arg), 0);
}

Test(sched_sched, prio_from_level_maps_the_go_levels)
{
    s = NULL;
    cr_expect_eq(ac_prio_from_level(100), AC_PRIO_HIGH);
    cr_expect_eq(ac_prio_from_level(81), AC_PRIO_HIGH);
    cr_expect_eq(ac_prio_from_level(80), AC_PRIO_NORMAL);
    cr_expect_eq(ac_prio_from_level(51), AC_PRIO_NORMAL);
    cr_expect_eq(ac_prio_from_level(50), AC_PRIO_LOW);
    cr_expect_eq(ac_prio_from_level(-3), AC_PRIO_LOW);
}

Test(sched_sched, create_rejects_zero_weight_and_zero_queue)
{
    struct ac_sched_config cfg;
    ac_sched_config_default(&cfg);
    cfg.weights[AC_PRIO_LOW] = 0;
    cr_expect_eq(ac_sched_create(&cfg, &s), -EINVAL);
    ac_sched_config_default(&cfg);
    cfg.queue_size = 0;
    cr_expect_eq(ac_sched_create(&cfg, &s), -EINVAL);
    s = NULL;
}

Test(sched_sched, spawn_without_current_scheduler_is_einval)
{
    s = NULL;
    ac_sched_set_current(NULL);
    cr_expect_eq(ac_spawn(AC_PRIO_HIGH, record, NULL), -EINVAL);
    cr_expect_eq(ac_spawn(AC_PRIO_COUNT, record, NULL), -EINVAL);
}

Test(sched_sched, classes_run_in_weighted_rounds_highest_first)
{
    make(64);
    norder = 0;
    for (uintptr_t c = AC_PRIO_COUNT; c-- > 0;) /* queued lowest first on purpose */
        for (int i = 0; i < 20; i++)
            cr_assert_eq(ac_spawn((enum ac_prio)c, record, (void *)c), 0);
    cr_assert_eq(ac_sched_run(s, 1000), 60);
    /* Round 1: 8 high, 4 normal, 1 low; round 2 the same; round 3: 4 high
     * left, 4 normal, 1 low; then normal 4, low 1 ... */
    static const unsigned char want[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 0, 0, 0, 0, 0,
                                         0, 0, 0, 1, 1, 1, 1, 2, 0, 0, 0, 0, 1, 1, 1, 1, 2};
    for (unsigned i = 0; i < sizeof want; i++)
        cr_expect_eq(order[i], want[i], "position %u: class %u, want %u", i, order[i], want[i]);
    cr_expect_eq(ac_sched_has_ready(s), false);
}

/* Saturated classes share the CPU 8:4:1. The rounds are exact, so the
 * stated tolerance (1% of each class' expected share) only absorbs the
 * partial round at the end. Budget 7 also checks that the round position
 * persists across ac_sched_run calls. */
Test(sched_sched, share_ratios_hold_within_one_percent_over_100k_tasks)
{
    make(16);
    memset(counts, 0, sizeof counts);
    for (uintptr_t c = 0; c < AC_PRIO_COUNT; c++)
        cr_assert_eq(ac_spawn((enum ac_prio)c, record_and_respawn, (void *)c), 0);
    unsigned total = 0;
    while (total < 100000)
        total += ac_sched_run(s, 7);
    static const double share[] = {8 / 13.0, 4 / 13.0, 1 / 13.0};
    for (unsigned c = 0; c < AC_PRIO_COUNT; c++) {
        double got = (double)counts[c] / total;
        cr_expect(got > share[c] * 0.99 && got < share[c] * 1.01, "class %u: %.4f, want %.4f", c,
                  got, share[c]);
    }
}

static unsigned low_ran;
static void low_task(void *arg)
{
    (void)arg;
    low_ran++;
}
static void high_flood(void *arg)
{
    /* Two more for each one run, until the class is full: saturating. */
    for (int i = 0; i < 2; i++) {
        int r = ac_spawn(AC_PRIO_HIGH, high_flood, arg);
        cr_assert(r == 0 || r == -EBUSY);
    }
}

Test(sched_sched, low_class_progresses_under_saturating_high_load)
{
    make(256);
    low_ran = 0;
    cr_assert_eq(ac_spawn(AC_PRIO_HIGH, high_flood, NULL), 0);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(ac_spawn(AC_PRIO_LOW, low_task, NULL), 0);
    unsigned ran = 0;
    while (ran < 900)
        ran += ac_sched_run(s, 9);
    /* With weights 8:_:1 and no normal work, one in 9 is low. */
    cr_expect_eq(low_ran, 100, "low ran %u of 100 in %u tasks", low_ran, ran);
    struct ac_sched_stats st;
    ac_sched_stats_get(s, &st);
    cr_expect_eq(st.queued[AC_PRIO_HIGH], 256, "high stays saturated");
    cr_expect_gt(st.rejected, 0);
}

Test(sched_sched, full_class_rejects_with_ebusy_and_recovers_after_running)
{
    make(4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ac_spawn(AC_PRIO_NORMAL, record, (void *)1), 0);
    cr_expect_eq(ac_spawn(AC_PRIO_NORMAL, record, (void *)1), -EBUSY);
    cr_expect_eq(ac_spawn_stealable(AC_PRIO_NORMAL, record, (void *)1, NULL, NULL), -EBUSY);
    cr_expect_eq(ac_spawn(AC_PRIO_LOW, record, (void *)2), 0, "other classes are separate");
    cr_expect_eq(ac_sched_run(s, 1), 1);
    cr_expect_eq(ac_spawn(AC_PRIO_NORMAL, record, (void *)1), 0, "room again after a run");
    struct ac_sched_stats st;
    ac_sched_stats_get(s, &st);
    cr_expect_eq(st.rejected, 2);
    cr_expect_eq(st.submitted, 6);
    cr_expect_eq(st.queued[AC_PRIO_NORMAL], 4);
    cr_expect_eq(st.queued[AC_PRIO_LOW], 1);
}

static int done_res[8];
static unsigned ndone, nran;
static void count_run(void *arg)
{
    (void)arg;
    nran++;
}
static void note_done(void *arg, int res)
{
    (void)arg;
    done_res[ndone++ % 8] = res;
}

Test(sched_sched, task_past_deadline_is_not_started_and_done_gets_etimedout)
{
    make(16);
    ndone = nran = 0;
    struct ac_task_opts past = {.deadline_ns = 1, .done = note_done};
    struct ac_task_opts future = {.deadline_ns = ac_now_ns() + 3600ull * 1000000000u,
                                  .done = note_done};
    cr_assert_eq(ac_spawn_opts(AC_PRIO_HIGH, count_run, NULL, &past, NULL), 0);
    cr_assert_eq(ac_spawn_opts(AC_PRIO_HIGH, count_run, NULL, &future, NULL), 0);
    cr_expect_eq(ac_sched_run(s, 10), 2);
    cr_expect_eq(nran, 1, "only the task within its deadline ran");
    cr_expect_eq(ndone, 2);
    cr_expect_eq(done_res[0], -ETIMEDOUT);
    cr_expect_eq(done_res[1], 0);
    struct ac_sched_stats st;
    ac_sched_stats_get(s, &st);
    cr_expect_eq(st.timed_out, 1);
    cr_expect_eq(st.failed, 1);
    cr_expect_eq(st.completed, 1);
}

Test(sched_sched, cancelled_task_never_runs_and_done_gets_ecanceled)
{
    make(16);
    ndone = nran = 0;
    struct ac_task_opts o = {.done = note_done};
    ac_task_id a, b;
    cr_assert_eq(ac_spawn_opts(AC_PRIO_LOW, count_run, NULL, &o, &a), 0);
    cr_assert_eq(ac_spawn_opts(AC_PRIO_LOW, count_run, NULL, &o, &b), 0);
    cr_assert_neq(a, 0);
    cr_expect_eq(ac_task_cancel(a), 0);
    cr_expect_eq(ac_task_cancel(a), -ENOENT, "cancelling twice");
    cr_expect_eq(ac_sched_run(s, 10), 2);
    cr_expect_eq(nran, 1);
    cr_expect_eq(ndone, 2);
    cr_expect_eq(done_res[0], -ECANCELED);
    cr_expect_eq(done_res[1], 0);
    cr_expect_eq(ac_task_cancel(b), -ENOENT, "finished task");
    cr_expect_eq(ac_task_cancel(0), -ENOENT);
    struct ac_sched_stats st;
    ac_sched_stats_get(s, &st);
    cr_expect_eq(st.cancelled, 1);
    cr_expect_eq(st.failed, 1);
}

Test(sched_sched, stale_id_does_not_cancel_the_task_reusing_its_struct)
{
    make(16);
    ndone = nran = 0;
    struct ac_task_opts o = {.done = note_done};
    ac_task_id old, fresh;
    cr_assert_eq(ac_spawn_opts(AC_PRIO_HIGH, count_run, NULL, &o, &old), 0);
    cr_assert_eq(ac_sched_run(s, 1), 1);
    cr_assert_eq(ac_spawn_opts(AC_PRIO_HIGH, count_run, NULL, &o, &fresh), 0);
    cr_expect_neq(old, fresh);
    cr_expect_eq(ac_task_cancel(old), -ENOENT);
    cr_expect_eq(ac_sched_run(s, 1), 1);
    cr_expect_eq(nran, 2);
}

Test(sched_sched, run_stops_at_budget_and_continues_next_call)
{
    make(64);
    nran = 0;
    for (int i = 0; i < 10; i++)
        cr_assert_eq(ac_spawn(AC_PRIO_NORMAL, count_run, NULL), 0);
    cr_expect_eq(ac_sched_run(s, 4), 4);
    cr_expect_eq(nran, 4);
    cr_expect(ac_sched_has_ready(s));
    cr_expect_eq(ac_sched_run(s, 100), 6);
    cr_expect_not(ac_sched_has_ready(s));
}

static void record_and_yield(void *arg)
{
    record(arg);
    if (norder % 3 == 0)
        ac_sched_yield(s);
}

/* A yield ends the run after the running task, and the weighted round
 * resumes where it stopped: the order is the one without yields. */
Test(sched_sched, yield_ends_the_run_and_keeps_the_shares)
{
    make(64);
    norder = 0;
    for (uintptr_t c = AC_PRIO_COUNT; c-- > 0;)
        for (int i = 0; i < 20; i++)
            cr_assert_eq(ac_spawn((enum ac_prio)c, record_and_yield, (void *)c), 0);
    unsigned runs = 0, total = 0, n;
    while ((n = ac_sched_run(s, 1000)) > 0) {
        cr_assert_leq(n, 3, "run %u took %u tasks past a yield", runs, n);
        total += n;
        runs++;
    }
    cr_expect_eq(total, 60);
    cr_expect_eq(runs, 20);
    static const unsigned char want[] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 0, 0, 0, 0, 0,
                                         0, 0, 0, 1, 1, 1, 1, 2, 0, 0, 0, 0, 1, 1, 1, 1, 2};
    for (unsigned i = 0; i < sizeof want; i++)
        cr_expect_eq(order[i], want[i], "position %u: class %u, want %u", i, order[i], want[i]);
}

Test(sched_sched, stealable_task_without_peers_runs_here_and_calls_done)
{
    make(16);
    ndone = nran = 0;
    cr_assert_eq(ac_spawn_stealable(AC_PRIO_HIGH, count_run, NULL, note_done, NULL), 0);
    cr_assert_eq(ac_spawn(AC_PRIO_HIGH, count_run, NULL), 0);
    cr_expect_eq(ac_sched_run(s, 10), 2);
    cr_expect_eq(nran, 2);
    cr_expect_eq(ndone, 1);
    cr_expect_eq(done_res[0], 0);
    cr_expect_eq(ac_sched_steal(s), 0, "no peers: nothing to steal");
}

Test(sched_sched, destroy_drops_queued_tasks_with_ecanceled)
{
    make(16);
    ndone = nran = 0;
    struct ac_task_opts o = {.done = note_done};
    cr_assert_eq(ac_spawn_opts(AC_PRIO_LOW, count_run, NULL, &o, NULL), 0);
    o.stealable = true;
    cr_assert_eq(ac_spawn_opts(AC_PRIO_HIGH, count_run, NULL, &o, NULL), 0);
    ac_sched_destroy(s);
    s = NULL;
    cr_expect_eq(nran, 0);
    cr_expect_eq(ndone, 2);
    cr_expect_eq(done_res[0], -ECANCELED);
    cr_expect_eq(done_res[1], -ECANCELED);
    cr_expect_null(ac_sched_current());
}

/* The free list recycles structs: many spawn/run cycles keep one chunk. */
Test(sched_sched, many_cycles_reuse_task_structs)
{
    make(4096);
    nran = 0;
    for (int round = 0; round < 1000; round++) {
        for (int i = 0; i < 100; i++)
            cr_assert_eq(ac_spawn(AC_PRIO_NORMAL, count_run, NULL), 0);
        cr_assert_eq(ac_sched_run(s, 1000), 100);
    }
    cr_expect_eq(nran, 100000);
    struct ac_sched_stats st;
    ac_sched_stats_get(s, &st);
    cr_expect_eq(st.completed, 100000);
    cr_expect_eq(st.ran, 100000);
}
