/*
 * Object pools: a bounded stack of released objects in front of the heap.
 * The stack is an array rather than a list threaded through the objects,
 * so a reset object keeps every byte its reset callback left.
 */
#include "internal.h"

#include <assert.h>
#include <errno.h>

struct ac_pool {
    struct ac_pool_config cfg;
    unsigned n;    /* objects in cache[] */
    ac_heap *heap; /* the owner's current heap: asserts check the owner rule */
    struct ac_pool_stats st;
    void *cache[];
};

int ac_pool_create(const struct ac_pool_config *cfg, ac_pool **out)
{
    if (!cfg || cfg->obj_size == 0 || cfg->obj_size > ((size_t)1 << 40))
        return -EINVAL;
    unsigned max = cfg->max_cached ? cfg->max_cached : 1024;
    ac_pool *p = ac_alloc(sizeof *p + (size_t)max * sizeof(void *));
    if (!p)
        return -ENOMEM;
    p->cfg = *cfg;
    p->cfg.max_cached = max;
    p->n = 0;
    p->heap = ac_heap_current();
    p->st = (struct ac_pool_stats){0};
    *out = p;
    return 0;
}

void ac_pool_destroy(ac_pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->n; i++)
        ac_free(p->cache[i]);
    ac_free(p);
}

void *ac_pool_get(ac_pool *p)
{
    void *obj;
    assert(ac_heap_current() == p->heap && "ac_pool used off its owner thread");
    if (AC_LIKELY(p->n)) {
        obj = p->cache[--p->n];
    } else {
        obj = ac_alloc(p->cfg.obj_size);
        if (!obj) {
            p->st.failures++;
            return NULL;
        }
        p->st.created++;
        if (p->cfg.init)
            p->cfg.init(p->cfg.arg, obj);
    }
    p->st.acquired++;
    return obj;
}

void ac_pool_put(ac_pool *p, void *obj)
{
    assert(ac_heap_current() == p->heap && "ac_pool used off its owner thread");
    if (p->cfg.reset)
        p->cfg.reset(p->cfg.arg, obj);
    p->st.released++;
    if (p->n < p->cfg.max_cached) {
        p->cache[p->n++] = obj;
        return;
    }
    p->st.dropped++;
    ac_free(obj);
}

void ac_pool_stats(const ac_pool *p, struct ac_pool_stats *out)
{
    *out = p->st;
    out->cached = p->n;
    out->reuse_rate =
        p->st.acquired ? (double)(p->st.acquired - p->st.created) / (double)p->st.acquired : 0.0;
}
