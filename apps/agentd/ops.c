/* agentd's admin listener and metrics (ops.h). */
#include "ops.h"
#include "alerts.h"
#include "locks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    const char *host;
    unsigned long port;
    bool no_metrics;
    bool host_given; /* --admin-host wins over the config file */
    ac_metrics *metrics;
    ac_admin *admin;
    const struct agentd_config *conf;
    struct agentd_alerts *alerts;
    char url[96];
} ops = {.host = "127.0.0.1", .port = 9090};

static void bad(const char *opt, const char *val)
{
    fprintf(stderr, "agentd: %s: bad value '%s'\n", opt, val ? val : "");
    exit(2);
}

void agentd_ops_parse(int *argc, char **argv)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *val = NULL;
        size_t n = strcspn(a, "=");
        bool has_eq = a[n] == '=';
        if (strcmp(a, "--") == 0) { /* the rest is not options */
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(a, "--no-metrics") == 0) {
            ops.no_metrics = true;
            continue;
        }
        if (strncmp(a, "--admin-host", n) == 0 && n == 12) {
            val = has_eq ? a + n + 1 : (i + 1 < *argc ? argv[++i] : NULL);
            if (!val || !*val)
                bad("--admin-host", val);
            ops.host = val;
            ops.host_given = true;
            continue;
        }
        argv[out++] = argv[i];
    }
    argv[out] = NULL;
    *argc = out;
}

void agentd_ops_configure(const struct agentd_config *c)
{
    ops.conf = c;
    ops.port = c->admin.port; /* --admin-port is the config's flag (cli.c) */
    if (!ops.host_given)
        ops.host = c->admin.host;
}

int agentd_ops_create(ac_runtime *rt, ac_agent_host *host)
{
    struct ac_admin_config cfg;
    int err;
    if (!ops.no_metrics) {
        err = ac_metrics_create(rt, &ops.metrics);
        if (!err)
            err = ac_metrics_add_builtins(ops.metrics);
        if (!err)
            err = ac_agent_host_metrics(host, ops.metrics);
        if (err)
            return err;
    }
    ac_admin_config_init(&cfg);
    cfg.host = ops.host;
    cfg.port = (uint16_t)ops.port;
    cfg.metrics = ops.metrics;
    err = ac_admin_create(rt, &cfg, &ops.admin);
    if (!err && ops.conf->pprof_enabled)
        err = ac_admin_pprof_enable(ops.admin);
    if (!err)
        err = agentd_locks_ops(rt, ops.metrics, ops.admin);
    /* alert rules read the metrics: without them there is nothing to evaluate */
    if (!err && ops.metrics)
        err = agentd_alerts_create(ops.conf->rules, ops.conf->nrules, ops.metrics, ops.admin,
                                   &ops.alerts);
    if (err)
        return err;
    bool v6 = strchr(ops.host, ':') != NULL;
    snprintf(ops.url, sizeof ops.url, "http://%s%s%s:%u", v6 ? "[" : "", ops.host, v6 ? "]" : "",
             ac_admin_port(ops.admin));
    return 0;
}

const char *agentd_ops_url(void)
{
    return ops.url;
}

void agentd_ops_print_routes(void)
{
    const char *b = ops.url;
    if (ops.metrics)
        printf("  GET  %s/dashboard\n  GET  %s/metrics\n  GET  %s/metrics.json\n"
               "  GET  %s/alerts\n  GET  %s/debug/shards\n",
               b, b, b, b, b);
    else
        printf("  (metrics off: --no-metrics)\n");
    if (ops.conf->pprof_enabled)
        printf("  GET  %s/debug/pprof/profile?seconds=30\n", b);
    printf("  GET  %s/debug/locks\n", b);
    printf("  GET  %s/debug/pprof/heap\n  GET  %s/healthz\n  GET  %s/ (every admin route)\n", b, b,
           b);
}

int agentd_ops_shard_start(unsigned shard, ac_net *net)
{
    int err = ac_admin_shard_start(ops.admin, shard, net);
    if (!err && ops.alerts)
        err = agentd_alerts_shard_start(ops.alerts, shard);
    return err;
}

void agentd_ops_shard_stop(unsigned shard, uint64_t deadline_ns)
{
    if (ops.alerts)
        agentd_alerts_shard_stop(ops.alerts, shard);
    if (ops.admin)
        ac_admin_shard_stop(ops.admin, shard, deadline_ns);
}

void agentd_ops_destroy(void)
{
    agentd_alerts_destroy(ops.alerts);
    ops.alerts = NULL;
    ac_admin_destroy(ops.admin);
    ac_metrics_destroy(ops.metrics);
    ops.admin = NULL;
    ops.metrics = NULL;
}
