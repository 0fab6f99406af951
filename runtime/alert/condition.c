/*
 * Alert rules as text: the condition grammar (see alert.h), names and
 * severities. Errors carry the byte offset of the token at fault so the
 * config loader can point at a file column.
 */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#define REQ_RATE "rate(agentcore_requests_total[1m])"
#define LATENCY(q)                                                                                 \
    "histogram_quantile(" q ", sum by (le) (rate(agentcore_request_duration_seconds_bucket[1m])))"

const struct ac__alert_metric_info ac__alert_metrics[AC_ALERT_METRIC_COUNT] = {
    [AC_ALERT_QPS] = {"qps", AC_UNIT_NONE, "a number of requests per second", "sum(" REQ_RATE ")"},
    [AC_ALERT_P50_LATENCY] = {"p50_latency", AC_UNIT_SECONDS, "a time such as 10ms",
                              LATENCY("0.5")},
    [AC_ALERT_P99_LATENCY] = {"p99_latency", AC_UNIT_SECONDS, "a time such as 10ms",
                              LATENCY("0.99")},
    [AC_ALERT_ERROR_RATE] = {"error_rate", AC_UNIT_FRACTION, "a fraction such as 5% or 0.05",
                             "(sum(rate(agentcore_requests_total{status=~\"5..\"}[1m])) / "
                             "sum(" REQ_RATE "))"},
    [AC_ALERT_MEMORY_USAGE] = {"memory_usage", AC_UNIT_BYTES, "a size such as 8GiB",
                               "sum(agentcore_memory_bytes)"},
    [AC_ALERT_MEMORY_GROWTH_RATE] = {"memory_growth_rate", AC_UNIT_BYTES_PER_SEC,
                                     "a rate such as 10MB/s",
                                     "sum(deriv(agentcore_memory_bytes[1m]))"},
    [AC_ALERT_QUEUE_LENGTH] = {"queue_length", AC_UNIT_NONE, "a number of tasks",
                               "sum(agentcore_queue_length)"},
};

const char *const ac__alert_op_names[4] = {
    [AC_ALERT_GT] = ">", [AC_ALERT_GE] = ">=", [AC_ALERT_LT] = "<", [AC_ALERT_LE] = "<="};

static const char *const severity_names[] = {
    [AC_ALERT_INFO] = "info", [AC_ALERT_WARNING] = "warning", [AC_ALERT_CRITICAL] = "critical"};

static const char *const state_names[] = {[AC_ALERT_INACTIVE] = "inactive",
                                          [AC_ALERT_PENDING] = "pending",
                                          [AC_ALERT_FIRING] = "firing",
                                          [AC_ALERT_RESOLVED] = "resolved"};

const char *ac_alert_metric_name(enum ac_alert_metric m)
{
    return (unsigned)m < AC_ALERT_METRIC_COUNT ? ac__alert_metrics[m].name : "?";
}

const char *ac_alert_severity_name(enum ac_alert_severity s)
{
    return (unsigned)s < AC_ARRAY_LEN(severity_names) ? severity_names[s] : "?";
}

const char *ac_alert_state_name(enum ac_alert_state s)
{
    return (unsigned)s < AC_ARRAY_LEN(state_names) ? state_names[s] : "?";
}

int ac_alert_severity_parse(const char *text, enum ac_alert_severity *out)
{
    for (unsigned i = 0; i < AC_ARRAY_LEN(severity_names); i++)
        if (strcmp(text, severity_names[i]) == 0) {
            *out = (enum ac_alert_severity)i;
            return 0;
        }
    if (strcmp(text, "warn") == 0) {
        *out = AC_ALERT_WARNING;
        return 0;
    }
    return -EINVAL;
}

AC_PRINTF(3, 4)
static int fail(struct ac_alert_error *err, size_t offset, const char *fmt, ...)
{
    va_list ap;
    err->offset = offset;
    err->in_name = false;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* A cursor over the condition text. */
struct scan {
    const char *s;
    size_t pos;
};

static void skip_space(struct scan *sc)
{
    while (sc->s[sc->pos] == ' ' || sc->s[sc->pos] == '\t')
        sc->pos++;
}

/* The length of the token at the cursor: up to space or an operator. */
static size_t token_len(const struct scan *sc)
{
    size_t n = 0;
    while (sc->s[sc->pos + n] && !strchr(" \t<>=*", sc->s[sc->pos + n]))
        n++;
    return n;
}

static bool token_is(const struct scan *sc, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(sc->s + sc->pos, word, n) == 0;
}

/* A quantity token: its value and unit kind; the cursor moves past it. */
static int quantity(struct scan *sc, const struct ac__alert_metric_info *m, double *v,
                    enum ac_unit_kind *kind, struct ac_alert_error *err)
{
    size_t at = sc->pos, n = token_len(sc);
    if (n == 0)
        return fail(err, at, "expected a value after the comparison");
    int e = ac_quantity_parse(sc->s + at, n, kind, v);
    if (e == -ENOENT)
        return fail(err, at, "unknown unit in '%.*s' (%s needs %s)", (int)n, sc->s + at, m->name,
                    m->unit_hint);
    if (e)
        return fail(err, at, "'%.*s' is not a number", (int)n, sc->s + at);
    if (*v < 0)
        return fail(err, at, "'%.*s' is negative", (int)n, sc->s + at);
    sc->pos += n;
    return 0;
}

/* Does the quantity `tok` (n bytes, at offset `at`) fit: a factor of the
 * baseline, or a threshold in the metric's unit? */
static int quantity_check(const char *tok, int n, size_t at, const struct ac__alert_metric_info *m,
                          bool factor, enum ac_unit_kind kind, double v, struct ac_alert_error *err)
{
    if (factor) {
        if (kind != AC_UNIT_NONE && kind != AC_UNIT_FRACTION)
            return fail(err, at, "a baseline factor is a plain number such as 0.7, not '%.*s'", n,
                        tok);
        return 0;
    }
    if (kind != m->unit && !(m->unit == AC_UNIT_FRACTION && kind == AC_UNIT_NONE))
        return fail(err, at, "%s needs %s, not '%.*s'", m->name, m->unit_hint, n, tok);
    if (m->unit == AC_UNIT_FRACTION && v > 1)
        return fail(err, at, "%s is at most 100%% (1.0), not '%.*s'", m->name, n, tok);
    return 0;
}

static int star(struct scan *sc, struct ac_alert_error *err)
{
    skip_space(sc);
    if (sc->s[sc->pos] != '*')
        return fail(err, sc->pos, "expected '*' between a factor and 'baseline'");
    sc->pos++;
    skip_space(sc);
    return 0;
}

int ac_alert_condition_parse(const char *text, struct ac_alert_condition *out,
                             struct ac_alert_error *err)
{
    struct scan sc = {text, 0};
    struct ac_alert_condition c = {0};
    const struct ac__alert_metric_info *m = NULL;
    size_t n;
    int e;

    skip_space(&sc);
    n = token_len(&sc);
    for (unsigned i = 0; i < AC_ALERT_METRIC_COUNT; i++)
        if (token_is(&sc, n, ac__alert_metrics[i].name)) {
            c.metric = (enum ac_alert_metric)i;
            m = &ac__alert_metrics[i];
        }
    if (!m && n == 0)
        return fail(err, sc.pos, "expected a metric name");
    if (!m) {
        char known[160];
        size_t k = 0;
        for (unsigned i = 0; i < AC_ALERT_METRIC_COUNT && k < sizeof known; i++)
            k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "",
                                  ac__alert_metrics[i].name);
        return fail(err, sc.pos, "unknown metric '%.*s' (%s)", (int)n, text + sc.pos, known);
    }
    sc.pos += n;
    skip_space(&sc);
    if (sc.s[sc.pos] == '>' || sc.s[sc.pos] == '<') {
        bool gt = sc.s[sc.pos++] == '>';
        bool eq = sc.s[sc.pos] == '=';
        sc.pos += eq;
        c.op = gt ? (eq ? AC_ALERT_GE : AC_ALERT_GT) : (eq ? AC_ALERT_LE : AC_ALERT_LT);
    } else {
        return fail(err, sc.pos, "expected a comparison (>, >=, <, <=) after '%s'", m->name);
    }
    skip_space(&sc);
    n = token_len(&sc);
    enum ac_unit_kind kind = AC_UNIT_NONE;
    size_t at;
    if (token_is(&sc, n, "baseline")) {
        /* "baseline" or "baseline * F" */
        c.baseline = true;
        c.threshold = 1;
        sc.pos += n;
        skip_space(&sc);
        if (sc.s[sc.pos] == '*') {
            if ((e = star(&sc, err)))
                return e;
            at = sc.pos;
            if ((e = quantity(&sc, m, &c.threshold, &kind, err)) ||
                (e = quantity_check(text + at, (int)(sc.pos - at), at, m, true, kind, c.threshold,
                                    err)))
                return e;
        }
    } else {
        /* "VALUE" or "F * baseline" */
        at = sc.pos;
        if ((e = quantity(&sc, m, &c.threshold, &kind, err)))
            return e;
        int len = (int)(sc.pos - at);
        skip_space(&sc);
        c.baseline = sc.s[sc.pos] == '*';
        if ((e = quantity_check(text + at, len, at, m, c.baseline, kind, c.threshold, err)))
            return e;
        if (c.baseline) {
            if ((e = star(&sc, err)))
                return e;
            n = token_len(&sc);
            if (!token_is(&sc, n, "baseline"))
                return fail(err, sc.pos, "only 'baseline' may be multiplied, not '%.*s'", (int)n,
                            text + sc.pos);
            sc.pos += n;
        }
    }
    skip_space(&sc);
    if (sc.s[sc.pos])
        return fail(err, sc.pos, "unexpected '%s' after the condition", text + sc.pos);
    *out = c;
    return 0;
}

int ac_alert_rule_init(struct ac_alert_rule *r, const char *name, const char *condition,
                       uint64_t duration_ns, enum ac_alert_severity severity,
                       struct ac_alert_error *err)
{
    size_t n = strlen(name);
    int e = 0;
    if (n == 0)
        e = fail(err, 0, "an alert rule needs a name");
    else if (n >= sizeof r->name)
        e = fail(err, sizeof r->name - 1, "name longer than %zu characters", sizeof r->name - 1);
    for (size_t i = 0; !e && i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.", name[i]))
            e = fail(err, i, "names use letters, digits, '_', '-' and '.', not '%c'", name[i]);
    if (e) {
        err->in_name = true;
        return e;
    }
    if (strlen(condition) >= sizeof r->condition)
        return fail(err, sizeof r->condition - 1, "condition longer than %zu characters",
                    sizeof r->condition - 1);
    struct ac_alert_condition c;
    e = ac_alert_condition_parse(condition, &c, err);
    if (e)
        return e;
    *r = (struct ac_alert_rule){.cond = c, .duration_ns = duration_ns, .severity = severity};
    memcpy(r->name, name, n + 1);
    memcpy(r->condition, condition, strlen(condition) + 1);
    return 0;
}
