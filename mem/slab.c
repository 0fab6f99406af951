/*
 * Slabs: runs of 64 KiB pages in a chunk, formatted for one size class.
 *
 * Each class keeps a doubly linked "partial" list of slabs that have a
 * free object; its head is `cur`, where the fast path allocates. A slab
 * that runs dry leaves the list (it is "full") and rejoins when one of its
 * objects is freed. A slab whose last object comes back stays listed and
 * is stamped with the heap clock; ac_heap_maintain releases it once it has
 * stayed empty for idle_release_ns, and a chunk with no slab left is
 * unmapped. All of this runs on the owning thread only.
 */
#include "internal.h"

#include <string.h>

void ac__class_set_cur(ac_heap *h, unsigned cls, struct ac__slab *s)
{
    h->cls[cls].cur = s;
    if (ac__class_sizes[cls] > AC_DIRECT_MAX)
        return;
    /* Entries i ≥ 1 serve sizes (16(i-1), 16i]: those whose class is cls. */
    uint32_t lo = cls ? ac__class_sizes[cls - 1] / 16 + 1 : 0;
    for (uint32_t i = lo; i <= ac__class_sizes[cls] / 16; i++)
        h->direct[i] = s;
}

static void list_remove(struct ac__class *k, ac_heap *h, struct ac__slab *s)
{
    bool was_head = TAILQ_FIRST(&k->partial) == s;
    TAILQ_REMOVE(&k->partial, s, link);
    if (was_head) {
        struct ac__slab *head = TAILQ_FIRST(&k->partial);
        ac__class_set_cur(h, (unsigned)(k - h->cls), head ? head : &h->dummy);
    }
    s->listed = false;
}

static void list_append(struct ac__class *k, ac_heap *h, struct ac__slab *s)
{
    bool was_empty = TAILQ_EMPTY(&k->partial);
    TAILQ_INSERT_TAIL(&k->partial, s, link);
    if (was_empty)
        ac__class_set_cur(h, (unsigned)(k - h->cls), s);
    s->listed = true;
}

void ac__slab_transition(ac_heap *h, struct ac__slab *s)
{
    if (!s->listed)
        list_append(&h->cls[s->cls], h, s); /* was full, has a free object now */
    if (s->used == 0)
        s->empty_since = h->clock;
}

static struct ac__chunk *chunk_new(ac_heap *h)
{
    bool huge = h->cfg.hugetlb, fell_back;
    struct ac__chunk *c = ac__pages_map(AC_CHUNK_SIZE, h->cfg.numa_node, &huge, &fell_back);
    if (fell_back)
        h->st.hugetlb_fallbacks++;
    if (!c)
        return NULL;
    /* Fresh anonymous memory is zero: only the non-zero fields need setting. */
    c->heap = h;
    c->slab_owner = h;
    c->kind = AC_CHUNK_SLAB;
    c->map_size = AC_CHUNK_SIZE;
    c->hugetlb = huge;
    LIST_INSERT_HEAD(&h->chunks, c, link);
    h->st.chunks++;
    h->st.hugetlb_chunks += huge;
    h->st.bytes_mapped += AC_CHUNK_SIZE;
    return c;
}

void ac__chunk_free(ac_heap *h, struct ac__chunk *c)
{
    LIST_REMOVE(c, link);
    h->st.chunks--;
    h->st.hugetlb_chunks -= c->hugetlb;
    h->st.bytes_mapped -= c->map_size;
    ac__pages_unmap(c, c->map_size);
}

/* First run of `n` free pages in c, or -1. */
static int find_run(const struct ac__chunk *c, unsigned n)
{
    uint32_t mask = (n >= 32) ? ~0u : ((1u << n) - 1);
    for (unsigned i = 0; i + n <= AC_CHUNK_PAGES; i++)
        if (!(c->page_map & (mask << i)))
            return (int)i;
    return -1;
}

static struct ac__slab *slab_new(ac_heap *h, unsigned cls)
{
    unsigned n = ac__class_pages(cls);
    /* Not a budget check (the budget counts objects handed out, checked
     * before this), but what keeps the memory held near it: a workload
     * that moves from one size class to another reuses the empty slabs of
     * the first now rather than after the idle time. */
    if (h->held + (size_t)n * AC_PAGE_SIZE > h->limit)
        ac__slab_release_idle(h, UINT64_MAX);
    struct ac__chunk *c;
    int first = -1;
    LIST_FOREACH(c, &h->chunks, link)
        if ((first = find_run(c, n)) >= 0)
            break;
    if (!c) {
        if (!(c = chunk_new(h))) {
            h->st.oom_failures++;
            return NULL;
        }
        first = 0;
    }
    struct ac__slab *s = &c->slabs[first];
    char *begin = (char *)c + (size_t)first * AC_PAGE_SIZE;
    char *end = begin + (size_t)n * AC_PAGE_SIZE;
    if (first == 0)
        begin = (char *)c + AC_OS_PAGE; /* page 0 also holds the chunk header */
    uint32_t size = ac__class_sizes[cls];
    memset(s, 0, sizeof *s);
    s->empty_since = h->clock;
    s->size = size;
    s->cls = (uint8_t)cls;
    s->first_page = (uint8_t)first;
    s->pages = (uint8_t)n;
    s->capacity = (uint32_t)((size_t)(end - begin) / size);
    /*
     * Thread the free list in address order. This is also the first touch
     * of the slab's pages, on the owning thread, so they fault in on the
     * heap's node.
     */
    char *p = begin + (size_t)(s->capacity - 1) * size;
    void *next = NULL;
    for (uint32_t i = 0; i < s->capacity; i++, p -= size) {
        *(void **)p = next;
        next = p;
    }
    ac__poison(begin, (size_t)s->capacity * size);
    s->free = next;
    for (unsigned i = 0; i < n; i++)
        c->page_slab[first + i] = s;
    c->page_map |= (n >= 32 ? ~0u : ((1u << n) - 1)) << first;
    h->cls[cls].slabs++;
    h->held += (size_t)n * AC_PAGE_SIZE;
    return s;
}

bool ac__slab_refill(ac_heap *h, unsigned cls)
{
    struct ac__class *k = &h->cls[cls];
    /* The head ran dry: it is full now, leave the list. */
    if (k->cur != &h->dummy && !k->cur->free)
        list_remove(k, h, k->cur);
    if (k->cur->free)
        return true;
    /* Frees from other threads may refill a slab of this class. */
    if (ac_heap_reclaim(h) && k->cur->free)
        return true;
    struct ac__slab *s = slab_new(h, cls);
    if (!s)
        return false;
    list_append(k, h, s);
    /* New slab first: the partial list was empty, so it is the head. */
    return true;
}

static void slab_release(ac_heap *h, struct ac__slab *s)
{
    struct ac__chunk *c = ac__chunk_of(s);
    struct ac__class *k = &h->cls[s->cls];
    list_remove(k, h, s);
    k->slabs--;
    k->released_allocs += s->allocs;
    h->held -= (size_t)s->pages * AC_PAGE_SIZE;
    h->st.slabs_released++;
    uint32_t bits = (s->pages >= 32 ? ~0u : ((1u << s->pages) - 1)) << s->first_page;
    for (unsigned i = 0; i < s->pages; i++)
        c->page_slab[s->first_page + i] = NULL;
    c->page_map &= ~bits;
    if (c->page_map == 0) {
        ac__chunk_free(h, c);
        return;
    }
    char *begin = (char *)c + (size_t)s->first_page * AC_PAGE_SIZE;
    if (s->first_page == 0)
        begin += AC_OS_PAGE;
    char *end = (char *)c + (size_t)(s->first_page + s->pages) * AC_PAGE_SIZE;
    ac__unpoison(begin, (size_t)(end - begin));
    ac__pages_discard(begin, (size_t)(end - begin));
}

void ac__slab_release_idle(ac_heap *h, uint64_t cutoff)
{
    for (unsigned i = 0; i < AC_HEAP_CLASSES; i++) {
        struct ac__class *k = &h->cls[i];
        struct ac__slab *s = TAILQ_FIRST(&k->partial), *next;
        for (; s; s = next) {
            next = TAILQ_NEXT(s, link);
            if (s->used == 0 && s->empty_since <= cutoff)
                slab_release(h, s);
        }
    }
}

uint64_t ac__slab_live_objects(const ac_heap *h, uint64_t *live, uint64_t *allocs)
{
    uint64_t n = 0;
    for (const struct ac__chunk *c = LIST_FIRST(&h->chunks); c; c = LIST_NEXT(c, link)) {
        for (unsigned i = 0; i < AC_CHUNK_PAGES; i++) {
            const struct ac__slab *s = c->page_slab[i];
            if (!s || s->first_page != i)
                continue;
            n += s->used;
            if (live)
                live[s->cls] += s->used;
            if (allocs)
                allocs[s->cls] += s->allocs;
        }
    }
    return n;
}

bool ac__budget_allows(ac_heap *h, size_t bytes)
{
    if (AC_LIKELY(h->given + bytes <= h->limit))
        return true;
    /* Frees may be waiting in the remote list; empty slabs can go now too
     * (no budget back, but the memory is). */
    ac_heap_reclaim(h);
    ac__slab_release_idle(h, UINT64_MAX);
    if (h->given + bytes <= h->limit)
        return true;
    h->st.budget_failures++;
    return false;
}
