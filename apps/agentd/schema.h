/*
 * Private to the config loader: the schema's types (config.c walks the
 * YAML, keys.c holds the sections, keys and their readers).
 */
#ifndef AGENTD_SCHEMA_H
#define AGENTD_SCHEMA_H

#include "config.h"
#include "yaml_read.h"

#define SEC  1000000000ull
#define MSEC 1000000ull

/* One load in progress: what later checks across keys need to know. */
struct load {
    struct yaml_in in;
    struct agentd_config *c;
    const yaml_node_t *memory_limit_at, *memory_limit_gb_at; /* either, not both */
    const yaml_node_t *metrics_port_at, *admin_listen_at;
    const yaml_node_t *pprof_port_at;
    const yaml_node_t *lock_at, *nodes_at;
};

struct key;
typedef bool (*key_fn)(struct load *ld, const yaml_node_t *v, const char *path);

enum key_type { T_BOOL, T_UINT, T_DURATION, T_SIZE, T_IGNORED, T_FN };

struct key {
    const char *name;
    enum key_type type;
    size_t off, width; /* the field in struct agentd_config */
    uint64_t min, max;
    const char *why; /* T_IGNORED: the warning */
    key_fn fn;       /* T_FN */
};

struct section {
    const char *name, *alias;
    const struct key *keys;
    size_t nkeys;
};

#define CFG_NSECTIONS 7
extern const struct section cfg_sections[CFG_NSECTIONS];

/* The walker's helpers, shared with the readers of nested keys. */
const char *cfg_scalar(const yaml_node_t *n);
bool cfg_keys_unique(struct load *ld, const yaml_node_t *map, const char *prefix);
void cfg_unknown(struct load *ld, const yaml_node_t *at, const char *path, const char *what,
                 const char *const *names, size_t n, size_t stride);

#endif
