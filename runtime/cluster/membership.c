/*
 * Membership through Redis, on shard 0 of each node.
 *
 * Each tick (every min(poll, ttl/3)) sends three pipelined commands on
 * one connection:
 *
 *   SET  <prefix>:node:<self> <node id> PX <ttl>  register / renew
 *   SADD <prefix>:nodes <self>                  the index of names
 *   EVALSHA live <prefix>:nodes <prefix>:node:  the live set (script below)
 *
 * The script returns the names in the index whose key still exists and
 * removes the others, so a node that died (its key expired) leaves every
 * view within ttl + one poll, and one that stopped cleanly (its key
 * deleted) within one poll. Redis runs each script atomically; nothing
 * here needs an agreement protocol of its own. Ticks never overlap: the
 * next one is armed when the live-set reply (or its failure) arrives.
 *
 * The script reads keys it is not given in KEYS: fine on a standalone
 * Redis (the engine the nodes share), not on a Redis Cluster.
 */
#include "nodes.h"
#include "agentcore/timer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char live_lua[] = "local live = {}\n"
                               "for _, n in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
                               "  if redis.call('EXISTS', ARGV[1] .. n) == 1 then\n"
                               "    live[#live + 1] = n\n"
                               "  else\n"
                               "    redis.call('SREM', KEYS[1], n)\n"
                               "  end\n"
                               "end\n"
                               "return live\n";

struct ac__membership {
    ac_cluster *cl;
    ac_resp_client *redis;
    struct ac_resp_script live;
    struct ac_timer tick;
    uint64_t period_ns;
    char node_key[512], index_key[300], node_prefix[300], ttl_ms[24];
    bool stopping, warned;
    unsigned pending; /* commands whose callback has not run */
    void (*done)(void *arg);
    void *done_arg;
};

static void arm(struct ac__membership *m);

static void closed(void *arg, ac_resp_client *c)
{
    struct ac__membership *m = arg;
    (void)c;
    void (*done)(void *) = m->done;
    void *done_arg = m->done_arg;
    free(m);
    done(done_arg);
}

static void finish_stop(struct ac__membership *m)
{
    if (m->stopping && m->pending == 0)
        ac_resp_client_close(m->redis, closed, m);
}

static void on_reply(void *arg, int res, const struct ac_resp_reply *r)
{
    struct ac__membership *m = arg;
    (void)res, (void)r;
    m->pending--;
    finish_stop(m);
}

static void on_live(void *arg, int res, const struct ac_resp_reply *r)
{
    struct ac__membership *m = arg;
    m->pending--;
    if (m->stopping) {
        finish_stop(m);
        return;
    }
    if (res || r->type != AC_RESP_ARRAY) {
        if (!m->warned)
            ac_log_warn("cluster: membership: live set unavailable (%s); keeping the last view",
                        res                        ? ac_strerror(res)
                        : r->type == AC_RESP_ERROR ? r->str
                                                   : "bad reply");
        m->warned = true;
    } else {
        const char *names[AC_PLACEMENT_MAX_NODES];
        unsigned n = 0;
        for (size_t i = 0; i < r->elements && n < AC_PLACEMENT_MAX_NODES - 1; i++)
            if (r->element[i]->type == AC_RESP_STRING && ac_cluster_addr_valid(r->element[i]->str))
                names[n++] = r->element[i]->str;
        int err = ac_cluster_members_set(m->cl, names, n);
        if (err)
            ac_log_warn("cluster: membership: view not updated: %s", ac_strerror(err));
        if (m->warned)
            ac_log_info("cluster: membership: live set readable again (%u members)", n);
        m->warned = false;
    }
    arm(m);
}

static void send_cmd(struct ac__membership *m, int argc, const char *const *argv)
{
    if (ac_resp_command(m->redis, argc, argv, NULL, on_reply, m) == 0)
        m->pending++;
}

static void tick(struct ac_timer *t, void *arg)
{
    struct ac__membership *m = arg;
    const char *self = ac_cluster_config(m->cl)->advertise;
    (void)t;
    const char *set[] = {"SET", m->node_key, ac_cluster_config(m->cl)->node_id, "PX", m->ttl_ms};
    const char *sadd[] = {"SADD", m->index_key, self};
    send_cmd(m, 5, set);
    send_cmd(m, 3, sadd);
    const char *args[] = {m->index_key, m->node_prefix};
    if (ac_resp_eval(m->redis, &m->live, 1, 2, args, NULL, on_live, m) == 0)
        m->pending++;
    else
        arm(m); /* not connected: try again next period */
}

static void arm(struct ac__membership *m)
{
    if (!m->stopping)
        AC_ASSERT(ac_timer_start(&m->tick, m->period_ns, tick, m) == 0);
}

int ac__membership_start(ac_cluster *c, struct ac_net *net, struct ac__membership **out)
{
    const struct ac_cluster_config *cfg = ac_cluster_config(c);
    struct ac_resp_config rc;
    char host[64];
    int err = ac__cluster_resp_config(cfg->redis[0], host, &rc);
    struct ac__membership *m;
    if (err)
        return err;
    m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->cl = c;
    m->period_ns = cfg->poll_ns < cfg->member_ttl_ns / 3 ? cfg->poll_ns : cfg->member_ttl_ns / 3;
    snprintf(m->node_key, sizeof m->node_key, "%s:node:%s", cfg->prefix, cfg->advertise);
    snprintf(m->node_prefix, sizeof m->node_prefix, "%s:node:", cfg->prefix);
    snprintf(m->index_key, sizeof m->index_key, "%s:nodes", cfg->prefix);
    snprintf(m->ttl_ms, sizeof m->ttl_ms, "%llu",
             (unsigned long long)(cfg->member_ttl_ns / 1000000));
    ac_resp_script_init(&m->live, live_lua);
    /* a tick must finish within its period: commands time out before the next */
    rc.command_timeout_ns = m->period_ns;
    err = ac_resp_client_create(net, &rc, &m->redis);
    if (err) {
        free(m);
        return err;
    }
    /* the first tick at once: registered before the first request */
    AC_ASSERT(ac_timer_start(&m->tick, 0, tick, m) == 0);
    *out = m;
    return 0;
}

void ac__membership_stop(struct ac__membership *m, void (*done)(void *arg), void *arg)
{
    m->stopping = true;
    m->done = done;
    m->done_arg = arg;
    ac_timer_cancel(&m->tick);
    /* leave at once rather than after the TTL */
    const char *del[] = {"DEL", m->node_key};
    const char *srem[] = {"SREM", m->index_key, ac_cluster_config(m->cl)->advertise};
    send_cmd(m, 2, del);
    send_cmd(m, 3, srem);
    finish_stop(m);
}
