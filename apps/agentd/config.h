/*
 * agentd's configuration: the embedded defaults, the YAML file
 * (--config), the command-line flags on top, and how each value maps onto
 * the runtime, network, HTTP and agent-host settings. The reference for
 * every key is configs/agentd.yaml; docs/CONFIG.md says what maps where.
 *
 * Ownership: a config is a plain value owned by its caller; strings are
 * held in fixed arrays inside it (no allocation), except `rules`, which
 * agentd_config_close frees.
 */
#ifndef AGENTD_CONFIG_H
#define AGENTD_CONFIG_H

#include "agentcore.h"
#include "cluster.h"

#include <stdio.h>

#define AGENTD_HOST_MAX    64 /* numeric IPv4/IPv6 address, NUL included */
#define AGENTD_REDIS_NODES 16

/* A listen or connect address. */
struct agentd_addr {
    char host[AGENTD_HOST_MAX];
    uint16_t port;
};

enum agentd_lock_type { AGENTD_LOCK_REDIS, AGENTD_LOCK_REDLOCK };

/* distributed_lock: read and validated here, used by the lock service. */
struct agentd_lock_config {
    bool configured; /* the section is present */
    enum agentd_lock_type type;
    struct agentd_addr nodes[AGENTD_REDIS_NODES]; /* host may be a name here */
    unsigned nnodes;
    uint64_t lock_timeout_ns; /* lease of a lock (default 30 s) */
    unsigned retry_count;     /* attempts after the first (default 3) */
    uint64_t retry_delay_ns;  /* between attempts (default 200 ms) */
    double drift_factor;      /* clock drift allowance, Redlock (default 0.01) */
    uint64_t node_timeout_ns; /* one request to one node (flag only; 0: dlock.h's 50 ms) */
};

struct agentd_config {
    /* server */
    struct agentd_addr api;           /* listen */
    unsigned max_concurrent_requests; /* all shards; 0: unlimited */
    uint64_t request_timeout_ns;      /* agent deadline (504 after) */
    uint64_t http_request_timeout_ns; /* whole request received (408 after); flag only */
    uint64_t keep_alive_timeout_ns;   /* idle keep-alive connections */
    uint64_t read_buffer_size;        /* provided receive buffer size */
    uint64_t write_buffer_size;       /* queued output that pauses reading */
    uint64_t max_body;                /* request body limit (413 above) */
    uint64_t shutdown_timeout_ns;     /* drain on SIGTERM */
    char user[64];                    /* drop root to this user; "": none (--user) */
    unsigned max_connections;         /* all shards; 0: open-file limit - 256 (--max-conns) */
    unsigned max_connections_per_shard; /* --max-conns-per-shard */
    uint64_t max_buffered;            /* bytes per connection each way, then closed */

    /* scheduler (goroutine_pool) */
    char cpus[256];      /* CPU list; "": not set */
    unsigned shards;     /* cpus given as a count; 0: one per CPU */
    int numa_node;       /* -1: not set */
    unsigned queue_size; /* tasks per class per shard */
    bool work_stealing;
    bool priority; /* false: classes share equally (1:1:1) */
    unsigned weights[AC_PRIO_COUNT];
    enum ac_ring_backend io_backend; /* auto (0), io_uring or epoll */
    uint64_t admission_target_ns;    /* queueing delay target; 0: admission off */
    uint64_t admission_interval_ns;  /* above the target this long: shed */

    /* memory (memory_optimization) */
    uint64_t memory_limit;           /* whole process, split over shards; 0: none */
    uint64_t memory_limit_per_shard; /* --memory-limit (MiB per shard) wins when set */
    uint64_t large_object_threshold; /* checked; fixed at AC_SLAB_MAX (warning) */
    bool hugepages;
    bool zero_copy;
    uint64_t idle_release_ns;
    unsigned session_max; /* sessions per shard, then LRU eviction (--session-max) */

    /* monitoring */
    struct agentd_addr admin; /* admin listener (metrics, dashboard, pprof) */
    bool pprof_enabled;
    uint16_t pprof_port;         /* 0: the admin port */
    struct ac_alert_rule *rules; /* alert_rules (malloc'd) */
    unsigned nrules;

    /* logging */
    enum ac_log_level log_level;
    char log_file[256]; /* "": stderr */

    struct agentd_lock_config lock;

    /* cluster: several agentd nodes (apps/agentd/cluster.h; flags --cluster-*) */
    struct agentd_cluster cluster;
};

/* Fills `c` with the embedded defaults (API 127.0.0.1:8080, admin :9090). */
void agentd_config_init(struct agentd_config *c);

/* Frees what the config holds (alert rules). */
void agentd_config_close(struct agentd_config *c);

/*
 * Reads the YAML file `path` over `c`. Errors and warnings go to `diag`,
 * one line each: "FILE:LINE:COL: key 'x.y': why" (warnings say
 * "warning: " after the position). Returns 0 (warnings allowed) or -EINVAL
 * (at least one error; `c` may be partly changed) or -errno when the file
 * cannot be read.
 */
int agentd_config_load(struct agentd_config *c, const char *path, FILE *diag);

/* Writes the effective config as YAML in the layout of configs/agentd.yaml. */
void agentd_config_print(const struct agentd_config *c, FILE *out);

/*
 * Parses "host:port", "[v6]:port" or ":port" (all IPv4 addresses). With
 * `numeric`, the host must be a numeric address (agentd resolves no names
 * for its listeners). Returns 0, or -EINVAL with the reason in why[cap].
 */
int agentd_addr_parse(const char *text, bool numeric, struct agentd_addr *out, char *why,
                      size_t cap);

/* The settings the libraries take, from `c`, for `nshards` shards. */
struct agentd_settings {
    ac_runtime_config rt;
    struct ac_net_config net;
    struct ac_tcp_server_config tcp;
    struct ac_http_server_config http;
    struct ac_agent_host_config host;
    uint64_t drain_ns;
    unsigned max_conns_total; /* the shared connection budget; 0: the machine's default */
};

/* Fills `s` from `c`; rt and tcp keep pointers into `c` (keep it alive). */
void agentd_settings_from_config(const struct agentd_config *c, struct agentd_settings *s);

/* The parts that depend on the shard count (memory split, in-flight cap). */
void agentd_settings_for_shards(const struct agentd_config *c, unsigned nshards,
                                struct agentd_settings *s);

#endif
