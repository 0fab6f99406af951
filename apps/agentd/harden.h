/*
 * agentd's hardening flags (issue 14) and where they apply: privilege
 * drop, admission by queueing delay, session cap, connection limits and
 * the machine-derived memory budget. Kept apart from the config loader:
 * the lead maps config keys (server.user, ...) onto the same settings.
 */
#ifndef AGENTD_HARDEN_H
#define AGENTD_HARDEN_H

#include "config.h"

/*
 * Takes --user NAME, --admit-target-ms MS (0: off), --admit-interval-ms MS,
 * --session-max N, --max-conns N and --max-conns-per-shard N out of argv
 * (like agentd_ops_parse), resolving --user at once; a bad value exits 2,
 * an unknown user 1. Before the config is loaded.
 */
void agentd_harden_parse(int *argc, char **argv);

/*
 * Applies what was parsed (and the defaults derived from the machine) to
 * `s` once the shard count is known: the heap budget when none is
 * configured (half the machine's or cgroup's memory over the shards), the
 * admission, session and connection limits. Returns 0 or -ENOMEM (the
 * shared connection budget). Call again after a re-creation: idempotent.
 */
int agentd_harden_settings(struct agentd_settings *s, unsigned nshards);

/* The shards a runtime made from `rt` will have (for defaults before it exists). */
unsigned agentd_harden_shards_guess(const ac_runtime_config *rt);

/* Drops root to --user once every shard has bound (logs a warning as root
 * without one). 0 or -errno. Any shard thread, once. */
int agentd_harden_drop(void);

/* Frees the connection budget (after the runtime stopped). */
void agentd_harden_close(struct agentd_settings *s);

#endif
