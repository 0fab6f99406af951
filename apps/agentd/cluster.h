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
    AGENTD_OPT_CLUSTER_ADVERTISE = 1000,
    AGENTD_OPT_CLUSTER_MEMBERS,
    AGENTD_OPT_CLUSTER_REDIS,
    AGENTD_OPT_CLUSTER_MODE,
    AGENTD_OPT_CLUSTER_STORE,
    AGENTD_OPT_CLUSTER_TTL,
    AGENTD_OPT_CLUSTER_POLL,
};

#define AGENTD_CLUSTER_OPTIONS                                                                     \
    {"cluster-advertise", required_argument, 0, AGENTD_OPT_CLUSTER_ADVERTISE},                     \
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
    "              [--cluster-advertise H:P] [--cluster-mode proxy|redirect]\n"                    \
    "              [--cluster-session-store memory|redis] [--cluster-ttl-ms MS (3000)]\n"          \
    "              [--cluster-poll-ms MS (500)]\n"

#define AGENTD_MAX_LIST 64

struct agentd_cluster {
    bool enabled; /* any --cluster-* flag given */
    struct ac_cluster_config cfg;
    char *members_text, *redis_text; /* split in place */
    const char *members[AGENTD_MAX_LIST], *redis[AGENTD_MAX_LIST];
    char advertise[300];
    ac_cluster *cluster;
};

/* Defaults. */
void agentd_cluster_init(struct agentd_cluster *c);

/*
 * Takes option `opt` with `arg`. Returns 0, or -EINVAL after printing
 * what is wrong (the caller prints usage), or -ENOENT: not a cluster flag.
 */
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
