/*
 * agentcore/agent.h — agent hosting: named handler callbacks served over
 * HTTP with session-affine, shared-nothing dispatch (runtime module).
 *
 * Set-up (one non-shard thread, before ac_runtime_run):
 *   ac_agent_host_create → ac_agent_register (×N) → run the runtime with
 *   on_shard_start calling ac_agent_host_shard_start and on_shard_stop
 *   calling ac_agent_host_shard_stop. The registry freezes at the first
 *   shard start and every shard gets its own copy.
 *
 * Serving (on a shard): the connection layer wraps each parsed request in
 * a struct ac_exchange and calls ac_agent_serve. The response comes back
 * through the exchange's ops on the same shard, at once or later.
 *
 * Dispatch: POST /v1/agents/{name}/invoke validates the JSON body (an
 * AgentRequest) on the arriving shard with one scan that builds no tree;
 * input, context and tools travel as raw JSON text, and a handler gets
 * them as jansson trees only when it asks (or, unless its agent is
 * registered with lazy_json, before it runs). An agent placed by session runs on
 * shard ac_session_shard(session_id); the request is forwarded there by
 * cross-shard message and the response bytes come back the same way.
 * Requests without session_id, and agents placed on any shard, run where
 * they arrived. With a cluster (ac_agent_host_config.cluster, cluster.h)
 * the session's owner node is chosen first: another node's session is
 * proxied there (or redirected), then placed on a shard by its owner. The handler answers through its ac_call handle, now or
 * later, under the agent's deadline: when it passes, the client gets 504
 * and whatever the handler does with the handle afterwards is dropped
 * (the functions return -ESTALE).
 */
#ifndef AGENTCORE_AGENT_H
#define AGENTCORE_AGENT_H

#include "agentcore/base.h"
#include "agentcore/http.h"

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Priority class of an agent's tasks (issue 4's run queues). */
enum ac_agent_class { AC_AGENT_HIGH, AC_AGENT_NORMAL, AC_AGENT_LOW };

/* Where an agent runs. */
enum ac_agent_placement {
    AC_AGENT_BY_SESSION, /* on the session's owner shard (else where it arrived) */
    AC_AGENT_ANY_SHARD,  /* always where the request arrived */
};

/*
 * The validated AgentRequest (the original Go design's fields). Every
 * pointer is owned by the call and valid until it ends.
 *
 * The trees (input, context, tools, root) are built before the handler
 * runs, unless the agent was registered with lazy_json: then they are
 * NULL until ac_agent_request_input / _context / _tools builds one (once;
 * the field is set then too), and root stays NULL. The raw texts are
 * always there: valid JSON (checked as strictly as jansson would),
 * borrowed, not NUL-terminated.
 */
typedef struct ac_agent_request {
    const char *agent;      /* registered name */
    const char *session_id; /* NULL when absent */
    const char *user_id;    /* NULL when absent */
    json_t *input;          /* any JSON value, never NULL (lazy_json: see above) */
    json_t *context;        /* object, or NULL */
    json_t *tools;          /* array of strings, or NULL */
    double temperature;     /* 0..2; valid when has_temperature */
    bool has_temperature;
    int64_t max_tokens;            /* 1..1000000, 0 when absent */
    bool stream;                   /* answer as Server-Sent Events */
    json_t *root;                  /* the whole body; owns the trees above (NULL with lazy_json) */
    struct ac_http_str input_json; /* input's text, never empty ("null" when null) */
    struct ac_http_str context_json; /* len 0 when absent or null */
    struct ac_http_str tools_json;   /* len 0 when absent or null */
} ac_agent_request;

/*
 * The request's input as a tree, built from input_json the first time
 * (borrowed: the call owns it). NULL only when out of memory. Also sets
 * req->input. The handler's shard, during the call.
 */
json_t *ac_agent_request_input(const ac_agent_request *req);

/* The same for context (NULL also when absent or null). */
json_t *ac_agent_request_context(const ac_agent_request *req);

/* The same for tools (NULL also when absent or null). */
json_t *ac_agent_request_tools(const ac_agent_request *req);

/*
 * A call in progress: a value handle, valid only on the shard that ran
 * the handler. It stays safe to use after the call ended (every function
 * then returns -ESTALE).
 */
typedef struct ac_call {
    uint64_t id;
} ac_call;

/*
 * Runs on the owner shard with the request (valid until the call ends).
 * It must end the call with ac_call_answer, ac_call_fail or
 * ac_call_stream_end, now or later — or the deadline ends it.
 */
typedef void (*ac_agent_fn)(void *arg, ac_call call, const ac_agent_request *req);

/* Called once if the deadline ends a call: release what the handler holds. */
typedef void (*ac_call_cancel_fn)(void *arg);

struct ac_agent_def {
    const char *name; /* [a-z0-9_-], 1..64 bytes; copied */
    ac_agent_fn handler;
    void *arg;
    enum ac_agent_class priority;
    enum ac_agent_placement placement;
    uint64_t timeout_ns;      /* deadline per call; 0: the host's (30 s) */
    unsigned max_concurrency; /* calls in flight per shard; 0: unlimited */
    /* Admission by queueing delay (see ac_agent_host_config): 0 takes the
     * host's value for the agent's class. */
    uint64_t admit_target_ns, admit_interval_ns;
    /* true: build no tree before the handler runs; it reads the *_json
     * texts or asks ac_agent_request_input() (see ac_agent_request) */
    bool lazy_json;
};

struct ac_agent_host_config {
    unsigned shards;         /* the runtime's shard count (required) */
    uint64_t session_ttl_ns; /* idle sessions expire after this (0: 10 min) */
    size_t session_max;      /* sessions per shard; a new one past it evicts the least
                              * recently used (0: 65536) */
    uint64_t timeout_ns;     /* deadline of agents registered with none (0: 30 s) */
    unsigned max_in_flight;  /* calls in flight per shard, all agents; beyond it 503
                                server_busy with Retry-After (0: unlimited) */
    const char *server;      /* Server header (NULL: "agentcore") */
    /*
     * Admission by queueing delay, per class (index enum ac_agent_class):
     * when the calls of a class have waited on a shard longer than
     * admit_target_ns for admit_interval_ns, new calls of that class get
     * 503 + Retry-After at once until the wait is below target again.
     * 0: the defaults, 5 ms and 100 ms; admit_off disables it for all.
     */
    uint64_t admit_target_ns[3], admit_interval_ns[3];
    bool admit_off;
    /* Several nodes (cluster.h): a session another node owns is proxied or
     * redirected there. NULL: this node serves every session. Borrowed;
     * must outlive the host. */
    struct ac_cluster *cluster;
};

typedef struct ac_agent_host ac_agent_host;

/* Allocates a host. Returns 0, -EINVAL (no shards) or -ENOMEM. Any thread. */
AC_MUST_USE int ac_agent_host_create(const struct ac_agent_host_config *cfg, ac_agent_host **out);

/*
 * Adds an agent. Returns 0, -EINVAL (bad name, NULL handler, bad class),
 * -EEXIST (name taken), -EBUSY (registry frozen: a shard started) or
 * -ENOMEM. Not concurrently with shard starts.
 */
AC_MUST_USE int ac_agent_register(ac_agent_host *h, const struct ac_agent_def *def);

/* Registers echo, sleep, compute, stream and session-counter. */
AC_MUST_USE int ac_agent_register_builtins(ac_agent_host *h);

/*
 * Registers exclusive-counter: under the lock named by its input, it
 * reads a Redis counter, adds one and writes it back with the lease's
 * fencing token (runtime/agent/exclusive_counter.c). `locks` has one
 * entry per shard, the shard's lock client (dlock.h), read by that shard
 * at call time — set it in on_shard_start; NULL answers 503. The array is
 * the caller's and must outlive the runtime. Returns as ac_agent_register.
 */
struct ac_dlock;
AC_MUST_USE int ac_agent_register_exclusive_counter(ac_agent_host *h,
                                                    struct ac_dlock *const *locks);

/*
 * Freezes the registry and builds the calling shard's copy, call table
 * and session store. Call from on_shard_start on shard `shard`.
 * Returns 0 or -ENOMEM (the shard then answers 503).
 */
AC_MUST_USE int ac_agent_host_shard_start(ac_agent_host *h, unsigned shard);

/*
 * Ends the shard's calls (their exchanges get no answer: the runtime is
 * stopping) and frees its sessions and copy. From on_shard_stop.
 */
void ac_agent_host_shard_stop(ac_agent_host *h, unsigned shard);

/* Frees the host; after the runtime stopped. */
void ac_agent_host_destroy(ac_agent_host *h);

/*
 * Turns on the agents' metrics and registers their collector with `m`
 * (metrics.h): agentcore_requests_total{agent,status},
 * agentcore_requests_in_flight{agent}, and per agent the histograms
 * agentcore_request_duration_seconds (call start to answer),
 * agentcore_request_queue_wait_seconds (class queue) and
 * agentcore_request_service_seconds (handler start to answer); also
 * agentcore_sessions. Without this call the request path records
 * nothing. Returns 0, -EINVAL, -EBUSY (a shard started) or -ENOMEM.
 * Before the runtime runs.
 */
struct ac_metrics;
AC_MUST_USE int ac_agent_host_metrics(ac_agent_host *h, struct ac_metrics *m);

/* ---- the HTTP exchange ----------------------------------------------- */

struct ac_exchange;

struct ac_exchange_ops {
    /* Response bytes, in order; valid only during the call (copy them). */
    void (*write)(struct ac_exchange *ex, const struct iovec *iov, int iovcnt);
    /* The response is complete; close afterwards unless keep_alive. */
    void (*done)(struct ac_exchange *ex, bool keep_alive);
};

/*
 * One request/response pair, owned by the connection. `req` is read only
 * during ac_agent_serve. The exchange must stay valid until done() ran (a
 * closed connection keeps it and ignores the writes).
 */
struct ac_exchange {
    const struct ac_exchange_ops *ops;
    const struct ac_http_request *req;
    /* private: copied from req by ac_agent_serve */
    bool keep_alive, http10, head_only;
};

/*
 * Routes ex->req: POST /v1/agents/{name}/invoke, GET /v1/agents,
 * GET /v1/cluster, GET /healthz, GET /readyz (HEAD too for the GETs);
 * 404 and 405 otherwise. Calling shard only; its host shard must have started.
 */
void ac_agent_serve(ac_agent_host *h, struct ac_exchange *ex);

/*
 * Serves the host's routes with net's HTTP server (http.h) on the calling
 * shard's `net`: ac_http_server_start with a request callback that wraps
 * each exchange for ac_agent_serve. `cfg` NULL: defaults; its
 * exchange_data is set here and a NULL server name takes the host's.
 * Returns as ac_http_server_start. The host's shard must have started;
 * stop and destroy the server as http.h says (destroy after the runtime
 * stopped: an answer from another shard may still be on its way).
 */
struct ac_net;
struct ac_tcp_server_config;
AC_MUST_USE int ac_agent_http_start(ac_agent_host *h, struct ac_net *net,
                                    const struct ac_tcp_server_config *tcp,
                                    const struct ac_http_server_config *cfg, ac_http_server **out);

/* ---- handlers --------------------------------------------------------- */

/*
 * 200 with {"agent":..., "shard":..., "output": output}; with stream, one
 * "result" event and the end of the stream. Takes ownership of `output`
 * (also on failure). Returns 0 or -ESTALE (the call ended). Owner shard.
 */
int ac_call_answer(ac_call c, json_t *output);

/*
 * The same answer with the output given as JSON text: `json` (len bytes)
 * is sent as it is between the envelope's head and tail — no tree, no
 * serialiser. It is checked to be one JSON value (as strictly as the
 * request); borrowed, copied before this returns. Returns 0, -EINVAL
 * (not one valid JSON value; the call goes on: answer or fail it), or
 * -ESTALE. Owner shard.
 */
int ac_call_answer_raw(ac_call c, const char *json, size_t len);

/*
 * An error answer (status ≥ 400, a stable code, a message): JSON, or an
 * "error" event when streaming. Returns 0, -EINVAL or -ESTALE.
 */
int ac_call_fail(ac_call c, int status, const char *code, const char *message);

/*
 * One Server-Sent Event with `data` (the first one sends the 200 head).
 * Returns 0, -EINVAL when the request did not ask to stream, -ENOMEM or
 * -ESTALE.
 */
int ac_call_stream(ac_call c, const char *data, size_t len);

/* Ends a stream. Returns 0, -EINVAL (not streaming) or -ESTALE. */
int ac_call_stream_end(ac_call c);

/* Sets the function the deadline calls. Returns 0 or -ESTALE. */
int ac_call_on_cancel(ac_call c, ac_call_cancel_fn fn, void *arg);

/* ---- sessions ---------------------------------------------------------- */

/*
 * The placement hash: 64-bit FNV-1a over the bytes, then MurmurHash3's
 * fmix64 finalizer (FNV-1a alone leaves the low bits weak for `% shards`).
 * Unseeded and stable across processes and machines. Any thread.
 */
uint64_t ac_session_hash(const char *id, size_t len);

/* The shard that owns session `id`: hash % shards. Any thread. */
unsigned ac_session_shard(const char *id, unsigned shards);

/*
 * The session's state (borrowed; valid until the next put or expiry of
 * that session), or NULL. Refreshes the TTL. Owner shard only (NULL on
 * another shard).
 */
json_t *ac_session_get(const char *id);

/*
 * Stores `value` (takes ownership, also on failure) and refreshes the
 * TTL. Returns 0, -EXDEV when the calling shard does not own the
 * session, -EINVAL or -ENOMEM. With the cluster's Redis session store
 * (cluster.h) the value is also written through to Redis; a put made
 * while a handler runs holds that call's answer until Redis acknowledged
 * it (a failed write turns the answer into 503 + Retry-After).
 */
int ac_session_put(const char *id, json_t *value);

/* Sessions stored on the calling shard. */
size_t ac_session_count(void);

/* Sessions the calling shard evicted at session_max since it started. */
uint64_t ac_session_evictions(void);

#ifdef __cplusplus
}
#endif
#endif
