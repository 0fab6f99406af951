/*
 * mem/internal.h — the heap's data layout, shared by the mem/ files.
 *
 * Memory comes in 2 MiB chunks aligned to 2 MiB, so the chunk of any
 * pointer is `p & ~(2 MiB - 1)`. A chunk is 32 pages of 64 KiB; a slab is
 * a run of 1..16 pages formatted for one size class. The chunk header (in
 * page 0, which a slab shares) maps every page to its slab descriptor, so
 * ac_free finds the slab with one mask and one load. Allocations above
 * AC_SLAB_MAX get a mapping of their own that starts with the same header
 * (kind CHUNK_LARGE), user data one 4 KiB page in.
 *
 * Each slab keeps an intrusive free list touched only by the owner: no
 * atomic operation on a same-thread alloc or free. Frees from other
 * threads are collected per owner in the freeing heap's outbox, as arrays
 * of pointers, and pushed onto the owner's `remote` list with one CAS per
 * batch; the owner takes the whole list with one exchange (remote.c).
 */
#ifndef AC_MEM_INTERNAL_H
#define AC_MEM_INTERNAL_H

#include <sys/queue.h> /* the one list facility (docs/ARCHITECTURE.md, "Lists") */
#include "agentcore/mem.h"

#include <assert.h>
#include <stdatomic.h>

#ifdef AC_ASAN
#include <sanitizer/asan_interface.h>
#define ac__poison(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define ac__unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ac__poison(p, n)   ((void)(p), (void)(n))
#define ac__unpoison(p, n) ((void)(p), (void)(n))
#endif

#define AC_CHUNK_SHIFT 21
#define AC_CHUNK_SIZE  ((size_t)1 << AC_CHUNK_SHIFT)
#define AC_PAGE_SHIFT  16
#define AC_PAGE_SIZE   ((size_t)1 << AC_PAGE_SHIFT)
#define AC_CHUNK_PAGES (AC_CHUNK_SIZE / AC_PAGE_SIZE)
#define AC_OS_PAGE     4096u
#define AC_LARGE_CLASS 0xffu
/* Remote frees are handed over when a batch for one owner reaches this. */
#define AC_REMOTE_BATCH 64u
#define AC_OUTBOX_SLOTS 8u
/*
 * The remote list head of a destroyed heap: frees after it only count
 * down. Never a node: nodes are 16-byte aligned, tagged in bits 0-1 at most.
 */
#define AC_REMOTE_ORPHANED ((void *)8)

enum ac__chunk_kind { AC_CHUNK_SLAB = 1, AC_CHUNK_LARGE = 2 };

struct ac__chunk;

/*
 * One cache line, written by the owner only: the fast paths touch free,
 * used and allocs. Other threads never read it — a free from another
 * thread learns everything it needs from the chunk header — so the line
 * does not bounce between CPUs under remote frees. The chunk is found
 * from the descriptor's own address (ac__chunk_of).
 */
struct ac__slab {
    void *free;                   /* owner-only intrusive free list */
    uint32_t used;                /* objects out (including those in remote lists) */
    uint32_t capacity;            /* objects the slab holds; 0 for the dummy */
    uint32_t size;                /* object size */
    uint8_t cls;                  /* size class, AC_LARGE_CLASS for a large mapping */
    uint8_t first_page;           /* index in the chunk */
    uint8_t pages;                /* run length */
    bool listed;                  /* on its class's partial list */
    uint64_t allocs;              /* allocations served (stats) */
    TAILQ_ENTRY(ac__slab) link;   /* class partial list */
    uint64_t empty_since;         /* heap clock when `used` last dropped to 0 */
} AC_CACHE_ALIGNED;
static_assert(sizeof(struct ac__slab) == AC_CACHELINE, "a slab descriptor is one cache line");

/* Read by every thread that frees into the chunk; written only when slabs come and go. */
struct ac__chunk {
    ac_heap *heap;       /* owner */
    ac_heap *slab_owner; /* == heap for slab chunks, ac__large_owner for large ones */
    uint32_t kind;
    uint32_t page_map;             /* bit i: page i is part of a slab */
    size_t map_size;               /* bytes mapped */
    size_t large_size;             /* usable bytes of a large mapping */
    bool hugetlb;                  /* backed by MAP_HUGETLB */
    LIST_ENTRY(ac__chunk) link;    /* heap's chunk list or large list */
    struct ac__slab *page_slab[AC_CHUNK_PAGES];
    struct ac__slab slabs[AC_CHUNK_PAGES];
} AC_CACHE_ALIGNED;
static_assert(sizeof(struct ac__chunk) <= AC_OS_PAGE, "chunk header fits in one OS page");
static_assert(AC_CHUNK_PAGES == 32, "page_map is 32 bits");

/* Marks large mappings (slab_owner) so that ac_free's fast path never matches them. */
extern const char ac__large_owner_tag;
#define ac__large_owner ((ac_heap *)(uintptr_t)&ac__large_owner_tag)

struct ac__class {
    struct ac__slab *cur;            /* head of `partial`, or the heap's dummy */
    TAILQ_HEAD(, ac__slab) partial; /* slabs with a free object */
    uint32_t size;
    size_t slabs;
    uint64_t released_allocs; /* allocs of slabs already released (stats) */
    uint64_t remote_frees;
};

/* Requests up to this size find their slab in ac_heap.direct[]. */
#define AC_DIRECT_MAX 1024u
#define AC_DIRECT_N   (AC_DIRECT_MAX / 16 + 1)

/*
 * A batch of remote frees for one owner: an ordinary object of the
 * freeing heap, sent to the owner as a node of its remote list and sent
 * back (as a plain object) once the owner has put the objects away. An
 * array rather than a chain through the objects, so the owner reads
 * pointers sequentially instead of chasing one cache miss per object, and
 * the freeing thread never writes into the objects it frees.
 */
struct ac__rbatch {
    void *next; /* remote list link (tagged, see remote.c) */
    uint32_t n;
    void *obj[AC_REMOTE_BATCH];
};

/* Remote frees this thread made, waiting to go back to their owner. */
struct ac__outbox {
    ac_heap *to;
    struct ac__rbatch *b; /* NULL until the first free for `to` */
};

struct ac_heap {
    /*
     * The budget counts what is handed out: live objects at their class
     * size plus large mappings (= ac_heap_stats' bytes_in_use). Both
     * words sit first, beside direct[], because every allocation and
     * free updates `given` and the fast path compares it with `limit`.
     */
    size_t given;
    size_t limit; /* SIZE_MAX when there is no budget */
    /*
     * Owner-only, hot. direct[(size + 15) / 16] is the `cur` slab of the
     * class serving `size` (for size ≤ AC_DIRECT_MAX): the fast path skips
     * the class computation and the class struct (mimalloc's trick).
     */
    struct ac__slab *direct[AC_DIRECT_N];
    struct ac__class cls[AC_HEAP_CLASSES];
    size_t held;          /* formatted slabs + large mappings (memory taken from the OS) */
    uint32_t out_pending; /* objects waiting in out[] */
    struct ac__outbox out[AC_OUTBOX_SLOTS];
    struct ac__slab dummy; /* empty slab every class starts with: its free is NULL */
    LIST_HEAD(, ac__chunk) chunks, large;
    struct ac_heap_config cfg;
    uint64_t clock;          /* last ac_heap_maintain time: stamps slabs going empty */
    struct ac_heap_stats st; /* counters not kept per class above */

    /*
     * Written by other threads: on its own cache line so that remote frees
     * do not invalidate the owner's hot fields.
     */
    _Atomic(void *) remote AC_CACHE_ALIGNED;
    _Atomic int64_t orphans; /* objects out when the heap was destroyed */
    char pad_[AC_CACHELINE - sizeof(void *) - sizeof(int64_t)];
};

/* The calling thread's current heap (initial-exec: one load from %fs). */
extern _Thread_local ac_heap *ac__tls_heap __attribute__((tls_model("initial-exec")));

/* ---- size classes (sizeclass.c) ---- */
extern const uint32_t ac__class_sizes[AC_HEAP_CLASSES];

static inline unsigned ac__size_class(size_t size)
{
    if (size <= 64)
        return size ? (unsigned)((size - 1) >> 4) : 0;
    size_t s = size - 1;
    unsigned b = 63u - (unsigned)__builtin_clzl(s); /* 6.. for s ≥ 64 */
    return 4u + (b - 6u) * 4u + (unsigned)((s >> (b - 2u)) & 3u);
}

/* Pages (64 KiB) per slab of class `cls`: at least 8 objects, at most 16 pages. */
unsigned ac__class_pages(unsigned cls);

/* ---- page source (page.c) ---- */

/*
 * Maps `size` bytes aligned to AC_CHUNK_SIZE, preferring NUMA node `node`
 * (-1: no policy), with MAP_HUGETLB first when *huge is true; *huge says
 * what was obtained, *fell_back whether MAP_HUGETLB was tried and failed.
 * Returns NULL when the OS refuses.
 */
void *ac__pages_map(size_t size, int node, bool *huge, bool *fell_back);
void ac__pages_unmap(void *p, size_t size);
/* Gives the physical pages of [p, p+size) back; the range stays mapped. */
void ac__pages_discard(void *p, size_t size);
/* Resolves -1 to the calling CPU's node; -EINVAL for a node that does not exist. */
int ac__numa_node_resolve(int node);

static inline struct ac__chunk *ac__chunk_of(const void *p)
{
    return (struct ac__chunk *)((uintptr_t)p & ~(AC_CHUNK_SIZE - 1));
}

static inline struct ac__slab *ac__slab_of(const void *p)
{
    struct ac__chunk *c = ac__chunk_of(p);
    return c->page_slab[((uintptr_t)p >> AC_PAGE_SHIFT) & (AC_CHUNK_PAGES - 1)];
}

/* ---- free-list links, which live inside poisoned memory under ASan ---- */

static inline void *ac__link_get(void *p)
{
    ac__unpoison(p, sizeof(void *));
    void *v = *(void **)p;
    ac__poison(p, sizeof(void *));
    return v;
}

static inline void ac__link_set(void *p, void *v)
{
    ac__unpoison(p, sizeof(void *));
    *(void **)p = v;
    ac__poison(p, sizeof(void *));
}

/* ---- slabs (slab.c) ---- */

/* Sets class cls's head slab and the direct[] entries that point to it. */
void ac__class_set_cur(ac_heap *h, unsigned cls, struct ac__slab *s);

/* Class list upkeep when a free moves slab s out of "full" or into "empty". */
void ac__slab_transition(ac_heap *h, struct ac__slab *s);
/* Makes h->cls[cls].cur a slab with a free object; false when out of memory. */
bool ac__slab_refill(ac_heap *h, unsigned cls);
/* Releases empty slabs idle since before `cutoff` (heap clock); UINT64_MAX: all. */
void ac__slab_release_idle(ac_heap *h, uint64_t cutoff);
/*
 * Objects out in h's slabs; per class into live[] and the slabs' alloc
 * counts into allocs[] when those are not NULL. Returns the total out.
 */
uint64_t ac__slab_live_objects(const ac_heap *h, uint64_t *live, uint64_t *allocs);
/*
 * Whether the heap may hand out `bytes` more: reclaims remote frees (and
 * releases empty slabs, which gives memory back though not budget) before
 * saying no, and counts the refusal.
 */
bool ac__budget_allows(ac_heap *h, size_t bytes);
void ac__chunk_free(ac_heap *h, struct ac__chunk *c);

/* Returns object p to its slab s on the owning heap h. */
static inline void ac__slab_put(ac_heap *h, struct ac__slab *s, void *p)
{
    ac__link_set(p, s->free);
    ac__poison(p, s->size);
    s->free = p;
    h->given -= s->size;
    uint32_t u = --s->used;
    /* One compare for "now empty" (u == 0) or "was full" (u == capacity - 1). */
    if (AC_UNLIKELY(u - 1u >= s->capacity - 2u))
        ac__slab_transition(h, s);
}

/* ---- large mappings (large.c) ---- */
void *ac__large_alloc(ac_heap *h, size_t size);
void ac__large_free(ac_heap *h, struct ac__chunk *c);

/* ---- remote frees and heap lifetime (remote.c, heap.c) ---- */

/* Allocates from heap h (which must be the caller's): ac_alloc's slow path. */
void *ac__alloc_on(ac_heap *h, size_t size);

/* Frees p owned by another heap (or a large mapping) from the calling thread. */
void ac__free_remote(struct ac__chunk *c, void *p);
/* Takes the remote list for the last time and closes it (AC_REMOTE_ORPHANED). */
unsigned ac__heap_reclaim_final(ac_heap *h);
/* Hands every batch in h's outbox to its owner. */
void ac__outbox_flush_all(ac_heap *h);
/* Unmaps everything h holds and frees h (no object of h is live any more). */
void ac__heap_free_all(ac_heap *h);
/* The calling thread's heap, creating the implicit one if it has none. */
ac_heap *ac__heap_implicit(void);

#endif
