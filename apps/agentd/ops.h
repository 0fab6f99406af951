/*
 * agentd's operations side: the admin listener with /metrics and the
 * debug routes (agentcore/admin.h). Kept apart from main.c so the CLI
 * can change without touching it. Process-level state, written on the
 * main thread before the runtime runs and read-only afterwards.
 *
 *   --admin-host A   its address (default: the config's, 127.0.0.1)
 *   --no-metrics     no metrics collection on the request path, no /metrics
 */
#ifndef AGENTD_OPS_H
#define AGENTD_OPS_H

#include "agentcore.h"
#include "config.h"

/*
 * Takes the options above out of argv (argc updated) before main's
 * getopt sees the rest. Exits with status 2 on a malformed value.
 */
void agentd_ops_parse(int *argc, char **argv);

/*
 * Takes the admin listener's address from the config (monitoring's
 * admin_listen/metrics_port, and --admin-port, which the config's flags
 * parse: 0 lets the kernel pick); --admin-host wins over its host. After
 * the config is loaded; `c` must outlive the admin listener.
 */
void agentd_ops_configure(const struct agentd_config *c);

/* After the runtime and the agent host exist: creates the admin listener. 0 or -errno. */
AC_MUST_USE int agentd_ops_create(ac_runtime *rt, ac_agent_host *host);

/* The admin listener's base URL ("http://127.0.0.1:9090"), once created. */
const char *agentd_ops_url(void);

/* Prints the admin routes, one per line (no flush). */
void agentd_ops_print_routes(void);

/* From on_shard_start, once the shard's net exists. 0 or -errno. */
AC_MUST_USE int agentd_ops_shard_start(unsigned shard, ac_net *net);

/* From on_shard_stop, before the shard's net stops. */
void agentd_ops_shard_stop(unsigned shard, uint64_t deadline_ns);

/* After ac_runtime_run returned. */
void agentd_ops_destroy(void);

#endif
