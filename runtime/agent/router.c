/*
 * The routes, served against an abstract exchange (no sockets):
 *
 *   POST /v1/agents/{name}/invoke   parse + validate here, run on the owner
 *   GET  /v1/agents                 registry with counters summed over shards
 *   GET  /v1/cluster                this node's view of the cluster (cluster_route.c)
 *   GET  /healthz                   the process answers
 *   GET  /readyz                    every shard has started its agent host
 *
 * HEAD is served wherever GET is; a known path with another method is 405
 * with Allow; anything else is 404.
 */
#include "internal.h"
#include "agentcore/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVOKE_PREFIX "/v1/agents/"
#define INVOKE_SUFFIX "/invoke"

/* A request forwarded to the session's owner shard. */
struct forward {
    struct ac__post post; /* first */
    unsigned agent, origin;
    struct ac_exchange *ex;
    struct ac__resp_mode mode;
    struct ac__envelope env; /* spans point into body[] */
    size_t len;
    char body[];
};

static void drop_forward(void *arg)
{
    ac_free(arg);
}

static void run_forward(void *arg)
{
    struct forward *f = arg;
    struct ac__agent_shard *sh = ac__agent_shard_current();
    if (!sh) { /* this shard's host stopped first: the runtime is stopping */
        drop_forward(f);
        return;
    }
    ac__agent_call_start(sh, f->agent, f->origin, f->ex, f->mode, &f->env, f->body, f->len);
    ac_free(f);
}

static void reply_json(struct ac__agent_shard *sh, struct ac_exchange *ex,
                       struct ac__resp_mode mode, const char *body)
{
    char head[512];
    struct iovec iov[2];
    struct ac_http_response r = {.status = 200,
                                 .content_type = "application/json",
                                 .keep_alive = mode.keep_alive,
                                 .http10 = mode.http10,
                                 .head_only = mode.head_only};
    int n = ac_http_response_iov(iov, head, sizeof head, &r, &sh->date, sh->host->cfg.server, body,
                                 strlen(body));
    AC_ASSERT(n > 0);
    ac__agent_reply(sh, sh->id, ex, iov, n, true, mode.keep_alive);
}

static void method_not_allowed(struct ac__agent_shard *sh, struct ac_exchange *ex,
                               struct ac__resp_mode mode, const char *allow)
{
    char buf[1024];
    struct ac_http_header h = {{"Allow", 5}, {allow, strlen(allow)}};
    struct ac_http_response r = {.status = 405,
                                 .headers = &h,
                                 .nheaders = 1,
                                 .keep_alive = mode.keep_alive,
                                 .http10 = mode.http10,
                                 .head_only = mode.head_only};
    int n = ac_http_error_response(buf, sizeof buf, &r, &sh->date, sh->host->cfg.server,
                                   "method_not_allowed", "method not allowed on this path");
    AC_ASSERT(n > 0);
    struct iovec iov = {buf, (size_t)n};
    ac__agent_reply(sh, sh->id, ex, &iov, 1, true, mode.keep_alive);
}

static uint64_t sum(ac_agent_host *h, unsigned agent, size_t field)
{
    uint64_t total = 0;
    for (unsigned s = 0; s < h->cfg.shards; s++) {
        /* acquire: pairs with the release that published the shard's copy */
        struct ac__agent_shard *sh = atomic_load_explicit(&h->shards[s], memory_order_acquire);
        if (sh) {
            _Atomic uint64_t *f = (_Atomic uint64_t *)((char *)&sh->agents[agent].c + field);
            total += atomic_load_explicit(f, memory_order_relaxed);
        }
    }
    return total;
}

static void list_agents(struct ac__agent_shard *sh, struct ac_exchange *ex,
                        struct ac__resp_mode mode)
{
    static const char *const classes[] = {"high", "normal", "low"};
    ac_agent_host *h = sh->host;
    json_t *list = json_array();
    for (unsigned i = 0; i < sh->nagents; i++) {
        const struct ac_agent_def *d = &sh->agents[i].def;
        json_array_append_new(
            list,
            json_pack(
                "{s:s, s:s, s:s, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "name", d->name,
                "priority", classes[d->priority], "placement",
                d->placement == AC_AGENT_BY_SESSION ? "session" : "any", "timeout_ms",
                (json_int_t)(d->timeout_ns / 1000000), "max_concurrency",
                (json_int_t)d->max_concurrency, "counters", "calls",
                (json_int_t)sum(h, i, offsetof(struct ac__agent_counters, calls)), "ok",
                (json_int_t)sum(h, i, offsetof(struct ac__agent_counters, ok)), "errors",
                (json_int_t)sum(h, i, offsetof(struct ac__agent_counters, errors)), "timeouts",
                (json_int_t)sum(h, i, offsetof(struct ac__agent_counters, timeouts)), "rejected",
                (json_int_t)sum(h, i, offsetof(struct ac__agent_counters, rejected)), "shed",
                (json_int_t)sum(h, i, offsetof(struct ac__agent_counters, shed)), "inflight",
                (json_int_t)sum(h, i, offsetof(struct ac__agent_counters, inflight))));
    }
    uint64_t evicted = 0;
    for (unsigned s = 0; s < h->cfg.shards; s++) {
        /* acquire: pairs with the release that published the shard's state */
        struct ac__agent_shard *o = atomic_load_explicit(&h->shards[s], memory_order_acquire);
        if (o)
            evicted += atomic_load_explicit(&o->sessions_evicted, memory_order_relaxed);
    }
    json_t *root = json_pack("{s:o, s:i, s:I}", "agents", list, "shards", (int)h->cfg.shards,
                             "sessions_evicted", (json_int_t)evicted);
    char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!body) {
        ac__agent_reply_error(sh, sh->id, ex, mode, 503, 1, "out_of_memory",
                              "no memory for the agent list");
        return;
    }
    reply_json(sh, ex, mode, body);
    free(body);
}

static void invoke(struct ac__agent_shard *sh, struct ac_exchange *ex, struct ac__resp_mode mode,
                   const char *name, size_t len)
{
    struct ac__envelope env;
    const char *code, *body = ex->req->body.p;
    size_t blen = ex->req->body.len;
    char msg[256];
    int agent = ac__agent_find(sh, name, len);
    if (agent < 0) {
        snprintf(msg, sizeof msg, "no agent named \"%.*s\"", (int)(len > 64 ? 64 : len), name);
        ac__agent_reply_error(sh, sh->id, ex, mode, 404, 0, "unknown_agent", msg);
        return;
    }
    if (ac__agent_request_scan(body, blen, &env, &code, msg, sizeof msg)) {
        ac__agent_metrics_end(&sh->agents[agent], 400, 0, 0);
        ac__agent_reply_error(sh, sh->id, ex, mode, 400, 0, code, msg);
        return;
    }
    if (sh->agents[agent].def.placement == AC_AGENT_BY_SESSION &&
        ac__cluster_route(sh, ex, mode, (unsigned)agent, &env))
        return;
    unsigned target = sh->id;
    if (sh->agents[agent].def.placement == AC_AGENT_BY_SESSION && env.has_session)
        target = (unsigned)(ac_session_hash(env.ids, env.session_len) % sh->host->cfg.shards);
    if (target == sh->id) {
        ac__agent_call_start(sh, (unsigned)agent, sh->id, ex, mode, &env, body, blen);
        return;
    }
    /* The body lives only during this call: the post carries a copy. */
    struct forward *f = ac_alloc(sizeof *f + blen);
    if (!f) {
        ac__agent_reply_error(sh, sh->id, ex, mode, 503, 1, "out_of_memory",
                              "no memory to forward the request");
        return;
    }
    f->post = (struct ac__post){.fn = run_forward, .drop = drop_forward};
    f->agent = (unsigned)agent;
    f->origin = sh->id;
    f->ex = ex;
    f->mode = mode;
    f->env = env;
    f->len = blen;
    memcpy(f->body, body, blen);
    ac__envelope_rebase(&f->env, body, f->body);
    ac__agent_post(sh, target, &f->post);
}

static bool is_get(const struct ac_http_request *r)
{
    return r->method == AC_HTTP_GET || r->method == AC_HTTP_HEAD;
}

void ac_agent_serve(ac_agent_host *h, struct ac_exchange *ex)
{
    struct ac__agent_shard *sh = ac__agent_shard_current();
    const struct ac_http_request *r = ex->req;
    struct ac_http_str p = r->path;
    size_t pre = strlen(INVOKE_PREFIX), suf = strlen(INVOKE_SUFFIX);
    ex->keep_alive = r->keep_alive;
    ex->http10 = r->version_minor == 0;
    ex->head_only = r->method == AC_HTTP_HEAD;
    struct ac__resp_mode mode = {ex->keep_alive, ex->http10, ex->head_only,
                                 ac__cluster_deadline(ex)};
    AC_ASSERT(sh && sh->host == h);
    if (ac_http_str_eq(p, "/healthz") || ac_http_str_eq(p, "/readyz")) {
        bool ready = atomic_load_explicit(&h->started, memory_order_relaxed) == h->cfg.shards;
        if (!is_get(r))
            method_not_allowed(sh, ex, mode, "GET, HEAD");
        else if (p.p[1] == 'h')
            reply_json(sh, ex, mode, "{\"status\":\"ok\"}");
        else if (ready)
            reply_json(sh, ex, mode, "{\"status\":\"ready\"}");
        else
            ac__agent_reply_error(sh, sh->id, ex, mode, 503, 1, "not_ready",
                                  "not every shard is serving");
    } else if (ac_http_str_eq(p, "/v1/cluster")) {
        if (is_get(r))
            ac__cluster_show(sh, ex, mode, reply_json);
        else
            method_not_allowed(sh, ex, mode, "GET, HEAD");
    } else if (ac_http_str_eq(p, "/v1/agents")) {
        if (is_get(r))
            list_agents(sh, ex, mode);
        else
            method_not_allowed(sh, ex, mode, "GET, HEAD");
    } else if (p.len > pre + suf && memcmp(p.p, INVOKE_PREFIX, pre) == 0 &&
               memcmp(p.p + p.len - suf, INVOKE_SUFFIX, suf) == 0 &&
               !memchr(p.p + pre, '/', p.len - pre - suf)) {
        if (r->method == AC_HTTP_POST)
            invoke(sh, ex, mode, p.p + pre, p.len - pre - suf);
        else
            method_not_allowed(sh, ex, mode, "POST");
    } else {
        ac__agent_reply_error(sh, sh->id, ex, mode, 404, 0, "not_found", "no such route");
    }
}
