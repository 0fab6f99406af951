/*
 * The metrics registry on a real two-shard runtime: per-shard collectors
 * run on their own shard, the scrape renders Prometheus text and JSON
 * with the shard label, a shard that does not answer in time is left out
 * (and its late answer is harmless), and the built-in collectors cover
 * every shard and the process.
 */
#include "runtime/helpers.h"

#include <jansson.h>
#include <stdlib.h>

#define SHARDS 2

static const struct ac_metric_desc things = {"test_things_total", "Things counted.",
                                             AC_METRIC_COUNTER};
static const struct ac_metric_desc waits = {"test_wait_seconds", "Waits.", AC_METRIC_HISTOGRAM};
static const struct ac_metric_desc level = {"test_level", "A process level.", AC_METRIC_GAUGE};

static struct {
    ac_metrics *m;
    uint64_t timeout_ns;
    bool builtins;
    bool block_shard1; /* shard 1 sleeps through the scrape */
    unsigned ran_on[SHARDS];
    char *text, *json;
    unsigned missing;
} T;

static void per_shard(void *arg, ac_metrics_sink *s)
{
    unsigned shard = ac_metrics_sink_shard(s);
    struct ac_hist h = {0};
    (void)arg;
    cr_assert_eq(shard, ac_shard_id(), "a per-shard collector runs on its shard");
    T.ran_on[shard]++;
    ac_metrics_emit(s, &things, shard + 1, "kind=\"%s\"", "a");
    ac_hist_record(&h, 1000u * (shard + 1));
    ac_metrics_emit_hist(s, &waits, &h, "kind=\"%s\"", "a");
}

static void process(void *arg, ac_metrics_sink *s)
{
    (void)arg;
    cr_assert_eq(ac_metrics_sink_shard(s), AC_SHARD_NONE);
    ac_metrics_emit(s, &level, 7, NULL);
}

static void scraped(void *arg, ac_metrics_scrape *sc)
{
    size_t len;
    (void)arg;
    T.missing = ac_metrics_scrape_missing(sc);
    cr_assert_eq(ac_metrics_render_prometheus(sc, &T.text, &len), 0);
    cr_assert_eq(strlen(T.text), len);
    cr_assert_eq(ac_metrics_render_json(sc, &T.json, &len), 0);
    ac_metrics_scrape_free(sc);
    ac_runtime_stop(ac_runtime_current());
}

static void block(void *arg)
{
    (void)arg;
    usleep(300000); /* longer than the scrape's timeout */
}

static void start(void *arg, unsigned shard)
{
    (void)arg;
    if (shard != 0)
        return;
    if (T.block_shard1)
        cr_assert_eq(ac_submit_to(1, block, NULL), 0);
    cr_assert_eq(ac_metrics_scrape_start(T.m, T.timeout_ns, scraped, NULL), 0);
}

static unsigned stop_scrapes; /* callbacks run for scrapes started at stop */

static void stop_scraped(void *arg, ac_metrics_scrape *sc)
{
    (void)arg;
    stop_scrapes++;
    ac_metrics_scrape_free(sc);
}

/* Shard 0 starts a scrape as the runtime stops, while shard 1 is busy. */
static void scrape_at_stop(void *arg, unsigned shard)
{
    (void)arg;
    if (shard == 0)
        cr_assert_eq(ac_metrics_scrape_start(T.m, 10000000000ull, stop_scraped, NULL), 0);
}

static void block_then_stop(void *arg, unsigned shard)
{
    (void)arg;
    if (shard != 0)
        return;
    cr_assert_eq(ac_submit_to(1, block, NULL), 0);
    ac_runtime_stop(ac_runtime_current());
}

static void run_scrape(void)
{
    ac_runtime_config cfg;
    ac_runtime *rt;
    test_config(&cfg);
    cfg.shards = SHARDS;
    cfg.oversubscribe = true;
    cfg.on_shard_start = start;
    cr_assert_eq(ac_runtime_create(&cfg, &rt), 0);
    cr_assert_eq(ac_metrics_create(rt, &T.m), 0);
    cr_assert_eq(ac_metrics_collector_add(T.m, AC_METRICS_PER_SHARD, per_shard, NULL), 0);
    cr_assert_eq(ac_metrics_collector_add(T.m, AC_METRICS_PROCESS, process, NULL), 0);
    if (T.builtins)
        cr_assert_eq(ac_metrics_add_builtins(T.m), 0);
    test_run(rt);
    ac_runtime_destroy(rt);
    ac_metrics_destroy(T.m);
}

static void fini(void)
{
    free(T.text);
    free(T.json);
    memset(&T, 0, sizeof T);
}

TestSuite(runtime_metrics, .fini = fini);

Test(runtime_metrics, scrape_renders_every_shard_with_help_type_and_shard_label)
{
    T.timeout_ns = 10000000000ull;
    run_scrape();
    cr_assert_eq(T.missing, 0);
    cr_assert_eq(T.ran_on[0], 1);
    cr_assert_eq(T.ran_on[1], 1);
    const char *want[] = {
        "# HELP test_things_total Things counted.\n# TYPE test_things_total counter\n"
        "test_things_total{kind=\"a\",shard=\"0\"} 1\ntest_things_total{kind=\"a\",shard=\"1\"} 2\n",
        "# TYPE test_wait_seconds histogram\n",
        "test_wait_seconds_bucket{kind=\"a\",shard=\"0\",le=\"1.024e-06\"} 1\n",
        "test_wait_seconds_bucket{kind=\"a\",shard=\"1\",le=\"1.024e-06\"} 0\n",
        "test_wait_seconds_bucket{kind=\"a\",shard=\"1\",le=\"2.048e-06\"} 1\n",
        "test_wait_seconds_bucket{kind=\"a\",shard=\"1\",le=\"+Inf\"} 1\n",
        "test_wait_seconds_sum{kind=\"a\",shard=\"1\"} 2e-06\n",
        "test_wait_seconds_count{kind=\"a\",shard=\"1\"} 1\n",
        "# TYPE test_level gauge\ntest_level 7\n",
    };
    for (unsigned i = 0; i < AC_ARRAY_LEN(want); i++)
        cr_assert_not_null(strstr(T.text, want[i]), "missing:\n%s\nin:\n%s", want[i], T.text);
    /* one HELP per family even with samples from two shards */
    cr_assert_null(strstr(strstr(T.text, "# HELP test_things_total") + 1, "# HELP test_things"));

    json_error_t e;
    json_t *root = json_loads(T.json, 0, &e);
    cr_assert_not_null(root, "invalid JSON: %s", e.text);
    cr_assert_eq(json_integer_value(json_object_get(root, "shard_count")), SHARDS);
    json_t *list = json_object_get(json_object_get(root, "metrics"), "test_things_total");
    cr_assert_eq(json_array_size(list), 2);
    cr_assert_eq(json_real_value(json_object_get(json_array_get(list, 1), "value")), 2.0);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_array_get(list, 1), "labels"), "shard")),
                     "1");
    json_decref(root);
}

Test(runtime_metrics, a_shard_that_misses_the_timeout_is_left_out)
{
    T.timeout_ns = 50000000ull; /* 50 ms; shard 1 is busy for 300 */
    T.block_shard1 = true;
    run_scrape();
    cr_assert_eq(T.missing, 1);
    cr_assert_not_null(strstr(T.text, "test_things_total{kind=\"a\",shard=\"0\"} 1\n"));
    cr_assert_null(strstr(T.text, "shard=\"1\""), "%s", T.text);
    /* shard 1 still ran its collector after the answer (into live memory) */
    cr_assert_eq(T.ran_on[1], 1);
}

Test(runtime_metrics, builtins_cover_every_shard_and_the_process)
{
    T.timeout_ns = 10000000000ull;
    T.builtins = true;
    run_scrape();
    const char *want[] = {
        "agentcore_loop_turns_total{shard=\"0\"} ",
        "agentcore_loop_turns_total{shard=\"1\"} ",
        "agentcore_queue_length{class=\"high\",shard=\"1\"} 0\n",
        "agentcore_memory_bytes{shard=\"0\"} ",
        "agentcore_uring_enter_calls_total{shard=\"1\"} ",
        "agentcore_uring_ops_in_flight{shard=\"0\"} ",
        "agentcore_shards 2\n",
        "\nprocess_resident_memory_bytes ",
        "\nprocess_cpu_seconds_total ",
    };
    for (unsigned i = 0; i < AC_ARRAY_LEN(want); i++)
        cr_assert_not_null(strstr(T.text, want[i]), "missing %s", want[i]);
    double rss = atof(strstr(T.text, "\nprocess_resident_memory_bytes ") + 31);
    cr_assert_gt(rss, 1 << 20);
}

Test(runtime_metrics, a_scrape_the_stop_overtakes_is_freed_by_destroy)
{
    ac_runtime_config cfg;
    ac_runtime *rt;
    test_config(&cfg);
    cfg.shards = SHARDS;
    cfg.oversubscribe = true;
    cfg.on_shard_start = block_then_stop;
    cfg.on_shard_stop = scrape_at_stop;
    cr_assert_eq(ac_runtime_create(&cfg, &rt), 0);
    cr_assert_eq(ac_metrics_create(rt, &T.m), 0);
    cr_assert_eq(ac_metrics_collector_add(T.m, AC_METRICS_PER_SHARD, per_shard, NULL), 0);
    test_run(rt);
    ac_runtime_destroy(rt);
    /* Whether the poll saw shard 1's answer before the loops ended or
     * not, the callback ran at most once, and destroy frees what is left
     * (the ASan build checks that nothing leaks). */
    ac_metrics_destroy(T.m);
    cr_assert_leq(stop_scrapes, 1);
    cr_assert_eq(T.ran_on[1], 1, "shard 1 ran the message it had queued");
}
