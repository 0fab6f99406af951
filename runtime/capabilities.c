/*
 * The capability report: what this host allows agentcore, each item with
 * what agentcore does without it. One probe (ac_capabilities_probe) and
 * two renderings: the full report (`agentd --capabilities`) and a one-line
 * summary for start-up logs. Kept as data so a metrics exporter can turn
 * it into gauges.
 */
#include "internal.h"

#include <liburing.h>
#include <numa.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void limit(int resource, uint64_t *cur, uint64_t *max)
{
    struct rlimit rl;
    *cur = *max = 0;
    if (getrlimit(resource, &rl) != 0)
        return;
    *cur = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    *max = rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_max;
}

void ac_capabilities_probe(struct ac_capabilities *out)
{
    memset(out, 0, sizeof *out);
    ac_uring_probe(&out->uring, true);
    out->backend = ac_ring_backend_from_env(AC_RING_BACKEND_AUTO);
    if (out->backend == AC_RING_BACKEND_AUTO)
        out->backend = out->uring.usable ? AC_RING_BACKEND_IO_URING : AC_RING_BACKEND_EPOLL;
    limit(RLIMIT_MEMLOCK, &out->memlock_cur, &out->memlock_max);
    limit(RLIMIT_NOFILE, &out->nofile_cur, &out->nofile_max);
    out->numa_nodes = numa_available() >= 0 ? numa_num_configured_nodes() : 0;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    out->cpus_online = n > 0 ? (unsigned)n : 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        out->cpus_allowed = (unsigned)CPU_COUNT(&set);
}

/* Appends to buf like snprintf, keeping track of the total length. */
struct out {
    char *buf;
    size_t len, used;
};

AC_PRINTF(2, 3) static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->used < o->len ? o->len - o->used : 0;
    int n = vsnprintf(room ? o->buf + o->used : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->used += (size_t)n;
}

static const char *yn(bool b)
{
    return b ? "yes" : "no";
}

static void put_limit(struct out *o, uint64_t v, bool bytes)
{
    if (v == UINT64_MAX)
        put(o, "unlimited");
    else if (bytes)
        put(o, "%llu KiB", (unsigned long long)(v >> 10));
    else
        put(o, "%llu", (unsigned long long)v);
}

size_t ac_capabilities_report(const struct ac_capabilities *c, char *buf, size_t len)
{
    const struct ac_uring_probe *u = &c->uring;
    struct out o = {buf, len, 0};
    if (len)
        buf[0] = '\0';

    put(&o, "%-15s %-38s %s\n", "backend", ac_ring_backend_name(c->backend),
        "auto: io_uring where allowed, else epoll (AC_BACKEND, --backend override)");
    if (u->usable)
        put(&o, "%-15s %-38s %s\n", "io_uring", "usable",
            "without it: the epoll backend, same API and semantics, more syscalls");
    else
        put(&o, "%-15s %-38s %s\n", "io_uring", u->cause ? u->cause : "refused", u->detail);
    char flags[96] = "";
    if (u->setup_err == 0)
        snprintf(flags, sizeof flags, "%s%s%s%s",
                 u->setup_flags & IORING_SETUP_SINGLE_ISSUER ? "SINGLE_ISSUER " : "",
                 u->setup_flags & IORING_SETUP_DEFER_TASKRUN ? "DEFER_TASKRUN " : "",
                 u->setup_flags & IORING_SETUP_COOP_TASKRUN ? "COOP_TASKRUN " : "",
                 u->setup_flags & IORING_SETUP_TASKRUN_FLAG ? "TASKRUN_FLAG" : "");
    put(&o, "%-15s %-38s %s\n", "setup flags", u->setup_err ? "-" : (*flags ? flags : "none"),
        "without DEFER_TASKRUN: completion work may interrupt a turn (COOP, then none)");
    put(&o, "%-15s %-38u %s\n", "opcodes", u->nops,
        "probed; a missing one the seam needs means: epoll backend");
    put(&o, "%-15s %-38s %s\n", "buffer rings",
        u->buf_ring ? (u->buf_ring_inc ? "yes, incremental" : "yes, not incremental") : "no",
        "without: epoll picks pooled buffers itself; not incremental: a buffer per receive");
    put(&o, "%-15s %-38s %s\n", "MSG_RING", yn(u->op[IORING_OP_MSG_RING]),
        "without: shards wake each other with an eventfd (epoll backend)");
    put(&o, "%-15s %-38s %s\n", "SEND_ZC", yn(u->op[IORING_OP_SEND_ZC]),
        "without: large sends are copied (plain send)");
    put(&o, "%-15s %-38s %s\n", "registered fds", yn(u->registered_fd),
        "without: an fget/fput per io_uring_enter");
    put(&o, "%-15s %-38s %s\n", "SQPOLL", yn(u->sqpoll),
        "without: submissions by io_uring_enter (the default anyway)");
    char v[64];
    struct out vo = {v, sizeof v, 0};
    put_limit(&vo, c->memlock_cur, true);
    put(&vo, " / ");
    put_limit(&vo, c->memlock_max, true);
    put(&o, "%-15s %-38s %s\n", "RLIMIT_MEMLOCK", v,
        "too low: buffers not registered for SEND_ZC (pages pinned per send)");
    vo.used = 0;
    put_limit(&vo, c->nofile_cur, false);
    put(&vo, " / ");
    put_limit(&vo, c->nofile_max, false);
    put(&o, "%-15s %-38s %s\n", "open files", v,
        "bounds connections per process; past it accepts back off and retry");
    put(&o, "%-15s %-38d %s\n", "NUMA nodes", c->numa_nodes, "0 or 1: every heap on one node");
    vo.used = 0;
    put(&vo, "%u online, %u allowed", c->cpus_online, c->cpus_allowed);
    put(&o, "%-15s %-38s %s\n", "CPUs", v, "one shard per allowed CPU by default");
    return o.used;
}

void ac_capabilities_summary(const struct ac_capabilities *c, char *buf, size_t len)
{
    const struct ac_uring_probe *u = &c->uring;
    snprintf(buf, len,
             "backend=%s io_uring=%s buf_ring=%s msg_ring=%s send_zc=%s sqpoll=%s "
             "memlock=%lluKiB nofile=%llu numa_nodes=%d cpus=%u/%u",
             ac_ring_backend_name(c->backend), u->usable ? "yes" : (u->cause ? u->cause : "no"),
             yn(u->buf_ring), yn(u->op[IORING_OP_MSG_RING]), yn(u->op[IORING_OP_SEND_ZC]),
             yn(u->sqpoll),
             c->memlock_cur == UINT64_MAX ? 0ull : (unsigned long long)(c->memlock_cur >> 10),
             c->nofile_cur == UINT64_MAX ? 0ull : (unsigned long long)c->nofile_cur, c->numa_nodes,
             c->cpus_allowed, c->cpus_online);
}
