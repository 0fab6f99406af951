#include "notify.h"

#include "agentcore.h"

#include <stdatomic.h>
#include <systemd/sd-daemon.h>

/* Process-wide by nature: one service, one readiness. Set once each. */
static atomic_flag ready_sent = ATOMIC_FLAG_INIT;
static atomic_flag stopping_sent = ATOMIC_FLAG_INIT;

void agentd_notify_ready(unsigned nshards)
{
    if (atomic_flag_test_and_set(&ready_sent))
        return;
    int err = sd_notifyf(0, "READY=1\nSTATUS=serving on %u shards", nshards);
    if (err < 0)
        ac_log_warn("sd_notify READY: %s", ac_strerror(err));
}

void agentd_notify_stopping(void)
{
    if (atomic_flag_test_and_set(&stopping_sent))
        return;
    int err = sd_notify(0, "STOPPING=1\nSTATUS=draining");
    if (err < 0)
        ac_log_warn("sd_notify STOPPING: %s", ac_strerror(err));
}
