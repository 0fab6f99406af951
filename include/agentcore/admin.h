/*
 * agentcore/admin.h — the admin listener (runtime/admin module): a small
 * HTTP server, separate from the API port and bound to 127.0.0.1:9090 by
 * default, that serves operations endpoints and lets any module or app
 * add its own:
 *
 *   GET /                    the routes, one per line
 *   GET /healthz             {"status":"ok"}
 *   GET /metrics             Prometheus text (metrics.h)
 *   GET /metrics.json        the same scrape as JSON
 *   GET /debug/shards        per-shard state as JSON
 *   GET /debug/pprof/heap    slab heaps per shard and size class (text)
 *
 * It runs on one shard (config.shard, default 0), on that shard's net:
 * admin traffic is a scrape every few seconds, one listener keeps it off
 * the other shards entirely, and what it reports from other shards it
 * gathers by cross-shard message anyway. Admin routes are never served on
 * the API listener.
 *
 * Set-up (non-shard thread, before ac_runtime_run): ac_admin_create,
 * ac_admin_route (×N); on every shard, on_shard_start calls
 * ac_admin_shard_start and on_shard_stop calls ac_admin_shard_stop;
 * ac_admin_destroy after ac_runtime_run returned.
 */
#ifndef AGENTCORE_ADMIN_H
#define AGENTCORE_ADMIN_H

#include "agentcore/base.h"
#include "agentcore/http.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ac_admin ac_admin;
typedef struct ac_admin_request ac_admin_request;
struct ac_runtime;
struct ac_metrics;

struct ac_admin_config {
    const char *host;           /* numeric address (default "127.0.0.1"); copied */
    uint16_t port;              /* default 9090; 0: the kernel picks at create */
    unsigned shard;             /* the shard that serves (default 0) */
    struct ac_metrics *metrics; /* NULL: no /metrics, /metrics.json, /debug/shards */
    uint64_t scrape_timeout_ns; /* shards that answer later are left out (default 2 s) */
};

/* Fills `cfg` with the defaults above. */
void ac_admin_config_init(struct ac_admin_config *cfg);

/*
 * Allocates the admin listener for `rt` and registers the built-in
 * routes. With port 0 the port is chosen (and held) here, so
 * ac_admin_port is known before the runtime runs. Returns 0, -EINVAL
 * (bad shard or host), -ENOMEM, or the errors of ac_tcp_reserve_port.
 * Non-shard thread.
 */
AC_MUST_USE int ac_admin_create(struct ac_runtime *rt, const struct ac_admin_config *cfg,
                                ac_admin **out);

/*
 * A request on the admin shard. The handler answers with ac_admin_reply,
 * at once or later (e.g. from a timer), on the admin shard; `r` is valid
 * until then. ac_admin_request_http is valid during the call only.
 */
typedef void (*ac_admin_fn)(void *arg, ac_admin_request *r);

/*
 * Adds a route: `method` "GET" (also answers HEAD) or "POST"; `path` an
 * exact path such as "/debug/locks" (copied). Returns 0, -EINVAL, -EEXIST
 * (taken) or -EBUSY (a shard has started: routes are fixed then) or
 * -ENOMEM. Non-shard thread, before the runtime runs.
 */
AC_MUST_USE int ac_admin_route(ac_admin *a, const char *method, const char *path, ac_admin_fn fn,
                               void *arg);

/* The parsed request (valid during the handler call only). */
const struct ac_http_request *ac_admin_request_http(const ac_admin_request *r);

/*
 * Copies the value of query parameter `key` (not decoded) into buf;
 * returns true when present. During the handler call only.
 */
bool ac_admin_request_query(const ac_admin_request *r, const char *key, char *buf, size_t cap);

/*
 * Answers and ends `r`: status, content type (NULL: none), body (copied).
 * Admin shard only. Returns 0 or -ENOMEM (the connection is then closed;
 * `r` is ended either way).
 */
int ac_admin_reply(ac_admin_request *r, int status, const char *content_type, const void *body,
                   size_t len);

/* Answers with the JSON error body {"error":{"code","message"}}; ends `r`. */
int ac_admin_reply_error(ac_admin_request *r, int status, const char *code, const char *message);

/*
 * From on_shard_start on every shard, with the shard's ac_net (a shard
 * has one net: it owns the ring's provided-buffer group): on the admin
 * shard, starts listening on `net`; elsewhere nothing. Returns 0, -EINVAL
 * (no net on the admin shard) or the errors of ac_http_server_start.
 */
struct ac_net;
AC_MUST_USE int ac_admin_shard_start(ac_admin *a, unsigned shard, struct ac_net *net);

/*
 * From on_shard_stop, before the shard's net is stopped: closes the
 * listener; open admin connections get until `deadline_ns` to finish.
 */
void ac_admin_shard_stop(ac_admin *a, unsigned shard, uint64_t deadline_ns);

/* The port (known from ac_admin_create on). */
uint16_t ac_admin_port(const ac_admin *a);

/* The host it binds. */
const char *ac_admin_host(const ac_admin *a);

/*
 * Adds GET /debug/pprof/profile?seconds=N (1..60, default 30): a CPU
 * profile of the whole process in pprof format (gperftools; read it with
 * `google-pprof --text PROGRAM PROFILE`), answered after N seconds without
 * blocking the admin shard. One profile at a time per process: another
 * request meanwhile gets 409. Programs that call this load libprofiler.
 * Returns as ac_admin_route. Non-shard thread, before the runtime runs.
 */
AC_MUST_USE int ac_admin_pprof_enable(ac_admin *a);

/* Frees the admin listener; after ac_runtime_run returned. */
void ac_admin_destroy(ac_admin *a);

#ifdef __cplusplus
}
#endif
#endif
