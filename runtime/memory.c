/*
 * Each shard's heap (mem/): created on the shard's own thread so its pages
 * are first touched on the shard's node, made current so ac_alloc on the
 * shard needs no lookup, drained of remote frees every loop turn, and
 * trimmed by a periodic timer. Destroyed on the shard's thread when its
 * loop ends; objects other threads still hold keep it alive as an orphan
 * (mem.h, rule 3).
 */
#include "internal.h"

#include "agentcore/mem.h"

#include <errno.h>

/* Trimming is not urgent; a rare timer keeps idle shards asleep. */
#define MAINTAIN_PERIOD_NS (1000ull * 1000 * 1000)

static void maintain(struct ac_timer *t, void *arg)
{
    struct ac_shard *s = arg;
    ac_heap_maintain(s->heap, ac_now_ns());
    if (ac_timer_start(t, MAINTAIN_PERIOD_NS, maintain, s))
        ac_log_warn("heap maintenance timer not restarted on shard %u", s->id);
}

int ac__memory_boot(struct ac_shard *s)
{
    const ac_runtime_config *cfg = &s->rt->cfg;
    struct ac_heap_config hc = {
        .numa_node = s->node,
        .limit_bytes = cfg->memory_limit,
        .idle_release_ns = cfg->memory_idle_release_ns,
        .hugetlb = cfg->memory_hugetlb,
    };
    int err = ac_heap_create(&hc, &s->heap);
    if (err)
        return err;
    ac_heap_set_current(s->heap);
    return 0;
}

/* On the shard, once its timer wheel is current. */
int ac__memory_start(struct ac_shard *s)
{
    return ac_timer_start(&s->heap_timer, MAINTAIN_PERIOD_NS, maintain, s);
}

void ac__memory_fini(struct ac_shard *s)
{
    if (!s->heap)
        return;
    ac_heap_reclaim(s->heap); /* hand our pending remote frees to their owners */
    ac_heap_set_current(NULL);
    ac_heap_destroy(s->heap);
    s->heap = NULL;
}

int ac_runtime_shard_heap_stats(const ac_runtime *rt, unsigned shard, struct ac_heap_stats *out)
{
    struct ac_shard *self = ac__shard_current();
    if (shard >= rt->nshards || !self || self->rt != rt || self->id != shard)
        return -EINVAL;
    ac_heap_stats(self->heap, out);
    return 0;
}
