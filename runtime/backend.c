/*
 * Backend choice for a runtime, made once so that a process prints one
 * line about it (not one per ring): AUTO probes io_uring and falls back
 * to epoll with a warning that names the cause; IO_URING refuses to start
 * where io_uring is blocked, with the cause and the fix.
 */
#include "internal.h"

#include <errno.h>

int ac__backend_choose(enum ac_ring_backend want, enum ac_ring_backend *out)
{
    want = ac_ring_backend_from_env(want);
    if (want == AC_RING_BACKEND_EPOLL) {
        *out = want;
        return 0;
    }
    struct ac_uring_probe p;
    ac_uring_probe(&p, false);
    if (p.usable) {
        *out = AC_RING_BACKEND_IO_URING;
        return 0;
    }
    if (want == AC_RING_BACKEND_IO_URING) {
        ac_log_error("runtime: backend io_uring refused (%s): %s; or choose backend epoll", p.cause,
                     p.detail);
        return p.setup_err ? p.setup_err : -EOPNOTSUPP;
    }
    ac_log_warn("runtime: io_uring unavailable (%s): %s; running on epoll", p.cause, p.detail);
    *out = AC_RING_BACKEND_EPOLL;
    return 0;
}
