/*
 * The echo workload under injected faults (the `faults` preset): many
 * connections echo random-sized patterns while receives, sends, accepts
 * fail, sends come up short, the buffer ring "runs dry" and slab refills
 * find no memory. Every connection must end one of two ways — its whole
 * echo, byte for byte, or closed by the server (end of stream or reset)
 * with what it did receive correct — and none may hang. Then injection
 * stops and the same server must echo every connection of a clean run.
 * Leaks: LeakSanitizer at exit; buffers: bufpool_fini asserts none held.
 */
#include "net/helpers.h"

#include "agentcore/fault.h"

#include <stdio.h>

struct fconn {
    int fd;
    size_t total, sent, recvd;
    bool ended; /* answered or closed */
};

/* Counts of the two outcomes; fails the test on a wrong byte or a hang. */
static void faulty_clients(uint16_t port, unsigned n, size_t max_size, uint32_t seed,
                           unsigned *answered, unsigned *closed)
{
    struct fconn *cs = calloc(n, sizeof *cs);
    char *buf = malloc(1 << 16);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    unsigned done = 0;
    cr_assert(cs && buf && ep >= 0);
    *answered = *closed = 0;
    for (unsigned i = 0; i < n; i++) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        cs[i].total = 1 + seed % max_size;
        cs[i].fd = connect_to(port);
        int fl = 1;
        cr_assert_eq(ioctl(cs[i].fd, FIONBIO, &fl), 0);
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
        cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev), 0);
    }
    /* Failure detection only: a hung connection never ends. */
    uint64_t deadline = ac_now_ns() + 120 * 1000000000ull;
    struct epoll_event evs[256];
    while (done < n) {
        cr_assert_lt(ac_now_ns(), deadline, "hung: %u of %u connections ended", done, n);
        int k = epoll_wait(ep, evs, 256, 100);
        for (int e = 0; e < k; e++) {
            unsigned i = evs[e].data.u32;
            struct fconn *c = &cs[i];
            if (c->ended)
                continue;
            bool gone = false;
            if ((evs[e].events & EPOLLOUT) && c->sent < c->total) {
                char out[1 << 14];
                size_t m = c->total - c->sent < sizeof out ? c->total - c->sent : sizeof out;
                for (size_t j = 0; j < m; j++)
                    out[j] = (char)pattern(i, c->sent + j);
                ssize_t w = send(c->fd, out, m, MSG_NOSIGNAL);
                if (w > 0)
                    c->sent += (size_t)w;
                else if (errno == EPIPE || errno == ECONNRESET)
                    gone = true;
                else
                    cr_assert_eq(errno, EAGAIN, "send: %s", strerror(errno));
                if (c->sent == c->total) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (!gone && (evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                ssize_t r = recv(c->fd, buf, 1 << 16, 0);
                if (r < 0 && errno == EAGAIN)
                    continue;
                if (r <= 0) {
                    cr_assert(r == 0 || errno == ECONNRESET, "conn %u: recv: %s", i, strerror(errno));
                    gone = true;
                } else {
                    for (ssize_t j = 0; j < r; j++)
                        cr_assert_eq((uint8_t)buf[j], pattern(i, c->recvd + (size_t)j),
                                     "conn %u: byte %zu differs", i, c->recvd + (size_t)j);
                    c->recvd += (size_t)r;
                    cr_assert_leq(c->recvd, c->total);
                    if (c->recvd == c->total) {
                        (*answered)++;
                        c->ended = true;
                    }
                }
            }
            if (gone) {
                (*closed)++;
                c->ended = true;
            }
            if (c->ended) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                done++;
            }
        }
    }
    close(ep);
    free(buf);
    free(cs);
}

static void echo_under_faults(bool no_incremental)
{
    cr_assert(ac_fault_compiled());
    struct tsrv t;
    tsrv_init(&t, 2);
    t.ncfg.buf_count = 8;
    t.ncfg.buf_size = 4096;
    t.ncfg.no_incremental = no_incremental;
    tsrv_start(&t);

    unsigned answered = 0, closed = 0, total_answered = 0, total_closed = 0;
    ac_fault_set(0.02, (1u << AC_FAULT_KIND_COUNT) - 1);
    for (uint32_t round = 0; round < 4; round++) {
        faulty_clients(t.port, 64, 64 << 10, 1000 + round, &answered, &closed);
        total_answered += answered;
        total_closed += closed;
    }
    ac_fault_set(0, 0);
    cr_log_info("under faults: %u answered, %u closed; injected io %lu short %lu nobufs %lu alloc %lu",
                total_answered, total_closed, (unsigned long)ac_fault_count(AC_FAULT_IO),
                (unsigned long)ac_fault_count(AC_FAULT_SHORT_SEND),
                (unsigned long)ac_fault_count(AC_FAULT_NOBUFS),
                (unsigned long)ac_fault_count(AC_FAULT_ALLOC));
    cr_assert_gt(ac_fault_count(AC_FAULT_IO), 0, "faults were injected");
    cr_assert_gt(ac_fault_count(AC_FAULT_SHORT_SEND), 0);
    cr_assert_gt(ac_fault_count(AC_FAULT_NOBUFS), 0);
    cr_assert_gt(total_answered, 0);

    /* Injection off: normal service, every connection echoed in full. */
    uint64_t n = echo_clients(t.port, 64, 32 << 10, 4242, 120);
    tsrv_stop(&t);
    cr_assert_gt(n, 0);
    for (unsigned s = 0; s < t.shards; s++)
        cr_assert_eq(t.final[s].conns_open, 0, "shard %u: every connection closed", s);
}

Test(faults_echo, packed_buffers, .timeout = 300)
{
    echo_under_faults(false);
}

Test(faults_echo, whole_buffers, .timeout = 300)
{
    echo_under_faults(true);
}
