/*
 * Imbalanced load with stealing on vs off: all CPU work is spawned
 * (stealable) on shard 0 of two shards; shard 1 starts idle and asleep.
 * Shards are plain pthreads pinned to CPUs 0 and 1, running the loop of
 * the runtime contract in sched.h with a mutex+condvar inbox standing in
 * for the runtime's message rings and MSG_RING wake-ups (the lead redoes
 * this on the real runtime). Reported: wall time until every done callback
 * ran on shard 0, and the ratio off/on (aim ≥ 1.8x on 2 cores).
 */
#include "harness.h"

#include "agentcore/sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define INBOX 1024

struct msg {
    void (*fn)(void *);
    void *arg;
};

struct shard {
    ac_sched *s;
    pthread_t th;
    unsigned id;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct msg inbox[INBOX];
    unsigned head, len;
    bool woken;
};

static struct shard sh[2];
static atomic_bool stop;
static unsigned ntasks, spin, dones; /* dones: shard 0 only */
static atomic_bool go;
static uint64_t ran_on[2];

static int post(void *arg, unsigned shard, void (*fn)(void *), void *fnarg)
{
    (void)arg;
    struct shard *t = &sh[shard];
    int r = -EAGAIN;
    pthread_mutex_lock(&t->mu);
    if (t->len < INBOX) {
        t->inbox[(t->head + t->len++) % INBOX] = (struct msg){fn, fnarg};
        pthread_cond_signal(&t->cv);
        r = 0;
    }
    pthread_mutex_unlock(&t->mu);
    return r;
}

static void wake(void *arg, unsigned shard)
{
    (void)arg;
    pthread_mutex_lock(&sh[shard].mu);
    sh[shard].woken = true;
    pthread_cond_signal(&sh[shard].cv);
    pthread_mutex_unlock(&sh[shard].mu);
}

static void work(void *arg)
{
    volatile uint64_t x = 0;
    for (unsigned k = 0; k < spin; k++)
        x += k * k;
    ((uint64_t *)arg)[ac_sched_current() == sh[0].s ? 0 : 1]++;
}

static void done(void *arg, int res)
{
    (void)arg;
    AC_BENCH_CHECK(res == 0);
    if (++dones == ntasks) {
        atomic_store(&stop, true);
        wake(NULL, 1);
    }
}

static void loop(struct shard *me)
{
    while (!atomic_load(&stop)) {
        ac_sched_run(me->s, 64);
        pthread_mutex_lock(&me->mu);
        while (me->len) {
            struct msg m = me->inbox[me->head];
            me->head = (me->head + 1) % INBOX;
            me->len--;
            pthread_mutex_unlock(&me->mu);
            m.fn(m.arg);
            pthread_mutex_lock(&me->mu);
        }
        pthread_mutex_unlock(&me->mu);
        if (ac_sched_has_ready(me->s) || ac_sched_steal(me->s) || !ac_sched_sleep_prepare(me->s))
            continue;
        pthread_mutex_lock(&me->mu);
        while (!me->woken && !me->len && !atomic_load(&stop))
            pthread_cond_wait(&me->cv, &me->mu);
        me->woken = false;
        pthread_mutex_unlock(&me->mu);
        ac_sched_sleep_done(me->s);
    }
}

static uint64_t per_thread_ran[2][2];

static void *shard_main(void *arg)
{
    struct shard *me = arg;
    AC_BENCH_CHECK(ac_bench_pin(me->id) == 0);
    ac_sched_set_current(me->s);
    if (me->id == 0) {
        while (!atomic_load(&go))
            ;
        for (unsigned i = 0; i < ntasks; i++)
            AC_BENCH_CHECK(
                ac_spawn_stealable(AC_PRIO_NORMAL, work, per_thread_ran[0], done, NULL) == 0);
    }
    loop(me);
    return NULL;
}

/* Wall seconds for the whole load; *share1 = fraction run by shard 1. */
static double run(bool stealing, double *share1)
{
    ac_steal_group *g;
    AC_BENCH_CHECK(ac_steal_group_create(2, &g) == 0);
    atomic_store(&stop, false);
    atomic_store(&go, false);
    dones = 0;
    per_thread_ran[0][0] = per_thread_ran[0][1] = 0;
    for (unsigned i = 0; i < 2; i++) {
        struct ac_sched_config cfg;
        ac_sched_config_default(&cfg);
        cfg.shard_id = i;
        cfg.queue_size = ntasks;
        cfg.stealing = stealing;
        cfg.group = g;
        cfg.hooks = (struct ac_sched_hooks){.post = post, .wake = wake};
        AC_BENCH_CHECK(ac_sched_create(&cfg, &sh[i].s) == 0);
        sh[i].id = i;
        sh[i].head = sh[i].len = 0;
        sh[i].woken = false;
        pthread_mutex_init(&sh[i].mu, NULL);
        pthread_cond_init(&sh[i].cv, NULL);
    }
    ac_sched *peers[2] = {sh[0].s, sh[1].s};
    uint8_t d[2] = {0, 0};
    for (unsigned i = 0; i < 2; i++)
        AC_BENCH_CHECK(ac_sched_set_peers(sh[i].s, peers, 2, d) == 0);
    for (unsigned i = 0; i < 2; i++)
        AC_BENCH_CHECK(pthread_create(&sh[i].th, NULL, shard_main, &sh[i]) == 0);
    uint64_t t0 = ac_now_ns();
    atomic_store(&go, true);
    for (unsigned i = 0; i < 2; i++)
        pthread_join(sh[i].th, NULL);
    uint64_t t1 = ac_now_ns();
    uint64_t total = per_thread_ran[0][0] + per_thread_ran[0][1];
    AC_BENCH_CHECK(total == ntasks && dones == ntasks);
    *share1 = (double)per_thread_ran[0][1] / (double)total;
    for (unsigned i = 0; i < 2; i++) {
        ac_sched_destroy(sh[i].s);
        pthread_mutex_destroy(&sh[i].mu);
        pthread_cond_destroy(&sh[i].cv);
    }
    ac_steal_group_destroy(g);
    return (double)(t1 - t0) / 1e9;
}

int main(int argc, char **argv)
{
    struct ac_bench_opts o;
    if (ac_bench_parse(argc, argv, &o) < 0)
        return 2;
    ntasks = o.quick ? 2000 : 20000;
    spin = 10000; /* roughly 10-20 us of work per task */
    (void)ran_on;
    ac_bench_begin(&o, "sched_steal");
    double *on = calloc(o.runs, sizeof *on), *off = calloc(o.runs, sizeof *off);
    double share = 0, share_on = 0;
    for (unsigned r = 0; r < o.runs; r++) { /* interleaved: same conditions */
        off[r] = run(false, &share);
        AC_BENCH_CHECK(share == 0);
        on[r] = run(true, &share_on);
    }
    struct ac_bench_stats son, soff;
    ac_bench_stats_of(off, o.runs, &soff);
    ac_bench_stats_of(on, o.runs, &son);
    char name[96];
    snprintf(name, sizeof name, "%u tasks on shard 0, stealing off", ntasks);
    ac_bench_result(name, "s", &soff);
    snprintf(name, sizeof name, "%u tasks on shard 0, stealing on", ntasks);
    ac_bench_result(name, "s", &son);
    ac_bench_value("speed-up on/off (aim >= 1.8)", "x", soff.median / son.median);
    ac_bench_value("share run by shard 1 (last run, on)", "fraction", share_on);
    free(on);
    free(off);
    ac_bench_end();
    return 0;
}
