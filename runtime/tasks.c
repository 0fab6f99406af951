/*
 * The scheduler (sched/) attached to each shard: creation on the shard's
 * own thread (its task pool lands on its node), the hooks that let the
 * scheduler post messages and wake shards without including the runtime,
 * and teardown once every shard thread has exited.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

static int post_hook(void *arg, unsigned shard, void (*fn)(void *), void *fnarg)
{
    struct ac_shard *s = arg;
    return ac_runtime_submit(s->rt, shard, fn, fnarg);
}

static void wake_hook(void *arg, unsigned shard)
{
    struct ac_shard *s = arg;
    /* seq_cst: the scheduler's deque push is visible before we read
     * `sleeping` (same handshake as messages, msg.c) */
    atomic_thread_fence(memory_order_seq_cst);
    ac__shard_wake(s->rt, &s->rt->shards[shard]);
}

static void after_task_hook(void *arg)
{
    struct ac_shard *s = arg;
    ac__after_callback(s, "task"); /* stamps stall_mark: the task's end */
    /* The turn's time slice is spent: serve I/O and messages first. */
    if (s->stall_mark - s->turn_mark > s->rt->task_slice_cycles)
        ac_sched_yield(s->sched);
}

int ac__tasks_boot(struct ac_shard *s)
{
    struct ac_runtime *rt = s->rt;
    struct ac_sched_config sc;

    ac_sched_config_default(&sc);
    sc.shard_id = s->id;
    for (unsigned c = 0; c < AC_PRIO_COUNT; c++)
        if (rt->cfg.sched_weights[c])
            sc.weights[c] = rt->cfg.sched_weights[c];
    if (rt->cfg.sched_queue_size)
        sc.queue_size = rt->cfg.sched_queue_size;
    sc.stealing = !rt->cfg.no_stealing && rt->nshards > 1;
    sc.group = rt->steal_group;
    sc.hooks = (struct ac_sched_hooks){
        .arg = s, .post = post_hook, .wake = wake_hook, .after_task = after_task_hook};
    int err = ac_sched_create(&sc, &s->sched);
    if (err)
        return err;
    rt->scheds[s->id] = s->sched;
    ac_sched_set_current(s->sched);
    return 0;
}

/* After the start gate: every scheduler exists. */
int ac__tasks_connect(struct ac_shard *s)
{
    struct ac_runtime *rt = s->rt;
    unsigned n = rt->nshards;
    unsigned *cpus = malloc(sizeof *cpus * n);
    uint8_t *dist = malloc(n);
    int err = -ENOMEM;

    if (!cpus || !dist)
        goto out;
    for (unsigned i = 0; i < n; i++)
        cpus[i] = (unsigned)rt->shards[i].cpu;
    err = ac_sched_topology_distances(cpus, n, s->id, dist);
    if (!err)
        err = ac_sched_set_peers(s->sched, rt->scheds, n, dist);
out:
    free(cpus);
    free(dist);
    return err;
}

void ac__tasks_fini(struct ac_runtime *rt)
{
    if (!rt->scheds)
        return;
    for (unsigned i = 0; i < rt->nshards; i++) {
        if (rt->scheds[i])
            ac_sched_destroy(rt->scheds[i]);
        rt->scheds[i] = NULL;
        rt->shards[i].sched = NULL;
    }
}
