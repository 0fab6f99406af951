/*
 * ac_alloc / ac_free and friends: the fast paths.
 *
 * Same-thread alloc: thread-local heap, the slab for the size (direct[]),
 * pop its free list, bump two counters in the slab's line. No budget
 * arithmetic here: the budget is checked when the heap grows (slab.c,
 * large.c). Same-thread free: mask to the chunk, compare the chunk's owner
 * with the thread's heap, one load for the slab, push.
 * Everything else (empty class, budget, large sizes, frees of other
 * heaps' memory, a thread without a heap) leaves through one unlikely
 * branch to a slow path.
 */
#include "internal.h"

#include <string.h>

_Thread_local ac_heap *ac__tls_heap __attribute__((tls_model("initial-exec")));

void *ac__alloc_on(ac_heap *h, size_t size)
{
    if (!h && !(h = ac__heap_implicit()))
        return NULL;
    if (size > AC_SLAB_MAX)
        return ac__large_alloc(h, size);
    unsigned cls = ac__size_class(size);
    struct ac__class *k = &h->cls[cls];
    if (h->given + ac_heap_class_size(cls) > h->limit &&
        !ac__budget_allows(h, ac_heap_class_size(cls)))
        return NULL; /* counted there */
    if (!k->cur->free && !ac__slab_refill(h, cls))
        return NULL; /* counted as an OS failure by the slab code */
    struct ac__slab *s = k->cur;
    void *p = s->free;
    ac__unpoison(p, s->size);
    s->free = *(void **)p;
    s->used++;
    s->allocs++;
    h->given += s->size;
    return p;
}

void *ac_alloc(size_t size)
{
    ac_heap *h = ac__tls_heap;
    if (AC_UNLIKELY(!h || size > AC_DIRECT_MAX))
        return ac__alloc_on(h, size);
    struct ac__slab *s = h->direct[(size + 15) >> 4];
    void *p = s->free;
    if (AC_UNLIKELY(!p || h->given + s->size > h->limit))
        return ac__alloc_on(h, size);
    ac__unpoison(p, s->size);
    s->free = *(void **)p;
    s->used++;
    s->allocs++;
    h->given += s->size;
    return p;
}

void ac_free(void *p)
{
    if (AC_UNLIKELY(!p))
        return;
    struct ac__chunk *c = ac__chunk_of(p);
#ifdef AC_ASAN
    /* A poisoned object was already freed: report it here, not as a corrupt list later. */
    if (__asan_address_is_poisoned(p))
        AC_PANIC("ac_free(%p): double free", p);
#endif
    ac_heap *h = c->slab_owner;
    if (AC_LIKELY(h == ac__tls_heap))
        ac__slab_put(h, c->page_slab[((uintptr_t)p >> AC_PAGE_SHIFT) & (AC_CHUNK_PAGES - 1)], p);
    else
        ac__free_remote(c, p);
}

void *ac_calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total))
        return NULL;
    void *p = ac_alloc(total);
    /*
     * Fresh chunks are zero, but recycled objects are not and slab links
     * sit in the first word: clear all of it.
     */
    if (p)
        memset(p, 0, total);
    return p;
}

size_t ac_alloc_usable_size(const void *p)
{
    if (!p)
        return 0;
    const struct ac__slab *s = ac__slab_of(p);
    return s->cls == AC_LARGE_CLASS ? ac__chunk_of(s)->large_size : s->size;
}

void *ac_realloc(void *p, size_t size)
{
    if (!p)
        return ac_alloc(size);
    size_t have = ac_alloc_usable_size(p);
    /* In place when it fits and no more than half of it would sit unused. */
    if (size <= have && (size >= have / 2 || have <= 16))
        return p;
    void *q = ac_alloc(size);
    if (!q)
        return NULL;
    memcpy(q, p, size < have ? size : have);
    ac_free(p);
    return q;
}
