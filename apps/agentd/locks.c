/*
 * agentd's lock settings and per-shard lock clients: the config's
 * distributed_lock section (type, redis_nodes, lock_timeout, retry_count,
 * retry_delay, drift_factor, and the flag-only node timeout) becomes one
 * ac_dlock_config, and every shard makes its own ac_dlock from it.
 */
#include "locks.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 256

static struct {
    struct ac_dlock_config cfg;
    char nodes[AGENTD_REDIS_NODES][AGENTD_HOST_MAX + 10]; /* "host:port", "[v6]:port" */
    /* slot i: written and read by shard i only */
    ac_dlock *per_shard[MAX_SHARDS];
    void (*then[MAX_SHARDS])(void *arg);
    void *then_arg[MAX_SHARDS];
    ac_runtime *rt; /* for /debug/locks */
} L;

int agentd_locks_configure(const struct agentd_lock_config *lc)
{
    ac_dlock_config_init(&L.cfg);
    if (!lc->configured)
        return 0;
    if (lc->type == AGENTD_LOCK_REDIS && lc->nnodes != 1) {
        fprintf(stderr, "agentd: distributed_lock: type redis locks on one node, %u given\n",
                lc->nnodes);
        return -EINVAL;
    }
    if (lc->type == AGENTD_LOCK_REDLOCK && lc->nnodes < 3) {
        fprintf(stderr,
                "agentd: distributed_lock: type redis_redlock needs at least 3 nodes, %u given\n",
                lc->nnodes);
        return -EINVAL;
    }
    L.cfg.type = lc->type == AGENTD_LOCK_REDIS ? AC_DLOCK_REDIS : AC_DLOCK_REDLOCK;
    for (unsigned i = 0; i < lc->nnodes; i++) {
        bool v6 = strchr(lc->nodes[i].host, ':') != NULL;
        snprintf(L.nodes[i], sizeof L.nodes[i], v6 ? "[%s]:%u" : "%s:%u", lc->nodes[i].host,
                 lc->nodes[i].port);
        L.cfg.nodes[i] = L.nodes[i];
    }
    L.cfg.node_count = lc->nnodes;
    L.cfg.lock_timeout_ns = lc->lock_timeout_ns;
    L.cfg.retry_count = lc->retry_count;
    L.cfg.retry_delay_ns = lc->retry_delay_ns;
    L.cfg.drift_factor = lc->drift_factor;
    if (lc->node_timeout_ns)
        L.cfg.node_timeout_ns = lc->node_timeout_ns;
    return 0;
}

int agentd_locks_register(ac_agent_host *host, unsigned shards)
{
    if (shards > MAX_SHARDS)
        return -EINVAL;
    return ac_agent_register_exclusive_counter(host, L.per_shard);
}

int agentd_locks_shard_start(unsigned shard, ac_net *net)
{
    if (!L.cfg.node_count)
        return 0;
    int err = ac_dlock_create(net, &L.cfg, &L.per_shard[shard]);
    if (err)
        ac_log_error("agentd: locks on shard %u: %s", shard, ac_strerror(err));
    return err;
}

static void closed(void *arg)
{
    unsigned shard = (unsigned)(uintptr_t)arg;
    L.per_shard[shard] = NULL;
    L.then[shard](L.then_arg[shard]);
}

void agentd_locks_shard_stop(unsigned shard, void (*then)(void *arg), void *arg)
{
    if (!L.per_shard[shard]) {
        then(arg);
        return;
    }
    L.then[shard] = then;
    L.then_arg[shard] = arg;
    ac_dlock_close(L.per_shard[shard], closed, (void *)(uintptr_t)shard);
}

/* ---- metrics ---------------------------------------------------------------- */

#define COUNTER(id, name, help)                                                                    \
    static const struct ac_metric_desc id = {"agentcore_lock_" name, help, AC_METRIC_COUNTER}
COUNTER(m_acquires, "acquires_total", "Locks granted");
COUNTER(m_attempts, "attempts_total", "Acquire attempts (one round over the Redis nodes each)");
COUNTER(m_contended, "contended_total", "Attempts that found the lock held (contention)");
COUNTER(m_failures, "failures_total", "Acquires that ended without a grant");
COUNTER(m_timeouts, "timeouts_total", "Acquires ended by their deadline");
COUNTER(m_releases, "releases_total", "Leases released");
COUNTER(m_renewals, "renewals_total", "Successful watchdog renewals");
COUNTER(m_lost, "lost_total", "Leases lost (validity ran out or the lock was taken)");
static const struct ac_metric_desc m_held = {"agentcore_locks_held", "Leases held now",
                                             AC_METRIC_GAUGE};
static const struct ac_metric_desc m_latency = {"agentcore_lock_acquire_seconds",
                                                "Latency of granted acquires", AC_METRIC_HISTOGRAM};

static void collect(void *arg, ac_metrics_sink *sink)
{
    (void)arg;
    unsigned shard = ac_metrics_sink_shard(sink);
    if (shard >= MAX_SHARDS || !L.per_shard[shard])
        return;
    struct ac_dlock_stats st;
    ac_dlock_stats(L.per_shard[shard], &st);
    ac_metrics_emit(sink, &m_acquires, (double)st.acquires, NULL);
    ac_metrics_emit(sink, &m_attempts, (double)st.attempts, NULL);
    ac_metrics_emit(sink, &m_contended, (double)st.contended, NULL);
    ac_metrics_emit(sink, &m_failures, (double)st.failures, NULL);
    ac_metrics_emit(sink, &m_timeouts, (double)st.timeouts, NULL);
    ac_metrics_emit(sink, &m_releases, (double)st.releases, NULL);
    ac_metrics_emit(sink, &m_renewals, (double)st.renewals, NULL);
    ac_metrics_emit(sink, &m_lost, (double)st.lost, NULL);
    ac_metrics_emit(sink, &m_held, (double)st.held, NULL);
    ac_metrics_emit_hist(sink, &m_latency, &st.latency, NULL);
}

/* ---- /debug/locks: every shard's held leases, gathered by message ---------- */

struct gather {
    ac_admin_request *r;
    unsigned admin_shard, want, got;
    bool replied;
    json_t *locks; /* touched on the admin shard only */
    struct ac_timer timeout;
};

struct part {
    struct gather *g;
    json_t *locks; /* built on its shard, handed over by message */
};

static void reply(struct gather *g)
{
    json_t *root = json_pack("{s:O, s:i, s:i}", "locks", g->locks, "shards", (int)g->want,
                             "shards_missing", (int)(g->want - g->got));
    char *body = root ? json_dumps(root, JSON_COMPACT) : NULL;
    if (body)
        ac_admin_reply(g->r, 200, "application/json", body, strlen(body));
    else
        ac_admin_reply_error(g->r, 503, "out_of_memory", "could not render the locks");
    free(body);
    json_decref(root);
    g->replied = true;
}

/* Replies once every shard answered (or the timeout did), frees after the last answer. */
static void gather_done(struct gather *g)
{
    if (g->got < g->want)
        return;
    if (!g->replied)
        reply(g);
    ac_timer_cancel(&g->timeout);
    json_decref(g->locks);
    free(g);
}

static void merge(void *arg)
{
    struct part *p = arg;
    struct gather *g = p->g;
    json_array_extend(g->locks, p->locks);
    json_decref(p->locks);
    free(p);
    g->got++;
    gather_done(g);
}

static void held_one(void *arg, const struct ac_dlock_held *h)
{
    json_array_append_new(arg, json_pack("{s:s, s:s, s:I, s:f, s:b}", "name", h->name, "holder",
                                         h->holder, "fence", (json_int_t)h->fence, "remaining_s",
                                         (double)h->remaining_ns / 1e9, "lost", h->lost));
}

static void collect_held(void *arg)
{
    struct part *p = arg;
    unsigned shard = ac_shard_id();
    p->locks = json_array();
    if (p->locks && shard < MAX_SHARDS && L.per_shard[shard])
        ac_dlock_foreach(L.per_shard[shard], held_one, p->locks);
    if (ac_submit_to(p->g->admin_shard, merge, p) != 0)
        AC_PANIC("debug/locks: the answer could not go back to the admin shard");
}

static void gather_timeout(struct ac_timer *t, void *arg)
{
    (void)t;
    struct gather *g = arg;
    if (!g->replied)
        reply(g); /* with the shards that answered; the rest free it later */
}

static void debug_locks(void *arg, ac_admin_request *r)
{
    (void)arg;
    unsigned n = ac_runtime_shard_count(L.rt);
    struct gather *g = calloc(1, sizeof *g);
    if (!g || !(g->locks = json_array())) {
        free(g);
        ac_admin_reply_error(r, 503, "out_of_memory", "no memory for /debug/locks");
        return;
    }
    g->r = r;
    g->admin_shard = ac_shard_id();
    for (unsigned s = 0; s < n; s++) {
        struct part *p = calloc(1, sizeof *p);
        if (!p)
            break;
        p->g = g;
        if (ac_runtime_submit(L.rt, s, collect_held, p) != 0) {
            free(p);
            break;
        }
        g->want++;
    }
    if (g->want == 0) {
        reply(g);
        json_decref(g->locks);
        free(g);
        return;
    }
    AC_ASSERT(ac_timer_start(&g->timeout, 2000000000ull, gather_timeout, g) == 0);
}

int agentd_locks_ops(ac_runtime *rt, ac_metrics *m, ac_admin *a)
{
    L.rt = rt;
    int err = m ? ac_metrics_collector_add(m, AC_METRICS_PER_SHARD, collect, NULL) : 0;
    if (!err)
        err = ac_admin_route(a, "GET", "/debug/locks", debug_locks, NULL);
    return err;
}
