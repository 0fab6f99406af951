/* Stealing between schedulers: victim order, steal-half, wake-ups, the way
 * home of stolen tasks, and a run with pthreads acting as shards. */
#include "../../sched/internal.h"
#include "pthread_shards.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

/* ---- one thread driving several schedulers: hooks record and defer ---- */

struct msg {
    unsigned shard;
    void (*fn)(void *);
    void *arg;
};
static struct msg msgs[64];
static unsigned nmsgs, refuse, wakes[4], nwakes;

static int rec_post(void *arg, unsigned shard, void (*fn)(void *), void *fnarg)
{
    (void)arg;
    if (refuse) {
        refuse--;
        return -EAGAIN;
    }
    cr_assert_lt(nmsgs, 64);
    msgs[nmsgs++] = (struct msg){shard, fn, fnarg};
    return 0;
}

static void rec_wake(void *arg, unsigned shard)
{
    (void)arg;
    wakes[nwakes++ % 4] = shard;
}

#define N 3
static ac_sched *sc[N];
static ac_steal_group *group;

/* Shard i's scheduler; distances from `dist` (row per shard). */
static void make_world(unsigned n, const uint8_t dist[][N], bool stealing)
{
    nmsgs = refuse = nwakes = 0;
    cr_assert_eq(ac_steal_group_create(n, &group), 0);
    for (unsigned i = 0; i < n; i++) {
        struct ac_sched_config cfg;
        ac_sched_config_default(&cfg);
        cfg.shard_id = i;
        cfg.stealing = stealing;
        cfg.group = group;
        cfg.hooks = (struct ac_sched_hooks){.post = rec_post, .wake = rec_wake};
        cr_assert_eq(ac_sched_create(&cfg, &sc[i]), 0);
    }
    for (unsigned i = 0; i < n; i++)
        cr_assert_eq(ac_sched_set_peers(sc[i], sc, n, dist[i]), 0);
}

/* Delivers recorded messages, each "on" its shard (same thread here). */
static void deliver(void)
{
    for (unsigned i = 0; i < nmsgs; i++) {
        ac_sched_set_current(sc[msgs[i].shard]);
        msgs[i].fn(msgs[i].arg);
    }
    nmsgs = 0;
}

static void destroy_world(void)
{
    for (unsigned i = 0; i < N; i++) {
        ac_sched_destroy(sc[i]);
        sc[i] = NULL;
    }
    ac_steal_group_destroy(group);
    group = NULL;
}

TestSuite(sched_steal, .fini = destroy_world);

static const uint8_t flat[N][N] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};

static unsigned nran, ndone;
static int last_res;
static ac_sched *done_on;
static void work(void *arg)
{
    (void)arg;
    nran++;
}
static void done(void *arg, int res)
{
    (void)arg;
    ndone++;
    last_res = res;
    done_on = ac_sched_current();
}

static void spawn_on(unsigned shard, enum ac_prio prio, unsigned n)
{
    ac_sched_set_current(sc[shard]);
    for (unsigned i = 0; i < n; i++)
        cr_assert_eq(ac_spawn_stealable(prio, work, NULL, done, NULL), 0);
}

Test(sched_steal, stolen_task_runs_on_thief_and_done_runs_home)
{
    make_world(2, flat, true);
    nran = ndone = 0;
    spawn_on(0, AC_PRIO_HIGH, 1);
    cr_assert_eq(ac_sched_steal(sc[1]), 1);
    cr_expect_not(ac_sched_has_ready(sc[0]));
    cr_assert_eq(ac_sched_run(sc[1], 10), 1);
    cr_expect_eq(nran, 1);
    cr_expect_eq(ndone, 0, "done waits for the message home");
    cr_assert_eq(nmsgs, 1);
    cr_expect_eq(msgs[0].shard, 0);
    deliver();
    cr_expect_eq(ndone, 1);
    cr_expect_eq(last_res, 0);
    cr_expect_eq(done_on, sc[0]);
    struct ac_sched_stats a, b;
    ac_sched_stats_get(sc[0], &a);
    ac_sched_stats_get(sc[1], &b);
    cr_expect_eq(a.submitted, 1);
    cr_expect_eq(a.completed, 1);
    cr_expect_eq(a.ran, 0);
    cr_expect_eq(b.stolen, 1);
    cr_expect_eq(b.ran, 1);
    cr_expect_eq(b.submitted, 0);
}

Test(sched_steal, steal_moves_half_of_each_class_rounded_up)
{
    make_world(2, flat, true);
    spawn_on(0, AC_PRIO_NORMAL, 10);
    spawn_on(0, AC_PRIO_LOW, 3);
    cr_expect_eq(ac_sched_steal(sc[1]), 5 + 2);
    struct ac_sched_stats a, b;
    ac_sched_stats_get(sc[0], &a);
    ac_sched_stats_get(sc[1], &b);
    cr_expect_eq(a.queued[AC_PRIO_NORMAL], 5);
    cr_expect_eq(a.queued[AC_PRIO_LOW], 1);
    cr_expect_eq(b.queued[AC_PRIO_NORMAL], 5);
    cr_expect_eq(b.queued[AC_PRIO_LOW], 2);
    cr_expect_eq(ac_sched_run(sc[1], 100), 7);
    cr_expect_eq(ac_sched_run(sc[0], 100), 6);
    deliver();
    ac_sched_stats_get(sc[0], &a);
    cr_expect_eq(a.completed, 13);
}

Test(sched_steal, nearest_victim_is_robbed_first)
{
    /* From shard 0: shard 1 is remote (2), shard 2 shares the node (1). */
    static const uint8_t d[N][N] = {{0, 2, 1}, {2, 0, 2}, {1, 2, 0}};
    make_world(3, d, true);
    spawn_on(1, AC_PRIO_HIGH, 4);
    spawn_on(2, AC_PRIO_HIGH, 4);
    cr_assert_eq(ac_sched_steal(sc[0]), 2);
    struct ac_sched_stats s1, s2;
    ac_sched_stats_get(sc[1], &s1);
    ac_sched_stats_get(sc[2], &s2);
    cr_expect_eq(s1.queued[AC_PRIO_HIGH], 4, "the remote victim is untouched");
    cr_expect_eq(s2.queued[AC_PRIO_HIGH], 2);
    for (unsigned i = 0; i < N; i++)
        ac_sched_run(sc[i], 100);
    deliver();
}

Test(sched_steal, sleeping_peer_is_woken_once_when_stealable_work_arrives)
{
    make_world(2, flat, true);
    cr_assert(ac_sched_sleep_prepare(sc[1]));
    spawn_on(0, AC_PRIO_HIGH, 1);
    cr_expect_eq(nwakes, 1);
    cr_expect_eq(wakes[0], 1);
    spawn_on(0, AC_PRIO_HIGH, 1);
    cr_expect_eq(nwakes, 1, "the mark was cleared by the first wake");
    ac_sched_sleep_done(sc[1]);
    ac_sched_run(sc[0], 10);
}

Test(sched_steal, sleep_prepare_refuses_while_a_peer_has_stealable_work)
{
    make_world(2, flat, true);
    spawn_on(0, AC_PRIO_LOW, 1);
    cr_expect_not(ac_sched_sleep_prepare(sc[1]));
    cr_expect_eq(atomic_load(&group->nsleeping), 0, "the mark was taken back");
    ac_sched_run(sc[0], 10);
    cr_expect(ac_sched_sleep_prepare(sc[1]));
    ac_sched_sleep_done(sc[1]);
    cr_expect_eq(atomic_load(&group->nsleeping), 0);
}

Test(sched_steal, no_steal_while_half_the_group_already_searches)
{
    make_world(2, flat, true);
    spawn_on(0, AC_PRIO_HIGH, 4);
    atomic_store(&group->searching, 1); /* shard 0 "searches" */
    cr_expect_eq(ac_sched_steal(sc[1]), 0);
    atomic_store(&group->searching, 0);
    cr_expect_eq(ac_sched_steal(sc[1]), 2);
    cr_expect_eq(atomic_load(&group->searching), 0, "the searcher left");
    ac_sched_run(sc[0], 10);
    ac_sched_run(sc[1], 10);
    deliver();
}

Test(sched_steal, cancel_reaches_a_task_already_stolen)
{
    make_world(2, flat, true);
    nran = ndone = 0;
    ac_sched_set_current(sc[0]);
    struct ac_task_opts o = {.done = done, .stealable = true};
    ac_task_id id;
    cr_assert_eq(ac_spawn_opts(AC_PRIO_HIGH, work, NULL, &o, &id), 0);
    cr_assert_eq(ac_sched_steal(sc[1]), 1);
    cr_expect_eq(ac_task_cancel(id), 0);
    cr_expect_eq(ac_sched_run(sc[1], 10), 1);
    cr_expect_eq(nran, 0);
    deliver();
    cr_expect_eq(ndone, 1);
    cr_expect_eq(last_res, -ECANCELED);
    cr_expect_eq(done_on, sc[0]);
}

Test(sched_steal, expired_stolen_task_is_not_run_and_times_out_home)
{
    make_world(2, flat, true);
    nran = ndone = 0;
    ac_sched_set_current(sc[0]);
    struct ac_task_opts o = {.done = done, .stealable = true, .deadline_ns = 1};
    cr_assert_eq(ac_spawn_opts(AC_PRIO_NORMAL, work, NULL, &o, NULL), 0);
    cr_assert_eq(ac_sched_steal(sc[1]), 1);
    ac_sched_run(sc[1], 10);
    deliver();
    cr_expect_eq(nran, 0);
    cr_expect_eq(last_res, -ETIMEDOUT);
    struct ac_sched_stats a;
    ac_sched_stats_get(sc[0], &a);
    cr_expect_eq(a.timed_out, 1);
}

Test(sched_steal, refused_completion_is_retried_on_the_next_run)
{
    make_world(2, flat, true);
    ndone = 0;
    spawn_on(0, AC_PRIO_HIGH, 2);
    cr_assert_eq(ac_sched_steal(sc[1]), 1);
    refuse = 1;
    cr_assert_eq(ac_sched_run(sc[1], 10), 1);
    cr_expect_eq(nmsgs, 0);
    cr_expect_not(ac_sched_sleep_prepare(sc[1]), "completions pending: do not sleep");
    cr_expect_eq(nmsgs, 1, "sleep_prepare retried the post");
    deliver();
    cr_expect_eq(ndone, 1);
    ac_sched_run(sc[0], 10);
}

Test(sched_steal, stealing_off_keeps_stealable_tasks_home)
{
    make_world(2, flat, false);
    cr_assert(ac_sched_sleep_prepare(sc[1]));
    spawn_on(0, AC_PRIO_HIGH, 3);
    cr_expect_eq(nwakes, 0);
    cr_expect_eq(ac_sched_steal(sc[1]), 0);
    ac_sched_sleep_done(sc[1]);
    cr_expect_eq(ac_sched_run(sc[0], 10), 3);
}

/* ---- pthreads as shards ------------------------------------------------- */

#if defined(AC_TSAN) || defined(AC_ASAN)
#define TASKS 20000u /* sanitizers slow the spin work ~20x */
#else
#define TASKS 50000u
#endif

static struct pshard_world world;
static _Atomic unsigned char runs[TASKS];
static atomic_uint ran_elsewhere;
static unsigned dones, dones_wrong_thread; /* shard 0 only */

static void cpu_work(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    volatile unsigned x = 0;
    for (unsigned k = 0; k < 500; k++)
        x += k;
    (void)x; /* the volatile stores are the work */
    atomic_fetch_add_explicit(&runs[i], 1, memory_order_relaxed);
    if (ac_sched_current() != world.sh[0].s)
        atomic_fetch_add_explicit(&ran_elsewhere, 1, memory_order_relaxed);
}

static void cpu_done(void *arg, int res)
{
    (void)arg;
    cr_assert_eq(res, 0);
    dones++;
    dones_wrong_thread += !pthread_equal(pthread_self(), world.sh[0].th);
    if (dones == TASKS)
        pshard_stop(&world);
}

static void *shard1_main(void *arg)
{
    (void)arg;
    pshard_loop(&world, &world.sh[1]);
    return NULL;
}

/* Shard 0 (this thread) queues all the CPU work while shard 1 sleeps: the
 * spawn must wake shard 1, which steals; every task runs exactly once and
 * every done callback runs on shard 0. */
Test(sched_steal, pthread_shards_share_an_imbalanced_load, .timeout = 60)
{
    cr_assert_eq(pshard_world_init(&world, 2, TASKS, true), 0);
    struct pshard *sh = world.sh;
    sh[0].th = pthread_self();
    ac_sched_set_current(sh[0].s);
    cr_assert_eq(pthread_create(&sh[1].th, NULL, shard1_main, NULL), 0);
    while (!pshard_asleep(&sh[1])) /* bounded by the test timeout */
        sched_yield();
    for (unsigned i = 0; i < TASKS; i++)
        cr_assert_eq(
            ac_spawn_stealable(AC_PRIO_NORMAL, cpu_work, (void *)(uintptr_t)i, cpu_done, NULL), 0);
    /* Let the thief get going before this shard starts on the pile too. */
    while (atomic_load(&ran_elsewhere) == 0)
        sched_yield();
    pshard_loop(&world, &sh[0]);
    pthread_join(sh[1].th, NULL);

    unsigned bad = 0;
    for (unsigned i = 0; i < TASKS; i++)
        bad += runs[i] != 1;
    cr_expect_eq(bad, 0, "%u tasks did not run exactly once", bad);
    cr_expect_eq(dones, TASKS);
    cr_expect_eq(dones_wrong_thread, 0);
    cr_expect_geq(atomic_load(&sh[1].wakes), 1);
    struct ac_sched_stats a, b;
    ac_sched_stats_get(sh[0].s, &a);
    ac_sched_stats_get(sh[1].s, &b);
    cr_expect_eq(a.completed, TASKS);
    cr_expect_gt(b.stolen, 0);
    cr_expect_eq(a.ran + b.ran, TASKS, "a.ran %llu b.ran %llu", (unsigned long long)a.ran,
                 (unsigned long long)b.ran);
    cr_log_info("shard 1 ran %llu of %u tasks, woken %u times", (unsigned long long)b.ran, TASKS,
                atomic_load(&sh[1].wakes));
    pshard_world_destroy(&world);
}

Test(sched_steal, stop_sends_unrun_stolen_tasks_home_and_keeps_own_ones)
{
    make_world(2, flat, true);
    nran = ndone = 0;
    spawn_on(0, AC_PRIO_HIGH, 4);
    spawn_on(1, AC_PRIO_LOW, 2);
    cr_assert_eq(ac_sched_steal(sc[1]), 2); /* shard 1 holds 2 of shard 0's */
    cr_expect_eq(ac_sched_stop(sc[1]), 0);
    cr_expect_eq(nmsgs, 1, "the unrun stolen tasks go home");
    deliver();
    cr_expect_eq(ndone, 2);
    cr_expect_eq(last_res, -ECANCELED);
    cr_expect_eq(nran, 0);
    cr_expect_eq(ac_sched_steal(sc[1]), 0, "a stopped shard no longer steals");
    cr_expect_eq(ac_sched_steal(sc[0]), 0, "nor is it stolen from");
    cr_expect_eq(ac_sched_run(sc[1], 10), 2, "its own stealable tasks still run here");
    cr_expect_eq(ac_sched_stop(sc[0]), 0);
    cr_expect_eq(ac_sched_run(sc[0], 10), 2);
    cr_expect_eq(nran, 4);
}

Test(sched_steal, no_wake_while_a_peer_is_searching)
{
    make_world(2, flat, true);
    cr_assert(ac_sched_sleep_prepare(sc[1]));
    atomic_store(&group->searching, 1); /* some shard is looking for work */
    spawn_on(0, AC_PRIO_HIGH, 1);
    cr_expect_eq(nwakes, 0, "the searcher (or sleep_prepare's re-check) finds it");
    atomic_store(&group->searching, 0);
    ac_sched_sleep_done(sc[1]);
    ac_sched_run(sc[0], 10);
}

Test(sched_steal, set_peers_rejects_bad_arguments)
{
    make_world(2, flat, true);
    ac_sched *swapped[2] = {sc[1], sc[0]};
    static const uint8_t far[2] = {0, 3};
    cr_expect_eq(ac_sched_set_peers(sc[0], swapped, 2, flat[0]), -EINVAL);
    cr_expect_eq(ac_sched_set_peers(sc[1], sc, 1, flat[1]), -EINVAL, "n too small");
    cr_expect_eq(ac_sched_set_peers(sc[0], sc, 2, far), -EINVAL);

    struct ac_sched_config cfg;
    ac_sched_config_default(&cfg); /* stealing on, no post hook */
    ac_sched *lone, *pair[2];
    cr_assert_eq(ac_sched_create(&cfg, &lone), 0);
    pair[0] = lone;
    pair[1] = sc[1];
    cr_expect_eq(ac_sched_set_peers(lone, pair, 2, flat[0]), -EINVAL,
                 "stolen tasks could not come home");
    cr_expect_eq(ac_sched_set_peers(lone, pair, 1, flat[0]), 0, "alone it needs no hooks");
    ac_sched_destroy(lone);
}
