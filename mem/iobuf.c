/*
 * I/O buffer groups: `count` equal buffers in one NUMA-local region, a
 * stack of free buffer ids, and one reference count per buffer. Slices
 * are plain values holding one reference each. The region is what net/
 * registers with io_uring; ids are the buffer ids of a provided-buffer
 * ring. Everything here is owner-thread only, so counts are plain.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

struct ac_bufgroup {
    char *base;
    size_t map_size;
    uint32_t buf_size, count;
    uint32_t nfree;
    ac_bufgroup_recycle_cb recycle;
    void *recycle_arg;
    struct ac_bufgroup_stats st;
    uint16_t *free_ids; /* stack, nfree entries */
    uint32_t *refs;     /* per buffer id */
};

static bool valid_size(uint32_t s)
{
    return s == AC_IOBUF_1K || s == AC_IOBUF_4K || s == AC_IOBUF_16K || s == AC_IOBUF_64K;
}

int ac_bufgroup_create(const struct ac_bufgroup_config *cfg, ac_bufgroup **out)
{
    if (!cfg || !valid_size(cfg->buf_size) || cfg->count == 0 || cfg->count > 32768)
        return -EINVAL;
    int node = ac__numa_node_resolve(cfg->numa_node);
    if (node < 0)
        return node;
    ac_bufgroup *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->free_ids = malloc(cfg->count * sizeof *g->free_ids);
    g->refs = calloc(cfg->count, sizeof *g->refs);
    g->map_size = (size_t)cfg->buf_size * cfg->count;
    bool huge = cfg->hugetlb, fell_back;
    if (g->free_ids && g->refs)
        g->base = ac__pages_map(g->map_size, node, &huge, &fell_back);
    if (!g->base) {
        free(g->free_ids);
        free(g->refs);
        free(g);
        return -ENOMEM;
    }
    g->buf_size = cfg->buf_size;
    g->count = cfg->count;
    /* Lowest ids on top of the stack: the first buffers used are adjacent. */
    for (uint32_t i = 0; i < g->count; i++)
        g->free_ids[i] = (uint16_t)(g->count - 1 - i);
    g->nfree = g->count;
    g->st.buf_size = g->buf_size;
    g->st.count = g->count;
    *out = g;
    return 0;
}

void ac_bufgroup_destroy(ac_bufgroup *g)
{
    if (!g)
        return;
    ac__pages_unmap(g->base, g->map_size);
    free(g->free_ids);
    free(g->refs);
    free(g);
}

void *ac_bufgroup_base(const ac_bufgroup *g)
{
    return g->base;
}

size_t ac_bufgroup_size(const ac_bufgroup *g)
{
    return g->map_size;
}

uint32_t ac_bufgroup_buf_size(const ac_bufgroup *g)
{
    return g->buf_size;
}

uint32_t ac_bufgroup_count(const ac_bufgroup *g)
{
    return g->count;
}

void *ac_bufgroup_addr(const ac_bufgroup *g, uint16_t bid)
{
    AC_ASSERT(bid < g->count);
    return g->base + (size_t)bid * g->buf_size;
}

void ac_bufgroup_set_recycle(ac_bufgroup *g, ac_bufgroup_recycle_cb cb, void *arg)
{
    g->recycle = cb;
    g->recycle_arg = arg;
}

int ac_bufgroup_take(ac_bufgroup *g, uint16_t *bid)
{
    if (!g->nfree) {
        g->st.exhausted++;
        return -ENOBUFS;
    }
    *bid = g->free_ids[--g->nfree];
    return 0;
}

void ac_bufgroup_adopt(ac_bufgroup *g, uint16_t bid, uint32_t len, struct ac_ioslice *out)
{
    AC_ASSERT(bid < g->count && g->refs[bid] == 0 && len <= g->buf_size);
    g->refs[bid] = 1;
    g->st.allocs++;
    *out = (struct ac_ioslice){.group = g, .bid = bid, .off = 0, .len = len};
}

int ac_bufgroup_alloc(ac_bufgroup *g, struct ac_ioslice *out)
{
    uint16_t bid;
    int err = ac_bufgroup_take(g, &bid);
    if (err < 0)
        return err;
    ac_bufgroup_adopt(g, bid, g->buf_size, out);
    return 0;
}

void ac_bufgroup_stats(const ac_bufgroup *g, struct ac_bufgroup_stats *out)
{
    *out = g->st;
    out->free = g->nfree;
    uint32_t held = 0;
    for (uint32_t i = 0; i < g->count; i++)
        held += g->refs[i] != 0;
    out->held = held;
}

void *ac_ioslice_data(const struct ac_ioslice *s)
{
    return (char *)ac_bufgroup_addr(s->group, s->bid) + s->off;
}

int ac_ioslice_sub(const struct ac_ioslice *s, uint32_t off, uint32_t len, struct ac_ioslice *out)
{
    if (off > s->len || len > s->len - off)
        return -EINVAL;
    ac_bufgroup *g = s->group;
    AC_ASSERT(g->refs[s->bid] > 0);
    g->refs[s->bid]++;
    *out = (struct ac_ioslice){.group = g, .bid = s->bid, .off = s->off + off, .len = len};
    return 0;
}

void ac_ioslice_release(struct ac_ioslice *s)
{
    ac_bufgroup *g = s->group;
    if (!g)
        return;
    AC_ASSERT(g->refs[s->bid] > 0);
    s->group = NULL; /* a second release of the same value is a no-op */
    if (--g->refs[s->bid])
        return;
    g->st.recycled++;
    if (g->recycle) {
        g->recycle(g->recycle_arg, g, s->bid);
        return;
    }
    g->free_ids[g->nfree++] = s->bid;
}

/* ---- a shard's set of groups ---- */

static const uint32_t iobuf_sizes[4] = {AC_IOBUF_1K, AC_IOBUF_4K, AC_IOBUF_16K, AC_IOBUF_64K};

struct ac_iobufs {
    ac_bufgroup *g[4];
};

int ac_iobufs_create(const struct ac_iobufs_config *cfg, ac_iobufs **out)
{
    if (!cfg)
        return -EINVAL;
    ac_iobufs *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    for (unsigned i = 0; i < 4; i++) {
        if (!cfg->count[i])
            continue;
        struct ac_bufgroup_config gc = {.buf_size = iobuf_sizes[i],
                                        .count = cfg->count[i],
                                        .numa_node = cfg->numa_node,
                                        .hugetlb = cfg->hugetlb};
        int err = ac_bufgroup_create(&gc, &b->g[i]);
        if (err < 0) {
            ac_iobufs_destroy(b);
            return err;
        }
    }
    *out = b;
    return 0;
}

void ac_iobufs_destroy(ac_iobufs *b)
{
    if (!b)
        return;
    for (unsigned i = 0; i < 4; i++)
        ac_bufgroup_destroy(b->g[i]);
    free(b);
}

ac_bufgroup *ac_iobufs_group(const ac_iobufs *b, unsigned i)
{
    return i < 4 ? b->g[i] : NULL;
}

int ac_iobufs_alloc(ac_iobufs *b, size_t size, struct ac_ioslice *out)
{
    if (size > AC_IOBUF_64K)
        return -EINVAL;
    for (unsigned i = 0; i < 4; i++) {
        if (size > iobuf_sizes[i] || !b->g[i])
            continue;
        if (ac_bufgroup_alloc(b->g[i], out) == 0) {
            out->len = (uint32_t)size;
            return 0;
        }
    }
    return -ENOBUFS;
}
