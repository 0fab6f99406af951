/*
 * Private declarations of the agent files: the host, its per-shard state,
 * calls, replies and the ordered cross-shard post.
 */
#ifndef AC_RUNTIME_AGENT_INTERNAL_H
#define AC_RUNTIME_AGENT_INTERNAL_H

#include <sys/queue.h> /* the one list facility (docs/ARCHITECTURE.md, "Lists") */
#include "agentcore/agent.h"
#include "agentcore/hist.h"
#include "agentcore/runtime.h"
#include "agentcore/timer.h"

#include <stdatomic.h>

/*
 * A message that must reach another shard even when the pair's ring is
 * momentarily full: embedded first in the object it carries. `drop`
 * frees it when the runtime stops before delivery.
 */
struct ac__post {
    STAILQ_ENTRY(ac__post) link; /* the outbox to one target shard */
    ac_msg_fn fn;
    void (*drop)(void *arg);
};

/* Per agent and shard; written by the shard, read by any (relaxed). */
struct ac__agent_counters {
    _Atomic uint64_t calls, ok, errors, timeouts, rejected, inflight;
};

/* Cluster traffic of one shard; written by the shard, read by any (relaxed). */
struct ac__cluster_counters {
    _Atomic uint64_t proxied, redirected, proxy_errors; /* requests for other nodes */
    _Atomic uint64_t loads, load_errors;                /* session states read from Redis */
    _Atomic uint64_t writes, write_stale, write_errors; /* write-throughs */
};

/* Statuses counted apart per agent; anything else counts as "other". */
#define AC__AGENT_STATUSES 12

/*
 * Per agent and shard, for runtime/metrics: plain numbers written by the
 * shard only and read there by the scrape's collector (metrics.c), on
 * their own cache lines so /v1/agents' readers of the counters above
 * never share one with them.
 */
struct ac__agent_metrics {
    _Alignas(AC_CACHELINE) uint64_t status[AC__AGENT_STATUSES];
    struct ac_hist total;   /* call start to end: what the client waited here */
    struct ac_hist queue;   /* call start to handler start: the class queue */
    struct ac_hist service; /* handler start to end */
};

/* One agent in a shard's copy of the registry. */
struct ac__agent {
    struct ac_agent_def def; /* name points into the host's copy */
    struct ac__agent_counters c;
    struct ac__agent_metrics *m; /* NULL: metrics off */
};

struct ac__call; /* agent_call.c */
struct ac__session;

/* Everything a shard owns for agents; reached through one thread-local. */
struct ac__agent_shard {
    struct ac_agent_host *host;
    unsigned id;
    struct ac__agent *agents;
    unsigned nagents;
    struct ac_http_date date;

    /* calls: slots by index, free list through `next_free` */
    struct ac__call **calls;
    uint32_t ncalls, cap_calls, free_call;
    uint32_t live_calls; /* calls in flight, all agents (max_in_flight) */

    /* sessions: chained hash table */
    struct ac__session **buckets;
    size_t nbuckets, nsessions;

    /* the cluster proxy's client (created with the shard's HTTP server) */
    ac_http_client *client;
    /* the cluster's Redis session store of this shard, or NULL */
    struct ac_session_store *store;
    uint64_t running; /* the handle of the call whose handler runs now, or 0 */
    struct ac__cluster_counters cc;

    /* posts waiting for room in a full ring, per target shard */
    STAILQ_HEAD(ac__outbox, ac__post) *outbox; /* per target: posts its ring had no room for */
    struct ac_timer out_timer;
};

struct ac_agent_host {
    struct ac_agent_host_config cfg;
    bool metrics; /* ac_agent_host_metrics was called: shards keep ac__agent_metrics */
    struct ac_agent_def *defs;
    unsigned ndefs, cap_defs;
    _Atomic bool frozen;
    _Atomic unsigned started;
    _Atomic(struct ac__agent_shard *) *shards;
};

/* The calling shard's agent state, or NULL. */
struct ac__agent_shard *ac__agent_shard_current(void);

/* Index of agent `name` (len bytes) in sh->agents, or -1. */
int ac__agent_find(const struct ac__agent_shard *sh, const char *name, size_t len);

/* Runs fn(post) on `shard` in order with earlier posts to it; drops on stop. */
void ac__agent_post(struct ac__agent_shard *sh, unsigned shard, struct ac__post *p);

/* Relaxed single-writer counter update (see runtime/internal.h). */
#define AC_AGENT_STAT_ADD(field, n)                                                                \
    atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (n),    \
                          memory_order_relaxed)

/*
 * Parses and validates an AgentRequest body. Returns 0 and fills *out
 * (out->root owns the JSON), or -EINVAL with *code ("invalid_json" or
 * "invalid_request") and a precise message in msg.
 */
int ac__agent_request_parse(const char *body, size_t len, ac_agent_request *out, const char **code,
                            char *msg, size_t msgcap);

/*
 * Sends a whole response from the calling shard to the exchange, which
 * lives on shard `origin` (directly when that is this shard).
 */
void ac__agent_reply(struct ac__agent_shard *sh, unsigned origin, struct ac_exchange *ex,
                     const struct iovec *iov, int iovcnt, bool final, bool keep_alive);

/* How the response must be framed; copied so no shard reads another's exchange. */
struct ac__resp_mode {
    bool keep_alive, http10, head_only;
    /* not framing, but travels with it to the owner shard: the deadline a
     * proxying node sent (CLOCK_MONOTONIC ns), 0 when none */
    uint64_t deadline_ns;
};

/* Writes a JSON error response for `ex` (from its shard, or forwarded). */
void ac__agent_reply_error(struct ac__agent_shard *sh, unsigned origin, struct ac_exchange *ex,
                           struct ac__resp_mode mode, int status, unsigned retry_after,
                           const char *code, const char *msg);

/*
 * Starts a call of agent `agent` for `ex` (arrived on `origin`) on the
 * calling shard; takes ownership of req->root.
 */
void ac__agent_call_start(struct ac__agent_shard *sh, unsigned agent, unsigned origin,
                          struct ac_exchange *ex, struct ac__resp_mode mode,
                          const ac_agent_request *req);

/*
 * Cluster routing (cluster_route.c). ac__cluster_route proxies or
 * redirects a request whose session another node owns and returns true
 * (it took req->root), else false. ac__cluster_deadline is the deadline
 * a proxying node sent with ex (0: none). ac__cluster_show answers
 * GET /v1/cluster through `reply`.
 */
bool ac__cluster_route(struct ac__agent_shard *sh, struct ac_exchange *ex,
                       struct ac__resp_mode mode, unsigned agent, const ac_agent_request *req);
uint64_t ac__cluster_deadline(const struct ac_exchange *ex);
void ac__cluster_show(struct ac__agent_shard *sh, struct ac_exchange *ex, struct ac__resp_mode mode,
                      void (*reply)(struct ac__agent_shard *, struct ac_exchange *,
                                    struct ac__resp_mode, const char *));

/*
 * The session store (session_store.c, with the Redis store of cluster.h):
 *  - ac__session_store_gate: when the shard has a store and the session
 *    has no local copy loaded under the current view, loads it, then
 *    calls ac__agent_call_start again; returns true (it took req->root),
 *    else false;
 *  - ac__session_store_write: a put's write-through; the running call's
 *    answer waits for it (ac__agent_call_store_begin/end).
 */
bool ac__session_store_gate(struct ac__agent_shard *sh, unsigned agent, unsigned origin,
                            struct ac_exchange *ex, struct ac__resp_mode mode,
                            const ac_agent_request *req);
void ac__session_store_write(struct ac__agent_shard *sh, const char *id, size_t len,
                             const json_t *value, uint64_t version);
uint64_t ac__agent_call_running(struct ac__agent_shard *sh);
void ac__agent_call_store_begin(uint64_t call);
void ac__agent_call_store_end(uint64_t call, int err);

/*
 * Session bookkeeping for the store (session.c): whether a local copy is
 * current under view `gen` (loaded under it, or under an older view
 * since which this node owned the session throughout); install a loaded copy (takes
 * `value`, may be NULL: nothing stored) unless a local copy of this view
 * is as new; drop the local copy.
 */
bool ac__session_fresh(struct ac__agent_shard *sh, const char *id, size_t len, uint64_t gen);
int ac__session_install(struct ac__agent_shard *sh, const char *id, size_t len, json_t *value,
                        uint64_t version, uint64_t gen);
void ac__session_drop(struct ac__agent_shard *sh, const char *id, size_t len);

/* metrics.c: counts a call's end (or a refusal: t_start 0) with its status. */
void ac__agent_metrics_end(struct ac__agent *a, int status, uint64_t t_start, uint64_t t_run);
/* metrics.c: per-shard metrics set-up and teardown of the shard's copy. */
AC_MUST_USE int ac__agent_metrics_init(struct ac__agent_shard *sh);
void ac__agent_metrics_fini(struct ac__agent_shard *sh);

/* Frees what the shard's calls and sessions hold (shard stop). */
void ac__agent_calls_close(struct ac__agent_shard *sh);
void ac__agent_sessions_close(struct ac__agent_shard *sh);

#endif
