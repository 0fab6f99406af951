/*
 * agentd: the agent daemon. One shard per CPU; each shard has its own
 * SO_REUSEPORT listener on the same port and serves every route
 * (include/agentcore/agent.h) with the built-in agents.
 *
 *   agentd [--config FILE] [flags]       (agentd --help lists them)
 *
 * The config (defaults, YAML file, flags on top) is built in startup.c /
 * cli.c / config.c and mapped onto the libraries' settings in settings.c.
 * --port 0 lets the kernel pick (the chosen port is printed). On start it
 * prints one line per URL on stdout ("agentd: listening on http://...").
 * SIGINT/SIGTERM stop it gracefully: listeners close first, answers
 * already requested go out until the drain deadline, then connections
 * close and the shards stop. Under systemd (Type=notify) it reports
 * READY=1 once every shard serves and STOPPING=1 when draining begins.
 */
#include "agentcore.h"
#include "backend.h"
#include "cluster.h"
#include "locks.h"
#include "harden.h"
#include "notify.h"
#include "malloc_tune.h"
#include "ops.h"
#include "startup.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SHARDS 256

struct shard_state {
    struct agentd *d;
    unsigned id;
    ac_net *net;
    ac_http_server *http;
};

struct agentd {
    ac_agent_host *host;
    const struct agentd_config *conf; /* admin address etc. for the admin listener */
    struct agentd_cluster *cluster;   /* conf's cluster section, started per shard */
    struct agentd_settings set;
    bool quiet;
    _Atomic bool failed;
    _Atomic unsigned serving;
    unsigned nshards;
    struct shard_state shard[MAX_SHARDS]; /* slot i: written by shard i only */
};

static void fail(struct agentd *d, unsigned id, const char *what, int err)
{
    ac_log_error("agentd: shard %u: %s: %s", id, what, ac_strerror(err));
    atomic_store(&d->failed, true);
    ac_runtime_stop(ac_runtime_current());
}

static void print_urls(struct agentd *d)
{
    const char *h = d->set.tcp.host;
    bool v6 = strchr(h, ':') != NULL;
    char base[128];
    snprintf(base, sizeof base, "http://%s%s%s:%u", v6 ? "[" : "", h, v6 ? "]" : "",
             d->set.tcp.port);
    /* one line (one write) in quiet mode: a reader may close the pipe after it */
    printf("agentd: listening on %s (%u shards), admin on %s\n", base, d->nshards,
           agentd_ops_url());
    if (!d->quiet) {
        printf("  GET  %s/healthz\n  GET  %s/readyz\n  GET  %s/v1/agents\n", base, base, base);
        printf("  POST %s/v1/agents/{echo,sleep,compute,stream,session-counter,"
               "exclusive-counter}/invoke\n",
               base);
        agentd_ops_print_routes();
    }
    fflush(stdout);
}

static void shard_start(void *arg, unsigned id)
{
    struct agentd *d = arg;
    struct shard_state *st = &d->shard[id];
    int err;
    st->d = d;
    st->id = id;
    err = ac_agent_host_shard_start(d->host, id);
    if (err) {
        fail(d, id, "agent host", err);
        return;
    }
    err = ac_net_create(&d->set.net, &st->net);
    if (err) {
        fail(d, id, "net", err);
        return;
    }
    err = agentd_locks_shard_start(id, st->net);
    if (err) {
        fail(d, id, "locks", err);
        return;
    }
    err = agentd_cluster_shard_start(d->cluster, st->net, id);
    if (err) {
        fail(d, id, "cluster", err);
        return;
    }
    err = ac_agent_http_start(d->host, st->net, &d->set.tcp, &d->set.http, &st->http);
    if (err) {
        fail(d, id, "listen", err);
        return;
    }
    err = agentd_ops_shard_start(id, st->net);
    if (err) {
        fail(d, id, "admin listener", err);
        return;
    }
    /* the last shard to listen drops root (all bound now), then announces the URLs */
    if (atomic_fetch_add(&d->serving, 1) + 1 == d->nshards) {
        err = agentd_harden_drop();
        if (err) {
            fail(d, id, "dropping privileges", err);
            return;
        }
        print_urls(d);
        agentd_notify_ready(d->nshards);
    }
}

static void net_stopped(void *arg, ac_net *net)
{
    struct shard_state *st = arg;
    ac_net_destroy(net);
    st->net = NULL;
    ac_agent_host_shard_stop(st->d->host, st->id);
    ac_shard_release_stop();
}

static void cluster_stopped(void *arg)
{
    struct shard_state *st = arg;
    ac_net_stop(st->net, ac_now_ns() + 100000000ull, net_stopped, st);
}

static void http_stopped(void *arg, ac_http_server *s)
{
    struct shard_state *st = arg;
    (void)s;
    /* the cluster's Redis connections close before the net (apps/agentd/cluster.c) */
    agentd_cluster_shard_stop(st->d->cluster, st->id, cluster_stopped, st);
}

/* After the shard's locks closed (their connections use the net). */
static void shard_stop_serving(void *arg)
{
    struct shard_state *st = arg;
    struct agentd *d = st->d;
    unsigned id = st->id;
    if (st->http)
        ac_http_server_stop(st->http, ac_now_ns() + d->set.drain_ns, http_stopped, st);
    else if (st->net)
        ac_net_stop(st->net, ac_now_ns(), net_stopped, st);
    else {
        ac_agent_host_shard_stop(d->host, id);
        ac_shard_release_stop();
    }
}

static void shard_stop(void *arg, unsigned id)
{
    struct agentd *d = arg;
    struct shard_state *st = &d->shard[id];
    st->d = d;
    st->id = id;
    agentd_notify_stopping();
    ac_shard_hold_stop();
    agentd_ops_shard_stop(id, ac_now_ns() + d->set.drain_ns);
    agentd_locks_shard_stop(id, shard_stop_serving, st);
}

/* Creates the runtime; a process-wide memory_limit is split over the shard
 * count, which is known only once the runtime resolved its CPUs. */
static int runtime_create(struct agentd *d, ac_runtime **rt)
{
    /* the machine-derived defaults with the expected shard count: usually
     * right, so the runtime is not created twice */
    int err = agentd_harden_settings(&d->set, agentd_harden_shards_guess(&d->set.rt));
    if (!err)
        err = ac_runtime_create(&d->set.rt, rt);
    if (err)
        return err;
    d->nshards = ac_runtime_shard_count(*rt);
    size_t before = d->set.rt.memory_limit;
    agentd_settings_for_shards(d->conf, d->nshards, &d->set);
    err = agentd_harden_settings(&d->set, d->nshards);
    if (err || d->set.rt.memory_limit == before)
        return err;
    ac_runtime_destroy(*rt);
    return ac_runtime_create(&d->set.rt, rt);
}

int main(int argc, char **argv)
{
    static struct agentd d;
    static struct agentd_config conf;
    struct agentd_cli cli;
    ac_runtime *rt;
    int err, reserved = -1;

    agentd_ops_parse(&argc, argv);
    agentd_harden_parse(&argc, argv);
    err = agentd_startup(argc, argv, &conf, &cli);
    if (err >= 0) {
        agentd_config_close(&conf);
        return err;
    }
    agentd_malloc_tune();
    d.conf = &conf;
    d.cluster = &conf.cluster;
    agentd_ops_configure(&conf);
    d.quiet = cli.quiet;
    agentd_settings_from_config(&conf, &d.set);
    if (agentd_locks_configure(&conf.lock) != 0)
        return 2; /* it said why */
    if (d.set.tcp.port == 0) {
        /* the kernel picks once, here; every shard joins that port */
        reserved = ac_tcp_reserve_port(d.set.tcp.host, &d.set.tcp.port);
        if (reserved < 0) {
            fprintf(stderr, "agentd: %s: %s\n", d.set.tcp.host, ac_strerror(reserved));
            return 1;
        }
    }
    if (agentd_cluster_create(&conf.cluster, d.set.tcp.host, d.set.tcp.port) != 0)
        return 1;
    d.set.host.cluster = conf.cluster.cluster;
    d.set.rt.on_shard_start = shard_start;
    d.set.rt.on_shard_stop = shard_stop;
    d.set.rt.hook_arg = &d;
    err = runtime_create(&d, &rt);
    if (err) {
        fprintf(stderr, "agentd: %s\n", ac_strerror(err));
        return 1;
    }
    if (!d.quiet)
        agentd_capabilities_line(ac_runtime_backend(rt));
    if (d.nshards > MAX_SHARDS) {
        fprintf(stderr, "agentd: at most %d shards\n", MAX_SHARDS);
        ac_runtime_destroy(rt);
        return 1;
    }
    err = ac_agent_host_create(&d.set.host, &d.host);
    if (!err)
        err = ac_agent_register_builtins(d.host);
    if (!err)
        err = agentd_locks_register(d.host, d.nshards);
    if (err) {
        fprintf(stderr, "agentd: agents: %s\n", ac_strerror(err));
        return 1;
    }
    err = agentd_ops_create(rt, d.host);
    if (err) {
        fprintf(stderr, "agentd: admin listener: %s\n", ac_strerror(err));
        return 1;
    }
    err = ac_runtime_run(rt);
    if (reserved >= 0)
        close(reserved);
    /* every shard has stopped: no answer can reach an exchange any more */
    for (unsigned i = 0; i < d.nshards; i++)
        if (d.shard[i].http)
            ac_http_server_destroy(d.shard[i].http);
    agentd_ops_destroy();
    ac_runtime_destroy(rt);
    ac_agent_host_destroy(d.host);
    agentd_harden_close(&d.set);
    if (err || atomic_load(&d.failed)) {
        fprintf(stderr, "agentd: %s\n", err ? ac_strerror(err) : "start-up failed");
        return 1;
    }
    if (!d.quiet)
        fprintf(stderr, "agentd: stopped\n");
    agentd_config_close(&conf);
    return 0;
}
