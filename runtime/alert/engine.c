/*
 * The in-process evaluator. Each rule has a status (state, since, last
 * value); the engine keeps short histories, as rings of (time, value),
 * only for what a rule needs: a metric's baseline window, and memory_usage
 * for memory_growth_rate. A history holds about two samples a second over
 * its window; NaN ("no data") samples are not kept.
 */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct history {
    uint64_t span_ns;      /* keep samples this much younger than the newest */
    unsigned cap, head, n; /* ring: oldest at head */
    uint64_t *t;
    double *v;
};

struct ac_alert_engine {
    struct ac_alert_rule *rules;
    struct ac_alert_status *status;
    unsigned nrules;
    ac_alert_transition_fn on_transition;
    void *arg;
    uint64_t last_t;
    struct history baseline[AC_ALERT_METRIC_COUNT]; /* cap 0: unused */
    struct history memory;                          /* for memory_growth_rate */
};

static int history_init(struct history *h, uint64_t span_ns)
{
    h->span_ns = span_ns;
    h->cap = (unsigned)(span_ns / 500000000ull) + 4;
    h->t = calloc(h->cap, sizeof *h->t);
    h->v = calloc(h->cap, sizeof *h->v);
    return h->t && h->v ? 0 : -ENOMEM;
}

static void history_free(struct history *h)
{
    free(h->t);
    free(h->v);
}

static void history_push(struct history *h, uint64_t t, double v)
{
    if (!h->cap || isnan(v))
        return;
    if (h->n == h->cap) { /* faster than two a second: the oldest goes */
        h->head = (h->head + 1) % h->cap;
        h->n--;
    }
    unsigned tail = (h->head + h->n) % h->cap;
    h->t[tail] = t;
    h->v[tail] = v;
    h->n++;
    while (h->n && t - h->t[h->head] > h->span_ns) {
        h->head = (h->head + 1) % h->cap;
        h->n--;
    }
}

static double history_mean(const struct history *h)
{
    double sum = 0;
    if (!h->n)
        return NAN;
    for (unsigned i = 0; i < h->n; i++)
        sum += h->v[(h->head + i) % h->cap];
    return sum / h->n;
}

/* Slope between the oldest and newest kept samples, per second. */
static double history_slope(const struct history *h)
{
    if (h->n < 2)
        return NAN;
    unsigned last = (h->head + h->n - 1) % h->cap;
    uint64_t dt = h->t[last] - h->t[h->head];
    if (!dt)
        return NAN;
    return (h->v[last] - h->v[h->head]) / ((double)dt / 1e9);
}

static double sample_value(const ac_alert_engine *e, const struct ac_alert_sample *s,
                           enum ac_alert_metric m)
{
    switch (m) {
    case AC_ALERT_QPS:
        return s->qps;
    case AC_ALERT_P50_LATENCY:
        return s->p50_latency;
    case AC_ALERT_P99_LATENCY:
        return s->p99_latency;
    case AC_ALERT_ERROR_RATE:
        return s->error_rate;
    case AC_ALERT_MEMORY_USAGE:
        return s->memory_bytes;
    case AC_ALERT_MEMORY_GROWTH_RATE:
        return history_slope(&e->memory);
    case AC_ALERT_QUEUE_LENGTH:
        return s->queue_length;
    case AC_ALERT_METRIC_COUNT:
        break;
    }
    AC_PANIC("bad alert metric %d", (int)m);
}

static bool compare(double v, enum ac_alert_op op, double limit)
{
    /* NaN compares false: no data never fires */
    switch (op) {
    case AC_ALERT_GT:
        return v > limit;
    case AC_ALERT_GE:
        return v >= limit;
    case AC_ALERT_LT:
        return v < limit;
    case AC_ALERT_LE:
        return v <= limit;
    }
    AC_PANIC("bad alert op %d", (int)op);
}

static void log_transition(const struct ac_alert_status *st, enum ac_alert_state from)
{
    const struct ac_alert_rule *r = st->rule;
    ac_log(st->state == AC_ALERT_FIRING ? AC_LOG_WARN : AC_LOG_INFO,
           "alert %s %s (was %s): %s; %s=%g threshold=%g severity=%s", r->name,
           ac_alert_state_name(st->state), ac_alert_state_name(from), r->condition,
           ac_alert_metric_name(r->cond.metric), st->value, st->threshold,
           ac_alert_severity_name(r->severity));
}

static void move(ac_alert_engine *e, struct ac_alert_status *st, enum ac_alert_state to, uint64_t t)
{
    enum ac_alert_state from = st->state;
    st->state = to;
    st->since_ns = t;
    if (e->on_transition)
        e->on_transition(e->arg, st, from);
    else
        log_transition(st, from);
}

void ac_alert_engine_eval(ac_alert_engine *e, const struct ac_alert_sample *s)
{
    if (e->last_t && s->t_ns < e->last_t)
        return;
    e->last_t = s->t_ns;
    history_push(&e->memory, s->t_ns, s->memory_bytes);
    for (unsigned m = 0; m < AC_ALERT_METRIC_COUNT; m++)
        history_push(&e->baseline[m], s->t_ns, sample_value(e, s, (enum ac_alert_metric)m));

    for (unsigned i = 0; i < e->nrules; i++) {
        const struct ac_alert_condition *c = &e->rules[i].cond;
        struct ac_alert_status *st = &e->status[i];
        st->value = sample_value(e, s, c->metric);
        st->threshold =
            c->baseline ? c->threshold * history_mean(&e->baseline[c->metric]) : c->threshold;
        bool hold = compare(st->value, c->op, st->threshold);
        switch (st->state) {
        case AC_ALERT_INACTIVE:
        case AC_ALERT_RESOLVED:
            if (hold)
                move(e, st, e->rules[i].duration_ns ? AC_ALERT_PENDING : AC_ALERT_FIRING, s->t_ns);
            break;
        case AC_ALERT_PENDING:
            if (!hold)
                move(e, st, AC_ALERT_INACTIVE, s->t_ns);
            else if (s->t_ns - st->since_ns >= e->rules[i].duration_ns)
                move(e, st, AC_ALERT_FIRING, s->t_ns);
            break;
        case AC_ALERT_FIRING:
            if (!hold)
                move(e, st, AC_ALERT_RESOLVED, s->t_ns);
            break;
        }
    }
}

int ac_alert_engine_create(const struct ac_alert_engine_config *cfg, ac_alert_engine **out)
{
    uint64_t base_ns =
        cfg->baseline_window_ns ? cfg->baseline_window_ns : AC__ALERT_BASELINE_WINDOW_NS;
    uint64_t growth_ns = cfg->growth_window_ns ? cfg->growth_window_ns : AC__ALERT_GROWTH_WINDOW_NS;
    int err = -ENOMEM;
    if (cfg->nrules && !cfg->rules)
        return -EINVAL;
    ac_alert_engine *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->nrules = cfg->nrules;
    e->on_transition = cfg->on_transition;
    e->arg = cfg->arg;
    e->rules = calloc(cfg->nrules + 1, sizeof *e->rules);
    e->status = calloc(cfg->nrules + 1, sizeof *e->status);
    if (!e->rules || !e->status)
        goto out_destroy;
    for (unsigned i = 0; i < cfg->nrules; i++) {
        const struct ac_alert_condition *c = &cfg->rules[i].cond;
        e->rules[i] = cfg->rules[i];
        e->status[i] = (struct ac_alert_status){
            .rule = &e->rules[i], .state = AC_ALERT_INACTIVE, .value = NAN, .threshold = NAN};
        if (c->baseline && !e->baseline[c->metric].cap &&
            (err = history_init(&e->baseline[c->metric], base_ns)))
            goto out_destroy;
        if (c->metric == AC_ALERT_MEMORY_GROWTH_RATE && !e->memory.cap &&
            (err = history_init(&e->memory, growth_ns)))
            goto out_destroy;
    }
    *out = e;
    return 0;
out_destroy:
    ac_alert_engine_destroy(e);
    return err;
}

void ac_alert_engine_destroy(ac_alert_engine *e)
{
    if (!e)
        return;
    for (unsigned m = 0; m < AC_ALERT_METRIC_COUNT; m++)
        history_free(&e->baseline[m]);
    history_free(&e->memory);
    free(e->rules);
    free(e->status);
    free(e);
}

unsigned ac_alert_engine_rule_count(const ac_alert_engine *e)
{
    return e->nrules;
}

int ac_alert_engine_status(const ac_alert_engine *e, unsigned i, struct ac_alert_status *out)
{
    if (i >= e->nrules)
        return -EINVAL;
    *out = e->status[i];
    return 0;
}
