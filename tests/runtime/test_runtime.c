#include "runtime/helpers.h"

#include <errno.h>
#include <numa.h>
#include <fcntl.h>
#include <stdatomic.h>

struct boot {
    ac_runtime *rt;
    _Atomic unsigned started;
    _Atomic unsigned on_right_cpu;
    _Atomic unsigned right_node;
    _Atomic unsigned right_id;
};

static void on_start(void *arg, unsigned shard)
{
    struct boot *b = arg;
    if ((int)sched_getcpu() == ac_runtime_shard_cpu(b->rt, shard))
        atomic_fetch_add(&b->on_right_cpu, 1);
    int node = numa_available() >= 0 ? numa_node_of_cpu(sched_getcpu()) : 0;
    if (node == ac_runtime_shard_node(b->rt, shard))
        atomic_fetch_add(&b->right_node, 1);
    if (ac_shard_id() == shard && ac_runtime_current() == b->rt)
        atomic_fetch_add(&b->right_id, 1);
    if (atomic_fetch_add(&b->started, 1) + 1 == ac_runtime_shard_count(b->rt))
        ac_runtime_stop(b->rt);
}

static void boot_and_stop(const char *cpus, unsigned expect_shards)
{
    struct boot b = {0};
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.cpus = cpus;
    cfg.on_shard_start = on_start;
    cfg.hook_arg = &b;
    cr_assert_eq(ac_runtime_create(&cfg, &b.rt), 0);
    cr_assert_eq(ac_runtime_shard_count(b.rt), expect_shards);
    test_run(b.rt);
    cr_assert_eq(b.started, expect_shards);
    cr_assert_eq(b.on_right_cpu, expect_shards, "a shard ran off its CPU");
    cr_assert_eq(b.right_node, expect_shards);
    cr_assert_eq(b.right_id, expect_shards);
    ac_runtime_destroy(b.rt);
}

Test(runtime_boot, boots_and_stops_on_one_cpu)
{
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    char cpu[16];
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) {
            snprintf(cpu, sizeof cpu, "%d", c);
            break;
        }
    boot_and_stop(cpu, 1);
}

Test(runtime_boot, boots_one_shard_per_cpu_by_default_each_pinned)
{
    boot_and_stop(NULL, test_cpu_count());
}

Test(runtime_boot, numa_node_selects_its_cpus)
{
    if (numa_available() < 0)
        cr_skip_test("no NUMA support");
    struct boot b = {0};
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.numa_node = 0;
    cfg.on_shard_start = on_start;
    cfg.hook_arg = &b;
    cr_assert_eq(ac_runtime_create(&cfg, &b.rt), 0);
    for (unsigned i = 0; i < ac_runtime_shard_count(b.rt); i++)
        cr_assert_eq(numa_node_of_cpu(ac_runtime_shard_cpu(b.rt, i)), 0);
    test_run(b.rt);
    cr_assert_eq(b.on_right_cpu, ac_runtime_shard_count(b.rt));
    ac_runtime_destroy(b.rt);
}

Test(runtime_boot, oversubscribe_runs_eight_shards_on_few_cpus)
{
    struct boot b = {0};
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = 8;
    cfg.oversubscribe = true;
    cfg.on_shard_start = on_start;
    cfg.hook_arg = &b;
    cr_assert_eq(ac_runtime_create(&cfg, &b.rt), 0);
    cr_assert_eq(ac_runtime_shard_count(b.rt), 8);
    test_run(b.rt);
    cr_assert_eq(b.started, 8);
    cr_assert_eq(b.on_right_cpu, 8);
    ac_runtime_destroy(b.rt);
}

Test(runtime_config, rejects_bad_cpu_lists_and_shard_counts)
{
    ac_runtime *rt = NULL;
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.cpus = "zero";
    cr_assert_eq(ac_runtime_create(&cfg, &rt), -EINVAL);
    cfg.cpus = "1000"; /* not in our affinity mask on any test machine */
    cr_assert_eq(ac_runtime_create(&cfg, &rt), -EINVAL);
    cfg.cpus = NULL;
    cfg.shards = test_cpu_count() + 1;
    cr_assert_eq(ac_runtime_create(&cfg, &rt), -EINVAL,
                 "more shards than CPUs needs oversubscribe");
    cfg.shards = 0;
    cfg.numa_node = 999;
    cr_assert_eq(ac_runtime_create(&cfg, &rt), -EINVAL);
    cfg.numa_node = -1;
    cfg.msg_ring_size = 1000; /* not a power of two */
    cr_assert_eq(ac_runtime_create(&cfg, &rt), -EINVAL);
    cr_assert_null(rt);
}

Test(runtime_lifecycle, stop_before_run_returns_after_boot)
{
    ac_runtime *rt;
    ac_runtime_config cfg;
    test_config(&cfg);
    cr_assert_eq(ac_runtime_create(&cfg, &rt), 0);
    ac_runtime_stop(rt);
    ac_runtime_stop(rt); /* idempotent */
    test_run(rt);
    cr_assert_eq(ac_runtime_run(rt), -EALREADY, "a runtime runs once");
    ac_runtime_destroy(rt);
}

Test(runtime_lifecycle, non_shard_threads_are_not_shards)
{
    cr_assert_eq(ac_shard_id(), AC_SHARD_NONE);
    cr_assert_null(ac_runtime_current());
    cr_assert_eq(ac_submit_to(0, NULL, NULL), -ENXIO);
}

/* ---- stop holds: a shard finishes its work before closing --------------- */

static struct {
    ac_runtime *rt;
    struct ac_timer t;
    bool hook_ran, finished_before_exit;
    unsigned late_msgs;
} H;

static void late_msg(void *arg)
{
    (void)arg;
    H.late_msgs++;
}

static void finish(struct ac_timer *t, void *arg)
{
    (void)t;
    (void)arg;
    /* still allowed to send: the sending side closes after the release */
    H.finished_before_exit = ac_submit_to(0, late_msg, NULL) == 0;
    ac_shard_release_stop();
}

static void hold_on_stop(void *arg, unsigned shard)
{
    (void)arg;
    (void)shard;
    H.hook_ran = true;
    ac_shard_hold_stop();
    cr_assert_eq(ac_timer_start(&H.t, 20ull * 1000 * 1000, finish, NULL), 0);
}

static void stop_now(void *arg, unsigned shard)
{
    (void)arg;
    (void)shard;
    ac_runtime_stop(H.rt);
}

Test(runtime_lifecycle, stop_waits_for_holds_released_by_the_shard)
{
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = 1;
    cfg.on_shard_start = stop_now;
    cfg.on_shard_stop = hold_on_stop;
    memset(&H, 0, sizeof H);
    cr_assert_eq(ac_runtime_create(&cfg, &H.rt), 0);
    test_run(H.rt);
    cr_assert(H.hook_ran);
    cr_assert(H.finished_before_exit);
    cr_assert_eq(H.late_msgs, 1, "a message sent before closing still runs");
    ac_runtime_destroy(H.rt);
}

static void hold_forever(void *arg, unsigned shard)
{
    (void)arg;
    (void)shard;
    ac_shard_hold_stop();
}

Test(runtime_lifecycle, stop_deadline_ends_a_hold_that_is_never_released)
{
    ac_runtime *rt;
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = 1;
    cfg.stop_timeout_ns = 50ull * 1000 * 1000;
    cfg.on_shard_start = stop_now;
    cfg.on_shard_stop = hold_forever;
    cr_assert_eq(ac_runtime_create(&cfg, &rt), 0);
    H.rt = rt;
    test_run(rt);
    ac_runtime_destroy(rt);
}

/* ---- resources ----------------------------------------------------------- */

static unsigned open_fds(void)
{
    unsigned n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

static void stop_at_start(void *arg, unsigned shard)
{
    (void)arg;
    (void)shard;
    ac_runtime_stop(ac_runtime_current());
}

Test(runtime_lifecycle, create_run_destroy_leaves_no_fd_behind)
{
    unsigned fds = open_fds();
    for (int i = 0; i < 10; i++) {
        ac_runtime *rt;
        ac_runtime_config cfg;
        test_config(&cfg);
        cfg.on_shard_start = stop_at_start;
        cr_assert_eq(ac_runtime_create(&cfg, &rt), 0);
        if (i % 2)
            test_run(rt); /* rings, and the ext ring, all closed again */
        ac_runtime_destroy(rt);
    }
    cr_assert_eq(open_fds(), fds, "file descriptors leaked");
}

static void sqpoll_hello(void *arg)
{
    (void)arg;
    ac_runtime_stop(ac_runtime_current());
}

static void sqpoll_start(void *arg, unsigned shard)
{
    (void)arg;
    if (shard == 0)
        cr_assert_eq(
            ac_submit_to(ac_runtime_shard_count(ac_runtime_current()) - 1, sqpoll_hello, NULL), 0);
}

Test(runtime_boot, sqpoll_rings_boot_and_pass_messages)
{
    ac_runtime *rt;
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.sqpoll = true;
    cfg.on_shard_start = sqpoll_start;
    cr_assert_eq(ac_runtime_create(&cfg, &rt), 0);
    test_run(rt);
    struct ac_shard_stats st;
    cr_assert_eq(ac_runtime_shard_stats(rt, ac_runtime_shard_count(rt) - 1, &st), 0);
    cr_assert_eq(st.msgs_run, 1);
    ac_runtime_destroy(rt);
}
