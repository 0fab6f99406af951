/* Listeners: connection limit, fallbacks when multishot kinds are masked. */
#include "helpers.h"

Test(net_tcp_server, connections_past_the_limit_are_closed_and_counted, .timeout = 30)
{
    struct tsrv t;
    tsrv_init(&t, 1);
    t.scfg.max_connections = 5;
    tsrv_start(&t);
    int fds[10], served = 0, refused = 0;
    for (int i = 0; i < 10; i++) {
        fds[i] = connect_to(t.port);
        char b = 'z';
        send(fds[i], &b, 1, MSG_NOSIGNAL);
        ssize_t r = recv(fds[i], &b, 1, 0);
        if (r == 1)
            served++;
        else
            refused++; /* EOF or reset */
    }
    for (int i = 0; i < 10; i++)
        close(fds[i]);
    tsrv_stop(&t);
    cr_assert_eq(served, 5);
    cr_assert_eq(refused, 5);
    cr_assert_eq(TSRV_SUM(&t, refused), 5);
    cr_assert_eq(TSRV_SUM(&t, accepted), 5);
}

Test(net_tcp_server, masked_multishot_falls_back_to_single_shot, .timeout = 60)
{
    struct tsrv t;
    tsrv_init(&t, 1);
    t.ncfg.mask_kinds =
        (1ull << AC_OP_ACCEPT_MULTI) | (1ull << AC_OP_RECV_MULTI) | (1ull << AC_OP_SEND_ZC);
    t.ncfg.zc_threshold = 1024; /* would use SEND_ZC if it were not masked */
    tsrv_start(&t);
    uint64_t n = echo_clients(t.port, 50, 200000 / AC_TEST_SCALE, 99, 45);
    tsrv_stop(&t);
    cr_assert_eq(TSRV_SUM(&t, bytes_out), n);
    cr_assert_eq(TSRV_SUM(&t, accepted), 50);
    cr_assert_gt(TSRV_SUM(&t, fallback_accept), 0);
    cr_assert_gt(TSRV_SUM(&t, fallback_recv), 0);
    cr_assert_eq(TSRV_SUM(&t, zc_sends), 0);
    cr_assert_geq(TSRV_SUM(&t, accept_rearms), 50, "single-shot accept re-armed per connection");
}

Test(net_tcp_server, send_zc_on_loopback_is_reported_copied_and_turned_off, .timeout = 30)
{
    struct tsrv t;
    tsrv_init(&t, 1);
    t.ncfg.zc_threshold = 1024;
    tsrv_start(&t);
    uint64_t n = echo_clients(t.port, 4, 1 << 20, 5, 30);
    tsrv_stop(&t);
    cr_assert_eq(TSRV_SUM(&t, bytes_out), n);
    if (TSRV_SUM(&t, zc_sends) == 0)
        cr_skip_test("kernel lacks SEND_ZC");
    cr_assert_gt(TSRV_SUM(&t, zc_copied), 0);
    cr_assert_gt(TSRV_SUM(&t, zc_fallbacks), 0);
}

/* Finds the server-side socket of a connection to `port` among this
 * process' descriptors (the runtime's fds live here too): bound to `port`
 * locally and not listening. Returns the fd or -1. */
static int server_side_fd(uint16_t port)
{
    for (int fd = 3; fd < 4096; fd++) {
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        int listening = 0;
        socklen_t ol = sizeof listening;
        if (getsockname(fd, (struct sockaddr *)&a, &len) != 0 || a.sin_family != AF_INET ||
            ntohs(a.sin_port) != port)
            continue;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ol) == 0 && !listening) {
            struct sockaddr_in peer;
            socklen_t pl = sizeof peer;
            if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0)
                return fd;
        }
    }
    return -1;
}

Test(net_tcp_server, accepted_sockets_inherit_nodelay_from_the_listener, .timeout = 30)
{
    struct tsrv t;
    tsrv_init(&t, 1);
    tsrv_start(&t);
    int fd = connect_to(t.port);
    char b = 'n';
    cr_assert_eq(send(fd, &b, 1, 0), 1);
    cr_assert_eq(recv(fd, &b, 1, 0), 1); /* accepted and serving */
    int sfd = server_side_fd(t.port), nodelay = 0;
    socklen_t len = sizeof nodelay;
    cr_assert_geq(sfd, 0, "server-side socket not found");
    cr_assert_eq(getsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
    close(fd);
    tsrv_stop(&t);
    cr_assert_eq(nodelay, 1, "small echoes would wait for Nagle");
}
