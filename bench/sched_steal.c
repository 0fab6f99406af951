/*
 * Imbalanced load with stealing on vs off: all CPU work is spawned
 * (stealable) on shard 0 of two shards; shard 1 starts idle. The shards
 * are plain pthreads pinned to CPUs 0 and 1 (tests/sched/pthread_shards.h:
 * the loop of the runtime contract in sched.h, a mutex+condvar inbox for
 * the message rings and MSG_RING wake-ups); the lead redoes this on the
 * real runtime. Reported: wall time until every done callback ran on
 * shard 0, and the ratio off/on (aim ≥ 1.8x on 2 cores).
 */
#include "harness.h"

#include "../tests/sched/pthread_shards.h"

#include <stdio.h>
#include <stdlib.h>

static struct pshard_world world;
static unsigned ntasks, spin, dones; /* dones: shard 0 only */
static uint64_t ran_by[2];           /* each slot written by its shard only */
static atomic_bool go;
static uint64_t cpu_ns[2]; /* thread CPU time of each shard, last run */

static void work(void *arg)
{
    (void)arg;
    volatile uint64_t x = 0;
    for (unsigned k = 0; k < spin; k++)
        x += k * k;
    (void)x; /* the volatile stores are the work */
    ran_by[ac_sched_current() == world.sh[0].s ? 0 : 1]++;
}

static void done(void *arg, int res)
{
    (void)arg;
    AC_BENCH_CHECK(res == 0);
    if (++dones == ntasks)
        pshard_stop(&world);
}

static void *shard_main(void *arg)
{
    struct pshard *me = arg;
    AC_BENCH_CHECK(ac_bench_pin(me->id) == 0);
    ac_sched_set_current(me->s);
    if (me->id == 0) {
        while (!atomic_load(&go))
            ;
        for (unsigned i = 0; i < ntasks; i++)
            AC_BENCH_CHECK(ac_spawn_stealable(AC_PRIO_NORMAL, work, NULL, done, NULL) == 0);
    }
    pshard_loop(&world, me);
    cpu_ns[me->id] = ac_bench_thread_cpu_ns();
    return NULL;
}

/* Wall seconds for the whole load; *share1 = fraction run by shard 1,
 * *busy1 = shard 1's CPU time over the wall time (low when the machine's
 * other load takes CPU 1 away: then the ratio says little). */
static double slowdown1; /* shard 1's CPU time per task over shard 0's, last run on */

static double run(bool stealing, double *share1, double *busy1)
{
    AC_BENCH_CHECK(pshard_world_init(&world, 2, ntasks, stealing) == 0);
    atomic_store(&go, false);
    dones = 0;
    ran_by[0] = ran_by[1] = 0;
    for (unsigned i = 0; i < 2; i++)
        AC_BENCH_CHECK(pthread_create(&world.sh[i].th, NULL, shard_main, &world.sh[i]) == 0);
    uint64_t t0 = ac_now_ns();
    atomic_store(&go, true);
    for (unsigned i = 0; i < 2; i++)
        pthread_join(world.sh[i].th, NULL);
    uint64_t t1 = ac_now_ns();
    AC_BENCH_CHECK(ran_by[0] + ran_by[1] == ntasks && dones == ntasks);
    *share1 = (double)ran_by[1] / (double)ntasks;
    *busy1 = (double)cpu_ns[1] / (double)(t1 - t0);
    if (stealing && ran_by[0] && ran_by[1])
        slowdown1 =
            ((double)cpu_ns[1] / (double)ran_by[1]) / ((double)cpu_ns[0] / (double)ran_by[0]);
    pshard_world_destroy(&world);
    return (double)(t1 - t0) / 1e9;
}

int main(int argc, char **argv)
{
    struct ac_bench_opts o;
    if (ac_bench_parse(argc, argv, &o) < 0)
        return 2;
    ntasks = o.quick ? 2000 : 20000;
    spin = 10000; /* ~10-20 us of work per task */
    ac_bench_begin(&o, "sched_steal");
    double *on = calloc(o.runs, sizeof *on), *off = calloc(o.runs, sizeof *off);
    double share = 0, share_on = 0, busy = 0, busy_on = 0;
    for (unsigned r = 0; r < o.runs; r++) { /* interleaved: same conditions */
        off[r] = run(false, &share, &busy);
        AC_BENCH_CHECK(share == 0);
        on[r] = run(true, &share_on, &busy_on);
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
    ac_bench_value("shard 1 CPU time / wall (last run, on)", "fraction", busy_on);
    /* > 1 when CPU 1 runs the same work slower (other load on the host). */
    ac_bench_value("shard 1 / shard 0 CPU time per task (last run, on)", "x", slowdown1);
    free(on);
    free(off);
    ac_bench_end();
    return 0;
}
