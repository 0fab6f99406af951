/* ac_alloc and friends against a model: contents, usable size, alignment. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "agentcore/mem.h"

#if defined(AC_ASAN) || defined(AC_TSAN)
#define MODEL_OPS 40000 /* sanitizers are ~10x slower; keep the test short */
#else
#define MODEL_OPS 400000
#endif
#define SLOTS 512

static ac_heap *heap;

static void setup(void)
{
    struct ac_heap_config cfg = {.numa_node = -1};
    cr_assert_eq(ac_heap_create(&cfg, &heap), 0);
    ac_heap_set_current(heap);
}

static void teardown(void)
{
    struct ac_heap_stats st;
    ac_heap_stats(heap, &st);
    cr_expect_eq(st.bytes_in_use, 0, "leaked %zu bytes", st.bytes_in_use);
    ac_heap_destroy(heap);
    cr_expect_null(ac_heap_current());
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Mostly small, a tail up to 600 KiB so that large mappings are exercised too. */
static size_t rnd_size(void)
{
    unsigned r = (unsigned)(rnd() % 1000);
    if (r < 700)
        return rnd() % 257;
    if (r < 950)
        return rnd() % 8193;
    if (r < 995)
        return rnd() % (AC_SLAB_MAX + 1);
    return AC_SLAB_MAX + rnd() % (350 * 1024);
}

struct slot {
    unsigned char *p;
    size_t size;
    unsigned char tag;
};

static void fill(struct slot *s)
{
    /* Touch the first and last 64 bytes only: large objects would make it slow. */
    size_t n = s->size < 128 ? s->size : 64;
    memset(s->p, s->tag, n);
    if (s->size >= 128)
        memset(s->p + s->size - 64, s->tag, 64);
}

static void check(const struct slot *s, size_t upto)
{
    size_t lim = upto < s->size ? upto : s->size;
    for (size_t i = 0; i < lim && i < 64; i++)
        cr_assert_eq(s->p[i], s->tag, "byte %zu of a %zu-byte object changed", i, s->size);
    if (s->size >= 128 && lim == s->size)
        for (size_t i = s->size - 64; i < s->size; i++)
            cr_assert_eq(s->p[i], s->tag, "byte %zu of a %zu-byte object changed", i, s->size);
}

static void check_new(const struct slot *s)
{
    cr_assert_not_null(s->p, "allocation of %zu bytes failed", s->size);
    cr_assert_eq((uintptr_t)s->p % AC_ALLOC_ALIGN, 0, "misaligned %p", (void *)s->p);
    cr_assert_geq(ac_alloc_usable_size(s->p), s->size);
}

TestSuite(mem_alloc, .init = setup, .fini = teardown);

Test(mem_alloc, random_ops_match_a_model)
{
    struct slot slots[SLOTS] = {0};
    for (unsigned op = 0; op < MODEL_OPS; op++) {
        struct slot *s = &slots[rnd() % SLOTS];
        unsigned kind = (unsigned)(rnd() % 3);
        if (!s->p) {
            s->size = rnd_size();
            s->tag = (unsigned char)rnd();
            s->p = kind == 2 ? ac_calloc(1, s->size) : ac_alloc(s->size);
            check_new(s);
            if (kind == 2)
                for (size_t i = 0; i < s->size && i < 256; i++)
                    cr_assert_eq(s->p[i], 0);
            fill(s);
        } else if (kind == 0) {
            check(s, s->size);
            ac_free(s->p);
            s->p = NULL;
        } else {
            size_t n = rnd_size();
            unsigned char *q = ac_realloc(s->p, n);
            struct slot old = *s;
            old.p = q;
            cr_assert_not_null(q);
            check(&old, n); /* the kept prefix is unchanged */
            s->p = q;
            s->size = n;
            check_new(s);
            fill(s);
        }
    }
    for (unsigned i = 0; i < SLOTS; i++) {
        if (slots[i].p) {
            check(&slots[i], slots[i].size);
            ac_free(slots[i].p);
        }
    }
}

Test(mem_alloc, classes_waste_at_most_a_quarter_above_64_bytes)
{
    for (size_t n = 1; n <= AC_SLAB_MAX; n += (n < 4096 ? 1 : 61)) {
        void *p = ac_alloc(n);
        size_t u = ac_alloc_usable_size(p);
        cr_assert_geq(u, n);
        if (n > 64)
            cr_assert_leq((double)(u - n) / (double)u, 0.25, "%zu -> %zu", n, u);
        ac_free(p);
    }
}

Test(mem_alloc, zero_bytes_gives_distinct_objects)
{
    void *a = ac_alloc(0), *b = ac_alloc(0);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_neq(a, b);
    ac_free(a);
    ac_free(b);
}

Test(mem_alloc, calloc_refuses_overflowing_products)
{
    cr_assert_null(ac_calloc(SIZE_MAX / 2, 3));
}

Test(mem_alloc, realloc_stays_in_place_within_the_class)
{
    char *p = ac_alloc(100);
    size_t u = ac_alloc_usable_size(p);
    cr_assert_eq(ac_realloc(p, u), p);
    char *q = ac_realloc(p, 4 * u);
    cr_assert_neq(q, p);
    cr_assert_geq(ac_alloc_usable_size(q), 4 * u);
    ac_free(q);
}

Test(mem_alloc, free_of_null_is_ignored)
{
    ac_free(NULL);
    struct ac_heap_stats st;
    ac_heap_stats(heap, &st);
    cr_assert_eq(st.bytes_in_use, 0);
}

Test(mem_alloc, same_thread_free_is_reused_lifo)
{
    void *a = ac_alloc(64);
    ac_free(a);
    void *b = ac_alloc(64);
    cr_assert_eq(a, b, "a freed object is the next one handed out");
    ac_free(b);
}

Test(mem_alloc, large_allocation_is_mapped_and_returned)
{
    struct ac_heap_stats st;
    char *p = ac_alloc(3u << 20);
    cr_assert_not_null(p);
    memset(p, 7, 3u << 20);
    ac_heap_stats(heap, &st);
    cr_assert_eq(st.large_allocs, 1);
    cr_assert_geq(st.large_in_use, 3u << 20);
    ac_free(p);
    ac_heap_stats(heap, &st);
    cr_assert_eq(st.large_in_use, 0);
    cr_assert_eq(st.bytes_mapped, (size_t)st.chunks * (2u << 20));
}
