/*
 * agentd's lock flags and per-shard lock clients. The YAML
 * `distributed_lock` section (type, redis_nodes, lock_timeout,
 * retry_count, retry_delay, drift_factor) maps onto the same
 * ac_dlock_config once agentd reads a config file.
 */
#include "locks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 256

static struct {
    struct ac_dlock_config cfg;
    char *nodes; /* the --redis-nodes text, split in place */
    /* slot i: written and read by shard i only */
    ac_dlock *per_shard[MAX_SHARDS];
    void (*then[MAX_SHARDS])(void *arg);
    void *then_arg[MAX_SHARDS];
} L;

void agentd_locks_init(void)
{
    ac_dlock_config_init(&L.cfg);
}

static int ms(const char *flag, const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || !*v || n > 86400000ull) {
        fprintf(stderr, "agentd: --%s: want milliseconds, got \"%s\"\n", flag, v);
        return -1;
    }
    *out = n * 1000000ull;
    return 1;
}

int agentd_locks_option(int code, const char *v)
{
    char *end;
    switch (code) {
    case AGENTD_OPT_REDIS_NODES:
        free(L.nodes);
        L.nodes = strdup(v);
        if (!L.nodes || ac_dlock_config_set_nodes(&L.cfg, L.nodes) != 0) {
            fprintf(stderr, "agentd: --redis-nodes: want host:port[,host:port...], got \"%s\"\n",
                    v);
            return -1;
        }
        return 1;
    case AGENTD_OPT_LOCK_TYPE:
        if (ac_dlock_type_parse(v, &L.cfg.type) != 0) {
            fprintf(stderr, "agentd: --lock-type: want redis or redis_redlock, got \"%s\"\n", v);
            return -1;
        }
        return 1;
    case AGENTD_OPT_LOCK_TIMEOUT:
        return ms("lock-timeout-ms", v, &L.cfg.lock_timeout_ns);
    case AGENTD_OPT_LOCK_RETRY_DELAY:
        return ms("lock-retry-delay-ms", v, &L.cfg.retry_delay_ns);
    case AGENTD_OPT_LOCK_NODE_TIMEOUT:
        return ms("lock-node-timeout-ms", v, &L.cfg.node_timeout_ns);
    case AGENTD_OPT_LOCK_RETRY_COUNT: {
        unsigned long n = strtoul(v, &end, 10);
        if (*end || !*v || n > 1000000) {
            fprintf(stderr, "agentd: --lock-retry-count: want 0..1000000, got \"%s\"\n", v);
            return -1;
        }
        L.cfg.retry_count = (unsigned)n;
        return 1;
    }
    case AGENTD_OPT_LOCK_DRIFT:
        L.cfg.drift_factor = strtod(v, &end);
        if (*end || !*v || !(L.cfg.drift_factor >= 0 && L.cfg.drift_factor < 0.5)) {
            fprintf(stderr, "agentd: --lock-drift-factor: want 0 <= f < 0.5, got \"%s\"\n", v);
            return -1;
        }
        return 1;
    case AGENTD_OPT_REDIS_PASSWORD:
        L.cfg.password = v;
        return 1;
    default:
        return 0;
    }
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
