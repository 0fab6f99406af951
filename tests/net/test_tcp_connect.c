/*
 * The client side (ac_tcp_connect): success with data both ways over the
 * same send/recv machinery, ECONNREFUSED from a closed port, and the
 * timeout path against a listener whose accept queue is full (the kernel
 * then drops SYNs, loopback only). Each case runs a one-shard runtime that
 * connects from its start hook and stops its net once the connect callback
 * ran; the net's stop callback fires only after every handle was freed, so
 * counting callbacks there proves "exactly once", and ASan/LSan see any
 * connection or request left behind.
 */
#include "helpers.h"

#include <poll.h>

struct ctest {
    struct sockaddr_in addr;
    uint64_t timeout_ns;
    bool exchange; /* on success: send "ping", expect "pong", then close */
    ac_net *net;
    /* written on the shard, read after the runtime stopped */
    int connect_calls, res;
    bool conn_null;
    char got[8];
    size_t got_len;
    int read_end; /* read callback's final res */
    int write_res, close_calls, stop_calls;
    struct ac_net_stats final;
};

static void ct_stopped(void *arg, ac_net *net)
{
    struct ctest *t = arg;
    t->stop_calls++;
    ac_net_stats(net, &t->final);
    ac_net_destroy(net);
    t->net = NULL;
    ac_runtime_stop(ac_runtime_current());
}

static void ct_stop_net(struct ctest *t)
{
    ac_net_stop(t->net, ac_now_ns() + 2000000000ull, ct_stopped, t);
}

static void ct_closed(void *arg, ac_tcp_conn *c)
{
    (void)c;
    struct ctest *t = arg;
    t->close_calls++;
    ct_stop_net(t);
}

static void ct_read(void *arg, ac_tcp_conn *c, int res, const struct ac_slice *s)
{
    struct ctest *t = arg;
    if (res > 0) {
        size_t n =
            (size_t)res < sizeof t->got - t->got_len ? (size_t)res : sizeof t->got - t->got_len;
        memcpy(t->got + t->got_len, s->data, n);
        t->got_len += n;
        if (t->got_len < 4)
            return;
    }
    t->read_end = res;
    if (!ac_tcp_is_closing(c))
        ac_tcp_close(c, ct_closed, t);
}

static void ct_written(void *arg, ac_tcp_conn *c, int res)
{
    (void)c;
    struct ctest *t = arg;
    t->write_res = res;
}

static void ct_connected(void *arg, ac_tcp_conn *c, int res)
{
    struct ctest *t = arg;
    t->connect_calls++;
    t->res = res;
    t->conn_null = c == NULL;
    if (res != 0 || !c) {
        ct_stop_net(t);
        return;
    }
    if (!t->exchange) {
        ac_tcp_close(c, ct_closed, t);
        return;
    }
    if (ac_tcp_read_start(c, ct_read, t) != 0 || ac_tcp_write(c, "ping", 4, ct_written, t) != 0)
        ac_tcp_close(c, ct_closed, t);
}

static void ct_start(void *arg, unsigned shard)
{
    (void)shard;
    struct ctest *t = arg;
    int err = ac_net_create(NULL, &t->net);
    if (err == 0)
        err = ac_tcp_connect(t->net, (struct sockaddr *)&t->addr, sizeof t->addr, t->timeout_ns,
                             ct_connected, t);
    if (err) {
        t->res = err;
        if (t->net)
            ac_net_destroy(t->net);
        t->net = NULL;
        ac_runtime_stop(ac_runtime_current());
    }
}

/* Runs one connect on a one-shard runtime until its net has stopped. */
static void ct_run(struct ctest *t)
{
    ac_runtime *rt;
    ac_runtime_config cfg;
    ac_runtime_config_init(&cfg);
    cfg.handle_signals = false;
    cfg.shards = 1;
    cfg.on_shard_start = ct_start;
    cfg.hook_arg = t;
    cr_assert_eq(ac_runtime_create(&cfg, &rt), 0);
    int err = ac_runtime_run(rt);
    ac_runtime_destroy(rt);
    cr_assert_eq(err, 0, "runtime: %s", ac_strerror(err));
    if (t->res == -EOPNOTSUPP && t->connect_calls == 0)
        cr_skip_test("kernel lacks provided-buffer rings or IORING_OP_CONNECT");
}

static void ct_init(struct ctest *t, uint16_t port, uint64_t timeout_ns)
{
    memset(t, 0, sizeof *t);
    t->addr = (struct sockaddr_in){
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    t->timeout_ns = timeout_ns;
    t->read_end = 1; /* "never called" */
}

static int listener(int backlog, uint16_t *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, backlog), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* The peer of the success case: answers "ping" with "pong", then waits for EOF. */
struct peer {
    int lfd;
    char got[4];
    ssize_t eof; /* the read after "pong": 0 when the client closed */
};

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    struct pollfd pfd = {.fd = p->lfd, .events = POLLIN};
    p->eof = -1;
    if (poll(&pfd, 1, 20000) != 1)
        return NULL;
    int fd = accept(p->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t have = 0;
    while (have < sizeof p->got) {
        ssize_t r = recv(fd, p->got + have, sizeof p->got - have, 0);
        if (r <= 0)
            goto out;
        have += (size_t)r;
    }
    if (send(fd, "pong", 4, MSG_NOSIGNAL) == 4)
        p->eof = recv(fd, p->got, 1, 0);
out:
    close(fd);
    return NULL;
}

Test(net_tcp_connect, connects_and_exchanges_data_then_closes, .timeout = 60)
{
    struct peer p = {0};
    uint16_t port;
    p.lfd = listener(16, &port);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, peer_main, &p), 0);
    struct ctest t;
    ct_init(&t, port, 5000000000ull);
    t.exchange = true;
    ct_run(&t);
    pthread_join(th, NULL);
    close(p.lfd);
    cr_assert_eq(t.connect_calls, 1, "connect callback ran %d times", t.connect_calls);
    cr_assert_eq(t.res, 0, "connect: %s", ac_strerror(t.res));
    cr_assert(!t.conn_null);
    cr_assert_eq(memcmp(p.got, "ping", 4), 0, "the peer got what the client wrote");
    cr_assert_eq(t.write_res, 0);
    cr_assert_eq(t.got_len, 4);
    cr_assert_eq(memcmp(t.got, "pong", 4), 0, "the client read the peer's answer");
    cr_assert_eq(t.read_end, 4);
    cr_assert_eq(t.close_calls, 1);
    cr_assert_eq(t.stop_calls, 1);
    cr_assert_eq(p.eof, 0, "the peer saw the client's close as EOF");
    cr_assert_eq(t.final.conns_open, 0);
    cr_assert_eq(t.final.bytes_out, 4);
    cr_assert_eq(t.final.bytes_in, 4);
}

Test(net_tcp_connect, closed_port_fails_with_econnrefused, .timeout = 30)
{
    /* Bound but not listening: the port stays ours and answers SYNs with RST. */
    int fd;
    uint16_t port = reserve_port(&fd);
    struct ctest t;
    ct_init(&t, port, 5000000000ull);
    ct_run(&t);
    close(fd);
    cr_assert_eq(t.connect_calls, 1, "connect callback ran %d times", t.connect_calls);
    cr_assert_eq(t.res, -ECONNREFUSED, "res %d (%s)", t.res, ac_strerror(t.res));
    cr_assert(t.conn_null, "a failed connect hands out no connection");
    cr_assert_eq(t.close_calls, 0);
    cr_assert_eq(t.stop_calls, 1);
    cr_assert_eq(t.final.conns_open, 0, "the half-made connection was freed");
}

Test(net_tcp_connect, full_accept_queue_makes_connect_time_out, .timeout = 60)
{
    /* backlog 0: the kernel queues at most one or two connections, then
     * drops SYNs (no RST), so a connect can only end by our timeout.
     * Fill the queue with blocking connects bounded by SO_SNDTIMEO until
     * one cannot finish: from then on SYNs are being dropped. */
    uint16_t port;
    int lfd = listener(0, &port);
    int fill[8], nfill = 0;
    bool full = false;
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    while (nfill < 8 && !full) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(fd, 0);
        struct timeval tv = {.tv_usec = 200000};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        fill[nfill++] = fd;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            cr_assert(errno == EINPROGRESS || errno == ETIMEDOUT || errno == EAGAIN,
                      "filler connect: %s", strerror(errno));
            full = true;
        }
    }
    cr_assert(full, "the accept queue never filled up");
    struct ctest t;
    ct_init(&t, port, 100 * 1000000ull);
    uint64_t t0 = ac_now_ns();
    ct_run(&t);
    uint64_t took = ac_now_ns() - t0;
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    close(lfd);
    cr_assert_eq(t.connect_calls, 1, "connect callback ran %d times", t.connect_calls);
    cr_assert_eq(t.res, -ETIMEDOUT, "res %d (%s)", t.res, ac_strerror(t.res));
    cr_assert(t.conn_null);
    cr_assert_eq(t.stop_calls, 1);
    cr_assert_eq(t.final.conns_open, 0);
    /* Not a timing assertion on speed: the timeout must not fire early. */
    cr_assert_geq(took, 100 * 1000000ull, "timed out after %llu ns", (unsigned long long)took);
}
