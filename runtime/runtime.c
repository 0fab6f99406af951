/*
 * Runtime object: configuration, CPU placement, start and stop.
 * The shard loop lives in shard.c, messages in msg.c.
 */
#include "internal.h"

#include <errno.h>
#include <numa.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_STALL_NS      (10ull * 1000 * 1000)
#define DEFAULT_TASK_SLICE_NS (250ull * 1000)

void ac_runtime_config_init(ac_runtime_config *cfg)
{
    *cfg = (ac_runtime_config){
        .numa_node = -1,
        .ring_entries = 256,
        .msg_ring_size = 1024,
        .ext_inbox_size = 1024,
        .stall_threshold_ns = DEFAULT_STALL_NS,
        .stop_timeout_ns = 5ull * 1000 * 1000 * 1000,
        .task_budget = 64,
        .task_slice_ns = DEFAULT_TASK_SLICE_NS,
        .memory_idle_release_ns = 5ull * 1000 * 1000 * 1000,
        .handle_signals = true,
    };
}

/* CPUs the configuration names, each checked against our affinity mask. */
static int resolve_cpus(const ac_runtime_config *cfg, unsigned *cpus, unsigned *ncpus)
{
    cpu_set_t allowed;
    unsigned n = 0;
    int err;

    if (sched_getaffinity(0, sizeof allowed, &allowed) < 0)
        return -errno;
    if (cfg->cpus) {
        err = ac_cpulist_parse(cfg->cpus, cpus, AC_MAX_CPUS, &n);
        if (err) {
            ac_log_error("runtime: cpus \"%s\": %s", cfg->cpus,
                         err == -EINVAL ? "not a CPU list (e.g. \"0-3,6\")" : ac_strerror(err));
            return -EINVAL;
        }
    } else if (cfg->numa_node >= 0) {
        if (numa_available() < 0 || cfg->numa_node > numa_max_node()) {
            ac_log_error("runtime: numa_node %d does not exist", cfg->numa_node);
            return -EINVAL;
        }
        struct bitmask *bm = numa_allocate_cpumask();
        if (!bm)
            return -ENOMEM;
        if (numa_node_to_cpus(cfg->numa_node, bm) == 0) {
            for (unsigned c = 0; c < bm->size && c < AC_MAX_CPUS; c++)
                if (numa_bitmask_isbitset(bm, c) && CPU_ISSET(c, &allowed))
                    cpus[n++] = c;
        }
        numa_free_cpumask(bm);
        if (n == 0) {
            ac_log_error("runtime: numa_node %d has no CPU we may run on", cfg->numa_node);
            return -EINVAL;
        }
    } else {
        for (unsigned c = 0; c < CPU_SETSIZE && c < AC_MAX_CPUS; c++)
            if (CPU_ISSET(c, &allowed))
                cpus[n++] = c;
    }
    for (unsigned i = 0; i < n; i++) {
        if (!CPU_ISSET(cpus[i], &allowed)) {
            ac_log_error("runtime: CPU %u is not in this process' affinity mask", cpus[i]);
            return -EINVAL;
        }
    }
    *ncpus = n;
    return 0;
}

int ac_runtime_create(const ac_runtime_config *cfg, ac_runtime **out)
{
    ac_runtime_config defaults;
    unsigned *cpus = NULL, ncpus = 0, nshards;
    int err;

    if (!cfg) {
        ac_runtime_config_init(&defaults);
        cfg = &defaults;
    }
    cpus = malloc(sizeof *cpus * AC_MAX_CPUS);
    if (!cpus)
        return -ENOMEM;
    err = resolve_cpus(cfg, cpus, &ncpus);
    if (err)
        goto out_free_cpus;
    nshards = cfg->shards ? cfg->shards : ncpus;
    if (nshards > ncpus && !cfg->oversubscribe) {
        ac_log_error("runtime: %u shards need %u CPUs but %u are available "
                     "(set oversubscribe to share CPUs)",
                     nshards, nshards, ncpus);
        err = -EINVAL;
        goto out_free_cpus;
    }

    ac_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        err = -ENOMEM;
        goto out_free_cpus;
    }
    rt->cfg = *cfg;
    if (!rt->cfg.stall_threshold_ns)
        rt->cfg.stall_threshold_ns = DEFAULT_STALL_NS;
    rt->stall_threshold_cycles =
        (uint64_t)((double)rt->cfg.stall_threshold_ns * ac_cycles_per_ns());
    rt->nshards = nshards;
    rt->shards = aligned_alloc(AC_CACHELINE, sizeof *rt->shards * nshards);
    if (!rt->shards) {
        err = -ENOMEM;
        goto out_free_rt;
    }
    memset(rt->shards, 0, sizeof *rt->shards * nshards);
    for (unsigned i = 0; i < nshards; i++) {
        struct ac_shard *s = &rt->shards[i];
        s->rt = rt;
        s->id = i;
        s->cpu = (int)cpus[i % ncpus];
        s->node = numa_available() >= 0 ? numa_node_of_cpu(s->cpu) : 0;
        if (s->node < 0)
            s->node = 0;
        s->signal_fd = -1;
        atomic_init(&s->ring_fd, -1);
    }
    if (!rt->cfg.task_budget)
        rt->cfg.task_budget = 64;
    if (!rt->cfg.task_slice_ns)
        rt->cfg.task_slice_ns = DEFAULT_TASK_SLICE_NS;
    rt->task_slice_cycles = (uint64_t)((double)rt->cfg.task_slice_ns * ac_cycles_per_ns());
    err = ac__msg_init(rt);
    if (err)
        goto out_free_msg;
    rt->scheds = calloc(nshards, sizeof *rt->scheds);
    if (!rt->scheds) {
        err = -ENOMEM;
        goto out_free_msg;
    }
    err = ac_steal_group_create(nshards, &rt->steal_group);
    if (err)
        goto out_free_msg;
    err = ac__backend_choose(cfg->backend, &rt->backend);
    if (err)
        goto out_free_msg;
    struct ac_ring_config ext = {.backend = rt->backend, .entries = 64, .multi_thread = true};
    err = ac_ring_create(&ext, &rt->ext_ring);
    if (err) {
        ac_log_error("runtime: %s set-up failed: %s", ac_ring_backend_name(rt->backend),
                     ac_strerror(err));
        goto out_free_msg;
    }
    pthread_mutex_init(&rt->ext_lock, NULL);
    pthread_mutex_init(&rt->gate_lock, NULL);
    pthread_cond_init(&rt->gate_cond, NULL);
    free(cpus);
    *out = rt;
    return 0;

out_free_msg:
    ac_steal_group_destroy(rt->steal_group);
    free(rt->scheds);
    ac__msg_fini(rt);
    free(rt->shards);
out_free_rt:
    free(rt);
out_free_cpus:
    free(cpus);
    return err;
}

int ac_runtime_run(ac_runtime *rt)
{
    sigset_t old;
    unsigned started = 0;
    int err = 0;

    if (rt->ran)
        return -EALREADY;
    rt->ran = true;
    if (rt->cfg.handle_signals) {
        err = ac__signals_block(&old);
        if (err)
            return err;
    }
    for (; started < rt->nshards; started++) {
        struct ac_shard *s = &rt->shards[started];
        pthread_attr_t attr;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(s->cpu, &set);
        pthread_attr_init(&attr);
        /* Pinned before the thread runs, so its first allocations (ring,
         * stacks touched) already happen on its CPU's node. */
        pthread_attr_setaffinity_np(&attr, sizeof set, &set);
        int r = pthread_create(&s->thread, &attr, ac__shard_main, s);
        pthread_attr_destroy(&attr);
        if (r) {
            err = -r;
            ac_log_error("runtime: cannot start shard %u: %s", started, ac_strerror(err));
            break;
        }
    }
    if (started < rt->nshards)
        ac__gate_abort(rt); /* the started shards exit without running */
    for (unsigned i = 0; i < started; i++)
        pthread_join(rt->shards[i].thread, NULL);
    for (unsigned i = 0; i < started && !err; i++)
        err = rt->shards[i].start_err;
    ac__tasks_fini(rt);
    if (rt->nshards)
        ac__signals_close(&rt->shards[0]);
    /* Under ext_lock: a non-shard thread waking a shard (ac_runtime_stop
     * from another thread) reads the fd under it, so it never writes to
     * a closed fd whose number may already be reused (an eventfd write
     * on the epoll backend would land in another file). */
    pthread_mutex_lock(&rt->ext_lock);
    for (unsigned i = 0; i < rt->nshards; i++)
        atomic_store_explicit(&rt->shards[i].ring_fd, -1, memory_order_relaxed);
    pthread_mutex_unlock(&rt->ext_lock);
    for (unsigned i = 0; i < rt->nshards; i++) {
        ac_ring_destroy(rt->shards[i].ring);
        rt->shards[i].ring = NULL;
    }
    if (rt->cfg.handle_signals)
        ac__signals_restore(&old);
    return err;
}

void ac_runtime_stop(ac_runtime *rt)
{
    if (atomic_exchange_explicit(&rt->stop_requested, true, memory_order_seq_cst))
        return;
    for (unsigned i = 0; i < rt->nshards; i++) {
        /* Set sleeping→0 and wake; a shard that is awake sees the flag at
         * its next turn. */
        atomic_thread_fence(memory_order_seq_cst);
        ac__shard_wake(rt, &rt->shards[i]);
    }
}

void ac_runtime_destroy(ac_runtime *rt)
{
    if (!rt)
        return;
    ac__tasks_fini(rt); /* a runtime that never ran */
    ac_steal_group_destroy(rt->steal_group);
    free(rt->scheds);
    ac__msg_fini(rt);
    ac_ring_destroy(rt->ext_ring);
    pthread_mutex_destroy(&rt->ext_lock);
    pthread_mutex_destroy(&rt->gate_lock);
    pthread_cond_destroy(&rt->gate_cond);
    free(rt->shards);
    free(rt);
}

enum ac_ring_backend ac_runtime_backend(const ac_runtime *rt)
{
    return rt->backend;
}

unsigned ac_runtime_shard_count(const ac_runtime *rt)
{
    return rt->nshards;
}

int ac_runtime_shard_cpu(const ac_runtime *rt, unsigned shard)
{
    return shard < rt->nshards ? rt->shards[shard].cpu : -EINVAL;
}

int ac_runtime_shard_node(const ac_runtime *rt, unsigned shard)
{
    return shard < rt->nshards ? rt->shards[shard].node : -EINVAL;
}

int ac_runtime_shard_stats(const ac_runtime *rt, unsigned shard, struct ac_shard_stats *out)
{
    if (shard >= rt->nshards)
        return -EINVAL;
    const struct ac_shard_counters *c = &rt->shards[shard].stats;
#define LOAD(f) out->f = atomic_load_explicit(&c->f, memory_order_relaxed)
    LOAD(loops);
    LOAD(sleeps);
    LOAD(enters);
    LOAD(completions);
    LOAD(msgs_sent);
    LOAD(msgs_run);
    LOAD(msgs_full);
    LOAD(wakes_sent);
    LOAD(wakes_received);
    LOAD(timers_fired);
    LOAD(stalls);
    LOAD(stall_max_ns);
#undef LOAD
    return 0;
}
