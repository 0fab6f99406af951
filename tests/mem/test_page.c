/* Page source: every heap's pages are on its NUMA node; MAP_HUGETLB falls back. */
#include <criterion/criterion.h>
#include <numa.h>
#include <numaif.h>
#include <stdlib.h>
#include <string.h>

#include "agentcore/mem.h"

/* Node that holds the page at p (move_pages with no target only queries). */
static int node_of_page(void *p)
{
    void *pages[1] = {(void *)((uintptr_t)p & ~(uintptr_t)4095)};
    int status[1] = {-1};
    cr_assert_eq(move_pages(0, 1, pages, NULL, status, 0), 0);
    return status[0];
}

static void assert_policy(void *p, int node)
{
    int mode = -1;
    unsigned long mask[16] = {0};
    cr_assert_eq(get_mempolicy(&mode, mask, sizeof mask * 8, p, MPOL_F_ADDR), 0);
    cr_assert_eq(mode, MPOL_PREFERRED, "mode %d at %p", mode, p);
    cr_assert(mask[node / 64] & (1ul << (node % 64)), "policy names node %d", node);
}

Test(mem_page, heap_pages_are_on_the_heaps_node)
{
    if (numa_available() < 0)
        cr_skip_test("no NUMA support in this kernel");
    int nodes = numa_max_node() + 1;
    for (int node = 0; node < nodes; node++) {
        if (!numa_bitmask_isbitset(numa_all_nodes_ptr, node) || numa_node_size64(node, NULL) <= 0)
            continue;
        ac_heap *h;
        struct ac_heap_config cfg = {.numa_node = node};
        cr_assert_eq(ac_heap_create(&cfg, &h), 0);
        ac_heap_set_current(h);
        static const size_t sizes[] = {16, 1000, 70000, 256 * 1024, 3u << 20};
        void *p[AC_ARRAY_LEN(sizes)];
        for (unsigned i = 0; i < AC_ARRAY_LEN(sizes); i++) {
            p[i] = ac_alloc(sizes[i]);
            cr_assert_not_null(p[i]);
            memset(p[i], 1, sizes[i]);
            assert_policy(p[i], node);
            cr_assert_eq(node_of_page(p[i]), node, "%zu-byte object off its node", sizes[i]);
            cr_assert_eq(node_of_page((char *)p[i] + sizes[i] - 1), node);
        }
        struct ac_heap_stats st;
        ac_heap_stats(h, &st);
        cr_assert_eq(st.numa_node, node);
        for (unsigned i = 0; i < AC_ARRAY_LEN(sizes); i++)
            ac_free(p[i]);
        ac_heap_destroy(h);
    }
}

Test(mem_page, io_buffers_are_on_the_groups_node)
{
    if (numa_available() < 0)
        cr_skip_test("no NUMA support in this kernel");
    ac_bufgroup *g;
    struct ac_bufgroup_config cfg = {.buf_size = AC_IOBUF_4K, .count = 64, .numa_node = 0};
    cr_assert_eq(ac_bufgroup_create(&cfg, &g), 0);
    memset(ac_bufgroup_base(g), 0, ac_bufgroup_size(g));
    assert_policy(ac_bufgroup_base(g), 0);
    cr_assert_eq(node_of_page(ac_bufgroup_addr(g, 63)), 0);
    ac_bufgroup_destroy(g);
}

Test(mem_page, hugetlb_is_used_or_falls_back_counted)
{
    ac_heap *h;
    struct ac_heap_config cfg = {.numa_node = -1, .hugetlb = true};
    cr_assert_eq(ac_heap_create(&cfg, &h), 0);
    ac_heap_set_current(h);
    void *p = ac_alloc(64);
    cr_assert_not_null(p, "no huge pages reserved is not a failure");
    struct ac_heap_stats st;
    ac_heap_stats(h, &st);
    cr_assert_eq(st.chunks, 1);
    cr_assert_eq(st.hugetlb_chunks + st.hugetlb_fallbacks, 1,
                 "either a huge page chunk or one counted fallback");
    ac_free(p);
    ac_heap_destroy(h);
}
