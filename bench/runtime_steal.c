/*
 * bench_runtime_steal: an imbalanced load on the real runtime. Shard 0
 * spawns every CPU-bound task (as stealable); with stealing on, the idle
 * shard is woken and takes half of them at a time. Reported: wall time per
 * run with stealing on and off (same run, alternating), and the ratio.
 * Every task's done callback must have come back to shard 0.
 */
#include "harness.h"

#include "agentcore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct ac_bench_opts opts;

static struct {
    ac_runtime *rt;
    unsigned tasks, done, spawned;
    unsigned ran_on_1;
    uint64_t t0, t1;
    struct ac_timer spawner;
} B;

static volatile uint64_t sink;

static void work(void *arg)
{
    /* ~20 µs of integer work, not optimised away */
    uint64_t x = (uint64_t)(uintptr_t)arg | 1;
    for (unsigned i = 0; i < 20000; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    sink = x;
    if (ac_shard_id() == 1)
        __atomic_fetch_add(&B.ran_on_1, 1, __ATOMIC_RELAXED);
}

static void done(void *arg, int res)
{
    (void)arg;
    AC_BENCH_CHECK(res == 0 && ac_shard_id() == 0);
    if (++B.done == B.tasks) {
        B.t1 = ac_now_ns();
        ac_runtime_stop(B.rt);
    }
}

/* Spawns in chunks (bounded queues: -EBUSY means wait a turn). */
static void spawn_more(struct ac_timer *t, void *arg)
{
    (void)arg;
    while (B.spawned < B.tasks) {
        int err =
            ac_spawn_stealable(AC_PRIO_NORMAL, work, (void *)(uintptr_t)B.spawned, done, NULL);
        if (err == -EBUSY)
            break;
        AC_BENCH_CHECK(err == 0);
        B.spawned++;
    }
    if (B.spawned < B.tasks)
        AC_BENCH_CHECK(ac_timer_start(t, 0, spawn_more, NULL) == 0);
}

static void on_start(void *arg, unsigned shard)
{
    (void)arg;
    if (shard != 0)
        return;
    B.t0 = ac_now_ns();
    spawn_more(&B.spawner, NULL);
}

static double run_once(bool stealing)
{
    ac_runtime_config cfg;
    memset(&B, 0, sizeof B);
    B.tasks = opts.quick ? 2000 : 20000;
    ac_runtime_config_init(&cfg);
    cfg.handle_signals = false;
    cfg.cpus = "0,1";
    cfg.no_stealing = !stealing;
    cfg.on_shard_start = on_start;
    AC_BENCH_CHECK(ac_runtime_create(&cfg, &B.rt) == 0);
    AC_BENCH_CHECK(ac_runtime_run(B.rt) == 0);
    AC_BENCH_CHECK(B.done == B.tasks);
    AC_BENCH_CHECK(stealing ? B.ran_on_1 > 0 : B.ran_on_1 == 0);
    ac_runtime_destroy(B.rt);
    return (double)(B.t1 - B.t0) / 1e6;
}

int main(int argc, char **argv)
{
    if (ac_bench_parse(argc, argv, &opts) < 0)
        return 2;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        fprintf(stderr, "bench_runtime_steal needs 2 CPUs\n");
        return 0;
    }
    ac_log_set_level(AC_LOG_WARN);
    unsigned runs = opts.runs;
    double on[runs], off[runs], ratio[runs];
    struct ac_bench_stats s;
    ac_bench_begin(&opts, "runtime_steal");
    for (unsigned r = 0; r < runs; r++) {
        off[r] = run_once(false);
        on[r] = run_once(true);
        ratio[r] = off[r] / on[r];
    }
    ac_bench_stats_of(off, runs, &s);
    ac_bench_result("imbalanced load, stealing off", "ms", &s);
    ac_bench_stats_of(on, runs, &s);
    ac_bench_result("imbalanced load, stealing on", "ms", &s);
    ac_bench_stats_of(ratio, runs, &s);
    ac_bench_result("speed-up (off / on, per run pair)", "x", &s);
    ac_bench_end();
    return 0;
}
