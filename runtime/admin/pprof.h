/*
 * CPU profiles of the whole process in pprof format (gperftools'
 * libprofiler), for the admin listener's /debug/pprof/profile?seconds=N.
 * Private to the admin module.
 *
 * One profile at a time per process: the profiler (a SIGPROF handler on
 * ITIMER_PROF, which samples whichever thread burns CPU, so every shard) is
 * process-wide state inside libprofiler, and struct ac__pprof is its one
 * guard. The wait never blocks a shard: the request arms a timer on the
 * shard it arrived on and is answered from that timer, like any other
 * exchange answered later.
 */
#ifndef AGENTCORE_ADMIN_PPROF_H
#define AGENTCORE_ADMIN_PPROF_H

#include "agentcore/admin.h"
#include "agentcore/timer.h"

#include <stdatomic.h>

#define AC_PPROF_MAX_SECONDS 60u

/*
 * The profile, or why there is none (res 0, -ECANCELED when the runtime
 * stopped first, or -errno when it could not be read). `profile` is valid
 * during the call only. Runs on the shard that started the profile.
 */
typedef void (*ac__pprof_done_fn)(void *arg, int res, const void *profile, size_t len);

/* The process' profiler guard. Owned by whoever owns the admin listener. */
struct ac__pprof {
    _Atomic unsigned owner;  /* shard running a profile; AC_SHARD_NONE: idle */
    _Atomic uint64_t end_ns; /* when the running profile ends (Retry-After) */
    /* private: written by the owner shard only, while it owns the profiler */
    struct ac_timer timer;
    int fd; /* memfd the profiler writes to: no file left behind */
    ac__pprof_done_fn done;
    void *arg;
};

/* An idle guard. Before any shard uses it. */
void ac__pprof_init(struct ac__pprof *p);

/*
 * Starts profiling every thread of the process for `seconds` (1 to
 * AC_PPROF_MAX_SECONDS); done() then runs once on the calling shard.
 * Returns 0; -EINVAL for seconds out of range; -EBUSY while a profile runs
 * (also one started outside agentcore, e.g. with CPUPROFILE set); -ENXIO
 * off a shard; -errno when the profile file cannot be made. When it fails,
 * done is never called. Shard threads only.
 */
AC_MUST_USE int ac__pprof_cpu_start(struct ac__pprof *p, unsigned seconds, ac__pprof_done_fn done,
                                    void *arg);

/*
 * Ends a profile the calling shard runs, at once: done(-ECANCELED). For the
 * shard's stop hook (pending timers are dropped when the runtime stops).
 * Does nothing when the calling shard runs none.
 */
void ac__pprof_cancel(struct ac__pprof *p);

/*
 * The route GET /debug/pprof/profile?seconds=N (default 30), arg the
 * guard: 200 with the profile (application/octet-stream) after N
 * seconds; 400 for N outside 1..60; 409 while another profile runs (at
 * once, so a client never queues behind one); 503 when the profiler
 * cannot start. Answers later, from the shard's timer.
 */
void ac__pprof_route(void *arg, ac_admin_request *r);

#endif
