/*
 * The built-in admin routes. Everything about other shards comes from a
 * scrape (metrics.h): collectors run on each shard by message and the
 * answer is rendered here, on the admin shard, when all have answered.
 */
#include "internal.h"

#include "agentcore/mem.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum view { VIEW_PROMETHEUS, VIEW_JSON, VIEW_SHARDS, VIEW_HEAP };

static void index_route(void *arg, ac_admin_request *r)
{
    struct ac_admin *a = arg;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        ac_admin_reply_error(r, 503, "out_of_memory", "no memory for the answer");
        return;
    }
    fprintf(f, "agentcore admin routes:\n");
    for (unsigned i = 0; i < a->nroutes; i++)
        fprintf(f, "  %-4s %s\n", a->routes[i].method, a->routes[i].path);
    fclose(f);
    ac_admin_reply(r, 200, "text/plain; charset=utf-8", buf, len);
    free(buf);
}

static void healthz(void *arg, ac_admin_request *r)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    (void)arg;
    ac_admin_reply(r, 200, "application/json", ok, sizeof ok - 1);
}

/* ---- /debug/shards: every counter and gauge, grouped by shard ---------- */

struct shards_view {
    json_t *shards; /* array indexed by shard */
};

/* Counts and byte sizes as JSON integers, everything else as reals. */
static json_t *number(double v)
{
    if (v == (double)(json_int_t)v)
        return json_integer((json_int_t)v);
    return json_real(v);
}

static void shards_sample(void *arg, const struct ac_metrics_sample *s)
{
    struct shards_view *v = arg;
    json_t *row = s->shard == AC_SHARD_NONE ? NULL : json_array_get(v->shards, s->shard);
    if (!row)
        return;
    const char *name = s->desc->name;
    if (strncmp(name, "agentcore_", 10) == 0)
        name += 10;
    if (s->hist) {
        /* stall histograms: count and worst bucket per callback */
        char cb[80];
        if (!ac_metrics_label(s->labels, "callback", cb, sizeof cb) &&
            !ac_metrics_label(s->labels, "agent", cb, sizeof cb))
            return;
        json_t *o = json_object_get(row, name);
        if (!o) {
            o = json_object();
            json_object_set_new(row, name, o);
        }
        json_object_set_new(o, cb,
                            json_pack("{s:I, s:f, s:f}", "count", (json_int_t)s->hist->count,
                                      "p50_seconds", ac_hist_quantile(s->hist, 0.5) / 1e9,
                                      "p99_seconds", ac_hist_quantile(s->hist, 0.99) / 1e9));
        return;
    }
    if (!s->labels || !*s->labels) {
        json_object_set_new(row, name, number(s->value));
        return;
    }
    json_t *o = json_object_get(row, name);
    if (!o) {
        o = json_object();
        json_object_set_new(row, name, o);
    }
    json_object_set_new(o, s->labels, number(s->value));
}

static int render_shards(ac_metrics_scrape *sc, char **out, size_t *len)
{
    struct shards_view v = {json_array()};
    unsigned n = ac_runtime_shard_count(ac_runtime_current());
    for (unsigned i = 0; i < n; i++)
        json_array_append_new(v.shards, json_pack("{s:I}", "shard", (json_int_t)i));
    int err = ac_metrics_scrape_foreach(sc, shards_sample, &v);
    json_t *root = json_pack("{s:o, s:I}", "shards", v.shards, "shards_missing",
                             (json_int_t)ac_metrics_scrape_missing(sc));
    *out = err ? NULL : json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    if (!*out)
        return -ENOMEM;
    *len = strlen(*out);
    return 0;
}

/* ---- /debug/pprof/heap: the slab heaps per shard and class ------------- */

/* One family, so the samples stay in shard order (admin only, never on /metrics). */
static const struct ac_metric_desc h_total = {"agentcore_heap_detail", "heap detail",
                                              AC_METRIC_GAUGE};
#define h_class h_total

static void collect_heap_detail(void *arg, ac_metrics_sink *s)
{
    struct ac_heap_stats st;
    ac_heap *h = ac_heap_current();
    (void)arg;
    if (!h)
        return;
    ac_heap_stats(h, &st);
    ac_metrics_emit(s, &h_total, (double)st.bytes_held, "what=\"held\"");
    ac_metrics_emit(s, &h_total, (double)st.bytes_in_use, "what=\"in_use\"");
    ac_metrics_emit(s, &h_total, (double)st.bytes_mapped, "what=\"mapped\"");
    ac_metrics_emit(s, &h_total, (double)st.limit_bytes, "what=\"limit\"");
    ac_metrics_emit(s, &h_total, (double)st.large_in_use, "what=\"large_in_use\"");
    ac_metrics_emit(s, &h_total, (double)st.budget_failures, "what=\"budget_failures\"");
    ac_metrics_emit(s, &h_total, (double)st.numa_node, "what=\"numa_node\"");
    for (unsigned c = 0; c < AC_HEAP_CLASSES; c++) {
        const struct ac_heap_class_stats *k = &st.cls[c];
        if (!k->allocs && !k->slabs)
            continue;
        ac_metrics_emit(s, &h_class, (double)k->slabs, "size=\"%zu\",what=\"slabs\"", k->size);
        ac_metrics_emit(s, &h_class, (double)k->bytes_in_use, "size=\"%zu\",what=\"in_use\"",
                        k->size);
        ac_metrics_emit(s, &h_class, (double)k->allocs, "size=\"%zu\",what=\"allocs\"", k->size);
        ac_metrics_emit(s, &h_class, (double)k->frees, "size=\"%zu\",what=\"frees\"", k->size);
        ac_metrics_emit(s, &h_class, (double)k->remote_frees,
                        "size=\"%zu\",what=\"remote_frees\"", k->size);
    }
}

struct heap_view {
    FILE *f;
    unsigned shard;
    char size[24];
};

static void heap_sample(void *arg, const struct ac_metrics_sample *s)
{
    struct heap_view *v = arg;
    char what[32], size[24];
    if (!ac_metrics_label(s->labels, "what", what, sizeof what))
        return;
    if (!ac_metrics_label(s->labels, "size", size, sizeof size)) {
        if (s->shard != v->shard)
            fprintf(v->f, "\nshard %u\n", s->shard);
        v->shard = s->shard;
        fprintf(v->f, "  %-16s %.0f\n", what, s->value);
        return;
    }
    if (s->shard != v->shard || strcmp(size, v->size) != 0) {
        if (s->shard != v->shard)
            fprintf(v->f, "\nshard %u\n", s->shard);
        v->shard = s->shard;
        snprintf(v->size, sizeof v->size, "%s", size);
        fprintf(v->f, "\n  class %7s:", size);
    }
    fprintf(v->f, " %s=%.0f", what, s->value);
    if (strcmp(what, "remote_frees") == 0)
        v->size[0] = 0; /* the last of a class: next line starts afresh */
}

static int render_heap(ac_metrics_scrape *sc, char **out, size_t *len)
{
    struct heap_view v = {.shard = AC_SHARD_NONE};
    v.f = open_memstream(out, len);
    if (!v.f)
        return -ENOMEM;
    fprintf(v.f, "# agentcore slab heaps: totals per shard, then each size class in use\n"
                 "# (bytes; allocs/frees are counts since start)\n");
    int err = ac_metrics_scrape_foreach(sc, heap_sample, &v);
    fputc('\n', v.f);
    if (fclose(v.f) != 0 || err) {
        free(*out);
        return -ENOMEM;
    }
    return 0;
}

/* ---- the scrape-backed views ------------------------------------------- */

static void scraped(void *arg, ac_metrics_scrape *sc)
{
    ac_admin_request *r = arg;
    char *body = NULL;
    size_t len = 0;
    int err;
    const char *type = "application/json";
    switch ((enum view)r->view) {
    case VIEW_PROMETHEUS:
        err = ac_metrics_render_prometheus(sc, &body, &len);
        type = "text/plain; version=0.0.4; charset=utf-8";
        break;
    case VIEW_JSON:
        err = ac_metrics_render_json(sc, &body, &len);
        break;
    case VIEW_SHARDS:
        err = render_shards(sc, &body, &len);
        break;
    default:
        err = render_heap(sc, &body, &len);
        type = "text/plain; charset=utf-8";
        break;
    }
    if (ac_metrics_scrape_missing(sc))
        ac_log_warn("admin: %u shard(s) did not answer the scrape in time",
                    ac_metrics_scrape_missing(sc));
    ac_metrics_scrape_free(sc);
    if (err)
        ac_admin_reply_error(r, 503, "out_of_memory", "no memory to render the answer");
    else
        ac_admin_reply(r, 200, type, body, len);
    free(body);
}

static void scrape_view(struct ac_admin *a, ac_metrics *m, ac_admin_request *r, enum view view)
{
    r->view = (int)view;
    int err = ac_metrics_scrape_start(m, a->cfg.scrape_timeout_ns, scraped, r);
    if (err)
        ac_admin_reply_error(r, 503, "scrape_failed", ac_strerror(err));
}

static void metrics_text(void *arg, ac_admin_request *r)
{
    struct ac_admin *a = arg;
    scrape_view(a, a->cfg.metrics, r, VIEW_PROMETHEUS);
}

static void metrics_json(void *arg, ac_admin_request *r)
{
    struct ac_admin *a = arg;
    scrape_view(a, a->cfg.metrics, r, VIEW_JSON);
}

static void debug_shards(void *arg, ac_admin_request *r)
{
    struct ac_admin *a = arg;
    scrape_view(a, a->cfg.metrics, r, VIEW_SHARDS);
}

static void debug_heap(void *arg, ac_admin_request *r)
{
    struct ac_admin *a = arg;
    scrape_view(a, a->heap_detail, r, VIEW_HEAP);
}

int ac__admin_builtin_routes(struct ac_admin *a)
{
    int err = ac_metrics_create(a->rt, &a->heap_detail);
    if (!err)
        err = ac_metrics_collector_add(a->heap_detail, AC_METRICS_PER_SHARD, collect_heap_detail,
                                       NULL);
    if (!err)
        err = ac_admin_route(a, "GET", "/", index_route, a);
    if (!err)
        err = ac_admin_route(a, "GET", "/healthz", healthz, a);
    if (!err)
        err = ac_admin_route(a, "GET", "/debug/pprof/heap", debug_heap, a);
    if (a->cfg.metrics) {
        if (!err)
            err = ac_admin_route(a, "GET", "/metrics", metrics_text, a);
        if (!err)
            err = ac_admin_route(a, "GET", "/metrics.json", metrics_json, a);
        if (!err)
            err = ac_admin_route(a, "GET", "/debug/shards", debug_shards, a);
        if (!err) /* the page reads /metrics.json */
            err = ac__admin_dashboard_add(a);
    }
    return err;
}
