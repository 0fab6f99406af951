/*
 * bench_runtime: the foundation's costs, each beside a pthread baseline
 * measured in the same run.
 *
 *   round trip   shard 0 → shard 1 → shard 0, one message in flight (the
 *                target sleeps in io_uring_enter and is woken by MSG_RING);
 *                baseline: two threads ping-ponging through mutex+condvar.
 *   one-way      shard 0 streams messages to shard 1 (SPSC ring, batched);
 *                baseline: a mutex-protected queue with a condvar.
 *   timers       lateness of timers fired by the wheel (deadline → callback);
 *                baseline: clock_nanosleep to the same deadlines.
 *   idle         CPU used by an idle runtime (all shards asleep).
 *
 * Every scenario asserts its messages/timers all arrived.
 */
#include "harness.h"

#include "agentcore.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct ac_bench_opts opts;
static unsigned cpu_a = 0, cpu_b = 1;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_u64);
    return v[(size_t)(p * (double)(n - 1))];
}

static ac_runtime *make_runtime(unsigned shards, ac_shard_hook_fn on_start, void *arg)
{
    ac_runtime_config cfg;
    ac_runtime *rt;
    char cpus[32];
    ac_runtime_config_init(&cfg);
    cfg.handle_signals = false;
    snprintf(cpus, sizeof cpus, shards == 1 ? "%u" : "%u,%u", cpu_a, cpu_b);
    cfg.cpus = cpus;
    cfg.on_shard_start = on_start;
    cfg.hook_arg = arg;
    AC_BENCH_CHECK(ac_runtime_create(&cfg, &rt) == 0);
    return rt;
}

/* ---- round trip ---------------------------------------------------------- */

static struct {
    ac_runtime *rt;
    unsigned rounds, done;
    uint64_t sent_at, *rtt;
} RT;

static void rt_pong(void *arg);

static void rt_ping(void *arg)
{
    (void)arg;
    AC_BENCH_CHECK(ac_submit_to(0, rt_pong, NULL) == 0);
}

static void rt_pong(void *arg)
{
    (void)arg;
    uint64_t now = ac_now_ns();
    if (RT.sent_at)
        RT.rtt[RT.done++] = now - RT.sent_at;
    if (RT.done == RT.rounds) {
        ac_runtime_stop(RT.rt);
        return;
    }
    RT.sent_at = ac_now_ns();
    AC_BENCH_CHECK(ac_submit_to(1, rt_ping, NULL) == 0);
}

static void rt_start(void *arg, unsigned shard)
{
    (void)arg;
    if (shard == 0)
        rt_pong(NULL);
}

static void round_trip_runtime(uint64_t *p50, uint64_t *p99)
{
    memset(&RT, 0, sizeof RT);
    RT.rounds = opts.quick ? 5000 : 50000;
    RT.rtt = malloc(sizeof *RT.rtt * RT.rounds);
    RT.rt = make_runtime(2, rt_start, NULL);
    AC_BENCH_CHECK(ac_runtime_run(RT.rt) == 0);
    AC_BENCH_CHECK(RT.done == RT.rounds);
    *p50 = pct(RT.rtt, RT.rounds, 0.50);
    *p99 = pct(RT.rtt, RT.rounds, 0.99);
    ac_runtime_destroy(RT.rt);
    free(RT.rtt);
}

/* baseline: mutex + condvar ping-pong between two pinned threads */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int turn; /* 0: ping side, 1: pong side, 2: quit */
} CV;

static void *cv_ponger(void *arg)
{
    (void)arg;
    ac_bench_pin(cpu_b);
    pthread_mutex_lock(&CV.mu);
    for (;;) {
        while (CV.turn == 0)
            pthread_cond_wait(&CV.cv, &CV.mu);
        if (CV.turn == 2)
            break;
        CV.turn = 0;
        pthread_cond_broadcast(&CV.cv);
    }
    pthread_mutex_unlock(&CV.mu);
    return NULL;
}

static void round_trip_condvar(uint64_t *p50, uint64_t *p99)
{
    unsigned rounds = opts.quick ? 5000 : 50000;
    uint64_t *rtt = malloc(sizeof *rtt * rounds);
    pthread_t th;
    pthread_mutex_init(&CV.mu, NULL);
    pthread_cond_init(&CV.cv, NULL);
    CV.turn = 0;
    ac_bench_pin(cpu_a);
    pthread_create(&th, NULL, cv_ponger, NULL);
    for (unsigned i = 0; i < rounds; i++) {
        uint64_t t0 = ac_now_ns();
        pthread_mutex_lock(&CV.mu);
        CV.turn = 1;
        pthread_cond_broadcast(&CV.cv);
        while (CV.turn == 1)
            pthread_cond_wait(&CV.cv, &CV.mu);
        pthread_mutex_unlock(&CV.mu);
        rtt[i] = ac_now_ns() - t0;
    }
    pthread_mutex_lock(&CV.mu);
    CV.turn = 2;
    pthread_cond_broadcast(&CV.cv);
    pthread_mutex_unlock(&CV.mu);
    pthread_join(th, NULL);
    ac_bench_unpin();
    *p50 = pct(rtt, rounds, 0.50);
    *p99 = pct(rtt, rounds, 0.99);
    free(rtt);
}

/* ---- one-way throughput -------------------------------------------------- */

static struct {
    ac_runtime *rt;
    uint64_t total, sent, received;
    uint64_t t0, t1;
    struct ac_timer driver;
} OW;

static void ow_recv(void *arg)
{
    (void)arg;
    if (++OW.received == OW.total) {
        OW.t1 = ac_now_ns();
        ac_runtime_stop(OW.rt);
    }
}

static void ow_send(struct ac_timer *t, void *arg)
{
    (void)arg;
    while (OW.sent < OW.total) {
        int err = ac_submit_to(1, ow_recv, NULL);
        if (err == -EAGAIN)
            break;
        AC_BENCH_CHECK(err == 0);
        OW.sent++;
    }
    if (OW.sent < OW.total)
        AC_BENCH_CHECK(ac_timer_start(t, 0, ow_send, NULL) == 0);
}

static void ow_start(void *arg, unsigned shard)
{
    (void)arg;
    if (shard == 0) {
        OW.t0 = ac_now_ns();
        AC_BENCH_CHECK(ac_timer_start(&OW.driver, 0, ow_send, NULL) == 0);
    }
}

static double one_way_runtime(void)
{
    memset(&OW, 0, sizeof OW);
    OW.total = opts.quick ? 1000000 : 10000000;
    OW.rt = make_runtime(2, ow_start, NULL);
    AC_BENCH_CHECK(ac_runtime_run(OW.rt) == 0);
    AC_BENCH_CHECK(OW.received == OW.total);
    ac_runtime_destroy(OW.rt);
    return (double)OW.total / ((double)(OW.t1 - OW.t0) / 1e9);
}

/* baseline: a mutex-protected ring with condvars, batch-drained */
#define MQ_CAP 1024
static struct {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    struct ac_msg_slot {
        void (*fn)(void *);
        void *arg;
    } q[MQ_CAP];
    unsigned head, tail;
    uint64_t total, received;
} MQ;

static void mq_recv(void *arg)
{
    (void)arg;
    MQ.received++;
}

static void *mq_consumer(void *arg)
{
    (void)arg;
    ac_bench_pin(cpu_b);
    while (MQ.received < MQ.total) {
        pthread_mutex_lock(&MQ.mu);
        while (MQ.head == MQ.tail)
            pthread_cond_wait(&MQ.not_empty, &MQ.mu);
        while (MQ.head != MQ.tail) {
            struct ac_msg_slot m = MQ.q[MQ.head++ % MQ_CAP];
            m.fn(m.arg);
        }
        pthread_cond_signal(&MQ.not_full);
        pthread_mutex_unlock(&MQ.mu);
    }
    return NULL;
}

static double one_way_mutex(void)
{
    pthread_t th;
    memset(&MQ, 0, sizeof MQ);
    pthread_mutex_init(&MQ.mu, NULL);
    pthread_cond_init(&MQ.not_empty, NULL);
    pthread_cond_init(&MQ.not_full, NULL);
    MQ.total = opts.quick ? 1000000 : 10000000;
    ac_bench_pin(cpu_a);
    uint64_t t0 = ac_now_ns();
    pthread_create(&th, NULL, mq_consumer, NULL);
    for (uint64_t i = 0; i < MQ.total; i++) {
        pthread_mutex_lock(&MQ.mu);
        while (MQ.tail - MQ.head == MQ_CAP)
            pthread_cond_wait(&MQ.not_full, &MQ.mu);
        MQ.q[MQ.tail++ % MQ_CAP] = (struct ac_msg_slot){mq_recv, NULL};
        pthread_cond_signal(&MQ.not_empty);
        pthread_mutex_unlock(&MQ.mu);
    }
    pthread_join(th, NULL);
    uint64_t t1 = ac_now_ns();
    ac_bench_unpin();
    AC_BENCH_CHECK(MQ.received == MQ.total);
    return (double)MQ.total / ((double)(t1 - t0) / 1e9);
}

/* ---- timer lateness ------------------------------------------------------ */

#define TIMERS 2000
static struct {
    ac_runtime *rt;
    struct ac_timer t;
    unsigned n, count;
    uint64_t deadline, late[TIMERS];
} TL;

static uint64_t next_delay(unsigned i)
{
    return 200000 + (uint64_t)((i * 7919u) % 1800) * 1000; /* 0.2 .. 2 ms */
}

static void tl_fire(struct ac_timer *t, void *arg)
{
    (void)arg;
    TL.late[TL.n++] = ac_now_ns() - TL.deadline;
    if (TL.n == TL.count) {
        ac_runtime_stop(TL.rt);
        return;
    }
    TL.deadline = ac_now_ns() + next_delay(TL.n);
    AC_BENCH_CHECK(ac_timer_start_at(t, TL.deadline, tl_fire, NULL) == 0);
}

static void tl_start(void *arg, unsigned shard)
{
    (void)arg;
    (void)shard;
    TL.deadline = ac_now_ns() + next_delay(0);
    AC_BENCH_CHECK(ac_timer_start_at(&TL.t, TL.deadline, tl_fire, NULL) == 0);
}

static void timer_lateness_runtime(uint64_t *p50, uint64_t *p99)
{
    memset(&TL, 0, sizeof TL);
    TL.count = opts.quick ? 300 : TIMERS;
    TL.rt = make_runtime(1, tl_start, NULL);
    AC_BENCH_CHECK(ac_runtime_run(TL.rt) == 0);
    AC_BENCH_CHECK(TL.n == TL.count);
    ac_runtime_destroy(TL.rt);
    *p50 = pct(TL.late, TL.count, 0.50);
    *p99 = pct(TL.late, TL.count, 0.99);
}

static void timer_lateness_nanosleep(uint64_t *p50, uint64_t *p99)
{
    unsigned count = opts.quick ? 300 : TIMERS;
    uint64_t late[TIMERS];
    ac_bench_pin(cpu_a);
    for (unsigned i = 0; i < count; i++) {
        uint64_t d = ac_now_ns() + next_delay(i);
        struct timespec ts = {.tv_sec = (time_t)(d / 1000000000u),
                              .tv_nsec = (long)(d % 1000000000u)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        late[i] = ac_now_ns() - d;
    }
    ac_bench_unpin();
    *p50 = pct(late, count, 0.50);
    *p99 = pct(late, count, 0.99);
}

/* ---- idle CPU ------------------------------------------------------------ */

static struct {
    ac_runtime *rt;
    struct ac_timer t;
} ID;

static void idle_done(struct ac_timer *t, void *arg)
{
    (void)t;
    (void)arg;
    ac_runtime_stop(ID.rt);
}

static void idle_start(void *arg, unsigned shard)
{
    (void)arg;
    if (shard == 0)
        AC_BENCH_CHECK(ac_timer_start(&ID.t, (uint64_t)(opts.seconds * 1e9), idle_done, NULL) == 0);
}

/* CPU % of one core used by the whole process while its shards idle;
 * *turns: loop turns of the idle shard 1 (a handful when it slept the whole
 * time; reported, not asserted: a host wake-up is not the runtime's work). */
static double idle_cpu_percent(uint64_t *turns)
{
    ID.rt = make_runtime(2, idle_start, NULL);
    uint64_t c0 = ac_bench_proc_cpu_ns(getpid()), t0 = ac_now_ns();
    AC_BENCH_CHECK(ac_runtime_run(ID.rt) == 0);
    uint64_t c1 = ac_bench_proc_cpu_ns(getpid()), t1 = ac_now_ns();
    struct ac_shard_stats st;
    AC_BENCH_CHECK(ac_runtime_shard_stats(ID.rt, 1, &st) == 0);
    *turns = st.loops;
    ac_runtime_destroy(ID.rt);
    return 100.0 * (double)(c1 - c0) / (double)(t1 - t0);
}

int main(int argc, char **argv)
{
    if (ac_bench_parse(argc, argv, &opts) < 0)
        return 2;
    ac_log_set_level(AC_LOG_WARN);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 2)
        cpu_b = 0;
    unsigned runs = opts.runs;
    double a50[runs], a99[runs], b50[runs], b99[runs], ow[runs], mq[runs];
    double t50[runs], t99[runs], n50[runs], n99[runs], idle[runs];
    struct ac_bench_stats s;

    ac_bench_begin(&opts, "runtime");
    for (unsigned r = 0; r < runs; r++) {
        uint64_t p50, p99;
        round_trip_runtime(&p50, &p99);
        a50[r] = (double)p50 / 1000;
        a99[r] = (double)p99 / 1000;
        round_trip_condvar(&p50, &p99);
        b50[r] = (double)p50 / 1000;
        b99[r] = (double)p99 / 1000;
        ow[r] = one_way_runtime() / 1e6;
        mq[r] = one_way_mutex() / 1e6;
        timer_lateness_runtime(&p50, &p99);
        t50[r] = (double)p50 / 1000;
        t99[r] = (double)p99 / 1000;
        timer_lateness_nanosleep(&p50, &p99);
        n50[r] = (double)p50 / 1000;
        n99[r] = (double)p99 / 1000;
    }
    double ratio50 = 0, ratio_ow = 0;
    ac_bench_stats_of(a50, runs, &s);
    ac_bench_result("round trip, shard msg (target asleep) p50", "us", &s);
    ratio50 = s.median;
    ac_bench_stats_of(a99, runs, &s);
    ac_bench_result("round trip, shard msg (target asleep) p99", "us", &s);
    ac_bench_stats_of(b50, runs, &s);
    ac_bench_result("round trip, mutex+condvar baseline p50", "us", &s);
    ratio50 /= s.median;
    ac_bench_stats_of(b99, runs, &s);
    ac_bench_result("round trip, mutex+condvar baseline p99", "us", &s);
    ac_bench_value("round trip p50 ratio (runtime / condvar)", "x", ratio50);
    ac_bench_stats_of(ow, runs, &s);
    ac_bench_result("one-way, shard 0 -> shard 1", "M msg/s", &s);
    ratio_ow = s.median;
    ac_bench_stats_of(mq, runs, &s);
    ac_bench_result("one-way, mutex+condvar queue baseline", "M msg/s", &s);
    ac_bench_value("one-way throughput ratio (runtime / mutex queue)", "x", ratio_ow / s.median);
    ac_bench_stats_of(t50, runs, &s);
    ac_bench_result("timer lateness, wheel p50", "us", &s);
    ac_bench_stats_of(t99, runs, &s);
    ac_bench_result("timer lateness, wheel p99", "us", &s);
    ac_bench_stats_of(n50, runs, &s);
    ac_bench_result("timer lateness, clock_nanosleep baseline p50", "us", &s);
    ac_bench_stats_of(n99, runs, &s);
    ac_bench_result("timer lateness, clock_nanosleep baseline p99", "us", &s);
    uint64_t turns, max_turns = 0;
    for (unsigned r = 0; r < (runs < 3 ? runs : 3); r++) {
        idle[r] = idle_cpu_percent(&turns);
        if (turns > max_turns)
            max_turns = turns;
    }
    ac_bench_stats_of(idle, runs < 3 ? runs : 3, &s);
    ac_bench_result("idle runtime, 2 shards, whole process", "% of a CPU", &s);
    ac_bench_value("idle shard loop turns (most of the runs)", "turns", (double)max_turns);
    ac_bench_end();
    return 0;
}
