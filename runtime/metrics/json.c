/*
 * /metrics.json: the scrape as one JSON document for the dashboard and
 * scripts (shape in docs/ARCHITECTURE.md, "Metrics"). The summary rows are
 * sums of named families, so a family a collector stops emitting simply
 * reads 0; everything that is not a histogram is also listed as is under
 * "metrics".
 */
#include "render.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A summary column: the sum of family `name` (optionally one label value). */
struct column {
    const char *key, *name, *label, *value;
};

static const struct column columns[] = {
    {"requests", "agentcore_requests_total", NULL, NULL},
    {"http_requests", "agentcore_http_requests_total", NULL, NULL},
    {"in_flight", "agentcore_requests_in_flight", NULL, NULL},
    {"memory_bytes", "agentcore_memory_bytes", NULL, NULL},
    {"memory_in_use_bytes", "agentcore_memory_in_use_bytes", NULL, NULL},
    {"tasks_run", "agentcore_tasks_run_total", NULL, NULL},
    {"tasks_stolen", "agentcore_tasks_stolen_total", NULL, NULL},
    {"tasks_rejected", "agentcore_tasks_rejected_total", NULL, NULL},
    {"messages_sent", "agentcore_messages_sent_total", NULL, NULL},
    {"messages_ring_full", "agentcore_messages_ring_full_total", NULL, NULL},
    {"stalls", "agentcore_stalls_total", NULL, NULL},
    {"connections_open", "agentcore_connections_open", NULL, NULL},
    {"connections_accepted", "agentcore_connections_accepted_total", NULL, NULL},
    {"loop_turns", "agentcore_loop_turns_total", NULL, NULL},
    {"uring_enter_calls", "agentcore_uring_enter_calls_total", NULL, NULL},
    {"budget_failures", "agentcore_memory_budget_failures_total", NULL, NULL},
    {"queue_high", "agentcore_queue_length", "class", "high"},
    {"queue_normal", "agentcore_queue_length", "class", "normal"},
    {"queue_low", "agentcore_queue_length", "class", "low"},
};
#define NCOL AC_ARRAY_LEN(columns)

static bool label_is(const struct ac__sample *s, const char *key, const char *value)
{
    char buf[128];
    return ac_metrics_label(s->labels, key, buf, sizeof buf) && strcmp(buf, value) == 0;
}

/* Status label ≥ 500? */
static bool is_error(const struct ac__sample *s)
{
    char buf[16];
    return ac_metrics_label(s->labels, "status", buf, sizeof buf) && atoi(buf) >= 500;
}

static json_t *labels_object(const struct ac__sref *r)
{
    json_t *o = json_object();
    const char *p = r->s->labels;
    while (p && *p) {
        const char *eq = strchr(p, '=');
        const char *end = eq && eq[1] == '"' ? strchr(eq + 2, '"') : NULL;
        if (!end)
            break;
        char key[64];
        size_t kl = (size_t)(eq - p) < sizeof key - 1 ? (size_t)(eq - p) : sizeof key - 1;
        memcpy(key, p, kl);
        key[kl] = 0;
        json_object_set_new(o, key, json_stringn(eq + 2, (size_t)(end - (eq + 2))));
        p = end[1] == ',' ? end + 2 : NULL;
    }
    if (r->shard != AC_SHARD_NONE)
        json_object_set_new(o, "shard", json_sprintf("%u", r->shard));
    return o;
}

static json_t *quantiles(const struct ac_hist *h)
{
    return json_pack("{s:I, s:f, s:f, s:f, s:f}", "count", (json_int_t)h->count, "sum",
                     (double)h->sum_ns / 1e9, "p50", ac_hist_quantile(h, 0.50) / 1e9, "p90",
                     ac_hist_quantile(h, 0.90) / 1e9, "p99", ac_hist_quantile(h, 0.99) / 1e9);
}

/* A histogram as cumulative buckets ({"le": seconds or "+Inf", "count"}),
 * for clients that take quantiles of the difference of two scrapes (the
 * dashboard's p50/p99 of the last second). */
static json_t *cumulative_buckets(const struct ac_hist *h)
{
    json_t *a = json_array();
    json_int_t c = 0;
    for (unsigned i = 0; i < AC_HIST_BUCKETS; i++) {
        c += (json_int_t)h->bucket[i];
        json_array_append_new(
            a, json_pack("{s:f, s:I}", "le", (double)ac_hist_bound_ns(i) / 1e9, "count", c));
    }
    c += (json_int_t)h->bucket[AC_HIST_BUCKETS];
    json_array_append_new(a, json_pack("{s:s, s:I}", "le", "+Inf", "count", c));
    return a;
}

/* agents[name] (created on first use). */
static json_t *agent_entry(json_t *agents, const struct ac__sample *s)
{
    char name[80];
    if (!ac_metrics_label(s->labels, "agent", name, sizeof name))
        return NULL;
    json_t *a = json_object_get(agents, name);
    if (!a) {
        a = json_pack("{s:{}, s:I, s:I, s:I}", "requests", "requests_total", (json_int_t)0,
                      "errors", (json_int_t)0, "in_flight", (json_int_t)0);
        json_object_set_new(agents, name, a);
    }
    return a;
}

static void add_int(json_t *o, const char *key, double v)
{
    json_t *x = json_object_get(o, key);
    json_int_t cur = x ? json_integer_value(x) : 0;
    json_object_set_new(o, key, json_integer(cur + (json_int_t)v));
}

/* Per-agent histograms merged over shards: one ac_hist per (agent, kind). */
struct agent_hists {
    char name[80];
    struct ac_hist h[3]; /* total, queue wait, service */
};

static const char *const hist_family[3] = {
    "agentcore_request_duration_seconds",
    "agentcore_request_queue_wait_seconds",
    "agentcore_request_service_seconds",
};
static const char *const hist_key[3] = {"latency_seconds", "queue_wait_seconds",
                                        "service_seconds"};

/* io_uring_enter calls per loop turn since start (the batching the loop achieves). */
static json_t *per_turn(json_t *row)
{
    json_int_t turns = json_integer_value(json_object_get(row, "loop_turns"));
    json_int_t enters = json_integer_value(json_object_get(row, "uring_enter_calls"));
    return json_real(turns ? (double)enters / (double)turns : 0.0);
}

static void summarize(const struct ac__sref *v, size_t n, unsigned nshards, json_t *root)
{
    json_t *shards = json_array(), *totals = json_object(), *agents = json_object();
    json_int_t (*cell)[NCOL + 1] = calloc(nshards, sizeof *cell); /* + errors */
    struct agent_hists *ah = NULL;
    unsigned nah = 0;
    struct ac_hist all = {0};

    for (size_t i = 0; i < n && cell; i++) {
        const struct ac__sample *s = v[i].s;
        const char *name = s->d->name;
        if (v[i].shard < nshards) {
            for (unsigned c = 0; c < NCOL; c++)
                if (strcmp(name, columns[c].name) == 0 &&
                    (!columns[c].label || label_is(s, columns[c].label, columns[c].value)))
                    cell[v[i].shard][c] += (json_int_t)s->value;
            if (strcmp(name, "agentcore_requests_total") == 0 && is_error(s))
                cell[v[i].shard][NCOL] += (json_int_t)s->value;
        }
        if (strcmp(name, "agentcore_requests_total") == 0) {
            json_t *a = agent_entry(agents, s);
            char st[16];
            if (a && ac_metrics_label(s->labels, "status", st, sizeof st)) {
                add_int(json_object_get(a, "requests"), st, s->value);
                add_int(a, "requests_total", s->value);
                if (is_error(s))
                    add_int(a, "errors", s->value);
            }
        } else if (strcmp(name, "agentcore_requests_in_flight") == 0) {
            json_t *a = agent_entry(agents, s);
            if (a)
                add_int(a, "in_flight", s->value);
        } else if (s->hist) {
            for (unsigned k = 0; k < 3; k++) {
                if (strcmp(name, hist_family[k]) != 0)
                    continue;
                char an[80];
                if (!ac_metrics_label(s->labels, "agent", an, sizeof an))
                    break;
                unsigned j = 0;
                while (j < nah && strcmp(ah[j].name, an) != 0)
                    j++;
                if (j == nah) {
                    struct agent_hists *nv = realloc(ah, (nah + 1) * sizeof *nv);
                    if (!nv)
                        break;
                    ah = nv;
                    memset(&ah[nah], 0, sizeof ah[nah]);
                    snprintf(ah[nah].name, sizeof ah[nah].name, "%s", an);
                    nah++;
                }
                ac_hist_merge(&ah[j].h[k], s->hist);
                if (k == 0)
                    ac_hist_merge(&all, s->hist);
            }
        }
    }
    for (unsigned i = 0; i < nshards && cell; i++) {
        json_t *row = json_pack("{s:I}", "shard", (json_int_t)i);
        for (unsigned c = 0; c <= NCOL; c++) {
            const char *key = c < NCOL ? columns[c].key : "errors";
            json_object_set_new(row, key, json_integer(cell[i][c]));
            add_int(totals, key, (double)cell[i][c]);
        }
        json_object_set_new(row, "uring_enters_per_turn", per_turn(row));
        json_array_append_new(shards, row);
    }
    json_object_set_new(totals, "uring_enters_per_turn", per_turn(totals));
    for (unsigned j = 0; j < nah; j++) {
        json_t *a = json_object_get(agents, ah[j].name);
        if (!a) {
            a = json_pack("{s:{}, s:I, s:I, s:I}", "requests", "requests_total", (json_int_t)0,
                          "errors", (json_int_t)0, "in_flight", (json_int_t)0);
            json_object_set_new(agents, ah[j].name, a);
        }
        for (unsigned k = 0; k < 3; k++)
            json_object_set_new(a, hist_key[k], quantiles(&ah[j].h[k]));
    }
    free(ah);
    free(cell);
    json_object_set_new(root, "shards", shards);
    json_object_set_new(root, "totals", totals);
    json_object_set_new(root, "agents", agents);
    json_object_set_new(root, "latency_seconds", quantiles(&all));
    json_object_set_new(root, "latency_buckets", cumulative_buckets(&all));
}

int ac_metrics_render_json(const ac_metrics_scrape *sc, char **out, size_t *len)
{
    struct ac__sref *v;
    size_t n;
    if (ac__render_refs(sc, &v, &n))
        return -ENOMEM;
    json_t *root = json_pack("{s:i, s:f, s:f, s:I, s:I}", "version", 1, "time", sc->unix_time,
                             "uptime_seconds", sc->uptime, "shard_count", (json_int_t)sc->nshards,
                             "shards_missing", (json_int_t)sc->missing);
    json_t *process = json_object(), *metrics = json_object();
    summarize(v, n, sc->nshards, root);
    for (size_t i = 0; i < n; i++) {
        const struct ac__sample *s = v[i].s;
        if (s->hist)
            continue;
        if (v[i].shard == AC_SHARD_NONE && strncmp(s->d->name, "process_", 8) == 0)
            json_object_set_new(process, s->d->name + 8, json_real(s->value));
        json_t *list = json_object_get(metrics, s->d->name);
        if (!list) {
            list = json_array();
            json_object_set_new(metrics, s->d->name, list);
        }
        json_array_append_new(list, json_pack("{s:o, s:f}", "labels", labels_object(&v[i]),
                                              "value", s->value));
    }
    free(v);
    json_object_set_new(root, "process", process);
    json_object_set_new(root, "metrics", metrics);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return -ENOMEM;
    *out = text;
    *len = strlen(text);
    return 0;
}
