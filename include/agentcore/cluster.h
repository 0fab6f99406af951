/*
 * agentcore/cluster.h — several agentd nodes as one service (cluster
 * module, runtime/cluster/): which node owns a session (placement), who
 * the live nodes are (membership) and where a session's state survives
 * its node (session store).
 *
 * Placement is rendezvous hashing (highest random weight): the owner of
 * a key is the node whose mix(key ^ hash(node name)) is largest. It was
 * chosen by measurement (bench/cluster_placement.c, bench/RESULTS.md)
 * over hash % N, jump hash, Ketama rings and Maglev: over 1 M session ids
 * at 10 and 100 nodes it is the only candidate within both aims — max/mean
 * load ≤ 1.05 and, when any one node joins or leaves, exactly the ideal
 * 1/N of the sessions move (only the leaver's, or only the joiner's).
 * Every node computes the same owner from the same member set, whatever
 * order the members were listed in: no table to agree on.
 */
#ifndef AGENTCORE_CLUSTER_H
#define AGENTCORE_CLUSTER_H

#include "agentcore/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- placement ------------------------------------------------------- */

/* Most nodes a placement holds. */
#define AC_PLACEMENT_MAX_NODES 1024

/* Longest node name ("host:port" or an id), bytes without the NUL. */
#define AC_PLACEMENT_NAME_MAX 255

typedef struct ac_placement ac_placement;

/*
 * Builds an immutable placement over `n` node names (copied; 1..
 * AC_PLACEMENT_MAX_NODES, each 1..AC_PLACEMENT_NAME_MAX bytes, all
 * distinct). Node i of the placement is names[i]. Returns 0 and *out,
 * -EINVAL (bad count, empty or long name, duplicate) or -ENOMEM. The
 * caller owns it (ac_placement_destroy). Immutable once built, so any
 * thread may read it.
 */
AC_MUST_USE int ac_placement_create(const char *const *names, unsigned n, ac_placement **out);

void ac_placement_destroy(ac_placement *p);

/*
 * The index of the node that owns a key whose 64-bit hash is `key` (for
 * sessions: ac_session_hash of the id). O(nodes): measured 0.12 µs at
 * 10 nodes and 0.49 µs at 100 on a loaded 2-CPU VM (bench/RESULTS.md).
 * Any thread.
 */
unsigned ac_placement_owner(const ac_placement *p, uint64_t key);

/* Node count, and node i's name (NUL-terminated, owned by the placement). */
unsigned ac_placement_count(const ac_placement *p);
const char *ac_placement_node(const ac_placement *p, unsigned i);

/* The index of the node called `name`, or -1. */
int ac_placement_find(const ac_placement *p, const char *name);

/* ---- the cluster: this node's view of the others ------------------------ */

/* What a node does with a request for a session another node owns. */
enum ac_cluster_mode {
    AC_CLUSTER_PROXY,    /* forward it there and relay the answer */
    AC_CLUSTER_REDIRECT, /* answer 307 with the owner's URL */
};

/* Where a session's state lives. */
enum ac_cluster_store {
    AC_CLUSTER_STORE_MEMORY, /* only the owner shard's memory (a single node) */
    AC_CLUSTER_STORE_REDIS,  /* also written through to Redis before the answer */
};

struct ac_cluster_config {
    const char *advertise;      /* "host:port" other nodes reach this one at (required);
                                   also the node's identity in placement */
    const char *node_id;        /* a label: shown in /v1/cluster, stored as the value of the
                                   node's registration (NULL: the advertise address) */
    const char *const *members; /* static member list ("host:port"), used when no
                                   Redis is configured; this node is added if absent */
    unsigned nmembers;
    const char *const *redis; /* Redis servers ("host:port"); the first one holds
                                 membership and the session store */
    unsigned nredis;
    enum ac_cluster_mode mode;   /* default PROXY */
    enum ac_cluster_store store; /* default MEMORY; REDIS needs a Redis server */
    uint64_t member_ttl_ns;      /* registration lifetime, renewed at a third (default 3 s) */
    uint64_t poll_ns;            /* how often the live set is read (default 500 ms) */
    uint64_t session_ttl_ns;     /* stored session state expires after (default 1 h) */
    const char *prefix;          /* Redis key prefix (default "agentcore") */
};

typedef struct ac_cluster ac_cluster;

/* Fills `cfg` with the defaults above. */
void ac_cluster_config_init(struct ac_cluster_config *cfg);

/*
 * Creates the process' cluster object (copies the config) with the
 * static member list (or only this node) as its first view. Returns 0,
 * -EINVAL (no or malformed advertise address, bad member, store REDIS
 * without Redis) or -ENOMEM. Any thread, before the shards start.
 */
AC_MUST_USE int ac_cluster_create(const struct ac_cluster_config *cfg, ac_cluster **out);

/* Frees it, with every view it published; after the runtime stopped. */
void ac_cluster_destroy(ac_cluster *c);

/* The config it was made with (strings owned by the cluster). */
const struct ac_cluster_config *ac_cluster_config(const ac_cluster *c);

/*
 * A snapshot of the membership: the placement over the live members, a
 * generation that grows with every change, and this node's index in it
 * (-1 while it is not a member of the live set). The placement stays
 * valid until ac_cluster_destroy (old views are kept, not freed, so a
 * shard may go on using one it read). Any thread.
 */
struct ac_cluster_view {
    const ac_placement *placement;
    uint64_t generation;
    int self;
    uint64_t changed_ns; /* when this view was published (CLOCK_MONOTONIC) */
};
void ac_cluster_view_get(const ac_cluster *c, struct ac_cluster_view *out);

/*
 * Publishes a new live set (copied; this node is always added). Unchanged
 * sets publish nothing. Returns 0, -EINVAL or -ENOMEM (the old view then
 * stays). One writer at a time (the membership task on shard 0).
 */
AC_MUST_USE int ac_cluster_members_set(ac_cluster *c, const char *const *names, unsigned n);

/*
 * True when this node owned `key` in every view from generation `since`
 * to the current one: nobody else can have owned (and written) it in the
 * meantime, so a copy loaded under `since` is still the newest. False
 * when `since` is older than any view or was never published. Any thread.
 */
bool ac_cluster_owned_since(const ac_cluster *c, uint64_t key, uint64_t since);

/* True when `name` is a well-formed "host:port" (numeric host). */
bool ac_cluster_addr_valid(const char *name);

/* ---- per shard: membership (shard 0) and the session store ------------ */

struct ac_net;

/*
 * Starts the calling shard's part of the cluster on its `net`: on shard 0
 * with Redis configured, membership — this node registers
 * "<prefix>:node:<advertise>" with a TTL of member_ttl_ns, renews it and
 * reads the live set every min(poll_ns, ttl/3) (the members named in
 * "<prefix>:nodes" whose key still exists), publishing each change as a
 * new view; with store REDIS, this shard's session store connection.
 * A Redis that cannot be reached keeps the last view (logged). Returns
 * 0, -EINVAL (shard ≥ AC_MAX_CPUS) or the errors of ac_resp_client_create.
 * From the shard's start hook, once per shard.
 */
AC_MUST_USE int ac_cluster_shard_start(ac_cluster *c, struct ac_net *net, unsigned shard);

/*
 * Stops the calling shard's part: membership deletes this node's key (so
 * the others drop it at their next poll, not after the TTL), then the
 * Redis connections close; done(arg) runs once they have (possibly from
 * inside this call). Before the net stops.
 */
void ac_cluster_shard_stop(ac_cluster *c, unsigned shard, void (*done)(void *arg), void *arg);

/*
 * The session store: each session's state as JSON text in the Redis hash
 * "<prefix>:session:<id>" {v: version, d: data}, written through by its
 * owner with a version one above the version it loaded or last wrote. A
 * write whose version is not above the stored one is refused, so an owner
 * that lost the session (a stale view) cannot overwrite what the new
 * owner wrote. Per shard, one pipelined connection.
 */
typedef struct ac_session_store ac_session_store;

/* The calling shard's store (NULL unless store REDIS and started). */
ac_session_store *ac_cluster_shard_store(ac_cluster *c, unsigned shard);

/*
 * res 0: `data` (len bytes, not NUL-terminated; NULL when the session has
 * no stored state) at `version` (0 when none). res < 0: the Redis
 * client's error (resp.h rule 2). `data` is valid during the call only.
 */
typedef void (*ac_session_store_load_fn)(void *arg, int res, const char *data, size_t len,
                                         uint64_t version);

/* res 0: stored; -ESTALE: a newer version is stored; else the client's error. */
typedef void (*ac_session_store_write_fn)(void *arg, int res);

/*
 * Reads a session's stored state. Returns 0 (cb runs later, exactly
 * once) or the errors of ac_resp_command. Owner shard.
 */
AC_MUST_USE int ac_session_store_load(ac_session_store *s, const char *id, size_t len,
                                      ac_session_store_load_fn cb, void *arg);

/*
 * Writes `data` as version `version` (copied). Returns 0 (cb runs later,
 * exactly once) or the errors of ac_resp_eval. Owner shard.
 */
AC_MUST_USE int ac_session_store_write(ac_session_store *s, const char *id, size_t len,
                                       const char *data, size_t dlen, uint64_t version,
                                       ac_session_store_write_fn cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif
