/*
 * agentd's lock settings and per-shard lock clients: the config's
 * distributed_lock section (type, redis_nodes, lock_timeout, retry_count,
 * retry_delay, drift_factor, and the flag-only node timeout) becomes one
 * ac_dlock_config, and every shard makes its own ac_dlock from it.
 */
#include "locks.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_SHARDS 256

static struct {
    struct ac_dlock_config cfg;
    char nodes[AGENTD_REDIS_NODES][AGENTD_HOST_MAX + 10]; /* "host:port", "[v6]:port" */
    /* slot i: written and read by shard i only */
    ac_dlock *per_shard[MAX_SHARDS];
    void (*then[MAX_SHARDS])(void *arg);
    void *then_arg[MAX_SHARDS];
} L;

int agentd_locks_configure(const struct agentd_lock_config *lc)
{
    ac_dlock_config_init(&L.cfg);
    if (!lc->configured)
        return 0;
    if (lc->type == AGENTD_LOCK_REDIS && lc->nnodes != 1) {
        fprintf(stderr, "agentd: distributed_lock: type redis locks on one node, %u given\n",
                lc->nnodes);
        return -EINVAL;
    }
    if (lc->type == AGENTD_LOCK_REDLOCK && lc->nnodes < 3) {
        fprintf(stderr,
                "agentd: distributed_lock: type redis_redlock needs at least 3 nodes, %u given\n",
                lc->nnodes);
        return -EINVAL;
    }
    L.cfg.type = lc->type == AGENTD_LOCK_REDIS ? AC_DLOCK_REDIS : AC_DLOCK_REDLOCK;
    for (unsigned i = 0; i < lc->nnodes; i++) {
        bool v6 = strchr(lc->nodes[i].host, ':') != NULL;
        snprintf(L.nodes[i], sizeof L.nodes[i], v6 ? "[%s]:%u" : "%s:%u", lc->nodes[i].host,
                 lc->nodes[i].port);
        L.cfg.nodes[i] = L.nodes[i];
    }
    L.cfg.node_count = lc->nnodes;
    L.cfg.lock_timeout_ns = lc->lock_timeout_ns;
    L.cfg.retry_count = lc->retry_count;
    L.cfg.retry_delay_ns = lc->retry_delay_ns;
    L.cfg.drift_factor = lc->drift_factor;
    if (lc->node_timeout_ns)
        L.cfg.node_timeout_ns = lc->node_timeout_ns;
    return 0;
}

int agentd_locks_register(ac_agent_host *host, unsigned shards)
{
    if (shards > MAX_SHARDS)
        return -EINVAL;
    return ac_agent_register_exclusive_counter(host, L.per_shard);
}

int agentd_locks_shard_start(unsigned shard, ac_net *net)
{
    if (!L.cfg.node_count)
        return 0;
    int err = ac_dlock_create(net, &L.cfg, &L.per_shard[shard]);
    if (err)
        ac_log_error("agentd: locks on shard %u: %s", shard, ac_strerror(err));
    return err;
}

static void closed(void *arg)
{
    unsigned shard = (unsigned)(uintptr_t)arg;
    L.per_shard[shard] = NULL;
    L.then[shard](L.then_arg[shard]);
}

void agentd_locks_shard_stop(unsigned shard, void (*then)(void *arg), void *arg)
{
    if (!L.per_shard[shard]) {
        then(arg);
        return;
    }
    L.then[shard] = then;
    L.then_arg[shard] = arg;
    ac_dlock_close(L.per_shard[shard], closed, (void *)(uintptr_t)shard);
}
