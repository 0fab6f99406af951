/* The epoll backend's readiness latches, on an epoll ring whatever AC_BACKEND says. */
#include "../../net/internal.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char bufs[4][4096];

struct rx {
    struct ac_op op;
    int calls, data, eof_res;
    bool ended;
};

static void on_recv(struct ac_op *op, int res, uint32_t flags)
{
    struct rx *x = AC_CONTAINER_OF(op, struct rx, op);
    x->calls++;
    if (res > 0) {
        x->data += res;
        /* give the buffer back, as the pool's recycling would */
        uint16_t bid = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
        ac__ring_pbuf_add(ac_ring_current(), bufs[bid], sizeof bufs[bid], bid);
    }
    if (!(flags & IORING_CQE_F_MORE)) {
        x->ended = true;
        x->eof_res = res;
    }
}

/* A connected pair over loopback: *srv is the accepted end. */
static void tcp_pair(int *cli, int *srv)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(l, 1), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
    *cli = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(*cli, (struct sockaddr *)&a, sizeof a), 0);
    *srv = accept4(l, NULL, NULL, SOCK_NONBLOCK);
    cr_assert_geq(*srv, 0);
    close(l);
}

/*
 * Regression: data and the peer's FIN reported in one edge, then a short
 * read cleared the latch — and the EOF behind the data has no edge of its
 * own, so the receive waited forever (HTTP half-close test, 1 run in 2
 * under ASan).
 */
Test(net_backend_epoll, eof_reported_with_the_data_still_ends_the_receive, .timeout = 30)
{
    struct ac_ring_config cfg = {.backend = AC_RING_BACKEND_EPOLL, .entries = 8};
    struct ac_ring *r;
    bool inc;
    int cli, srv;
    cr_assert_eq(ac_ring_create(&cfg, &r), 0);
    ac_ring_set_current(r);
    cr_assert_eq(ac__ring_pbuf_register(r, 0, 4, false, &inc), 0);
    for (uint16_t i = 0; i < 4; i++)
        ac__ring_pbuf_add(r, bufs[i], sizeof bufs[i], i);
    tcp_pair(&cli, &srv);

    /* armed on an empty socket: it waits, the fd is in the epoll set */
    struct rx x = {.op = {.complete = on_recv, .kind = AC_OP_RECV_MULTI, .fd = srv}};
    cr_assert_eq(ac_ring_submit(r, &x.op), 0);
    cr_assert_eq(ac_ring_enter(r, 0), 0);
    cr_assert_eq(ac_ring_dispatch(r), 0);

    /* data and FIN both arrive before the next wait */
    cr_assert_eq(write(cli, "hello", 5), 5);
    cr_assert_eq(shutdown(cli, SHUT_WR), 0);
    struct pollfd p = {.fd = srv, .events = POLLRDHUP};
    cr_assert_eq(poll(&p, 1, 5000), 1);

    for (int i = 0; i < 20 && !x.ended; i++) {
        cr_assert_eq(ac_ring_enter(r, 100 * 1000000ull), 0);
        ac_ring_dispatch(r);
    }
    cr_assert_eq(x.data, 5);
    cr_assert(x.ended, "the EOF ended the receive");
    cr_assert_eq(x.eof_res, 0);
    ac_ring_set_current(NULL);
    ac__ring_pbuf_unregister(r, 0);
    ac_ring_destroy(r);
    close(cli);
    close(srv);
}

/* A send larger than the socket buffer returns short; the rest goes out
 * once the peer reads (EPOLLOUT edge), never stalls. */
struct tx {
    struct ac_op op;
    int res, calls;
};

static void on_send(struct ac_op *op, int res, uint32_t flags)
{
    (void)flags;
    struct tx *t = AC_CONTAINER_OF(op, struct tx, op);
    t->res = res;
    t->calls++;
}

Test(net_backend_epoll, send_waits_for_room_after_a_short_send, .timeout = 30)
{
    struct ac_ring_config cfg = {.backend = AC_RING_BACKEND_EPOLL, .entries = 8};
    struct ac_ring *r;
    int cli, srv, small = 4096;
    static char big[1 << 20], sink[1 << 16];
    cr_assert_eq(ac_ring_create(&cfg, &r), 0);
    tcp_pair(&cli, &srv);
    setsockopt(srv, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(cli, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);

    struct tx t = {.op = {.complete = on_send,
                          .kind = AC_OP_SEND,
                          .fd = srv,
                          .u.send = {.buf = big, .len = sizeof big, .fixed_index = -1}}};
    cr_assert_eq(ac_ring_submit(r, &t.op), 0);
    cr_assert_eq(ac_ring_enter(r, 0), 0);
    cr_assert_eq(ac_ring_dispatch(r), 1);
    cr_assert_gt(t.res, 0);
    cr_assert_lt(t.res, (int)sizeof big, "short: the buffer is small");
    size_t sent = (size_t)t.res;

    /* the rest goes out as the peer reads: every send completes, none stalls */
    size_t got = 0;
    bool busy = false;
    for (int i = 0; i < 100000 && got < sizeof big; i++) {
        if (!busy && sent < sizeof big) {
            t.op.u.send.buf = big + sent;
            t.op.u.send.len = (uint32_t)(sizeof big - sent);
            t.calls = 0;
            cr_assert_eq(ac_ring_submit(r, &t.op), 0);
            busy = true;
        }
        ssize_t k = recv(cli, sink, sizeof sink, MSG_DONTWAIT);
        if (k > 0)
            got += (size_t)k;
        cr_assert_eq(ac_ring_enter(r, 10 * 1000000ull), 0);
        ac_ring_dispatch(r);
        if (busy && t.calls) {
            cr_assert_gt(t.res, 0, "%s", strerror(-t.res));
            sent += (size_t)t.res;
            busy = false;
        }
    }
    cr_assert_eq(sent, sizeof big, "sent %zu got %zu calls %d res %d", sent, got, t.calls, t.res);
    cr_assert_eq(got, sizeof big);
    ac_ring_destroy(r);
    close(cli);
    close(srv);
}
