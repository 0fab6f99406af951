/* Each shard allocates from its own heap; frees from other shards come home. */
#include "runtime/helpers.h"

#include "agentcore/mem.h"

#include <errno.h>
#include <stdatomic.h>

#define OBJS 5000

static struct {
    ac_runtime *rt;
    void *objs[OBJS];
    size_t in_use_before, in_use_after_alloc, in_use_after_reclaim;
    int own_heap_ok, node_ok;
    struct ac_timer poll;
} M;

static size_t in_use(void)
{
    struct ac_heap_stats st;
    cr_assert_eq(ac_runtime_shard_heap_stats(M.rt, ac_shard_id(), &st), 0);
    return st.bytes_in_use;
}

static void check_home(struct ac_timer *t, void *arg)
{
    (void)arg;
    /* the loop reclaims remote frees every turn; wait for all of them */
    if (in_use() > M.in_use_before) {
        cr_assert_eq(ac_timer_start(t, 1000000, check_home, NULL), 0);
        return;
    }
    M.in_use_after_reclaim = in_use();
    ac_runtime_stop(M.rt);
}

static void back_on_0(void *arg)
{
    (void)arg;
    cr_assert_eq(ac_timer_start(&M.poll, 0, check_home, NULL), 0);
}

static void free_on_1(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < OBJS; i++)
        ac_free(M.objs[i]); /* owned by shard 0: a remote free */
    cr_assert_eq(ac_submit_to(0, back_on_0, NULL), 0);
}

static void on_start(void *arg, unsigned shard)
{
    (void)arg;
    struct ac_heap_stats st;
    cr_assert_eq(ac_runtime_shard_heap_stats(M.rt, shard, &st), 0);
    if (st.numa_node == ac_runtime_shard_node(M.rt, shard))
        atomic_fetch_add((_Atomic int *)&M.node_ok, 1);
    if (ac_heap_current() != NULL)
        atomic_fetch_add((_Atomic int *)&M.own_heap_ok, 1);
    if (shard != 0)
        return;
    M.in_use_before = in_use();
    for (unsigned i = 0; i < OBJS; i++)
        cr_assert_not_null(M.objs[i] = ac_alloc(64 + i % 200));
    M.in_use_after_alloc = in_use();
    cr_assert_eq(ac_submit_to(1, free_on_1, NULL), 0);
}

Test(runtime_memory, shards_allocate_locally_and_remote_frees_come_home, .timeout = 60)
{
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = 2;
    cfg.oversubscribe = true;
    cfg.on_shard_start = on_start;
    memset(&M, 0, sizeof M);
    cr_assert_eq(ac_runtime_create(&cfg, &M.rt), 0);
    test_run(M.rt);
    cr_assert_eq(M.own_heap_ok, 2, "every shard has its own current heap");
    cr_assert_eq(M.node_ok, 2, "each heap is on its shard's node");
    cr_assert_gt(M.in_use_after_alloc, M.in_use_before);
    cr_assert_eq(M.in_use_after_reclaim, M.in_use_before);
    ac_runtime_destroy(M.rt);
}

static struct {
    ac_runtime *rt;
    unsigned got, refused;
    bool recovered;
} B;

static void exhaust(void *arg, unsigned shard)
{
    (void)arg;
    (void)shard;
    void *p[4096];
    unsigned n = 0;
    for (; n < 4096; n++) {
        p[n] = ac_alloc(4096);
        if (!p[n])
            break;
    }
    B.got = n;
    B.refused = n < 4096;
    for (unsigned i = 0; i < n; i++)
        ac_free(p[i]);
    void *q = ac_alloc(4096);
    B.recovered = q != NULL;
    ac_free(q);
    ac_runtime_stop(B.rt);
}

Test(runtime_memory, a_shard_past_its_budget_gets_null_not_a_crash)
{
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = 1;
    cfg.memory_limit = 4u << 20; /* 4 MiB */
    cfg.on_shard_start = exhaust;
    memset(&B, 0, sizeof B);
    cr_assert_eq(ac_runtime_create(&cfg, &B.rt), 0);
    test_run(B.rt);
    cr_assert(B.refused, "the budget never refused");
    cr_assert_gt(B.got, 0);
    cr_assert_lt(B.got, 4096);
    cr_assert(B.recovered, "allocation works again after frees");
    ac_runtime_destroy(B.rt);
}
