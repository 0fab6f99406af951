/*
 * Remote frees: memory freed by a thread that does not own it.
 *
 * The freeing thread links the object into its heap's outbox slot for the
 * owner (no atomics); a slot is handed over as one chain with one CAS when
 * it reaches AC_REMOTE_BATCH objects, when the slot is needed for another
 * owner, and whenever the freeing thread calls ac_heap_reclaim. The owner
 * takes its whole remote list with one exchange and puts each object back
 * into its slab (or unmaps it, for a large mapping).
 *
 * A destroyed heap's list head is AC_REMOTE_ORPHANED (heap.c): a chain
 * pushed after that is not linked anywhere; it only counts down the heap's
 * orphan count, and whoever brings it to zero unmaps the heap.
 */
#include "internal.h"

/* Pushes the chain head..tail of n objects onto the owner's remote list. */
static void push_chain(ac_heap *to, void *head, void *tail, uint32_t n)
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
            return;
        }
        ac__link_set(tail, old);
        /*
         * release on success: the owner's acquire exchange must see the
         * links written above and whatever the freeing threads did to the
         * objects before freeing them. relaxed on failure: we retry.
         */
    } while (!atomic_compare_exchange_weak_explicit(&to->remote, &old, head, memory_order_release,
                                                    memory_order_relaxed));
}

static void outbox_flush(ac_heap *h, struct ac__outbox *o)
{
    if (!o->n)
        return;
    push_chain(o->to, o->head, o->tail, o->n);
    h->out_pending -= o->n;
    o->n = 0;
    o->head = o->tail = NULL;
    o->to = NULL;
}

void ac__outbox_flush_all(ac_heap *h)
{
    for (unsigned i = 0; i < AC_OUTBOX_SLOTS && h->out_pending; i++)
        outbox_flush(h, &h->out[i]);
}

void ac__free_remote(struct ac__slab *s, void *p)
{
    ac_heap *owner = s->heap == ac__large_owner ? s->chunk->heap : s->heap;
    ac_heap *me = ac__tls_heap;
    if (owner == me) { /* a large mapping of our own */
        ac__large_free(me, s->chunk);
        return;
    }
    if (s->cls != AC_LARGE_CLASS)
        ac__poison(p, s->size);
    if (!me) { /* a thread without a heap has no outbox: hand it over alone */
        push_chain(owner, p, p, 1);
        return;
    }
    /* Heaps are cache-line aligned: drop the low bits before hashing. */
    struct ac__outbox *o = &me->out[((uintptr_t)owner >> 6) % AC_OUTBOX_SLOTS];
    if (o->to != owner) {
        outbox_flush(me, o);
        o->to = owner;
    }
    ac__link_set(p, o->head);
    if (!o->tail)
        o->tail = p;
    o->head = p;
    o->n++;
    me->out_pending++;
    if (o->n >= AC_REMOTE_BATCH)
        outbox_flush(me, o);
}

/* Puts a reclaimed object back (the remote analogue of ac_free). */
static void reclaim_one(ac_heap *h, void *p)
{
    struct ac__slab *s = ac__slab_of(p);
    if (s->cls == AC_LARGE_CLASS) {
        ac__large_free(h, s->chunk);
        h->st.remote_frees++;
        return;
    }
    h->cls[s->cls].remote_frees++;
    h->st.remote_frees++;
    ac__slab_put(h, s, p);
}

/* Reclaims a chain taken from the remote list; returns its length. */
static unsigned reclaim_chain(ac_heap *h, void *p)
{
    unsigned n = 0;
    while (p) {
        void *next = ac__link_get(p);
        reclaim_one(h, p);
        p = next;
        n++;
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
    /* acquire: pairs with the release CAS in push_chain (links and object contents). */
    void *list = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
    h->st.remote_batches++;
    return reclaim_chain(h, list);
}

unsigned ac__heap_reclaim_final(ac_heap *h)
{
    /*
     * acq_rel: acquire as in ac_heap_reclaim; release so that a pusher
     * that sees AC_REMOTE_ORPHANED also sees the heap's final state.
     */
    void *list = atomic_exchange_explicit(&h->remote, AC_REMOTE_ORPHANED, memory_order_acq_rel);
    return reclaim_chain(h, list);
}
