/*
 * The HTTP server over real TCP on 127.0.0.1: a one-shard runtime in a
 * background thread serves a test callback that answers "/n" with "n",
 * at once, or later from a timer ("/later/n", or every odd n when the test
 * asks), so answers can finish out of order. The test thread is the
 * client (tests/net/http_client.h); every wait is bounded.
 */
#include "net/http/client.h"
#include "runtime/helpers.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>

#define MAX_LATER 256

struct later {
    struct ac_timer t;
    ac_http_exchange *x;
    unsigned n;
    bool keep;
};

static struct {
    ac_runtime *rt;
    pthread_t thread;
    struct ac_http_server_config cfg;
    uint16_t port;
    int reserve_fd;
    ac_net *net;
    ac_http_server *srv;
    bool odd_later;    /* answer odd numbers from a timer */
    uint64_t later_ns; /* delay of those answers */
    struct later later[MAX_LATER];
    unsigned nlater;
    _Atomic unsigned requests, pending, max_pending;
    struct ac_http_server_stats stats; /* copied at stop */
    _Atomic bool stopped;
} T;

static void answer(ac_http_exchange *x, unsigned n, bool keep)
{
    char body[32], head[256];
    int blen = snprintf(body, sizeof body, "%u", n);
    int hlen = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n", blen,
                        keep ? "" : "Connection: close\r\n");
    struct iovec iov[2] = {{head, (size_t)hlen}, {body, (size_t)blen}};
    cr_assert_eq(ac_http_exchange_write(x, iov, 2), 0);
    atomic_fetch_sub(&T.pending, 1);
    ac_http_exchange_done(x, keep);
}

static void later_fire(struct ac_timer *t, void *arg)
{
    struct later *l = arg;
    (void)t;
    answer(l->x, l->n, l->keep);
}

/* "/flood": a 1 MiB answer written at once (a stream outrunning its client). */
static void flood(ac_http_exchange *x)
{
    static char chunk[16384];
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";
    struct iovec iov = {(void *)head, sizeof head - 1};
    cr_assert_eq(ac_http_exchange_write(x, &iov, 1), 0);
    iov = (struct iovec){chunk, sizeof chunk};
    for (int i = 0; i < 64; i++)
        cr_assert_eq(ac_http_exchange_write(x, &iov, 1), 0); /* 0 also once closed */
    atomic_fetch_sub(&T.pending, 1);
    ac_http_exchange_done(x, true);
}

static void on_request(void *arg, ac_http_exchange *x, const struct ac_http_request *req)
{
    (void)arg;
    if (req->path.len == 6 && memcmp(req->path.p, "/flood", 6) == 0) {
        atomic_fetch_add(&T.pending, 1);
        flood(x);
        return;
    }
    unsigned n = 0;
    bool later = false;
    const char *p = req->path.p + 1;
    size_t len = req->path.len - 1;
    if (len > 6 && memcmp(p, "later/", 6) == 0) {
        later = true;
        p += 6;
        len -= 6;
    }
    for (size_t i = 0; i < len && p[i] >= '0' && p[i] <= '9'; i++)
        n = n * 10 + (unsigned)(p[i] - '0');
    atomic_fetch_add(&T.requests, 1);
    unsigned pend = atomic_fetch_add(&T.pending, 1) + 1;
    if (pend > atomic_load(&T.max_pending))
        atomic_store(&T.max_pending, pend);
    if ((later || (T.odd_later && n % 2)) && T.nlater < MAX_LATER) {
        struct later *l = &T.later[T.nlater++];
        *l = (struct later){.x = x, .n = n, .keep = req->keep_alive};
        cr_assert_eq(ac_timer_start(&l->t, T.later_ns, later_fire, l), 0);
        return;
    }
    answer(x, n, req->keep_alive);
}

static void shard_start(void *arg, unsigned id)
{
    struct ac_tcp_server_config tcp = {.host = "127.0.0.1", .port = T.port};
    (void)arg;
    (void)id;
    cr_assert_eq(ac_net_create(NULL, &T.net), 0);
    cr_assert_eq(ac_http_server_start(T.net, &tcp, &T.cfg, on_request, NULL, &T.srv), 0);
}

static void net_stopped(void *arg, ac_net *net)
{
    (void)arg;
    ac_net_destroy(net);
    ac_shard_release_stop();
}

static void http_stopped(void *arg, ac_http_server *s)
{
    (void)arg;
    ac_http_server_stats(s, &T.stats);
    ac_net_stop(T.net, ac_now_ns(), net_stopped, NULL);
}

static void shard_stop(void *arg, unsigned id)
{
    (void)arg;
    (void)id;
    ac_shard_hold_stop();
    ac_http_server_stop(T.srv, ac_now_ns() + 2000000000ull, http_stopped, NULL);
}

static void *run(void *arg)
{
    (void)arg;
    cr_assert_eq(ac_runtime_run(T.rt), 0);
    atomic_store(&T.stopped, true);
    return NULL;
}

/* Starts the server with `cfg` adjustments made by the test before. */
static void start(void)
{
    ac_runtime_config rc;
    test_config(&rc);
    rc.shards = 1;
    rc.on_shard_start = shard_start;
    rc.on_shard_stop = shard_stop;
    T.port = 0;
    T.reserve_fd = ac_tcp_reserve_port("127.0.0.1", &T.port);
    cr_assert_geq(T.reserve_fd, 0);
    cr_assert_eq(ac_runtime_create(&rc, &T.rt), 0);
    cr_assert_eq(pthread_create(&T.thread, NULL, run, NULL), 0);
    /* ready once a request is answered (bounded by the client's timeout) */
    struct hc_resp r;
    bool up = false;
    for (int i = 0; i < 200 && !up; i++) {
        up = hc_status_of(T.port, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n", &r) == 200;
        if (!up)
            usleep(10000);
    }
    cr_assert(up, "server did not come up");
    atomic_store(&T.requests, 0);
}

static void stop(void)
{
    ac_runtime_stop(T.rt);
    pthread_join(T.thread, NULL);
    ac_http_server_destroy(T.srv);
    ac_runtime_destroy(T.rt);
    close(T.reserve_fd);
}

static void setup(void)
{
    memset(&T, 0, sizeof T);
    ac_http_server_config_init(&T.cfg);
    T.later_ns = 1000000;
}

TestSuite(net_http_server, .init = setup, .timeout = 60);

static char pipeline[100 * 64];

Test(net_http_server, pipelined_answers_leave_in_request_order)
{
    static struct hc c;
    struct hc_resp r;
    size_t n = 0;
    T.odd_later = true; /* odd answers finish after the even ones behind them */
    start();
    for (unsigned i = 0; i < 100; i++)
        n += (size_t)snprintf(pipeline + n, sizeof pipeline - n,
                              "GET /%u HTTP/1.1\r\nHost: t\r\n\r\n", i);
    cr_assert(hc_open(&c, T.port));
    cr_assert(hc_send(&c, pipeline, n));
    for (unsigned i = 0; i < 100; i++) {
        cr_assert(hc_read(&c, &r, false), "response %u missing", i);
        cr_assert_eq(r.status, 200);
        cr_assert_eq((unsigned)atoi(r.body), i, "response %u carries %s", i, r.body);
    }
    hc_close(&c);
    stop();
    cr_assert_geq(T.stats.parse_holds, 1, "100 pipelined requests must hit max_pipeline");
}

Test(net_http_server, parsing_holds_at_max_pipeline_then_resumes)
{
    static struct hc c;
    struct hc_resp r;
    size_t n = 0;
    T.cfg.max_pipeline = 4;
    T.later_ns = 5000000;
    start();
    for (unsigned i = 0; i < 40; i++)
        n += (size_t)snprintf(pipeline + n, sizeof pipeline - n,
                              "GET /later/%u HTTP/1.1\r\nHost: t\r\n\r\n", i);
    cr_assert(hc_open(&c, T.port));
    cr_assert(hc_send(&c, pipeline, n));
    for (unsigned i = 0; i < 40; i++) {
        cr_assert(hc_read(&c, &r, false));
        cr_assert_eq((unsigned)atoi(r.body), i);
    }
    hc_close(&c);
    stop();
    cr_assert_leq(atomic_load(&T.max_pending), 4, "at most max_pipeline answers pending");
    cr_assert_geq(T.stats.parse_holds, 1);
}

Test(net_http_server, half_close_after_pipelined_requests_gets_every_answer)
{
    static struct hc c;
    struct hc_resp r;
    size_t n = 0;
    T.odd_later = true;
    start();
    for (unsigned i = 0; i < 10; i++)
        n += (size_t)snprintf(pipeline + n, sizeof pipeline - n,
                              "GET /%u HTTP/1.1\r\nHost: t\r\n\r\n", i);
    cr_assert(hc_open(&c, T.port));
    cr_assert(hc_send(&c, pipeline, n));
    shutdown(c.fd, SHUT_WR);
    for (unsigned i = 0; i < 10; i++) {
        cr_assert(hc_read(&c, &r, false));
        cr_assert_eq((unsigned)atoi(r.body), i);
    }
    cr_assert(hc_wait_closed(&c));
    hc_close(&c);
    stop();
}

Test(net_http_server, expect_continue_gets_100_before_the_answer)
{
    static struct hc c;
    struct hc_resp r;
    start();
    cr_assert(hc_open(&c, T.port));
    cr_assert(hc_sends(&c, "POST /7 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                           "Expect: 100-continue\r\n\r\n"));
    cr_assert(hc_read(&c, &r, false));
    cr_assert_eq(r.status, 100);
    cr_assert(hc_sends(&c, "body"));
    cr_assert(hc_read(&c, &r, false));
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "7");
    hc_close(&c);
    stop();
}

Test(net_http_server, connection_close_request_ends_the_connection)
{
    static struct hc c;
    struct hc_resp r;
    start();
    cr_assert(hc_open(&c, T.port));
    cr_assert(hc_sends(&c, "GET /3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                           "GET /4 HTTP/1.1\r\nHost: t\r\n\r\n"));
    cr_assert(hc_read(&c, &r, false));
    cr_assert_str_eq(r.body, "3");
    cr_assert(hc_wait_closed(&c), "closed after the answer; the request after it is ignored");
    hc_close(&c);
    stop();
    cr_assert_eq(atomic_load(&T.requests), 1);
}

Test(net_http_server, idle_keepalive_connection_is_closed)
{
    static struct hc c;
    struct hc_resp r;
    T.cfg.idle_timeout_ns = 200000000;
    start();
    cr_assert(hc_open(&c, T.port));
    cr_assert(hc_sends(&c, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"));
    cr_assert(hc_read(&c, &r, false));
    cr_assert(hc_wait_closed(&c));
    hc_close(&c);
    stop();
    cr_assert_geq(T.stats.idle_closes, 1);
}

Test(net_http_server, slowloris_gets_408_at_the_deadline_while_others_are_served)
{
    enum { SLOW = 8 };
    static struct hc slow[SLOW], c;
    struct hc_resp r;
    T.cfg.request_timeout_ns = 300000000;
    start();
    uint64_t t0 = ac_now_ns();
    for (int i = 0; i < SLOW; i++) {
        cr_assert(hc_open(&slow[i], T.port));
        cr_assert(hc_sends(&slow[i], "GET /1 HTTP/1.1\r\nHost: t\r\n"));
    }
    /* trickle a header line each round while a well-behaved client is served */
    cr_assert(hc_open(&c, T.port));
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < SLOW; i++)
            hc_sends(&slow[i], "X-a: b\r\n");
        cr_assert(hc_sends(&c, "GET /5 HTTP/1.1\r\nHost: t\r\n\r\n"));
        cr_assert(hc_read(&c, &r, false));
        cr_assert_str_eq(r.body, "5");
    }
    for (int i = 0; i < SLOW; i++) {
        cr_assert(hc_read(&slow[i], &r, false), "slow connection %d got no answer", i);
        cr_assert_eq(r.status, 408);
        cr_assert(hc_wait_closed(&slow[i]));
        hc_close(&slow[i]);
    }
    uint64_t took = ac_now_ns() - t0;
    cr_assert_geq(took, 300000000ull, "not before the deadline");
    hc_close(&c);
    stop();
    cr_assert_eq(T.stats.request_timeouts, SLOW);
}

Test(net_http_server, stop_lets_pending_answers_finish)
{
    static struct hc c;
    struct hc_resp r;
    T.later_ns = 200000000;
    start();
    cr_assert(hc_open(&c, T.port));
    cr_assert(hc_sends(&c, "GET /later/9 HTTP/1.1\r\nHost: t\r\n\r\n"));
    for (int i = 0; i < 1000 && atomic_load(&T.requests) == 0; i++)
        usleep(1000); /* bounded wait for the dispatch */
    cr_assert_eq(atomic_load(&T.requests), 1);
    ac_runtime_stop(T.rt);
    cr_assert(hc_read(&c, &r, false));
    cr_assert_str_eq(r.body, "9");
    cr_assert(hc_wait_closed(&c));
    hc_close(&c);
    stop();
}

/* ---- every answer delivered: the corpus over real TCP ------------------- */

enum corpus_mode {
    CM_PLAIN,          /* the bad request, then wait */
    CM_HALF_CLOSE,     /* the bad request, then shutdown(SHUT_WR) */
    CM_PIPELINED,      /* the bad request and a good one behind it */
    CM_PIPELINED_HALF, /* both, then shutdown(SHUT_WR) */
    CM_COUNT
};

static const char *const corpus_mode_name[CM_COUNT] = {"plain", "half-close", "pipelined",
                                                       "pipelined+half-close"};

/* Sends one corpus request as `mode` says; the answer must be `status`, then the close. */
static void check_corpus_over_tcp(const char *name, const char *data, size_t len, int status,
                                  enum corpus_mode mode)
{
    static struct hc c;
    static const char good[] = "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n";
    struct hc_resp r;
    cr_assert(hc_open(&c, T.port));
    cr_assert(hc_send(&c, data, len), "%s (%s): send", name, corpus_mode_name[mode]);
    if (mode == CM_PIPELINED || mode == CM_PIPELINED_HALF)
        hc_sends(&c, good); /* the server may have closed already: not checked */
    if (mode == CM_HALF_CLOSE || mode == CM_PIPELINED_HALF)
        shutdown(c.fd, SHUT_WR);
    cr_assert(hc_read(&c, &r, false), "%s (%s): no answer", name, corpus_mode_name[mode]);
    cr_assert_eq(r.status, status, "%s (%s): status %d", name, corpus_mode_name[mode], r.status);
    cr_assert(strstr(r.head, "Connection: close"), "%s: an error answer closes", name);
    cr_assert(hc_wait_closed(&c), "%s (%s): not closed", name, corpus_mode_name[mode]);
    hc_close(&c);
}

Test(net_http_server, every_corpus_error_is_delivered_with_and_without_half_close_and_pipelining)
{
    DIR *d = opendir(AC_HTTP_CORPUS);
    struct dirent *de;
    unsigned files = 0;
    cr_assert_not_null(d);
    start();
    while ((de = readdir(d))) {
        char path[512], code[64];
        size_t len;
        int status;
        if (de->d_name[0] == '.')
            continue;
        cr_assert_eq(sscanf(de->d_name, "%d.%63[^.]", &status, code), 2);
        snprintf(path, sizeof path, "%s/%s", AC_HTTP_CORPUS, de->d_name);
        char *data = hc_read_file(path, &len);
        cr_assert_not_null(data, "%s", path);
        for (int m = 0; m < CM_COUNT; m++)
            check_corpus_over_tcp(de->d_name, data, len, status, (enum corpus_mode)m);
        free(data);
        files++;
    }
    closedir(d);
    stop();
    cr_assert_geq(files, 50, "the corpus holds %u files", files);
    cr_assert_eq(atomic_load(&T.requests), 0, "no request behind an error is served");
    cr_assert_eq(T.stats.parse_errors, files * CM_COUNT);
}

Test(net_http_server, closing_answers_are_delivered_after_a_half_close)
{
    static const char *const reqs[] = {
        "GET /1 HTTP/1.0\r\n\r\n",
        "GET /2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "GET /later/3 HTTP/1.0\r\n\r\n", /* answered after the EOF arrived */
        "GET /later/4 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    };
    static struct hc c;
    struct hc_resp r;
    start();
    for (unsigned round = 0; round < 20; round++) {
        for (unsigned i = 0; i < 4; i++) {
            cr_assert(hc_open(&c, T.port));
            cr_assert(hc_sends(&c, reqs[i]));
            shutdown(c.fd, SHUT_WR);
            cr_assert(hc_read(&c, &r, false), "round %u request %u: no answer", round, i);
            cr_assert_eq(r.status, 200);
            cr_assert_eq((unsigned)atoi(r.body), i + 1);
            cr_assert(hc_wait_closed(&c));
            hc_close(&c);
        }
    }
    stop();
}

Test(net_http_server, lingering_ends_once_linger_max_bytes_were_drained)
{
    static struct hc c;
    static char junk[64 * 1024];
    struct hc_resp r;
    T.cfg.linger_ns = 120000000000ull; /* only the byte bound can end it within the wait */
    T.cfg.linger_max = 4096;
    start();
    memset(junk, 'j', sizeof junk);
    cr_assert(hc_open(&c, T.port));
    cr_assert(hc_sends(&c, "GET /1 HTTP/1.1\r\n\r\n")); /* no Host: 400 */
    cr_assert(hc_read(&c, &r, false));
    cr_assert_eq(r.status, 400);
    /* keep sending: the server drains linger_max bytes, then closes, and
     * a send after that fails (reset); while it lingers every send works */
    struct timeval tv = {10, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    bool closed = false;
    for (int i = 0; i < 256 && !closed; i++) {
        closed = !hc_send(&c, junk, sizeof junk);
        if (!closed)
            usleep(1000); /* lets the reset arrive; bounded by the loop */
    }
    cr_assert(closed, "still draining after %zu bytes", sizeof junk * 256);
    hc_close(&c);
    stop();
}

/* ---- connection limits -------------------------------------------------- */

/* Holds `n` served connections, then checks that one more is told 503 and
 * closed, and that a slot given back is usable again. */
static void check_connection_limit(unsigned n)
{
    static struct hc held[8], extra;
    struct hc_resp r;
    char v[16];
    for (unsigned i = 0; i < n; i++) {
        r.status = 0;
        /* bounded retries: start()'s probe connection may not be released yet */
        for (int tries = 0; tries < 200 && r.status != 200; tries++) {
            cr_assert(hc_open(&held[i], T.port));
            cr_assert(hc_sends(&held[i], "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"));
            cr_assert(hc_read(&held[i], &r, false));
            if (r.status != 200) {
                hc_close(&held[i]);
                usleep(5000);
            }
        }
        cr_assert_eq(r.status, 200, "connection %u is within the limit", i);
    }
    cr_assert(hc_open(&extra, T.port));
    cr_assert(hc_sends(&extra, "GET /2 HTTP/1.1\r\nHost: t\r\n\r\n"));
    cr_assert(hc_read(&extra, &r, false));
    cr_assert_eq(r.status, 503);
    cr_assert(hc_header(&r, "Retry-After", v, sizeof v));
    cr_assert_not_null(strstr(r.body, "too_many_connections"), "%s", r.body);
    cr_assert(hc_wait_closed(&extra));
    hc_close(&extra);
    /* one held connection goes: a new one is served (bounded retries while
     * the server sees the close) */
    hc_close(&held[0]);
    int st = 0;
    for (int i = 0; i < 200 && st != 200; i++) {
        st = hc_status_of(T.port, "GET /3 HTTP/1.1\r\nHost: t\r\n\r\n", &r);
        if (st != 200)
            usleep(5000);
    }
    cr_assert_eq(st, 200, "the freed slot is not reused");
    for (unsigned i = 1; i < n; i++)
        hc_close(&held[i]);
}

Test(net_http_server, connection_past_max_conns_gets_503_and_is_closed)
{
    T.cfg.max_conns = 3;
    start(); /* its probe connection has closed before the test holds any */
    check_connection_limit(3);
    stop();
    cr_assert_geq(T.stats.conns_refused, 1);
}

Test(net_http_server, connection_past_the_shared_budget_gets_503_and_is_closed)
{
    ac_http_conn_budget *b;
    cr_assert_eq(ac_http_conn_budget_create(2, &b), 0);
    T.cfg.budget = b;
    start();
    check_connection_limit(2);
    stop();
    cr_assert_eq(ac_http_conn_budget_used(b), 0, "every connection gave its unit back");
    ac_http_conn_budget_destroy(b);
}

Test(net_http_server, answers_past_max_buffered_close_the_connection)
{
    static struct hc c;
    struct hc_resp r;
    T.cfg.max_output = 16384;
    T.cfg.max_buffered = 65536;
    start();
    cr_assert(hc_open(&c, T.port));
    cr_assert(hc_sends(&c, "GET /flood HTTP/1.1\r\nHost: t\r\n\r\n"));
    cr_assert(!hc_read(&c, &r, false), "a 1 MiB answer cannot pass a 64 KiB bound");
    hc_close(&c);
    cr_assert_eq(hc_status_of(T.port, "GET /4 HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    stop();
    cr_assert_eq(T.stats.buffer_closes, 1);
}
