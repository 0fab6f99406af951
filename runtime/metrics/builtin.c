/*
 * The built-in collectors: what every layer below keeps in its plain
 * per-shard stats, read on the shard that owns them, and the process'
 * own numbers from /proc/self.
 */
#include "internal.h"

#include "agentcore/http.h"
#include "agentcore/mem.h"
#include "agentcore/net.h"
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
G(m_ops, "agentcore_uring_ops_in_flight", "io_uring operations submitted and not yet completed.");
C(m_enobufs, "agentcore_uring_buffer_ring_empty_total",
  "Receives that found the provided-buffer ring empty (ENOBUFS).");
C(m_bufwaits, "agentcore_uring_buffer_waits_total",
  "Connections parked until a provided buffer came back.");
C(m_rearms, "agentcore_uring_multishot_rearms_total",
  "Multishot operations that ended and were submitted again.");
C(m_zc, "agentcore_uring_send_zc_total", "Zero-copy sends (SEND_ZC) submitted.");
C(m_zc_copied, "agentcore_uring_send_zc_copied_total",
  "SEND_ZC completions whose notification said the kernel copied the data.");
C(m_zc_fallback, "agentcore_uring_send_zc_fallbacks_total",
  "Connections that switched from SEND_ZC to plain sends after a copy.");
/* connections and bytes */
G(m_conns_open, "agentcore_connections_open", "TCP connections open now.");
C(m_conns_acc, "agentcore_connections_accepted_total", "TCP connections accepted.");
C(m_conns_ref, "agentcore_connections_refused_total",
  "TCP connections closed at once because the shard's connection limit was reached.");
C(m_conns_closed, "agentcore_connections_closed_total",
  "TCP connections closed, by the first reason seen: local, peer, error, idle, shutdown.");
C(m_bytes_in, "agentcore_net_received_bytes_total", "Bytes received.");
C(m_bytes_out, "agentcore_net_sent_bytes_total", "Bytes sent.");
C(m_sends, "agentcore_net_sends_total", "Send operations.");
C(m_pauses, "agentcore_net_read_pauses_total",
  "Times reading paused because a connection's output passed its high-water mark.");
/* HTTP servers, by listening port */
C(m_http_conns, "agentcore_http_connections_total", "Connections accepted by the HTTP server.");
C(m_http_reqs, "agentcore_http_requests_total", "Requests parsed and handed to the server's routes.");
C(m_http_perr, "agentcore_http_parse_errors_total",
  "Requests refused by the parser (4xx/5xx answered by the server).");
C(m_http_408, "agentcore_http_request_timeouts_total",
  "Requests not complete within the request timeout (408).");
C(m_http_idle, "agentcore_http_idle_closes_total", "Keep-alive connections closed while idle.");
C(m_http_holds, "agentcore_http_parse_holds_total",
  "Times backpressure held parsing (pipelined answers or output pending).");
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

static void collect_net(ac_metrics_sink *s)
{
    static const char *const cause[AC_CLOSE_CAUSES] = {"local", "peer", "error", "idle",
                                                       "shutdown"};
    ac_net *net = ac_net_current();
    if (net) {
        struct ac_net_stats ns;
        ac_net_stats(net, &ns);
        ac_metrics_emit(s, &m_enobufs, (double)ns.enobufs, NULL);
        ac_metrics_emit(s, &m_bufwaits, (double)ns.bufs_waits, NULL);
        ac_metrics_emit(s, &m_rearms, (double)ns.recv_rearms, "op=\"recv\"");
        ac_metrics_emit(s, &m_rearms, (double)ns.accept_rearms, "op=\"accept\"");
        ac_metrics_emit(s, &m_zc, (double)ns.zc_sends, NULL);
        ac_metrics_emit(s, &m_zc_copied, (double)ns.zc_copied, NULL);
        ac_metrics_emit(s, &m_zc_fallback, (double)ns.zc_fallbacks, NULL);
        ac_metrics_emit(s, &m_conns_open, (double)ns.conns_open, NULL);
        ac_metrics_emit(s, &m_conns_acc, (double)ns.accepted, NULL);
        ac_metrics_emit(s, &m_conns_ref, (double)ns.refused, NULL);
        for (unsigned c = 0; c < AC_CLOSE_CAUSES; c++)
            ac_metrics_emit(s, &m_conns_closed, (double)ns.closed[c], "cause=\"%s\"", cause[c]);
        ac_metrics_emit(s, &m_bytes_in, (double)ns.bytes_in, NULL);
        ac_metrics_emit(s, &m_bytes_out, (double)ns.bytes_out, NULL);
        ac_metrics_emit(s, &m_sends, (double)ns.sends, NULL);
        ac_metrics_emit(s, &m_pauses, (double)ns.read_pauses, NULL);
    }
    for (ac_http_server *h = ac_http_server_next(NULL); h; h = ac_http_server_next(h)) {
        struct ac_http_server_stats hs;
        unsigned port = ac_http_server_port(h);
        ac_http_server_stats(h, &hs);
        ac_metrics_emit(s, &m_http_conns, (double)hs.connections, "listener=\"%u\"", port);
        ac_metrics_emit(s, &m_http_reqs, (double)hs.requests, "listener=\"%u\"", port);
        ac_metrics_emit(s, &m_http_perr, (double)hs.parse_errors, "listener=\"%u\"", port);
        ac_metrics_emit(s, &m_http_408, (double)hs.request_timeouts, "listener=\"%u\"", port);
        ac_metrics_emit(s, &m_http_idle, (double)hs.idle_closes, "listener=\"%u\"", port);
        ac_metrics_emit(s, &m_http_holds, (double)hs.parse_holds, "listener=\"%u\"", port);
    }
}

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
        ac_metrics_emit(s, &m_ops, (double)rs.ops_inflight, NULL);
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
    collect_net(s);
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
