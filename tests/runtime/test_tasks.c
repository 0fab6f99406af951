/*
 * The scheduler inside real shards: tasks run, stealable tasks spread to
 * an idle shard (woken by MSG_RING) and their done callbacks come home.
 */
#include "runtime/helpers.h"

#include <errno.h>
#include <stdatomic.h>

#define TASKS 200

static struct {
    ac_runtime *rt;
    _Atomic unsigned ran_on[2];
    _Atomic unsigned done_home, done_away, done_ok, done_total;
    _Atomic int stuck;
    bool stealing;
} S;

static void work(void *arg)
{
    (void)arg;
    unsigned me = ac_shard_id();
    atomic_fetch_add(&S.ran_on[me], 1);
    if (me == 0 && S.stealing) {
        /* Shard 0 cannot make progress until shard 1 has stolen: the test
         * passes only if stealing (and waking shard 1) works. Bounded. */
        uint64_t until = ac_now_ns() + 20ull * 1000 * 1000 * 1000;
        while (atomic_load(&S.ran_on[1]) == 0)
            if (ac_now_ns() > until) {
                atomic_store(&S.stuck, 1);
                break;
            }
    }
}

static void done(void *arg, int res)
{
    (void)arg;
    if (ac_shard_id() == 0)
        atomic_fetch_add(&S.done_home, 1);
    else
        atomic_fetch_add(&S.done_away, 1);
    if (res == 0)
        atomic_fetch_add(&S.done_ok, 1);
    if (atomic_fetch_add(&S.done_total, 1) + 1 == TASKS)
        ac_runtime_stop(S.rt);
}

static void spawn_all(void *arg, unsigned shard)
{
    (void)arg;
    if (shard != 0)
        return;
    for (unsigned i = 0; i < TASKS; i++)
        cr_assert_eq(ac_spawn_stealable(AC_PRIO_NORMAL, work, NULL, done, NULL), 0);
}

static void run_stealing(bool stealing)
{
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = 2;
    cfg.oversubscribe = true;
    cfg.no_stealing = !stealing;
    cfg.stall_threshold_ns = 60ull * 1000 * 1000 * 1000;
    cfg.on_shard_start = spawn_all;
    memset(&S, 0, sizeof S);
    S.stealing = stealing;
    cr_assert_eq(ac_runtime_create(&cfg, &S.rt), 0);
    test_run(S.rt);
    cr_assert_eq(S.stuck, 0, "shard 1 never stole a task");
    cr_assert_eq(S.done_total, TASKS);
    cr_assert_eq(S.done_ok, TASKS);
    cr_assert_eq(S.done_away, 0, "done callbacks run on the spawning shard");
    cr_assert_eq(S.ran_on[0] + S.ran_on[1], TASKS);
    ac_runtime_destroy(S.rt);
}

Test(runtime_tasks, stealable_tasks_spread_to_an_idle_shard_and_report_home, .timeout = 60)
{
    run_stealing(true);
    cr_assert_gt(S.ran_on[1], 0);
}

Test(runtime_tasks, without_stealing_every_task_runs_where_it_was_spawned, .timeout = 60)
{
    run_stealing(false);
    cr_assert_eq(S.ran_on[1], 0);
    cr_assert_eq(S.ran_on[0], TASKS);
}

/* ---- local tasks, classes, deadlines ------------------------------------- */

static struct {
    ac_runtime *rt;
    char order[16];
    unsigned n;
    int late_res;
} L;

static void record(void *arg)
{
    L.order[L.n++] = (char)(uintptr_t)arg;
}

static void late_done(void *arg, int res)
{
    (void)arg;
    L.late_res = res;
}

static void finish(void *arg)
{
    (void)arg;
    ac_runtime_stop(L.rt);
}

static void spawn_classes(void *arg, unsigned shard)
{
    (void)arg;
    (void)shard;
    struct ac_task_opts late = {.deadline_ns = 1, .done = late_done}; /* long past */
    cr_assert_eq(ac_spawn_opts(AC_PRIO_HIGH, record, (void *)'X', &late, NULL), 0);
    cr_assert_eq(ac_spawn(AC_PRIO_LOW, record, (void *)'l'), 0);
    cr_assert_eq(ac_spawn(AC_PRIO_NORMAL, record, (void *)'n'), 0);
    cr_assert_eq(ac_spawn(AC_PRIO_HIGH, record, (void *)'h'), 0);
    cr_assert_eq(ac_spawn(AC_PRIO_LOW, finish, NULL), 0);
}

Test(runtime_tasks, classes_run_highest_first_and_late_tasks_never_start)
{
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = 1;
    cfg.on_shard_start = spawn_classes;
    memset(&L, 0, sizeof L);
    cr_assert_eq(ac_runtime_create(&cfg, &L.rt), 0);
    test_run(L.rt);
    cr_assert_str_eq(L.order, "hnl");
    cr_assert_eq(L.late_res, -ETIMEDOUT);
}

Test(runtime_tasks, spawn_outside_a_shard_is_refused)
{
    cr_assert_eq(ac_spawn(AC_PRIO_HIGH, record, NULL), -EINVAL);
}

/* ---- the time slice of a loop turn --------------------------------------- */

#define LONG_TASKS 8

static struct {
    ac_runtime *rt;
    struct ac_timer timer;
    unsigned ran, ran_when_fired;
} T;

static void long_task(void *arg)
{
    (void)arg;
    uint64_t until = ac_now_ns() + 2000000; /* 2 ms of CPU: longer than the timer */
    while (ac_now_ns() < until)
        ;
    if (++T.ran == LONG_TASKS)
        ac_runtime_stop(T.rt);
}

static void fired(struct ac_timer *t, void *arg)
{
    (void)t, (void)arg;
    T.ran_when_fired = T.ran;
}

static void spawn_long(void *arg, unsigned shard)
{
    (void)arg, (void)shard;
    cr_assert_eq(ac_timer_start(&T.timer, 1000000, fired, NULL), 0);
    for (int i = 0; i < LONG_TASKS; i++)
        cr_assert_eq(ac_spawn(AC_PRIO_NORMAL, long_task, NULL), 0);
}

/* The task budget (64) would run all eight 2 ms tasks in one turn; the
 * 250 us slice ends the turn after the first, so the 1 ms timer fires
 * between the first and the second task instead of after the eighth. */
Test(runtime_tasks, long_tasks_leave_the_turn_once_the_slice_is_spent)
{
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = 1;
    cfg.on_shard_start = spawn_long;
    cfg.stall_threshold_ns = 60ull * 1000 * 1000 * 1000;
    memset(&T, 0, sizeof T);
    cr_assert_eq(ac_runtime_create(&cfg, &T.rt), 0);
    test_run(T.rt);
    cr_assert_eq(T.ran, LONG_TASKS);
    cr_assert_eq(T.ran_when_fired, 1, "the timer waited for %u tasks", T.ran_when_fired);
}
