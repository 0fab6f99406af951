/*
 * SIGINT/SIGTERM/SIGHUP through shard 0's ring: the signals are blocked in
 * every runtime thread and read from a signalfd by an io_uring read, so
 * stopping (INT, TERM) or reopening the log file (HUP, for logrotate) is an
 * ordinary completion on shard 0 — no async-signal-safety concerns.
 */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

int ac__signals_block(sigset_t *old)
{
    sigset_t set;
    stop_signals(&set);
    return -pthread_sigmask(SIG_BLOCK, &set, old);
}

void ac__signals_restore(const sigset_t *old)
{
    sigset_t set;
    struct timespec zero = {0, 0};
    stop_signals(&set);
    /* Consume stop signals that arrived after the read stopped, so that
     * unblocking them does not kill the process we just stopped cleanly. */
    while (sigtimedwait(&set, NULL, &zero) > 0)
        ;
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void arm(struct ac_shard *s);

static void on_signal(struct ac_op *op, int res, uint32_t flags)
{
    struct ac_shard *s = AC_CONTAINER_OF(op, struct ac_shard, signal_op);
    (void)flags;
    if (res == (int)sizeof s->siginfo && s->siginfo.ssi_signo == SIGHUP) {
        int err = ac_log_reopen();
        if (err)
            ac_log_error("received SIGHUP: cannot reopen the log file: %s", ac_strerror(err));
        else
            ac_log_info("received SIGHUP, log file reopened");
    } else if (res == (int)sizeof s->siginfo) {
        bool again = atomic_load_explicit(&s->rt->stop_requested, memory_order_relaxed);
        ac_log_info("received SIG%s%s", sigabbrev_np((int)s->siginfo.ssi_signo),
                    again ? " (already stopping)" : ", stopping");
        ac_runtime_stop(s->rt);
    } else if (res < 0 && res != -ECANCELED) {
        ac_log_error("signalfd read failed: %s", ac_strerror(res));
        return;
    }
    arm(s);
}

static void arm(struct ac_shard *s)
{
    s->signal_op = (struct ac_op){
        .complete = on_signal,
        .kind = AC_OP_READ,
        .fd = s->signal_fd,
        .u.rw = {.buf = &s->siginfo, .len = sizeof s->siginfo, .off = (uint64_t)-1},
    };
    int err = ac_ring_submit(s->ring, &s->signal_op);
    if (err)
        ac_log_error("cannot watch for SIGINT/SIGTERM/SIGHUP: %s", ac_strerror(err));
}

int ac__signals_start(struct ac_shard *shard0)
{
    sigset_t set;
    stop_signals(&set);
    shard0->signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
    if (shard0->signal_fd < 0)
        return -errno;
    arm(shard0);
    return 0;
}

void ac__signals_close(struct ac_shard *shard0)
{
    if (shard0->signal_fd >= 0)
        close(shard0->signal_fd);
    shard0->signal_fd = -1;
}
