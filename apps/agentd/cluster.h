/*
 * agentd's cluster flags and hooks (apps/agentd/cluster.c): several agentd
 * nodes as one service (include/agentcore/cluster.h). main.c adds
 * AGENTD_CLUSTER_OPTIONS to its long options, hands unknown option codes
 * to agentd_cluster_flag, and calls agentd_cluster_create once the port
 * is known.
 */
#ifndef AGENTD_CLUSTER_H
#define AGENTD_CLUSTER_H

#include "agentcore.h"

#include <getopt.h>

/* Option codes of the cluster flags (above every other agentd option). */
enum {
    AGENTD_OPT_CLUSTER_NODE_ID = 1100, /* above the lock flags (apps/agentd/locks.h) */
    AGENTD_OPT_CLUSTER_ADVERTISE,
    AGENTD_OPT_CLUSTER_MEMBERS,
    AGENTD_OPT_CLUSTER_REDIS,
    AGENTD_OPT_CLUSTER_MODE,
    AGENTD_OPT_CLUSTER_STORE,
    AGENTD_OPT_CLUSTER_TTL,
    AGENTD_OPT_CLUSTER_POLL,
};

#define AGENTD_CLUSTER_OPTIONS                                                                     \
    {"cluster-node-id", required_argument, 0, AGENTD_OPT_CLUSTER_NODE_ID},                         \
        {"cluster-advertise", required_argument, 0, AGENTD_OPT_CLUSTER_ADVERTISE},                 \
        {"cluster-members", required_argument, 0, AGENTD_OPT_CLUSTER_MEMBERS},                     \
        {"cluster-redis", required_argument, 0, AGENTD_OPT_CLUSTER_REDIS},                         \
        {"cluster-mode", required_argument, 0, AGENTD_OPT_CLUSTER_MODE},                           \
        {"cluster-session-store", required_argument, 0, AGENTD_OPT_CLUSTER_STORE},                 \
        {"cluster-ttl-ms", required_argument, 0, AGENTD_OPT_CLUSTER_TTL},                          \
    {                                                                                              \
        "cluster-poll-ms", required_argument, 0, AGENTD_OPT_CLUSTER_POLL                           \
    }

#define AGENTD_CLUSTER_USAGE                                                                       \
    "              [--cluster-members H:P,...] [--cluster-redis H:P,...]\n"                        \
    "              [--cluster-advertise H:P] [--cluster-node-id ID]\n"                             \
    "              [--cluster-mode proxy|redirect]\n"                                              \
    "              [--cluster-session-store memory|redis] [--cluster-ttl-ms MS (3000)]\n"          \
    "              [--cluster-poll-ms MS (500)]\n"

#define AGENTD_MAX_LIST 64

struct agentd_cluster {
    bool enabled; /* any --cluster-* flag given (or members / Redis set) */
    struct ac_cluster_config cfg;
    char *members_text, *redis_text; /* split in place */
    const char *members[AGENTD_MAX_LIST], *redis[AGENTD_MAX_LIST];
    char advertise[300], node_id[128];
    ac_cluster *cluster;
};

/* Defaults. */
void agentd_cluster_init(struct agentd_cluster *c);

/* The long options (AGENTD_CLUSTER_OPTIONS), terminated by a zero row. */
extern const struct option agentd_cluster_options[];

/*
 * Sets the cluster setting `opt` (an AGENTD_OPT_CLUSTER_* code) from its
 * text, for a flag or a config key alike. Returns 0, -EINVAL with the
 * reason in `why` (the caller names the flag, or the file, line and key),
 * -ENOMEM, or -ENOENT: not a cluster setting.
 */
int agentd_cluster_set(struct agentd_cluster *c, int opt, const char *arg, char *why, size_t cap);

/* agentd_cluster_set for a command-line flag: prints "--flag: why" on -EINVAL. */
int agentd_cluster_flag(struct agentd_cluster *c, int opt, const char *arg);

/*
 * Creates the cluster when a flag asked for one (the advertise address
 * defaults to host:port). Returns 0 (c->cluster NULL: single node) or
 * -errno after printing why.
 */
int agentd_cluster_create(struct agentd_cluster *c, const char *host, uint16_t port);

/*
 * The shard hooks: start before the shard serves (membership on shard 0,
 * the shard's session store connection), stop once its HTTP server has
 * stopped and before its net stops (done(arg) then runs). No cluster:
 * start does nothing and stop calls done at once.
 */
int agentd_cluster_shard_start(struct agentd_cluster *c, ac_net *net, unsigned shard);
void agentd_cluster_shard_stop(struct agentd_cluster *c, unsigned shard, void (*done)(void *arg),
                               void *arg);

/* Frees the cluster; after the runtime stopped. */
void agentd_cluster_destroy(struct agentd_cluster *c);

#endif
