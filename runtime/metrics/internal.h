/* metrics module private declarations: collectors, sinks, scrapes. */
#ifndef AC_RUNTIME_METRICS_INTERNAL_H
#define AC_RUNTIME_METRICS_INTERNAL_H

#include "agentcore/metrics.h"
#include "agentcore/runtime.h"
#include "agentcore/timer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/queue.h> /* the one list facility (docs/ARCHITECTURE.md, "Lists") */

struct ac__collector {
    enum ac_metrics_scope scope;
    ac_metrics_collect_fn fn;
    void *arg;
};

struct ac_metrics_scrape;

struct ac_metrics {
    struct ac_runtime *rt;
    unsigned nshards;
    struct ac__collector *c;
    unsigned n, cap;
    uint64_t start_ns; /* for uptime */
    /* Scrapes whose callback has not run: freed by ac_metrics_destroy if
     * the runtime stopped first (their poll timer died with the loop).
     * Scrapes start on any shard, so the list has a lock (never on the
     * request path). */
    pthread_mutex_t lock;
    LIST_HEAD(, ac_metrics_scrape) pending;
};

/* One sample: a counter/gauge value or a histogram copy. */
struct ac__sample {
    const struct ac_metric_desc *d;
    char *labels; /* "k=\"v\",..." without braces; NULL: none (malloc'ed) */
    double value;
    struct ac_hist *hist; /* histograms only (malloc'ed) */
};

/*
 * Samples from one shard (or the process collectors). Written only by the
 * shard collecting into it; read by the scraping shard after that shard
 * published `done`. malloc, not ac_alloc: a scrape must still work when a
 * shard's heap is at its budget, which is when it is needed most.
 */
struct ac_metrics_sink {
    unsigned shard;
    struct ac__sample *v;
    size_t n, cap;
    unsigned dropped; /* samples lost to out of memory */
};

struct ac__scrape_job {
    struct ac_metrics_scrape *sc;
    unsigned shard;
    bool sent;
};

struct ac_metrics_scrape {
    LIST_ENTRY(ac_metrics_scrape) link; /* m->pending until the callback runs */
    ac_metrics *m;
    unsigned origin, nshards;
    /* shards + the scraper's reference; the last one frees */
    _Atomic unsigned refs;
    _Atomic bool *done;  /* [nshards]: sink i is complete (release) */
    bool *complete;      /* [nshards]: what the render may read (origin only) */
    unsigned missing;    /* shards not complete when cb ran */
    struct ac_metrics_sink *sinks; /* [nshards + 1]: the last one is the process' */
    struct ac__scrape_job *jobs;
    struct ac_timer poll;
    uint64_t deadline_ns;
    double unix_time;
    double uptime;
    ac_metrics_scrape_fn cb;
    void *arg;
};

/* The sinks a render reads, in order: complete shards, then the process. */
#define AC__SCRAPE_FOREACH_SINK(sc, s)                                                             \
    for (unsigned ac__i = 0; ac__i <= (sc)->nshards; ac__i++)                                      \
        if (((s) = &(sc)->sinks[ac__i]), ac__i == (sc)->nshards || (sc)->complete[ac__i])

/* scrape.c: frees the scrapes whose callback never ran (the runtime stopped). */
void ac__scrapes_abandon(ac_metrics *m);

/* builtin.c, process.c: the collectors of ac_metrics_add_builtins. */
void ac__collect_runtime(void *arg, ac_metrics_sink *s);
void ac__collect_process(void *arg, ac_metrics_sink *s);

#endif
