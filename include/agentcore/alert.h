/*
 * agentcore/alert.h — alert rules in the original design's form, evaluated
 * in-process and rendered as a Prometheus rules file.
 *
 * A rule is a name, a condition over one metric ("p99_latency > 10ms",
 * "qps < 0.7 * baseline", "error_rate > 5%", "memory_growth_rate >
 * 10MB/s"), a duration and a severity. The engine is fed one sample of
 * the process' figures about once a second (ac_alert_engine_eval) and moves
 * each rule through
 *
 *     inactive → pending → firing → resolved (→ pending again ...)
 *
 * pending: the condition holds, for less than the rule's duration (a
 * false condition returns it to inactive); firing: it has held for the
 * duration (duration 0 fires on the first true sample); resolved: it was
 * firing and the condition is false now. Each change is reported to a
 * callback or, without one, as a log line.
 *
 * Metrics a condition may name (value in the sample, unit in the text):
 *
 *   qps                 requests per second, all agents (bare number)
 *   p50_latency         median request latency, seconds (10ms, 1.5s, ...)
 *   p99_latency         99th percentile request latency, seconds
 *   error_rate          fraction of requests answered 5xx (5% or 0.05)
 *   memory_usage        memory held by the shards' heaps, bytes (8GiB)
 *   memory_growth_rate  slope of memory_usage over the growth window
 *                       (default 1 min), bytes per second (10MB/s);
 *                       computed by the engine from memory_usage samples
 *   queue_length        tasks waiting, all shards and classes (bare number)
 *
 * `baseline` is the trailing mean of the same metric over the baseline
 * window (default 10 min, the current sample included) — for
 * "qps < 0.7 * baseline": QPS fell below 70 % of its last-10-minute mean.
 *
 * A NaN in the sample means "no data" (e.g. no request in the last second
 * has a latency): a condition on it is false, as in Prometheus.
 *
 * Prometheus names (ac_alert_rules_write_prometheus) — the metrics module
 * exports these, and the rules file depends on them:
 *
 *   agentcore_requests_total{agent,status}            counter, status "200", "503", ...
 *   agentcore_request_duration_seconds_bucket{agent,le} histogram
 *   agentcore_memory_bytes{shard}                     gauge, heap bytes held
 *   agentcore_queue_length{shard,class}               gauge
 *
 * Threads: the rule functions are pure (any thread); an engine belongs to
 * the thread that created it (evaluate and read it there).
 */
#ifndef AGENTCORE_ALERT_H
#define AGENTCORE_ALERT_H

#include "agentcore/base.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ac_alert_metric {
    AC_ALERT_QPS,
    AC_ALERT_P50_LATENCY,
    AC_ALERT_P99_LATENCY,
    AC_ALERT_ERROR_RATE,
    AC_ALERT_MEMORY_USAGE,
    AC_ALERT_MEMORY_GROWTH_RATE,
    AC_ALERT_QUEUE_LENGTH,
    AC_ALERT_METRIC_COUNT
};

enum ac_alert_op { AC_ALERT_GT, AC_ALERT_GE, AC_ALERT_LT, AC_ALERT_LE };

enum ac_alert_severity { AC_ALERT_INFO, AC_ALERT_WARNING, AC_ALERT_CRITICAL };

enum ac_alert_state { AC_ALERT_INACTIVE, AC_ALERT_PENDING, AC_ALERT_FIRING, AC_ALERT_RESOLVED };

/* A parsed condition: metric op threshold, or metric op factor * baseline. */
struct ac_alert_condition {
    enum ac_alert_metric metric;
    enum ac_alert_op op;
    bool baseline;    /* threshold is a factor of the metric's baseline */
    double threshold; /* in the metric's base unit (seconds, bytes, fraction) */
};

#define AC_ALERT_NAME_MAX 64
#define AC_ALERT_TEXT_MAX 128

struct ac_alert_rule {
    char name[AC_ALERT_NAME_MAX];      /* letters, digits, '_', '-', '.' */
    char condition[AC_ALERT_TEXT_MAX]; /* as written (for messages and annotations) */
    struct ac_alert_condition cond;
    uint64_t duration_ns; /* how long the condition holds before firing */
    enum ac_alert_severity severity;
};

/* Where and why parsing failed: byte offset into the text, and a message. */
struct ac_alert_error {
    size_t offset;
    bool in_name; /* ac_alert_rule_init: offset is into the name, else the condition */
    char msg[160];
};

/*
 * Parses a condition (grammar: METRIC OP VALUE, METRIC OP NUMBER * baseline,
 * METRIC OP baseline * NUMBER or METRIC OP baseline; OP one of > >= < <=;
 * VALUE a number with the metric's unit, see above). Returns 0, or -EINVAL
 * with `err` filled (offset of the offending token). Any thread.
 */
AC_MUST_USE int ac_alert_condition_parse(const char *text, struct ac_alert_condition *out,
                                         struct ac_alert_error *err);

/* "info", "warning" (also "warn"), "critical". Returns 0 or -EINVAL. */
AC_MUST_USE int ac_alert_severity_parse(const char *text, enum ac_alert_severity *out);

/*
 * Fills `r` from its parts, parsing `condition`. Returns 0, or -EINVAL with
 * `err` filled: a bad name (empty, too long, other characters; in_name set)
 * or a bad condition. Any thread.
 */
AC_MUST_USE int ac_alert_rule_init(struct ac_alert_rule *r, const char *name, const char *condition,
                                   uint64_t duration_ns, enum ac_alert_severity severity,
                                   struct ac_alert_error *err);

/* Names as written in conditions / rules files; "?" for a bad value. */
const char *ac_alert_metric_name(enum ac_alert_metric m);
const char *ac_alert_severity_name(enum ac_alert_severity s);
const char *ac_alert_state_name(enum ac_alert_state s);

/* One sample of the process' figures. NaN: no data for that field. */
struct ac_alert_sample {
    uint64_t t_ns;       /* monotonic time of the sample (ac_now_ns) */
    double qps;          /* requests per second */
    double p50_latency;  /* seconds */
    double p99_latency;  /* seconds */
    double error_rate;   /* 5xx answers / all answers, 0..1 */
    double memory_bytes; /* memory_usage */
    double queue_length; /* tasks waiting */
};

/* One rule's state, as ac_alert_engine_status reports it. */
struct ac_alert_status {
    const struct ac_alert_rule *rule; /* the engine's copy; valid until destroy */
    enum ac_alert_state state;
    uint64_t since_ns; /* sample time the state was entered (0: never left inactive) */
    double value;      /* the metric's last value (NaN: no data) */
    double threshold;  /* the last effective threshold (baseline applied; NaN: none) */
};

/* Called on every state change, on the evaluating thread. */
typedef void (*ac_alert_transition_fn)(void *arg, const struct ac_alert_status *now,
                                       enum ac_alert_state from);

struct ac_alert_engine_config {
    const struct ac_alert_rule *rules; /* copied */
    unsigned nrules;
    uint64_t baseline_window_ns; /* 0: 10 min */
    uint64_t growth_window_ns;   /* 0: 1 min */
    /* NULL: each change is logged (warn when firing, info otherwise) */
    ac_alert_transition_fn on_transition;
    void *arg;
};

typedef struct ac_alert_engine ac_alert_engine;

/*
 * Allocates an engine with every rule inactive. Returns 0 and *out,
 * -EINVAL (rules NULL with nrules > 0) or -ENOMEM. The caller destroys it.
 */
AC_MUST_USE int ac_alert_engine_create(const struct ac_alert_engine_config *cfg,
                                       ac_alert_engine **out);

void ac_alert_engine_destroy(ac_alert_engine *e);

/*
 * Evaluates every rule against `s` (meant once a second; samples must come
 * in time order — an older one is ignored). Transitions are reported before
 * it returns. Owner thread only.
 */
void ac_alert_engine_eval(ac_alert_engine *e, const struct ac_alert_sample *s);

unsigned ac_alert_engine_rule_count(const ac_alert_engine *e);

/* Rule i's state. Returns 0 or -EINVAL (i out of range). Owner thread only. */
AC_MUST_USE int ac_alert_engine_status(const ac_alert_engine *e, unsigned i,
                                       struct ac_alert_status *out);

/*
 * Writes `rules` as a Prometheus rules file (one group, "agentcore"), each
 * condition as PromQL over the names listed above, `for:` the duration,
 * the severity as a label and the condition as written as the summary.
 * `baseline` becomes avg_over_time over a subquery of baseline_window_ns
 * (0: 10 min). Returns 0 or -EIO when writing failed. Any thread.
 */
AC_MUST_USE int ac_alert_rules_write_prometheus(const struct ac_alert_rule *rules, unsigned n,
                                                uint64_t baseline_window_ns, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
