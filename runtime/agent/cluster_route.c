/*
 * Routing between nodes: a request for a session another node owns is
 * proxied there (or redirected, by config), and GET /v1/cluster shows
 * this node's view.
 *
 * The owner is ac_placement_owner(view, ac_session_hash(session_id)) over
 * the cluster's current view. A proxied request carries two headers:
 *
 *   X-Agentcore-Forwarded: <sending node>   the loop guard: a request that
 *       carries it is served where it lands, whatever that node's view says
 *       (two nodes whose views differ for a moment during a membership
 *       change would otherwise bounce it back and forth);
 *   X-Agentcore-Deadline-Ms: <ms left>      the original deadline, relative
 *       (nodes' monotonic clocks are unrelated): the owner's call ends at
 *       the sooner of it and its own agent timeout.
 *
 * The proxy runs on the shard where the request arrived, with that shard's
 * HTTP client (keep-alive pool per peer). The owner's answer is relayed
 * with its status, content type, Retry-After and body; a stream is relayed
 * once whole (the client buffers the response). An unreachable owner is
 * 503 with Retry-After: membership will drop it within its TTL, and a
 * retried request then lands on the new owner.
 */
#include "internal.h"
#include "agentcore/cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR_FORWARDED "X-Agentcore-Forwarded"
#define HDR_DEADLINE  "X-Agentcore-Deadline-Ms"
#define HDR_NODE      "X-Agentcore-Node"

/* The relay's margin over the owner's own deadline (its 504 must arrive). */
#define PROXY_MARGIN_NS 200000000ull

struct proxy {
    struct ac__agent_shard *sh;
    struct ac_exchange *ex;
    struct ac__resp_mode mode;
    char owner[AC_PLACEMENT_NAME_MAX + 1];
};

static uint64_t header_u64(const struct ac_http_request *r, const char *name, bool *found)
{
    const struct ac_http_header *h = ac_http_request_header(r, name);
    uint64_t v = 0;
    *found = false;
    if (!h || !h->value.len || h->value.len > 15)
        return 0;
    for (size_t i = 0; i < h->value.len; i++) {
        if (h->value.p[i] < '0' || h->value.p[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(h->value.p[i] - '0');
    }
    *found = true;
    return v;
}

uint64_t ac__cluster_deadline(const struct ac_exchange *ex)
{
    bool found;
    uint64_t ms = header_u64(ex->req, HDR_DEADLINE, &found);
    return found ? ac_now_ns() + ms * 1000000ull : 0;
}

static void relay(void *arg, int res, const struct ac_http_client_response *r)
{
    struct proxy *p = arg;
    struct ac__agent_shard *sh = p->sh;
    char msg[320];
    if (res) {
        bool late = res == -ETIMEDOUT;
        AC_AGENT_STAT_ADD(sh->cc.proxy_errors, 1);
        snprintf(msg, sizeof msg, "session owner %s: %s", p->owner, ac_strerror(res));
        ac__agent_reply_error(sh, sh->id, p->ex, p->mode, late ? 504 : 503, late ? 0 : 1,
                              late ? "deadline_exceeded" : "owner_unreachable", msg);
        free(p);
        return;
    }
    struct ac_http_header hdrs[2];
    unsigned n = 0, retry = 0;
    const char *ctype = NULL;
    char ctbuf[128];
    for (unsigned i = 0; i < r->nheaders; i++) {
        const struct ac_http_header *h = &r->headers[i];
        if (h->name.len == 12 && strncasecmp(h->name.p, "Content-Type", 12) == 0 &&
            h->value.len < sizeof ctbuf) {
            memcpy(ctbuf, h->value.p, h->value.len);
            ctbuf[h->value.len] = 0;
            ctype = ctbuf;
        } else if (h->name.len == 11 && strncasecmp(h->name.p, "Retry-After", 11) == 0) {
            for (size_t k = 0; k < h->value.len && k < 6; k++)
                if (h->value.p[k] >= '0' && h->value.p[k] <= '9')
                    retry = retry * 10 + (unsigned)(h->value.p[k] - '0');
        }
    }
    hdrs[n++] = (struct ac_http_header){{HDR_NODE, strlen(HDR_NODE)}, {p->owner, strlen(p->owner)}};
    char head[1024];
    struct iovec iov[2];
    struct ac_http_response out = {.status = r->status,
                                   .content_type = ctype,
                                   .headers = hdrs,
                                   .nheaders = n,
                                   .retry_after = retry,
                                   .keep_alive = p->mode.keep_alive,
                                   .http10 = p->mode.http10,
                                   .head_only = p->mode.head_only};
    int k = ac_http_response_iov(iov, head, sizeof head, &out, &sh->date, sh->host->cfg.server,
                                 r->body.p, r->body.len);
    AC_ASSERT(k > 0);
    ac__agent_reply(sh, sh->id, p->ex, iov, k, true, p->mode.keep_alive);
    free(p);
}

static void redirect(struct ac__agent_shard *sh, struct ac_exchange *ex, struct ac__resp_mode mode,
                     const char *owner)
{
    char loc[AC_PLACEMENT_NAME_MAX + 300], buf[2048], msg[300];
    const struct ac_http_str path = ex->req->path;
    snprintf(loc, sizeof loc, "http://%s%.*s", owner, (int)(path.len > 256 ? 256 : path.len),
             path.p);
    struct ac_http_header h[2] = {{{"Location", 8}, {loc, strlen(loc)}},
                                  {{HDR_NODE, strlen(HDR_NODE)}, {owner, strlen(owner)}}};
    struct ac_http_response r = {.status = 307,
                                 .headers = h,
                                 .nheaders = 2,
                                 .keep_alive = mode.keep_alive,
                                 .http10 = mode.http10,
                                 .head_only = mode.head_only};
    snprintf(msg, sizeof msg, "session owned by node %s", owner);
    int n = ac_http_error_response(buf, sizeof buf, &r, &sh->date, sh->host->cfg.server,
                                   "session_elsewhere", msg);
    AC_ASSERT(n > 0);
    struct iovec iov = {buf, (size_t)n};
    ac__agent_reply(sh, sh->id, ex, &iov, 1, true, mode.keep_alive);
}

bool ac__cluster_route(struct ac__agent_shard *sh, struct ac_exchange *ex,
                       struct ac__resp_mode mode, unsigned agent, const struct ac__envelope *env)
{
    ac_cluster *cl = sh->host->cfg.cluster;
    struct ac_cluster_view v;
    if (!cl || !env->has_session || ac_http_request_header(ex->req, HDR_FORWARDED))
        return false;
    ac_cluster_view_get(cl, &v);
    if (ac_placement_count(v.placement) < 2)
        return false;
    unsigned owner = ac_placement_owner(v.placement, ac_session_hash(env->ids, env->session_len));
    if ((int)owner == v.self)
        return false;
    const char *name = ac_placement_node(v.placement, owner);
    const struct ac_cluster_config *cfg = ac_cluster_config(cl);
    /* the body goes as received */
    if (cfg->mode == AC_CLUSTER_REDIRECT) {
        AC_AGENT_STAT_ADD(sh->cc.redirected, 1);
        redirect(sh, ex, mode, name);
        return true;
    }
    /* the deadline this node would give the call, or the one it was sent */
    uint64_t now = ac_now_ns();
    uint64_t deadline =
        mode.deadline_ns ? mode.deadline_ns : now + sh->agents[agent].def.timeout_ns;
    uint64_t left_ms = deadline > now ? (deadline - now) / 1000000ull : 0;
    char left[24];
    snprintf(left, sizeof left, "%llu", (unsigned long long)left_ms);
    const char *self = cfg->advertise;
    const struct ac_http_header *ct = ac_http_request_header(ex->req, "Content-Type");
    struct ac_http_header h[3] = {{{HDR_FORWARDED, strlen(HDR_FORWARDED)}, {self, strlen(self)}},
                                  {{HDR_DEADLINE, strlen(HDR_DEADLINE)}, {left, strlen(left)}}};
    unsigned nh = 2;
    if (ct)
        h[nh++] = *ct;
    char path[512];
    snprintf(path, sizeof path, "%.*s", (int)ex->req->target.len, ex->req->target.p);
    struct ac_http_client_request rq = {.method = "POST",
                                        .path = path,
                                        .headers = h,
                                        .nheaders = nh,
                                        .body = ex->req->body.p,
                                        .body_len = ex->req->body.len,
                                        .deadline_ns = deadline + PROXY_MARGIN_NS};
    struct proxy *p = calloc(1, sizeof *p);
    int err = p && sh->client ? 0 : -ENOMEM;
    if (p) {
        *p = (struct proxy){.sh = sh, .ex = ex, .mode = mode};
        snprintf(p->owner, sizeof p->owner, "%s", name);
    }
    if (!err)
        err = ac_http_client_request(sh->client, name, &rq, relay, p);
    if (err) {
        free(p);
        AC_AGENT_STAT_ADD(sh->cc.proxy_errors, 1);
        ac__agent_reply_error(sh, sh->id, ex, mode, 503, 1, "proxy_failed", ac_strerror(err));
    } else {
        AC_AGENT_STAT_ADD(sh->cc.proxied, 1);
    }
    return true;
}

/* The cluster counters summed over the shards (relaxed single-writer loads). */
static json_t *counters(ac_agent_host *h)
{
    static const struct {
        const char *name;
        size_t off;
    } f[] = {
        {"proxied", offsetof(struct ac__cluster_counters, proxied)},
        {"redirected", offsetof(struct ac__cluster_counters, redirected)},
        {"proxy_errors", offsetof(struct ac__cluster_counters, proxy_errors)},
        {"session_loads", offsetof(struct ac__cluster_counters, loads)},
        {"session_load_errors", offsetof(struct ac__cluster_counters, load_errors)},
        {"session_writes", offsetof(struct ac__cluster_counters, writes)},
        {"session_write_stale", offsetof(struct ac__cluster_counters, write_stale)},
        {"session_write_errors", offsetof(struct ac__cluster_counters, write_errors)},
    };
    json_t *o = json_object();
    for (size_t i = 0; i < AC_ARRAY_LEN(f); i++) {
        uint64_t total = 0;
        for (unsigned s = 0; s < h->cfg.shards; s++) {
            /* acquire: pairs with the release that published the shard */
            struct ac__agent_shard *sh = atomic_load_explicit(&h->shards[s], memory_order_acquire);
            if (sh)
                total += atomic_load_explicit((_Atomic uint64_t *)((char *)&sh->cc + f[i].off),
                                              memory_order_relaxed);
        }
        json_object_set_new(o, f[i].name, json_integer((json_int_t)total));
    }
    return o;
}

void ac__cluster_show(struct ac__agent_shard *sh, struct ac_exchange *ex, struct ac__resp_mode mode,
                      void (*reply)(struct ac__agent_shard *, struct ac_exchange *,
                                    struct ac__resp_mode, const char *))
{
    ac_cluster *cl = sh->host->cfg.cluster;
    struct ac_cluster_view v;
    json_t *root;
    if (!cl) {
        root = json_pack("{s:b}", "enabled", 0);
    } else {
        const struct ac_cluster_config *cfg = ac_cluster_config(cl);
        unsigned n;
        ac_cluster_view_get(cl, &v);
        n = ac_placement_count(v.placement);
        /* ownership: the share of a fixed sample of 2048 keys each member owns
         * (O(sample × members): ~1 ms at 100 members, so kept small) */
        unsigned *own = calloc(n, sizeof *own);
        json_t *members = json_array();
        if (own)
            for (uint64_t k = 0; k < 2048; k++)
                own[ac_placement_owner(v.placement, ac_hash_mix64(k + 1))]++;
        for (unsigned i = 0; i < n; i++)
            json_array_append_new(
                members, json_pack("{s:s, s:b, s:f}", "node", ac_placement_node(v.placement, i),
                                   "self", (int)i == v.self, "share", own ? own[i] / 2048.0 : 0.0));
        free(own);
        root = json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o}", "enabled", 1, "self",
                         cfg->advertise, "node_id", cfg->node_id, "membership",
                         cfg->nredis ? "redis" : "static", "mode",
                         cfg->mode == AC_CLUSTER_REDIRECT ? "redirect" : "proxy", "session_store",
                         cfg->store == AC_CLUSTER_STORE_REDIS ? "redis" : "memory", "generation",
                         (json_int_t)v.generation, "view_age_ms",
                         (json_int_t)((ac_now_ns() - v.changed_ns) / 1000000), "members", members);
        json_object_set_new(root, "counters", counters(sh->host));
        /* ?session_id=ID: which node owns it */
        struct ac_http_str q = ex->req->query;
        if (root && q.len > 11 && memcmp(q.p, "session_id=", 11) == 0) {
            char id[256];
            snprintf(id, sizeof id, "%.*s", (int)(q.len - 11), q.p + 11);
            unsigned o = ac_placement_owner(v.placement, ac_session_hash(id, strlen(id)));
            json_object_set_new(root, "owner", json_string(ac_placement_node(v.placement, o)));
        }
    }
    char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!body) {
        ac__agent_reply_error(sh, sh->id, ex, mode, 503, 1, "out_of_memory",
                              "no memory for the cluster view");
        return;
    }
    reply(sh, ex, mode, body);
    free(body);
}
