/*
 * agentd's distributed locks: the config's `distributed_lock` section
 * (YAML or the --redis-nodes/--lock-* flags, config.h) mapped onto an
 * ac_dlock_config, one ac_dlock per shard, and the exclusive-counter
 * agent on them.
 */
#ifndef AGENTD_LOCKS_H
#define AGENTD_LOCKS_H

#include "config.h"

/*
 * After the config is built: keeps the lock settings (nothing to do when
 * the section is absent). Returns 0, or -EINVAL with a message on stderr
 * (type redis with other than one node, redis_redlock with fewer than 3).
 */
int agentd_locks_configure(const struct agentd_lock_config *lc);

/*
 * Registers the lock metrics (per shard: agentcore_lock_*; m may be NULL:
 * --no-metrics) and GET /debug/locks on the admin listener (held locks
 * of every shard with holder, fence and remaining lease, as JSON).
 * Before the runtime runs. Returns 0 or -errno.
 */
int agentd_locks_ops(ac_runtime *rt, ac_metrics *m, ac_admin *a);

/* Registers exclusive-counter (503 without locks). Returns 0 or -errno. */
int agentd_locks_register(ac_agent_host *host, unsigned shards);

/* On each shard once its net exists: the shard's ac_dlock (logged on failure). */
int agentd_locks_shard_start(unsigned shard, ac_net *net);

/*
 * On each shard when stopping, before the net stops: closes the shard's
 * ac_dlock (held leases are released), then calls then(arg) — at once
 * when there is none.
 */
void agentd_locks_shard_stop(unsigned shard, void (*then)(void *arg), void *arg);

#endif
