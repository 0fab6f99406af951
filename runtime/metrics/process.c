/*
 * The process collector: CPU time, memory, threads, start time and open
 * fds from /proc/self (the names Prometheus' client libraries use), and
 * the registry's uptime, shard count and I/O backend.
 */
#include "internal.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct ac_metric_desc p_cpu = {"process_cpu_seconds_total",
                                            "Total user and system CPU time spent in seconds.",
                                            AC_METRIC_COUNTER};
static const struct ac_metric_desc p_rss = {"process_resident_memory_bytes",
                                            "Resident memory size in bytes.", AC_METRIC_GAUGE};
static const struct ac_metric_desc p_vsz = {"process_virtual_memory_bytes",
                                            "Virtual memory size in bytes.", AC_METRIC_GAUGE};
static const struct ac_metric_desc p_fds = {"process_open_fds", "Number of open file descriptors.",
                                            AC_METRIC_GAUGE};
static const struct ac_metric_desc p_start = {
    "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
    AC_METRIC_GAUGE};
static const struct ac_metric_desc p_threads = {
    "process_threads", "Number of OS threads in the process.", AC_METRIC_GAUGE};
static const struct ac_metric_desc a_up = {
    "agentcore_uptime_seconds", "Seconds since the metrics registry was created.", AC_METRIC_GAUGE};
static const struct ac_metric_desc a_shards = {"agentcore_shards", "Shards in the runtime.",
                                               AC_METRIC_GAUGE};
static const struct ac_metric_desc a_backend = {
    "agentcore_backend_info",
    "The I/O backend the shards run on (io_uring, or epoll where io_uring is blocked); always 1.",
    AC_METRIC_GAUGE};

/* /proc/self/stat fields 14, 15 (utime, stime), 20 (threads), 22 (start), 23, 24. */
static void collect_stat(ac_metrics_sink *s)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long utime, stime, start, vsize;
    long threads, rss;
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %ld "
                     "%*d %llu %llu %ld",
                     &utime, &stime, &threads, &start, &vsize, &rss) != 6)
        return;
    double hz = (double)sysconf(_SC_CLK_TCK);
    ac_metrics_emit(s, &p_cpu, (double)(utime + stime) / hz, NULL);
    ac_metrics_emit(s, &p_rss, (double)rss * (double)sysconf(_SC_PAGESIZE), NULL);
    ac_metrics_emit(s, &p_vsz, (double)vsize, NULL);
    ac_metrics_emit(s, &p_threads, (double)threads, NULL);
    /* start is in ticks after boot: add the boot time from /proc/stat */
    f = fopen("/proc/stat", "r");
    if (f) {
        unsigned long long btime = 0;
        while (fgets(buf, sizeof buf, f))
            if (sscanf(buf, "btime %llu", &btime) == 1)
                break;
        fclose(f);
        if (btime)
            ac_metrics_emit(s, &p_start, (double)btime + (double)start / hz, NULL);
    }
}

void ac__collect_process(void *arg, ac_metrics_sink *s)
{
    ac_metrics *m = arg;
    collect_stat(s);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        unsigned n = 0;
        while (readdir(d))
            n++;
        closedir(d);
        ac_metrics_emit(s, &p_fds, (double)(n > 3 ? n - 3 : 0), NULL); /* ., .., the DIR's fd */
    }
    ac_metrics_emit(s, &a_up, (double)(ac_now_ns() - m->start_ns) / 1e9, NULL);
    ac_metrics_emit(s, &a_shards, (double)m->nshards, NULL);
    ac_metrics_emit(s, &a_backend, 1, "backend=\"%s\"",
                    ac_ring_backend_name(ac_runtime_backend(m->rt)));
}
