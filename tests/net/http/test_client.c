/*
 * The HTTP client (net/http/client.c) on a real shard against a small
 * blocking server thread whose behaviour each test picks: answer with
 * keep-alive, answer chunked, answer then close, or never answer. Waits
 * are bounded (TSH_WAIT, SO_RCVTIMEO in the server).
 */
#include "net/resp/helpers.h"

#include <sys/time.h>

enum behaviour { KEEP_ALIVE, CHUNKED, CLOSE_AFTER_ONE, SILENT };

struct server {
    int fd;
    uint16_t port;
    enum behaviour how;
    _Atomic unsigned accepted, requests, open;
    _Atomic bool stop;
    pthread_t thread;
};

/* Reads one request head plus its Content-Length body; false on EOF/timeout. */
static bool read_request(int fd)
{
    char buf[8192];
    size_t len = 0;
    char *end;
    while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
        ssize_t k = recv(fd, buf + len, sizeof buf - len, 0);
        if (k <= 0)
            return false;
        len += (size_t)k;
    }
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t want = (size_t)(end - buf) + 4 + (cl ? strtoul(cl + 15, NULL, 10) : 0);
    while (len < want) {
        ssize_t k = recv(fd, buf + len, sizeof buf - len, 0);
        if (k <= 0)
            return false;
        len += (size_t)k;
    }
    return true;
}

struct conn_arg {
    struct server *s;
    int fd;
};

/* One connection: answers as the test asked until the client closes. */
static void *serve_conn(void *arg)
{
    struct conn_arg *ca = arg;
    struct server *s = ca->s;
    int c = ca->fd;
    struct timeval tv = {.tv_sec = 5};
    free(ca);
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (read_request(c)) {
        unsigned n = atomic_fetch_add(&s->requests, 1) + 1;
        char out[256];
        int len = 0;
        if (s->how == SILENT)
            continue;
        if (s->how == CHUNKED)
            len = snprintf(out, sizeof out,
                           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        else
            len = snprintf(out, sizeof out,
                           "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\n"
                           "X-Req: %u\r\nContent-Length: 5\r\n\r\nreq-%u",
                           n, n % 10);
        if (send(c, out, (size_t)len, MSG_NOSIGNAL) != len)
            break;
        if (s->how == CLOSE_AFTER_ONE)
            break; /* closes without saying so: the client finds out on reuse */
    }
    close(c);
    atomic_fetch_sub(&s->open, 1);
    return NULL;
}

/* Accepts until stopped; a thread per connection (the client pools several). */
static void *serve(void *arg)
{
    struct server *s = arg;
    while (!atomic_load(&s->stop)) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue; /* SO_RCVTIMEO on the listener: look at stop again */
        atomic_fetch_add(&s->open, 1);
        atomic_fetch_add(&s->accepted, 1);
        struct conn_arg *ca = malloc(sizeof *ca);
        pthread_t t;
        cr_assert_not_null(ca);
        *ca = (struct conn_arg){s, c};
        cr_assert_eq(pthread_create(&t, NULL, serve_conn, ca), 0);
        pthread_detach(t);
    }
    return NULL;
}

static void server_start(struct server *s, enum behaviour how)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    struct timeval tv = {.tv_usec = 100000};
    memset(s, 0, sizeof *s);
    s->how = how;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(s->fd, 0);
    cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->fd, 16), 0);
    cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
    setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->fd);
    /* connection threads end when the client closes (or 5 s idle) */
    for (int i = 0; i < 1000 && atomic_load(&s->open); i++)
        usleep(10000);
    cr_assert_eq(atomic_load(&s->open), 0, "a server connection outlived the client");
}

/* The test's state, reached from the shard by message. */
struct ctx {
    struct tshard sh;
    ac_http_client *cl;
    char peer[32];
    uint64_t timeout_ns;
    _Atomic bool flag;
    int res, status;
    char body[64];
    char xreq[16];
};

static void on_response(void *arg, int res, const struct ac_http_client_response *r)
{
    struct ctx *x = arg;
    x->res = res;
    if (!res) {
        x->status = r->status;
        snprintf(x->body, sizeof x->body, "%.*s", (int)r->body.len, r->body.p);
        x->xreq[0] = 0;
        for (unsigned i = 0; i < r->nheaders; i++)
            if (r->headers[i].name.len == 5 && strncmp(r->headers[i].name.p, "X-Req", 5) == 0)
                snprintf(x->xreq, sizeof x->xreq, "%.*s", (int)r->headers[i].value.len,
                         r->headers[i].value.p);
    }
    atomic_store(&x->flag, true);
}

static void send_on_shard(void *arg)
{
    struct ctx *x = arg;
    if (!x->cl)
        cr_assert_eq(ac_http_client_create(x->sh.net[0], NULL, &x->cl), 0);
    struct ac_http_header h = {{"X-Test", 6}, {"1", 1}};
    struct ac_http_client_request rq = {.method = "POST",
                                        .path = "/v1/x",
                                        .headers = &h,
                                        .nheaders = 1,
                                        .body = "{\"a\":1}",
                                        .body_len = 7,
                                        .deadline_ns = ac_now_ns() + x->timeout_ns};
    int err = ac_http_client_request(x->cl, x->peer, &rq, on_response, x);
    if (err) {
        x->res = err;
        x->status = -1;
        atomic_store(&x->flag, true);
    }
}

static void destroy_on_shard(void *arg)
{
    struct ctx *x = arg;
    ac_http_client_destroy(x->cl);
    x->cl = NULL;
    atomic_store(&x->flag, true);
}

static void start(struct ctx *x, uint16_t port)
{
    memset(x, 0, sizeof *x);
    tsh_start(&x->sh, 1);
    snprintf(x->peer, sizeof x->peer, "127.0.0.1:%u", port);
    x->timeout_ns = 5000000000ull;
}

static void one(struct ctx *x)
{
    atomic_store(&x->flag, false);
    x->res = x->status = 0;
    tsh_run(&x->sh, 0, send_on_shard, x);
    TSH_WAIT(&x->flag, 10000, "no callback");
}

static void finish(struct ctx *x)
{
    atomic_store(&x->flag, false);
    tsh_run(&x->sh, 0, destroy_on_shard, x);
    TSH_WAIT(&x->flag, 5000, "destroy did not run");
    tsh_stop(&x->sh);
}

Test(net_http_client, keep_alive_connection_is_reused)
{
    static struct server s;
    static struct ctx x;
    server_start(&s, KEEP_ALIVE);
    start(&x, s.port);
    for (int i = 1; i <= 5; i++) {
        one(&x);
        cr_assert_eq(x.res, 0, "%s", ac_strerror(x.res));
        cr_assert_eq(x.status, 201);
        char want[16];
        snprintf(want, sizeof want, "req-%d", i);
        cr_assert_str_eq(x.body, want);
        snprintf(want, sizeof want, "%d", i);
        cr_assert_str_eq(x.xreq, want);
    }
    cr_assert_eq(atomic_load(&s.accepted), 1, "one pooled connection served all five");
    finish(&x);
    server_stop(&s);
}

Test(net_http_client, chunked_body_is_dechunked)
{
    static struct server s;
    static struct ctx x;
    server_start(&s, CHUNKED);
    start(&x, s.port);
    one(&x);
    cr_assert_eq(x.res, 0);
    cr_assert_eq(x.status, 200);
    cr_assert_str_eq(x.body, "hello world");
    finish(&x);
    server_stop(&s);
}

Test(net_http_client, stale_idle_connection_is_retried_once_on_a_new_one)
{
    static struct server s;
    static struct ctx x;
    server_start(&s, CLOSE_AFTER_ONE);
    start(&x, s.port);
    for (int i = 1; i <= 3; i++) {
        one(&x);
        cr_assert_eq(x.res, 0, "request %d: %s", i, ac_strerror(x.res));
        cr_assert_eq(x.status, 201);
    }
    cr_assert_eq(atomic_load(&s.requests), 3, "no request was sent twice to the server");
    cr_assert_eq(atomic_load(&s.accepted), 3);
    finish(&x);
    server_stop(&s);
}

Test(net_http_client, silent_peer_fails_at_the_deadline)
{
    static struct server s;
    static struct ctx x;
    server_start(&s, SILENT);
    start(&x, s.port);
    x.timeout_ns = 200000000ull;
    one(&x);
    cr_assert_eq(x.res, -ETIMEDOUT, "%s", ac_strerror(x.res));
    finish(&x);
    server_stop(&s);
}

Test(net_http_client, unreachable_peer_fails_with_the_connect_error)
{
    static struct ctx x;
    start(&x, free_port()); /* nothing listens there */
    one(&x);
    cr_assert_eq(x.res, -ECONNREFUSED, "%s", ac_strerror(x.res));
    finish(&x);
}

Test(net_http_client, bad_peer_is_refused_without_callback)
{
    static struct ctx x;
    start(&x, 1);
    snprintf(x.peer, sizeof x.peer, "localhost:80");
    one(&x);
    cr_assert_eq(x.status, -1, "callback ran for a refused request");
    cr_assert_eq(x.res, -EINVAL);
    finish(&x);
}

/* Requests beyond the pool's cap wait for a connection; none is lost. */
struct burst {
    struct ctx *x;
    _Atomic unsigned done, ok;
};

static struct burst burst;

static void on_burst(void *arg, int res, const struct ac_http_client_response *r)
{
    struct burst *b = arg;
    if (res == 0 && r->status == 201)
        atomic_fetch_add(&b->ok, 1);
    if (atomic_fetch_add(&b->done, 1) + 1 == 12)
        atomic_store(&b->x->flag, true);
}

static void burst_on_shard(void *arg)
{
    struct ctx *x = arg;
    struct ac_http_client_config cfg;
    ac_http_client_config_init(&cfg);
    cfg.max_conns_per_peer = 2;
    cr_assert_eq(ac_http_client_create(x->sh.net[0], &cfg, &x->cl), 0);
    for (int i = 0; i < 12; i++) {
        struct ac_http_client_request rq = {
            .method = "GET", .path = "/", .deadline_ns = ac_now_ns() + 5000000000ull};
        cr_assert_eq(ac_http_client_request(x->cl, x->peer, &rq, on_burst, &burst), 0);
    }
}

Test(net_http_client, requests_over_the_pool_cap_queue_and_all_complete)
{
    static struct server s;
    static struct ctx x;
    server_start(&s, KEEP_ALIVE);
    start(&x, s.port);
    burst.x = &x;
    tsh_run(&x.sh, 0, burst_on_shard, &x);
    TSH_WAIT(&x.flag, 10000, "%u of 12 answered", atomic_load(&burst.done));
    cr_assert_eq(atomic_load(&burst.ok), 12);
    cr_assert_leq(atomic_load(&s.accepted), 2, "the pool opened %u connections",
                  atomic_load(&s.accepted));
    cr_assert_eq(atomic_load(&s.requests), 12);
    finish(&x);
    server_stop(&s);
}
