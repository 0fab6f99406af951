/* Object pools: init once, reset on put, reuse, bounded cache, stats. */
#include <criterion/criterion.h>
#include <errno.h>

#include "agentcore/mem.h"

struct counts {
    unsigned inits, resets;
};

struct obj {
    int state;
    char payload[100];
};

static void obj_init(void *arg, void *o)
{
    ((struct counts *)arg)->inits++;
    ((struct obj *)o)->state = 1;
}

static void obj_reset(void *arg, void *o)
{
    ((struct counts *)arg)->resets++;
    ((struct obj *)o)->state = 2;
}

static ac_pool *make_pool(struct counts *c, unsigned max)
{
    ac_pool *p;
    struct ac_pool_config cfg = {.obj_size = sizeof(struct obj),
                                 .max_cached = max,
                                 .init = obj_init,
                                 .reset = obj_reset,
                                 .arg = c};
    cr_assert_eq(ac_pool_create(&cfg, &p), 0);
    return p;
}

Test(mem_pool, create_rejects_zero_sized_objects)
{
    ac_pool *p;
    struct ac_pool_config cfg = {.obj_size = 0};
    cr_assert_eq(ac_pool_create(&cfg, &p), -EINVAL);
}

Test(mem_pool, released_objects_are_reset_and_reused)
{
    struct counts c = {0};
    ac_pool *p = make_pool(&c, 4);
    struct obj *a = ac_pool_get(p);
    cr_assert_not_null(a);
    cr_assert_eq(a->state, 1, "a new object is initialised");
    ac_pool_put(p, a);
    cr_assert_eq(c.resets, 1);
    struct obj *b = ac_pool_get(p);
    cr_assert_eq(b, a, "the released object comes back");
    cr_assert_eq(b->state, 2, "and it was reset, not re-initialised");
    cr_assert_eq(c.inits, 1);
    ac_pool_put(p, b);
    struct ac_pool_stats st;
    ac_pool_stats(p, &st);
    cr_assert_eq(st.created, 1);
    cr_assert_eq(st.acquired, 2);
    cr_assert_eq(st.released, 2);
    cr_assert_eq(st.cached, 1);
    cr_assert_float_eq(st.reuse_rate, 0.5, 1e-9);
    ac_pool_destroy(p);
}

Test(mem_pool, cache_is_bounded_and_extra_objects_are_freed)
{
    struct counts c = {0};
    ac_heap *h;
    struct ac_heap_config cfg = {.numa_node = -1};
    cr_assert_eq(ac_heap_create(&cfg, &h), 0);
    ac_heap_set_current(h);
    ac_pool *p = make_pool(&c, 2);
    void *o[5];
    for (int i = 0; i < 5; i++)
        o[i] = ac_pool_get(p);
    for (int i = 0; i < 5; i++)
        ac_pool_put(p, o[i]);
    struct ac_pool_stats st;
    ac_pool_stats(p, &st);
    cr_assert_eq(st.cached, 2);
    cr_assert_eq(st.dropped, 3);
    cr_assert_eq(st.created, 5);
    ac_pool_destroy(p);
    struct ac_heap_stats hs;
    ac_heap_stats(h, &hs);
    cr_assert_eq(hs.bytes_in_use, 0, "destroy frees the cached objects and the pool");
    ac_heap_destroy(h);
}

Test(mem_pool, get_fails_cleanly_past_the_heap_budget)
{
    struct counts c = {0};
    ac_heap *h;
    struct ac_heap_config cfg = {.numa_node = -1, .limit_bytes = 128 * 1024}; /* two slabs */
    cr_assert_eq(ac_heap_create(&cfg, &h), 0);
    ac_heap_set_current(h);
    ac_pool *p = make_pool(&c, 16);
    static void *o[4000];
    unsigned n = 0;
    while (n < 4000 && (o[n] = ac_pool_get(p)))
        n++;
    cr_assert_lt(n, 4000);
    struct ac_pool_stats st;
    ac_pool_stats(p, &st);
    cr_assert_eq(st.failures, 1);
    cr_assert_eq(st.created, n);
    ac_pool_put(p, o[--n]);
    cr_assert_not_null(ac_pool_get(p), "a cached object needs no memory");
    while (n)
        ac_free(o[--n]); /* objects out may also be freed directly */
    ac_pool_destroy(p);
    ac_heap_destroy(h);
}
