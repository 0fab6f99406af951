/*
 * agentd's config as an operator meets it: build/bin/agentd run as a
 * process on YAML files written here, its exit status and exact messages
 * asserted; the log file reopened on SIGHUP; systemd readiness on a
 * NOTIFY_SOCKET this test binds; max_concurrent_requests answered 503.
 * Every wait is bounded (poll timeouts, waitpid with a deadline).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/agentd_cfg_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(apps_agentd_config, .init = setup, .fini = teardown);

/* Writes `text` to dir/name; the path goes to path[256]. */
static void write_file(const char *name, const char *text, char *path)
{
    snprintf(path, 256, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void slurp(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

/* Waits for `pid` at most 30 s; its exit status (128+sig if killed). */
static int reap(pid_t pid)
{
    int st;
    for (int i = 0; i < 3000; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    cr_assert_fail("agentd did not exit within 30 s");
    return -1;
}

static pid_t spawn(const char *const argv[], const char *out, const char *err)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        execv(AGENTD_BIN, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Runs agentd with `args` (NULL-terminated) to completion. */
static int run(const char *const args[], char *out, size_t ocap, char *err, size_t ecap)
{
    const char *argv[32] = {AGENTD_BIN};
    char o[256], e[256];
    int n = 1;
    for (; *args; args++)
        argv[n++] = *args;
    snprintf(o, sizeof o, "%s/stdout", dir);
    snprintf(e, sizeof e, "%s/stderr", dir);
    int rc = reap(spawn(argv, o, e));
    slurp(o, out, ocap);
    slurp(e, err, ecap);
    return rc;
}

static char out[16384], err[16384];

/* --check-config on `yaml`: exit 2 and exactly `want` (with FILE: before it). */
static void invalid(const char *yaml, const char *want)
{
    char path[256], full[1024];
    write_file("bad.yaml", yaml, path);
    int rc = run((const char *[]){"--config", path, "--check-config", NULL}, out, sizeof out, err,
                 sizeof err);
    snprintf(full, sizeof full, "%s:%s\n", path, want);
    cr_assert_str_eq(err, full, "for:\n%s", yaml);
    cr_assert_eq(rc, 2);
}

Test(apps_agentd_config, shipped_reference_config_is_valid_without_warnings)
{
    int rc =
        run((const char *[]){"--config", SOURCE_DIR "/configs/agentd.yaml", "--check-config", NULL},
            out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(err, "");
    cr_assert_str_eq(out, "agentd: " SOURCE_DIR "/configs/agentd.yaml: valid\n");
}

Test(apps_agentd_config, original_layout_loads_with_exactly_the_documented_warnings)
{
#define ORIG SOURCE_DIR "/configs/original-go.yaml"
    int rc = run((const char *[]){"--config", ORIG, "--check-config", NULL}, out, sizeof out, err,
                 sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(
        err, ORIG
        ":20:16: warning: key 'goroutine_pool.max_workers': ignored: agentd runs one shard "
        "(thread) per CPU and no worker pool; size it with cpus\n" ORIG
        ":21:16: warning: key 'goroutine_pool.min_workers': ignored: agentd runs one shard "
        "(thread) per CPU and no worker pool; shards are never started or stopped on "
        "demand\n" ORIG
        ":22:24: warning: key 'goroutine_pool.worker_idle_timeout': ignored: agentd runs one "
        "shard (thread) per CPU and no worker pool; idle shards sleep in io_uring, none is "
        "retired\n" ORIG
        ":28:15: warning: key 'memory_optimization.gc_percent': ignored: agentcore has no "
        "garbage collector; memory is freed when it is released, and memory_limit caps it\n" ORIG
        ":30:30: warning: key 'memory_optimization.large_object_threshold_kb': ignored: "
        "objects over 256 KiB always get a mapping of their own (AC_SLAB_MAX, fixed at build "
        "time); smaller ones come from per-shard slabs\n" ORIG
        ":35:15: warning: key 'monitoring.pprof_port': ignored: pprof is served on the admin "
        "listener (port 9090), not on a listener of its own\n");
    /* and the values it sets are the ones in effect */
    rc = run((const char *[]){"--config", ORIG, "--print-config", NULL}, out, sizeof out, err,
             sizeof err);
    cr_assert_eq(rc, 0);
    cr_assert_not_null(strstr(out, "  listen: \"0.0.0.0:8080\"\n"), "%s", out);
    cr_assert_not_null(strstr(out, "  queue_size: 100000\n"), "%s", out);
    cr_assert_not_null(strstr(out, "  memory_limit: 8GiB\n"), "%s", out);
    cr_assert_not_null(strstr(out, "  admin_listen: \"127.0.0.1:9090\"\n"), "%s", out);
    cr_assert_not_null(strstr(out, "  type: redis_redlock\n"), "%s", out);
    cr_assert_not_null(strstr(out, "    - \"localhost:6381\"\n"), "%s", out);
#undef ORIG
}

Test(apps_agentd_config, unknown_keys_and_sections)
{
    invalid("server:\n  bogus: 1\n",
            "2:3: key 'server.bogus': unknown key (known: listen, max_concurrent_requests, "
            "request_timeout, keep_alive_timeout, read_buffer_size, write_buffer_size, max_body, "
            "shutdown_timeout, user, max_connections, max_connections_per_shard, max_buffered)");
    invalid("clusters:\n  nodes: 3\n",
            "1:1: key 'clusters': unknown section (known: server, scheduler, memory, monitoring, "
            "logging, distributed_lock, cluster)");
    invalid("cluster:\n  nodes: 3\n",
            "2:3: key 'cluster.nodes': unknown key (known: node_id, advertise, members, "
            "redis_nodes, mode, session_store, member_ttl, poll_interval, vnodes)");
    /* the cluster section's values are checked by the same code as its flags */
    invalid("cluster:\n  mode: sideways\n",
            "2:9: key 'cluster.mode': expected proxy or redirect, not \"sideways\"");
    invalid("cluster:\n  members: [127.0.0.1:1, nohost]\n",
            "2:12: key 'cluster.members': \"nohost\" is not host:port with a numeric host");
    invalid("monitoring:\n  alert_rules:\n    - name: a\n      condition: qps > 1\n      for: 1m\n",
            "5:7: key 'monitoring.alert_rules[0].for': unknown key (known: name, condition, "
            "duration, severity)");
}

Test(apps_agentd_config, wrong_types)
{
    invalid("server:\n  max_body: [1, 2]\n",
            "2:13: key 'server.max_body': expected a value, found a list");
    invalid("scheduler:\n  enable_priority: yes\n",
            "2:20: key 'scheduler.enable_priority': expected true or false, not 'yes'");
    invalid("scheduler:\n  queue_size: lots\n",
            "2:15: key 'scheduler.queue_size': expected a whole number, not 'lots'");
    invalid("server:\n  request_timeout: 30\n",
            "2:20: key 'server.request_timeout': expected a duration such as 30s or 100ms, not "
            "'30' (needs a time unit: ns, us, ms, s, m, h)");
    invalid("server:\n  max_body: 10ms\n",
            "2:13: key 'server.max_body': expected a size such as 64KiB or 512MB, not '10ms' "
            "(needs a byte unit: B, KB, MB, GB, KiB, MiB, GiB)");
    invalid("server:\n  max_body: 10kib\n",
            "2:13: key 'server.max_body': expected a size such as 64KiB or 512MB, not '10kib' "
            "(unknown unit)");
    invalid("server: 8080\n", "1:9: key 'server': expected a mapping of keys, found a value");
    invalid("server:\n  listen: localhost:8080\n",
            "2:11: key 'server.listen': 'localhost' is not a numeric IP address (agentd resolves "
            "no names here)");
}

Test(apps_agentd_config, out_of_range_values)
{
    invalid("scheduler:\n  queue_size: 0\n",
            "2:15: key 'scheduler.queue_size': 0 is out of range (1..16777216)");
    invalid("server:\n  request_timeout: 2h\n",
            "2:20: key 'server.request_timeout': 2h is out of range (1ms..1h)");
    invalid("server:\n  max_body: 2GiB\n",
            "2:13: key 'server.max_body': 2GiB is out of range (1B..1GiB)");
    invalid("server:\n  listen: \"127.0.0.1:70000\"\n",
            "2:11: key 'server.listen': port '70000' is not a number from 0 to 65535");
    invalid("server:\n  read_buffer_size: 8KiB\n",
            "2:21: key 'server.read_buffer_size': receive buffers come in 1KiB, 4KiB, 16KiB or "
            "64KiB, not '8KiB'");
    invalid("scheduler:\n  weights: {high: 0}\n",
            "2:19: key 'scheduler.weights.high': 0 is out of range (1..1000)");
    invalid("distributed_lock:\n  type: redis_redlock\n  redis_nodes: [\"a:1\", \"b:2\"]\n",
            "3:16: key 'distributed_lock.redis_nodes': type redis_redlock needs at least 3 "
            "independent nodes for a majority, 2 given");
    invalid("distributed_lock:\n  type: zookeeper\n",
            "2:9: key 'distributed_lock.type': expected redis or redis_redlock, not 'zookeeper'");
    invalid("distributed_lock:\n  drift_factor: 0.5\n",
            "2:17: key 'distributed_lock.drift_factor': 0.5 is out of range (0..0.1)");
}

Test(apps_agentd_config, conflicts_and_duplicates)
{
    invalid("scheduler:\n  queue_size: 10\ngoroutine_pool:\n  queue_size: 20\n",
            "3:1: key 'goroutine_pool': the same section as 'scheduler' (line 1)");
    invalid("server:\n  max_body: 1KiB\n  max_body: 2KiB\n",
            "3:3: key 'server.max_body': appears twice (first at line 2)");
    invalid("memory:\n  memory_limit: 1GiB\n  memory_limit_gb: 2\n",
            "3:20: key 'memory.memory_limit_gb': set memory_limit or memory_limit_gb, not both");
}

Test(apps_agentd_config, malformed_alert_condition_points_at_the_column)
{
    invalid(
        "monitoring:\n  alert_rules:\n    - name: Slow\n      condition: \"p99_latency > 10\"\n",
        "4:33: key 'monitoring.alert_rules[0].condition': p99_latency needs a time such as "
        "10ms, not '10'");
    invalid("monitoring:\n  alert_rules:\n    - name: Drop\n      condition: qps < 0.7 * basline\n",
            "4:30: key 'monitoring.alert_rules[0].condition': only 'baseline' may be multiplied, "
            "not 'basline'");
    invalid("monitoring:\n  alert_rules:\n    - {name: x, condition: \"latency > 1s\"}\n",
            "3:29: key 'monitoring.alert_rules[0].condition': unknown metric 'latency' (qps, "
            "p50_latency, p99_latency, error_rate, memory_usage, memory_growth_rate, "
            "queue_length)");
    invalid("monitoring:\n  alert_rules:\n    - name: x\n      condition: qps > 1\n"
            "      severity: page\n",
            "5:17: key 'monitoring.alert_rules[0].severity': expected info, warning or critical, "
            "not 'page'");
    invalid("monitoring:\n  alert_rules:\n    - name: x\n",
            "3:7: key 'monitoring.alert_rules[0]': a rule needs a condition");
}

Test(apps_agentd_config, yaml_syntax_error_names_the_line)
{
    invalid("server:\n  listen: [1, 2\n  max_body: 1\n",
            "3:11: did not find expected ',' or ']' while parsing a flow sequence");
}

Test(apps_agentd_config, missing_file_and_bad_flag_exit_2)
{
    int rc = run((const char *[]){"--config", "/nonexistent/agentd.yaml", "--check-config", NULL},
                 out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 2);
    cr_assert_str_eq(err, "agentd: /nonexistent/agentd.yaml: No such file or directory\n");
    rc = run((const char *[]){"--no-such-flag", NULL}, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 2);
    cr_assert_not_null(strstr(err, "usage: agentd"), "%s", err);
    rc = run((const char *[]){"--log-level", "loud", NULL}, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 2);
    cr_assert_not_null(strstr(err, "agentd: --log-level (error, warn, info, debug): 'loud'"), "%s",
                       err);
}

Test(apps_agentd_config, help_and_version)
{
    cr_assert_eq(run((const char *[]){"--help", NULL}, out, sizeof out, err, sizeof err), 0);
    cr_assert_not_null(strstr(out, "--check-config"), "%s", out);
    cr_assert_eq(run((const char *[]){"--version", NULL}, out, sizeof out, err, sizeof err), 0);
    cr_assert_str_eq(out, "agentd " AGENTD_VERSION "\n");
}

Test(apps_agentd_config, flags_override_the_file_wherever_they_stand)
{
    char path[256];
    write_file("a.yaml",
               "server:\n  listen: \"127.0.0.2:1234\"\nscheduler:\n  queue_size: 10\n"
               "logging:\n  level: warn\nmonitoring:\n  metrics_port: 9999\n",
               path);
    int rc = run((const char *[]){"--port", "4321", "--config", path, "--queue-size", "20",
                                  "--log-level", "debug", "--admin-port", "9191", "--print-config",
                                  NULL},
                 out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_not_null(strstr(out, "  listen: \"127.0.0.2:4321\"\n"), "%s", out);
    cr_assert_not_null(strstr(out, "  queue_size: 20\n"), "%s", out);
    cr_assert_not_null(strstr(out, "  level: debug\n"), "%s", out);
    cr_assert_not_null(strstr(out, "  admin_listen: \"127.0.0.1:9191\"\n"), "%s", out);
}

Test(apps_agentd_config, hardening_flags_override_their_keys_and_print)
{
    char path[256];
    write_file("h.yaml",
               "server:\n  user: nobody\n  max_connections: 500\n"
               "  max_connections_per_shard: 40\n  max_buffered: 64KiB\n"
               "scheduler:\n  admission_target: 7ms\n  admission_interval: 250ms\n"
               "memory:\n  session_max: 99\n",
               path);
    int rc = run((const char *[]){"--config", path, "--print-config", NULL}, out, sizeof out, err,
                 sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    const char *file[] = {"  user: \"nobody\"\n",       "  max_connections: 500\n",
                          "  max_connections_per_shard: 40\n", "  max_buffered: 64KiB\n",
                          "  admission_target: 7ms\n",  "  admission_interval: 250ms\n",
                          "  session_max: 99\n"};
    for (unsigned i = 0; i < sizeof file / sizeof file[0]; i++)
        cr_assert_not_null(strstr(out, file[i]), "no %s in:\n%s", file[i], out);
    rc = run((const char *[]){"--max-conns", "77", "--config", path, "--admit-target-ms", "0",
                              "--admit-interval-ms", "300", "--session-max", "5",
                              "--max-conns-per-shard=9", "--print-config", NULL},
             out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    const char *flags[] = {"  max_connections: 77\n", "  max_connections_per_shard: 9\n",
                           "  admission_target: 0  # off\n", "  admission_interval: 300ms\n",
                           "  session_max: 5\n", "  max_buffered: 64KiB\n"};
    for (unsigned i = 0; i < sizeof flags / sizeof flags[0]; i++)
        cr_assert_not_null(strstr(out, flags[i]), "no %s in:\n%s", flags[i], out);
}

Test(apps_agentd_config, an_unknown_server_user_exits_1_at_start)
{
    char path[256];
    write_file("u.yaml", "server:\n  user: no-such-user-here\n  listen: \"127.0.0.1:0\"\n", path);
    int rc = run((const char *[]){"--config", path, NULL}, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert_not_null(strstr(err, "server.user no-such-user-here: no such user"), "%s", err);
}

Test(apps_agentd_config, defaults_without_a_file)
{
    int rc = run((const char *[]){"--print-config", NULL}, out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0);
    cr_assert_not_null(strstr(out, "  listen: \"127.0.0.1:8080\"\n"), "%s", out);
    cr_assert_not_null(strstr(out, "  admin_listen: \"127.0.0.1:9090\"\n"), "%s", out);
}

Test(apps_agentd_config, printed_config_loads_back_the_same)
{
    static char first[16384];
    char path[256];
    int rc = run((const char *[]){"--config", SOURCE_DIR "/configs/original-go.yaml", "--cpus", "0",
                                  "--print-config", NULL},
                 first, sizeof first, err, sizeof err);
    cr_assert_eq(rc, 0);
    write_file("printed.yaml", first, path);
    rc = run((const char *[]){"--config", path, "--print-config", NULL}, out, sizeof out, err,
             sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(err, "", "the printed config has no ignored keys");
    cr_assert_str_eq(out, first);
}

Test(apps_agentd_config, emitted_rules_match_the_shipped_file)
{
    static char shipped[16384];
    int rc = run((const char *[]){"--config", SOURCE_DIR "/configs/agentd.yaml",
                                  "--emit-prometheus-rules", NULL},
                 out, sizeof out, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    slurp(SOURCE_DIR "/configs/prometheus/alerts.yml", shipped, sizeof shipped);
    cr_assert_str_eq(out, shipped,
                     "configs/prometheus/alerts.yml is stale: regenerate it with agentd "
                     "--config configs/agentd.yaml --emit-prometheus-rules=configs/prometheus/"
                     "alerts.yml");
}

/* ------------------------------------------------ running processes -- */

/* Polls `path` until it contains `needle` (at most 15 s). */
static bool wait_for_text(const char *path, const char *needle)
{
    static char buf[65536];
    for (int i = 0; i < 1500; i++) {
        slurp(path, buf, sizeof buf);
        if (strstr(buf, needle))
            return true;
        usleep(10000);
    }
    return false;
}

Test(apps_agentd_config, sighup_reopens_the_log_file, .timeout = 60)
{
    char log[256], moved[256], o[256], e[256];
    snprintf(log, sizeof log, "%s/agentd.log", dir);
    snprintf(moved, sizeof moved, "%s/agentd.log.1", dir);
    snprintf(o, sizeof o, "%s/stdout", dir);
    snprintf(e, sizeof e, "%s/stderr", dir);
    pid_t pid = spawn((const char *[]){AGENTD_BIN, "--port", "0", "--admin-port", "0", "--quiet",
                                       "--log-file", log, NULL},
                      o, e);
    cr_assert(wait_for_text(o, "listening on"), "agentd did not start");
    cr_assert(wait_for_text(log, "level=info shard=0 msg=\""), "no logfmt line in the file");
    cr_assert_eq(rename(log, moved), 0);
    kill(pid, SIGHUP);
    cr_assert(wait_for_text(log, "msg=\"received SIGHUP, log file reopened\""),
              "no new log file after SIGHUP");
    kill(pid, SIGTERM);
    cr_assert_eq(reap(pid), 0);
    cr_assert(wait_for_text(log, "msg=\"received SIGTERM, stopping\""));
    static char old[65536];
    slurp(moved, old, sizeof old);
    cr_assert_null(strstr(old, "SIGHUP"), "the moved file got lines after the reopen: %s", old);
}

/* Receives one datagram into buf (at most 15 s). */
static bool recv_notify(int fd, char *buf, size_t cap)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 15000) != 1)
        return false;
    ssize_t n = recv(fd, buf, cap - 1, 0);
    if (n <= 0)
        return false;
    buf[n] = 0;
    return true;
}

Test(apps_agentd_config, systemd_notify_ready_then_stopping, .timeout = 60)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char o[256], e[256], msg[512], env[160];
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify", dir);
    snprintf(o, sizeof o, "%s/stdout", dir);
    snprintf(e, sizeof e, "%s/stderr", dir);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0, "%s", strerror(errno));
    snprintf(env, sizeof env, "NOTIFY_SOCKET=%s", sa.sun_path);
    cr_assert_eq(putenv(env), 0);
    pid_t pid = spawn((const char *[]){AGENTD_BIN, "--port", "0", "--quiet", NULL}, o, e);
    unsetenv("NOTIFY_SOCKET");
    cr_assert(recv_notify(fd, msg, sizeof msg), "no READY=1 within 15 s");
    cr_assert_not_null(strstr(msg, "READY=1"), "%s", msg);
    /* READY comes only once every shard serves: the URL line is out by then */
    static char outbuf[4096];
    slurp(o, outbuf, sizeof outbuf);
    cr_assert_not_null(strstr(outbuf, "listening on"), "READY before serving: %s", outbuf);
    kill(pid, SIGTERM);
    cr_assert(recv_notify(fd, msg, sizeof msg), "no STOPPING=1 within 15 s");
    cr_assert_not_null(strstr(msg, "STOPPING=1"), "%s", msg);
    cr_assert_eq(reap(pid), 0);
    close(fd);
}

/* curl against 127.0.0.1:port; the whole output (with -i: the head too). */
static void curl(unsigned port, const char *args, const char *path, char *buf, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "curl -s --max-time 20 %s 'http://127.0.0.1:%u%s'", args, port, path);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    pclose(f);
}

Test(apps_agentd_config, max_concurrent_requests_answers_503_with_retry_after, .timeout = 90)
{
    char path[256], o[256], e[256], cmd[512];
    static char buf[8192], first[4096];
    snprintf(o, sizeof o, "%s/stdout", dir);
    snprintf(e, sizeof e, "%s/stderr", dir);
    write_file("busy.yaml",
               "server:\n  listen: \"127.0.0.1:0\"\n  max_concurrent_requests: 1\n"
               "scheduler:\n  cpus: 1\nmonitoring:\n  metrics_port: 0\n",
               path);
    pid_t pid = spawn((const char *[]){AGENTD_BIN, "--config", path, "--quiet", NULL}, o, e);
    cr_assert(wait_for_text(o, "(1 shards)"), "agentd did not start on one shard");
    slurp(o, buf, sizeof buf);
    const char *p = strstr(buf, "127.0.0.1:");
    cr_assert_not_null(p);
    unsigned port = (unsigned)atoi(p + 10);
    /* one call sleeping 3 s holds the only slot ... */
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 20 -d '{\"input\":3000}' "
             "'http://127.0.0.1:%u/v1/agents/sleep/invoke'",
             port);
    FILE *slow = popen(cmd, "r");
    cr_assert_not_null(slow);
    bool held = false;
    for (int i = 0; i < 1000 && !held; i++) {
        curl(port, "", "/v1/agents", buf, sizeof buf);
        held = strstr(buf, "\"inflight\": 1") || strstr(buf, "\"inflight\":1");
        if (!held)
            usleep(10000);
    }
    cr_assert(held, "the sleeping call never showed in flight: %s", buf);
    /* ... so the next one is turned away at once */
    curl(port, "-i -d '{\"input\":\"hi\"}'", "/v1/agents/echo/invoke", buf, sizeof buf);
    cr_assert_eq(strncmp(buf, "HTTP/1.1 503", 12), 0, "%s", buf);
    cr_assert_not_null(strstr(buf, "Retry-After: 1"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"server_busy\""), "%s", buf);
    size_t n = fread(first, 1, sizeof first - 1, slow);
    first[n] = 0;
    pclose(slow);
    cr_assert_not_null(strstr(first, "\"slept_ms\":3000"), "%s", first);
    kill(pid, SIGTERM);
    cr_assert_eq(reap(pid), 0);
}
