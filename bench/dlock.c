/*
 * Distributed-lock latency against real redis-servers on loopback, beside
 * the raw round trip of `redis-benchmark` to the same servers (the floor).
 *
 * The program starts three redis-server processes itself (ports the kernel
 * picked; killed at exit) and a one-shard runtime. Each round runs, in
 * this order (alternating, so load drifts hit every scenario alike):
 *   raw          redis-benchmark -c 1 "SET k tok NX PX 30000" on node 1
 *   resp         the same command through our client (one in flight)
 *   lock(1)      try-acquire + release, AC_DLOCK_REDIS on node 1
 *   redlock(3)   try-acquire + release, Redlock over the three nodes
 *   redlock(3) frozen  the same with node 3 stopped (SIGSTOP) for the run
 * one operation at a time, each timed with the monotonic clock (with
 * --pin the servers run on CPU 1 and the client — our shard or
 * redis-benchmark — on CPU 0, so both sides of a comparison are placed
 * alike; without it the scheduler places them); a round
 * gives p50 and p99 per scenario, and the report is the median (and
 * spread) of those over --runs rounds. Every acquire must be granted
 * (checked), so a broken lock cannot look fast.
 *
 *   bench_dlock [--runs N] [--quick] [--json] [--ops N] [--pin]
 */
#include "agentcore.h"
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODES   3
#define MAX_OPS 200000

static uint16_t port_of[NODES];
static bool pin; /* --pin */
static pid_t pid_of[NODES];

static uint16_t free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    AC_BENCH_CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    AC_BENCH_CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static bool redis_up(uint16_t port)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "redis-cli -p %u PING 2>/dev/null", port);
    FILE *f = popen(cmd, "r");
    char out[16] = "";
    if (!f)
        return false;
    if (!fgets(out, sizeof out, f))
        out[0] = 0;
    pclose(f);
    return strncmp(out, "PONG", 4) == 0;
}

static void redis_start(unsigned i)
{
    char port[8];
    port_of[i] = free_port();
    snprintf(port, sizeof port, "%u", port_of[i]);
    pid_of[i] = fork();
    AC_BENCH_CHECK(pid_of[i] >= 0);
    if (pid_of[i] == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        freopen("/dev/null", "w", stdout);
        if (pin)
            execlp("taskset", "taskset", "-c", "1", "redis-server", "--port", port, "--bind",
                   "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning",
                   "--dir", "/tmp", (char *)NULL);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--loglevel", "warning", "--dir", "/tmp", (char *)NULL);
        _exit(127);
    }
    for (int k = 0; k < 500 && !redis_up(port_of[i]); k++)
        usleep(10000);
    AC_BENCH_CHECK(redis_up(port_of[i]));
}

static void redis_stop_all(void)
{
    for (unsigned i = 0; i < NODES; i++) {
        if (pid_of[i] <= 0)
            continue;
        kill(pid_of[i], SIGCONT);
        kill(pid_of[i], SIGKILL);
        waitpid(pid_of[i], NULL, 0);
        pid_of[i] = 0;
    }
}

/* ---- the runtime side -------------------------------------------------------- */

enum scenario { S_RESP, S_LOCK1, S_REDLOCK, S_COUNT };

struct run {
    enum scenario s;
    unsigned ops, done, failed;
    uint64_t t0, t_acq;
    double total_us[MAX_OPS], acq_us[MAX_OPS], rel_us[MAX_OPS];
    ac_dlock_lease *lease;
    _Atomic bool finished;
};

static struct {
    ac_runtime *rt;
    pthread_t thread;
    ac_net *net;
    ac_resp_client *resp;
    ac_dlock *one, *red;
    _Atomic bool ready;
    _Atomic int err;
} B;

static void step(struct run *r);

static void resp_done(void *arg, int res, const struct ac_resp_reply *rep)
{
    struct run *r = arg;
    r->total_us[r->done] = (double)(ac_now_ns() - r->t0) / 1000.0;
    if (res || rep->type == AC_RESP_ERROR) {
        fprintf(stderr, "bench_dlock: resp op %u: %s\n", r->done,
                res ? ac_strerror(res) : rep->str);
        r->failed++;
    }
    r->done++;
    step(r);
}

static void released(void *arg, int res)
{
    struct run *r = arg;
    uint64_t now = ac_now_ns();
    if (res) {
        fprintf(stderr, "bench_dlock: scenario %d op %u: release: %s\n", (int)r->s, r->done,
                ac_strerror(res));
        r->failed++;
    }
    r->rel_us[r->done] = (double)(now - r->t_acq) / 1000.0;
    r->total_us[r->done] = (double)(now - r->t0) / 1000.0;
    r->done++;
    step(r);
}

static void acquired(void *arg, int res, ac_dlock_lease *l)
{
    struct run *r = arg;
    r->t_acq = ac_now_ns();
    r->acq_us[r->done] = (double)(r->t_acq - r->t0) / 1000.0;
    if (res) {
        fprintf(stderr, "bench_dlock: scenario %d op %u: acquire: %s\n", (int)r->s, r->done,
                ac_strerror(res));
        r->failed++;
        r->done = r->ops; /* a refused grant ends the run: the check fails */
        atomic_store(&r->finished, true);
        return;
    }
    ac_dlock_release(l, released, r);
}

static void step(struct run *r)
{
    static const char *const set[] = {"SET", "bench:raw", "tok", "NX", "PX", "30000"};
    if (r->done == r->ops) {
        atomic_store(&r->finished, true);
        return;
    }
    r->t0 = ac_now_ns();
    int err;
    if (r->s == S_RESP)
        err = ac_resp_command(B.resp, 6, set, NULL, resp_done, r);
    else
        err = ac_dlock_try_acquire(r->s == S_LOCK1 ? B.one : B.red, "bench", NULL, acquired, r);
    if (err) {
        r->failed++;
        r->done = r->ops;
        atomic_store(&r->finished, true);
    }
}

static void run_on_shard(void *arg)
{
    step(arg);
}

static void shard_start(void *arg, unsigned id)
{
    (void)arg, (void)id;
    char nodes[NODES][32];
    struct ac_dlock_config c;
    struct ac_resp_config rc;
    int err = ac_net_create(NULL, &B.net);
    if (err)
        goto out;
    ac_resp_config_init(&rc);
    rc.port = port_of[0];
    rc.command_timeout_ns = 2000000000ull;
    err = ac_resp_client_create(B.net, &rc, &B.resp);
    if (err)
        goto out;
    ac_dlock_config_init(&c);
    for (unsigned i = 0; i < NODES; i++) {
        snprintf(nodes[i], sizeof nodes[i], "127.0.0.1:%u", port_of[i]);
        c.nodes[i] = nodes[i];
    }
    c.node_count = 1;
    /* a loaded 2-CPU machine can delay a live node past the default 50 ms;
     * the frozen-node run must be decided by the quorum, not by timeouts */
    c.node_timeout_ns = 2000000000ull;
    err = ac_dlock_create(B.net, &c, &B.one);
    if (err)
        goto out;
    c.type = AC_DLOCK_REDLOCK;
    c.node_count = NODES;
    err = ac_dlock_create(B.net, &c, &B.red);
out:
    atomic_store(&B.err, err);
    atomic_store(&B.ready, true);
}

static void *rt_main(void *arg)
{
    (void)arg;
    AC_BENCH_CHECK(ac_runtime_run(B.rt) == 0);
    return NULL;
}

/* Runs `ops` operations of scenario s on the shard; fills r. */
static void run(struct run *r, enum scenario s, unsigned ops)
{
    memset(r, 0, offsetof(struct run, total_us));
    atomic_store(&r->finished, false);
    r->s = s;
    r->ops = ops;
    AC_BENCH_CHECK(ac_runtime_submit(B.rt, 0, run_on_shard, r) == 0);
    for (unsigned i = 0; i < 120000 && !atomic_load(&r->finished); i++)
        usleep(500);
    AC_BENCH_CHECK(atomic_load(&r->finished));
    AC_BENCH_CHECK(r->failed == 0 && r->done == ops);
}

static double pct(double *v, unsigned n, double p)
{
    struct ac_bench_stats st;
    ac_bench_stats_of(v, n, &st); /* sorts */
    unsigned i = (unsigned)(p * (n - 1) + 0.5);
    return v[i];
}

/* redis-benchmark's p50 and p99 (µs) for one SET NX PX client on node 1. */
static void raw_round(unsigned ops, double *p50, double *p99)
{
    char cmd[256], line[512];
    snprintf(cmd, sizeof cmd,
             "%sredis-benchmark -h 127.0.0.1 -p %u -c 1 -n %u --csv SET bench:rb tok NX PX 30000",
             pin ? "taskset -c 0 " : "", port_of[0], ops);
    FILE *f = popen(cmd, "r");
    AC_BENCH_CHECK(f);
    bool got = false;
    while (fgets(line, sizeof line, f)) {
        double rps, avg, mn, q50, q95, q99;
        if (sscanf(
                line,
                "\"SET bench:rb tok NX PX 30000\",\"%lf\",\"%lf\",\"%lf\",\"%lf\",\"%lf\",\"%lf\"",
                &rps, &avg, &mn, &q50, &q95, &q99) == 6) {
            *p50 = q50 * 1000.0;
            *p99 = q99 * 1000.0;
            got = true;
        }
    }
    pclose(f);
    AC_BENCH_CHECK(got);
}

enum { R_RAW, R_RESP, R_LOCK1, R_RED, R_FROZEN, R_COUNT };
static const char *const rname[R_COUNT] = {"raw redis-benchmark SET NX PX", "resp client SET NX PX",
                                           "lock(1) acquire+release", "redlock(3) acquire+release",
                                           "redlock(3) 1 frozen acq+rel"};

int main(int argc, char **argv)
{
    struct ac_bench_opts o;
    int k = ac_bench_parse(argc, argv, &o);
    if (k < 0)
        return 2;
    unsigned ops = o.quick ? 500 : 5000;
    for (; k < argc; k++) {
        if (strcmp(argv[k], "--ops") == 0 && k + 1 < argc)
            ops = (unsigned)atoi(argv[++k]);
        else if (strcmp(argv[k], "--pin") == 0)
            pin = true;
        else {
            fprintf(stderr, "usage: bench_dlock [--runs N] [--quick] [--json] [--ops N] [--pin]\n");
            return 2;
        }
    }
    if (ops < 10 || ops > MAX_OPS)
        ops = 5000;
    for (unsigned i = 0; i < NODES; i++)
        redis_start(i);
    atexit(redis_stop_all);

    ac_runtime_config cfg;
    ac_runtime_config_init(&cfg);
    cfg.shards = 1;
    if (pin)
        cfg.cpus = "0"; /* the servers on CPU 1, the client (ours or redis-benchmark) on CPU 0 */
    cfg.handle_signals = false;
    cfg.on_shard_start = shard_start;
    AC_BENCH_CHECK(ac_runtime_create(&cfg, &B.rt) == 0);
    AC_BENCH_CHECK(pthread_create(&B.thread, NULL, rt_main, NULL) == 0);
    while (!atomic_load(&B.ready))
        usleep(1000);
    AC_BENCH_CHECK(atomic_load(&B.err) == 0);

    static struct run r;
    static double p50[R_COUNT][64], p99[R_COUNT][64], acq50[R_COUNT][64], rel50[R_COUNT][64];
    unsigned rounds = o.runs > 64 ? 64 : o.runs;
    /* warm-up: connections up, scripts cached on every node */
    run(&r, S_RESP, 200);
    run(&r, S_LOCK1, 200);
    run(&r, S_REDLOCK, 200);
    ac_bench_begin(&o, "dlock");
    for (unsigned round = 0; round < rounds; round++) {
        raw_round(ops, &p50[R_RAW][round], &p99[R_RAW][round]);
        const enum scenario sc[] = {S_RESP, S_LOCK1, S_REDLOCK, S_REDLOCK};
        for (unsigned j = 0; j < 4; j++) {
            unsigned row = R_RESP + j;
            if (row == R_FROZEN)
                AC_BENCH_CHECK(kill(pid_of[2], SIGSTOP) == 0);
            run(&r, sc[j], ops);
            if (row == R_FROZEN) {
                AC_BENCH_CHECK(kill(pid_of[2], SIGCONT) == 0);
                usleep(200000); /* let it answer the backlog before the next round */
            }
            p50[row][round] = pct(r.total_us, ops, 0.50);
            p99[row][round] = pct(r.total_us, ops, 0.99);
            if (sc[j] != S_RESP) {
                acq50[row][round] = pct(r.acq_us, ops, 0.50);
                rel50[row][round] = pct(r.rel_us, ops, 0.50);
            }
        }
    }
    struct ac_bench_stats st;
    double raw50;
    for (unsigned row = 0; row < R_COUNT; row++) {
        char name[96];
        snprintf(name, sizeof name, "%s p50", rname[row]);
        ac_bench_stats_of(p50[row], rounds, &st);
        ac_bench_result(name, "us", &st);
        if (row == R_RAW)
            raw50 = st.median;
        else
            ac_bench_value(name, "x raw p50", st.median / raw50);
        snprintf(name, sizeof name, "%s p99", rname[row]);
        ac_bench_stats_of(p99[row], rounds, &st);
        ac_bench_result(name, "us", &st);
        if (row >= R_LOCK1) {
            snprintf(name, sizeof name, "%s: acquire p50", rname[row]);
            ac_bench_stats_of(acq50[row], rounds, &st);
            ac_bench_result(name, "us", &st);
            snprintf(name, sizeof name, "%s: release p50", rname[row]);
            ac_bench_stats_of(rel50[row], rounds, &st);
            ac_bench_result(name, "us", &st);
        }
    }
    ac_bench_end();
    ac_runtime_stop(B.rt);
    pthread_join(B.thread, NULL);
    ac_runtime_destroy(B.rt);
    return 0;
}
