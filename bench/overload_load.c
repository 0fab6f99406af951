/*
 * overload-load: the HTTP load of bench/overload.py, in one bounded run.
 *
 *   overload-load --port P --seconds S [--rate R | --closed] [--conns N]
 *                 [--path PATH --body JSON] [--slowloris K] [--probe-ms MS]
 *
 * Load: POST `body` to `path` on `conns` keep-alive connections.
 *   --rate R   open loop: request k is due at start + k/R whatever the
 *              answers do (round robin over the connections, pipelined);
 *              its latency counts from when it was due, so a server that
 *              falls behind cannot hide it (no coordinated omission).
 *   --closed   closed loop: each connection sends its next request when
 *              the answer to the previous one arrived.
 * Probe: GET /healthz on its own connection every `probe-ms`, one at a
 * time; its worst and p99 latency are reported apart.
 * Slow loris: K more connections each send a request head one header line
 * per second and never finish it (reconnecting when closed).
 *
 * Prints one JSON object: counts by status, 503s without Retry-After,
 * latency percentiles of the 200s, the probe's, and connection errors.
 * Every loop ends at the deadline (plus 2 s to collect late answers).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_INFLIGHT 4096 /* per connection: due times of pipelined requests */
#define MAX_SAMPLES  (1u << 22)

enum kind { LOAD, PROBE, LORIS };

struct conn {
    enum kind kind;
    int fd;
    char in[65536];
    size_t in_len;
    uint64_t due[MAX_INFLIGHT]; /* ring of due times of requests in flight */
    unsigned head, n;
    uint64_t next_ns; /* probe: next send; loris: next header line */
    unsigned lines;
};

static struct {
    uint16_t port;
    double seconds, rate;
    bool closed;
    unsigned conns, loris;
    unsigned probe_ms;
    const char *path, *body;
    char req[4096];
    size_t req_len;
    uint64_t end_ns; /* no new request after it */
    uint64_t *lat;   /* of 200s, ns */
    size_t nlat;
    uint64_t *plat; /* of probes */
    size_t nplat;
    uint64_t sent, st200, st503, st503_no_retry, other, conn_errors, loris_reconnects;
} G;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int ep;

static int dial(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(G.port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static bool conn_open(struct conn *c)
{
    c->fd = dial();
    c->in_len = c->head = c->n = 0;
    c->lines = 0;
    if (c->fd < 0) {
        G.conn_errors++;
        return false;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    return true;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
}

/* Writes all of p (short writes retried; the socket buffer is large). */
static bool send_all(struct conn *c, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EAGAIN) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (k <= 0)
            return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

static bool send_req(struct conn *c, uint64_t due, const char *p, size_t n)
{
    if (c->n == MAX_INFLIGHT || !send_all(c, p, n))
        return false;
    c->due[(c->head + c->n++) % MAX_INFLIGHT] = due;
    return true;
}

static const char probe_req[] = "GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n";

/* Parses complete answers out of c->in; false when the connection broke. */
static bool take_answers(struct conn *c, uint64_t t)
{
    for (;;) {
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (!end)
            return true;
        size_t hlen = (size_t)(end - c->in) + 4, blen = 0;
        int status = 0;
        if (sscanf(c->in, "HTTP/1.%*d %d", &status) != 1)
            return false;
        char *cl = memmem(c->in, hlen, "Content-Length: ", 16);
        if (cl)
            blen = strtoul(cl + 16, NULL, 10);
        if (c->in_len < hlen + blen)
            return true;
        bool retry = memmem(c->in, hlen, "Retry-After:", 12) != NULL;
        memmove(c->in, c->in + hlen + blen, c->in_len - hlen - blen);
        c->in_len -= hlen + blen;
        if (c->kind == LORIS) {
            c->n = 0;
            return false; /* 408: reconnect */
        }
        if (!c->n)
            return false;
        uint64_t due = c->due[c->head];
        c->head = (c->head + 1) % MAX_INFLIGHT;
        c->n--;
        uint64_t lat = t > due ? t - due : 0;
        if (c->kind == PROBE) {
            if (G.nplat < MAX_SAMPLES)
                G.plat[G.nplat++] = lat;
            continue;
        }
        if (status == 200) {
            G.st200++;
            if (G.nlat < MAX_SAMPLES)
                G.lat[G.nlat++] = lat;
        } else if (status == 503) {
            G.st503++;
            G.st503_no_retry += !retry;
        } else {
            G.other++;
        }
        if (G.closed && c->n == 0 && t < G.end_ns) {
            if (!send_req(c, t, G.req, G.req_len))
                return false;
            G.sent++;
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(uint64_t *v, size_t n, double p)
{
    if (!n)
        return -1;
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[i] / 1e6;
}

static void usage(void)
{
    fprintf(stderr, "usage: overload-load --port P --seconds S (--rate R | --closed) [--conns N]\n"
                    "       [--path PATH] [--body JSON] [--slowloris K] [--probe-ms MS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", 1, 0, 'p'},     {"seconds", 1, 0, 's'},
                                         {"rate", 1, 0, 'r'},     {"closed", 0, 0, 'c'},
                                         {"conns", 1, 0, 'n'},    {"path", 1, 0, 'P'},
                                         {"body", 1, 0, 'b'},     {"slowloris", 1, 0, 'l'},
                                         {"probe-ms", 1, 0, 'm'}, {0, 0, 0, 0}};
    int o;
    G.conns = 64;
    G.probe_ms = 10;
    G.path = "/v1/agents/compute/invoke";
    G.body = "{\"input\":350000}";
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'p':
            G.port = (uint16_t)atoi(optarg);
            break;
        case 's':
            G.seconds = atof(optarg);
            break;
        case 'r':
            G.rate = atof(optarg);
            break;
        case 'c':
            G.closed = true;
            break;
        case 'n':
            G.conns = (unsigned)atoi(optarg);
            break;
        case 'P':
            G.path = optarg;
            break;
        case 'b':
            G.body = optarg;
            break;
        case 'l':
            G.loris = (unsigned)atoi(optarg);
            break;
        case 'm':
            G.probe_ms = (unsigned)atoi(optarg);
            break;
        default:
            usage();
        }
    }
    if (!G.port || G.seconds <= 0 || G.seconds > 600 || (G.rate <= 0) == !G.closed || !G.conns)
        usage();
    G.req_len = (size_t)snprintf(G.req, sizeof G.req,
                                 "POST %s HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
                                 "Content-Length: %zu\r\n\r\n%s",
                                 G.path, strlen(G.body), G.body);
    G.lat = malloc(MAX_SAMPLES * sizeof *G.lat);
    G.plat = malloc(MAX_SAMPLES * sizeof *G.plat);
    ep = epoll_create1(EPOLL_CLOEXEC);
    unsigned total = G.conns + 1 + G.loris;
    struct conn *cs = calloc(total, sizeof *cs);
    if (!G.lat || !G.plat || ep < 0 || !cs)
        return 1;
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(G.seconds * 1e9), last = end + 2000000000ull;
    G.end_ns = end;
    for (unsigned i = 0; i < total; i++) {
        cs[i].kind = i < G.conns ? LOAD : i == G.conns ? PROBE : LORIS;
        if (!conn_open(&cs[i]))
            return 1;
        cs[i].next_ns = t0;
    }
    struct conn *probe = &cs[G.conns];
    uint64_t k = 0; /* open loop: requests due so far */
    if (G.closed)
        for (unsigned i = 0; i < G.conns; i++)
            if (send_req(&cs[i], t0, G.req, G.req_len))
                G.sent++;
    for (;;) {
        uint64_t t = now_ns();
        if (t >= last)
            break;
        bool loading = t < end;
        /* open loop: everything due by now goes out */
        while (loading && !G.closed && t0 + (uint64_t)((double)k * 1e9 / G.rate) <= t) {
            struct conn *c = &cs[k % G.conns];
            uint64_t due = t0 + (uint64_t)((double)k * 1e9 / G.rate);
            k++;
            if (c->fd < 0 && !conn_open(c))
                continue;
            if (send_req(c, due, G.req, G.req_len))
                G.sent++;
            else
                G.conn_errors++;
        }
        if (loading && probe->n == 0 && t >= probe->next_ns) {
            if (probe->fd < 0)
                conn_open(probe);
            if (probe->fd >= 0 && send_req(probe, t, probe_req, sizeof probe_req - 1))
                probe->next_ns = t + (uint64_t)G.probe_ms * 1000000u;
        }
        for (unsigned i = G.conns + 1; loading && i < total; i++) {
            struct conn *c = &cs[i];
            if (t < c->next_ns)
                continue;
            if (c->fd < 0) {
                if (!conn_open(c))
                    continue;
                G.loris_reconnects++;
            }
            const char *line =
                c->lines == 0 ? "GET /healthz HTTP/1.1\r\nHost: b\r\n" : "X-a: b\r\n";
            c->lines++;
            if (!send_all(c, line, strlen(line)))
                conn_close(c);
            c->next_ns = t + 1000000000ull;
        }
        if (!loading) {
            bool busy = false;
            for (unsigned i = 0; i <= G.conns; i++)
                busy |= cs[i].fd >= 0 && cs[i].n > 0;
            if (!busy)
                break;
        }
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 1);
        t = now_ns();
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            ssize_t r = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
            if (r > 0) {
                c->in_len += (size_t)r;
                if (take_answers(c, t))
                    continue;
            } else if (r < 0 && errno == EAGAIN) {
                continue;
            }
            if (c->kind != LORIS) {
                G.conn_errors++;
                G.other += c->kind == LOAD ? c->n : 0; /* lost answers */
            }
            conn_close(c);
            c->n = 0;
        }
    }
    unsigned unanswered = 0;
    for (unsigned i = 0; i < total; i++) {
        if (i < G.conns)
            unanswered += cs[i].n;
        conn_close(&cs[i]);
    }
    qsort(G.lat, G.nlat, sizeof *G.lat, cmp_u64);
    qsort(G.plat, G.nplat, sizeof *G.plat, cmp_u64);
    double secs = G.seconds;
    printf(
        "{\"mode\":\"%s\",\"offered_rps\":%.0f,\"seconds\":%.1f,\"conns\":%u,\"slowloris\":%u,"
        "\"sent\":%llu,\"ok\":%llu,\"ok_rps\":%.0f,\"503\":%llu,\"503_without_retry_after\":%llu,"
        "\"other\":%llu,\"unanswered\":%u,\"conn_errors\":%llu,\"loris_reconnects\":%llu,"
        "\"ok_ms\":{\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f},"
        "\"healthz_ms\":{\"n\":%zu,\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f}}\n",
        G.closed ? "closed" : "open", G.closed ? 0 : G.rate, secs, G.conns, G.loris,
        (unsigned long long)G.sent, (unsigned long long)G.st200, (double)G.st200 / secs,
        (unsigned long long)G.st503, (unsigned long long)G.st503_no_retry,
        (unsigned long long)G.other, unanswered, (unsigned long long)G.conn_errors,
        (unsigned long long)G.loris_reconnects, pct_ms(G.lat, G.nlat, 50),
        pct_ms(G.lat, G.nlat, 99), G.nlat ? (double)G.lat[G.nlat - 1] / 1e6 : -1, G.nplat,
        pct_ms(G.plat, G.nplat, 50), pct_ms(G.plat, G.nplat, 99),
        G.nplat ? (double)G.plat[G.nplat - 1] / 1e6 : -1);
    return 0;
}
