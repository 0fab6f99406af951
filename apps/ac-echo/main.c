/*
 * ac-echo: a TCP echo server on agentcore. One shard per CPU, each with its
 * own SO_REUSEPORT listener; received slices are written back as they are
 * (no copy: the ring buffer is held until the send completes).
 *
 *   ac-echo [--port N] [--host A] [--cpus LIST] [--sqpoll] [--max-conns N]
 *           [--bufs N] [--buf-size B] [--idle-ms MS] [--zc-threshold B] [--stats]
 *
 * Stops on SIGINT/SIGTERM: listeners close first, queued output gets up to
 * 2 s. --stats prints one JSON object with the counters on stdout at exit.
 */
#include "agentcore.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 256

struct shard_state {
    ac_net *net;
    ac_tcp_server *server;
    struct ac_net_stats final; /* copied when the net stops */
};

struct echo {
    struct ac_net_config net_cfg;
    struct ac_tcp_server_config srv_cfg;
    bool stats;
    bool failed;
    struct shard_state shard[MAX_SHARDS]; /* slot i: written by shard i only */
};

static void after_flush(void *arg, ac_tcp_conn *c, int res)
{
    (void)arg;
    (void)res;
    if (!ac_tcp_is_closing(c)) /* e.g. closed by the stop while this was queued */
        ac_tcp_close(c, NULL, NULL);
}

static void on_read(void *arg, ac_tcp_conn *c, int res, const struct ac_slice *s)
{
    (void)arg;
    if (res > 0) {
        if (ac_tcp_write_slice(c, s) != 0)
            ac_tcp_close(c, NULL, NULL);
    } else if (res == 0) {
        /* Half-close: echo what is queued, then close (FIN after the data). */
        if (ac_tcp_write(c, "", 0, after_flush, NULL) != 0)
            ac_tcp_close(c, NULL, NULL);
    } else if (res != -ECANCELED) {
        ac_tcp_close(c, NULL, NULL);
    }
}

static void on_accept(void *arg, ac_tcp_conn *c)
{
    if (ac_tcp_read_start(c, on_read, arg) != 0)
        ac_tcp_close(c, NULL, NULL);
}

static void shard_start(void *arg, unsigned id)
{
    struct echo *e = arg;
    struct shard_state *st = &e->shard[id];
    int err = ac_net_create(&e->net_cfg, &st->net);
    if (!err) {
        err = ac_tcp_server_start(st->net, &e->srv_cfg, on_accept, e, &st->server);
        if (err) {
            ac_net_destroy(st->net);
            st->net = NULL;
        }
    }
    if (err) {
        ac_log_error("ac-echo: shard %u: %s", id, ac_strerror(err));
        e->failed = true;
        ac_runtime_stop(ac_runtime_current());
        return;
    }
    if (id == 0)
        ac_log_info("ac-echo: listening on %s:%u", e->srv_cfg.host, ac_tcp_server_port(st->server));
}

static void net_stopped(void *arg, ac_net *net)
{
    struct shard_state *st = arg;
    ac_net_stats(net, &st->final);
    ac_net_destroy(net);
    st->net = NULL;
    ac_shard_release_stop();
}

static void shard_stop(void *arg, unsigned id)
{
    struct echo *e = arg;
    struct shard_state *st = &e->shard[id];
    if (!st->net)
        return;
    ac_shard_hold_stop();
    ac_net_stop(st->net, ac_now_ns() + 2000000000ull, net_stopped, st);
}

static void print_stats(struct echo *e, ac_runtime *rt)
{
    struct ac_net_stats t = {0};
    uint64_t enters = 0, loops = 0, sleeps = 0;
    for (unsigned i = 0; i < ac_runtime_shard_count(rt); i++) {
        const struct ac_net_stats *s = &e->shard[i].final;
        struct ac_shard_stats ss;
        if (ac_runtime_shard_stats(rt, i, &ss) == 0) {
            enters += ss.enters;
            loops += ss.loops;
            sleeps += ss.sleeps;
        }
        t.accepted += s->accepted;
        t.refused += s->refused;
        t.bytes_in += s->bytes_in;
        t.bytes_out += s->bytes_out;
        t.sends += s->sends;
        t.sends_vectored += s->sends_vectored;
        t.sends_partial += s->sends_partial;
        t.enobufs += s->enobufs;
        t.recv_rearms += s->recv_rearms;
        t.zc_sends += s->zc_sends;
        t.zc_copied += s->zc_copied;
    }
    printf("{\"enters\":%llu,\"loops\":%llu,\"sleeps\":%llu,\"accepted\":%llu,\"refused\":%llu,"
           "\"bytes_in\":%llu,\"bytes_out\":%llu,\"sends\":%llu,\"sends_vectored\":%llu,"
           "\"sends_partial\":%llu,\"enobufs\":%llu,\"recv_rearms\":%llu,\"zc_sends\":%llu,"
           "\"zc_copied\":%llu}\n",
           (unsigned long long)enters, (unsigned long long)loops, (unsigned long long)sleeps,
           (unsigned long long)t.accepted, (unsigned long long)t.refused,
           (unsigned long long)t.bytes_in, (unsigned long long)t.bytes_out,
           (unsigned long long)t.sends, (unsigned long long)t.sends_vectored,
           (unsigned long long)t.sends_partial, (unsigned long long)t.enobufs,
           (unsigned long long)t.recv_rearms, (unsigned long long)t.zc_sends,
           (unsigned long long)t.zc_copied);
    fflush(stdout);
}

static void usage(void)
{
    fprintf(stderr, "usage: ac-echo [--port N] [--host A] [--cpus LIST] [--sqpoll] "
                    "[--max-conns N] [--bufs N] [--buf-size B] [--idle-ms MS] "
                    "[--zc-threshold B] [--stats]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static struct echo e;
    static const struct option opts[] = {{"port", required_argument, 0, 'p'},
                                         {"host", required_argument, 0, 'H'},
                                         {"cpus", required_argument, 0, 'c'},
                                         {"sqpoll", no_argument, 0, 's'},
                                         {"max-conns", required_argument, 0, 'm'},
                                         {"bufs", required_argument, 0, 'b'},
                                         {"buf-size", required_argument, 0, 'B'},
                                         {"idle-ms", required_argument, 0, 'i'},
                                         {"zc-threshold", required_argument, 0, 'z'},
                                         {"stats", no_argument, 0, 'S'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    ac_runtime_config cfg;
    ac_runtime *rt;
    int o, err;

    ac_runtime_config_init(&cfg);
    ac_net_config_init(&e.net_cfg);
    e.srv_cfg = (struct ac_tcp_server_config){.host = "127.0.0.1", .port = 7000};
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'p':
            e.srv_cfg.port = (uint16_t)atoi(optarg);
            break;
        case 'H':
            e.srv_cfg.host = optarg;
            break;
        case 'c':
            cfg.cpus = optarg;
            break;
        case 's':
            cfg.sqpoll = true;
            break;
        case 'm':
            e.srv_cfg.max_connections = (unsigned)atoi(optarg);
            break;
        case 'b':
            e.net_cfg.buf_count = (unsigned)atoi(optarg);
            break;
        case 'B':
            e.net_cfg.buf_size = (unsigned)atoi(optarg);
            break;
        case 'i':
            e.srv_cfg.idle_timeout_ns = strtoull(optarg, NULL, 10) * 1000000ull;
            break;
        case 'z':
            e.net_cfg.zc_threshold = strtoull(optarg, NULL, 10);
            break;
        case 'S':
            e.stats = true;
            break;
        default:
            usage();
        }
    }
    cfg.on_shard_start = shard_start;
    cfg.on_shard_stop = shard_stop;
    cfg.hook_arg = &e;
    err = ac_runtime_create(&cfg, &rt);
    if (err) {
        fprintf(stderr, "ac-echo: %s\n", ac_strerror(err));
        return 1;
    }
    if (ac_runtime_shard_count(rt) > MAX_SHARDS) {
        fprintf(stderr, "ac-echo: at most %d shards\n", MAX_SHARDS);
        return 1;
    }
    err = ac_runtime_run(rt);
    if (e.stats)
        print_stats(&e, rt);
    ac_runtime_destroy(rt);
    if (err || e.failed) {
        fprintf(stderr, "ac-echo: %s\n", err ? ac_strerror(err) : "start-up failed");
        return 1;
    }
    return 0;
}
