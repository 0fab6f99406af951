/*
 * The per-scheduler pool of task structs. Until mem/ lands (its slab would
 * replace the chunk malloc), tasks come from chunks of AC__TASK_CHUNK
 * structs allocated on demand and kept until the scheduler is destroyed; a
 * LIFO free list hands out the most recently used (cache-warm) struct, so
 * the spawn path never calls malloc once the pool has grown to the peak
 * number of live tasks.
 *
 * Ids: (gen << 32) | (index + 1). The generation is bumped on every free,
 * so an id kept after its task ended resolves to nothing.
 */
#include "internal.h"

#include <stdlib.h>

void ac__task_pool_init(struct ac__task_pool *p)
{
    STAILQ_INIT(&p->free);
    p->chunks = NULL;
    p->nchunks = p->cap_chunks = 0;
    p->live = 0;
}

void ac__task_pool_close(struct ac__task_pool *p)
{
    for (uint32_t i = 0; i < p->nchunks; i++)
        free(p->chunks[i]);
    free(p->chunks);
    ac__task_pool_init(p);
}

bool ac__task_pool_grow(struct ac__task_pool *p)
{
    if (p->nchunks == p->cap_chunks) {
        uint32_t cap = p->cap_chunks ? 2 * p->cap_chunks : 8;
        struct ac__task **c = realloc(p->chunks, cap * sizeof *c);
        if (!c)
            return false;
        p->chunks = c;
        p->cap_chunks = cap;
    }
    struct ac__task *chunk = calloc(AC__TASK_CHUNK, sizeof *chunk);
    if (!chunk)
        return false;
    uint32_t base = p->nchunks << AC__TASK_CHUNK_SHIFT;
    /* Link in reverse so the first allocations walk the chunk forwards. */
    for (uint32_t i = AC__TASK_CHUNK; i-- > 0;) {
        chunk[i].index = base + i;
        STAILQ_INSERT_HEAD(&p->free, &chunk[i], link);
    }
    p->chunks[p->nchunks++] = chunk;
    return true;
}

ac_task_id ac__task_id(const struct ac__task *t)
{
    return ((uint64_t)t->gen << 32) | ((uint64_t)t->index + 1);
}

struct ac__task *ac__task_lookup(struct ac__task_pool *p, ac_task_id id)
{
    uint32_t low = (uint32_t)id;
    if (low == 0)
        return NULL;
    uint32_t index = low - 1;
    uint32_t chunk = index >> AC__TASK_CHUNK_SHIFT;
    if (chunk >= p->nchunks)
        return NULL;
    struct ac__task *t = &p->chunks[chunk][index & (AC__TASK_CHUNK - 1)];
    return t->gen == (uint32_t)(id >> 32) ? t : NULL;
}
