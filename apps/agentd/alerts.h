/*
 * agentd's alert rules at run time: the rules of monitoring.alert_rules
 * evaluated once a second against a sample taken from the metrics (QPS,
 * p50/p99, error rate, memory and its growth, queue length over the last
 * second), transitions logged by the engine, the state served as
 * GET /alerts (JSON, any shard) and exported as the gauge
 * agentcore_alert_firing{name="..."}.
 *
 * Threads: shard 0 owns the engine and its one-second timer; it publishes
 * each rule's state, since and value in single-writer atomics that any
 * shard reads for /alerts and the metrics collector (a reader may see one
 * rule's fields from two neighbouring seconds; never a torn value).
 */
#ifndef AGENTD_ALERTS_H
#define AGENTD_ALERTS_H

#include "agentcore.h"

struct agentd_alerts;

/*
 * Copies the rules, registers the gauge collector with `m` and the route
 * GET /alerts with `admin`. Before the runtime runs. Returns 0, -ENOMEM or
 * the errors of ac_admin_route. n 0 is allowed (GET /alerts then answers
 * an empty list, and nothing is evaluated). Once the rules are copied,
 * *out is set even when a registration then fails (the registry or the
 * admin may already hold it): destroy it after them, as on success.
 */
AC_MUST_USE int agentd_alerts_create(const struct ac_alert_rule *rules, unsigned n, ac_metrics *m,
                                     ac_admin *admin, struct agentd_alerts **out);

/* From on_shard_start: shard 0 creates the engine and starts the timer.
 * Returns 0 or -errno. */
AC_MUST_USE int agentd_alerts_shard_start(struct agentd_alerts *a, unsigned shard);

/* From on_shard_stop: shard 0 stops the timer and frees the engine. */
void agentd_alerts_shard_stop(struct agentd_alerts *a, unsigned shard);

/*
 * The JSON of GET /alerts, malloc'ed (caller frees): {"alerts":[{"name",
 * "condition", "metric", "severity", "duration_seconds", "state", "since", "value",
 * "threshold"}], "evaluated": N}. Any thread. Returns 0 or -ENOMEM.
 */
AC_MUST_USE int agentd_alerts_json(const struct agentd_alerts *a, char **out, size_t *len);

/* After the runtime stopped. */
void agentd_alerts_destroy(struct agentd_alerts *a);

#endif
