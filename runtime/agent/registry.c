/*
 * The agent registry and each shard's copy of it, plus the ordered
 * cross-shard post the other agent files use.
 *
 * Registration happens on one thread before the runtime runs; the first
 * ac_agent_host_shard_start freezes it. Each shard then copies the
 * definitions into memory it allocates itself (first touch on its NUMA
 * node) with its own counters, so the request path reads only shard-local
 * memory. The host keeps one pointer per shard so GET /v1/agents can sum
 * the counters (relaxed loads of single-writer counters).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The one thread-local the agent layer has: set at shard start (STYLE 8). */
static _Thread_local struct ac__agent_shard *current;

struct ac__agent_shard *ac__agent_shard_current(void)
{
    return current;
}

int ac_agent_host_create(const struct ac_agent_host_config *cfg, ac_agent_host **out)
{
    struct ac_agent_host *h;
    if (!cfg || cfg->shards == 0)
        return -EINVAL;
    h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->cfg = *cfg;
    if (!h->cfg.session_ttl_ns)
        h->cfg.session_ttl_ns = 600ull * 1000000000u;
    if (!h->cfg.timeout_ns)
        h->cfg.timeout_ns = 30ull * 1000000000u;
    if (!h->cfg.server)
        h->cfg.server = "agentcore";
    if (!h->cfg.session_max)
        h->cfg.session_max = 65536;
    for (unsigned c = 0; c < 3; c++) {
        if (!h->cfg.admit_target_ns[c])
            h->cfg.admit_target_ns[c] = 5000000ull;
        if (!h->cfg.admit_interval_ns[c])
            h->cfg.admit_interval_ns[c] = 100000000ull;
    }
    h->shards = calloc(cfg->shards, sizeof *h->shards);
    if (!h->shards) {
        free(h);
        return -ENOMEM;
    }
    *out = h;
    return 0;
}

static bool valid_name(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-' ||
              s[n] == '_'))
            return false;
    return n >= 1 && n <= 64;
}

int ac_agent_register(ac_agent_host *h, const struct ac_agent_def *def)
{
    struct ac_agent_def d;
    if (atomic_load_explicit(&h->frozen, memory_order_acquire))
        return -EBUSY;
    if (!def->name || !valid_name(def->name) || !def->handler || def->priority > AC_AGENT_LOW ||
        def->placement > AC_AGENT_ANY_SHARD)
        return -EINVAL;
    for (unsigned i = 0; i < h->ndefs; i++)
        if (strcmp(h->defs[i].name, def->name) == 0)
            return -EEXIST;
    if (h->ndefs == h->cap_defs) {
        unsigned cap = h->cap_defs ? h->cap_defs * 2 : 8;
        struct ac_agent_def *n = realloc(h->defs, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        h->defs = n;
        h->cap_defs = cap;
    }
    d = *def;
    d.name = strdup(def->name);
    if (!d.name)
        return -ENOMEM;
    if (!d.timeout_ns)
        d.timeout_ns = h->cfg.timeout_ns;
    h->defs[h->ndefs++] = d;
    return 0;
}

int ac_agent_host_shard_start(ac_agent_host *h, unsigned shard)
{
    struct ac__agent_shard *sh;
    unsigned n = h->cfg.shards;
    AC_ASSERT(shard < n && ac_shard_id() == shard);
    /* release: pairs with the acquire in ac_agent_register (a late
     * register sees the freeze) */
    atomic_store_explicit(&h->frozen, true, memory_order_release);
    sh = calloc(1, sizeof *sh);
    if (!sh)
        return -ENOMEM;
    sh->host = h;
    sh->id = shard;
    sh->nagents = h->ndefs;
    sh->free_call = UINT32_MAX; /* empty free list of call slots */
    sh->agents = calloc(h->ndefs ? h->ndefs : 1, sizeof *sh->agents);
    sh->outbox = calloc(n, sizeof *sh->outbox);
    if (!sh->agents || !sh->outbox) {
        free(sh->agents);
        free(sh->outbox);
        free(sh);
        return -ENOMEM;
    }
    for (unsigned t = 0; t < n; t++)
        STAILQ_INIT(&sh->outbox[t]);
    for (unsigned c = 0; c < 3; c++)
        TAILQ_INIT(&sh->queued[c]);
    TAILQ_INIT(&sh->lru);
    for (unsigned i = 0; i < h->ndefs; i++) {
        struct ac_agent_def *d = &sh->agents[i].def;
        *d = h->defs[i];
        /* resolved once: 0 target in the copy means admission is off */
        if (h->cfg.admit_off)
            d->admit_target_ns = 0;
        else if (!d->admit_target_ns)
            d->admit_target_ns = h->cfg.admit_target_ns[d->priority];
        if (!d->admit_interval_ns)
            d->admit_interval_ns = h->cfg.admit_interval_ns[d->priority];
    }
    if (ac__agent_metrics_init(sh)) {
        ac__agent_metrics_fini(sh);
        free(sh->agents);
        free(sh->outbox);
        free(sh);
        return -ENOMEM;
    }
    current = sh;
    /* release: another shard summing counters sees an initialised copy */
    atomic_store_explicit(&h->shards[shard], sh, memory_order_release);
    atomic_fetch_add_explicit(&h->started, 1, memory_order_relaxed);
    return 0;
}

void ac_agent_host_shard_stop(ac_agent_host *h, unsigned shard)
{
    struct ac__agent_shard *sh = atomic_load_explicit(&h->shards[shard], memory_order_relaxed);
    if (!sh)
        return;
    AC_ASSERT(sh == current);
    atomic_fetch_sub_explicit(&h->started, 1, memory_order_relaxed);
    ac__agent_calls_close(sh);
    ac__agent_sessions_close(sh);
    ac_http_client_destroy(sh->client); /* its connections closed with the net */
    sh->client = NULL;
    sh->store = NULL; /* the cluster's, closed by ac_cluster_shard_stop */
    current = NULL; /* before the metrics go: a late scrape finds no agents here */
    ac__agent_metrics_fini(sh);
    current = sh;
    ac_timer_cancel(&sh->out_timer);
    for (unsigned t = 0; t < h->cfg.shards; t++) {
        struct ac__post *p;
        while ((p = STAILQ_FIRST(&sh->outbox[t]))) {
            STAILQ_REMOVE_HEAD(&sh->outbox[t], link);
            p->drop(p);
        }
    }
    /* Other shards may still read the counters until the runtime ends,
     * so the copy stays reachable; ac_agent_host_destroy frees it. */
    free(sh->outbox);
    sh->outbox = NULL;
    current = NULL;
}

void ac_agent_host_destroy(ac_agent_host *h)
{
    if (!h)
        return;
    for (unsigned s = 0; s < h->cfg.shards; s++) {
        struct ac__agent_shard *sh = atomic_load_explicit(&h->shards[s], memory_order_relaxed);
        if (sh) {
            free(sh->agents);
            free(sh->calls);
            free(sh->buckets);
            free(sh);
        }
    }
    for (unsigned i = 0; i < h->ndefs; i++)
        free((char *)h->defs[i].name);
    free(h->defs);
    free(h->shards);
    free(h);
}

int ac__agent_find(const struct ac__agent_shard *sh, const char *name, size_t len)
{
    for (unsigned i = 0; i < sh->nagents; i++)
        if (strncmp(sh->agents[i].def.name, name, len) == 0 && sh->agents[i].def.name[len] == 0)
            return (int)i;
    return -1;
}

/* ---- ordered post ---------------------------------------------------- */

static void flush_outbox(struct ac_timer *t, void *arg);

static void arm_flush(struct ac__agent_shard *sh)
{
    if (!ac_timer_armed(&sh->out_timer))
        AC_ASSERT(ac_timer_start(&sh->out_timer, 0, flush_outbox, sh) == 0);
}

/* Sends queued posts to `target` until its ring is full. */
static void flush_one(struct ac__agent_shard *sh, unsigned target)
{
    struct ac__outbox *q = &sh->outbox[target];
    struct ac__post *p;
    while ((p = STAILQ_FIRST(q))) {
        /* unlink first: once submitted, p belongs to the target shard,
         * which may run and free it before ac_submit_to returns */
        STAILQ_REMOVE_HEAD(q, link);
        int err = ac_submit_to(target, p->fn, p);
        if (err == -EAGAIN) {
            STAILQ_INSERT_HEAD(q, p, link); /* not sent: keeps its place */
            arm_flush(sh);
            return;
        }
        if (err)
            p->drop(p); /* -ECANCELED: the runtime is stopping */
    }
}

static void flush_outbox(struct ac_timer *t, void *arg)
{
    struct ac__agent_shard *sh = arg;
    (void)t;
    for (unsigned target = 0; target < sh->host->cfg.shards; target++)
        flush_one(sh, target);
}

void ac__agent_post(struct ac__agent_shard *sh, unsigned shard, struct ac__post *p)
{
    struct ac__outbox *q = &sh->outbox[shard];
    if (STAILQ_EMPTY(q)) {
        int err = ac_submit_to(shard, p->fn, p);
        if (err == 0)
            return;
        if (err != -EAGAIN) {
            p->drop(p);
            return;
        }
        /* ring full: queue behind, keeping the order per target */
        STAILQ_INSERT_TAIL(q, p, link);
        arm_flush(sh);
        return;
    }
    STAILQ_INSERT_TAIL(q, p, link);
}
