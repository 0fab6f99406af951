/* The provided-buffer ring: more connections than buffers. */
#include "helpers.h"

Test(net_bufring, more_connections_than_buffers_lose_nothing_and_rearm, .timeout = 60)
{
    struct tsrv t;
    tsrv_init(&t, 1);
    t.ncfg.buf_count = 4;
    t.ncfg.buf_size = 4096;
    tsrv_start(&t);
    uint64_t n = echo_clients(t.port, 64, (256u << 10) / AC_TEST_SCALE, 1234, 50);
    tsrv_stop(&t);
    cr_assert_eq(TSRV_SUM(&t, bytes_in), n);
    cr_assert_eq(TSRV_SUM(&t, bytes_out), n);
    cr_assert_gt(TSRV_SUM(&t, enobufs), 0, "the ring ran dry");
    cr_assert_gt(TSRV_SUM(&t, bufs_waits), 0, "connections parked for buffers");
    cr_assert_gt(TSRV_SUM(&t, recv_rearms), 0, "ended multishot receives were re-armed");
}

Test(net_bufring, bad_buffer_count_is_rejected)
{
    struct tsrv t;
    tsrv_init(&t, 1);
    t.ncfg.buf_count = 3;
    ac_runtime_config cfg;
    ac_runtime_config_init(&cfg);
    cfg.handle_signals = false;
    cfg.shards = 1;
    cfg.on_shard_start = tsrv_shard_start;
    cfg.hook_arg = &t;
    cr_assert_eq(ac_runtime_create(&cfg, &t.rt), 0);
    ac_runtime_stop(t.rt);
    cr_assert_eq(ac_runtime_run(t.rt), 0);
    ac_runtime_destroy(t.rt);
    close(t.reserve_fd);
    cr_assert_eq(atomic_load(&t.start_err), -EINVAL);
}
