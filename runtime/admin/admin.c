/*
 * The admin listener: a route table fixed before the shards start, served
 * by net's HTTP server on one shard (admin.h says why one). Each request
 * lives in its exchange's caller area, so a handler may answer later
 * without any allocation here.
 */
#include "internal.h"

#include "agentcore/net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ac_admin_config_init(struct ac_admin_config *cfg)
{
    *cfg = (struct ac_admin_config){
        .host = "127.0.0.1",
        .port = 9090,
        .shard = 0,
        .scrape_timeout_ns = 2000000000ull,
    };
}

int ac_admin_create(struct ac_runtime *rt, const struct ac_admin_config *cfg, ac_admin **out)
{
    struct ac_admin *a;
    int err;
    if (!rt || !cfg || !out || cfg->shard >= ac_runtime_shard_count(rt))
        return -EINVAL;
    a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->rt = rt;
    a->cfg = *cfg;
    if (!a->cfg.scrape_timeout_ns)
        a->cfg.scrape_timeout_ns = 2000000000ull;
    a->host = strdup(cfg->host ? cfg->host : "127.0.0.1");
    a->reserved_fd = -1;
    err = -ENOMEM;
    if (!a->host)
        goto out_free;
    a->cfg.host = a->host;
    /* Bind now: a taken port is a start-up error, and port 0 is known at once. */
    err = ac_tcp_reserve_port(a->host, &a->cfg.port);
    if (err < 0)
        goto out_free;
    a->reserved_fd = err;
    err = ac__admin_builtin_routes(a);
    if (err)
        goto out_free;
    *out = a;
    return 0;
out_free:
    ac_admin_destroy(a);
    return err;
}

void ac_admin_destroy(ac_admin *a)
{
    if (!a)
        return;
    if (a->http)
        ac_http_server_destroy(a->http);
    if (a->reserved_fd >= 0)
        close(a->reserved_fd);
    for (unsigned i = 0; i < a->nroutes; i++) {
        free(a->routes[i].method);
        free(a->routes[i].path);
    }
    free(a->routes);
    ac_metrics_destroy(a->heap_detail);
    free(a->host);
    free(a);
}

int ac_admin_route(ac_admin *a, const char *method, const char *path, ac_admin_fn fn, void *arg)
{
    if (!a || !method || !path || !fn || path[0] != '/' ||
        (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0))
        return -EINVAL;
    if (atomic_load(&a->frozen))
        return -EBUSY;
    for (unsigned i = 0; i < a->nroutes; i++)
        if (strcmp(a->routes[i].path, path) == 0 && strcmp(a->routes[i].method, method) == 0)
            return -EEXIST;
    if (a->nroutes == a->cap_routes) {
        unsigned cap = a->cap_routes ? a->cap_routes * 2 : 16;
        struct ac__admin_route *r = realloc(a->routes, cap * sizeof *r);
        if (!r)
            return -ENOMEM;
        a->routes = r;
        a->cap_routes = cap;
    }
    struct ac__admin_route *r = &a->routes[a->nroutes];
    r->method = strdup(method);
    r->path = strdup(path);
    if (!r->method || !r->path) {
        free(r->method);
        free(r->path);
        return -ENOMEM;
    }
    r->fn = fn;
    r->arg = arg;
    a->nroutes++;
    return 0;
}

uint16_t ac_admin_port(const ac_admin *a)
{
    return a->cfg.port;
}

const char *ac_admin_host(const ac_admin *a)
{
    return a->host;
}

const struct ac_http_request *ac_admin_request_http(const ac_admin_request *r)
{
    return r->req;
}

bool ac_admin_request_query(const ac_admin_request *r, const char *key, char *buf, size_t cap)
{
    const char *p = r->req->query.p, *end = p + r->req->query.len;
    size_t klen = strlen(key);
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t n = (size_t)(stop - (p + klen + 1));
            if (n >= cap)
                return false;
            memcpy(buf, p + klen + 1, n);
            buf[n] = 0;
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

int ac_admin_reply(ac_admin_request *r, int status, const char *content_type, const void *body,
                   size_t len)
{
    char head[512];
    struct iovec iov[2];
    struct ac_http_response resp = {.status = status,
                                     .content_type = content_type,
                                     .keep_alive = r->keep_alive,
                                     .http10 = r->http10,
                                     .head_only = r->head_only};
    int n = ac_http_response_iov(iov, head, sizeof head, &resp, &r->admin->date, "agentcore-admin",
                                 body, len);
    AC_ASSERT(n > 0);
    int err = ac_http_exchange_write(r->hx, iov, n);
    ac_http_exchange_done(r->hx, resp.keep_alive);
    return err;
}

int ac_admin_reply_error(ac_admin_request *r, int status, const char *code, const char *message)
{
    char body[1024];
    int n = ac_http_error_body(body, sizeof body, code, message);
    if (n < 0)
        n = ac_http_error_body(body, sizeof body, code, code);
    return ac_admin_reply(r, status, "application/json", body, (size_t)n);
}

static void on_request(void *arg, ac_http_exchange *hx, const struct ac_http_request *req)
{
    struct ac_admin *a = arg;
    struct ac_admin_request *r = ac_http_exchange_data(hx);
    const char *method = req->method == AC_HTTP_HEAD ? "GET" : NULL;
    bool path_known = false;
    *r = (struct ac_admin_request){.admin = a,
                                   .hx = hx,
                                   .req = req,
                                   .keep_alive = req->keep_alive,
                                   .http10 = req->version_minor == 0,
                                   .head_only = req->method == AC_HTTP_HEAD};
    for (unsigned i = 0; i < a->nroutes; i++) {
        const struct ac__admin_route *rt = &a->routes[i];
        if (!ac_http_str_eq(req->path, rt->path))
            continue;
        path_known = true;
        if (method ? strcmp(rt->method, method) == 0 : ac_http_str_eq(req->method_str, rt->method)) {
            rt->fn(rt->arg, r);
            r->req = NULL;
            return;
        }
    }
    if (path_known)
        ac_admin_reply_error(r, 405, "method_not_allowed", "method not allowed on this path");
    else
        ac_admin_reply_error(r, 404, "not_found", "no such admin route (GET / lists them)");
}

int ac_admin_shard_start(ac_admin *a, unsigned shard, struct ac_net *net)
{
    atomic_store(&a->frozen, true);
    if (shard != a->cfg.shard)
        return 0;
    if (!net)
        return -EINVAL;
    struct ac_tcp_server_config tcp = {.host = a->host, .port = a->cfg.port, .backlog = 64};
    struct ac_http_server_config hc;
    ac_http_server_config_init(&hc);
    hc.exchange_data = sizeof(struct ac_admin_request);
    hc.server = "agentcore-admin";
    hc.max_output = 64u << 20; /* a /metrics answer is one write of a few 100 KiB */
    int err = ac_http_server_start(net, &tcp, &hc, on_request, a, &a->http);
    if (err)
        return err;
    /* the listener holds the port now */
    close(a->reserved_fd);
    a->reserved_fd = -1;
    return 0;
}

static void admin_stopped(void *arg, ac_http_server *s)
{
    (void)arg;
    (void)s;
    ac_shard_release_stop();
}

void ac_admin_shard_stop(ac_admin *a, unsigned shard, uint64_t deadline_ns)
{
    if (shard != a->cfg.shard || !a->http)
        return;
    ac_shard_hold_stop();
    ac__admin_pages_stop(); /* a profile in progress is answered now */
    ac_http_server_stop(a->http, deadline_ns, admin_stopped, a);
}
