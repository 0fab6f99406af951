#include "runtime/helpers.h"

#include <errno.h>
#include <numa.h>
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
    cr_assert_eq(ac_runtime_create(&cfg, &rt), -EINVAL, "more shards than CPUs needs oversubscribe");
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
