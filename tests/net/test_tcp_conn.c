/* Connections: echo correctness at 1..2000 connections, half-close, peer
 * reset, close with operations in flight, idle timeout. */
#include "helpers.h"

#include <sys/resource.h>

Test(net_tcp_conn, one_connection_echoes_a_megabyte_in_order, .timeout = 60)
{
    struct tsrv t;
    tsrv_init(&t, 1);
    tsrv_start(&t);
    uint64_t n = 0;
    for (uint32_t seed = 1; seed <= 4; seed++)
        n += echo_clients(t.port, 1, 1 << 20, seed * 7919, 30);
    tsrv_stop(&t);
    cr_assert_gt(n, 0);
    cr_assert_eq(TSRV_SUM(&t, bytes_in), n);
    cr_assert_eq(TSRV_SUM(&t, bytes_out), n);
}

Test(net_tcp_conn, hundred_connections_echo_random_sizes_up_to_1mib, .timeout = 60)
{
    struct tsrv t;
    tsrv_init(&t, 1);
    tsrv_start(&t);
    uint64_t n = echo_clients(t.port, 100 / AC_TEST_SCALE, (1 << 20) / AC_TEST_SCALE, 42, 45);
    tsrv_stop(&t);
    cr_assert_eq(TSRV_SUM(&t, bytes_out), n);
    cr_assert_eq(TSRV_SUM(&t, accepted), 100 / AC_TEST_SCALE);
}

Test(net_tcp_conn, two_thousand_connections_on_two_shards_echo_everything, .timeout = 60)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 4200) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < 4200)
            cr_skip_test("RLIMIT_NOFILE too low for 2000 connections");
    }
    struct tsrv t;
    tsrv_init(&t, 2);
    tsrv_start(&t);
    uint64_t n = echo_clients(t.port, 2000, 16384 / AC_TEST_SCALE, 7, 50);
    tsrv_stop(&t);
    cr_assert_eq(TSRV_SUM(&t, accepted), 2000);
    cr_assert_eq(TSRV_SUM(&t, bytes_out), n);
    cr_assert_eq(TSRV_SUM(&t, conns_open), 0);
}

Test(net_tcp_conn, half_close_still_gets_the_echo_then_eof, .timeout = 30)
{
    struct tsrv t;
    tsrv_init(&t, 1);
    tsrv_start(&t);
    int fd = connect_to(t.port);
    char msg[3000], got[4000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)pattern(3, i);
    cr_assert_eq(send(fd, msg, sizeof msg, 0), (ssize_t)sizeof msg);
    cr_assert_eq(shutdown(fd, SHUT_WR), 0);
    size_t have = 0;
    for (int i = 0; i < 1000; i++) {
        ssize_t r = recv(fd, got + have, sizeof got - have, 0);
        cr_assert_geq(r, 0, "recv: %s", strerror(errno));
        if (r == 0)
            break;
        have += (size_t)r;
    }
    cr_assert_eq(have, sizeof msg);
    cr_assert_eq(memcmp(got, msg, sizeof msg), 0);
    close(fd);
    tsrv_stop(&t);
    cr_assert_eq(t.closes[0], 1, "the server closed after the echo");
}

Test(net_tcp_conn, peer_reset_closes_the_connection, .timeout = 30)
{
    struct tsrv t;
    tsrv_init(&t, 1);
    tsrv_start(&t);
    int fd = connect_to(t.port);
    char b = 'x';
    cr_assert_eq(send(fd, &b, 1, 0), 1);
    cr_assert_eq(recv(fd, &b, 1, 0), 1);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd); /* RST */
    struct ac_net_stats st;
    for (int i = 0; i < 2000; i++) {
        tsrv_live_stats(&t, &st);
        if (st.conns_open == 0)
            break;
        usleep(1000);
    }
    cr_assert_eq(st.conns_open, 0, "reset connection still open");
    tsrv_stop(&t);
    cr_assert_eq(t.closes[0], 1);
}

Test(net_tcp_conn, close_with_send_and_recv_in_flight_cancels_them, .timeout = 30)
{
    struct tsrv t;
    tsrv_init(&t, 1);
    t.mode = TSRV_WRITE_AND_CLOSE;
    t.ncfg.high_water = 64u << 20; /* keep the receive armed while the write is queued */
    tsrv_start(&t);
    int fds[8];
    for (int i = 0; i < 8; i++) {
        fds[i] = connect_to(t.port);
        cr_assert_eq(send(fds[i], "go", 2, 0), 2);
    }
    /* The client never reads: the 4 MiB writes cannot finish before the close. */
    struct ac_net_stats st;
    for (int i = 0; i < 2000; i++) {
        tsrv_live_stats(&t, &st);
        if (st.conns_open == 0)
            break;
        usleep(1000);
    }
    cr_assert_eq(st.conns_open, 0, "open %llu, sends %llu, partial %llu, out %llu",
                 (unsigned long long)st.conns_open, (unsigned long long)st.sends,
                 (unsigned long long)st.sends_partial, (unsigned long long)st.bytes_out);
    for (int i = 0; i < 8; i++)
        close(fds[i]);
    tsrv_stop(&t);
    cr_assert_eq(t.closes[0], 8);
    cr_assert_eq(t.write_cancelled[0], 8, "every queued write reported -ECANCELED");
}

Test(net_tcp_conn, idle_connection_is_closed_after_the_timeout, .timeout = 30)
{
    struct tsrv t;
    tsrv_init(&t, 1);
    t.scfg.idle_timeout_ns = 50 * 1000000ull;
    tsrv_start(&t);
    int fd = connect_to(t.port);
    char b = 'y';
    cr_assert_eq(send(fd, &b, 1, 0), 1);
    cr_assert_eq(recv(fd, &b, 1, 0), 1);
    cr_assert_eq(recv(fd, &b, 1, 0), 0, "server closed the silent connection");
    close(fd);
    tsrv_stop(&t);
    cr_assert_eq(TSRV_SUM(&t, idle_timeouts), 1);
}

Test(net_tcp_conn, sqpoll_rings_echo_every_byte_on_two_shards, .timeout = 60)
{
    skip_without_sqpoll();
    struct tsrv t;
    tsrv_init(&t, 2);
    t.sqpoll = true;
    tsrv_start(&t);
    uint64_t n = echo_clients(t.port, 64 / AC_TEST_SCALE, (256 << 10) / AC_TEST_SCALE, 11, 45);
    tsrv_stop(&t);
    cr_assert_gt(n, 0);
    cr_assert_eq(TSRV_SUM(&t, bytes_out), n);
    cr_assert_eq(TSRV_SUM(&t, accepted), 64 / AC_TEST_SCALE);
    cr_assert_eq(TSRV_SUM(&t, conns_open), 0);
}
