/* The rules file writer: exact text for the original design's rules. */
#include "agentcore/alert.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test(alert_prometheus, writes_promql_for_and_labels)
{
    struct ac_alert_rule r[2];
    struct ac_alert_error err;
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(ac_alert_rule_init(&r[0], "QPSDrop", "qps < 0.7 * baseline", 60000000000ull,
                                    AC_ALERT_CRITICAL, &err),
                 0);
    cr_assert_eq(ac_alert_rule_init(&r[1], "HighLatency", "p99_latency > 10ms", 30000000000ull,
                                    AC_ALERT_WARNING, &err),
                 0);
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(ac_alert_rules_write_prometheus(r, 2, 0, f), 0);
    fclose(f);
    cr_assert_not_null(strstr(text, "groups:\n  - name: agentcore\n    rules:\n"), "%s", text);
    cr_assert_not_null(strstr(text,
                              "      - alert: QPSDrop\n"
                              "        expr: 'sum(rate(agentcore_requests_total[1m])) < 0.7 * "
                              "avg_over_time((sum(rate(agentcore_requests_total[1m])))[10m:])'\n"
                              "        for: 1m\n"
                              "        labels:\n          severity: critical\n"
                              "        annotations:\n          summary: 'qps < 0.7 * baseline'\n"),
                       "%s", text);
    cr_assert_not_null(strstr(text, "expr: 'histogram_quantile(0.99, sum by (le) "
                                    "(rate(agentcore_request_duration_seconds_bucket[1m]))) "
                                    "> 0.01'\n        for: 30s\n"),
                       "%s", text);
    free(text);
}

Test(alert_prometheus, no_rules_is_an_empty_group)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(ac_alert_rules_write_prometheus(NULL, 0, 0, f), 0);
    fclose(f);
    cr_assert_not_null(strstr(text, "    rules: []\n"), "%s", text);
    free(text);
}
