/*
 * agentcore/metrics.h — the metrics registry (runtime/metrics module):
 * collectors that read the plain per-shard stats of every layer, a scrape
 * that gathers them from all shards by cross-shard message, and the two
 * renderings, Prometheus text (/metrics) and JSON (/metrics.json).
 *
 * Nothing here is on the request path. Lower layers (mem, sched, net,
 * http, runtime) keep plain stats structs written by their shard only;
 * higher layers (agents, locks, apps) keep their own plain per-shard
 * counters and ac_hist histograms (hist.h). Each registers a *collector*:
 * a function that runs on every shard during a scrape, reads that
 * shard's numbers (on their owner thread, so plain loads are race-free)
 * and emits samples into a sink. The scrape copies samples only, so a
 * collector costs the shard a few microseconds once per scrape.
 *
 * Naming (checked by `promtool check metrics`): agentcore_<what>_<unit>,
 * counters end in _total, durations are _seconds, sizes _bytes; samples
 * from a per-shard collector get a `shard` label added by the renderer.
 *
 * Lifecycle: ac_metrics_create and ac_metrics_collector_add on a
 * non-shard thread before the runtime runs; ac_metrics_scrape on any
 * shard while it runs; ac_metrics_destroy after it stopped.
 */
#ifndef AGENTCORE_METRICS_H
#define AGENTCORE_METRICS_H

#include "agentcore/base.h"
#include "agentcore/hist.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ac_metrics ac_metrics;
typedef struct ac_metrics_sink ac_metrics_sink;
typedef struct ac_metrics_scrape ac_metrics_scrape;
struct ac_runtime;

enum ac_metric_type { AC_METRIC_COUNTER, AC_METRIC_GAUGE, AC_METRIC_HISTOGRAM };

/*
 * A metric family. Define one `static const` per name; samples with the
 * same name are rendered together under one HELP/TYPE pair.
 */
struct ac_metric_desc {
    const char *name; /* full name: agentcore_requests_total, ..._seconds */
    const char *help; /* one line, no backslash or newline */
    enum ac_metric_type type;
};

/* Where a collector runs during a scrape. */
enum ac_metrics_scope {
    AC_METRICS_PER_SHARD, /* on every shard; samples get shard="N" */
    AC_METRICS_PROCESS,   /* once, on the scraping shard; no shard label */
};

/* Emits the calling shard's samples into `sink` (ac_metrics_emit*). */
typedef void (*ac_metrics_collect_fn)(void *arg, ac_metrics_sink *sink);

/* Allocates an empty registry for `rt`'s shards. 0, -EINVAL or -ENOMEM. */
AC_MUST_USE int ac_metrics_create(struct ac_runtime *rt, ac_metrics **out);

/*
 * Registers the built-in collectors: per shard the runtime loop,
 * messages, tasks and queues, heap, io_uring, every ac_net and HTTP
 * server on the shard and stalls by callback; per process CPU time,
 * resident memory and open fds. Returns 0 or -ENOMEM.
 */
AC_MUST_USE int ac_metrics_add_builtins(ac_metrics *m);

/*
 * Adds a collector. Collectors run in registration order. Before the
 * runtime runs (the list is then read without a lock). 0 or -ENOMEM.
 */
AC_MUST_USE int ac_metrics_collector_add(ac_metrics *m, enum ac_metrics_scope scope,
                                         ac_metrics_collect_fn fn, void *arg);

/* Frees the registry (after the runtime stopped). */
void ac_metrics_destroy(ac_metrics *m);

/*
 * Emits one counter or gauge sample. `labels` is a printf format for the
 * label list without braces, e.g. "agent=\"%s\",status=\"%d\"", or NULL;
 * label values must not contain '"', '\\' or a newline (names and
 * numbers). Out of memory drops the sample (the scrape counts it).
 */
void ac_metrics_emit(ac_metrics_sink *s, const struct ac_metric_desc *d, double value,
                     const char *labels, ...) AC_PRINTF(4, 5);

/* Emits a histogram (copied) in seconds; labels as ac_metrics_emit. */
void ac_metrics_emit_hist(ac_metrics_sink *s, const struct ac_metric_desc *d,
                          const struct ac_hist *h, const char *labels, ...) AC_PRINTF(4, 5);

/* The shard a sink collects for (AC_SHARD_NONE for process collectors). */
unsigned ac_metrics_sink_shard(const ac_metrics_sink *s);

/* ---- scraping ---------------------------------------------------------- */

/* The scrape finished: render it, then ac_metrics_scrape_free. */
typedef void (*ac_metrics_scrape_fn)(void *arg, ac_metrics_scrape *sc);

/*
 * Runs every collector: the per-shard ones on each shard (one message
 * each; the calling shard collects directly), then the process ones here.
 * cb(arg, sc) runs on the calling shard once all shards answered, or
 * after `timeout_ns` with the shards that did (ac_metrics_scrape_missing).
 * Calling shard only. Returns 0, or -ENOMEM / -ENXIO (not a shard); on
 * failure cb is never called. When the runtime stops before the scrape
 * finished, cb is never called either: ac_metrics_destroy frees the
 * scrape (so `arg` should not own memory only cb would free).
 */
AC_MUST_USE int ac_metrics_scrape_start(ac_metrics *m, uint64_t timeout_ns, ac_metrics_scrape_fn cb,
                                  void *arg);

/* Shards that did not answer in time. */
unsigned ac_metrics_scrape_missing(const ac_metrics_scrape *sc);

/*
 * Renders the scrape as Prometheus text exposition format 0.0.4 (content
 * type "text/plain; version=0.0.4"). Returns 0 and a malloc'ed buffer the
 * caller frees with free(), or -ENOMEM.
 */
AC_MUST_USE int ac_metrics_render_prometheus(const ac_metrics_scrape *sc, char **out,
                                             size_t *len);

/*
 * Renders the scrape as the JSON document of docs/ARCHITECTURE.md
 * ("Metrics"): time, per-shard rows, totals, agents with requests by
 * status and latency quantiles, process, and every counter and gauge by
 * name. Returns 0 and a malloc'ed buffer, or -ENOMEM.
 */
AC_MUST_USE int ac_metrics_render_json(const ac_metrics_scrape *sc, char **out, size_t *len);

/* One sample of a scrape, as ac_metrics_scrape_foreach shows it. */
struct ac_metrics_sample {
    const struct ac_metric_desc *desc;
    unsigned shard;             /* AC_SHARD_NONE: from a process collector */
    const char *labels;         /* "k=\"v\",..." or NULL */
    double value;               /* counters and gauges */
    const struct ac_hist *hist; /* histograms */
};

typedef void (*ac_metrics_sample_fn)(void *arg, const struct ac_metrics_sample *s);

/*
 * Calls fn for every sample of the answered shards, grouped by family in
 * registration order, then by shard (custom renderings: /debug views).
 * Returns 0 or -ENOMEM.
 */
AC_MUST_USE int ac_metrics_scrape_foreach(const ac_metrics_scrape *sc, ac_metrics_sample_fn fn,
                                          void *arg);

/*
 * The value of label `key` in a label string (as in a sample) copied into
 * buf; false when absent. Any thread.
 */
bool ac_metrics_label(const char *labels, const char *key, char *buf, size_t cap);

/* Frees a scrape. Any thread. */
void ac_metrics_scrape_free(ac_metrics_scrape *sc);

#ifdef __cplusplus
}
#endif
#endif
