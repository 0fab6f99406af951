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
