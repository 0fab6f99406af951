/*
 * A scrape: every shard runs the per-shard collectors on itself (one
 * cross-shard message each), so collectors read their shard's plain
 * stats on the owner thread. The scraping shard polls for the answers
 * every millisecond instead of waiting for a message back: a reply can
 * then never be lost to a full ring, and a shard that is stalled does not
 * hold the scrape past its timeout. Shards publish their sink with a
 * release store of done[i]; the scraper reads it with acquire.
 *
 * Memory: the scrape is reference-counted (each shard's message and the
 * scraper hold one), so a shard that answers after the timeout still
 * writes into live memory; whoever drops the last reference frees it.
 * A scrape the runtime's stop overtakes (its poll timer is dropped with
 * the loop) stays on the registry's pending list and is freed by
 * ac_metrics_destroy without its callback.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define POLL_NS 1000000ull

static void sink_clear(struct ac_metrics_sink *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].labels);
        free(s->v[i].hist);
    }
    free(s->v);
}

static void scrape_unref(struct ac_metrics_scrape *sc)
{
    /* acq_rel: every writer's sink is complete before the free */
    if (atomic_fetch_sub_explicit(&sc->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (unsigned i = 0; i <= sc->nshards; i++)
        sink_clear(&sc->sinks[i]);
    free(sc->sinks);
    free(sc->jobs);
    free(sc->done);
    free(sc->complete);
    free(sc);
}

static void collect(struct ac_metrics_scrape *sc, enum ac_metrics_scope scope,
                    struct ac_metrics_sink *sink)
{
    const ac_metrics *m = sc->m;
    for (unsigned i = 0; i < m->n; i++)
        if (m->c[i].scope == scope)
            m->c[i].fn(m->c[i].arg, sink);
}

static void collect_msg(void *arg)
{
    struct ac__scrape_job *job = arg;
    struct ac_metrics_scrape *sc = job->sc;
    collect(sc, AC_METRICS_PER_SHARD, &sc->sinks[job->shard]);
    atomic_store_explicit(&sc->done[job->shard], true, memory_order_release);
    scrape_unref(sc);
}

/* Sends the jobs not sent yet; a full ring is retried at the next poll. */
static void send_jobs(struct ac_metrics_scrape *sc)
{
    for (unsigned i = 0; i < sc->nshards; i++) {
        struct ac__scrape_job *job = &sc->jobs[i];
        if (job->sent)
            continue;
        int err = ac_runtime_submit(sc->m->rt, i, collect_msg, job);
        if (err == 0)
            job->sent = true;
        else if (err != -EAGAIN) /* stopping: that shard will not answer */
            job->sent = true, scrape_unref(sc);
    }
}

static void finish(struct ac_metrics_scrape *sc)
{
    pthread_mutex_lock(&sc->m->lock);
    LIST_REMOVE(sc, link);
    pthread_mutex_unlock(&sc->m->lock);
    for (unsigned i = 0; i < sc->nshards; i++) {
        sc->complete[i] = atomic_load_explicit(&sc->done[i], memory_order_acquire);
        sc->missing += !sc->complete[i];
    }
    collect(sc, AC_METRICS_PROCESS, &sc->sinks[sc->nshards]);
    sc->cb(sc->arg, sc);
}

static void poll_tick(struct ac_timer *t, void *arg)
{
    struct ac_metrics_scrape *sc = arg;
    bool all = true;
    (void)t;
    send_jobs(sc);
    for (unsigned i = 0; i < sc->nshards && all; i++)
        all = atomic_load_explicit(&sc->done[i], memory_order_acquire);
    if (all || ac_now_ns() >= sc->deadline_ns) {
        finish(sc);
        return;
    }
    AC_ASSERT(ac_timer_start(&sc->poll, POLL_NS, poll_tick, sc) == 0);
}

int ac_metrics_scrape_start(ac_metrics *m, uint64_t timeout_ns, ac_metrics_scrape_fn cb, void *arg)
{
    unsigned self = ac_shard_id();
    struct ac_metrics_scrape *sc;
    struct timespec ts;
    if (self == AC_SHARD_NONE)
        return -ENXIO;
    sc = calloc(1, sizeof *sc);
    if (!sc)
        return -ENOMEM;
    sc->m = m;
    sc->origin = self;
    sc->nshards = m->nshards;
    sc->sinks = calloc(m->nshards + 1, sizeof *sc->sinks);
    sc->jobs = calloc(m->nshards, sizeof *sc->jobs);
    sc->done = calloc(m->nshards, sizeof *sc->done);
    sc->complete = calloc(m->nshards, sizeof *sc->complete);
    if (!sc->sinks || !sc->jobs || !sc->done || !sc->complete) {
        free(sc->sinks);
        free(sc->jobs);
        free(sc->done);
        free(sc->complete);
        free(sc);
        return -ENOMEM;
    }
    for (unsigned i = 0; i <= m->nshards; i++)
        sc->sinks[i].shard = i < m->nshards ? i : AC_SHARD_NONE;
    for (unsigned i = 0; i < m->nshards; i++)
        sc->jobs[i] = (struct ac__scrape_job){.sc = sc, .shard = i};
    atomic_init(&sc->refs, m->nshards + 1);
    sc->deadline_ns = ac_now_ns() + timeout_ns;
    sc->uptime = (double)(ac_now_ns() - m->start_ns) / 1e9;
    clock_gettime(CLOCK_REALTIME, &ts);
    sc->unix_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    sc->cb = cb;
    sc->arg = arg;
    pthread_mutex_lock(&m->lock);
    LIST_INSERT_HEAD(&m->pending, sc, link);
    pthread_mutex_unlock(&m->lock);
    /* this shard collects itself directly */
    sc->jobs[self].sent = true;
    collect_msg(&sc->jobs[self]);
    send_jobs(sc);
    AC_ASSERT(ac_timer_start(&sc->poll, 0, poll_tick, sc) == 0);
    return 0;
}

unsigned ac_metrics_scrape_missing(const ac_metrics_scrape *sc)
{
    return sc->missing;
}

void ac_metrics_scrape_free(ac_metrics_scrape *sc)
{
    if (sc)
        scrape_unref(sc);
}

void ac__scrapes_abandon(ac_metrics *m)
{
    struct ac_metrics_scrape *sc;
    /* Every shard thread has exited: messages either ran (and dropped
     * their reference) or were never sent; drop those and the scraper's. */
    while ((sc = LIST_FIRST(&m->pending))) {
        LIST_REMOVE(sc, link);
        for (unsigned i = 0; i < sc->nshards; i++)
            if (!sc->jobs[i].sent)
                scrape_unref(sc);
        scrape_unref(sc);
    }
}
