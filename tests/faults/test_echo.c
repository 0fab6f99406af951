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

static void echo_under_faults(bool no_incremental)
{
    cr_assert(ac_fault_compiled());
    struct tsrv t;
    tsrv_init(&t, 2);
    t.ncfg.buf_count = 8;
    t.ncfg.buf_size = 4096;
    t.ncfg.no_incremental = no_incremental;
    tsrv_start(&t);

    unsigned closed = 0, total_answered = 0, total_closed = 0;
    ac_fault_set(0.02, (1u << AC_FAULT_KIND_COUNT) - 1);
    for (uint32_t round = 0; round < 4; round++) {
        /* 120 s: failure detection only, a hung connection never ends */
        (void)echo_clients_counting(t.port, 64, 64 << 10, 1000 + round, 120, &closed);
        total_answered += 64 - closed;
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
