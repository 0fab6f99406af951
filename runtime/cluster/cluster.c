/*
 * The process' cluster object: its config and the current view of the
 * membership (see cluster.h).
 *
 * Views are published read-copy-update style: the one writer (membership,
 * on shard 0) builds a new immutable placement and swaps the pointer with
 * release order; every shard reads it with acquire order on each routed
 * request. A replaced view is never freed before ac_cluster_destroy —
 * without epochs no shard can say when it stopped using one — so each
 * membership change keeps one small allocation (a name per node) until
 * exit. Membership changes are rare events (joins, leaves, crashes), so
 * that is bounded by the cluster's churn, not by traffic.
 */
#include "nodes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct view {
    struct ac_cluster_view v;
    ac_placement *p;
    struct view *older;
};

/* What one shard runs for the cluster; written by that shard only. */
struct shard_part {
    struct ac__membership *membership; /* shard 0 with Redis */
    ac_session_store *store;           /* store REDIS */
    unsigned stopping;                 /* parts still closing */
    void (*done)(void *arg);
    void *done_arg;
};

struct ac_cluster {
    struct ac_cluster_config cfg;
    char **strs; /* every string of cfg, owned */
    unsigned nstrs;
    _Atomic(struct view *) cur;
    struct shard_part shard[AC_MAX_CPUS]; /* slot i: shard i only */
};

void ac_cluster_config_init(struct ac_cluster_config *cfg)
{
    *cfg = (struct ac_cluster_config){.mode = AC_CLUSTER_PROXY,
                                      .store = AC_CLUSTER_STORE_MEMORY,
                                      .member_ttl_ns = 3000000000ull,
                                      .poll_ns = 500000000ull,
                                      .session_ttl_ns = 3600000000000ull,
                                      .prefix = "agentcore"};
}

bool ac_cluster_addr_valid(const char *name)
{
    char host[64];
    unsigned char buf[16];
    const char *colon = name ? strrchr(name, ':') : NULL;
    char *end;
    if (!colon || !colon[1])
        return false;
    unsigned long port = strtoul(colon + 1, &end, 10);
    size_t hl = (size_t)(colon - name);
    const char *h = name;
    if (*end || port == 0 || port > 65535)
        return false;
    if (hl >= 2 && name[0] == '[' && name[hl - 1] == ']')
        h++, hl -= 2;
    if (hl == 0 || hl >= sizeof host)
        return false;
    memcpy(host, h, hl);
    host[hl] = 0;
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Copies a string into the cluster's own set; NULL stays NULL. */
static int keep(ac_cluster *c, void *p);

static int own(ac_cluster *c, const char **s)
{
    char *d;
    if (!*s)
        return 0;
    d = strdup(*s);
    if (!d || keep(c, d) != 0) {
        free(d);
        return -ENOMEM;
    }
    *s = d;
    return 0;
}

/* Keeps `p` among the owned allocations (freed at destroy). */
static int keep(ac_cluster *c, void *p)
{
    char **n = realloc(c->strs, (c->nstrs + 1) * sizeof *n);
    if (!n)
        return -ENOMEM;
    c->strs = n;
    c->strs[c->nstrs++] = p;
    return 0;
}

static int own_list(ac_cluster *c, const char *const **list, unsigned n)
{
    const char **copy;
    if (!n) {
        *list = NULL;
        return 0;
    }
    copy = calloc(n, sizeof *copy);
    if (!copy || keep(c, copy) != 0) {
        free(copy);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < n; i++) {
        copy[i] = (*list)[i];
        if (own(c, &copy[i]) != 0)
            return -ENOMEM;
    }
    *list = copy;
    return 0;
}

int ac_cluster_create(const struct ac_cluster_config *cfg, ac_cluster **out)
{
    ac_cluster *c;
    int err;
    if (!cfg || !ac_cluster_addr_valid(cfg->advertise) || cfg->nmembers > AC_PLACEMENT_MAX_NODES)
        return -EINVAL;
    for (unsigned i = 0; i < cfg->nmembers; i++)
        if (!ac_cluster_addr_valid(cfg->members[i]))
            return -EINVAL;
    for (unsigned i = 0; i < cfg->nredis; i++)
        if (!ac_cluster_addr_valid(cfg->redis[i]))
            return -EINVAL;
    if (cfg->store == AC_CLUSTER_STORE_REDIS && !cfg->nredis)
        return -EINVAL;
    if (!cfg->member_ttl_ns || !cfg->poll_ns || !cfg->prefix || !*cfg->prefix)
        return -EINVAL;
    c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->cfg = *cfg;
    if (!c->cfg.node_id || !*c->cfg.node_id)
        c->cfg.node_id = c->cfg.advertise;
    err = own(c, &c->cfg.advertise);
    if (!err)
        err = own(c, &c->cfg.node_id);
    if (!err)
        err = own(c, &c->cfg.prefix);
    if (!err)
        err = own_list(c, &c->cfg.members, cfg->nmembers);
    if (!err)
        err = own_list(c, &c->cfg.redis, cfg->nredis);
    if (!err)
        err = ac_cluster_members_set(c, c->cfg.members, c->cfg.nmembers);
    if (err) {
        ac_cluster_destroy(c);
        return err;
    }
    *out = c;
    return 0;
}

void ac_cluster_destroy(ac_cluster *c)
{
    if (!c)
        return;
    for (struct view *v = atomic_load(&c->cur), *older; v; v = older) {
        older = v->older;
        ac_placement_destroy(v->p);
        free(v);
    }
    for (unsigned i = 0; i < c->nstrs; i++)
        free(c->strs[i]);
    free(c->strs);
    free(c);
}

const struct ac_cluster_config *ac_cluster_config(const ac_cluster *c)
{
    return &c->cfg;
}

void ac_cluster_view_get(const ac_cluster *c, struct ac_cluster_view *out)
{
    /* acquire: pairs with the release in members_set, so the placement's
     * contents are visible before its pointer */
    struct view *v = atomic_load_explicit(&((ac_cluster *)c)->cur, memory_order_acquire);
    *out = v->v;
}

bool ac_cluster_owned_since(const ac_cluster *c, uint64_t key, uint64_t since)
{
    /* acquire as in view_get; `older` links are set before a view is
     * published and never change */
    struct view *v = atomic_load_explicit(&((ac_cluster *)c)->cur, memory_order_acquire);
    for (; v && v->v.generation >= since; v = v->older) {
        if (v->v.self < 0 || (int)ac_placement_owner(v->p, key) != v->v.self)
            return false;
        if (v->v.generation == since)
            return true;
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ac_cluster_members_set(ac_cluster *c, const char *const *names, unsigned n)
{
    const char **all;
    unsigned m = 0;
    int err;
    bool self = false;
    if (n >= AC_PLACEMENT_MAX_NODES)
        return -EINVAL;
    all = calloc(n + 1, sizeof *all);
    if (!all)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++) {
        bool dup = false;
        for (unsigned j = 0; j < m; j++)
            dup |= strcmp(all[j], names[i]) == 0;
        if (!dup)
            all[m++] = names[i];
        self |= strcmp(names[i], c->cfg.advertise) == 0;
    }
    if (!self)
        all[m++] = c->cfg.advertise;
    /* sorted: the same set always gives the same node indices */
    qsort(all, m, sizeof *all, cmp_str);
    struct view *old = atomic_load_explicit(&c->cur, memory_order_relaxed);
    if (old && ac_placement_count(old->p) == m) {
        bool same = true;
        for (unsigned i = 0; i < m && same; i++)
            same = strcmp(ac_placement_node(old->p, i), all[i]) == 0;
        if (same) {
            free(all);
            return 0;
        }
    }
    struct view *v = calloc(1, sizeof *v);
    if (!v) {
        free(all);
        return -ENOMEM;
    }
    err = ac_placement_create(all, m, &v->p);
    free(all);
    if (err) {
        free(v);
        return err;
    }
    v->v = (struct ac_cluster_view){.placement = v->p,
                                    .generation = old ? old->v.generation + 1 : 1,
                                    .self = ac_placement_find(v->p, c->cfg.advertise),
                                    .changed_ns = ac_now_ns()};
    v->older = old;
    atomic_store_explicit(&c->cur, v, memory_order_release);
    return 0;
}

int ac__cluster_resp_config(const char *addr, char host[64], struct ac_resp_config *out)
{
    const char *colon = strrchr(addr, ':');
    size_t hl;
    if (!ac_cluster_addr_valid(addr))
        return -EINVAL;
    hl = (size_t)(colon - addr);
    if (addr[0] == '[')
        addr++, hl -= 2;
    memcpy(host, addr, hl);
    host[hl] = 0;
    ac_resp_config_init(out);
    out->host = host;
    out->port = (uint16_t)atoi(colon + 1);
    return 0;
}

int ac_cluster_shard_start(ac_cluster *c, struct ac_net *net, unsigned shard)
{
    struct shard_part *sp;
    int err = 0;
    if (shard >= AC_MAX_CPUS)
        return -EINVAL;
    sp = &c->shard[shard];
    if (shard == 0 && c->cfg.nredis)
        err = ac__membership_start(c, net, &sp->membership);
    if (!err && c->cfg.store == AC_CLUSTER_STORE_REDIS)
        err = ac__session_store_create(c, net, &sp->store);
    return err;
}

static void part_closed(void *arg)
{
    struct shard_part *sp = arg;
    if (--sp->stopping == 0)
        sp->done(sp->done_arg);
}

void ac_cluster_shard_stop(ac_cluster *c, unsigned shard, void (*done)(void *arg), void *arg)
{
    struct shard_part *sp = &c->shard[shard];
    struct ac__membership *m = sp->membership;
    ac_session_store *s = sp->store;
    sp->membership = NULL;
    sp->store = NULL;
    sp->done = done;
    sp->done_arg = arg;
    sp->stopping = 1; /* held until both are asked to close */
    if (m) {
        sp->stopping++;
        ac__membership_stop(m, part_closed, sp);
    }
    if (s) {
        sp->stopping++;
        ac__session_store_close(s, part_closed, sp);
    }
    part_closed(sp);
}

ac_session_store *ac_cluster_shard_store(ac_cluster *c, unsigned shard)
{
    return shard < AC_MAX_CPUS ? c->shard[shard].store : NULL;
}
