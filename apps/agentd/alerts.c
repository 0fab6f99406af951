/*
 * Alert rules at run time (see alerts.h).
 *
 * Every second shard 0 scrapes the metrics (the same cross-shard gather
 * /metrics does), reduces the scrape to a snapshot of cumulative figures
 * (requests, 5xx answers, the merged latency histogram, heap bytes, queued
 * tasks; read with ac_metrics_scrape_foreach), and turns the difference
 * with the previous snapshot into one ac_alert_sample: rates and
 * quantiles of the last second, not since
 * start, so a latency rule resolves once the slow requests stop. The
 * engine (runtime/alert) moves the rules and logs each transition; the
 * results are published per rule in atomics written by shard 0 only.
 */
#include "alerts.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_NS        1000000000ull
#define SCRAPE_TIMEOUT 500000000ull

/* One rule's published state (written by shard 0, read anywhere). */
struct view {
    _Atomic unsigned state;     /* enum ac_alert_state */
    _Atomic uint64_t since_ns;  /* monotonic; 0: never left inactive */
    _Atomic uint64_t value;     /* double bits */
    _Atomic uint64_t threshold; /* double bits */
};

/* Cumulative figures of one scrape. */
struct snap {
    uint64_t t_ns;
    double requests, errors; /* errors: answered 5xx */
    double memory, queued;
    struct ac_hist latency; /* every agent's request latency, merged */
};

struct agentd_alerts {
    struct ac_alert_rule *rules; /* immutable after create */
    unsigned n;
    ac_metrics *metrics;
    struct view *view;            /* [n] */
    _Atomic uint64_t evaluations; /* samples evaluated */
    /* shard 0 only */
    ac_alert_engine *engine;
    struct ac_timer tick;
    struct snap prev;
    bool have_prev, scraping, stopping;
};

static const struct ac_metric_desc m_firing = {
    "agentcore_alert_firing", "1 while the alert rule of that name is firing, else 0.",
    AC_METRIC_GAUGE};

static uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double double_of(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* ---- the sample ------------------------------------------------------------ */

static void publish(struct agentd_alerts *a)
{
    for (unsigned i = 0; i < a->n; i++) {
        struct ac_alert_status st;
        if (ac_alert_engine_status(a->engine, i, &st) != 0)
            continue;
        atomic_store_explicit(&a->view[i].since_ns, st.since_ns, memory_order_relaxed);
        atomic_store_explicit(&a->view[i].value, bits_of(st.value), memory_order_relaxed);
        atomic_store_explicit(&a->view[i].threshold, bits_of(st.threshold), memory_order_relaxed);
        /* release: a reader that sees the state sees the fields above */
        atomic_store_explicit(&a->view[i].state, (unsigned)st.state, memory_order_release);
    }
    atomic_fetch_add_explicit(&a->evaluations, 1, memory_order_relaxed);
}

/* The q-quantile in seconds of the requests between two snapshots; NaN if none. */
static double window_quantile(const struct snap *cur, const struct snap *prev, double q)
{
    struct ac_hist d = {0};
    if (cur->latency.count <= prev->latency.count)
        return NAN;
    d.count = cur->latency.count - prev->latency.count;
    for (unsigned i = 0; i <= AC_HIST_BUCKETS; i++) {
        if (cur->latency.bucket[i] < prev->latency.bucket[i])
            return NAN; /* not the same series (cannot happen with whole scrapes) */
        d.bucket[i] = cur->latency.bucket[i] - prev->latency.bucket[i];
    }
    return ac_hist_quantile(&d, q) / 1e9;
}

static void evaluate(struct agentd_alerts *a, const struct snap *cur)
{
    const struct snap *prev = &a->prev;
    double dt = (double)(cur->t_ns - prev->t_ns) / 1e9;
    double dreq = cur->requests - prev->requests;
    struct ac_alert_sample s = {
        .t_ns = cur->t_ns,
        .qps = dt > 0 && dreq >= 0 ? dreq / dt : NAN,
        .p50_latency = window_quantile(cur, prev, 0.50),
        .p99_latency = window_quantile(cur, prev, 0.99),
        .error_rate = dreq > 0 ? (cur->errors - prev->errors) / dreq : NAN,
        .memory_bytes = cur->memory,
        .queue_length = cur->queued,
    };
    ac_alert_engine_eval(a->engine, &s);
    publish(a);
}

/* Adds one sample of a scrape to the snapshot (metrics.h's family names,
 * which alert.h's Prometheus rules use too). */
static void add_sample(void *arg, const struct ac_metrics_sample *s)
{
    struct snap *out = arg;
    const char *name = s->desc->name;
    char status[16];
    if (strcmp(name, "agentcore_requests_total") == 0) {
        out->requests += s->value;
        if (ac_metrics_label(s->labels, "status", status, sizeof status) && status[0] == '5')
            out->errors += s->value;
    } else if (strcmp(name, "agentcore_memory_bytes") == 0) {
        out->memory += s->value;
    } else if (strcmp(name, "agentcore_queue_length") == 0) {
        out->queued += s->value;
    } else if (s->hist && strcmp(name, "agentcore_request_duration_seconds") == 0) {
        ac_hist_merge(&out->latency, s->hist);
    }
}

static void on_scrape(void *arg, ac_metrics_scrape *sc)
{
    struct agentd_alerts *a = arg;
    struct snap cur;
    int err;
    a->scraping = false;
    if (a->stopping) {
        ac_metrics_scrape_free(sc);
        return;
    }
    if (ac_metrics_scrape_missing(sc) > 0) {
        /* a partial scrape would look like counters going backwards */
        ac_metrics_scrape_free(sc);
        return;
    }
    memset(&cur, 0, sizeof cur);
    err = ac_metrics_scrape_foreach(sc, add_sample, &cur);
    ac_metrics_scrape_free(sc);
    if (err) {
        ac_log_warn("alerts: no sample this second: %s", ac_strerror(err));
        return;
    }
    cur.t_ns = ac_now_ns();
    if (a->have_prev && cur.t_ns > a->prev.t_ns)
        evaluate(a, &cur);
    a->prev = cur;
    a->have_prev = true;
}

static void on_tick(struct ac_timer *t, void *arg)
{
    struct agentd_alerts *a = arg;
    int err;
    (void)t;
    if (a->stopping)
        return;
    AC_ASSERT(ac_timer_start(&a->tick, TICK_NS, on_tick, a) == 0);
    if (a->scraping) /* the last scrape still waits for a shard: skip a beat */
        return;
    err = ac_metrics_scrape_start(a->metrics, SCRAPE_TIMEOUT, on_scrape, a);
    if (err)
        ac_log_warn("alerts: scrape: %s", ac_strerror(err));
    else
        a->scraping = true;
}

/* ---- export ------------------------------------------------------------------ */

static void collect(void *arg, ac_metrics_sink *sink)
{
    const struct agentd_alerts *a = arg;
    for (unsigned i = 0; i < a->n; i++) {
        unsigned st = atomic_load_explicit(&a->view[i].state, memory_order_acquire);
        ac_metrics_emit(sink, &m_firing, st == AC_ALERT_FIRING ? 1.0 : 0.0, "name=\"%s\"",
                        a->rules[i].name);
    }
}

/* A monotonic time as wall-clock RFC 3339 (UTC). */
static void wall_time(uint64_t mono_ns, char *buf, size_t cap)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t ago = ac_now_ns() - mono_ns;
    time_t t = now.tv_sec - (time_t)(ago / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

int agentd_alerts_json(const struct agentd_alerts *a, char **out, size_t *len)
{
    json_t *list = json_array(), *doc = NULL;
    int err = -ENOMEM;
    if (!list)
        return -ENOMEM;
    for (unsigned i = 0; i < a->n; i++) {
        const struct ac_alert_rule *r = &a->rules[i];
        const struct view *v = &a->view[i];
        unsigned st = atomic_load_explicit(&v->state, memory_order_acquire);
        uint64_t since = atomic_load_explicit(&v->since_ns, memory_order_relaxed);
        char when[32] = "";
        if (since)
            wall_time(since, when, sizeof when);
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:f, s:s, s:s?, s:o, s:o}", "name", r->name, "condition",
            r->condition, "metric", ac_alert_metric_name(r->cond.metric), "severity",
            ac_alert_severity_name(r->severity), "duration_seconds", (double)r->duration_ns / 1e9,
            "state", ac_alert_state_name((enum ac_alert_state)st), "since", since ? when : NULL,
            "value",
            number_or_null(double_of(atomic_load_explicit(&v->value, memory_order_relaxed))),
            "threshold",
            number_or_null(double_of(atomic_load_explicit(&v->threshold, memory_order_relaxed))));
        if (!o || json_array_append_new(list, o) != 0)
            goto out;
    }
    doc = json_pack("{s:o, s:I}", "alerts", list, "evaluated",
                    (json_int_t)atomic_load_explicit(&a->evaluations, memory_order_relaxed));
    list = NULL; /* owned by doc (json_pack "o" steals it, also on failure) */
    if (!doc)
        goto out;
    *out = json_dumps(doc, JSON_COMPACT);
    if (*out) {
        *len = strlen(*out);
        err = 0;
    }
out:
    json_decref(list);
    json_decref(doc);
    return err;
}

static void alerts_route(void *arg, ac_admin_request *r)
{
    char *json;
    size_t len;
    if (agentd_alerts_json(arg, &json, &len) != 0) {
        (void)ac_admin_reply_error(r, 503, "out_of_memory", "no memory for the alert list");
        return;
    }
    (void)ac_admin_reply(r, 200, "application/json", json, len);
    free(json);
}

/* ---- life cycle ---------------------------------------------------------------- */

int agentd_alerts_create(const struct ac_alert_rule *rules, unsigned n, ac_metrics *m,
                         ac_admin *admin, struct agentd_alerts **out)
{
    struct agentd_alerts *a = calloc(1, sizeof *a);
    int err;
    if (!a)
        return -ENOMEM;
    a->n = n;
    a->metrics = m;
    a->rules = calloc(n ? n : 1, sizeof *a->rules);
    a->view = calloc(n ? n : 1, sizeof *a->view);
    if (!a->rules || !a->view) {
        agentd_alerts_destroy(a);
        return -ENOMEM;
    }
    if (n)
        memcpy(a->rules, rules, n * sizeof *rules);
    for (unsigned i = 0; i < n; i++) {
        atomic_init(&a->view[i].value, bits_of(NAN));
        atomic_init(&a->view[i].threshold, bits_of(NAN));
    }
    /* from here on the registry and the admin may hold `a`: it is the
     * caller's even when a registration fails (see alerts.h) */
    *out = a;
    err = ac_metrics_collector_add(m, AC_METRICS_PROCESS, collect, a);
    if (!err)
        err = ac_admin_route(admin, "GET", "/alerts", alerts_route, a);
    return err;
}

int agentd_alerts_shard_start(struct agentd_alerts *a, unsigned shard)
{
    int err;
    if (shard != 0 || a->n == 0)
        return 0;
    err = ac_alert_engine_create(
        &(struct ac_alert_engine_config){.rules = a->rules, .nrules = a->n}, &a->engine);
    if (err)
        return err;
    return ac_timer_start(&a->tick, TICK_NS, on_tick, a);
}

void agentd_alerts_shard_stop(struct agentd_alerts *a, unsigned shard)
{
    if (shard != 0 || !a->engine)
        return;
    a->stopping = true; /* a scrape in flight finds this and only frees */
    ac_timer_cancel(&a->tick);
}

void agentd_alerts_destroy(struct agentd_alerts *a)
{
    if (!a)
        return;
    /* the engine belongs to shard 0's thread, which has exited: nothing
     * else can touch it now */
    if (a->engine)
        ac_alert_engine_destroy(a->engine);
    free(a->rules);
    free(a->view);
    free(a);
}
