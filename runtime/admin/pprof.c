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

#include "agentcore/mem.h"
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

/* ---- HTTP ----------------------------------------------------------------- */

/* What the answer needs of the request, which is gone by then. */
struct pending {
    ac_http_exchange *x;
    const char *server;
    bool keep_alive, http10, head_only;
    struct ac_http_date date;
};

static void answer_error(struct pending *q, int status, unsigned retry_after, const char *code,
                         const char *message)
{
    char buf[1024];
    struct ac_http_response r = {.status = status,
                                 .retry_after = retry_after,
                                 .keep_alive = q->keep_alive,
                                 .http10 = q->http10,
                                 .head_only = q->head_only};
    int n = ac_http_error_response(buf, sizeof buf, &r, &q->date, q->server, code, message);
    AC_ASSERT(n > 0);
    struct iovec iov = {buf, (size_t)n};
    if (ac_http_exchange_write(q->x, &iov, 1) != 0)
        ac_log_warn("pprof: error response dropped: out of memory");
    ac_http_exchange_done(q->x, q->keep_alive);
}

static void profile_done(void *arg, int res, const void *profile, size_t len)
{
    struct pending *q = arg;
    if (res != 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "no profile: %s", ac_strerror(res));
        answer_error(q, 503, 1, "profile_failed", msg);
        ac_free(q);
        return;
    }
    static const struct ac_http_header disp = {{"Content-Disposition", 19},
                                               {"attachment; filename=\"profile\"", 30}};
    char head[512];
    struct iovec iov[2];
    struct ac_http_response r = {.status = 200,
                                 .content_type = "application/octet-stream",
                                 .headers = &disp,
                                 .nheaders = 1,
                                 .keep_alive = q->keep_alive,
                                 .http10 = q->http10,
                                 .head_only = q->head_only};
    int n = ac_http_response_iov(iov, head, sizeof head, &r, &q->date, q->server, profile, len);
    AC_ASSERT(n > 0);
    /* copied into the connection's output: the mapping may go after this */
    if (ac_http_exchange_write(q->x, iov, n) != 0)
        ac_log_warn("pprof: profile dropped: out of memory");
    ac_http_exchange_done(q->x, q->keep_alive);
    ac_free(q);
}

/* seconds=N in the query (default 30); false when present but not 1..max. */
static bool query_seconds(struct ac_http_str q, unsigned *out)
{
    const char *p = q.p, *end = q.p + q.len;
    *out = 30;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > 8 && memcmp(p, "seconds=", 8) == 0) {
            unsigned v = 0;
            p += 8;
            if (p == stop || stop - p > 3)
                return false;
            for (; p < stop; p++) {
                if (*p < '0' || *p > '9')
                    return false;
                v = v * 10 + (unsigned)(*p - '0');
            }
            *out = v;
            return v >= 1 && v <= AC_PPROF_MAX_SECONDS;
        }
        p = amp ? amp + 1 : end;
    }
    return true;
}

void ac__pprof_serve(struct ac__pprof *p, ac_http_exchange *x, const struct ac_http_request *req,
                     const char *server)
{
    unsigned seconds;
    struct pending local = {.x = x,
                            .server = server,
                            .keep_alive = req->keep_alive,
                            .http10 = req->version_minor == 0,
                            .head_only = req->method == AC_HTTP_HEAD};
    struct pending *q;
    int err;
    if (!query_seconds(req->query, &seconds)) {
        answer_error(&local, 400, 0, "invalid_seconds", "seconds must be an integer from 1 to 60");
        return;
    }
    q = ac_alloc(sizeof *q);
    if (!q) {
        answer_error(&local, 503, 1, "out_of_memory", "no memory for the profile request");
        return;
    }
    *q = local;
    err = ac__pprof_cpu_start(p, seconds, profile_done, q);
    if (err == -EBUSY) {
        uint64_t now = ac_now_ns(), end = atomic_load_explicit(&p->end_ns, memory_order_relaxed);
        unsigned wait = end > now ? (unsigned)((end - now + 999999999u) / 1000000000u) : 1;
        answer_error(q, 429, wait, "profile_running", "another CPU profile is running");
    } else if (err) {
        char msg[96];
        snprintf(msg, sizeof msg, "the profiler did not start: %s", ac_strerror(err));
        answer_error(q, 503, 1, "profiler_unavailable", msg);
    }
    if (err)
        ac_free(q);
}
