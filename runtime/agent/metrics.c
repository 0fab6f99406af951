/*
 * Agent metrics: requests by agent and status, and three latency
 * histograms per agent (queue wait, service, total), kept per shard in
 * plain memory and read by a collector that runs on the same shard
 * during a scrape (metrics.h). Costs per call when on: three cycle-counter
 * reads and three histogram adds; when off (no ac_agent_host_metrics),
 * one NULL test.
 */
#include "internal.h"
#include "agentcore/metrics.h"

#include <errno.h>
#include <stdlib.h>

static const int statuses[AC__AGENT_STATUSES - 1] = {200, 400, 404, 405, 408, 413,
                                                     429, 431, 500, 503, 504};

static unsigned status_slot(int status)
{
    switch (status) {
    case 200:
        return 0;
    case 400:
        return 1;
    case 404:
        return 2;
    case 405:
        return 3;
    case 408:
        return 4;
    case 413:
        return 5;
    case 429:
        return 6;
    case 431:
        return 7;
    case 500:
        return 8;
    case 503:
        return 9;
    case 504:
        return 10;
    default:
        return AC__AGENT_STATUSES - 1;
    }
}

void ac__agent_metrics_end(struct ac__agent *a, int status, uint64_t t_start, uint64_t t_run)
{
    struct ac__agent_metrics *m = a->m;
    if (!m)
        return;
    m->status[status_slot(status)]++;
    if (!t_start)
        return; /* refused before it became a call */
    uint64_t now = ac_cycles();
    double per_ns = ac_cycles_per_ns();
    ac_hist_record(&m->total, (uint64_t)((double)(now - t_start) / per_ns));
    if (t_run) { /* 0: ended before its handler ran (deadline, full queue) */
        ac_hist_record(&m->queue, (uint64_t)((double)(t_run - t_start) / per_ns));
        ac_hist_record(&m->service, (uint64_t)((double)(now - t_run) / per_ns));
    }
}

int ac__agent_metrics_init(struct ac__agent_shard *sh)
{
    if (!sh->host->metrics)
        return 0;
    for (unsigned i = 0; i < sh->nagents; i++) {
        sh->agents[i].m = aligned_alloc(AC_CACHELINE, sizeof *sh->agents[i].m);
        if (!sh->agents[i].m)
            return -ENOMEM;
        *sh->agents[i].m = (struct ac__agent_metrics){0};
    }
    return 0;
}

void ac__agent_metrics_fini(struct ac__agent_shard *sh)
{
    for (unsigned i = 0; i < sh->nagents; i++) {
        free(sh->agents[i].m);
        sh->agents[i].m = NULL;
    }
}

static const struct ac_metric_desc m_requests = {
    "agentcore_requests_total", "Agent invocations answered, by agent and HTTP status.",
    AC_METRIC_COUNTER};
static const struct ac_metric_desc m_inflight = {
    "agentcore_requests_in_flight", "Agent calls started and not yet answered.", AC_METRIC_GAUGE};
static const struct ac_metric_desc m_total = {
    "agentcore_request_duration_seconds",
    "Agent call time on its shard, from the call's start to its answer.", AC_METRIC_HISTOGRAM};
static const struct ac_metric_desc m_queue = {
    "agentcore_request_queue_wait_seconds",
    "Time an agent call waited in its priority class queue before the handler ran.",
    AC_METRIC_HISTOGRAM};
static const struct ac_metric_desc m_service = {
    "agentcore_request_service_seconds",
    "Time from the handler's start to the call's answer (including its async work).",
    AC_METRIC_HISTOGRAM};
static const struct ac_metric_desc m_sessions = {"agentcore_sessions",
                                                 "Sessions stored on the shard.", AC_METRIC_GAUGE};

static void collect(void *arg, ac_metrics_sink *s)
{
    struct ac__agent_shard *sh = ac__agent_shard_current();
    (void)arg;
    if (!sh)
        return;
    for (unsigned i = 0; i < sh->nagents; i++) {
        const struct ac__agent *a = &sh->agents[i];
        const char *name = a->def.name;
        if (!a->m)
            continue;
        for (unsigned k = 0; k < AC__AGENT_STATUSES; k++) {
            /* 200 always (a series that exists from the start rates well) */
            if (!a->m->status[k] && k != 0)
                continue;
            if (k < AC__AGENT_STATUSES - 1)
                ac_metrics_emit(s, &m_requests, (double)a->m->status[k],
                                "agent=\"%s\",status=\"%d\"", name, statuses[k]);
            else
                ac_metrics_emit(s, &m_requests, (double)a->m->status[k],
                                "agent=\"%s\",status=\"other\"", name);
        }
        ac_metrics_emit(s, &m_inflight,
                        (double)atomic_load_explicit(&a->c.inflight, memory_order_relaxed),
                        "agent=\"%s\"", name);
        /* histograms from an agent's first call on (56 lines each: an agent
         * nobody calls would cost a scrape ~340 lines of zeros) */
        if (a->m->total.count) {
            ac_metrics_emit_hist(s, &m_total, &a->m->total, "agent=\"%s\"", name);
            ac_metrics_emit_hist(s, &m_queue, &a->m->queue, "agent=\"%s\"", name);
            ac_metrics_emit_hist(s, &m_service, &a->m->service, "agent=\"%s\"", name);
        }
    }
    ac_metrics_emit(s, &m_sessions, (double)ac_session_count(), NULL);
}

int ac_agent_host_metrics(ac_agent_host *h, ac_metrics *m)
{
    if (!h || !m)
        return -EINVAL;
    if (atomic_load_explicit(&h->frozen, memory_order_acquire))
        return -EBUSY;
    int err = ac_metrics_collector_add(m, AC_METRICS_PER_SHARD, collect, h);
    if (!err)
        h->metrics = true;
    return err;
}
