/*
 * Large allocations (> AC_SLAB_MAX): a mapping of their own, 2 MiB-aligned
 * so that ac_free finds its header the same way as a slab's, user data one
 * OS page after the header. They count against the budget like slabs and go back to the OS on free
 * (on the owner; a free on another thread travels through the remote list like any object).
 */
#include "internal.h"

#include <stdint.h>

void *ac__large_alloc(ac_heap *h, size_t size)
{
    if (size > SIZE_MAX - 2 * AC_CHUNK_SIZE) {
        h->st.oom_failures++;
        return NULL;
    }
    size_t usable = (size + AC_OS_PAGE - 1) & ~(size_t)(AC_OS_PAGE - 1);
    if (!ac__budget_allows(h, usable))
        return NULL;
    bool huge = h->cfg.hugetlb, fell_back;
    size_t map = usable + AC_OS_PAGE;
    struct ac__chunk *c = ac__pages_map(map, h->cfg.numa_node, &huge, &fell_back);
    if (fell_back)
        h->st.hugetlb_fallbacks++;
    if (!c) {
        h->st.oom_failures++;
        return NULL;
    }
    map = (map + AC_CHUNK_SIZE - 1) & ~(AC_CHUNK_SIZE - 1);
    c->heap = h;
    c->slab_owner = ac__large_owner; /* ac_free's fast path never matches */
    c->kind = AC_CHUNK_LARGE;
    c->map_size = map;
    c->large_size = usable;
    c->hugetlb = huge;
    struct ac__slab *s = &c->slabs[0];
    s->cls = AC_LARGE_CLASS;
    s->size = 0;
    c->page_slab[0] = s;
    LIST_INSERT_HEAD(&h->large, c, link);
    h->held += usable;
    h->given += usable;
    h->st.large_in_use += usable;
    h->st.large_allocs++;
    h->st.bytes_mapped += map;
    return (char *)c + AC_OS_PAGE;
}

void ac__large_free(ac_heap *h, struct ac__chunk *c)
{
    LIST_REMOVE(c, link);
    h->held -= c->large_size;
    h->given -= c->large_size;
    h->st.large_in_use -= c->large_size;
    h->st.bytes_mapped -= c->map_size;
    ac__pages_unmap(c, c->map_size);
}
