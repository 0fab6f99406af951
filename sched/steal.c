/*
 * Stealing between shards: the steal group (searcher cap, sleeping set),
 * victim order, steal-half, wake-ups, and the way home of stolen tasks.
 *
 * A thief moves tasks from a victim's deque into its own deque of the same
 * class (so an even idler shard can take them again). The task struct still
 * belongs to the spawning shard: after it ran, the thief chains it on a
 * per-origin list and posts the whole chain home with one cross-shard
 * message per ac_sched_run; the origin calls done() and frees the struct.
 *
 * Lost wake-ups. A spawner pushes, then (fence) reads the sleeping count; a
 * shard going to sleep sets its mark, then (fence) looks at the peers'
 * deques. With a seq_cst fence on both sides at least one sees the other:
 * either the spawner wakes the sleeper or the sleeper does not sleep. A
 * spawner skips the wake when some shard is searching; that searcher either
 * finds the task or passes through ac_sched_sleep_prepare, which re-checks.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STEAL_BATCH_MAX 128

int ac_steal_group_create(unsigned nshards, ac_steal_group **out)
{
    if (nshards == 0)
        return -EINVAL;
    ac_steal_group *g =
        aligned_alloc(AC_CACHELINE, (sizeof *g + AC_CACHELINE - 1) & ~(size_t)(AC_CACHELINE - 1));
    if (!g)
        return -ENOMEM;
    g->sleeping = calloc(nshards, sizeof *g->sleeping);
    if (!g->sleeping) {
        free(g);
        return -ENOMEM;
    }
    g->nshards = nshards;
    atomic_init(&g->searching, 0);
    atomic_init(&g->nsleeping, 0);
    for (unsigned i = 0; i < nshards; i++)
        atomic_init(&g->sleeping[i], false);
    *out = g;
    return 0;
}

void ac_steal_group_destroy(ac_steal_group *g)
{
    if (!g)
        return;
    free((void *)g->sleeping);
    free(g);
}

int ac_sched_set_peers(ac_sched *s, ac_sched *const *peers, unsigned n, const uint8_t *distance)
{
    if (n <= s->shard_id || peers[s->shard_id] != s)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++)
        if (distance[i] > 2 || !peers[i])
            return -EINVAL;
    if (n > 1 && s->stealing && !s->hooks.post)
        return -EINVAL; /* stolen tasks could not come home */
    if (s->ndirty)
        return -EBUSY;
    ac_sched **p = malloc(n * sizeof *p);
    unsigned *victims = malloc(n * sizeof *victims);
    struct ac__remote_done *remote = calloc(n, sizeof *remote);
    unsigned *dirty = malloc(n * sizeof *dirty);
    if (!p || !victims || !remote || !dirty) {
        free(p);
        free(victims);
        free(remote);
        free(dirty);
        return -ENOMEM;
    }
    memcpy(p, peers, n * sizeof *p);
    unsigned nv = 0;
    for (unsigned level = 0; level < 3; level++) {
        for (unsigned i = 0; i < n; i++)
            if (i != s->shard_id && distance[i] == level)
                victims[nv++] = i;
        s->level_end[level] = nv;
    }
    free(s->peers);
    free(s->victims);
    free(s->remote);
    free(s->dirty);
    s->peers = p;
    s->npeers = n;
    s->victims = victims;
    s->nvictims = nv;
    for (unsigned i = 0; i < n; i++)
        ac__fifo_init(&remote[i].q);
    s->remote = remote;
    s->dirty = dirty;
    return 0;
}

static uint64_t next_random(ac_sched *s)
{
    /* xorshift64: victim order only needs to differ between shards and calls. */
    uint64_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->rng = x;
    return x;
}

/* Moves up to half of each class of `v`'s stealable tasks into `s`. */
static unsigned steal_from(ac_sched *s, ac_sched *v)
{
    unsigned total = 0;
    void *batch[STEAL_BATCH_MAX];
    for (unsigned c = 0; c < AC_PRIO_COUNT; c++) {
        if (ac__deque_size(&v->dq[c]) == 0)
            continue;
        unsigned n = ac__deque_steal_half(&v->dq[c], batch, STEAL_BATCH_MAX);
        for (unsigned i = 0; i < n; i++) {
            struct ac__task *t = batch[i];
            /* Out of memory to grow our deque: keep the task unstealable
             * rather than lose it. */
            if (ac__own_dq_push(s, c, t) < 0)
                ac__fifo_push(&s->local[c], t);
        }
        total += n;
    }
    return total;
}

/* Tokio's rule: at most half of the group searches at once. */
static bool search_begin(ac_steal_group *g)
{
    if (!g)
        return true;
    /* Relaxed: the count is a throttle, not a guard of data. */
    unsigned cur = atomic_load_explicit(&g->searching, memory_order_relaxed);
    do {
        if (2 * cur >= g->nshards)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&g->searching, &cur, cur + 1,
                                                    memory_order_relaxed, memory_order_relaxed));
    return true;
}

unsigned ac_sched_steal(ac_sched *s)
{
    if (s->ndirty)
        ac__sched_flush_remote(s);
    if (!s->stealing || s->nvictims == 0 || !search_begin(s->group))
        return 0;
    unsigned got = 0;
    unsigned begin = 0;
    for (unsigned level = 0; level < 3 && !got; level++) {
        unsigned end = s->level_end[level], cnt = end - begin;
        unsigned start = cnt ? (unsigned)(next_random(s) % cnt) : 0;
        /* Bounded: each peer at most once per call. */
        for (unsigned i = 0; i < cnt && !got; i++)
            got = steal_from(s, s->peers[s->victims[begin + (start + i) % cnt]]);
        begin = end;
    }
    if (s->group)
        atomic_fetch_sub_explicit(&s->group->searching, 1, memory_order_relaxed);
    s->stats.stolen += got;
    return got;
}

static void unmark_sleeping(ac_steal_group *g, unsigned shard)
{
    /* Whoever clears the mark (we, or a waker) decrements the count. */
    if (atomic_exchange_explicit(&g->sleeping[shard], false, memory_order_relaxed))
        atomic_fetch_sub_explicit(&g->nsleeping, 1, memory_order_relaxed);
}

static bool peers_have_work(const ac_sched *s)
{
    for (unsigned i = 0; i < s->nvictims; i++)
        for (unsigned c = 0; c < AC_PRIO_COUNT; c++)
            if (ac__deque_size(&s->peers[s->victims[i]]->dq[c]) > 0)
                return true;
    return false;
}

bool ac_sched_sleep_prepare(ac_sched *s)
{
    if (s->ndirty)
        ac__sched_flush_remote(s);
    if (s->ndirty)
        return false; /* an inbox refused our completions: retry, don't strand them */
    ac_steal_group *g = s->group;
    if (!g || !s->stealing || s->nvictims == 0)
        return true;
    /* Release, paired with the waker's acquire exchange: whatever the
     * runtime did before calling us (its own "sleeping" flag, which its
     * wake primitive checks) is visible to a waker that sees this mark. */
    atomic_store_explicit(&g->sleeping[s->shard_id], true, memory_order_release);
    atomic_fetch_add_explicit(&g->nsleeping, 1, memory_order_relaxed);
    /* Pairs with the fence in ac__sched_notify (see the file comment). */
    atomic_thread_fence(memory_order_seq_cst);
    if (peers_have_work(s)) {
        unmark_sleeping(g, s->shard_id);
        return false;
    }
    return true;
}

void ac_sched_sleep_done(ac_sched *s)
{
    if (s->group && s->shard_id < s->group->nshards)
        unmark_sleeping(s->group, s->shard_id);
}

void ac__sched_notify(ac_sched *s)
{
    ac_steal_group *g = s->group;
    if (!g || !s->hooks.wake)
        return;
    /* Pairs with the fence in ac_sched_sleep_prepare: our push of the task
     * is ordered before this load of the sleeping count. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&g->nsleeping, memory_order_relaxed) == 0 ||
        atomic_load_explicit(&g->searching, memory_order_relaxed) != 0)
        return;
    for (unsigned i = 0; i < s->nvictims; i++) { /* nearest sleeper first */
        unsigned v = s->victims[i];
        if (atomic_exchange_explicit(&g->sleeping[v], false, memory_order_acquire)) {
            atomic_fetch_sub_explicit(&g->nsleeping, 1, memory_order_relaxed);
            s->hooks.wake(s->hooks.arg, v);
            return;
        }
    }
}

void ac__sched_finish_foreign(ac_sched *s, struct ac__task *t)
{
    unsigned o = t->origin->shard_id;
    struct ac__remote_done *r = &s->remote[o];
    ac__fifo_push(&r->q, t);
    if (!r->dirty) {
        r->dirty = true;
        s->dirty[s->ndirty++] = o;
    }
}

/* Runs on the origin shard (posted there): finishes a chain of its tasks. */
static void complete_chain(void *arg)
{
    struct ac__task *t = arg;
    while (t) {
        struct ac__task *next = STAILQ_NEXT(t, link);
        ac__sched_complete(t->origin, t);
        t = next;
    }
}

void ac__sched_flush_remote(ac_sched *s)
{
    unsigned keep = 0;
    for (unsigned i = 0; i < s->ndirty; i++) {
        unsigned o = s->dirty[i];
        struct ac__remote_done *r = &s->remote[o];
        if (s->hooks.post(s->hooks.arg, o, complete_chain, STAILQ_FIRST(&r->q.q)) == 0) {
            ac__fifo_init(&r->q);
            r->dirty = false;
        } else {
            s->dirty[keep++] = o; /* -EAGAIN: the inbox is full, retry later */
        }
    }
    s->ndirty = keep;
}

int ac_sched_stop(ac_sched *s)
{
    s->stealing = false;
    for (unsigned c = 0; c < AC_PRIO_COUNT; c++) {
        struct ac__task *t;
        while ((t = ac__deque_pop(&s->dq[c]))) {
            if (t->origin == s) {
                ac__fifo_push(&s->local[c], t);
            } else {
                t->res = -ECANCELED;
                ac__sched_finish_foreign(s, t);
            }
        }
        s->dq_used &= (uint8_t) ~(1u << c);
    }
    if (s->ndirty)
        ac__sched_flush_remote(s);
    return s->ndirty ? -EAGAIN : 0;
}
