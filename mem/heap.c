/*
 * Heap lifetime: create, destroy (with orphaning), the thread's current
 * heap, the implicit heap of threads that are not shards, maintenance and
 * stats.
 *
 * Orphaning (rule 3 in mem.h): destroy closes the remote list by swapping
 * in AC_REMOTE_ORPHANED (one exchange, so every chain pushed before is
 * reclaimed and every chain pushed after sees the mark), counts the
 * objects still out and adds that to `orphans`. Pushers that saw the mark
 * subtract their chain's length. The counter may go below zero before the
 * destroyer's add lands; exactly one thread moves it to zero, and that one
 * unmaps the heap.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const char ac__large_owner_tag;

/* Immutable after the first call: the key whose destructor ends implicit heaps. */
static pthread_key_t implicit_key;
static pthread_once_t implicit_once = PTHREAD_ONCE_INIT;

static void implicit_exit(void *h)
{
    ac_heap_destroy(h);
}

static void implicit_key_create(void)
{
    if (pthread_key_create(&implicit_key, implicit_exit) != 0)
        AC_PANIC("pthread_key_create failed");
}

int ac_heap_create(const struct ac_heap_config *cfg, ac_heap **out)
{
    struct ac_heap_config c = cfg ? *cfg : (struct ac_heap_config){.numa_node = -1};
    int node = ac__numa_node_resolve(c.numa_node);
    if (node < 0)
        return node;
    c.numa_node = node;
    ac_heap *h;
    if (posix_memalign((void **)&h, AC_CACHELINE, sizeof *h) != 0)
        return -ENOMEM;
    memset(h, 0, sizeof *h);
    for (unsigned i = 0; i < AC_HEAP_CLASSES; i++) {
        h->cls[i].size = ac__class_sizes[i];
        TAILQ_INIT(&h->cls[i].partial);
        ac__class_set_cur(h, i, &h->dummy);
    }
    h->limit = c.limit_bytes ? c.limit_bytes : SIZE_MAX;
    h->cfg = c;
    h->clock = ac_now_ns();
    atomic_init(&h->remote, NULL);
    atomic_init(&h->orphans, 0);
    *out = h;
    return 0;
}

ac_heap *ac__heap_implicit(void)
{
    ac_heap *h;
    pthread_once(&implicit_once, implicit_key_create);
    /* The thread set its current heap to NULL after getting an implicit one: reuse it. */
    if ((h = pthread_getspecific(implicit_key)) != NULL) {
        ac__tls_heap = h;
        return h;
    }
    struct ac_heap_config cfg = {.numa_node = -1, .idle_release_ns = 1000000000ull};
    if (ac_heap_create(&cfg, &h) < 0)
        return NULL;
    if (pthread_setspecific(implicit_key, h) != 0) {
        ac_heap_destroy(h);
        return NULL;
    }
    ac__tls_heap = h;
    return h;
}

void ac__heap_free_all(ac_heap *h)
{
    struct ac__chunk *c;
    while ((c = LIST_FIRST(&h->chunks))) {
        LIST_REMOVE(c, link);
        ac__pages_unmap(c, c->map_size);
    }
    while ((c = LIST_FIRST(&h->large))) {
        LIST_REMOVE(c, link);
        ac__pages_unmap(c, c->map_size);
    }
    free(h);
}

void ac_heap_destroy(ac_heap *h)
{
    if (!h)
        return;
    if (ac__tls_heap == h)
        ac__tls_heap = NULL;
    pthread_once(&implicit_once, implicit_key_create);
    if (pthread_getspecific(implicit_key) == h)
        (void)pthread_setspecific(implicit_key, NULL);
    ac__outbox_flush_all(h);
    ac__heap_reclaim_final(h);
    int64_t live = (int64_t)ac__slab_live_objects(h, NULL, NULL);
    struct ac__chunk *c;
    LIST_FOREACH(c, &h->large, link)
        live++;
    if (live == 0) {
        ac__heap_free_all(h);
        return;
    }
    /* acq_rel: see push_chain; whoever reaches zero unmaps. */
    int64_t prev = atomic_fetch_add_explicit(&h->orphans, live, memory_order_acq_rel);
    if (prev + live == 0)
        ac__heap_free_all(h);
}

void ac_heap_set_current(ac_heap *h)
{
    if (ac__tls_heap && ac__tls_heap != h)
        ac__outbox_flush_all(ac__tls_heap);
    ac__tls_heap = h;
}

ac_heap *ac_heap_current(void)
{
    return ac__tls_heap;
}

void ac_heap_maintain(ac_heap *h, uint64_t now_ns)
{
    ac_heap_reclaim(h);
    h->clock = now_ns;
    if (now_ns >= h->cfg.idle_release_ns)
        ac__slab_release_idle(h, now_ns - h->cfg.idle_release_ns);
}

void ac_heap_stats(const ac_heap *h, struct ac_heap_stats *out)
{
    uint64_t live[AC_HEAP_CLASSES] = {0}, allocs[AC_HEAP_CLASSES] = {0};
    ac__slab_live_objects(h, live, allocs);
    *out = h->st;
    out->numa_node = h->cfg.numa_node;
    out->limit_bytes = h->cfg.limit_bytes;
    out->bytes_held = h->held;
    out->bytes_in_use = h->st.large_in_use;
    for (unsigned i = 0; i < AC_HEAP_CLASSES; i++) {
        const struct ac__class *k = &h->cls[i];
        struct ac_heap_class_stats *o = &out->cls[i];
        o->size = k->size;
        o->slabs = k->slabs;
        o->allocs = k->released_allocs + allocs[i];
        o->frees = o->allocs - live[i]; /* not counted on the fast path */
        o->remote_frees = k->remote_frees;
        o->bytes_in_use = (size_t)live[i] * k->size;
        out->bytes_in_use += o->bytes_in_use;
    }
}
