/*
 * Page source: 2 MiB-aligned mappings placed on a NUMA node.
 *
 * Placement uses MPOL_PREFERRED rather than MPOL_BIND: a full node then
 * spills to another node instead of the OOM killer ending the process
 * (the budget, not the kernel, is what refuses memory on the request
 * path). Ordinary mappings ask for transparent huge pages with
 * MADV_HUGEPAGE (honoured when THP is "always" or "madvise"); MAP_HUGETLB
 * is tried first only when configured, since it needs reserved pages.
 * Pages are faulted in by the first touch, which is on the owning thread
 * (slabs are formatted by their owner), so first-touch placement agrees
 * with the policy.
 */
#include "internal.h"

#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <sched.h>
#include <sys/mman.h>

#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26) /* MAP_HUGE_SHIFT = 26 */
#endif

int ac__numa_node_resolve(int node)
{
    if (numa_available() < 0)
        return node <= 0 ? 0 : -EINVAL;
    if (node < 0) {
        /*
         * getcpu, not numa_node_of_cpu: libnuma fills its cpu->node cache
         * lazily without a lock, which races when shards start together.
         */
        unsigned cpu, n;
        return getcpu(&cpu, &n) == 0 ? (int)n : 0;
    }
    if (node > numa_max_node())
        return -EINVAL;
    return node;
}

static void place(void *p, size_t size, int node)
{
    if (node < 0 || numa_available() < 0)
        return;
    unsigned long mask[4] = {0};
    if ((unsigned)node >= sizeof mask * 8)
        return;
    mask[node / 64] = 1ul << (node % 64);
    /* A failed policy only loses placement, never memory: first touch still works. */
    (void)mbind(p, size, MPOL_PREFERRED, mask, sizeof mask * 8, 0);
}

void *ac__pages_map(size_t size, int node, bool *huge, bool *fell_back)
{
    size = (size + AC_CHUNK_SIZE - 1) & ~(AC_CHUNK_SIZE - 1);
    *fell_back = false;
    if (*huge) {
        /* Huge pages of 2 MiB come 2 MiB-aligned. */
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
        if (p != MAP_FAILED) {
            place(p, size, node);
            return p;
        }
        *huge = false;
        *fell_back = true;
    }
    /* Over-map by one chunk and trim to get the alignment. */
    size_t span = size + AC_CHUNK_SIZE;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *p = (char *)(((uintptr_t)raw + AC_CHUNK_SIZE - 1) & ~(AC_CHUNK_SIZE - 1));
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    if (p + size < raw + span)
        munmap(p + size, (size_t)(raw + span - (p + size)));
    (void)madvise(p, size, MADV_HUGEPAGE); /* advisory: EINVAL when THP is off */
    place(p, size, node);
    return p;
}

void ac__pages_unmap(void *p, size_t size)
{
    size = (size + AC_CHUNK_SIZE - 1) & ~(AC_CHUNK_SIZE - 1);
    /* ASan's shadow outlives the mapping: clear it, or the next mapping here starts poisoned. */
    ac__unpoison(p, size);
    if (munmap(p, size) != 0)
        AC_PANIC("munmap(%p, %zu) failed", p, size);
}

void ac__pages_discard(void *p, size_t size)
{
    /* The range keeps its NUMA policy; it refaults zeroed on the next touch. */
    (void)madvise(p, size, MADV_DONTNEED);
}
