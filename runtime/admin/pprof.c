/*
 * CPU profiles with gperftools' libprofiler (see pprof.h).
 *
 * A profile is written by libprofiler to a memfd named through
 * /proc/self/fd, so nothing touches the disk and nothing is left behind if
 * the process dies mid-profile. The shard that won the guard arms a timer
 * for the duration; when it fires, ProfilerStop flushes the samples into
 * the memfd (memory only: no blocking I/O on the shard), the bytes are
 * mapped, handed to done() and the memfd is closed. The wait costs the
 * shard nothing but one armed timer.
 *
 * Cost of linking: libprofiler.so (with libunwind and libstdc++) is loaded
 * by programs that reference these functions; it does nothing until a
 * profile starts (or CPUPROFILE is set in the environment, which starts
 * one at load: agentd then answers 429 to every profile request). While a
 * profile runs, every thread that burns CPU takes SIGPROF 100 times a
 * second and an unwind of its stack.
 */
#include "pprof.h"

#include "agentcore/runtime.h"

#include <errno.h>
#include <gperftools/profiler.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void ac__pprof_init(struct ac__pprof *p)
{
    memset(p, 0, sizeof *p);
    atomic_init(&p->owner, AC_SHARD_NONE);
    atomic_init(&p->end_ns, 0);
    p->fd = -1;
}

static void release(struct ac__pprof *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    /* release: the next owner sees fd/timer as this shard left them */
    atomic_store_explicit(&p->owner, AC_SHARD_NONE, memory_order_release);
}

static void finish(struct ac__pprof *p, int res)
{
    ac__pprof_done_fn done = p->done;
    void *arg = p->arg, *map = NULL;
    struct stat st;
    size_t len = 0;
    ProfilerStop(); /* flushes every sample into the memfd */
    if (res == 0 && fstat(p->fd, &st) != 0)
        res = -errno;
    if (res == 0 && st.st_size > 0) {
        len = (size_t)st.st_size;
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, p->fd, 0);
        if (map == MAP_FAILED) {
            res = -errno;
            map = NULL;
            len = 0;
        }
    } else if (res == 0) {
        res = -EIO; /* the profiler wrote nothing: not even a header */
    }
    done(arg, res, map, len);
    if (map)
        munmap(map, len);
    release(p);
}

static void on_timer(struct ac_timer *t, void *arg)
{
    (void)t;
    finish(arg, 0);
}

int ac__pprof_cpu_start(struct ac__pprof *p, unsigned seconds, ac__pprof_done_fn done, void *arg)
{
    unsigned self = ac_shard_id(), idle = AC_SHARD_NONE;
    char path[64];
    int err;
    if (self == AC_SHARD_NONE)
        return -ENXIO;
    if (seconds < 1 || seconds > AC_PPROF_MAX_SECONDS || !done)
        return -EINVAL;
    /* acquire: pairs with release() on whichever shard ran the last one */
    if (!atomic_compare_exchange_strong_explicit(&p->owner, &idle, self, memory_order_acquire,
                                                 memory_order_relaxed))
        return -EBUSY;
    p->fd = memfd_create("agentcore-cpu-profile", MFD_CLOEXEC);
    if (p->fd < 0) {
        err = -errno;
        goto out_release;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", p->fd);
    /* false when a profile already runs (CPUPROFILE, or another caller of
     * libprofiler in this process) or the file cannot be opened */
    if (!ProfilerStart(path)) {
        err = -EBUSY;
        goto out_release;
    }
    p->done = done;
    p->arg = arg;
    atomic_store_explicit(&p->end_ns, ac_now_ns() + (uint64_t)seconds * 1000000000u,
                          memory_order_relaxed);
    err = ac_timer_start(&p->timer, (uint64_t)seconds * 1000000000u, on_timer, p);
    if (err) {
        ProfilerStop();
        goto out_release;
    }
    return 0;
out_release:
    release(p);
    return err;
}

void ac__pprof_cancel(struct ac__pprof *p)
{
    unsigned self = ac_shard_id();
    if (self == AC_SHARD_NONE || atomic_load_explicit(&p->owner, memory_order_acquire) != self)
        return;
    ac_timer_cancel(&p->timer);
    finish(p, -ECANCELED);
}

/* ---- the admin route ------------------------------------------------------ */

static void profile_done(void *arg, int res, const void *profile, size_t len)
{
    ac_admin_request *r = arg;
    char msg[96];
    if (res == 0) {
        /* copied into the connection's output: the mapping may go after this */
        (void)ac_admin_reply(r, 200, "application/octet-stream", profile, len);
        return;
    }
    snprintf(msg, sizeof msg, "no profile: %s", ac_strerror(res));
    (void)ac_admin_reply_error(r, 503, "profile_failed", msg);
}

/* "1".."60" → true and *out; anything else false. */
static bool parse_seconds(const char *s, unsigned *out)
{
    unsigned v = 0;
    if (!*s || strlen(s) > 2)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (unsigned)(*s - '0');
    }
    *out = v;
    return v >= 1 && v <= AC_PPROF_MAX_SECONDS;
}

void ac__pprof_route(void *arg, ac_admin_request *r)
{
    struct ac__pprof *p = arg;
    unsigned seconds = 30;
    char val[8], msg[96];
    int err;
    if (ac_admin_request_query(r, "seconds", val, sizeof val) && !parse_seconds(val, &seconds)) {
        (void)ac_admin_reply_error(r, 400, "invalid_seconds",
                                   "seconds must be an integer from 1 to 60");
        return;
    }
    err = ac__pprof_cpu_start(p, seconds, profile_done, r);
    if (err == -EBUSY) {
        uint64_t now = ac_now_ns(), end = atomic_load_explicit(&p->end_ns, memory_order_relaxed);
        snprintf(msg, sizeof msg, "another CPU profile is running (%llu s left)",
                 end > now ? (unsigned long long)((end - now + 999999999u) / 1000000000u) : 0ull);
        (void)ac_admin_reply_error(r, 409, "profile_running", msg);
    } else if (err) {
        snprintf(msg, sizeof msg, "the profiler did not start: %s", ac_strerror(err));
        (void)ac_admin_reply_error(r, 503, "profiler_unavailable", msg);
    }
}
