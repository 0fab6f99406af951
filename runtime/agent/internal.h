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
    _Atomic uint64_t shed;         /* refused by admission (part of rejected) */
    _Atomic uint64_t shed_periods; /* times admission started refusing */
};

/* Admission state of one agent on one shard (admit.c). */
struct ac__admit {
    uint64_t above_since; /* delay first seen above target; 0: below */
    uint64_t left_ns;     /* when shedding last stopped; 0: never */
    bool shedding, logged;
};

/* A call waiting for its handler to start, in its class's FIFO (admit.c). */
struct ac__queued {
    TAILQ_ENTRY(ac__queued) link;
    uint64_t since_ns;
    uint8_t cls;
    bool linked;
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
    struct ac__admit admit;
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

    /* calls whose handler has not started, oldest first, per class */
    TAILQ_HEAD(, ac__queued) queued[3];
    uint32_t nqueued[3];
    uint64_t run_ns[3]; /* recent handler run time per class (moving average) */

    /* sessions: chained hash table */
    struct ac__session **buckets;
    size_t nbuckets, nsessions;
    TAILQ_HEAD(ac__session_lru, ac__session) lru; /* first: most recently used */
    _Atomic uint64_t sessions_evicted;            /* written by the shard, read by any */
    bool evict_logged;

    /* the cluster proxy's client (created with the shard's HTTP server) */
    ac_http_client *client;
    /* the cluster's Redis session store of this shard, or NULL */
    struct ac_session_store *store;
    uint64_t running; /* the handle of the call whose handler runs now, or 0 */
    struct ac__cluster_counters cc;

    /* posts waiting for room in a full ring, per target shard */
    STAILQ_HEAD(ac__outbox, ac__post) * outbox; /* per target: posts its ring had no room for */
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

/* ---- JSON without a tree (json.c) ----------------------------------------- */

enum ac__json_kind {
    AC__JSON_NULL,
    AC__JSON_FALSE,
    AC__JSON_TRUE,
    AC__JSON_INT,  /* a number without '.', 'e' or 'E' (fits int64_t) */
    AC__JSON_REAL, /* any other number (finite as a double) */
    AC__JSON_STRING,
    AC__JSON_ARRAY,
    AC__JSON_OBJECT,
};

/* A member of the top-level object, as the scan met it. */
struct ac__json_member {
    struct ac_http_str key; /* raw bytes between the quotes */
    bool key_escaped;       /* key holds escapes: ac__json_unescape it */
    enum ac__json_kind kind;
    struct ac_http_str value; /* the value's whole text */
};

typedef void (*ac__json_member_fn)(void *arg, const struct ac__json_member *m);

struct ac__json_result {
    enum ac__json_kind kind; /* of the whole text, when valid */
    const char *error;       /* static text, when invalid */
    size_t offset;           /* where the error was found */
};

/*
 * Validates that p[0..n) is one JSON value exactly as jansson's
 * json_loadb(JSON_DECODE_ANY | JSON_REJECT_DUPLICATES) would accept it
 * (see json.c), building nothing. When the value is an object and
 * on_member is set, it is called for each top-level member in order
 * (also on a text found invalid later: discard what it collected then).
 * Returns 0, or -EINVAL with res->error and res->offset.
 */
int ac__json_scan(const char *p, size_t n, ac__json_member_fn on_member, void *arg,
                  struct ac__json_result *res);

/* Unescapes the raw bytes of a validated string into out (room for len
 * bytes: never longer); returns the length written. */
size_t ac__json_unescape(const char *raw, size_t len, char *out);

/* The value of a validated JSON number (any locale); *overflow when it
 * does not fit a double. */
double ac__json_strtod(const char *p, size_t len, bool *overflow);

/* 1-based line and column (in bytes) of `offset` in p. */
void ac__json_position(const char *p, size_t offset, int *line, int *column);

/* On validated text: moves *i (at a value's first byte) past that value.
 * False when the text ends first. */
bool ac__json_skip(const char *p, size_t n, size_t *i);

/* ---- the AgentRequest envelope (request.c) ---------------------------- */

#define AC__AGENT_MAX_ID 256

/*
 * A scanned AgentRequest: spans into the body it was scanned from, ids
 * unescaped into ids[]. Plain data: copy it with the body.
 */
struct ac__envelope {
    struct ac_http_str input;       /* never empty */
    struct ac_http_str context;     /* len 0: absent or null */
    struct ac_http_str tools;       /* len 0: absent or null */
    uint16_t session_len, user_len; /* 0: absent */
    bool has_session, has_user;
    bool has_temperature, stream;
    double temperature;
    int64_t max_tokens;
    char ids[2 * (AC__AGENT_MAX_ID + 1)]; /* session_id NUL user_id NUL */
};

/* The ids as C strings (NULL when absent); they point into env->ids. */
const char *ac__envelope_session(const struct ac__envelope *env);
const char *ac__envelope_user(const struct ac__envelope *env);

/* A span of the text at `from` moved to the same place in its copy at `to`. */
static inline struct ac_http_str ac__span_move(struct ac_http_str s, const char *from,
                                               const char *to)
{
    return (struct ac_http_str){s.len ? to + (s.p - from) : NULL, s.len};
}

/* Moves env's spans from the body at `from` to its copy at `to`. */
void ac__envelope_rebase(struct ac__envelope *env, const char *from, const char *to);

/*
 * Scans and validates an AgentRequest body (no tree; nothing copied but
 * the ids). Returns 0 and fills *out, or -EINVAL with *code
 * ("invalid_json" or "invalid_request") and a precise message in msg —
 * the same verdicts, in the same order, as the jansson-based parser
 * before it (tests/runtime/agent/test_json.c keeps that one as oracle).
 */
int ac__agent_request_scan(const char *body, size_t len, struct ac__envelope *out,
                           const char **code, char *msg, size_t msgcap);

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
 * calling shard: copies what it needs of `env` and of `body` (the text
 * env's spans point into), which the caller keeps.
 */
void ac__agent_call_start(struct ac__agent_shard *sh, unsigned agent, unsigned origin,
                          struct ac_exchange *ex, struct ac__resp_mode mode,
                          const struct ac__envelope *env, const char *body, size_t len);

/* ac_call_answer_raw for text known to be one valid JSON value (the
 * request's own validated input, or printed by the built-in agents). */
int ac__call_answer_valid(ac_call c, const char *json, size_t len);

/*
 * Cluster routing (cluster_route.c). ac__cluster_route proxies or
 * redirects a request whose session (env's) another node owns, sending
 * ex's body as received, and returns true (ex is answered), else false. ac__cluster_deadline is the deadline
 * a proxying node sent with ex (0: none). ac__cluster_show answers
 * GET /v1/cluster through `reply`.
 */
bool ac__cluster_route(struct ac__agent_shard *sh, struct ac_exchange *ex,
                       struct ac__resp_mode mode, unsigned agent, const struct ac__envelope *env);
uint64_t ac__cluster_deadline(const struct ac_exchange *ex);
void ac__cluster_show(struct ac__agent_shard *sh, struct ac_exchange *ex, struct ac__resp_mode mode,
                      void (*reply)(struct ac__agent_shard *, struct ac_exchange *,
                                    struct ac__resp_mode, const char *));

/*
 * The session store (session_store.c, with the Redis store of cluster.h):
 *  - ac__session_store_gate: when the shard has a store and the session
 *    has no local copy loaded under the current view, copies env and
 *    body (valid only during ac_agent_serve), loads the state, then calls
 *    ac__agent_call_start again with the copy; returns true (ex will be
 *    answered), else false;
 *  - ac__session_store_write: a put's write-through; the running call's
 *    answer waits for it (ac__agent_call_store_begin/end).
 */
bool ac__session_store_gate(struct ac__agent_shard *sh, unsigned agent, unsigned origin,
                            struct ac_exchange *ex, struct ac__resp_mode mode,
                            const struct ac__envelope *env, const char *body, size_t len);
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

/* admit.c: the class FIFO of queued calls (push at spawn, remove at start or end). */
void ac__admit_queue_push(struct ac__agent_shard *sh, enum ac_agent_class cls, struct ac__queued *q,
                          uint64_t now_ns);
void ac__admit_queue_remove(struct ac__agent_shard *sh, struct ac__queued *q);
/* How long the oldest waiting work of class `cls` has waited on this shard. */
uint64_t ac__admit_delay_ns(const struct ac__agent_shard *sh, enum ac_agent_class cls,
                            uint64_t now_ns);
/* Whether a new call of `a` may join its queue now (false: answer 503); counts and logs. */
bool ac__admit(struct ac__agent_shard *sh, struct ac__agent *a, uint64_t now_ns);
/* The handler of the call queued as `q` is due: unlists it; false: shed it (503) instead. */
bool ac__admit_start(struct ac__agent_shard *sh, struct ac__agent *a, struct ac__queued *q,
                     uint64_t now_ns);
/* A handler of class `cls` ran for `ns` (feeds the predicted wait). */
void ac__admit_ran(struct ac__agent_shard *sh, enum ac_agent_class cls, uint64_t ns);
/* metrics.c: counts a call's end (or a refusal: t_start 0) with its status. */
void ac__agent_metrics_end(struct ac__agent *a, int status, uint64_t t_start, uint64_t t_run);
/* metrics.c: per-shard metrics set-up and teardown of the shard's copy. */
AC_MUST_USE int ac__agent_metrics_init(struct ac__agent_shard *sh);
void ac__agent_metrics_fini(struct ac__agent_shard *sh);

/* Frees what the shard's calls and sessions hold (shard stop). */
void ac__agent_calls_close(struct ac__agent_shard *sh);
void ac__agent_sessions_close(struct ac__agent_shard *sh);

#endif
