/*
 * bench_mem: agentcore's slab heap against glibc malloc, jemalloc and
 * mimalloc, side by side in one run.
 *
 *   same-thread 64 B / 1 KiB  batches of 100 allocations, then 100 frees
 *   cross-thread 64 B         allocated on CPU 0, freed on CPU 1, in
 *                             double-buffered blocks of 4096 pointers
 *   mixed                     request-like: a window of live "requests",
 *                             each a handful of objects of mixed sizes and
 *                             a growing buffer (realloc)
 *
 * How the baselines are linked: jemalloc and mimalloc both replace malloc
 * when linked normally, which would also replace the glibc baseline (and
 * Debian's jemalloc has no je_-prefixed API). So both are dlopen'ed with
 * RTLD_LOCAL and called through dlsym'ed pointers (jemalloc's malloc/free,
 * mimalloc's mi_malloc/mi_free); the process' own malloc stays glibc's.
 * jemalloc needs static TLS that dlopen only grants with more surplus:
 * the program re-executes itself once with
 * GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536.
 * All four allocators are called through the same function pointers, so
 * call overhead is the same for each; ac_alloc is not inlined either.
 *
 * Single-thread scenarios are timed in thread CPU time, so that other
 * processes on a shared machine do not count; the cross-thread one by the
 * CPU time both threads spend working on blocks (waits excluded), with
 * wall time beside it.
 *
 * agentcore's threads behave as shards: each creates its heap and calls
 * ac_heap_reclaim every 64 operations (a loop turn). Ratios are printed
 * against mimalloc (the best general-purpose malloc here).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentcore/mem.h"
#include "harness.h"

typedef void *(*alloc_fn)(size_t);
typedef void (*free_fn)(void *);
typedef void *(*realloc_fn)(void *, size_t);

struct allocator {
    const char *name;
    alloc_fn alloc;
    free_fn free;
    realloc_fn realloc;
    bool shard; /* agentcore: needs a heap per thread and loop turns */
};

enum { A_AC, A_GLIBC, A_JE, A_MI, A_N };
static struct allocator allocs[A_N] = {
    [A_AC] = {"agentcore", ac_alloc, ac_free, ac_realloc, true},
    [A_GLIBC] = {"glibc", malloc, free, realloc, false},
    [A_JE] = {"jemalloc", NULL, NULL, NULL, false},
    [A_MI] = {"mimalloc", NULL, NULL, NULL, false},
};

static bool load(struct allocator *a, const char *lib, const char *m, const char *f, const char *r)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "bench_mem: %s unavailable: %s\n", a->name, dlerror());
        return false;
    }
    a->alloc = (alloc_fn)dlsym(h, m);
    a->free = (free_fn)dlsym(h, f);
    a->realloc = (realloc_fn)dlsym(h, r);
    return a->alloc && a->free && a->realloc;
}

/* A thread joins "its shard": a heap of its own, current. */
static ac_heap *shard_enter(const struct allocator *a)
{
    if (!a->shard)
        return NULL;
    ac_heap *h;
    struct ac_heap_config cfg = {.numa_node = -1, .idle_release_ns = 1000000000ull};
    AC_BENCH_CHECK(ac_heap_create(&cfg, &h) == 0);
    ac_heap_set_current(h);
    return h;
}

static void shard_leave(ac_heap *h)
{
    if (h)
        ac_heap_destroy(h);
}

static inline void loop_turn(ac_heap *h)
{
    if (h)
        ac_heap_reclaim(h);
}

/* ---- same thread ---- */

#define BATCH 100

static double same_thread(const struct allocator *a, size_t size, unsigned long ops)
{
    void *p[BATCH];
    ac_heap *h = shard_enter(a);
    unsigned long sum = 0;
    /* Warm up: the first slabs and pages are not what we measure. */
    for (unsigned i = 0; i < BATCH; i++)
        p[i] = a->alloc(size);
    for (unsigned i = 0; i < BATCH; i++)
        a->free(p[i]);
    uint64_t t0 = ac_bench_thread_cpu_ns();
    for (unsigned long n = 0; n < ops; n += BATCH) {
        for (unsigned i = 0; i < BATCH; i++) {
            p[i] = a->alloc(size);
            *(volatile char *)p[i] = (char)i; /* the memory is really handed out */
        }
        for (unsigned i = 0; i < BATCH; i++) {
            sum += *(volatile char *)p[i] == (char)i;
            a->free(p[i]);
        }
        loop_turn(h);
    }
    uint64_t t1 = ac_bench_thread_cpu_ns();
    AC_BENCH_CHECK(sum == (ops + BATCH - 1) / BATCH * BATCH);
    shard_leave(h);
    return (double)(t1 - t0) / (double)ops;
}

/* ---- producer/consumer across two pinned threads ---- */

/*
 * Double-buffered blocks: the producer fills block b with fresh objects
 * while the consumer frees block b-1. Each thread times only its work on
 * a block (thread CPU time), not its waits, so the sum is the CPU the
 * alloc-here/free-there traffic costs even when another process takes a
 * CPU away now and then; wall time is reported beside it.
 */
#define BLOCK 4096

struct xthread {
    const struct allocator *a;
    unsigned long blocks;
    void *blk[2][BLOCK];
    _Atomic unsigned long produced AC_CACHE_ALIGNED; /* blocks filled */
    _Atomic unsigned long consumed AC_CACHE_ALIGNED; /* blocks freed */
    /* Written by the consumer: off the line the producer polls. */
    unsigned long bad AC_CACHE_ALIGNED, freed;
    uint64_t consumer_busy_ns;
    pthread_barrier_t ready;
};

/*
 * The handoff without an allocator: the producer writes into a fixed pool
 * of 64-byte objects (two blocks, reused) and the consumer reads them.
 * What an allocator adds to the cross-thread scenario is its result minus
 * this floor.
 */
static char handoff_pool[2][BLOCK][64] AC_CACHE_ALIGNED;
static const struct allocator no_allocator = {"none", NULL, NULL, NULL, false};

/* Wall time of the last cross_thread run (its return value is CPU time). */
static double xwall_ns;

static void wait_for(_Atomic unsigned long *v, unsigned long at_least)
{
    unsigned spins = 0;
    /* acquire: the block's pointers and objects were written before the count moved. */
    while (atomic_load_explicit(v, memory_order_acquire) < at_least)
        if (++spins % 64 == 0)
            sched_yield();
}

static void *consumer(void *arg)
{
    struct xthread *x = arg;
    AC_BENCH_CHECK(ac_bench_pin(1) == 0);
    ac_heap *h = shard_enter(x->a);
    pthread_barrier_wait(&x->ready);
    for (unsigned long b = 0; b < x->blocks; b++) {
        wait_for(&x->produced, b + 1);
        uint64_t c0 = ac_bench_thread_cpu_ns();
        void **blk = x->blk[b % 2];
        for (unsigned i = 0; i < BLOCK; i++) {
            unsigned long *p = blk[i];
            x->bad += *p != b * BLOCK + i;
            if (x->a->free)
                x->a->free(p);
            if (i % 64 == 63)
                loop_turn(h);
        }
        loop_turn(h);
        x->freed += BLOCK;
        x->consumer_busy_ns += ac_bench_thread_cpu_ns() - c0;
        /* release: the producer may refill this block. */
        atomic_store_explicit(&x->consumed, b + 1, memory_order_release);
    }
    /* Batches still on their way home leave the heap orphaned until they arrive. */
    shard_leave(h);
    return NULL;
}

static double cross_thread(const struct allocator *a, unsigned long n)
{
    static struct xthread x;
    memset(&x, 0, sizeof x);
    x.a = a;
    x.blocks = n / BLOCK;
    pthread_barrier_init(&x.ready, NULL, 2);
    pthread_t t;
    AC_BENCH_CHECK(pthread_create(&t, NULL, consumer, &x) == 0);
    AC_BENCH_CHECK(ac_bench_pin(0) == 0);
    ac_heap *h = shard_enter(a);
    pthread_barrier_wait(&x.ready);
    uint64_t t0 = ac_now_ns(), busy = 0;
    for (unsigned long b = 0; b < x.blocks; b++) {
        if (b >= 2)
            wait_for(&x.consumed, b - 1); /* block b % 2 is free again */
        uint64_t c0 = ac_bench_thread_cpu_ns();
        void **blk = x.blk[b % 2];
        for (unsigned i = 0; i < BLOCK; i++) {
            unsigned long *p = a->alloc ? a->alloc(64) : (unsigned long *)handoff_pool[b % 2][i];
            *p = b * BLOCK + i;
            blk[i] = p;
            if (i % 64 == 63)
                loop_turn(h); /* reclaims what the consumer sent back */
        }
        busy += ac_bench_thread_cpu_ns() - c0;
        /* release: publishes the block's pointers and the objects' contents. */
        atomic_store_explicit(&x.produced, b + 1, memory_order_release);
    }
    pthread_join(t, NULL);
    uint64_t t1 = ac_now_ns();
    unsigned long objs = x.blocks * BLOCK;
    xwall_ns = (double)(t1 - t0) / (double)objs;
    AC_BENCH_CHECK(x.bad == 0 && x.freed == objs);
    if (h) {
        ac_heap_reclaim(h);
        struct ac_heap_stats st;
        ac_heap_stats(h, &st);
        AC_BENCH_CHECK(st.bytes_in_use == 0); /* every remote free came back */
    }
    shard_leave(h);
    pthread_barrier_destroy(&x.ready);
    if (getenv("AC_BENCH_MEM_SPLIT"))
        fprintf(stderr, "%s: producer %.2f consumer %.2f ns/obj\n", a->name,
                (double)busy / (double)objs, (double)x.consumer_busy_ns / (double)objs);
    /* CPU time both threads spent working: the capacity the handoff costs. */
    return (double)(busy + x.consumer_busy_ns) / (double)objs;
}

/* ---- mixed, request-like ---- */

#define WINDOW  64
#define PER_REQ 6

static uint64_t rng = 88172645463325252ull;
static inline uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double mixed(const struct allocator *a, unsigned long requests)
{
    void *live[WINDOW][PER_REQ + 1];
    ac_heap *h = shard_enter(a);
    memset(live, 0, sizeof live);
    unsigned long bytes = 0;
    rng = 88172645463325252ull; /* the same sequence for every allocator */
    uint64_t t0 = ac_bench_thread_cpu_ns();
    for (unsigned long r = 0; r < requests; r++) {
        void **req = live[r % WINDOW];
        for (unsigned i = 0; i <= PER_REQ; i++)
            a->free(req[i]); /* retire the request that held this window slot */
        /* A request: a context, headers, a parsed body, a few small strings. */
        req[0] = a->alloc(192);
        req[1] = a->alloc(48 + rnd() % 64);
        req[2] = a->alloc(256 + rnd() % 768);
        req[3] = a->alloc(24 + rnd() % 40);
        req[4] = a->alloc(24 + rnd() % 40);
        req[5] = a->alloc((rnd() % 16 == 0) ? 16384 + rnd() % 49152 : 512 + rnd() % 3584);
        /* The response buffer grows as it is serialized. */
        size_t n = 1024;
        char *buf = a->alloc(n);
        for (unsigned g = 0; g < (unsigned)(rnd() % 4); g++) {
            n *= 4;
            buf = a->realloc(buf, n);
        }
        buf[n - 1] = 1;
        bytes += (unsigned long)buf[n - 1];
        req[6] = buf;
        for (unsigned i = 0; i < PER_REQ; i++)
            *(volatile char *)req[i] = 1;
        if (r % 8 == 7)
            loop_turn(h);
    }
    uint64_t t1 = ac_bench_thread_cpu_ns();
    for (unsigned w = 0; w < WINDOW; w++)
        for (unsigned i = 0; i <= PER_REQ; i++)
            a->free(live[w][i]);
    AC_BENCH_CHECK(bytes == requests);
    shard_leave(h);
    return (double)(t1 - t0) / (double)requests;
}

/* ---- driver ---- */

enum { S_64, S_1K, S_X, S_XW, S_MIX, S_N };
static const char *const scen_names[S_N] = {
    "same-thread 64 B alloc+free", "same-thread 1 KiB alloc+free",
    "cross-thread 64 B, busy CPU both threads", "cross-thread 64 B, wall", "mixed request"};
static const char *const scen_metric[S_N] = {"ns/op", "ns/op", "ns/obj", "ns/obj", "ns/req"};

static double run_one(unsigned s, const struct allocator *a, bool quick)
{
    unsigned long k = quick ? 1 : 10;
    switch (s) {
    case S_64:
        return same_thread(a, 64, k * 2000000);
    case S_1K:
        return same_thread(a, 1024, k * 2000000);
    case S_X:
        return cross_thread(a, k * 1000000);
    default:
        return mixed(a, k * 200000);
    }
}

static void reexec_with_static_tls(char **argv)
{
    if (getenv("AC_BENCH_MEM_REEXEC"))
        return;
    char tun[512];
    const char *old = getenv("GLIBC_TUNABLES");
    snprintf(tun, sizeof tun, "%s%sglibc.rtld.optional_static_tls=65536", old ? old : "",
             old ? ":" : "");
    setenv("GLIBC_TUNABLES", tun, 1);
    setenv("AC_BENCH_MEM_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    perror("bench_mem: re-exec failed; jemalloc may be unavailable");
}

int main(int argc, char **argv)
{
    reexec_with_static_tls(argv);
    struct ac_bench_opts o;
    int argi = ac_bench_parse(argc, argv, &o);
    if (argi < 0)
        return 2;
    /* --only N: run one scenario alone, e.g. under perf: 0 64 B, 1 1 KiB, 2 cross, 4 mixed. */
    int only = -1;
    if (argi + 1 < argc && strcmp(argv[argi], "--only") == 0)
        only = atoi(argv[argi + 1]);
    if (only == S_XW)
        only = S_X;
    /* --ac-only (after --only N, or alone): agentcore alone, for profiling. */
    bool ac_only = argi < argc && strcmp(argv[argc - 1], "--ac-only") == 0;
    bool have[A_N] = {true, true, false, false};
    have[A_JE] = load(&allocs[A_JE], "libjemalloc.so.2", "malloc", "free", "realloc");
    have[A_MI] = load(&allocs[A_MI], "libmimalloc.so.2", "mi_malloc", "mi_free", "mi_realloc");
    if (ac_only)
        have[A_GLIBC] = have[A_JE] = have[A_MI] = false;

    ac_bench_begin(&o, "mem");
    double *samples = calloc((size_t)o.runs * S_N * A_N, sizeof *samples);
#define SAMPLE(s, a, r) samples[(((size_t)(s)*A_N) + (a)) * o.runs + (r)]
    /* Runs interleave the allocators so drift on the machine hits all of them alike. */
    for (unsigned r = 0; r < o.runs; r++) {
        for (unsigned s = 0; s < S_N; s++) {
            if (s == S_XW || (only >= 0 && (unsigned)only != s))
                continue; /* S_XW is filled by the S_X run */
            for (unsigned a = 0; a < A_N; a++) {
                if (!have[a])
                    continue;
                SAMPLE(s, a, r) = run_one(s, &allocs[a], o.quick);
                if (s == S_X)
                    SAMPLE(S_XW, a, r) = xwall_ns;
            }
        }
    }
    for (unsigned s = 0; s < S_N; s++) {
        if (only >= 0 && (unsigned)only != s && !(only == S_X && s == S_XW))
            continue;
        double med[A_N] = {0};
        for (unsigned a = 0; a < A_N; a++) {
            if (!have[a])
                continue;
            struct ac_bench_stats st;
            char name[96];
            ac_bench_stats_of(&SAMPLE(s, a, 0), o.runs, &st);
            snprintf(name, sizeof name, "%s: %s", scen_names[s], allocs[a].name);
            ac_bench_result(name, scen_metric[s], &st);
            med[a] = st.median;
        }
        for (unsigned a = 1; a < A_N; a++) {
            if (!have[a])
                continue;
            char name[96];
            snprintf(name, sizeof name, "%s: agentcore/%s", scen_names[s], allocs[a].name);
            ac_bench_value(name, "ratio", med[A_AC] / med[a]);
        }
    }
    if (only < 0 || only == S_X) {
        /* The handoff floor, and the allocators' own share above it. */
        double fl[64];
        unsigned nf = o.runs < 64 ? o.runs : 64;
        for (unsigned r = 0; r < nf; r++)
            fl[r] = run_one(S_X, &no_allocator, o.quick);
        struct ac_bench_stats st;
        ac_bench_stats_of(fl, nf, &st);
        ac_bench_result("cross-thread 64 B, busy CPU: handoff alone (no allocator)", "ns/obj", &st);
        double med[A_N];
        for (unsigned a = 0; a < A_N; a++) {
            struct ac_bench_stats sa;
            ac_bench_stats_of(&SAMPLE(S_X, a, 0), o.runs, &sa);
            med[a] = sa.median;
        }
        for (unsigned a = 1; a < A_N; a++) {
            if (!have[a] || med[a] <= st.median)
                continue;
            char name[96];
            snprintf(name, sizeof name, "cross-thread 64 B, above the floor: agentcore/%s",
                     allocs[a].name);
            ac_bench_value(name, "ratio", (med[A_AC] - st.median) / (med[a] - st.median));
        }
    }
    ac_bench_end();
    free(samples);
    return 0;
}
