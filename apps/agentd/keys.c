/*
 * The config schema: sections, their keys (with the original design's
 * aliases), each key's type and range, and where its value goes in
 * struct agentd_config. Plain keys are rows of a table; keys with a shape
 * of their own (addresses, CPU lists, weights, alert rules, Redis nodes)
 * have a reader function here. The original's keys that mean nothing here
 * are IGNORED rows: read, and warned about once each.
 */
#include "schema.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(f) offsetof(struct agentd_config, f), sizeof(((struct agentd_config *)0)->f)
#define BOOL(n, f)                                                                                 \
    {                                                                                              \
        n, T_BOOL, FIELD(f), 0, 0, NULL, NULL                                                      \
    }
#define UINT(n, f, lo, hi)                                                                         \
    {                                                                                              \
        n, T_UINT, FIELD(f), lo, hi, NULL, NULL                                                    \
    }
#define DUR(n, f, lo, hi)                                                                          \
    {                                                                                              \
        n, T_DURATION, FIELD(f), lo, hi, NULL, NULL                                                \
    }
#define SIZE(n, f, lo, hi)                                                                         \
    {                                                                                              \
        n, T_SIZE, FIELD(f), lo, hi, NULL, NULL                                                    \
    }
#define IGNORED(n, why)                                                                            \
    {                                                                                              \
        n, T_IGNORED, 0, 0, 0, 0, why, NULL                                                        \
    }
#define FN(n, fn)                                                                                  \
    {                                                                                              \
        n, T_FN, 0, 0, 0, 0, NULL, fn                                                              \
    }

static bool read_addr(struct load *ld, const yaml_node_t *v, const char *path,
                      struct agentd_addr *out, bool numeric)
{
    const char *s;
    char why[160];
    if (!yaml_in_str(&ld->in, v, path, &s))
        return false;
    if (agentd_addr_parse(s, numeric, out, why, sizeof why)) {
        yaml_in_error(&ld->in, v, 0, path, "%s", why);
        return false;
    }
    return true;
}

static bool key_listen(struct load *ld, const yaml_node_t *v, const char *path)
{
    return read_addr(ld, v, path, &ld->c->api, true);
}

static bool key_read_buffer(struct load *ld, const yaml_node_t *v, const char *path)
{
    uint64_t b;
    if (!yaml_in_size(&ld->in, v, path, 0, UINT64_MAX, &b))
        return false;
    if (b != AC_IOBUF_1K && b != AC_IOBUF_4K && b != AC_IOBUF_16K && b != AC_IOBUF_64K) {
        yaml_in_error(&ld->in, v, 0, path,
                      "receive buffers come in 1KiB, 4KiB, 16KiB or 64KiB, not '%s'",
                      (const char *)v->data.scalar.value);
        return false;
    }
    ld->c->read_buffer_size = b;
    return true;
}

static bool key_cpus(struct load *ld, const yaml_node_t *v, const char *path)
{
    const char *s;
    unsigned cpus[AC_MAX_CPUS], n;
    if (!yaml_in_str(&ld->in, v, path, &s))
        return false;
    if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && s[0] &&
        strspn(s, "0123456789") == strlen(s)) {
        /* an unquoted number is a count, as in the original (the first N
         * CPUs); a quoted one is a list: "4" is CPU 4 */
        uint64_t count;
        if (!yaml_in_uint(&ld->in, v, path, 1, AC_MAX_CPUS, &count))
            return false;
        ld->c->shards = (unsigned)count;
        ld->c->cpus[0] = '\0';
        return true;
    }
    if (strlen(s) >= sizeof ld->c->cpus || ac_cpulist_parse(s, cpus, AC_MAX_CPUS, &n)) {
        yaml_in_error(&ld->in, v, 0, path,
                      "expected a CPU count such as 4 or a CPU list such as \"0-3,6\", not '%s'",
                      s);
        return false;
    }
    snprintf(ld->c->cpus, sizeof ld->c->cpus, "%s", s);
    ld->c->shards = 0;
    return true;
}

static bool key_numa_node(struct load *ld, const yaml_node_t *v, const char *path)
{
    int64_t node;
    if (!yaml_in_int(&ld->in, v, path, -1, 1023, &node))
        return false;
    ld->c->numa_node = (int)node;
    return true;
}

static bool key_io_backend(struct load *ld, const yaml_node_t *v, const char *path)
{
    const char *s;
    if (!yaml_in_str(&ld->in, v, path, &s))
        return false;
    if (ac_ring_backend_parse(s, &ld->c->io_backend)) {
        yaml_in_error(&ld->in, v, 0, path, "expected auto, io_uring or epoll, not '%s'", s);
        return false;
    }
    return true;
}

static bool key_weights(struct load *ld, const yaml_node_t *v, const char *path)
{
    static const char *const names[AC_PRIO_COUNT] = {"high", "normal", "low"};
    char sub[96];
    bool ok = true;
    if (v->type != YAML_MAPPING_NODE) {
        yaml_in_error(&ld->in, v, 0, path,
                      "expected a mapping {high: 8, normal: 4, low: 1}, "
                      "found %s",
                      yaml_in_kind(v));
        return false;
    }
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_in_node(&ld->in, p->key), *val = yaml_in_node(&ld->in, p->value);
        const char *name = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "?";
        unsigned i = 0;
        while (i < AC_PRIO_COUNT && strcmp(name, names[i]) != 0)
            i++;
        snprintf(sub, sizeof sub, "%s.%s", path, name);
        if (i == AC_PRIO_COUNT) {
            yaml_in_error(&ld->in, k, 0, sub, "unknown class (high, normal, low)");
            ok = false;
            continue;
        }
        uint64_t w;
        if (!yaml_in_uint(&ld->in, val, sub, 1, 1000, &w))
            ok = false;
        else
            ld->c->weights[i] = (unsigned)w;
    }
    return ok;
}

static bool key_memory_limit(struct load *ld, const yaml_node_t *v, const char *path)
{
    ld->memory_limit_at = v;
    return yaml_in_size(&ld->in, v, path, 0, 1ull << 50, &ld->c->memory_limit);
}

static bool key_memory_limit_gb(struct load *ld, const yaml_node_t *v, const char *path)
{
    double gb;
    ld->memory_limit_gb_at = v;
    if (!yaml_in_double(&ld->in, v, path, 0, 1 << 20, &gb))
        return false;
    ld->c->memory_limit = (uint64_t)(gb * (1u << 30)); /* GiB, as the Go original meant */
    return true;
}

static bool key_large_object(struct load *ld, const yaml_node_t *v, const char *path)
{
    uint64_t kb;
    if (!yaml_in_uint(&ld->in, v, path, 1, 1u << 20, &kb))
        return false;
    ld->c->large_object_threshold = kb * 1024;
    yaml_in_warn(&ld->in, v, path,
                 "ignored: objects over %u KiB always get a mapping of their own "
                 "(AC_SLAB_MAX, fixed at build time); smaller ones come from per-shard slabs",
                 AC_SLAB_MAX / 1024);
    return true;
}

static bool key_metrics_port(struct load *ld, const yaml_node_t *v, const char *path)
{
    uint64_t port;
    ld->metrics_port_at = v;
    if (!yaml_in_uint(&ld->in, v, path, 0, 65535, &port))
        return false;
    ld->c->admin.port = (uint16_t)port;
    return true;
}

static bool key_admin_listen(struct load *ld, const yaml_node_t *v, const char *path)
{
    ld->admin_listen_at = v;
    return read_addr(ld, v, path, &ld->c->admin, true);
}

static bool key_pprof_port(struct load *ld, const yaml_node_t *v, const char *path)
{
    uint64_t port;
    if (!yaml_in_uint(&ld->in, v, path, 0, 65535, &port))
        return false;
    ld->pprof_port_at = v;
    ld->c->pprof_port = (uint16_t)port;
    return true;
}

static bool key_log_level(struct load *ld, const yaml_node_t *v, const char *path)
{
    const char *s;
    if (!yaml_in_str(&ld->in, v, path, &s))
        return false;
    if (ac_log_level_parse(s, &ld->c->log_level)) {
        yaml_in_error(&ld->in, v, 0, path, "expected error, warn, info or debug, not '%s'", s);
        return false;
    }
    return true;
}

static bool key_log_file(struct load *ld, const yaml_node_t *v, const char *path)
{
    const char *s;
    if (!yaml_in_str(&ld->in, v, path, &s))
        return false;
    if (strlen(s) >= sizeof ld->c->log_file) {
        yaml_in_error(&ld->in, v, 0, path, "path longer than %zu bytes",
                      sizeof ld->c->log_file - 1);
        return false;
    }
    snprintf(ld->c->log_file, sizeof ld->c->log_file, "%s", s);
    return true;
}

static bool key_lock_type(struct load *ld, const yaml_node_t *v, const char *path)
{
    const char *s;
    if (!yaml_in_str(&ld->in, v, path, &s))
        return false;
    if (strcmp(s, "redis") == 0)
        ld->c->lock.type = AGENTD_LOCK_REDIS;
    else if (strcmp(s, "redis_redlock") == 0)
        ld->c->lock.type = AGENTD_LOCK_REDLOCK;
    else {
        yaml_in_error(&ld->in, v, 0, path, "expected redis or redis_redlock, not '%s'", s);
        return false;
    }
    return true;
}

static bool key_redis_nodes(struct load *ld, const yaml_node_t *v, const char *path)
{
    char sub[96];
    bool ok = true;
    ld->nodes_at = v;
    if (v->type != YAML_SEQUENCE_NODE) {
        yaml_in_error(&ld->in, v, 0, path, "expected a list of host:port, found %s",
                      yaml_in_kind(v));
        return false;
    }
    struct agentd_lock_config *l = &ld->c->lock;
    l->nnodes = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *n = yaml_in_node(&ld->in, *it);
        snprintf(sub, sizeof sub, "%s[%u]", path, (unsigned)(it - v->data.sequence.items.start));
        if (l->nnodes == AGENTD_REDIS_NODES) {
            yaml_in_error(&ld->in, n, 0, sub, "at most %d nodes", AGENTD_REDIS_NODES);
            return false;
        }
        if (read_addr(ld, n, sub, &l->nodes[l->nnodes], false))
            l->nnodes++;
        else
            ok = false;
    }
    return ok;
}

static bool key_drift_factor(struct load *ld, const yaml_node_t *v, const char *path)
{
    return yaml_in_double(&ld->in, v, path, 0, 0.1, &ld->c->lock.drift_factor);
}

/* ---- cluster (apps/agentd/cluster.c holds the checks, shared with the flags) ---- */

/* A scalar, or for members/redis_nodes a list of scalars, joined by commas. */
static bool cluster_key(struct load *ld, const yaml_node_t *v, const char *path, int opt,
                        bool list)
{
    char text[AGENTD_MAX_LIST * 64], why[160];
    const char *s;
    if (list && v->type == YAML_SEQUENCE_NODE) {
        size_t len = 0;
        text[0] = 0;
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            yaml_node_t *n = yaml_in_node(&ld->in, *it);
            if (!yaml_in_str(&ld->in, n, path, &s))
                return false;
            int k = snprintf(text + len, sizeof text - len, "%s%s", len ? "," : "", s);
            if (k < 0 || (size_t)k >= sizeof text - len) {
                yaml_in_error(&ld->in, v, 0, path, "too many addresses");
                return false;
            }
            len += (size_t)k;
        }
        s = text;
    } else if (!yaml_in_str(&ld->in, v, path, &s)) {
        return false;
    }
    int err = agentd_cluster_set(&ld->c->cluster, opt, s, why, sizeof why);
    if (err) {
        yaml_in_error(&ld->in, v, 0, path, "%s", err == -EINVAL ? why : ac_strerror(err));
        return false;
    }
    return true;
}

static bool key_cluster_node_id(struct load *ld, const yaml_node_t *v, const char *path)
{
    return cluster_key(ld, v, path, AGENTD_OPT_CLUSTER_NODE_ID, false);
}

static bool key_cluster_advertise(struct load *ld, const yaml_node_t *v, const char *path)
{
    return cluster_key(ld, v, path, AGENTD_OPT_CLUSTER_ADVERTISE, false);
}

static bool key_cluster_members(struct load *ld, const yaml_node_t *v, const char *path)
{
    return cluster_key(ld, v, path, AGENTD_OPT_CLUSTER_MEMBERS, true);
}

static bool key_cluster_redis(struct load *ld, const yaml_node_t *v, const char *path)
{
    return cluster_key(ld, v, path, AGENTD_OPT_CLUSTER_REDIS, true);
}

static bool key_cluster_mode(struct load *ld, const yaml_node_t *v, const char *path)
{
    return cluster_key(ld, v, path, AGENTD_OPT_CLUSTER_MODE, false);
}

static bool key_cluster_store(struct load *ld, const yaml_node_t *v, const char *path)
{
    return cluster_key(ld, v, path, AGENTD_OPT_CLUSTER_STORE, false);
}

static const struct key cluster_keys[] = {
    FN("node_id", key_cluster_node_id),
    FN("advertise", key_cluster_advertise),
    FN("members", key_cluster_members),
    FN("redis_nodes", key_cluster_redis),
    FN("mode", key_cluster_mode),
    FN("session_store", key_cluster_store),
    DUR("member_ttl", cluster.cfg.member_ttl_ns, 100 * MSEC, 3600 * SEC),
    DUR("poll_interval", cluster.cfg.poll_ns, 10 * MSEC, 3600 * SEC),
    IGNORED("vnodes", "ignored: placement is rendezvous hashing, which needs no virtual nodes "
                      "(chosen by measurement: bench/RESULTS.md, Cluster)"),
};

static bool read_rule(struct load *ld, const yaml_node_t *v, const char *path,
                      struct ac_alert_rule *r);

static bool key_alert_rules(struct load *ld, const yaml_node_t *v, const char *path)
{
    char sub[96];
    bool ok = true;
    if (v->type != YAML_SEQUENCE_NODE) {
        yaml_in_error(&ld->in, v, 0, path, "expected a list of rules, found %s", yaml_in_kind(v));
        return false;
    }
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    struct ac_alert_rule *rules = calloc(n ? n : 1, sizeof *rules);
    if (!rules) {
        yaml_in_error(&ld->in, v, 0, path, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_in_node(&ld->in, v->data.sequence.items.start[i]);
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        if (!read_rule(ld, item, sub, &rules[i]))
            ok = false;
        for (size_t j = 0; ok && j < i; j++)
            if (strcmp(rules[j].name, rules[i].name) == 0) {
                yaml_in_error(&ld->in, item, 0, sub, "a rule named '%s' comes earlier",
                              rules[i].name);
                ok = false;
            }
    }
    free(ld->c->rules);
    ld->c->rules = rules;
    ld->c->nrules = ok ? (unsigned)n : 0;
    return ok;
}

static bool key_user(struct load *ld, const yaml_node_t *v, const char *path)
{
    const char *s;
    if (!yaml_in_str(&ld->in, v, path, &s))
        return false;
    /* the portable user name set (POSIX 3.437); resolved at start, not here,
     * so that --check-config works on another machine */
    if (!s[0] || s[0] == '-' || strlen(s) >= sizeof ld->c->user ||
        strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
            strlen(s)) {
        yaml_in_error(&ld->in, v, 0, path, "expected a user name such as agentd, not '%s'", s);
        return false;
    }
    snprintf(ld->c->user, sizeof ld->c->user, "%s", s);
    return true;
}

static const struct key server_keys[] = {
    FN("listen", key_listen),
    UINT("max_concurrent_requests", max_concurrent_requests, 0, 100000000),
    DUR("request_timeout", request_timeout_ns, MSEC, 3600 * SEC),
    DUR("keep_alive_timeout", keep_alive_timeout_ns, MSEC, 3600 * SEC),
    FN("read_buffer_size", key_read_buffer),
    SIZE("write_buffer_size", write_buffer_size, 4096, 1ull << 30),
    SIZE("max_body", max_body, 1, 1ull << 30),
    DUR("shutdown_timeout", shutdown_timeout_ns, 0, 600 * SEC),
    FN("user", key_user),
    UINT("max_connections", max_connections, 0, UINT32_MAX),
    UINT("max_connections_per_shard", max_connections_per_shard, 1, UINT32_MAX),
    SIZE("max_buffered", max_buffered, 4096, 1ull << 30),
};

static const struct key scheduler_keys[] = {
    FN("cpus", key_cpus),
    FN("numa_node", key_numa_node),
    UINT("queue_size", queue_size, 1, 1u << 24),
    BOOL("enable_work_stealing", work_stealing),
    BOOL("enable_priority", priority),
    FN("weights", key_weights),
    FN("io_backend", key_io_backend),
    DUR("admission_target", admission_target_ns, 0, 60 * SEC),
    DUR("admission_interval", admission_interval_ns, MSEC, 60 * SEC),
    IGNORED("max_workers", "ignored: agentd runs one shard (thread) per CPU and no worker pool; "
                           "size it with cpus"),
    IGNORED("min_workers", "ignored: agentd runs one shard (thread) per CPU and no worker pool; "
                           "shards are never started or stopped on demand"),
    IGNORED("worker_idle_timeout", "ignored: agentd runs one shard (thread) per CPU and no worker "
                                   "pool; idle shards sleep in io_uring, none is retired"),
};

static const struct key memory_keys[] = {
    FN("memory_limit", key_memory_limit),
    FN("memory_limit_gb", key_memory_limit_gb),
    FN("large_object_threshold_kb", key_large_object),
    BOOL("hugepages", hugepages),
    BOOL("zero_copy", zero_copy),
    DUR("idle_release", idle_release_ns, MSEC, 3600 * SEC),
    UINT("session_max", session_max, 1, UINT32_MAX),
    IGNORED("gc_percent", "ignored: agentcore has no garbage collector; memory is freed when it "
                          "is released, and memory_limit caps it"),
};

static const struct key monitoring_keys[] = {
    FN("metrics_port", key_metrics_port), FN("admin_listen", key_admin_listen),
    BOOL("pprof_enabled", pprof_enabled), FN("pprof_port", key_pprof_port),
    FN("alert_rules", key_alert_rules),
};

static const struct key logging_keys[] = {
    FN("level", key_log_level),
    FN("file", key_log_file),
};

static const struct key lock_keys[] = {
    FN("type", key_lock_type),
    FN("redis_nodes", key_redis_nodes),
    DUR("lock_timeout", lock.lock_timeout_ns, MSEC, 3600 * SEC),
    UINT("retry_count", lock.retry_count, 0, 1000),
    DUR("retry_delay", lock.retry_delay_ns, 0, 60 * SEC),
    FN("drift_factor", key_drift_factor),
};

static bool read_rule(struct load *ld, const yaml_node_t *v, const char *path,
                      struct ac_alert_rule *r)
{
    static const char *const names[] = {"name", "condition", "duration", "severity"};
    const yaml_node_t *at[AC_ARRAY_LEN(names)] = {0};
    char sub[128];
    bool ok;
    if (v->type != YAML_MAPPING_NODE) {
        yaml_in_error(&ld->in, v, 0, path,
                      "expected a rule {name, condition, duration, severity}, found %s",
                      yaml_in_kind(v));
        return false;
    }
    ok = cfg_keys_unique(ld, v, path);
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_in_node(&ld->in, p->key);
        const char *name = cfg_scalar(kn);
        size_t i = 0;
        while (name && i < AC_ARRAY_LEN(names) && strcmp(name, names[i]) != 0)
            i++;
        snprintf(sub, sizeof sub, "%s.%s", path, name ? name : "?");
        if (!name || i == AC_ARRAY_LEN(names)) {
            cfg_unknown(ld, kn, sub, "key", names, AC_ARRAY_LEN(names), sizeof names[0]);
            ok = false;
            continue;
        }
        at[i] = yaml_in_node(&ld->in, p->value);
    }
    if (!ok)
        return false;
    for (int i = 0; i < 2; i++)
        if (!at[i]) {
            yaml_in_error(&ld->in, v, 0, path, "a rule needs a %s", names[i]);
            return false;
        }
    const char *name, *cond, *sev_text;
    uint64_t duration = 0;
    enum ac_alert_severity sev = AC_ALERT_WARNING;
    struct ac_alert_error err;
    snprintf(sub, sizeof sub, "%s.name", path);
    ok = yaml_in_str(&ld->in, at[0], sub, &name);
    snprintf(sub, sizeof sub, "%s.condition", path);
    ok = yaml_in_str(&ld->in, at[1], sub, &cond) && ok;
    snprintf(sub, sizeof sub, "%s.duration", path);
    if (at[2])
        ok = yaml_in_duration(&ld->in, at[2], sub, 0, 24 * 3600 * SEC, &duration) && ok;
    snprintf(sub, sizeof sub, "%s.severity", path);
    if (at[3] && yaml_in_str(&ld->in, at[3], sub, &sev_text) &&
        ac_alert_severity_parse(sev_text, &sev)) {
        yaml_in_error(&ld->in, at[3], 0, sub, "expected info, warning or critical, not '%s'",
                      sev_text);
        ok = false;
    }
    if (!ok)
        return false;
    if (ac_alert_rule_init(r, name, cond, duration, sev, &err)) {
        const yaml_node_t *n = err.in_name ? at[0] : at[1];
        snprintf(sub, sizeof sub, "%s.%s", path, err.in_name ? "name" : "condition");
        yaml_in_error(&ld->in, n, yaml_in_scalar_col(n, err.offset), sub, "%s", err.msg);
        return false;
    }
    return true;
}

const struct section cfg_sections[CFG_NSECTIONS] = {
    {"server", NULL, server_keys, AC_ARRAY_LEN(server_keys)},
    {"scheduler", "goroutine_pool", scheduler_keys, AC_ARRAY_LEN(scheduler_keys)},
    {"memory", "memory_optimization", memory_keys, AC_ARRAY_LEN(memory_keys)},
    {"monitoring", NULL, monitoring_keys, AC_ARRAY_LEN(monitoring_keys)},
    {"logging", NULL, logging_keys, AC_ARRAY_LEN(logging_keys)},
    {"distributed_lock", NULL, lock_keys, AC_ARRAY_LEN(lock_keys)},
    {"cluster", NULL, cluster_keys, AC_ARRAY_LEN(cluster_keys)},
};
