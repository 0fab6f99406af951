/* Heap lifetime, budget, idle release and stats. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>

#include "agentcore/mem.h"

/* The class whose objects are exactly `size` bytes. */
static unsigned class_of(size_t size)
{
    for (unsigned k = 0; k < AC_HEAP_CLASSES; k++)
        if (ac_heap_class_size(k) == size)
            return k;
    cr_assert_fail("no class of %zu bytes", size);
    return 0;
}

static ac_heap *make_heap(size_t limit, uint64_t idle_ns)
{
    ac_heap *h;
    struct ac_heap_config cfg = {.numa_node = -1, .limit_bytes = limit, .idle_release_ns = idle_ns};
    cr_assert_eq(ac_heap_create(&cfg, &h), 0);
    ac_heap_set_current(h);
    return h;
}

Test(mem_heap, create_rejects_a_node_that_does_not_exist)
{
    ac_heap *h;
    struct ac_heap_config cfg = {.numa_node = 4000};
    cr_assert_eq(ac_heap_create(&cfg, &h), -EINVAL);
}

Test(mem_heap, alloc_returns_null_past_budget_and_recovers_after_frees)
{
    const size_t limit = 256 * 1024;
    ac_heap *h = make_heap(limit, 1000000000ull);
    void *p[2048];
    unsigned n = 0;
    while (n < 2048 && (p[n] = ac_alloc(1000)) != NULL)
        n++;
    struct ac_heap_stats st;
    ac_heap_stats(h, &st);
    cr_assert_lt(n, 2048, "the budget stopped the loop");
    /* the budget counts what is handed out: 1000 B is a 1 KiB object */
    cr_assert_leq(st.bytes_in_use, limit);
    cr_assert_eq(n, limit / 1024, "%u objects of the 1 KiB class fit in 256 KiB", n);
    cr_assert_eq(st.budget_failures, 1);
    cr_assert_null(ac_alloc(1000));
    cr_assert_null(ac_alloc(1u << 20), "large allocations respect the budget too");
    ac_heap_stats(h, &st);
    cr_assert_eq(st.budget_failures, 3);
    ac_free(p[--n]);
    void *again = ac_alloc(1000);
    cr_assert_not_null(again, "one free makes room for one object of its class");
    ac_free(again);
    while (n)
        ac_free(p[--n]);
    ac_heap_stats(h, &st);
    cr_assert_eq(st.bytes_in_use, 0);
    /* Empty slabs of one class are given up on demand for another. */
    void *big = ac_alloc(32 * 1024);
    cr_assert_not_null(big);
    ac_heap_stats(h, &st);
    cr_assert_leq(st.bytes_held, limit);
    ac_free(big);
    ac_heap_destroy(h);
}

Test(mem_heap, maintain_releases_slabs_only_after_the_idle_time)
{
    const uint64_t idle = 1000000000ull;
    ac_heap *h = make_heap(0, idle);
    void *p[100];
    for (int i = 0; i < 100; i++)
        p[i] = ac_alloc(4096);
    for (int i = 0; i < 100; i++)
        ac_free(p[i]);
    struct ac_heap_stats st;
    unsigned k = class_of(4096);
    ac_heap_stats(h, &st);
    cr_assert_gt(st.cls[k].slabs, 1);
    uint64_t t0 = ac_now_ns();
    ac_heap_maintain(h, t0); /* stamps nothing new: the slabs went empty before */
    ac_heap_stats(h, &st);
    size_t slabs = st.cls[k].slabs;
    cr_assert_eq(st.slabs_released, 0, "nothing has been idle for a second yet");
    ac_heap_maintain(h, t0 + 2 * idle);
    ac_heap_stats(h, &st);
    cr_assert_eq(st.cls[k].slabs, 0);
    cr_assert_eq(st.slabs_released, slabs);
    cr_assert_eq(st.chunks, 0, "a chunk without slabs is unmapped");
    cr_assert_eq(st.bytes_mapped, 0);
    /* The heap keeps working after giving everything back. */
    void *q = ac_alloc(4096);
    cr_assert_not_null(q);
    ac_free(q);
    ac_heap_destroy(h);
}

Test(mem_heap, slab_in_use_is_never_released)
{
    ac_heap *h = make_heap(0, 0);
    void *keep = ac_alloc(64);
    ac_heap_maintain(h, ac_now_ns());
    struct ac_heap_stats st;
    ac_heap_stats(h, &st);
    cr_assert_eq(st.cls[class_of(64)].slabs, 1);
    cr_assert_eq(st.slabs_released, 0);
    ac_free(keep);
    ac_heap_maintain(h, ac_now_ns());
    ac_heap_stats(h, &st);
    cr_assert_eq(st.slabs_released, 1);
    ac_heap_destroy(h);
}

Test(mem_heap, stats_count_per_class)
{
    ac_heap *h = make_heap(0, 0);
    void *a = ac_alloc(100), *b = ac_alloc(100), *c = ac_alloc(16);
    ac_free(a);
    struct ac_heap_stats st;
    ac_heap_stats(h, &st);
    unsigned k = class_of(112); /* 97..112 B */
    cr_assert_eq(st.cls[k].size, 112);
    cr_assert_eq(st.cls[k].allocs, 2);
    cr_assert_eq(st.cls[k].frees, 1);
    cr_assert_eq(st.cls[k].bytes_in_use, 112);
    cr_assert_eq(st.cls[0].bytes_in_use, 16);
    cr_assert_eq(st.bytes_in_use, 128);
    cr_assert_eq(st.chunks, 1);
    cr_assert_eq(st.bytes_mapped, 2u << 20);
    ac_free(b);
    ac_free(c);
    ac_heap_destroy(h);
}

struct plain_result {
    bool had_heap_before, has_heap_after;
    uint64_t allocs;
    size_t in_use_after_free;
};

/* Runs on a plain pthread; the test thread checks what it saw. */
static void *plain_thread(void *arg)
{
    struct plain_result *r = arg;
    r->had_heap_before = ac_heap_current() != NULL;
    void *p = ac_alloc(200);
    ac_heap *h = ac_heap_current();
    r->has_heap_after = h != NULL && p != NULL;
    ac_free(p);
    if (h) {
        struct ac_heap_stats st;
        ac_heap_stats(h, &st);
        for (unsigned k = 0; k < AC_HEAP_CLASSES; k++)
            r->allocs += st.cls[k].allocs;
        r->in_use_after_free = st.bytes_in_use;
    }
    return NULL; /* the implicit heap is destroyed by the thread's exit */
}

Test(mem_heap, plain_thread_gets_an_implicit_heap)
{
    pthread_t t;
    struct plain_result r = {0};
    cr_assert_eq(pthread_create(&t, NULL, plain_thread, &r), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_not(r.had_heap_before);
    cr_assert(r.has_heap_after, "a thread without a heap gets one on first use");
    cr_assert_eq(r.allocs, 1);
    cr_assert_eq(r.in_use_after_free, 0);
}

Test(mem_heap, implicit_heap_is_reused_after_set_current_null)
{
    void *p = ac_alloc(16);
    ac_heap *implicit = ac_heap_current();
    cr_assert_not_null(implicit);
    ac_heap_set_current(NULL);
    void *q = ac_alloc(16);
    cr_assert_eq(ac_heap_current(), implicit, "the thread's implicit heap comes back");
    ac_free(p);
    ac_free(q);
    struct ac_heap_stats st;
    ac_heap_stats(implicit, &st);
    cr_assert_eq(st.bytes_in_use, 0);
}

Test(mem_heap, set_current_switches_and_clears)
{
    ac_heap *a = make_heap(0, 0), *b;
    struct ac_heap_config cfg = {.numa_node = -1};
    cr_assert_eq(ac_heap_create(&cfg, &b), 0);
    cr_assert_eq(ac_heap_current(), a);
    ac_heap_set_current(b);
    cr_assert_eq(ac_heap_current(), b);
    void *p = ac_alloc(32);
    struct ac_heap_stats st;
    ac_heap_stats(b, &st);
    cr_assert_eq(st.cls[1].allocs, 1);
    ac_free(p);
    ac_heap_set_current(NULL);
    cr_assert_null(ac_heap_current());
    ac_heap_destroy(a);
    ac_heap_destroy(b);
}

/*
 * Fault injection (SQLite style): run a mixed workload under a budget
 * raised step by step until it fits; every failing step must return NULL
 * cleanly, stay within its budget and give everything back.
 */
Test(mem_heap, workload_fails_cleanly_under_every_budget_until_it_fits)
{
    static const size_t sizes[] = {16, 100, 1000, 5000, 70000, 300000, 2u << 20};
    bool fitted = false;
    for (size_t limit = 64 * 1024; limit <= (32u << 20) && !fitted; limit += 128 * 1024) {
        ac_heap *h = make_heap(limit, 0);
        void *p[32] = {0};
        unsigned n = 0;
        fitted = true;
        for (unsigned i = 0; i < 32; i++) {
            p[n] = ac_alloc(sizes[i % AC_ARRAY_LEN(sizes)]);
            if (!p[n]) {
                fitted = false;
                break;
            }
            n++;
        }
        struct ac_heap_stats st;
        ac_heap_stats(h, &st);
        cr_assert_leq(st.bytes_in_use, limit, "budget %zu exceeded: %zu", limit,
                      st.bytes_in_use);
        cr_assert_eq(st.budget_failures, fitted ? 0 : 1);
        while (n)
            ac_free(p[--n]);
        ac_heap_maintain(h, ac_now_ns());
        ac_heap_stats(h, &st);
        cr_assert_eq(st.bytes_in_use, 0);
        cr_assert_eq(st.bytes_held, 0, "idle_release_ns 0: every empty slab is released");
        ac_heap_destroy(h);
    }
    cr_assert(fitted, "the workload fits in 32 MiB");
}
