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
 * sessions: ac_session_hash of the id). O(nodes): ~1 ns per node. Any
 * thread.
 */
unsigned ac_placement_owner(const ac_placement *p, uint64_t key);

/* Node count, and node i's name (NUL-terminated, owned by the placement). */
unsigned ac_placement_count(const ac_placement *p);
const char *ac_placement_node(const ac_placement *p, unsigned i);

/* The index of the node called `name`, or -1. */
int ac_placement_find(const ac_placement *p, const char *name);

#ifdef __cplusplus
}
#endif
#endif
