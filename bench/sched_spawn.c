/*
 * Local spawn + run cost of the per-shard scheduler, against the original
 * Go design's pool written in C (bench/baselines/pthread_pool.c: worker
 * threads fed by one mutex-protected queue), same tasks, same run.
 *
 * sched: one thread (a shard) spawns a batch of tasks and runs them, the
 * loop shape of a shard turn. Task: increment a counter (the smallest task;
 * the point is the scheduler's own cost). Every benchmark checks that every
 * task ran.
 */
#include "baselines/pthread_pool.h"
#include "harness.h"

#include "agentcore/sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void count(void *arg)
{
    (*(uint64_t *)arg)++;
}

static void count_atomic(void *arg)
{
    __atomic_fetch_add((uint64_t *)arg, 1, __ATOMIC_RELAXED);
}

enum mode { LOCAL, STEALABLE, OPTS_DEADLINE };

/* Wall ns per task for `n` tasks spawned and run in batches of `batch`;
 * the thread's CPU ns per task in *cpu (robust to other load). */
static double sched_run(enum mode mode, uint64_t n, unsigned batch, double *cpu)
{
    struct ac_sched_config cfg;
    ac_sched_config_default(&cfg);
    cfg.queue_size = batch;
    ac_sched *s;
    AC_BENCH_CHECK(ac_sched_create(&cfg, &s) == 0);
    ac_sched_set_current(s);
    uint64_t counter = 0;
    struct ac_task_opts o = {.deadline_ns = UINT64_MAX};
    uint64_t c0 = ac_bench_thread_cpu_ns(), t0 = ac_now_ns();
    for (uint64_t done = 0; done < n; done += batch) {
        for (unsigned i = 0; i < batch; i++) {
            int r;
            if (mode == LOCAL)
                r = ac_spawn(AC_PRIO_NORMAL, count, &counter);
            else if (mode == STEALABLE)
                r = ac_spawn_stealable(AC_PRIO_NORMAL, count, &counter, NULL, NULL);
            else
                r = ac_spawn_opts(AC_PRIO_NORMAL, count, &counter, &o, NULL);
            AC_BENCH_CHECK(r == 0);
        }
        AC_BENCH_CHECK(ac_sched_run(s, batch) == batch);
    }
    uint64_t t1 = ac_now_ns(), c1 = ac_bench_thread_cpu_ns();
    uint64_t want = (n + batch - 1) / batch * batch;
    AC_BENCH_CHECK(counter == want);
    *cpu = (double)(c1 - c0) / (double)want;
    ac_sched_destroy(s);
    return (double)(t1 - t0) / (double)want;
}

/* ns per task (wall) for the pool: one submitter, `workers` workers. */
static double pool_run(uint64_t n, unsigned workers, unsigned ncpus)
{
    struct pthread_pool p;
    uint64_t counter = 0;
    AC_BENCH_CHECK(pthread_pool_start(&p, workers, 4096, ncpus) == 0);
    uint64_t t0 = ac_now_ns();
    for (uint64_t i = 0; i < n; i++)
        pthread_pool_submit(&p, count_atomic, &counter);
    pthread_pool_wait(&p);
    uint64_t t1 = ac_now_ns();
    pthread_pool_stop(&p);
    AC_BENCH_CHECK(__atomic_load_n(&counter, __ATOMIC_RELAXED) == n);
    return (double)(t1 - t0) / (double)n;
}

int main(int argc, char **argv)
{
    struct ac_bench_opts o;
    if (ac_bench_parse(argc, argv, &o) < 0)
        return 2;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned ncpus = ncpu > 0 ? (unsigned)ncpu : 1;
    uint64_t n = o.quick ? 1000000 : 20000000;
    uint64_t npool = o.quick ? 200000 : 2000000;
    AC_BENCH_CHECK(ac_bench_pin(0) == 0);
    ac_bench_begin(&o, "sched_spawn");

    double *smp = calloc(o.runs, sizeof *smp), *cpu = calloc(o.runs, sizeof *cpu);
    struct ac_bench_stats local, st;
    static const struct {
        const char *name;
        enum mode mode;
        unsigned batch;
    } cases[] = {
        {"sched ac_spawn, batch 256", LOCAL, 256},
        {"sched ac_spawn, batch 1", LOCAL, 1},
        {"sched ac_spawn_stealable (no peers), batch 256", STEALABLE, 256},
        {"sched ac_spawn_opts + deadline, batch 256", OPTS_DEADLINE, 256},
    };
    for (unsigned c = 0; c < AC_ARRAY_LEN(cases); c++) {
        for (unsigned r = 0; r < o.runs; r++)
            smp[r] = sched_run(cases[c].mode, n, cases[c].batch, &cpu[r]);
        ac_bench_stats_of(smp, o.runs, c == 0 ? &local : &st);
        ac_bench_result(cases[c].name, "ns/task", c == 0 ? &local : &st);
        if (c == 0) {
            ac_bench_stats_of(cpu, o.runs, &st);
            ac_bench_result("  same, thread CPU time", "ns/task", &st);
        }
    }

    unsigned workers = ncpus;
    for (unsigned r = 0; r < o.runs; r++)
        smp[r] = pool_run(npool, workers, ncpus);
    ac_bench_stats_of(smp, o.runs, &st);
    char name[96];
    snprintf(name, sizeof name, "pthread pool, %u workers, 1 submitter", workers);
    ac_bench_result(name, "ns/task", &st);
    ac_bench_value("sched tasks/s vs pthread pool (batch 256)", "x", st.median / local.median);
    ac_bench_value("sched ac_spawn batch 256 throughput", "Mtasks/s", 1e3 / local.median);
    ac_bench_value("pthread pool throughput", "Mtasks/s", 1e3 / st.median);
    free(smp);
    free(cpu);
    ac_bench_end();
    return 0;
}
