/*
 * SEND_ZC vs plain send through the net layer, per message size (1 KiB to
 * 1 MiB), to choose AC_NET_ZC_THRESHOLD.
 *
 * A one-shard runtime (CPU 1) connects with ac_tcp_connect and writes
 * `size`-byte messages back to back from one static buffer (one write in
 * flight: the next is queued from the previous write's callback, so every
 * send is a single buffer and the layer may pick SEND_ZC for it). Mode
 * "send" sets zc_threshold 0; mode "zc" sets it to 1 with zc_no_adapt, so
 * SEND_ZC stays on even when the kernel reports that it copied. A sink
 * thread (CPU 0) reads and discards. Measured per run: the sender shard's
 * thread CPU time per KiB (CLOCK_THREAD_CPUTIME_ID over the send window;
 * on loopback that includes the kernel's receive-side delivery, done in
 * the sender's softirq), the sink's CPU per KiB, and throughput. Medians
 * of --runs runs; "zc/send" ratios per size come from the same run pair.
 *
 *   bench_net_zc [--json] [--quick] [--runs N] [--seconds S]
 *                [--host A --port P]    send to an external sink instead
 *   bench_net_zc --sink P [--host A]    be that sink (e.g. in another netns)
 *
 * Checks the work was done: every write callback succeeded and the sink
 * received exactly the bytes the sender reported sent.
 */
#include "harness.h"

#include "agentcore.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE (1u << 20)

static char payload[MAX_SIZE];

struct zrun {
    /* in */
    struct sockaddr_in addr;
    size_t size;
    bool zc;
    uint64_t window_ns;
    /* shard state */
    ac_net *net;
    ac_tcp_conn *conn;
    uint64_t deadline, t0, t1, cpu0, cpu1;
    uint64_t sent;
    int err;
    struct ac_net_stats stats;
};

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void net_stopped(void *arg, ac_net *net)
{
    struct zrun *r = arg;
    ac_net_stats(net, &r->stats);
    ac_net_destroy(net);
    ac_runtime_stop(ac_runtime_current());
}

static void closed(void *arg, ac_tcp_conn *c)
{
    (void)c;
    struct zrun *r = arg;
    ac_net_stop(r->net, ac_now_ns() + 2000000000ull, net_stopped, r);
}

static void written(void *arg, ac_tcp_conn *c, int res);

static void write_next(struct zrun *r)
{
    int err = ac_tcp_write(r->conn, payload, r->size, written, r);
    if (err) {
        r->err = err;
        ac_tcp_close(r->conn, closed, r);
    }
}

static void written(void *arg, ac_tcp_conn *c, int res)
{
    struct zrun *r = arg;
    if (ac_tcp_is_closing(c))
        return;
    if (res < 0) {
        r->err = res;
        ac_tcp_close(c, closed, r);
        return;
    }
    r->sent += r->size;
    uint64_t now = ac_now_ns();
    if (now < r->deadline) {
        write_next(r);
        return;
    }
    r->t1 = now;
    r->cpu1 = thread_cpu_ns();
    ac_tcp_close(c, closed, r);
}

static void connected(void *arg, ac_tcp_conn *c, int res)
{
    struct zrun *r = arg;
    if (res) {
        r->err = res;
        ac_net_stop(r->net, ac_now_ns(), net_stopped, r);
        return;
    }
    r->conn = c;
    r->t0 = ac_now_ns();
    r->cpu0 = thread_cpu_ns();
    r->deadline = r->t0 + r->window_ns;
    write_next(r);
}

static void shard_start(void *arg, unsigned shard)
{
    (void)shard;
    struct zrun *r = arg;
    struct ac_net_config nc;
    ac_net_config_init(&nc);
    nc.zc_threshold = r->zc ? 1 : 0;
    nc.zc_no_adapt = true;
    nc.high_water = 4u << 20;
    int err = ac_net_create(&nc, &r->net);
    if (!err)
        err = ac_tcp_connect(r->net, (struct sockaddr *)&r->addr, sizeof r->addr, 5000000000ull,
                             connected, r);
    if (err) {
        r->err = err;
        if (r->net)
            ac_net_destroy(r->net);
        ac_runtime_stop(ac_runtime_current());
    }
}

/* ---- the sink: accept one connection at a time, read to EOF ---- */

struct sink {
    int lfd;
    bool pin;
    bool forever; /* --sink mode: serve connections until killed */
    uint64_t bytes, cpu_ns;
};

static void *sink_main(void *arg)
{
    struct sink *s = arg;
    static char buf[1 << 20];
    if (s->pin)
        ac_bench_pin(0);
    do {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            break;
        uint64_t c0 = thread_cpu_ns(), n = 0;
        ssize_t r;
        while ((r = recv(fd, buf, sizeof buf, 0)) > 0)
            n += (uint64_t)r;
        s->cpu_ns = thread_cpu_ns() - c0;
        s->bytes = n;
        close(fd);
    } while (s->forever);
    return NULL;
}

static int sink_listen(const char *host, uint16_t port, uint16_t *bound)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    socklen_t len = sizeof a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        close(fd);
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return fd;
}

/* One timed run; returns sender CPU ns/KiB, *sink_ns_kib, *gbps. */
static double one_run(const char *host, uint16_t ext_port, size_t size, bool zc, double secs,
                      double *sink_ns_kib, double *gbps, struct ac_net_stats *st)
{
    struct sink sk = {.pin = true};
    pthread_t th;
    uint16_t port = ext_port;
    bool local = ext_port == 0;
    if (local) {
        sk.lfd = sink_listen("127.0.0.1", 0, &port);
        AC_BENCH_CHECK(sk.lfd >= 0);
        AC_BENCH_CHECK(pthread_create(&th, NULL, sink_main, &sk) == 0);
    }
    static struct zrun r;
    memset(&r, 0, sizeof r);
    r.addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port)};
    AC_BENCH_CHECK(inet_pton(AF_INET, host, &r.addr.sin_addr) == 1);
    r.size = size;
    r.zc = zc;
    r.window_ns = (uint64_t)(secs * 1e9);

    ac_runtime *rt;
    ac_runtime_config cfg;
    ac_runtime_config_init(&cfg);
    cfg.handle_signals = false;
    cfg.cpus = "1";
    cfg.on_shard_start = shard_start;
    cfg.hook_arg = &r;
    AC_BENCH_CHECK(ac_runtime_create(&cfg, &rt) == 0);
    AC_BENCH_CHECK(ac_runtime_run(rt) == 0);
    ac_runtime_destroy(rt);
    if (r.err) {
        fprintf(stderr, "net_zc: %zu B %s: %s\n", size, zc ? "zc" : "send", ac_strerror(r.err));
        exit(1);
    }
    AC_BENCH_CHECK(r.sent > 0 && r.t1 > r.t0);
    AC_BENCH_CHECK(st != NULL);
    *st = r.stats;
    AC_BENCH_CHECK(r.stats.bytes_out == r.sent);
    AC_BENCH_CHECK(!zc || r.stats.zc_sends > 0);
    *sink_ns_kib = 0;
    if (local) {
        pthread_join(th, NULL);
        close(sk.lfd);
        AC_BENCH_CHECK(sk.bytes == r.sent); /* every byte arrived */
        *sink_ns_kib = (double)sk.cpu_ns / ((double)r.sent / 1024.0);
    }
    *gbps = (double)r.sent / (double)(r.t1 - r.t0); /* bytes/ns = GB/s */
    return (double)(r.cpu1 - r.cpu0) / ((double)r.sent / 1024.0);
}

int main(int argc, char **argv)
{
    struct ac_bench_opts o;
    int i = ac_bench_parse(argc, argv, &o);
    const char *host = "127.0.0.1";
    uint16_t port = 0, sink_port = 0;
    bool sink_mode = false;
    if (i < 0)
        return 2;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--host") && i + 1 < argc)
            host = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = (uint16_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sink") && i + 1 < argc) {
            sink_mode = true;
            sink_port = (uint16_t)atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_net_zc [--json] [--quick] [--runs N] [--seconds S] "
                            "[--host A --port P] | --sink P [--host A]\n");
            return 2;
        }
    }
    if (sink_mode) {
        struct sink sk = {.forever = true};
        uint16_t bound;
        sk.lfd = sink_listen(host, sink_port, &bound);
        if (sk.lfd < 0) {
            perror("bench_net_zc: sink");
            return 1;
        }
        sink_main(&sk);
        return 0;
    }
    if (o.quick) {
        o.runs = 1;
        o.seconds = 0.1;
    } else if (o.seconds <= 0) {
        o.seconds = 0.4;
    }
    memset(payload, 'z', sizeof payload);
    static const size_t sizes[] = {1024, 4096, 16384, 65536, 262144, 1048576};
    ac_bench_begin(&o, "net_zc");
    for (size_t k = 0; k < AC_ARRAY_LEN(sizes); k++) {
        double cpu[2][64], sink[2][64], rate[2][64], ratio[64];
        uint64_t copied = 0, zcs = 0;
        unsigned runs = o.runs > 64 ? 64 : o.runs;
        for (unsigned n = 0; n < runs; n++) {
            for (int zc = 0; zc < 2; zc++) { /* interleaved: drift hits both */
                struct ac_net_stats st;
                cpu[zc][n] =
                    one_run(host, port, sizes[k], zc, o.seconds, &sink[zc][n], &rate[zc][n], &st);
                if (zc) {
                    copied += st.zc_copied;
                    zcs += st.zc_sends;
                }
            }
            ratio[n] = cpu[1][n] / cpu[0][n];
        }
        char name[64];
        struct ac_bench_stats s;
        for (int zc = 0; zc < 2; zc++) {
            const char *m = zc ? "zc" : "send";
            snprintf(name, sizeof name, "%zu KiB %s", sizes[k] / 1024, m);
            ac_bench_stats_of(cpu[zc], runs, &s);
            ac_bench_result(name, "sender CPU ns/KiB", &s);
            ac_bench_stats_of(rate[zc], runs, &s);
            ac_bench_result(name, "GB/s", &s);
            if (port == 0) {
                ac_bench_stats_of(sink[zc], runs, &s);
                ac_bench_result(name, "sink CPU ns/KiB", &s);
            }
        }
        snprintf(name, sizeof name, "%zu KiB", sizes[k] / 1024);
        ac_bench_stats_of(ratio, runs, &s);
        ac_bench_result(name, "zc/send sender CPU", &s);
        ac_bench_value(name, "zc notifications copied (fraction)",
                       zcs ? (double)copied / (double)zcs : 0);
    }
    ac_bench_end();
    return 0;
}
