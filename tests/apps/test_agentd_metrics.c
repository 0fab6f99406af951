/*
 * agentd's admin listener as a real process: /metrics accepted by
 * promtool with no warning, counters that move by exact amounts, a stall
 * named after the agent that caused it, /metrics.json, admin routes kept
 * off the API port, --no-metrics, and scrapes while wrk loads the API.
 * Bodies larger than the curl helper's buffer go through files in a
 * temporary directory.
 */
#include "apps/agentd_proc.h"
#include "runtime/metrics/prom_text.h"

#include "agentcore/base.h"

#include <jansson.h>

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/ac_agentd_metrics_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(apps_agentd_metrics, .init = setup, .fini = teardown, .timeout = 120);

/* GETs admin `path` into dir/name; returns the HTTP status. */
static int fetch(const struct agentd *d, const char *path, const char *name)
{
    char cmd[512], out[64];
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 10 -o '%s/%s' -w '%%{http_code}' 'http://127.0.0.1:%u%s'", dir,
             name, d->admin_port, path);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    pclose(f);
    return atoi(out);
}

static char *slurp(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    return b;
}

/* Scrapes /metrics into dir/name and returns its text (caller frees). */
static char *scrape(const struct agentd *d, const char *name)
{
    cr_assert_eq(fetch(d, "/metrics", name), 200);
    return slurp(name);
}

/* promtool check metrics on dir/name: exit status and everything it printed. */
static int promtool(const char *name, char *out, size_t cap)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s/%s' 2>&1", dir, name);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    return WEXITSTATUS(pclose(f));
}

#define ECHO  "/v1/agents/echo/invoke"
#define POST1 "-X POST -d '{\"input\":1}'"

Test(apps_agentd_metrics, metrics_pass_promtool_and_move_by_exact_counts)
{
    struct agentd d;
    char out[4096];
    agentd_start(&d, NULL);
    cr_assert_gt(d.admin_port, 0, "no admin URL on the first line");
    char *m0 = scrape(&d, "m0");
    for (int i = 0; i < 5; i++)
        cr_assert_eq(curl(&d, POST1, ECHO, NULL, 0), 200);
    cr_assert_eq(curl(&d, "-X POST -d '{'", ECHO, NULL, 0), 400);
    char *m1 = scrape(&d, "m1");
    cr_assert_eq(promtool("m1", out, sizeof out), 0, "promtool: %s", out);
    cr_assert_eq(out[0], 0, "promtool printed: %s", out);
    const char *ok = "agentcore_requests_total{agent=\"echo\",status=\"200\"";
    const char *bad = "agentcore_requests_total{agent=\"echo\",status=\"400\"";
    const char *cnt = "agentcore_request_duration_seconds_count{agent=\"echo\"";
    const char *svc = "agentcore_request_service_seconds_count{agent=\"echo\"";
    cr_assert_eq(prom_sum(m1, ok) - prom_sum(m0, ok), 5);
    cr_assert_eq(prom_sum(m1, bad) - prom_sum(m0, bad), 1);
    cr_assert_eq(prom_sum(m1, cnt) - prom_sum(m0, cnt), 5);
    cr_assert_eq(prom_sum(m1, svc) - prom_sum(m0, svc), 5);
    /* the names the alert rules use are there */
    const char *names[] = {"# TYPE agentcore_requests_total counter",
                           "# TYPE agentcore_request_duration_seconds histogram",
                           "# TYPE agentcore_memory_bytes gauge",
                           "# TYPE process_resident_memory_bytes gauge"};
    for (unsigned i = 0; i < AC_ARRAY_LEN(names); i++)
        cr_assert_not_null(strstr(m1, names[i]), "missing %s", names[i]);
    free(m0);
    free(m1);
    cr_assert_eq(agentd_stop(&d), 0);
}

Test(apps_agentd_metrics, a_stall_is_counted_under_the_agent_that_caused_it)
{
    struct agentd d;
    agentd_start(&d, NULL);
    char *m0 = scrape(&d, "m0");
    /* 30 M iterations: ~90 ms of one task here, far over the 10 ms threshold */
    cr_assert_eq(curl(&d, "-X POST -d '{\"input\":30000000}'", "/v1/agents/compute/invoke", NULL, 0),
                 200);
    char *m1 = scrape(&d, "m1");
    const char *st = "agentcore_stalls_total{callback=\"compute\"";
    cr_assert_eq(prom_sum(m1, st) - prom_sum(m0, st), 1, "%s", strstr(m1, "agentcore_stalls_total"));
    cr_assert_eq(prom_sum(m1, "agentcore_stall_duration_seconds_count{callback=\"compute\""), 1);
    free(m0);
    free(m1);
    cr_assert_eq(agentd_stop(&d), 0);
}

Test(apps_agentd_metrics, metrics_json_is_valid_with_the_documented_fields)
{
    struct agentd d;
    json_error_t e;
    agentd_start(&d, NULL);
    cr_assert_eq(curl(&d, POST1, ECHO, NULL, 0), 200);
    cr_assert_eq(fetch(&d, "/metrics.json", "j"), 200);
    char *text = slurp("j");
    json_t *root = json_loads(text, 0, &e);
    cr_assert_not_null(root, "invalid JSON: %s", e.text);
    const char *top[] = {"version", "time", "uptime_seconds", "shard_count", "shards",
                         "totals",  "agents", "latency_seconds", "process", "metrics"};
    for (unsigned i = 0; i < AC_ARRAY_LEN(top); i++)
        cr_assert_not_null(json_object_get(root, top[i]), "no \"%s\"", top[i]);
    json_t *echo = json_object_get(json_object_get(root, "agents"), "echo");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(echo, "requests"), "200")), 1);
    cr_assert_gt(json_real_value(json_object_get(json_object_get(root, "process"),
                                                 "resident_memory_bytes")),
                 0);
    json_decref(root);
    free(text);
    cr_assert_eq(agentd_stop(&d), 0);
}

Test(apps_agentd_metrics, admin_routes_exist_only_on_the_admin_port)
{
    struct agentd d;
    agentd_start(&d, NULL);
    const char *paths[] = {"/metrics", "/metrics.json", "/debug/shards", "/debug/pprof/heap"};
    for (unsigned i = 0; i < AC_ARRAY_LEN(paths); i++) {
        cr_assert_eq(curl(&d, "", paths[i], NULL, 0), 404, "%s on the API port", paths[i]);
        cr_assert_eq(fetch(&d, paths[i], "x"), 200, "%s on the admin port", paths[i]);
    }
    cr_assert_eq(curl_port(d.admin_port, "", "/v1/agents", NULL, 0), 404);
    cr_assert_eq(agentd_stop(&d), 0);
}

Test(apps_agentd_metrics, no_metrics_keeps_the_admin_listener_without_metrics)
{
    static const char *const extra[] = {"--no-metrics", NULL};
    struct agentd d;
    agentd_start(&d, extra);
    cr_assert_eq(fetch(&d, "/metrics", "x"), 404);
    cr_assert_eq(fetch(&d, "/healthz", "x"), 200);
    cr_assert_eq(curl(&d, POST1, ECHO, NULL, 0), 200);
    cr_assert_eq(agentd_stop(&d), 0);
}

Test(apps_agentd_metrics, scrapes_during_load_all_answer)
{
    struct agentd d;
    char cmd[512], out[4096];
    if (system("command -v wrk > /dev/null") != 0)
        cr_skip_test("wrk is not installed");
    agentd_start(&d, NULL);
    /* load for 3 s (wrk's own duration; timeout bounds it anyway) */
    snprintf(cmd, sizeof cmd, "timeout 10 wrk -t1 -c16 -d3s 'http://127.0.0.1:%u/healthz' 2>&1",
             d.port);
    FILE *wrk = popen(cmd, "r");
    cr_assert_not_null(wrk);
    for (int i = 0; i < 15; i++) {
        cr_assert_eq(fetch(&d, i % 3 == 0 ? "/metrics.json" : "/metrics", "m"), 200, "scrape %d", i);
        usleep(100000);
    }
    cr_assert_eq(promtool("m", out, sizeof out), 0, "%s", out);
    char *m = slurp("m");
    cr_assert_gt(prom_sum(m, "agentcore_http_requests_total"), 1);
    free(m);
    /* wrk ends by itself (pclose waits for it); then agentd still serves */
    size_t n = fread(out, 1, sizeof out - 1, wrk);
    out[n] = 0;
    cr_assert_eq(WEXITSTATUS(pclose(wrk)), 0, "wrk: %s", out);
    cr_assert_not_null(strstr(out, "Requests/sec"), "wrk: %s", out);
    cr_assert_eq(curl(&d, "", "/healthz", NULL, 0), 200);
    cr_assert_eq(agentd_stop(&d), 0);
}
