/*
 * agentd's alert rules at run time (apps/agentd/alerts.c), end to end: a
 * p99 rule from the config fires while the built-in sleep agent answers
 * slowly, shows up in GET /alerts, in the agentcore_alert_firing gauge
 * (which promtool still accepts) and in the log, and resolves once the
 * load stops. Every wait polls observable state with a deadline.
 */
#include "apps/agentd_proc.h"

#define PROMTOOL "/usr/bin/promtool"

static char body[1 << 21];

/* Polls GET /alerts until `want` appears in it; false after `ms`. */
static bool wait_alerts(uint16_t admin, const char *want, unsigned ms)
{
    for (uint64_t end = ap_now_ms() + ms; ap_now_ms() < end; usleep(100000)) {
        cr_assert_eq(curl_port(admin, "", "/alerts", body, sizeof body), 200);
        if (strstr(body, want))
            return true;
    }
    return false;
}

/* The gauge's value for `name` in /metrics (-1 if absent); with promtool
 * installed, the page must pass `promtool check metrics`. */
static int firing_gauge(uint16_t admin, const char *name)
{
    char key[128], cmd[256];
    cr_assert_eq(curl_port(admin, "", "/metrics", body, sizeof body), 200);
    if (access(PROMTOOL, X_OK) == 0) {
        snprintf(cmd, sizeof cmd, "%s check metrics > /dev/null 2>&1", PROMTOOL);
        FILE *f = popen(cmd, "w");
        cr_assert_not_null(f);
        fputs(body, f);
        cr_assert_eq(pclose(f), 0, "promtool check metrics refused /metrics");
    }
    snprintf(key, sizeof key, "agentcore_alert_firing{name=\"%s\"} ", name);
    const char *p = strstr(body, key);
    return p ? atoi(p + strlen(key)) : -1;
}

Test(apps_agentd_alerts, p99_rule_fires_under_slow_calls_and_resolves_after, .timeout = 90)
{
    static char logtext[1 << 16];
    char cfg[64], logf[64];
    snprintf(cfg, sizeof cfg, "alerts.%d.yaml", (int)getpid());
    snprintf(logf, sizeof logf, "alerts.%d.log", (int)getpid());
    FILE *f = fopen(cfg, "w");
    cr_assert_not_null(f);
    fputs("monitoring:\n"
          "  alert_rules:\n"
          "    - name: slow_p99\n"
          "      condition: p99_latency > 10ms\n"
          "      duration: 1s\n"
          "      severity: critical\n",
          f);
    fclose(f);
    const char *const extra[] = {"--config", cfg, NULL};
    struct agentd d;
    struct ap_load load[4];
    agentd_start_logged(&d, extra, logf);

    cr_assert(wait_alerts(d.admin_port, "\"name\":\"slow_p99\"", 5000), "%s", body);
    cr_assert_not_null(strstr(body, "\"condition\":\"p99_latency > 10ms\""), "%s", body);
    cr_assert_null(strstr(body, "\"state\":\"firing\""), "firing before any load: %s", body);
    cr_assert_eq(firing_gauge(d.admin_port, "slow_p99"), 0);

    /* 30 ms calls on four connections: every request is over 10 ms */
    for (int i = 0; i < 4; i++) {
        load[i] = (struct ap_load){.port = d.port,
                                   .path = "/v1/agents/sleep/invoke",
                                   .body = "{\"input\":{\"ms\":30}}",
                                   .max_ms = 40000,
                                   .max_requests = 2000};
        ap_load_start(&load[i]);
    }
    cr_assert(wait_alerts(d.admin_port, "\"state\":\"firing\"", 20000), "never fired: %s", body);
    cr_assert_eq(firing_gauge(d.admin_port, "slow_p99"), 1);
    for (int i = 0; i < 4; i++) {
        ap_load_stop(&load[i]);
        cr_assert_gt(atomic_load(&load[i].ok), 0);
    }

    cr_assert(wait_alerts(d.admin_port, "\"state\":\"resolved\"", 20000), "never resolved: %s",
              body);
    cr_assert_eq(firing_gauge(d.admin_port, "slow_p99"), 0);
    ap_read_file(logf, logtext, sizeof logtext);
    cr_assert_not_null(strstr(logtext, "alert slow_p99 firing"), "no firing line in: %s", logtext);
    cr_assert_not_null(strstr(logtext, "alert slow_p99 resolved"), "no resolved line in: %s",
                       logtext);
    cr_assert_eq(agentd_stop(&d), 0);
    unlink(cfg);
    unlink(logf);
}
