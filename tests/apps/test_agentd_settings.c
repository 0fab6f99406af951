/*
 * agentd's config loader in-process (apps/agentd/ sources compiled in):
 * each key lands on its knob in the libraries' settings, and no prefix of
 * the reference config crashes the loader or fails without a positioned
 * message (a truncation fuzz over every byte; ASan checks the memory).
 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/agentd_set_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(apps_agentd_settings, .init = setup, .fini = teardown);

/* Loads `yaml` over the defaults; diagnostics go to diag[cap]. */
static int load(struct agentd_config *c, const char *yaml, char *diag, size_t cap)
{
    char path[128];
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(yaml, f);
    fclose(f);
    FILE *d = fmemopen(diag, cap, "w");
    cr_assert_not_null(d);
    agentd_config_init(c);
    int err = agentd_config_load(c, path, d);
    fclose(d);
    return err;
}

Test(apps_agentd_settings, every_key_reaches_its_knob)
{
    struct agentd_config c;
    struct agentd_settings s;
    char diag[1024] = {0};
    int err = load(&c,
                   "server:\n"
                   "  listen: \"[::1]:7000\"\n"
                   "  max_concurrent_requests: 10\n"
                   "  request_timeout: 2s\n"
                   "  keep_alive_timeout: 3s\n"
                   "  read_buffer_size: 4KiB\n"
                   "  write_buffer_size: 64KiB\n"
                   "  max_body: 2MB\n"
                   "  shutdown_timeout: 7s\n"
                   "scheduler:\n"
                   "  cpus: \"0\"\n"
                   "  numa_node: 0\n"
                   "  queue_size: 128\n"
                   "  enable_work_stealing: false\n"
                   "  enable_priority: true\n"
                   "  weights: {high: 5, normal: 3, low: 2}\n"
                   "memory:\n"
                   "  memory_limit: 3GiB\n"
                   "  hugepages: true\n"
                   "  zero_copy: false\n"
                   "  idle_release: 9s\n"
                   "monitoring:\n"
                   "  admin_listen: \"127.0.0.2:9100\"\n"
                   "  pprof_enabled: false\n"
                   "logging:\n"
                   "  level: debug\n"
                   "  file: /tmp/x.log\n"
                   "distributed_lock:\n"
                   "  type: redis\n"
                   "  redis_nodes: [\"redis.local:6380\"]\n"
                   "  lock_timeout: 10s\n"
                   "  retry_count: 5\n"
                   "  retry_delay: 50ms\n"
                   "  drift_factor: 0.02\n",
                   diag, sizeof diag);
    cr_assert_eq(err, 0, "%s", diag);
    cr_assert_str_eq(diag, "");
    agentd_settings_from_config(&c, &s);
    agentd_settings_for_shards(&c, 3, &s);
    cr_assert_str_eq(s.tcp.host, "::1");
    cr_assert_eq(s.tcp.port, 7000);
    cr_assert_eq(s.host.max_in_flight, 4, "ceil(10 / 3) per shard");
    cr_assert_eq(s.host.shards, 3);
    cr_assert_eq(s.host.timeout_ns, 2000000000ull);
    cr_assert_eq(s.http.idle_timeout_ns, 3000000000ull);
    cr_assert_eq(s.net.buf_size, 4096);
    cr_assert_eq(s.net.high_water, 65536);
    cr_assert_eq(s.http.limits.max_body, 2000000);
    cr_assert_eq(s.drain_ns, 7000000000ull);
    cr_assert_eq(s.rt.stop_timeout_ns, 8000000000ull);
    cr_assert_str_eq(s.rt.cpus, "0");
    cr_assert_eq(s.rt.numa_node, 0);
    cr_assert_eq(s.rt.sched_queue_size, 128);
    cr_assert(s.rt.no_stealing);
    cr_assert_eq(s.rt.sched_weights[0], 5);
    cr_assert_eq(s.rt.sched_weights[1], 3);
    cr_assert_eq(s.rt.sched_weights[2], 2);
    cr_assert_eq(s.rt.memory_limit, (3ull << 30) / 3);
    cr_assert(s.rt.memory_hugetlb);
    cr_assert_eq(s.net.zc_threshold, 0);
    cr_assert_eq(s.rt.memory_idle_release_ns, 9000000000ull);
    cr_assert_str_eq(c.admin.host, "127.0.0.2");
    cr_assert_eq(c.admin.port, 9100);
    cr_assert_not(c.pprof_enabled);
    cr_assert_eq(c.log_level, AC_LOG_DEBUG);
    cr_assert_str_eq(c.log_file, "/tmp/x.log");
    cr_assert(c.lock.configured);
    cr_assert_eq(c.lock.type, AGENTD_LOCK_REDIS);
    cr_assert_eq(c.lock.nnodes, 1);
    cr_assert_str_eq(c.lock.nodes[0].host, "redis.local");
    cr_assert_eq(c.lock.nodes[0].port, 6380);
    cr_assert_eq(c.lock.lock_timeout_ns, 10000000000ull);
    cr_assert_eq(c.lock.retry_count, 5);
    cr_assert_eq(c.lock.retry_delay_ns, 50000000ull);
    cr_assert_float_eq(c.lock.drift_factor, 0.02, 1e-12);
    agentd_config_close(&c);
}

Test(apps_agentd_settings, priority_off_and_count_of_cpus)
{
    struct agentd_config c;
    struct agentd_settings s;
    char diag[1024] = {0};
    cr_assert_eq(
        load(&c, "goroutine_pool:\n  cpus: 2\n  enable_priority: false\n", diag, sizeof diag), 0,
        "%s", diag);
    agentd_settings_from_config(&c, &s);
    cr_assert_null(s.rt.cpus);
    cr_assert_eq(s.rt.shards, 2);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(s.rt.sched_weights[i], 1);
    agentd_config_close(&c);
}

Test(apps_agentd_settings, memory_limit_gb_is_gibibytes_and_flag_per_shard_wins)
{
    struct agentd_config c;
    struct agentd_settings s;
    char diag[1024] = {0};
    cr_assert_eq(load(&c, "memory_optimization:\n  memory_limit_gb: 8\n", diag, sizeof diag), 0);
    agentd_settings_from_config(&c, &s);
    agentd_settings_for_shards(&c, 4, &s);
    cr_assert_eq(s.rt.memory_limit, 2ull << 30);
    c.memory_limit_per_shard = 64ull << 20;
    agentd_settings_for_shards(&c, 4, &s);
    cr_assert_eq(s.rt.memory_limit, 64ull << 20);
    agentd_config_close(&c);
}

Test(apps_agentd_settings, addresses)
{
    struct agentd_addr a;
    char why[160];
    cr_assert_eq(agentd_addr_parse(":8080", true, &a, why, sizeof why), 0);
    cr_assert_str_eq(a.host, "0.0.0.0");
    cr_assert_eq(agentd_addr_parse("[fe80::1]:1", true, &a, why, sizeof why), 0);
    cr_assert_str_eq(a.host, "fe80::1");
    cr_assert_eq(agentd_addr_parse("::1:80", true, &a, why, sizeof why), -EINVAL);
    cr_assert_str_eq(why, "expected host:port such as 127.0.0.1:8080 or [::1]:8080, not '::1:80'");
    cr_assert_eq(agentd_addr_parse("host_name:80", false, &a, why, sizeof why), -EINVAL);
    cr_assert_eq(agentd_addr_parse("10.0.0.1:", true, &a, why, sizeof why), -EINVAL);
}

Test(apps_agentd_settings, every_prefix_of_the_reference_config_loads_or_says_where, .timeout = 120)
{
    static char text[65536], prefix[65536], diag[8192];
    FILE *f = fopen(SOURCE_DIR "/configs/original-go.yaml", "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    for (size_t len = 0; len <= n; len++) {
        struct agentd_config c;
        memcpy(prefix, text, len);
        prefix[len] = 0;
        memset(diag, 0, sizeof diag);
        int err = load(&c, prefix, diag, sizeof diag);
        agentd_config_close(&c);
        if (err) {
            cr_assert_eq(err, -EINVAL, "prefix %zu", len);
            /* every failure names the file, a line and a column */
            char want[128];
            snprintf(want, sizeof want, "%s/c.yaml:", dir);
            cr_assert_eq(strncmp(diag, want, strlen(want)), 0, "prefix %zu: %s", len, diag);
            cr_assert_not_null(strstr(diag, ": "), "prefix %zu: %s", len, diag);
        }
    }
}
