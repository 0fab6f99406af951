/*
 * Loading a config file: defaults, the walk over libyaml's document
 * (sections, keys, duplicates, unknown names; the schema is in keys.c),
 * and the checks that span several keys. Everything not in the schema is
 * an error.
 */
#include "schema.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void agentd_config_init(struct agentd_config *c)
{
    *c = (struct agentd_config){
        .api = {"127.0.0.1", 8080},
        .request_timeout_ns = 30 * SEC,
        .http_request_timeout_ns = 10 * SEC,
        .keep_alive_timeout_ns = 60 * SEC,
        .read_buffer_size = AC_IOBUF_16K,
        .write_buffer_size = 1u << 20,
        .max_body = 1u << 20,
        .shutdown_timeout_ns = 5 * SEC,
        .max_connections_per_shard = 16384,
        .max_buffered = 4u << 20,
        .numa_node = -1,
        .queue_size = 4096,
        .work_stealing = true,
        .priority = true,
        .weights = {8, 4, 1},
        .admission_target_ns = 5 * MSEC,
        .admission_interval_ns = 100 * MSEC,
        .large_object_threshold = AC_SLAB_MAX,
        .zero_copy = true,
        .idle_release_ns = 5 * SEC,
        .session_max = 65536,
        .admin = {"127.0.0.1", 9090},
        .pprof_enabled = true,
        .log_level = AC_LOG_INFO,
        .lock = {.lock_timeout_ns = 30 * SEC,
                 .retry_count = 3,
                 .retry_delay_ns = 200 * MSEC,
                 .drift_factor = 0.01},
    };
    agentd_cluster_init(&c->cluster);
    /* the environment's level stays the default, as for every agentcore program */
    const char *env = getenv("AC_LOG_LEVEL");
    enum ac_log_level l;
    if (env && ac_log_level_parse(env, &l) == 0)
        c->log_level = l;
}

void agentd_config_close(struct agentd_config *c)
{
    free(c->rules);
    c->rules = NULL;
    c->nrules = 0;
    agentd_cluster_destroy(&c->cluster);
}

/* ------------------------------------------------------------ walker -- */

const char *cfg_scalar(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Reports a key that appears twice in `map`; true when none does. */
bool cfg_keys_unique(struct load *ld, const yaml_node_t *map, const char *prefix)
{
    bool ok = true;
    char path[96];
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            const char *a = cfg_scalar(yaml_in_node(&ld->in, p->key));
            const char *b = cfg_scalar(yaml_in_node(&ld->in, q->key));
            if (a && b && strcmp(a, b) == 0) {
                snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", a);
                yaml_in_error(&ld->in, yaml_in_node(&ld->in, p->key), 0, path,
                              "appears twice (first at line %zu)",
                              yaml_in_node(&ld->in, q->key)->start_mark.line + 1);
                ok = false;
            }
        }
    return ok;
}

static bool store_uint(void *field, size_t width, uint64_t v)
{
    switch (width) {
    case sizeof(uint16_t):
        *(uint16_t *)field = (uint16_t)v;
        return true;
    case sizeof(unsigned):
        *(unsigned *)field = (unsigned)v;
        return true;
    case sizeof(uint64_t):
        *(uint64_t *)field = v;
        return true;
    }
    AC_PANIC("config field of width %zu", width);
}

static bool read_key(struct load *ld, const struct key *k, const yaml_node_t *v, const char *path)
{
    void *field = (char *)ld->c + k->off;
    uint64_t u;
    switch (k->type) {
    case T_BOOL:
        return yaml_in_bool(&ld->in, v, path, field);
    case T_UINT:
        return yaml_in_uint(&ld->in, v, path, k->min, k->max, &u) && store_uint(field, k->width, u);
    case T_DURATION:
        return yaml_in_duration(&ld->in, v, path, k->min, k->max, field);
    case T_SIZE:
        return yaml_in_size(&ld->in, v, path, k->min, k->max, field);
    case T_IGNORED:
        yaml_in_warn(&ld->in, v, path, "%s", k->why);
        return true;
    case T_FN:
        return k->fn(ld, v, path);
    }
    AC_PANIC("bad key type %d", (int)k->type);
}

void cfg_unknown(struct load *ld, const yaml_node_t *at, const char *path, const char *what,
                 const char *const *names, size_t n, size_t stride)
{
    char known[512];
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof known; i++)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
                                *(const char *const *)((const char *)names + i * stride));
    yaml_in_error(&ld->in, at, 0, path, "unknown %s (known: %s)", what, known);
}

static bool read_section(struct load *ld, const struct section *sec, const char *written,
                         const yaml_node_t *map)
{
    char path[96];
    bool ok;
    if (map->type == YAML_SCALAR_NODE && cfg_scalar(map)[0] == '\0' &&
        map->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        return true; /* "section:" with nothing under it */
    if (map->type != YAML_MAPPING_NODE) {
        yaml_in_error(&ld->in, map, 0, written, "expected a mapping of keys, found %s",
                      yaml_in_kind(map));
        return false;
    }
    ok = cfg_keys_unique(ld, map, written);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_in_node(&ld->in, p->key), *v = yaml_in_node(&ld->in, p->value);
        const char *name = cfg_scalar(kn);
        snprintf(path, sizeof path, "%s.%s", written, name ? name : "?");
        size_t i = 0;
        while (name && i < sec->nkeys && strcmp(name, sec->keys[i].name) != 0)
            i++;
        if (!name || i == sec->nkeys) {
            cfg_unknown(ld, kn, path, "key", &sec->keys[0].name, sec->nkeys, sizeof sec->keys[0]);
            ok = false;
            continue;
        }
        if (!read_key(ld, &sec->keys[i], v, path))
            ok = false;
    }
    return ok;
}

/* Checks across keys, once everything is read. */
static bool cross_checks(struct load *ld)
{
    struct agentd_config *c = ld->c;
    bool ok = true;
    if (ld->memory_limit_at && ld->memory_limit_gb_at) {
        yaml_in_error(&ld->in, ld->memory_limit_gb_at, 0, "memory.memory_limit_gb",
                      "set memory_limit or memory_limit_gb, not both");
        ok = false;
    }
    if (ld->metrics_port_at && ld->admin_listen_at) {
        yaml_in_error(&ld->in, ld->metrics_port_at, 0, "monitoring.metrics_port",
                      "set admin_listen (host:port) or metrics_port, not both");
        ok = false;
    }
    if (ld->pprof_port_at && c->pprof_port && c->pprof_port != c->admin.port)
        yaml_in_warn(&ld->in, ld->pprof_port_at, "monitoring.pprof_port",
                     "ignored: pprof is served on the admin listener (port %u), not on a "
                     "listener of its own",
                     c->admin.port);
    if (ld->lock_at) {
        struct agentd_lock_config *l = &c->lock;
        const char *type = l->type == AGENTD_LOCK_REDIS ? "redis" : "redis_redlock";
        const yaml_node_t *at = ld->nodes_at ? ld->nodes_at : ld->lock_at;
        l->configured = true;
        if (!ld->nodes_at) {
            yaml_in_error(&ld->in, at, 0, "distributed_lock.redis_nodes",
                          "required: the Redis node(s) to lock on");
            ok = false;
        } else if (l->type == AGENTD_LOCK_REDIS && l->nnodes != 1) {
            yaml_in_error(&ld->in, at, 0, "distributed_lock.redis_nodes",
                          "type redis locks on one node, %u given (several: redis_redlock)",
                          l->nnodes);
            ok = false;
        } else if (l->type == AGENTD_LOCK_REDLOCK && l->nnodes < 3) {
            yaml_in_error(&ld->in, at, 0, "distributed_lock.redis_nodes",
                          "type %s needs at least 3 independent nodes for a majority, %u given",
                          type, l->nnodes);
            ok = false;
        }
    }
    return ok;
}

int agentd_config_load(struct agentd_config *c, const char *path, FILE *diag)
{
    struct load ld = {.c = c};
    int err = yaml_in_open(&ld.in, path, diag);
    if (err)
        return err;
    yaml_node_t *root = yaml_in_root(&ld.in);
    bool ok = true;
    const yaml_node_t *seen[CFG_NSECTIONS] = {0};
    if (!root)
        goto out_close; /* an empty file: the defaults */
    if (root->type != YAML_MAPPING_NODE) {
        yaml_in_error(&ld.in, root, 0, "(top)", "expected a mapping of sections, found %s",
                      yaml_in_kind(root));
        ok = false;
        goto out_close;
    }
    ok = cfg_keys_unique(&ld, root, "");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = yaml_in_node(&ld.in, p->key), *v = yaml_in_node(&ld.in, p->value);
        const char *name = cfg_scalar(kn);
        size_t i = 0;
        while (name && i < CFG_NSECTIONS && strcmp(name, cfg_sections[i].name) != 0 &&
               !(cfg_sections[i].alias && strcmp(name, cfg_sections[i].alias) == 0))
            i++;
        if (!name || i == CFG_NSECTIONS) {
            cfg_unknown(&ld, kn, name ? name : "?", "section", &cfg_sections[0].name, CFG_NSECTIONS,
                        sizeof cfg_sections[0]);
            ok = false;
            continue;
        }
        if (seen[i]) {
            yaml_in_error(&ld.in, kn, 0, name, "the same section as '%s' (line %zu)",
                          cfg_scalar(seen[i]), seen[i]->start_mark.line + 1);
            ok = false;
            continue;
        }
        seen[i] = kn;
        if (strcmp(cfg_sections[i].name, "distributed_lock") == 0)
            ld.lock_at = kn;
        if (!read_section(&ld, &cfg_sections[i], name, v))
            ok = false;
    }
    if (ok)
        ok = cross_checks(&ld);
out_close:
    yaml_in_close(&ld.in);
    return ok && !ld.in.errors ? 0 : -EINVAL;
}
