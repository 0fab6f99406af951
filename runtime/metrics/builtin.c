/*
 * The built-in per-shard collector: what every layer below keeps in its
 * plain per-shard stats, read on the shard that owns them. Each stats
 * struct has a table of (family, field) rows, so a new field is one row.
 */
#include "internal.h"

#include "agentcore/http.h"
#include "agentcore/mem.h"
#include "agentcore/net.h"
#include "agentcore/ring.h"
#include "agentcore/sched.h"

#include <stddef.h>
#include <stdio.h>

/* One uint64_t field of a stats struct as one sample of a family. */
struct row {
    struct ac_metric_desc d;
    size_t off;
    const char *labels; /* constant label list, or NULL */
};

#define C(name, help) {name, help, AC_METRIC_COUNTER}
#define G(name, help) {name, help, AC_METRIC_GAUGE}
#define ROW(type, field, desc, ...) {desc, offsetof(type, field), __VA_ARGS__}

static void emit_rows(ac_metrics_sink *s, const struct row *rows, size_t n, const void *stats,
                      const char *extra_labels)
{
    char labels[128];
    for (size_t i = 0; i < n; i++) {
        uint64_t v = *(const uint64_t *)(const void *)((const char *)stats + rows[i].off);
        const char *l = rows[i].labels;
        if (extra_labels) {
            snprintf(labels, sizeof labels, "%s%s%s", extra_labels, l ? "," : "", l ? l : "");
            l = labels;
        }
        if (l)
            ac_metrics_emit(s, &rows[i].d, (double)v, "%s", l);
        else
            ac_metrics_emit(s, &rows[i].d, (double)v, NULL);
    }
}

#define EMIT(s, rows, stats, extra) emit_rows(s, rows, AC_ARRAY_LEN(rows), stats, extra)

/* ---- runtime: loop and messages ---------------------------------------- */

#define S struct ac_shard_stats
static const struct row shard_rows[] = {
    ROW(S, loops, C("agentcore_loop_turns_total", "Shard loop turns."), NULL),
    ROW(S, sleeps, C("agentcore_loop_sleeps_total", "Loop turns that waited in the kernel."), NULL),
    ROW(S, msgs_sent, C("agentcore_messages_sent_total", "Cross-shard messages sent by this shard."),
        NULL),
    ROW(S, msgs_run, C("agentcore_messages_run_total", "Cross-shard messages run on this shard."),
        NULL),
    ROW(S, msgs_full,
        C("agentcore_messages_ring_full_total",
          "Cross-shard submissions refused because the ring stayed full (backpressure)."),
        NULL),
    ROW(S, wakes_sent,
        C("agentcore_wakeups_sent_total", "MSG_RING wake-ups sent to sleeping shards."), NULL),
    ROW(S, wakes_received, C("agentcore_wakeups_received_total", "MSG_RING wake-ups received."),
        NULL),
    ROW(S, timers_fired, C("agentcore_timers_fired_total", "Timers fired."), NULL),
};
#undef S

/* ---- io_uring ------------------------------------------------------------ */

#define R struct ac_ring_stats
static const struct row ring_rows[] = {
    ROW(R, enters, C("agentcore_uring_enter_calls_total", "io_uring_enter system calls."), NULL),
    ROW(R, submitted,
        C("agentcore_uring_sqes_submitted_total", "Submission queue entries submitted."), NULL),
    ROW(R, completions,
        C("agentcore_uring_completions_total", "Completion queue entries dispatched."), NULL),
    ROW(R, sq_full,
        C("agentcore_uring_sq_full_total",
          "Times the submission queue was full and had to be flushed early."),
        NULL),
    ROW(R, cq_overflows,
        C("agentcore_uring_cq_overflows_total",
          "Completions the kernel could not post to a full completion queue."),
        NULL),
    ROW(R, ops_inflight,
        G("agentcore_uring_ops_in_flight", "io_uring operations submitted and not yet completed."),
        NULL),
};
#undef R

/* ---- tasks ----------------------------------------------------------------- */

#define T struct ac_sched_stats
static const struct row sched_rows[] = {
    ROW(T, submitted,
        C("agentcore_tasks_submitted_total", "Tasks accepted by this shard's scheduler."), NULL),
    ROW(T, ran, C("agentcore_tasks_run_total", "Tasks this shard executed (own and stolen)."),
        NULL),
    ROW(T, stolen, C("agentcore_tasks_stolen_total", "Tasks this shard stole from other shards."),
        NULL),
    ROW(T, rejected,
        C("agentcore_tasks_rejected_total", "Spawns refused because the class queue was full."),
        NULL),
    ROW(T, failed,
        C("agentcore_tasks_failed_total", "Tasks that never ran (timed out, cancelled, dropped)."),
        NULL),
};
#undef T
static const struct ac_metric_desc m_queue = G("agentcore_queue_length",
                                               "Tasks queued per priority class.");

/* ---- connections and the buffer ring -------------------------------------- */

#define N struct ac_net_stats
#define CLOSED                                                                                     \
    C("agentcore_connections_closed_total",                                                        \
      "TCP connections closed, by the first reason seen: local, peer, error, idle, shutdown.")
#define REARMS                                                                                     \
    C("agentcore_uring_multishot_rearms_total",                                                    \
      "Multishot operations that ended and were submitted again.")
static const struct row net_rows[] = {
    ROW(N, enobufs,
        C("agentcore_uring_buffer_ring_empty_total",
          "Receives that found the provided-buffer ring empty (ENOBUFS)."),
        NULL),
    ROW(N, bufs_waits,
        C("agentcore_uring_buffer_waits_total",
          "Connections parked until a provided buffer came back."),
        NULL),
    ROW(N, recv_rearms, REARMS, "op=\"recv\""),
    ROW(N, accept_rearms, REARMS, "op=\"accept\""),
    ROW(N, zc_sends, C("agentcore_uring_send_zc_total", "Zero-copy sends (SEND_ZC) submitted."),
        NULL),
    ROW(N, zc_copied,
        C("agentcore_uring_send_zc_copied_total",
          "SEND_ZC completions whose notification said the kernel copied the data."),
        NULL),
    ROW(N, zc_fallbacks,
        C("agentcore_uring_send_zc_fallbacks_total",
          "Connections that switched from SEND_ZC to plain sends after a copy."),
        NULL),
    ROW(N, conns_open, G("agentcore_connections_open", "TCP connections open now."), NULL),
    ROW(N, accepted, C("agentcore_connections_accepted_total", "TCP connections accepted."), NULL),
    ROW(N, refused,
        C("agentcore_connections_refused_total",
          "TCP connections closed at once because the shard's connection limit was reached."),
        NULL),
    ROW(N, closed[AC_CLOSE_LOCAL], CLOSED, "cause=\"local\""),
    ROW(N, closed[AC_CLOSE_PEER], CLOSED, "cause=\"peer\""),
    ROW(N, closed[AC_CLOSE_ERROR], CLOSED, "cause=\"error\""),
    ROW(N, closed[AC_CLOSE_IDLE], CLOSED, "cause=\"idle\""),
    ROW(N, closed[AC_CLOSE_SHUTDOWN], CLOSED, "cause=\"shutdown\""),
    ROW(N, bytes_in, C("agentcore_net_received_bytes_total", "Bytes received."), NULL),
    ROW(N, bytes_out, C("agentcore_net_sent_bytes_total", "Bytes sent."), NULL),
    ROW(N, sends, C("agentcore_net_sends_total", "Send operations."), NULL),
    ROW(N, read_pauses,
        C("agentcore_net_read_pauses_total",
          "Times reading paused because a connection's output passed its high-water mark."),
        NULL),
};
_Static_assert(AC_CLOSE_CAUSES == 5, "a row per close cause");
#undef N

/* ---- HTTP servers, by listening port ----------------------------------------- */

#define H struct ac_http_server_stats
static const struct row http_rows[] = {
    ROW(H, connections,
        C("agentcore_http_connections_total", "Connections accepted by the HTTP server."), NULL),
    ROW(H, requests,
        C("agentcore_http_requests_total", "Requests parsed and handed to the server's routes."),
        NULL),
    ROW(H, parse_errors,
        C("agentcore_http_parse_errors_total",
          "Requests refused by the parser (4xx/5xx answered by the server)."),
        NULL),
    ROW(H, request_timeouts,
        C("agentcore_http_request_timeouts_total",
          "Requests not complete within the request timeout (408)."),
        NULL),
    ROW(H, idle_closes,
        C("agentcore_http_idle_closes_total", "Keep-alive connections closed while idle."), NULL),
    ROW(H, parse_holds,
        C("agentcore_http_parse_holds_total",
          "Times backpressure held parsing (pipelined answers or output pending)."),
        NULL),
};
#undef H

/* ---- memory ------------------------------------------------------------------ */

_Static_assert(sizeof(size_t) == sizeof(uint64_t), "heap byte counts read as uint64_t");
#define M struct ac_heap_stats
static const struct row heap_rows[] = {
    ROW(M, bytes_held,
        G("agentcore_memory_bytes", "Memory the shard's heap holds: formatted slabs and large "
                                    "mappings (what the budget limits)."),
        NULL),
    ROW(M, bytes_in_use,
        G("agentcore_memory_in_use_bytes", "Bytes of live objects in the shard's heap."), NULL),
    ROW(M, bytes_mapped,
        G("agentcore_memory_mapped_bytes", "Bytes the shard's heap has mapped from the OS."), NULL),
    ROW(M, limit_bytes, G("agentcore_memory_limit_bytes", "The shard's heap budget (0: none)."),
        NULL),
    ROW(M, budget_failures,
        C("agentcore_memory_budget_failures_total",
          "Allocations refused by the shard's memory budget."),
        NULL),
    ROW(M, oom_failures,
        C("agentcore_memory_oom_failures_total", "Allocations the OS refused."), NULL),
    ROW(M, remote_frees,
        C("agentcore_memory_remote_frees_total",
          "Objects freed by other threads and reclaimed by this shard."),
        NULL),
};
#undef M
#define K struct ac_heap_class_stats
static const struct row class_rows[] = {
    ROW(K, bytes_in_use, G("agentcore_slab_bytes", "Bytes of live objects per slab size class."),
        NULL),
    ROW(K, slabs, G("agentcore_slab_slabs", "Slabs formatted per size class."), NULL),
};
#undef K

/* ---- stalls ---------------------------------------------------------------------- */

static const struct ac_metric_desc m_stalls = C(
    "agentcore_stalls_total",
    "Callbacks that ran longer than the stall threshold, by the agent or callback that ran.");
static const struct ac_metric_desc m_stall_hist = {
    "agentcore_stall_duration_seconds",
    "How long each stalled callback ran, by the agent or callback that ran.",
    AC_METRIC_HISTOGRAM};
static const struct ac_metric_desc m_stall_max = G(
    "agentcore_stall_max_seconds", "Longest callback over the stall threshold.");

static void collect_heap(ac_metrics_sink *s)
{
    struct ac_heap_stats st;
    char labels[32];
    ac_heap *h = ac_heap_current();
    if (!h)
        return;
    ac_heap_stats(h, &st);
    EMIT(s, heap_rows, &st, NULL);
    for (unsigned c = 0; c < AC_HEAP_CLASSES; c++) {
        if (!st.cls[c].slabs)
            continue;
        snprintf(labels, sizeof labels, "class=\"%zu\"", st.cls[c].size);
        EMIT(s, class_rows, &st.cls[c], labels);
    }
}

static void collect_stalls(const ac_metrics *m, ac_metrics_sink *s, unsigned shard)
{
    struct ac_shard_stats st;
    struct ac_stall_stats stalls[AC_STALL_NAMES];
    unsigned n = ac_shard_stalls(stalls, AC_STALL_NAMES);
    for (unsigned i = 0; i < n; i++) {
        ac_metrics_emit(s, &m_stalls, (double)stalls[i].hist.count, "callback=\"%s\"",
                        stalls[i].name);
        ac_metrics_emit_hist(s, &m_stall_hist, &stalls[i].hist, "callback=\"%s\"",
                             stalls[i].name);
    }
    if (ac_runtime_shard_stats(m->rt, shard, &st) == 0)
        ac_metrics_emit(s, &m_stall_max, (double)st.stall_max_ns / 1e9, NULL);
}

void ac__collect_runtime(void *arg, ac_metrics_sink *s)
{
    static const char *const cls[AC_PRIO_COUNT] = {"high", "normal", "low"};
    ac_metrics *m = arg;
    unsigned shard = ac_metrics_sink_shard(s);
    struct ac_shard_stats st;
    struct ac_ring *ring = ac_ring_current();
    ac_sched *sched = ac_sched_current();
    ac_net *net = ac_net_current();

    if (ac_runtime_shard_stats(m->rt, shard, &st) == 0)
        EMIT(s, shard_rows, &st, NULL);
    if (ring) {
        struct ac_ring_stats rs;
        ac_ring_stats(ring, &rs);
        EMIT(s, ring_rows, &rs, NULL);
    }
    if (sched) {
        struct ac_sched_stats ss;
        ac_sched_stats_get(sched, &ss);
        EMIT(s, sched_rows, &ss, NULL);
        for (unsigned c = 0; c < AC_PRIO_COUNT; c++)
            ac_metrics_emit(s, &m_queue, (double)ss.queued[c], "class=\"%s\"", cls[c]);
    }
    if (net) {
        struct ac_net_stats ns;
        ac_net_stats(net, &ns);
        EMIT(s, net_rows, &ns, NULL);
    }
    for (ac_http_server *h = ac_http_server_next(NULL); h; h = ac_http_server_next(h)) {
        struct ac_http_server_stats hs;
        char labels[32];
        ac_http_server_stats(h, &hs);
        snprintf(labels, sizeof labels, "listener=\"%u\"", ac_http_server_port(h));
        EMIT(s, http_rows, &hs, labels);
    }
    collect_heap(s);
    collect_stalls(m, s, shard);
}
