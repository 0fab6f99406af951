/*
 * --print-config: the effective config (defaults, file, flags) as YAML in
 * the layout of configs/agentd.yaml, under the canonical section names.
 * What it prints loads back to the same config.
 */
#include "config.h"

#include <string.h>

static const char *dur(uint64_t ns, char *buf)
{
    ac_duration_format(ns, buf, 32);
    return buf;
}

static const char *size(uint64_t b, char *buf)
{
    ac_size_format(b, buf, 32);
    return buf;
}

static const char *yes(bool b)
{
    return b ? "true" : "false";
}

/* "host:port", bracketing IPv6 */
static const char *addr(const struct agentd_addr *a, char *buf)
{
    bool v6 = strchr(a->host, ':') != NULL;
    snprintf(buf, 96, "%s%s%s:%u", v6 ? "[" : "", a->host, v6 ? "]" : "", a->port);
    return buf;
}

static void print_rules(const struct agentd_config *c, FILE *f)
{
    char b[32];
    if (!c->nrules) {
        fprintf(f, "  alert_rules: []\n");
        return;
    }
    fprintf(f, "  alert_rules:\n");
    for (unsigned i = 0; i < c->nrules; i++) {
        const struct ac_alert_rule *r = &c->rules[i];
        fprintf(f,
                "    - name: %s\n      condition: \"%s\"\n      duration: %s\n"
                "      severity: %s\n",
                r->name, r->condition, dur(r->duration_ns, b), ac_alert_severity_name(r->severity));
    }
}

static void print_lock(const struct agentd_lock_config *l, FILE *f)
{
    char b[32], a[96];
    if (!l->configured) {
        fprintf(f, "# distributed_lock: not configured\n");
        return;
    }
    fprintf(f, "distributed_lock:\n  type: %s\n  redis_nodes:\n",
            l->type == AGENTD_LOCK_REDIS ? "redis" : "redis_redlock");
    for (unsigned i = 0; i < l->nnodes; i++)
        fprintf(f, "    - \"%s\"\n", addr(&l->nodes[i], a));
    fprintf(f, "  lock_timeout: %s\n", dur(l->lock_timeout_ns, b));
    fprintf(f, "  retry_count: %u\n", l->retry_count);
    fprintf(f, "  retry_delay: %s\n", dur(l->retry_delay_ns, b));
    fprintf(f, "  drift_factor: %g\n", l->drift_factor);
}

static void print_cluster(const struct agentd_cluster *cl, FILE *f)
{
    char b[32];
    const struct ac_cluster_config *k = &cl->cfg;
    if (!cl->enabled && !k->nmembers && !k->nredis) {
        fprintf(f, "# cluster: not configured (a single node)\n");
        return;
    }
    fprintf(f, "cluster:\n");
    if (cl->node_id[0])
        fprintf(f, "  node_id: \"%s\"\n", cl->node_id);
    if (cl->advertise[0])
        fprintf(f, "  advertise: \"%s\"\n", cl->advertise);
    for (unsigned i = 0; i < k->nmembers; i++)
        fprintf(f, "%s\"%s\"%s", i ? ", " : "  members: [", cl->members[i],
                i + 1 == k->nmembers ? "]\n" : "");
    for (unsigned i = 0; i < k->nredis; i++)
        fprintf(f, "%s\"%s\"%s", i ? ", " : "  redis_nodes: [", cl->redis[i],
                i + 1 == k->nredis ? "]\n" : "");
    fprintf(f, "  mode: %s\n", k->mode == AC_CLUSTER_REDIRECT ? "redirect" : "proxy");
    fprintf(f, "  session_store: %s\n", k->store == AC_CLUSTER_STORE_REDIS ? "redis" : "memory");
    fprintf(f, "  member_ttl: %s\n", dur(k->member_ttl_ns, b));
    fprintf(f, "  poll_interval: %s\n", dur(k->poll_ns, b));
}

void agentd_config_print(const struct agentd_config *c, FILE *f)
{
    char b[32], a[96];
    fprintf(f, "server:\n");
    fprintf(f, "  listen: \"%s\"\n", addr(&c->api, a));
    fprintf(f, "  max_concurrent_requests: %u\n", c->max_concurrent_requests);
    fprintf(f, "  request_timeout: %s\n", dur(c->request_timeout_ns, b));
    fprintf(f, "  keep_alive_timeout: %s\n", dur(c->keep_alive_timeout_ns, b));
    fprintf(f, "  read_buffer_size: %s\n", size(c->read_buffer_size, b));
    fprintf(f, "  write_buffer_size: %s\n", size(c->write_buffer_size, b));
    fprintf(f, "  max_body: %s\n", size(c->max_body, b));
    fprintf(f, "  shutdown_timeout: %s\n", dur(c->shutdown_timeout_ns, b));
    if (c->user[0])
        fprintf(f, "  user: \"%s\"\n", c->user);
    else
        fprintf(f, "  # user: none, agentd keeps the user it was started as\n");
    fprintf(f, "  max_connections: %u%s\n", c->max_connections,
            c->max_connections ? "" : "  # the open-file limit - 256");
    fprintf(f, "  max_connections_per_shard: %u\n", c->max_connections_per_shard);
    fprintf(f, "  max_buffered: %s\n", size(c->max_buffered, b));
    if (c->http_request_timeout_ns != 10000000000ull)
        fprintf(f, "  # --request-timeout-ms: whole request within %s\n",
                dur(c->http_request_timeout_ns, b));

    fprintf(f, "scheduler:\n");
    if (c->cpus[0])
        fprintf(f, "  cpus: \"%s\"\n", c->cpus);
    else if (c->shards)
        fprintf(f, "  cpus: %u\n", c->shards);
    else
        fprintf(f, "  # cpus: every CPU of the process' affinity mask\n");
    fprintf(f, "  numa_node: %d\n", c->numa_node);
    fprintf(f, "  queue_size: %u\n", c->queue_size);
    fprintf(f, "  enable_work_stealing: %s\n", yes(c->work_stealing));
    fprintf(f, "  enable_priority: %s\n", yes(c->priority));
    fprintf(f, "  weights: {high: %u, normal: %u, low: %u}\n", c->weights[AC_PRIO_HIGH],
            c->weights[AC_PRIO_NORMAL], c->weights[AC_PRIO_LOW]);
    fprintf(f, "  io_backend: %s\n", ac_ring_backend_name(c->io_backend));
    fprintf(f, "  admission_target: %s\n",
            c->admission_target_ns ? dur(c->admission_target_ns, b) : "0  # off");
    fprintf(f, "  admission_interval: %s\n", dur(c->admission_interval_ns, b));

    fprintf(f, "memory:\n");
    fprintf(f, "  memory_limit: %s\n", c->memory_limit ? size(c->memory_limit, b) : "0");
    if (c->memory_limit_per_shard)
        fprintf(f, "  # --memory-limit: %s per shard (wins over memory_limit)\n",
                size(c->memory_limit_per_shard, b));
    fprintf(f, "  hugepages: %s\n", yes(c->hugepages));
    fprintf(f, "  zero_copy: %s\n", yes(c->zero_copy));
    fprintf(f, "  idle_release: %s\n", dur(c->idle_release_ns, b));
    fprintf(f, "  session_max: %u\n", c->session_max);

    fprintf(f, "monitoring:\n");
    fprintf(f, "  admin_listen: \"%s\"\n", addr(&c->admin, a));
    fprintf(f, "  pprof_enabled: %s\n", yes(c->pprof_enabled));
    print_rules(c, f);

    fprintf(f, "logging:\n");
    fprintf(f, "  level: %s\n", ac_log_level_name(c->log_level));
    if (c->log_file[0])
        fprintf(f, "  file: \"%s\"\n", c->log_file);
    else
        fprintf(f, "  # file: none, the log goes to stderr\n");

    print_lock(&c->lock, f);
    print_cluster(&c->cluster, f);
}
