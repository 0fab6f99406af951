/*
 * Remote frees: memory freed by a thread that does not own it.
 *
 * The freeing thread appends the pointer to a batch (struct ac__rbatch) in
 * its heap's outbox slot for the owner: no atomics, and the object itself
 * is not written. A batch is handed over with one CAS when it is full,
 * when its slot is needed for another owner, and whenever the freeing
 * thread calls ac_heap_reclaim. The owner takes its whole remote list with
 * one exchange, puts each object back into its slab (or unmaps it, for a
 * large mapping) and sends the batch back to the heap that allocated it.
 *
 * Remote list nodes are a batch of frees (pointer tagged TAG_BATCH), a
 * batch coming home (TAG_HOME), or one plain object linked through its
 * first word: a free from a thread without a heap, or from one that could
 * not get a batch.
 *
 * A destroyed heap's list head is AC_REMOTE_ORPHANED (heap.c): what is
 * pushed after that is not linked anywhere; it only counts down the heap's
 * orphan count, and whoever brings it to zero unmaps the heap.
 */
#include "internal.h"

#define TAG_BATCH ((uintptr_t)1)
#define TAG_HOME  ((uintptr_t)2)
#define TAGS      (TAG_BATCH | TAG_HOME)

/*
 * Links `node` (tagged) onto to's remote list; `n` objects of `to` come
 * back with it. Returns false when `to` is orphaned: then nothing was
 * linked, the objects were counted off, and the caller keeps `node`.
 */
static bool push_node(ac_heap *to, void *node, void **link, uint32_t n)
{
    /* relaxed: the value is only a guess for the CAS, which validates it. */
    void *old = atomic_load_explicit(&to->remote, memory_order_relaxed);
    do {
        if (old == AC_REMOTE_ORPHANED) {
            /*
             * acq_rel: the thread that reaches zero must see every other
             * thread's last use of the heap before it unmaps it.
             */
            int64_t prev =
                atomic_fetch_sub_explicit(&to->orphans, (int64_t)n, memory_order_acq_rel);
            if (prev == (int64_t)n)
                ac__heap_free_all(to);
            return false;
        }
        if ((uintptr_t)node & TAGS)
            *link = old; /* a batch is live memory */
        else
            ac__link_set(link, old); /* a freed object's link word stays poisoned */
        /*
         * release on success: the owner's acquire exchange must see the
         * batch (or link) written above and whatever the freeing threads
         * did to the objects before freeing them. relaxed on failure: retry.
         */
    } while (!atomic_compare_exchange_weak_explicit(&to->remote, &old, node, memory_order_release,
                                                    memory_order_relaxed));
    return true;
}

/* Sends one plain object (already poisoned) back to its owner. */
static void push_object(ac_heap *to, void *p)
{
    push_node(to, p, (void **)p, 1);
}

/* Frees a batch that belongs to heap h (the calling thread's). */
static void batch_free_local(ac_heap *h, struct ac__rbatch *b)
{
    ac__slab_put(h, ac__slab_of(b), b);
}

static void outbox_flush(ac_heap *h, struct ac__outbox *o)
{
    struct ac__rbatch *b = o->b;
    ac_heap *to = o->to;
    o->b = NULL;
    o->to = NULL;
    if (!b)
        return;
    h->out_pending -= b->n;
    if (!push_node(to, (void *)((uintptr_t)b | TAG_BATCH), &b->next, b->n))
        batch_free_local(h, b); /* the owner is orphaned: its count already dropped */
}

void ac__outbox_flush_all(ac_heap *h)
{
    for (unsigned i = 0; i < AC_OUTBOX_SLOTS && h->out_pending; i++)
        outbox_flush(h, &h->out[i]);
}

void ac__free_remote(struct ac__chunk *c, void *p)
{
    ac_heap *owner = c->heap;
    ac_heap *me = ac__tls_heap;
    if (owner == me) { /* a large mapping of our own */
        ac__large_free(me, c);
        return;
    }
    /* Only the chunk header is read here: the slab's line belongs to the owner. */
#ifdef AC_ASAN
    if (c->kind == AC_CHUNK_SLAB)
        ac__poison(p, ac__slab_of(p)->size);
#endif
    if (!me) { /* a thread without a heap has no outbox: hand it over alone */
        push_object(owner, p);
        return;
    }
    /* Heaps are cache-line aligned: drop the low bits before hashing. */
    struct ac__outbox *o = &me->out[((uintptr_t)owner >> 6) % AC_OUTBOX_SLOTS];
    if (AC_UNLIKELY(o->to != owner || !o->b)) {
        outbox_flush(me, o);
        /* May reclaim and flush, which finds this slot empty: harmless. */
        struct ac__rbatch *nb = ac__alloc_on(me, sizeof *nb);
        if (!nb) { /* over budget or out of memory: the object goes alone */
            push_object(owner, p);
            return;
        }
        nb->n = 0;
        o->to = owner;
        o->b = nb;
    }
    struct ac__rbatch *b = o->b;
    b->obj[b->n++] = p;
    me->out_pending++;
    if (b->n == AC_REMOTE_BATCH)
        outbox_flush(me, o);
}

/* Puts a reclaimed object back (the remote analogue of ac_free). */
static void reclaim_one(ac_heap *h, void *p)
{
    struct ac__slab *s = ac__slab_of(p);
    h->st.remote_frees++;
    if (s->cls == AC_LARGE_CLASS) {
        ac__large_free(h, ac__chunk_of(s));
        return;
    }
    h->cls[s->cls].remote_frees++;
    ac__slab_put(h, s, p);
}

/* Reclaims the nodes taken from the remote list; returns the objects put back. */
static unsigned reclaim_list(ac_heap *h, void *node)
{
    unsigned n = 0;
    while (node) {
        if ((uintptr_t)node & TAG_HOME) {
            struct ac__rbatch *b = (void *)((uintptr_t)node & ~TAGS);
            node = b->next;
            batch_free_local(h, b); /* internal: not counted as a remote free */
        } else if ((uintptr_t)node & TAG_BATCH) {
            struct ac__rbatch *b = (void *)((uintptr_t)node & ~TAGS);
            node = b->next;
            /* No software prefetch: measured slower (36.7 vs 31-34 ns/obj in bench_mem). */
            for (uint32_t i = 0; i < b->n; i++)
                reclaim_one(h, b->obj[i]);
            n += b->n;
            /* The batch goes home; if home is gone it was counted off there. */
            ac_heap *home = ac__chunk_of(b)->heap;
            if (home == h) {
                batch_free_local(h, b);
            } else {
                push_node(home, (void *)((uintptr_t)b | TAG_HOME), &b->next, 1);
            }
        } else {
            void *p = node;
            node = ac__link_get(p);
            reclaim_one(h, p);
            n++;
        }
    }
    return n;
}

unsigned ac_heap_reclaim(ac_heap *h)
{
    if (AC_UNLIKELY(h->out_pending))
        ac__outbox_flush_all(h);
    /* relaxed: only a hint; the exchange below is what orders the objects. */
    if (AC_LIKELY(atomic_load_explicit(&h->remote, memory_order_relaxed) == NULL))
        return 0;
    /* acquire: pairs with the release CAS in push_node (batches, links, object contents). */
    void *list = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
    h->st.remote_batches++;
    return reclaim_list(h, list);
}

unsigned ac__heap_reclaim_final(ac_heap *h)
{
    /*
     * acq_rel: acquire as in ac_heap_reclaim; release so that a pusher
     * that sees AC_REMOTE_ORPHANED also sees the heap's final state.
     */
    void *list = atomic_exchange_explicit(&h->remote, AC_REMOTE_ORPHANED, memory_order_acq_rel);
    return reclaim_list(h, list);
}
