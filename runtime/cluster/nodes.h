/*
 * Private declarations of the node-level cluster files (placement, view,
 * membership, session store; the locks have internal.h): the per-shard parts that
 * cluster.c starts and stops (membership.c, session_store.c).
 */
#ifndef AC_RUNTIME_CLUSTER_NODES_H
#define AC_RUNTIME_CLUSTER_NODES_H

#include "agentcore/cluster.h"
#include "agentcore/resp.h"

struct ac_net;
struct ac__membership;

/* A resp config for "host:port" (host copied into `host`). Returns 0 or -EINVAL. */
int ac__cluster_resp_config(const char *addr, char host[64], struct ac_resp_config *out);

/* Membership on shard 0 (membership.c). */
int ac__membership_start(ac_cluster *c, struct ac_net *net, struct ac__membership **out);
void ac__membership_stop(struct ac__membership *m, void (*done)(void *arg), void *arg);

/* The session store of one shard (session_store.c). */
int ac__session_store_create(ac_cluster *c, struct ac_net *net, ac_session_store **out);
void ac__session_store_close(ac_session_store *s, void (*done)(void *arg), void *arg);

#endif
