/*
 * ac-loadgen: an io_uring TCP echo client on agentcore.
 *
 *   ac-loadgen [--host A] [--port N] [--conns N] [--depth D] [--size B]
 *              [--duration S] [--cpus LIST] [--rate R] [--json]
 *
 * Closed loop (default): each connection keeps `depth` messages in flight
 * (1 = ping-pong, 8 = pipelined); latency is from the actual send.
 * Open loop (--rate R msgs/s in total): each connection sends on a fixed
 * schedule whatever the replies do, and latency is measured from the
 * intended send time, so queueing is not hidden (coordinated omission,
 * as wrk2 does it). Connections are spread over the shards; measurement
 * starts when a shard's connections are all up. Replies are checked by
 * length only (the echo preserves order per connection).
 */
#include "agentcore.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 64
#define MAX_DEPTH  64
/* Log-linear histogram: 16 sub-buckets per power of two of nanoseconds. */
#define SUB_BITS 4
#define NBUCKETS (64 << SUB_BITS)

struct hist {
    uint64_t b[NBUCKETS];
    uint64_t n;
};

static unsigned bucket_of(uint64_t v)
{
    if (v < (1u << SUB_BITS))
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)(v >> (msb - SUB_BITS)) & ((1u << SUB_BITS) - 1);
    return ((msb - SUB_BITS + 1) << SUB_BITS) + sub;
}

static uint64_t bucket_value(unsigned i)
{
    if (i < (1u << SUB_BITS))
        return i;
    unsigned msb = (i >> SUB_BITS) + SUB_BITS - 1, sub = i & ((1u << SUB_BITS) - 1);
    return ((uint64_t)((1u << SUB_BITS) | sub) << (msb - SUB_BITS)); /* bucket's low edge */
}

static double hist_pct(const struct hist *h, double p)
{
    uint64_t want = (uint64_t)ceil(p * (double)h->n), acc = 0;
    for (unsigned i = 0; i < NBUCKETS; i++) {
        acc += h->b[i];
        if (acc >= want && h->b[i])
            return (double)bucket_value(i);
    }
    return 0;
}

struct lg;

struct lg_conn {
    struct lg_shard *sh;
    ac_tcp_conn *c;
    uint64_t ts[MAX_DEPTH]; /* send (or intended) times of messages in flight */
    unsigned head, inflight;
    uint64_t rx;       /* bytes of the oldest reply received so far */
    uint64_t next_due; /* open loop */
};

struct lg_shard {
    struct lg *lg;
    unsigned id, nconns, connected, closed;
    ac_net *net;
    struct lg_conn *conns;
    struct ac_timer end, tick;
    bool measuring, done;
    uint64_t t0, t1, msgs, errors;
    uint64_t interval_ns; /* open loop: per connection */
    struct hist h;
};

struct lg {
    struct sockaddr_in addr;
    unsigned conns, depth, size, nshards;
    double duration, rate;
    bool json;
    char *payload;
    _Atomic unsigned shards_done;
    struct lg_shard shard[MAX_SHARDS]; /* slot i: shard i only, read after run */
};

static void send_one(struct lg_conn *lc, uint64_t stamp)
{
    struct lg *lg = lc->sh->lg;
    if (ac_tcp_write(lc->c, lg->payload, lg->size, NULL, NULL) != 0) {
        lc->sh->errors++;
        return;
    }
    lc->ts[(lc->head + lc->inflight) % MAX_DEPTH] = stamp;
    lc->inflight++;
}

static void finish_shard(struct lg_shard *sh)
{
    if (sh->closed < sh->nconns)
        return;
    /* Last shard out stops the runtime (acq_rel: its counts are published). */
    if (atomic_fetch_add_explicit(&sh->lg->shards_done, 1, memory_order_acq_rel) + 1 ==
        sh->lg->nshards)
        ac_runtime_stop(ac_runtime_current());
}

static void on_close(void *arg, ac_tcp_conn *c)
{
    (void)c;
    struct lg_conn *lc = arg;
    lc->sh->closed++;
    finish_shard(lc->sh);
}

static void on_read(void *arg, ac_tcp_conn *c, int res, const struct ac_slice *s)
{
    (void)s;
    struct lg_conn *lc = arg;
    struct lg_shard *sh = lc->sh;
    struct lg *lg = sh->lg;
    if (res <= 0) {
        if (res != -ECANCELED) {
            sh->errors++;
            ac_tcp_close(c, on_close, lc);
        }
        return;
    }
    lc->rx += (uint64_t)res;
    uint64_t now = 0;
    while (lc->rx >= lg->size && lc->inflight) {
        lc->rx -= lg->size;
        if (!now)
            now = ac_now_ns();
        if (sh->measuring && lc->ts[lc->head] >= sh->t0) {
            sh->h.b[bucket_of(now - lc->ts[lc->head])]++;
            sh->h.n++;
            sh->msgs++;
        }
        lc->head = (lc->head + 1) % MAX_DEPTH;
        lc->inflight--;
        if (lg->rate == 0 && !sh->done)
            send_one(lc, now);
    }
}

/* Open loop: send every message whose intended time has come. */
static void on_tick(struct ac_timer *t, void *arg)
{
    struct lg_shard *sh = arg;
    if (sh->done)
        return;
    uint64_t now = ac_now_ns(), next = UINT64_MAX;
    for (unsigned i = 0; i < sh->nconns; i++) {
        struct lg_conn *lc = &sh->conns[i];
        while (lc->c && lc->next_due <= now && lc->inflight < MAX_DEPTH) {
            send_one(lc, lc->next_due);
            lc->next_due += sh->interval_ns;
        }
        if (lc->next_due < next)
            next = lc->next_due;
    }
    if (ac_timer_start_at(t, next, on_tick, sh) != 0)
        sh->errors++;
}

static void on_end(struct ac_timer *t, void *arg)
{
    (void)t;
    struct lg_shard *sh = arg;
    sh->t1 = ac_now_ns();
    sh->measuring = false;
    sh->done = true;
    if (ac_timer_armed(&sh->tick))
        ac_timer_cancel(&sh->tick);
    for (unsigned i = 0; i < sh->nconns; i++)
        if (sh->conns[i].c)
            ac_tcp_close(sh->conns[i].c, on_close, &sh->conns[i]);
}

static void all_connected(struct lg_shard *sh)
{
    struct lg *lg = sh->lg;
    sh->t0 = ac_now_ns();
    sh->measuring = true;
    if (ac_timer_start(&sh->end, (uint64_t)(lg->duration * 1e9), on_end, sh) != 0)
        sh->errors++;
    if (lg->rate > 0) {
        sh->interval_ns = (uint64_t)(1e9 * (double)lg->conns / lg->rate);
        for (unsigned i = 0; i < sh->nconns; i++) /* spread the phases */
            sh->conns[i].next_due = sh->t0 + sh->interval_ns * i / sh->nconns;
        on_tick(&sh->tick, sh);
        return;
    }
    for (unsigned i = 0; i < sh->nconns; i++)
        for (unsigned d = 0; d < lg->depth && sh->conns[i].c; d++)
            send_one(&sh->conns[i], sh->t0);
}

static void on_connect(void *arg, ac_tcp_conn *c, int res)
{
    struct lg_conn *lc = arg;
    struct lg_shard *sh = lc->sh;
    if (res) {
        ac_log_error("ac-loadgen: connect: %s", ac_strerror(res));
        sh->errors++;
        sh->closed++;
    } else {
        lc->c = c;
        if (ac_tcp_read_start(c, on_read, lc) != 0)
            sh->errors++;
    }
    if (++sh->connected == sh->nconns) {
        if (sh->closed == sh->nconns)
            finish_shard(sh);
        else
            all_connected(sh);
    }
}

static void shard_start(void *arg, unsigned id)
{
    struct lg *lg = arg;
    struct lg_shard *sh = &lg->shard[id];
    sh->lg = lg;
    sh->id = id;
    sh->nconns = lg->conns / lg->nshards + (id < lg->conns % lg->nshards);
    sh->conns = calloc(sh->nconns ? sh->nconns : 1, sizeof *sh->conns);
    struct ac_net_config nc;
    ac_net_config_init(&nc);
    if (!sh->conns || ac_net_create(&nc, &sh->net) != 0) {
        ac_log_error("ac-loadgen: shard %u: cannot set up", id);
        sh->closed = sh->nconns;
        sh->errors++;
        finish_shard(sh);
        return;
    }
    if (sh->nconns == 0) {
        finish_shard(sh);
        return;
    }
    for (unsigned i = 0; i < sh->nconns; i++) {
        sh->conns[i].sh = sh;
        if (ac_tcp_connect(sh->net, (const struct sockaddr *)&lg->addr, sizeof lg->addr,
                           5000000000ull, on_connect, &sh->conns[i]) != 0)
            on_connect(&sh->conns[i], NULL, -EIO);
    }
}

static void net_stopped(void *arg, ac_net *net)
{
    (void)arg;
    ac_net_destroy(net);
    ac_shard_release_stop();
}

static void shard_stop(void *arg, unsigned id)
{
    struct lg_shard *sh = &((struct lg *)arg)->shard[id];
    if (!sh->net)
        return;
    ac_shard_hold_stop();
    ac_net_stop(sh->net, ac_now_ns() + 1000000000ull, net_stopped, sh);
}

static void usage(void)
{
    fprintf(stderr, "usage: ac-loadgen [--host A] [--port N] [--conns N] [--depth D] "
                    "[--size B] [--duration S] [--cpus LIST] [--rate R] [--json]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static struct lg lg;
    static const struct option opts[] = {
        {"host", required_argument, 0, 'H'},  {"port", required_argument, 0, 'p'},
        {"conns", required_argument, 0, 'n'}, {"depth", required_argument, 0, 'd'},
        {"size", required_argument, 0, 's'},  {"duration", required_argument, 0, 't'},
        {"cpus", required_argument, 0, 'c'},  {"rate", required_argument, 0, 'r'},
        {"json", no_argument, 0, 'j'},        {0, 0, 0, 0}};
    const char *host = "127.0.0.1";
    unsigned port = 7000;
    ac_runtime_config cfg;
    ac_runtime *rt;
    int o;

    ac_runtime_config_init(&cfg);
    lg.conns = 16;
    lg.depth = 1;
    lg.size = 64;
    lg.duration = 5;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'H':
            host = optarg;
            break;
        case 'p':
            port = (unsigned)atoi(optarg);
            break;
        case 'n':
            lg.conns = (unsigned)atoi(optarg);
            break;
        case 'd':
            lg.depth = (unsigned)atoi(optarg);
            break;
        case 's':
            lg.size = (unsigned)atoi(optarg);
            break;
        case 't':
            lg.duration = atof(optarg);
            break;
        case 'c':
            cfg.cpus = optarg;
            break;
        case 'r':
            lg.rate = atof(optarg);
            break;
        case 'j':
            lg.json = true;
            break;
        default:
            usage();
        }
    }
    if (lg.conns == 0 || lg.depth == 0 || lg.depth > MAX_DEPTH || lg.size == 0 || lg.duration <= 0)
        usage();
    lg.addr.sin_family = AF_INET;
    lg.addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &lg.addr.sin_addr) != 1)
        usage();
    lg.payload = malloc(lg.size);
    if (!lg.payload)
        return 1;
    memset(lg.payload, 'x', lg.size);
    cfg.on_shard_start = shard_start;
    cfg.on_shard_stop = shard_stop;
    cfg.hook_arg = &lg;
    if (ac_runtime_create(&cfg, &rt) != 0)
        return 1;
    lg.nshards = ac_runtime_shard_count(rt);
    if (lg.nshards > MAX_SHARDS)
        return 1;
    int err = ac_runtime_run(rt);
    ac_runtime_destroy(rt);

    struct hist *h = calloc(1, sizeof *h);
    uint64_t msgs = 0, errors = 0;
    double secs = 0;
    for (unsigned i = 0; i < lg.nshards && h; i++) {
        struct lg_shard *sh = &lg.shard[i];
        for (unsigned b = 0; b < NBUCKETS; b++)
            h->b[b] += sh->h.b[b];
        h->n += sh->h.n;
        msgs += sh->msgs;
        errors += sh->errors;
        if (sh->t1 > sh->t0 && (double)(sh->t1 - sh->t0) / 1e9 > secs)
            secs = (double)(sh->t1 - sh->t0) / 1e9;
        free(sh->conns);
    }
    if (!h)
        return 1;
    double rate = secs > 0 ? (double)msgs / secs : 0;
    double p50 = hist_pct(h, 0.50) / 1e3, p99 = hist_pct(h, 0.99) / 1e3,
           p999 = hist_pct(h, 0.999) / 1e3;
    if (lg.json)
        printf("{\"conns\":%u,\"depth\":%u,\"size\":%u,\"rate\":%.0f,\"seconds\":%.3f,"
               "\"msgs\":%llu,\"msgs_per_s\":%.0f,\"p50_us\":%.2f,\"p99_us\":%.2f,"
               "\"p999_us\":%.2f,\"errors\":%llu}\n",
               lg.conns, lg.depth, lg.size, lg.rate, secs, (unsigned long long)msgs, rate, p50, p99,
               p999, (unsigned long long)errors);
    else
        printf("%u conns, depth %u, %u B: %llu msgs in %.2f s = %.0f msgs/s; "
               "latency p50 %.1f us, p99 %.1f us, p99.9 %.1f us; %llu errors\n",
               lg.conns, lg.depth, lg.size, (unsigned long long)msgs, secs, rate, p50, p99, p999,
               (unsigned long long)errors);
    free(h);
    free(lg.payload);
    return err || errors || msgs == 0 ? 1 : 0;
}
