/*
 * agentcore/mem.h — per-shard memory: a NUMA-local slab heap with remote
 * frees, fixed-size object pools, and I/O buffer groups with
 * reference-counted slices.
 *
 * Ownership model (read this first):
 *
 *  1. A heap (ac_heap) belongs to the thread that created it: only that
 *     thread may allocate from it, reclaim, maintain, read its stats or
 *     destroy it. Every shard has one; any other thread that calls
 *     ac_alloc gets one of its own, created on first use and destroyed when
 *     the thread exits.
 *  2. Memory from ac_alloc may be freed by any thread. A free on the owning
 *     thread is a plain list push; a free on another thread is batched on
 *     the freeing thread (an array of up to 64 pointers, itself allocated
 *     from the freeing thread's heap) and handed to the owner with one
 *     atomic operation per batch. The owner gets the memory back when it
 *     next calls ac_heap_reclaim (the shard loop does so every turn;
 *     ac_alloc also does when a size class runs dry), and then sends the
 *     batch back to the heap it came from.
 *  3. A heap may be destroyed while other threads still hold its memory.
 *     It is then *orphaned*: its memory stays mapped, frees from other
 *     threads only count down, and the thread whose free returns the last
 *     object unmaps everything. Nothing leaks and nothing is unmapped under
 *     a live object; the price is that an orphaned heap's memory returns to
 *     the OS only when its last object is freed.
 *  4. A thread's batched remote frees are handed over when it calls
 *     ac_heap_reclaim on its current heap, when a batch fills, and when its
 *     heap is destroyed.
 */
#ifndef AGENTCORE_MEM_H
#define AGENTCORE_MEM_H

#include "agentcore/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- heap -- */

/* Every pointer ac_alloc returns is aligned to this. */
#define AC_ALLOC_ALIGN 16
/* Largest request served from a slab; larger ones are mapped directly. */
#define AC_SLAB_MAX (256u * 1024u)
/* Number of slab size classes (16 B .. 256 KiB, four per doubling above 64). */
#define AC_HEAP_CLASSES 52

typedef struct ac_heap ac_heap;

struct ac_heap_config {
    int numa_node;            /* node the heap's pages live on; -1: the calling CPU's */
    size_t limit_bytes;       /* budget for bytes handed out (bytes_in_use); 0: none */
    uint64_t idle_release_ns; /* empty slabs older than this go back to the OS */
    bool hugetlb;             /* try MAP_HUGETLB chunks first (falls back, counted) */
};

/* Per size class; plain numbers the runtime's metrics read. */
struct ac_heap_class_stats {
    size_t size;           /* object size of the class */
    size_t slabs;          /* slabs currently formatted for this class */
    size_t bytes_in_use;   /* objects out × size */
    uint64_t allocs;       /* successful allocations */
    uint64_t frees;        /* frees, local and remote */
    uint64_t remote_frees; /* frees that came back through the remote list */
};

struct ac_heap_stats {
    int numa_node;
    size_t limit_bytes;         /* 0: none */
    size_t bytes_in_use;        /* live slab objects (class size) + large mappings: what the
                                 * budget limits */
    size_t bytes_held;          /* formatted slabs + large mappings (not budgeted: may pass
                                 * the budget by what half-empty slabs hold) */
    size_t bytes_mapped;        /* chunks and large mappings held from the OS */
    size_t large_in_use;        /* bytes of live direct mappings */
    uint64_t large_allocs;      /* direct mappings made */
    uint64_t budget_failures;   /* allocations refused by the budget */
    uint64_t oom_failures;      /* allocations the OS refused */
    uint64_t remote_frees;      /* objects reclaimed from the remote list */
    uint64_t remote_batches;    /* batches reclaimed (atomic exchanges that found work) */
    uint64_t chunks;            /* 2 MiB chunks held now */
    uint64_t hugetlb_chunks;    /* of those, backed by MAP_HUGETLB */
    uint64_t hugetlb_fallbacks; /* MAP_HUGETLB attempts that failed */
    uint64_t slabs_released;    /* idle empty slabs given back to the OS */
    struct ac_heap_class_stats cls[AC_HEAP_CLASSES];
};

/*
 * Creates a heap owned by the calling thread (it does not become current;
 * see ac_heap_set_current). No memory is mapped until the first
 * allocation. Returns 0, -EINVAL (bad config or NUMA node) or -ENOMEM.
 */
AC_MUST_USE int ac_heap_create(const struct ac_heap_config *cfg, ac_heap **out);

/*
 * Destroys a heap: reclaims its remote list, unmaps what is free and, when
 * other threads still hold objects, orphans the rest (rule 3 above). If
 * it is the calling thread's current heap, the thread has none afterwards.
 * Owning thread only.
 */
void ac_heap_destroy(ac_heap *h);

/*
 * Makes h the heap ac_alloc uses on the calling thread (NULL: none; the
 * next ac_alloc then creates an implicit heap). h must be owned by the
 * calling thread. Flushes the thread's pending remote frees.
 */
void ac_heap_set_current(ac_heap *h);

/* The calling thread's current heap, or NULL. */
ac_heap *ac_heap_current(void);

/*
 * Owner: takes back the objects other threads freed (one atomic exchange
 * for the whole list) and hands over this thread's own batched remote
 * frees to their owners. Returns the number of objects reclaimed. When
 * there is nothing to do it costs one relaxed atomic load and one plain
 * load: call it every loop turn.
 */
unsigned ac_heap_reclaim(ac_heap *h);

/*
 * Owner, periodic (~every 100 ms): gives empty slabs idle for longer than
 * idle_release_ns back to the OS, and whole chunks once all their slabs
 * are gone. `now_ns` is ac_now_ns().
 */
void ac_heap_maintain(ac_heap *h, uint64_t now_ns);

/* Owner: copies the heap's counters into *out. */
void ac_heap_stats(const ac_heap *h, struct ac_heap_stats *out);

/* The object size of slab class `cls` (< AC_HEAP_CLASSES). */
size_t ac_heap_class_size(unsigned cls);

/*
 * Allocates `size` bytes from the calling thread's current heap (creating
 * an implicit one if it has none), aligned to AC_ALLOC_ALIGN. Returns NULL
 * when the heap's budget would be exceeded or the OS refuses memory (both
 * counted); never aborts. size 0 gives a unique minimum-size object.
 *
 * The budget (limit_bytes) bounds the bytes handed out: every live object
 * counted at its size class, plus large mappings (bytes_in_use). The
 * memory the heap holds (bytes_held) can pass it by what half-empty slabs
 * keep; idle empty slabs go back to the OS. The fast path pays one add
 * and one compare for it. Before refusing, the heap reclaims remote
 * frees, so memory freed by other threads is usable again at once.
 */
void *ac_alloc(size_t size);

/* Like ac_alloc for n × size zeroed bytes; NULL on overflow too. */
void *ac_calloc(size_t n, size_t size);

/*
 * Resizes p (from ac_alloc; NULL acts as ac_alloc), keeping the first
 * min(old, new) bytes. Returns the new pointer, or NULL with p untouched
 * and still owned by the caller. Stays in place when the usable size
 * already fits and is not more than twice what is asked for.
 */
void *ac_realloc(void *p, size_t size);

/* Frees p (from ac_alloc; NULL is ignored). Any thread (rule 2). */
void ac_free(void *p);

/* Bytes usable at p (≥ what was asked for). Any thread that holds p. */
size_t ac_alloc_usable_size(const void *p);

/* ---------------------------------------------------------------- pool -- */

/*
 * A per-shard pool of fixed-size objects (the sync.Pool analogue). Objects
 * come from the owner's heap; a released object is reset and kept (up to
 * max_cached) for the next get. Owner thread only, objects included: an
 * object that must cross shards is freed with ac_free instead.
 */
typedef struct ac_pool ac_pool;
typedef void (*ac_pool_cb)(void *arg, void *obj);

struct ac_pool_config {
    size_t obj_size;     /* > 0 */
    unsigned max_cached; /* released objects kept; 0: 1024 */
    ac_pool_cb init;     /* once, when an object is created (may be NULL) */
    ac_pool_cb reset;    /* on every put, before it can be handed out again (may be NULL) */
    void *arg;           /* passed to the callbacks */
};

struct ac_pool_stats {
    uint64_t created;  /* objects allocated from the heap */
    uint64_t acquired; /* successful gets */
    uint64_t released; /* puts */
    uint64_t dropped;  /* puts freed because the cache was full */
    uint64_t failures; /* gets that found neither a cached object nor memory */
    size_t cached;     /* objects in the cache now */
    double reuse_rate; /* (acquired - created) / acquired; 0 when nothing acquired */
};

/* Creates a pool on the calling thread. Returns 0, -EINVAL or -ENOMEM. */
AC_MUST_USE int ac_pool_create(const struct ac_pool_config *cfg, ac_pool **out);

/*
 * Frees the cached objects and the pool. Objects still out become plain
 * ac_alloc memory: the caller frees them with ac_free.
 */
void ac_pool_destroy(ac_pool *p);

/* An object (reused or newly created and init'ed), or NULL when out of memory. */
void *ac_pool_get(ac_pool *p);

/* Gives obj back: reset is called, then it is cached or freed. */
void ac_pool_put(ac_pool *p, void *obj);

void ac_pool_stats(const ac_pool *p, struct ac_pool_stats *out);

/* ---------------------------------------------------------- I/O buffers -- */

/*
 * A buffer group: `count` buffers of one size in one NUMA-local,
 * page-aligned region, identified by buffer id (0..count-1). net/ registers
 * the region with io_uring (provided-buffer ring or registered buffers)
 * using ac_bufgroup_base/size and the ids. Each buffer carries a reference
 * count; slices share it, and when the last reference goes the buffer is
 * recycled: through the group's recycle callback if one is set (net gives
 * it back to the kernel's ring) or onto the group's free list.
 * Owner thread only (counts are plain integers).
 */
typedef struct ac_bufgroup ac_bufgroup;
typedef void (*ac_bufgroup_recycle_cb)(void *arg, ac_bufgroup *g, uint16_t bid);

/* The buffer sizes the groups come in. */
enum { AC_IOBUF_1K = 1024, AC_IOBUF_4K = 4096, AC_IOBUF_16K = 16384, AC_IOBUF_64K = 65536 };

struct ac_bufgroup_config {
    uint32_t buf_size; /* one of AC_IOBUF_* */
    uint32_t count;    /* 1..32768 */
    int numa_node;     /* -1: the calling CPU's */
    bool hugetlb;      /* try MAP_HUGETLB (falls back) */
};

struct ac_bufgroup_stats {
    uint32_t buf_size, count;
    uint32_t free;      /* on the group's free list */
    uint32_t held;      /* with at least one reference */
    uint64_t allocs;    /* buffers handed out (alloc or adopt) */
    uint64_t recycled;  /* last references dropped */
    uint64_t exhausted; /* allocs that found the free list empty */
};

/* A view of part of a buffer; holds one reference on it. Plain value. */
struct ac_ioslice {
    ac_bufgroup *group;
    uint16_t bid;
    uint32_t off, len;
};

/* Creates a group, maps its region on the node. Returns 0, -EINVAL or -ENOMEM. */
AC_MUST_USE int ac_bufgroup_create(const struct ac_bufgroup_config *cfg, ac_bufgroup **out);

/* Unmaps the region. No buffer may be held or lent to the kernel any more. */
void ac_bufgroup_destroy(ac_bufgroup *g);

void *ac_bufgroup_base(const ac_bufgroup *g);  /* first buffer (id 0) */
size_t ac_bufgroup_size(const ac_bufgroup *g); /* bytes of the region */
uint32_t ac_bufgroup_buf_size(const ac_bufgroup *g);
uint32_t ac_bufgroup_count(const ac_bufgroup *g);
void *ac_bufgroup_addr(const ac_bufgroup *g, uint16_t bid);

/*
 * Sets where released buffers go (NULL: back to the free list). net sets
 * it to re-provide the buffer to its ring. The callback owns `bid` from
 * then on: it may adopt it again at once (net adopts every buffer it lends
 * the kernel, as the kernel's reference).
 */
void ac_bufgroup_set_recycle(ac_bufgroup *g, ac_bufgroup_recycle_cb cb, void *arg);

/*
 * Takes a free buffer id without a reference (net hands it to the kernel).
 * Returns 0 or -ENOBUFS.
 */
AC_MUST_USE int ac_bufgroup_take(ac_bufgroup *g, uint16_t *bid);

/*
 * Starts holding buffer `bid` (filled by the kernel or taken with
 * ac_bufgroup_take) as one reference over its first `len` bytes.
 */
void ac_bufgroup_adopt(ac_bufgroup *g, uint16_t bid, uint32_t len, struct ac_ioslice *out);

/* Takes a free buffer as a slice over all of it. Returns 0 or -ENOBUFS. */
AC_MUST_USE int ac_bufgroup_alloc(ac_bufgroup *g, struct ac_ioslice *out);

void ac_bufgroup_stats(const ac_bufgroup *g, struct ac_bufgroup_stats *out);

/* Pointer to the slice's first byte. */
void *ac_ioslice_data(const struct ac_ioslice *s);

/*
 * A new reference to bytes [off, off+len) of s (which must lie within s).
 * Returns 0 or -EINVAL.
 */
AC_MUST_USE int ac_ioslice_sub(const struct ac_ioslice *s, uint32_t off, uint32_t len,
                               struct ac_ioslice *out);

/* Drops the slice's reference; the last one recycles the buffer. */
void ac_ioslice_release(struct ac_ioslice *s);

/* A shard's set of groups, one per size class (1, 4, 16, 64 KiB). */
typedef struct ac_iobufs ac_iobufs;

struct ac_iobufs_config {
    uint32_t count[4]; /* buffers per class, in the order 1, 4, 16, 64 KiB; 0: no group */
    int numa_node;
    bool hugetlb;
};

AC_MUST_USE int ac_iobufs_create(const struct ac_iobufs_config *cfg, ac_iobufs **out);
void ac_iobufs_destroy(ac_iobufs *b);

/* The group of class i (0..3: 1, 4, 16, 64 KiB), or NULL if it has no buffers. */
ac_bufgroup *ac_iobufs_group(const ac_iobufs *b, unsigned i);

/*
 * A slice of at least `size` bytes from the smallest class that fits and
 * has a free buffer. Returns 0, -EINVAL (size > 64 KiB) or -ENOBUFS.
 */
AC_MUST_USE int ac_iobufs_alloc(ac_iobufs *b, size_t size, struct ac_ioslice *out);

#ifdef __cplusplus
}
#endif
#endif
