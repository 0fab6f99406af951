/* The io_uring seam: set-up, probing, the op table, dispatch, wake-ups. */
#include "agentcore/ring.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

static struct ac_ring *ring;

static void setup(void)
{
    int err = ac_ring_create(NULL, &ring);
    if (err == -ENOSYS || err == -EPERM)
        cr_skip_test("io_uring unavailable: %s", ac_strerror(err));
    cr_assert_eq(err, 0, "%s", ac_strerror(err));
}

static void teardown(void)
{
    ac_ring_destroy(ring);
}

struct done {
    struct ac_op op;
    int calls, res;
};

static void on_done(struct ac_op *op, int res, uint32_t flags)
{
    struct done *d = AC_CONTAINER_OF(op, struct done, op);
    (void)flags;
    d->calls++;
    d->res = res;
}

static void wait_for(struct ac_ring *r, int *calls, int want)
{
    for (int i = 0; i < 100 && *calls < want; i++) {
        cr_assert_eq(ac_ring_enter(r, 1000000000ull), 0);
        ac_ring_dispatch(r);
    }
    cr_assert_eq(*calls, want);
}

TestSuite(net_ring, .init = setup, .fini = teardown);

Test(net_ring, probes_features_and_describes_them)
{
    const struct ac_ring_features *f = ac_ring_features(ring);
    cr_assert(ac_ring_supports(ring, AC_OP_NOP), "NOP is always supported");
    if (f->defer_taskrun)
        cr_assert(f->single_issuer, "DEFER_TASKRUN requires SINGLE_ISSUER");
    char buf[256];
    ac_ring_describe(ring, buf, sizeof buf);
    if (f->backend == AC_RING_BACKEND_IO_URING) {
        cr_assert(f->op[0], "the probe found NOP");
        cr_assert(strstr(buf, "defer_taskrun=") != NULL);
    } else {
        cr_assert_eq(f->backend, AC_RING_BACKEND_EPOLL);
        cr_assert(strstr(buf, "epoll") != NULL);
        cr_assert(!ac_ring_supports(ring, AC_OP_SEND_ZC), "no zero-copy send on epoll");
        cr_assert(!f->sqpoll && !f->msg_ring);
    }
    cr_assert_geq(ac_ring_fd(ring), 0);
}

Test(net_ring, nop_completes_through_its_callback)
{
    struct done d = {.op = {.complete = on_done, .kind = AC_OP_NOP}};
    cr_assert_eq(ac_ring_submit(ring, &d.op), 0);
    wait_for(ring, &d.calls, 1);
    cr_assert_eq(d.res, 0);
    struct ac_ring_stats st;
    ac_ring_stats(ring, &st);
    cr_assert_eq(st.completions, 1);
    cr_assert_geq(st.enters, 1);
}

Test(net_ring, read_delivers_pipe_bytes)
{
    int p[2];
    char buf[8] = {0};
    cr_assert_eq(pipe(p), 0);
    struct done d = {.op = {.complete = on_done,
                            .kind = AC_OP_READ,
                            .fd = p[0],
                            .u.rw = {.buf = buf, .len = sizeof buf, .off = (uint64_t)-1}}};
    cr_assert_eq(ac_ring_submit(ring, &d.op), 0);
    cr_assert_eq(write(p[1], "hello", 5), 5);
    wait_for(ring, &d.calls, 1);
    cr_assert_eq(d.res, 5);
    cr_assert_str_eq(buf, "hello");
    close(p[0]);
    close(p[1]);
}

Test(net_ring, cancel_ends_a_pending_read_with_ecanceled)
{
    int p[2];
    char buf[8];
    cr_assert_eq(pipe(p), 0);
    struct done rd = {.op = {.complete = on_done,
                             .kind = AC_OP_READ,
                             .fd = p[0],
                             .u.rw = {.buf = buf, .len = sizeof buf, .off = (uint64_t)-1}}};
    struct done cn = {
        .op = {.complete = on_done, .kind = AC_OP_CANCEL, .u.cancel = {.target = &rd.op}}};
    cr_assert_eq(ac_ring_submit(ring, &rd.op), 0);
    cr_assert_eq(ac_ring_enter(ring, 0), 0);
    cr_assert_eq(ac_ring_submit(ring, &cn.op), 0);
    wait_for(ring, &rd.calls, 1);
    wait_for(ring, &cn.calls, 1);
    cr_assert_eq(rd.res, -ECANCELED);
    cr_assert_eq(cn.res, 0);
    close(p[0]);
    close(p[1]);
}

Test(net_ring, more_ops_than_sq_entries_are_flushed_not_refused)
{
    struct ac_ring *small;
    struct ac_ring_config cfg = {.entries = 8, .sqpoll_cpu = -1};
    cr_assert_eq(ac_ring_create(&cfg, &small), 0);
    static struct done d[100];
    int calls = 0;
    for (int i = 0; i < 100; i++) {
        d[i] = (struct done){.op = {.complete = on_done, .kind = AC_OP_NOP}};
        cr_assert_eq(ac_ring_submit(small, &d[i].op), 0);
    }
    for (int tries = 0; tries < 100 && calls < 100; tries++) {
        cr_assert_eq(ac_ring_enter(small, 1000000000ull), 0);
        ac_ring_dispatch(small);
        calls = 0;
        for (int i = 0; i < 100; i++)
            calls += d[i].calls;
    }
    cr_assert_eq(calls, 100);
    ac_ring_destroy(small);
}

Test(net_ring, wake_posts_one_cqe_on_the_target_ring)
{
    struct ac_ring *target;
    struct ac_ring_config cfg = {.entries = 8, .sqpoll_cpu = -1};
    cr_assert_eq(ac_ring_create(&cfg, &target), 0);
    if (!ac_ring_features(ring)->msg_ring)
        cr_skip_test("kernel lacks IORING_OP_MSG_RING");
    cr_assert_eq(ac_ring_submit_wake(ring, ac_ring_fd(target)), 0);
    cr_assert_eq(ac_ring_enter(ring, 0), 0);
    cr_assert_eq(ac_ring_enter(target, 1000000000ull), 0);
    cr_assert_eq(ac_ring_dispatch(target), 1);
    struct ac_ring_stats st;
    ac_ring_stats(target, &st);
    cr_assert_eq(st.wakeups, 1);
    ac_ring_destroy(target);
}

Test(net_ring, enter_with_zero_timeout_and_nothing_queued_makes_no_syscall)
{
    struct ac_ring_stats before, after;
    ac_ring_stats(ring, &before);
    cr_assert_eq(ac_ring_enter(ring, 0), 0);
    ac_ring_stats(ring, &after);
    cr_assert_eq(after.enters, before.enters);
}

Test(net_ring, shared_ring_for_several_threads_has_no_single_issuer)
{
    struct ac_ring *shared;
    struct ac_ring_config cfg = {.entries = 8, .multi_thread = true, .sqpoll_cpu = -1};
    cr_assert_eq(ac_ring_create(&cfg, &shared), 0);
    cr_assert(!ac_ring_features(shared)->single_issuer);
    cr_assert(!ac_ring_features(shared)->defer_taskrun);
    ac_ring_destroy(shared);
}
