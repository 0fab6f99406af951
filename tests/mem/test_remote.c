/*
 * Remote frees: memory freed on a thread that does not own it goes back to
 * its owner; a destroyed heap is orphaned until its last object returns.
 * Threads record what they saw; the test thread asserts (Criterion asserts
 * belong on the test thread).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "agentcore/mem.h"

#if defined(AC_TSAN) || defined(AC_ASAN)
#define ROUNDS   4 /* sanitizers: fewer rounds keep the test well under a minute */
#define PER_PEER 300
#else
#define ROUNDS   20
#define PER_PEER 2000
#endif
#define THREADS 4

static size_t size_for(unsigned i)
{
    static const size_t sizes[] = {16, 24, 64, 100, 1000, 4096, 20000, 300 * 1024};
    /* One large mapping in 64 objects: enough to cover the path, cheap enough to map. */
    return (i % 64 == 63) ? sizes[7] : sizes[i % 7];
}

struct peer {
    unsigned id;
    ac_heap *heap;
    pthread_barrier_t *bar;
    unsigned char **out[THREADS]; /* out[j]: objects this thread made for thread j */
    uint64_t bad_bytes, reclaimed, remote_frees_stat;
    size_t in_use_end;
    int create_err;
};

static struct peer peers[THREADS];

static void *all_to_all(void *arg)
{
    struct peer *me = arg;
    struct ac_heap_config cfg = {.numa_node = -1};
    me->create_err = ac_heap_create(&cfg, &me->heap);
    if (me->create_err)
        return NULL;
    ac_heap_set_current(me->heap);
    for (unsigned r = 0; r < ROUNDS; r++) {
        for (unsigned j = 0; j < THREADS; j++) {
            if (j == me->id)
                continue;
            for (unsigned i = 0; i < PER_PEER; i++) {
                size_t n = size_for(i + r);
                unsigned char *p = ac_alloc(n);
                if (!p) {
                    me->bad_bytes++;
                    continue;
                }
                memset(p, (int)(me->id * 16 + j), n < 256 ? n : 256);
                me->out[j][i] = p;
            }
        }
        pthread_barrier_wait(me->bar); /* everyone's objects are ready */
        for (unsigned j = 0; j < THREADS; j++) {
            if (j == me->id)
                continue;
            unsigned char **in = peers[j].out[me->id];
            for (unsigned i = 0; i < PER_PEER; i++) {
                size_t n = size_for(i + r);
                for (size_t b = 0; b < n && b < 256; b++)
                    me->bad_bytes += in[i][b] != (unsigned char)(j * 16 + me->id);
                ac_free(in[i]);
            }
        }
        /* Hands this thread's batched frees to their owners. */
        me->reclaimed += ac_heap_reclaim(me->heap);
        pthread_barrier_wait(me->bar); /* every free has been handed over */
        me->reclaimed += ac_heap_reclaim(me->heap);
        pthread_barrier_wait(me->bar); /* nobody reads out[] of this round any more */
    }
    /* The owners sent this thread's batches home before the last barrier. */
    me->reclaimed += ac_heap_reclaim(me->heap);
    struct ac_heap_stats st;
    ac_heap_stats(me->heap, &st);
    me->in_use_end = st.bytes_in_use;
    me->remote_frees_stat = st.remote_frees;
    ac_heap_destroy(me->heap);
    return NULL;
}

Test(mem_remote, frees_from_every_thread_to_every_other_return_all_memory)
{
    pthread_t t[THREADS];
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, THREADS);
    for (unsigned i = 0; i < THREADS; i++) {
        peers[i] = (struct peer){.id = i, .bar = &bar};
        for (unsigned j = 0; j < THREADS; j++)
            peers[i].out[j] = calloc(PER_PEER, sizeof(unsigned char *));
    }
    for (unsigned i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, all_to_all, &peers[i]), 0);
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    uint64_t expect = (uint64_t)ROUNDS * (THREADS - 1) * PER_PEER;
    for (unsigned i = 0; i < THREADS; i++) {
        cr_assert_eq(peers[i].create_err, 0);
        cr_assert_eq(peers[i].bad_bytes, 0, "thread %u saw corrupted objects", i);
        /* ac_alloc's slow path also reclaims, so the explicit calls see a part. */
        cr_assert_leq(peers[i].reclaimed, expect);
        cr_assert_eq(peers[i].remote_frees_stat, expect, "thread %u got back %lu of %lu", i,
                     (unsigned long)peers[i].remote_frees_stat, (unsigned long)expect);
        cr_assert_eq(peers[i].in_use_end, 0, "thread %u still has %zu bytes in use", i,
                     peers[i].in_use_end);
        for (unsigned j = 0; j < THREADS; j++)
            free(peers[i].out[j]);
    }
    pthread_barrier_destroy(&bar);
}

/* ---- producer/consumer through a ring, concurrently (the TSan case) ---- */

#define RING 256
#if defined(AC_TSAN) || defined(AC_ASAN)
#define STREAM 50000
#else
#define STREAM 1000000
#endif

struct stream {
    void *slot[RING];
    _Atomic unsigned long head, tail; /* head: produced, tail: consumed */
    uint64_t bad;
};

static void *consumer(void *arg)
{
    struct stream *s = arg;
    ac_free(ac_alloc(16)); /* gives this thread an implicit heap, so frees are batched */
    for (unsigned long i = 0; i < STREAM; i++) {
        /* acquire: the slot and the object's contents were written before head moved. */
        while (atomic_load_explicit(&s->head, memory_order_acquire) == i)
            sched_yield();
        unsigned long *p = s->slot[i % RING];
        s->bad += *p != i;
        ac_free(p);
        /* release: the slot may be reused only after we read it. */
        atomic_store_explicit(&s->tail, i + 1, memory_order_release);
    }
    ac_heap_reclaim(ac_heap_current()); /* hands over the last partial batch */
    return NULL;
}

Test(mem_remote, objects_allocated_on_one_thread_and_freed_on_another_come_back)
{
    static struct stream s;
    ac_heap *h;
    struct ac_heap_config cfg = {.numa_node = -1};
    cr_assert_eq(ac_heap_create(&cfg, &h), 0);
    ac_heap_set_current(h);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, consumer, &s), 0);
    uint64_t reclaimed = 0;
    for (unsigned long i = 0; i < STREAM; i++) {
        while (i - atomic_load_explicit(&s.tail, memory_order_acquire) >= RING) {
            reclaimed += ac_heap_reclaim(h);
            sched_yield();
        }
        unsigned long *p = ac_alloc(8 + (i % 13) * 8);
        cr_assert_not_null(p);
        *p = i;
        s.slot[i % RING] = p;
        atomic_store_explicit(&s.head, i + 1, memory_order_release);
        if (i % 64 == 0)
            reclaimed += ac_heap_reclaim(h);
    }
    pthread_join(t, NULL);
    reclaimed += ac_heap_reclaim(h);
    struct ac_heap_stats st;
    ac_heap_stats(h, &st);
    cr_assert_eq(s.bad, 0);
    cr_assert_eq(reclaimed, STREAM);
    cr_assert_eq(st.bytes_in_use, 0);
    cr_assert_lt(st.remote_batches, STREAM / 8, "frees come back in batches (%lu batches)",
                 (unsigned long)st.remote_batches);
    ac_heap_destroy(h);
}

/* ---- heap destroyed while others hold its memory ---- */

static bool mapped(void *p)
{
    /* msync fails with ENOMEM on an address that is not mapped. */
    void *page = (void *)((uintptr_t)p & ~(uintptr_t)4095);
    return msync(page, 4096, MS_ASYNC) == 0 || errno != ENOMEM;
}

/* The 2 MiB chunk an object lives in (the heap's layout, see mem/internal.h). */
static void *chunk_of(void *p)
{
    return (void *)((uintptr_t)p & ~(((uintptr_t)2 << 20) - 1));
}

#define ORPHANS 1000

struct orphan_run {
    void *objs[ORPHANS];
    void *large;
    pthread_barrier_t bar;
    unsigned first, count; /* which objects this freer frees */
};

struct freer {
    struct orphan_run *run;
    unsigned first, count;
    bool own_heap; /* free through an implicit heap's outbox, or with no heap at all */
};

static void *freer_thread(void *arg)
{
    struct freer *f = arg;
    if (f->own_heap)
        ac_free(ac_alloc(16));          /* this thread now has an implicit heap with an outbox */
    pthread_barrier_wait(&f->run->bar); /* start together with the destroy */
    for (unsigned i = f->first; i < f->first + f->count; i++)
        ac_free(f->run->objs[i]);
    if (f->own_heap)
        ac_heap_reclaim(ac_heap_current());
    return NULL; /* an implicit heap flushes what is left when the thread exits */
}

Test(mem_remote, destroyed_heap_is_unmapped_when_its_last_object_is_freed)
{
    static struct orphan_run run;
    ac_heap *h;
    struct ac_heap_config cfg = {.numa_node = -1};
    cr_assert_eq(ac_heap_create(&cfg, &h), 0);
    ac_heap_set_current(h);
    for (unsigned i = 0; i < ORPHANS; i++) {
        run.objs[i] = ac_alloc(32 + i % 200);
        memset(run.objs[i], 0x5a, 32);
    }
    void *large = ac_alloc(1u << 20);
    void *chunk = chunk_of(run.objs[0]);
    ac_heap_destroy(h);
    cr_assert_null(ac_heap_current());
    cr_assert(mapped(chunk), "live objects keep the orphaned heap mapped");
    cr_assert_eq(((unsigned char *)run.objs[ORPHANS - 1])[31], 0x5a);

    /* Two threads free concurrently, one with an outbox, one without a heap. */
    pthread_barrier_init(&run.bar, NULL, 2);
    struct freer f[2] = {{&run, 0, ORPHANS / 2, true}, {&run, ORPHANS / 2, ORPHANS / 2, false}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, freer_thread, &f[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cr_assert(mapped(large), "the large object is still out");
    ac_free(large); /* the last object: this thread (no heap now) unmaps everything */
    cr_assert_not(mapped(chunk), "the orphaned heap's chunk is unmapped");
    cr_assert_not(mapped(large));
    pthread_barrier_destroy(&run.bar);
}

Test(mem_remote, destroy_races_with_remote_frees)
{
#if defined(AC_TSAN) || defined(AC_ASAN)
    const unsigned rounds = 20;
#else
    const unsigned rounds = 200;
#endif
    static struct orphan_run run;
    for (unsigned r = 0; r < rounds; r++) {
        ac_heap *h;
        struct ac_heap_config cfg = {.numa_node = -1};
        cr_assert_eq(ac_heap_create(&cfg, &h), 0);
        ac_heap_set_current(h);
        for (unsigned i = 0; i < ORPHANS; i++)
            run.objs[i] = ac_alloc(64);
        void *chunk = chunk_of(run.objs[0]);
        pthread_barrier_init(&run.bar, NULL, 2);
        struct freer f = {&run, 0, ORPHANS, r % 2 == 0};
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, freer_thread, &f), 0);
        pthread_barrier_wait(&run.bar);
        ac_heap_destroy(h); /* while the other thread frees */
        pthread_join(t, NULL);
        cr_assert_not(mapped(chunk), "round %u: the heap was not unmapped", r);
        pthread_barrier_destroy(&run.bar);
    }
}
