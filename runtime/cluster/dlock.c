/*
 * The per-shard lock client: configuration, node connections, close,
 * statistics and the listing of held leases. Acquiring is acquire.c,
 * holding and releasing lease.c, the quorum requests fanout.c.
 */
#include "internal.h"
#include "agentcore/runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

void ac_dlock_config_init(struct ac_dlock_config *cfg)
{
    *cfg = (struct ac_dlock_config){
        .type = AC_DLOCK_REDIS,
        .lock_timeout_ns = 30000000000ull,
        .retry_count = 3,
        .retry_delay_ns = 100000000ull,
        .drift_factor = 0.01,
        .node_timeout_ns = 50000000ull,
    };
}

/* "host:port" or "[v6]:port" into host (NUL-terminated) and port. */
static int node_split(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -EINVAL;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']')
        h++, hl -= 2;
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (hl == 0 || hl >= cap || *end || p == 0 || p > 65535)
        return -EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return 0;
}

uint64_t ac__dlock_rand(struct ac_dlock *d)
{
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    return d->rng;
}

static void free_dlock(struct ac_dlock *d)
{
    free(d->prefix);
    free(d);
}

int ac_dlock_create(ac_net *net, const struct ac_dlock_config *cfg, ac_dlock **out)
{
    char host[256];
    uint16_t port;
    int err;
    unsigned n = cfg->type == AC_DLOCK_REDIS && cfg->node_count ? 1 : cfg->node_count;
    if (n == 0 || n > AC_DLOCK_MAX_NODES || cfg->lock_timeout_ns < 3000000 ||
        !(cfg->drift_factor >= 0 && cfg->drift_factor < 0.5) || !cfg->node_timeout_ns)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++)
        if (!cfg->nodes[i] || node_split(cfg->nodes[i], host, sizeof host, &port))
            return -EINVAL;
    struct ac_dlock *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->net = net;
    d->type = cfg->type;
    d->n = n;
    d->quorum = n / 2 + 1;
    d->ttl_ns = cfg->lock_timeout_ns;
    d->retry_count = cfg->retry_count;
    d->retry_delay_ns = cfg->retry_delay_ns;
    d->drift_factor = cfg->drift_factor;
    d->node_timeout_ns = cfg->node_timeout_ns;
    d->prefix = strdup(cfg->key_prefix ? cfg->key_prefix : "ac:lock:");
    if (!d->prefix) {
        free_dlock(d);
        return -ENOMEM;
    }
    if (cfg->holder) {
        snprintf(d->holder, sizeof d->holder, "%s:shard %u", cfg->holder, ac_shard_id());
    } else {
        char hn[64] = "?";
        gethostname(hn, sizeof hn - 1);
        snprintf(d->holder, sizeof d->holder, "%s:%d:shard %u", hn, (int)getpid(), ac_shard_id());
    }
    uint64_t seed[3];
    if (getrandom(seed, sizeof seed, 0) != sizeof seed) {
        seed[0] = ac_now_ns() ^ (uintptr_t)d;
        seed[1] = ((uint64_t)getpid() << 32) ^ ac_shard_id();
        seed[2] = seed[0] * 0x9e3779b97f4a7c15ull;
    }
    d->tok_hi = seed[0];
    d->tok_lo = seed[1];
    d->rng = seed[2] | 1;
    for (int s = 0; s < SCRIPT_COUNT; s++)
        ac_resp_script_init(&d->script[s], ac__dlock_lua[s]);
    for (unsigned i = 0; i < n; i++) {
        struct ac_resp_config rc;
        ac_resp_config_init(&rc);
        AC_ASSERT(node_split(cfg->nodes[i], host, sizeof host, &port) == 0);
        rc.host = host;
        rc.port = port;
        rc.password = cfg->password;
        rc.db = cfg->db;
        rc.command_timeout_ns = cfg->node_timeout_ns;
        err = ac_resp_client_create(net, &rc, &d->node[i]);
        if (err)
            goto out_close;
        d->clients_open++;
    }
    *out = d;
    return 0;

out_close:
    /* clients created so far close in the background and free themselves */
    for (unsigned i = 0; i < d->clients_open; i++)
        ac_resp_client_close(d->node[i], NULL, NULL);
    free_dlock(d);
    return err;
}

static void client_closed(void *arg, ac_resp_client *c)
{
    (void)c;
    struct ac_dlock *d = arg;
    if (--d->clients_open)
        return;
    ac_dlock_closed_fn cb = d->closed_cb;
    void *cb_arg = d->closed_arg;
    AC_ASSERT(!d->leases);
    free_dlock(d);
    if (cb)
        cb(cb_arg);
}

void ac__dlock_maybe_closed(struct ac_dlock *d)
{
    if (!d->closing || d->busy || d->clients_closing)
        return;
    d->clients_closing = true;
    for (unsigned i = 0; i < d->n; i++)
        ac_resp_client_close(d->node[i], client_closed, d);
}

static void close_fire(struct ac_timer *t, void *arg)
{
    (void)t;
    struct ac_dlock *d = arg;
    d->busy--;
    ac__dlock_maybe_closed(d);
}

void ac_dlock_close(ac_dlock *d, ac_dlock_closed_fn cb, void *arg)
{
    AC_ASSERT(!d->closing);
    d->closing = true;
    d->closed_cb = cb;
    d->closed_arg = arg;
    struct ac_dlock_lease *next;
    for (struct ac_dlock_lease *l = d->leases; l; l = next) {
        next = l->next;
        /* waiting to retry: fail it on the next turn; an attempt in flight
         * fails when decided. Held leases stay with their holders (their
         * steps may still be running) and close waits for their release. */
        if (l->state == L_ACQUIRING && ac_timer_cancel(&l->retry_timer))
            AC_ASSERT(ac_timer_start(&l->retry_timer, 0, l->retry_timer.cb, l) == 0);
    }
    d->busy++; /* the next turn decides, so close never calls back from inside */
    AC_ASSERT(ac_timer_start(&d->close_timer, 0, close_fire, d) == 0);
}

void ac_dlock_stats(const ac_dlock *d, struct ac_dlock_stats *out)
{
    *out = d->stats;
}

void ac_dlock_foreach(const ac_dlock *d, void (*fn)(void *arg, const struct ac_dlock_held *h),
                      void *arg)
{
    uint64_t now = ac_now_ns();
    for (const struct ac_dlock_lease *l = d->leases; l; l = l->next) {
        if (l->state != L_HELD && l->state != L_LOST)
            continue;
        struct ac_dlock_held h = {
            .name = l->name,
            .holder = d->holder,
            .fence = l->fence,
            .remaining_ns = l->state == L_HELD && l->valid_until > now ? l->valid_until - now : 0,
            .lost = l->state == L_LOST,
        };
        fn(arg, &h);
    }
}

struct ac_resp_client *ac_dlock_node(ac_dlock *d, unsigned i)
{
    return i < d->n ? d->node[i] : NULL;
}

unsigned ac_dlock_node_count(const ac_dlock *d)
{
    return d->n;
}
