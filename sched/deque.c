/*
 * Chase-Lev work-stealing deque, growable, with the C11 memory orderings of
 * Lê, Pop, Cohen and Zappa Nardelli, "Correct and Efficient Work-Stealing
 * for Weak Memory Models" (PPoPP 2013), Fig. 1.
 *
 * Layout: a circular buffer of 2^k atomic slots indexed by 64-bit counters
 * that never wrap in practice; items live in [top, bottom). The owner
 * pushes and pops at `bottom`; thieves take from `top` with a CAS. The only
 * item both sides can want at once is the last one, and both then race on
 * the CAS of `top`.
 *
 * Deviations from the paper, each argued where it is: push publishes with
 * a release store of `bottom` instead of a release fence followed by a
 * relaxed store (equivalent for the pairing that matters, the thief's
 * acquire load of `bottom`, and visible to ThreadSanitizer, which does not
 * model fences); pop uses a seq_cst exchange instead of store + fence;
 * steal-half is a run of single steals sharing one fence.
 *
 * Reclaiming outgrown buffers: a thief may still read the old buffer after
 * the owner switched to a bigger one (it loaded `buf` before the switch).
 * Every index a thief can still take was copied, so reading either buffer
 * gives the same item, but the old memory must stay valid. Old buffers are
 * therefore kept on a list and freed in ac__deque_close, when no thief can
 * run. The cost is bounded: buffers double, so the retired ones together are
 * smaller than the live one.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

struct ac__deque_buf {
    int64_t mask; /* capacity - 1 */
    struct ac__deque_buf *retired_next;
    _Atomic(void *) slot[];
};

static struct ac__deque_buf *buf_new(int64_t cap)
{
    struct ac__deque_buf *b = malloc(sizeof *b + (size_t)cap * sizeof b->slot[0]);
    if (!b)
        return NULL;
    b->mask = cap - 1;
    b->retired_next = NULL;
    return b;
}

int ac__deque_init(struct ac__deque *dq, unsigned log2_cap)
{
    struct ac__deque_buf *b = buf_new((int64_t)1 << log2_cap);
    if (!b)
        return -ENOMEM;
    atomic_init(&dq->top, 0);
    atomic_init(&dq->bottom, 0);
    atomic_init(&dq->buf, b);
    dq->retired = NULL;
    return 0;
}

void ac__deque_close(struct ac__deque *dq)
{
    free(atomic_load_explicit(&dq->buf, memory_order_relaxed));
    while (dq->retired) {
        struct ac__deque_buf *next = dq->retired->retired_next;
        free(dq->retired);
        dq->retired = next;
    }
}

/* Owner: doubles the buffer holding [t, b). */
static struct ac__deque_buf *grow(struct ac__deque *dq, struct ac__deque_buf *a, int64_t t,
                                  int64_t b)
{
    struct ac__deque_buf *n = buf_new(2 * (a->mask + 1));
    if (!n)
        return NULL;
    for (int64_t i = t; i < b; i++)
        atomic_store_explicit(&n->slot[i & n->mask],
                              atomic_load_explicit(&a->slot[i & a->mask], memory_order_relaxed),
                              memory_order_relaxed);
    /* Release: a thief that loads the new pointer (acquire) sees the copied
     * slots. */
    atomic_store_explicit(&dq->buf, n, memory_order_release);
    a->retired_next = dq->retired;
    dq->retired = a;
    return n;
}

int ac__deque_push(struct ac__deque *dq, void *item)
{
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed); /* only we write it */
    /* Acquire pairs with the thieves' CAS on top: a thief's read of the slot
     * it took happens before we overwrite that slot with a new item. */
    int64_t t = atomic_load_explicit(&dq->top, memory_order_acquire);
    struct ac__deque_buf *a = atomic_load_explicit(&dq->buf, memory_order_relaxed);
    if (b - t > a->mask) {
        a = grow(dq, a, t, b);
        if (!a)
            return -ENOMEM;
    }
    atomic_store_explicit(&a->slot[b & a->mask], item, memory_order_relaxed);
    /* Release: publishes the slot (and the task it points to) to a thief
     * whose acquire load of bottom sees b + 1. */
    atomic_store_explicit(&dq->bottom, b + 1, memory_order_release);
    return 0;
}

void *ac__deque_pop(struct ac__deque *dq)
{
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed) - 1;
    struct ac__deque_buf *a = atomic_load_explicit(&dq->buf, memory_order_relaxed);
    /* Store-load barrier (the Dekker race with steal): either a thief's
     * load of bottom after its fence sees our decrement, or our load of
     * top below sees its increment. Without it both could take item b.
     * The paper writes a relaxed store and a seq_cst fence; a seq_cst
     * exchange followed by a seq_cst load gives the same guarantee against
     * the thief's fence (C11 7.17.3: an SC modification before the fence
     * in S is seen by loads after the fence, and an SC load after it sees
     * modifications sequenced before the fence) and costs one locked xchg
     * on x86 instead of an mfence (about 2x faster here; crossbeam uses
     * the same substitution). */
    atomic_exchange_explicit(&dq->bottom, b, memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&dq->top, memory_order_seq_cst);
    void *x = NULL;
    if (t <= b) {
        x = atomic_load_explicit(&a->slot[b & a->mask], memory_order_relaxed);
        if (t == b) {
            /* The last item: thieves may want it too; the CAS decides.
             * Seq_cst so it is ordered with the thieves' CAS and loads. */
            if (!atomic_compare_exchange_strong_explicit(&dq->top, &t, t + 1, memory_order_seq_cst,
                                                         memory_order_relaxed))
                x = NULL;
            atomic_store_explicit(&dq->bottom, b + 1, memory_order_relaxed);
        }
    } else {
        atomic_store_explicit(&dq->bottom, b + 1, memory_order_relaxed); /* was empty */
    }
    return x;
}

/*
 * Takes item t after the caller saw t < b. The acquire load of buf pairs
 * with grow's release store (Lê et al. use consume). The slot is read before
 * the CAS: once top moves past t the owner may overwrite the slot. The CAS
 * is seq_cst (release part: our slot read happens before the owner's
 * overwrite, via push's acquire load of top; sequential part: ordered
 * against the owner's fence in pop).
 */
static bool take_at(struct ac__deque *dq, int64_t t, void **out)
{
    struct ac__deque_buf *a = atomic_load_explicit(&dq->buf, memory_order_acquire);
    void *x = atomic_load_explicit(&a->slot[t & a->mask], memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&dq->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return false;
    *out = x;
    return true;
}

void *ac__deque_steal(struct ac__deque *dq)
{
    int64_t t = atomic_load_explicit(&dq->top, memory_order_acquire);
    /* Pairs with the fence in pop (see there). */
    atomic_thread_fence(memory_order_seq_cst);
    /* Acquire pairs with push's release store: the item is visible. */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_acquire);
    void *x = NULL;
    if (t < b && !take_at(dq, t, &x))
        return NULL;
    return x;
}

/*
 * Steal-half as a run of single steals, each with its own CAS: moving top
 * by n in one CAS would race with pop, which takes items above top without
 * a CAS (the batch variant needs the protocol of Hendler and Shavit). What
 * the run saves is the fence and the reload of top: after our successful
 * seq_cst CAS the next seq_cst load of bottom is ordered after it, and that
 * pairs with pop's fence exactly as the fence in steal does (C11
 * [atomics.order]: either the load sees the owner's decrement of bottom or
 * the owner's load of top sees our CAS).
 */
unsigned ac__deque_steal_half(struct ac__deque *dq, void **out, unsigned max)
{
    int64_t t = atomic_load_explicit(&dq->top, memory_order_acquire);
    atomic_thread_fence(memory_order_seq_cst); /* as in steal */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_acquire);
    int64_t want = (b - t + 1) / 2;
    if (want > (int64_t)max)
        want = max;
    unsigned n = 0;
    while (n < want) {
        if (t >= b || !take_at(dq, t, &out[n]))
            break;
        n++;
        t++;
        b = atomic_load_explicit(&dq->bottom, memory_order_seq_cst);
    }
    return n;
}

void *ac__deque_peek_oldest(struct ac__deque *dq)
{
    /* Acquire pairs with a thief's CAS of top: a slot below top may be
     * overwritten by a later push, one at or above it is still queued (or
     * being stolen right now, which the caller tolerates). */
    int64_t t = atomic_load_explicit(&dq->top, memory_order_acquire);
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
    if (t >= b)
        return NULL;
    struct ac__deque_buf *a = atomic_load_explicit(&dq->buf, memory_order_relaxed);
    return atomic_load_explicit(&a->slot[t & a->mask], memory_order_relaxed);
}
