/*
 * The built-in collectors: what every layer below keeps in its plain
 * per-shard stats, read on the shard that owns them, and the process'
 * own numbers from /proc/self.
 */
#include "internal.h"

#include "agentcore/mem.h"
#include "agentcore/ring.h"
#include "agentcore/sched.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define C(var, n, h) static const struct ac_metric_desc var = {n, h, AC_METRIC_COUNTER}
#define G(var, n, h) static const struct ac_metric_desc var = {n, h, AC_METRIC_GAUGE}
#define H(var, n, h) static const struct ac_metric_desc var = {n, h, AC_METRIC_HISTOGRAM}

/* loop and messages */
C(m_loops, "agentcore_loop_turns_total", "Shard loop turns.");
C(m_sleeps, "agentcore_loop_sleeps_total", "Loop turns that waited in the kernel.");
C(m_msgs_sent, "agentcore_messages_sent_total", "Cross-shard messages sent by this shard.");
C(m_msgs_run, "agentcore_messages_run_total", "Cross-shard messages run on this shard.");
C(m_msgs_full, "agentcore_messages_ring_full_total",
  "Cross-shard submissions refused because the ring stayed full (backpressure).");
C(m_wakes_sent, "agentcore_wakeups_sent_total", "MSG_RING wake-ups sent to sleeping shards.");
C(m_wakes_recv, "agentcore_wakeups_received_total", "MSG_RING wake-ups received.");
C(m_timers, "agentcore_timers_fired_total", "Timers fired.");
/* io_uring */
C(m_enters, "agentcore_uring_enter_calls_total", "io_uring_enter system calls.");
C(m_sqes, "agentcore_uring_sqes_submitted_total", "Submission queue entries submitted.");
C(m_cqes, "agentcore_uring_completions_total", "Completion queue entries dispatched.");
C(m_sq_full, "agentcore_uring_sq_full_total",
  "Times the submission queue was full and had to be flushed early.");
C(m_cq_over, "agentcore_uring_cq_overflows_total",
  "Completions the kernel could not post to a full completion queue.");
/* tasks */
C(m_tasks_sub, "agentcore_tasks_submitted_total", "Tasks accepted by this shard's scheduler.");
C(m_tasks_run, "agentcore_tasks_run_total", "Tasks this shard executed (own and stolen).");
C(m_tasks_stolen, "agentcore_tasks_stolen_total", "Tasks this shard stole from other shards.");
C(m_tasks_rej, "agentcore_tasks_rejected_total", "Spawns refused because the class queue was full.");
C(m_tasks_failed, "agentcore_tasks_failed_total",
  "Tasks that never ran (timed out, cancelled, dropped).");
G(m_queue, "agentcore_queue_length", "Tasks queued per priority class.");
/* memory */
G(m_mem, "agentcore_memory_bytes",
  "Memory the shard's heap holds: formatted slabs and large mappings (what the budget limits).");
G(m_mem_used, "agentcore_memory_in_use_bytes", "Bytes of live objects in the shard's heap.");
G(m_mem_mapped, "agentcore_memory_mapped_bytes", "Bytes the shard's heap has mapped from the OS.");
G(m_mem_limit, "agentcore_memory_limit_bytes", "The shard's heap budget (0: none).");
G(m_slab, "agentcore_slab_bytes", "Bytes of live objects per slab size class.");
G(m_slabs, "agentcore_slab_slabs", "Slabs formatted per size class.");
C(m_budget_fail, "agentcore_memory_budget_failures_total",
  "Allocations refused by the shard's memory budget.");
C(m_oom_fail, "agentcore_memory_oom_failures_total", "Allocations the OS refused.");
C(m_remote_frees, "agentcore_memory_remote_frees_total",
  "Objects freed by other threads and reclaimed by this shard.");
/* stalls */
C(m_stalls, "agentcore_stalls_total",
  "Callbacks that ran longer than the stall threshold, by the agent or callback that ran.");
H(m_stall_hist, "agentcore_stall_duration_seconds",
  "How long each stalled callback ran, by the agent or callback that ran.");
G(m_stall_max, "agentcore_stall_max_seconds", "Longest callback over the stall threshold.");

/* process */
C(p_cpu, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
G(p_rss, "process_resident_memory_bytes", "Resident memory size in bytes.");
G(p_vsz, "process_virtual_memory_bytes", "Virtual memory size in bytes.");
G(p_fds, "process_open_fds", "Number of open file descriptors.");
G(p_start, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
G(p_threads, "process_threads", "Number of OS threads in the process.");
G(a_up, "agentcore_uptime_seconds", "Seconds since the metrics registry was created.");
G(a_shards, "agentcore_shards", "Shards in the runtime.");

static void collect_heap(ac_metrics_sink *s)
{
    struct ac_heap_stats hs, *st = &hs;
    ac_heap *h = ac_heap_current();
    if (!h)
        return;
    ac_heap_stats(h, st);
    ac_metrics_emit(s, &m_mem, (double)st->bytes_held, NULL);
    ac_metrics_emit(s, &m_mem_used, (double)st->bytes_in_use, NULL);
    ac_metrics_emit(s, &m_mem_mapped, (double)st->bytes_mapped, NULL);
    ac_metrics_emit(s, &m_mem_limit, (double)st->limit_bytes, NULL);
    ac_metrics_emit(s, &m_budget_fail, (double)st->budget_failures, NULL);
    ac_metrics_emit(s, &m_oom_fail, (double)st->oom_failures, NULL);
    ac_metrics_emit(s, &m_remote_frees, (double)st->remote_frees, NULL);
    for (unsigned c = 0; c < AC_HEAP_CLASSES; c++) {
        if (!st->cls[c].slabs)
            continue;
        ac_metrics_emit(s, &m_slab, (double)st->cls[c].bytes_in_use, "class=\"%zu\"",
                        st->cls[c].size);
        ac_metrics_emit(s, &m_slabs, (double)st->cls[c].slabs, "class=\"%zu\"", st->cls[c].size);
    }
}

void ac__collect_runtime(void *arg, ac_metrics_sink *s)
{
    ac_metrics *m = arg;
    unsigned shard = ac_metrics_sink_shard(s);
    struct ac_shard_stats st;
    static const char *const cls[] = {"high", "normal", "low"};

    if (ac_runtime_shard_stats(m->rt, shard, &st) == 0) {
        ac_metrics_emit(s, &m_loops, (double)st.loops, NULL);
        ac_metrics_emit(s, &m_sleeps, (double)st.sleeps, NULL);
        ac_metrics_emit(s, &m_msgs_sent, (double)st.msgs_sent, NULL);
        ac_metrics_emit(s, &m_msgs_run, (double)st.msgs_run, NULL);
        ac_metrics_emit(s, &m_msgs_full, (double)st.msgs_full, NULL);
        ac_metrics_emit(s, &m_wakes_sent, (double)st.wakes_sent, NULL);
        ac_metrics_emit(s, &m_wakes_recv, (double)st.wakes_received, NULL);
        ac_metrics_emit(s, &m_timers, (double)st.timers_fired, NULL);
        ac_metrics_emit(s, &m_stall_max, (double)st.stall_max_ns / 1e9, NULL);
    }
    struct ac_ring *ring = ac_ring_current();
    if (ring) {
        struct ac_ring_stats rs;
        ac_ring_stats(ring, &rs);
        ac_metrics_emit(s, &m_enters, (double)rs.enters, NULL);
        ac_metrics_emit(s, &m_sqes, (double)rs.submitted, NULL);
        ac_metrics_emit(s, &m_cqes, (double)rs.completions, NULL);
        ac_metrics_emit(s, &m_sq_full, (double)rs.sq_full, NULL);
        ac_metrics_emit(s, &m_cq_over, (double)rs.cq_overflows, NULL);
    }
    ac_sched *sched = ac_sched_current();
    if (sched) {
        struct ac_sched_stats ss;
        ac_sched_stats_get(sched, &ss);
        ac_metrics_emit(s, &m_tasks_sub, (double)ss.submitted, NULL);
        ac_metrics_emit(s, &m_tasks_run, (double)ss.ran, NULL);
        ac_metrics_emit(s, &m_tasks_stolen, (double)ss.stolen, NULL);
        ac_metrics_emit(s, &m_tasks_rej, (double)ss.rejected, NULL);
        ac_metrics_emit(s, &m_tasks_failed, (double)ss.failed, NULL);
        for (unsigned c = 0; c < AC_PRIO_COUNT; c++)
            ac_metrics_emit(s, &m_queue, (double)ss.queued[c], "class=\"%s\"", cls[c]);
    }
    collect_heap(s);
    struct ac_stall_stats stalls[AC_STALL_NAMES];
    unsigned n = ac_shard_stalls(stalls, AC_STALL_NAMES);
    for (unsigned i = 0; i < n; i++) {
        ac_metrics_emit(s, &m_stalls, (double)stalls[i].hist.count, "callback=\"%s\"",
                        stalls[i].name);
        ac_metrics_emit_hist(s, &m_stall_hist, &stalls[i].hist, "callback=\"%s\"",
                             stalls[i].name);
    }
}

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
}
