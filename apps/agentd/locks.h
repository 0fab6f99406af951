/*
 * agentd's distributed locks: command-line flags into an ac_dlock_config,
 * one ac_dlock per shard, and the exclusive-counter agent on them.
 */
#ifndef AGENTD_LOCKS_H
#define AGENTD_LOCKS_H

#include "agentcore.h"

#include <getopt.h>

/* getopt_long codes of the lock flags (above any short option). */
enum {
    AGENTD_OPT_REDIS_NODES = 1000,
    AGENTD_OPT_LOCK_TYPE,
    AGENTD_OPT_LOCK_TIMEOUT,
    AGENTD_OPT_LOCK_RETRY_COUNT,
    AGENTD_OPT_LOCK_RETRY_DELAY,
    AGENTD_OPT_LOCK_DRIFT,
    AGENTD_OPT_LOCK_NODE_TIMEOUT,
    AGENTD_OPT_REDIS_PASSWORD,
};

/* The entries for main's struct option table. */
#define AGENTD_LOCK_OPTIONS                                                                        \
    {"redis-nodes", required_argument, 0, AGENTD_OPT_REDIS_NODES},                                 \
        {"lock-type", required_argument, 0, AGENTD_OPT_LOCK_TYPE},                                 \
        {"lock-timeout-ms", required_argument, 0, AGENTD_OPT_LOCK_TIMEOUT},                        \
        {"lock-retry-count", required_argument, 0, AGENTD_OPT_LOCK_RETRY_COUNT},                   \
        {"lock-retry-delay-ms", required_argument, 0, AGENTD_OPT_LOCK_RETRY_DELAY},                \
        {"lock-drift-factor", required_argument, 0, AGENTD_OPT_LOCK_DRIFT},                        \
        {"lock-node-timeout-ms", required_argument, 0, AGENTD_OPT_LOCK_NODE_TIMEOUT},              \
    {                                                                                              \
        "redis-password", required_argument, 0, AGENTD_OPT_REDIS_PASSWORD                          \
    }

#define AGENTD_LOCK_USAGE                                                                          \
    "              [--redis-nodes HOST:PORT,... (none: exclusive-counter answers 503)]\n"          \
    "              [--lock-type redis|redis_redlock (redis)] [--lock-timeout-ms MS (30000)]\n"     \
    "              [--lock-retry-count N (3)] [--lock-retry-delay-ms MS (100)]\n"                  \
    "              [--lock-drift-factor F (0.01)] [--lock-node-timeout-ms MS (50)]\n"              \
    "              [--redis-password P]\n"

/* Before parsing: the defaults. */
void agentd_locks_init(void);

/*
 * Handles one lock flag: 1 taken, 0 not a lock flag, -1 bad value
 * (a message naming the flag was printed).
 */
int agentd_locks_option(int code, const char *value);

/* After parsing: registers exclusive-counter. Returns 0 or -errno. */
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
