/*
 * agentd: the agent daemon. One shard per CPU; each shard has its own
 * SO_REUSEPORT listener on the same port and serves every route
 * (include/agentcore/agent.h) with the built-in agents.
 *
 *   agentd [--port N] [--host A] [--cpus LIST] [--request-timeout-ms MS]
 *          [--idle-timeout-ms MS] [--drain-ms MS] [--max-body B]
 *          [--agent-timeout-ms MS] [--queue-size N] [--memory-limit MIB] [--quiet]
 *
 * --port 0 lets the kernel pick (the chosen port is printed). On start it
 * prints one line per URL on stdout ("agentd: listening on http://...").
 * SIGINT/SIGTERM stop it gracefully: listeners close first, answers
 * already requested go out until the drain deadline, then connections
 * close and the shards stop.
 */
#include "agentcore.h"
#include "cluster.h"
#include "locks.h"

#include <errno.h>
#include <getopt.h>
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
    struct ac_net_config net_cfg;
    struct ac_tcp_server_config tcp_cfg;
    struct ac_http_server_config http_cfg;
    uint64_t drain_ns;
    uint64_t agent_timeout_ns; /* deadline of the built-in agents (0: 30 s) */
    bool quiet;
    struct agentd_cluster cluster; /* apps/agentd/cluster.c */
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
    const char *h = d->tcp_cfg.host;
    bool v6 = strchr(h, ':') != NULL;
    char base[128];
    snprintf(base, sizeof base, "http://%s%s%s:%u", v6 ? "[" : "", h, v6 ? "]" : "",
             d->tcp_cfg.port);
    printf("agentd: listening on %s (%u shards)\n", base, d->nshards);
    if (!d->quiet) {
        printf("  GET  %s/healthz\n  GET  %s/readyz\n  GET  %s/v1/agents\n", base, base, base);
        printf("  POST %s/v1/agents/{echo,sleep,compute,stream,session-counter,"
               "exclusive-counter}/invoke\n",
               base);
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
    err = ac_net_create(&d->net_cfg, &st->net);
    if (err) {
        fail(d, id, "net", err);
        return;
    }
    err = agentd_locks_shard_start(id, st->net);
    if (err) {
        fail(d, id, "locks", err);
        return;
    }
    err = agentd_cluster_shard_start(&d->cluster, st->net, id);
    if (err) {
        fail(d, id, "cluster", err);
        return;
    }
    err = ac_agent_http_start(d->host, st->net, &d->tcp_cfg, &d->http_cfg, &st->http);
    if (err) {
        fail(d, id, "listen", err);
        return;
    }
    /* the last shard to listen announces the URLs */
    if (atomic_fetch_add(&d->serving, 1) + 1 == d->nshards)
        print_urls(d);
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
    agentd_cluster_shard_stop(&st->d->cluster, st->id, cluster_stopped, st);
}

/* After the shard's locks closed (their connections use the net). */
static void shard_stop_serving(void *arg)
{
    struct shard_state *st = arg;
    struct agentd *d = st->d;
    unsigned id = st->id;
    if (st->http)
        ac_http_server_stop(st->http, ac_now_ns() + d->drain_ns, http_stopped, st);
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
    ac_shard_hold_stop();
    agentd_locks_shard_stop(id, shard_stop_serving, st);
}

static void usage(void)
{
    fprintf(
        stderr,
        "usage: agentd [--port N (8080; 0: any)] [--host A (127.0.0.1)] [--cpus LIST]\n"
        "              [--request-timeout-ms MS (10000)] [--idle-timeout-ms MS (60000)]\n"
        "              [--drain-ms MS (5000)] [--max-body BYTES (1048576)]\n"
        "              [--agent-timeout-ms MS (30000)] [--queue-size N (4096 per class)]\n"
        "              [--memory-limit MIB (per shard; 0: none)] [--quiet]\n" AGENTD_LOCK_USAGE
            AGENTD_CLUSTER_USAGE);
    exit(2);
}

static unsigned long long num(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || !*s)
        usage();
    return v;
}

int main(int argc, char **argv)
{
    static struct agentd d;
    static const struct option opts[] = {{"port", required_argument, 0, 'p'},
                                         {"host", required_argument, 0, 'H'},
                                         {"cpus", required_argument, 0, 'c'},
                                         {"request-timeout-ms", required_argument, 0, 'r'},
                                         {"idle-timeout-ms", required_argument, 0, 'i'},
                                         {"drain-ms", required_argument, 0, 'd'},
                                         {"max-body", required_argument, 0, 'b'},
                                         {"agent-timeout-ms", required_argument, 0, 't'},
                                         {"queue-size", required_argument, 0, 'Q'},
                                         {"memory-limit", required_argument, 0, 'm'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         AGENTD_LOCK_OPTIONS,
                                         AGENTD_CLUSTER_OPTIONS,
                                         {0, 0, 0, 0}};
    ac_runtime_config cfg;
    ac_runtime *rt;
    int o, err, reserved = -1;
    unsigned long long port = 8080;

    ac_runtime_config_init(&cfg);
    agentd_locks_init();
    ac_net_config_init(&d.net_cfg);
    ac_http_server_config_init(&d.http_cfg);
    d.tcp_cfg = (struct ac_tcp_server_config){.host = "127.0.0.1"};
    d.drain_ns = 5000000000ull;
    agentd_cluster_init(&d.cluster);
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'p':
            port = num(optarg);
            if (port > 65535)
                usage();
            break;
        case 'H':
            d.tcp_cfg.host = optarg;
            break;
        case 'c':
            cfg.cpus = optarg;
            break;
        case 'r':
            d.http_cfg.request_timeout_ns = num(optarg) * 1000000ull;
            break;
        case 'i':
            d.http_cfg.idle_timeout_ns = num(optarg) * 1000000ull;
            break;
        case 'd':
            d.drain_ns = num(optarg) * 1000000ull;
            break;
        case 'b':
            d.http_cfg.limits.max_body = num(optarg);
            break;
        case 't':
            d.agent_timeout_ns = num(optarg) * 1000000ull;
            break;
        case 'Q':
            cfg.sched_queue_size = (unsigned)num(optarg);
            break;
        case 'm':
            cfg.memory_limit = (size_t)num(optarg) << 20;
            break;
        case 'q':
            d.quiet = true;
            break;
        default:
            err = agentd_locks_option(o, optarg);
            if (err < 0 || (err == 0 && agentd_cluster_flag(&d.cluster, o, optarg) != 0))
                usage();
        }
    }
    if (!d.http_cfg.request_timeout_ns || !d.http_cfg.limits.max_body)
        usage();
    d.tcp_cfg.port = (uint16_t)port;
    if (port == 0) {
        /* the kernel picks once, here; every shard joins that port */
        reserved = ac_tcp_reserve_port(d.tcp_cfg.host, &d.tcp_cfg.port);
        if (reserved < 0) {
            fprintf(stderr, "agentd: %s: %s\n", d.tcp_cfg.host, ac_strerror(reserved));
            return 1;
        }
    }
    if (agentd_cluster_create(&d.cluster, d.tcp_cfg.host, d.tcp_cfg.port) != 0)
        return 1;
    cfg.on_shard_start = shard_start;
    cfg.on_shard_stop = shard_stop;
    cfg.hook_arg = &d;
    /* in-flight answers get drain_ns, then the net its own 100 ms */
    cfg.stop_timeout_ns = d.drain_ns + 1000000000ull;
    err = ac_runtime_create(&cfg, &rt);
    if (err) {
        fprintf(stderr, "agentd: %s\n", ac_strerror(err));
        return 1;
    }
    d.nshards = ac_runtime_shard_count(rt);
    if (d.nshards > MAX_SHARDS) {
        fprintf(stderr, "agentd: at most %d shards\n", MAX_SHARDS);
        ac_runtime_destroy(rt);
        return 1;
    }
    err = ac_agent_host_create(
        &(struct ac_agent_host_config){.shards = d.nshards,
                                       .timeout_ns = d.agent_timeout_ns,
                                       .cluster = d.cluster.cluster},
        &d.host);
    if (!err)
        err = ac_agent_register_builtins(d.host);
    if (!err)
        err = agentd_locks_register(d.host, d.nshards);
    if (err) {
        fprintf(stderr, "agentd: agents: %s\n", ac_strerror(err));
        return 1;
    }
    err = ac_runtime_run(rt);
    if (reserved >= 0)
        close(reserved);
    /* every shard has stopped: no answer can reach an exchange any more */
    for (unsigned i = 0; i < d.nshards; i++)
        if (d.shard[i].http)
            ac_http_server_destroy(d.shard[i].http);
    ac_runtime_destroy(rt);
    ac_agent_host_destroy(d.host);
    agentd_cluster_destroy(&d.cluster);
    if (err || atomic_load(&d.failed)) {
        fprintf(stderr, "agentd: %s\n", err ? ac_strerror(err) : "start-up failed");
        return 1;
    }
    if (!d.quiet)
        fprintf(stderr, "agentd: stopped\n");
    return 0;
}
