/* I/O buffer groups: ids, reference-counted slices, recycling. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "agentcore/mem.h"

static ac_bufgroup *make_group(uint32_t size, uint32_t count)
{
    ac_bufgroup *g;
    struct ac_bufgroup_config cfg = {.buf_size = size, .count = count, .numa_node = -1};
    cr_assert_eq(ac_bufgroup_create(&cfg, &g), 0);
    return g;
}

Test(mem_iobuf, create_rejects_sizes_outside_the_classes)
{
    ac_bufgroup *g;
    struct ac_bufgroup_config cfg = {.buf_size = 2048, .count = 4, .numa_node = -1};
    cr_assert_eq(ac_bufgroup_create(&cfg, &g), -EINVAL);
    cfg.buf_size = AC_IOBUF_1K;
    cfg.count = 0;
    cr_assert_eq(ac_bufgroup_create(&cfg, &g), -EINVAL);
}

Test(mem_iobuf, region_is_page_aligned_and_ids_address_it)
{
    ac_bufgroup *g = make_group(AC_IOBUF_16K, 8);
    char *base = ac_bufgroup_base(g);
    cr_assert_eq((uintptr_t)base % 4096, 0);
    cr_assert_eq(ac_bufgroup_size(g), 8 * 16384);
    cr_assert_eq(ac_bufgroup_count(g), 8);
    cr_assert_eq(ac_bufgroup_buf_size(g), 16384);
    cr_assert_eq(ac_bufgroup_addr(g, 5), base + 5 * 16384);
    memset(base, 1, ac_bufgroup_size(g));
    ac_bufgroup_destroy(g);
}

Test(mem_iobuf, buffer_is_recycled_when_the_last_slice_is_released)
{
    ac_bufgroup *g = make_group(AC_IOBUF_1K, 1);
    struct ac_ioslice whole, part, none;
    cr_assert_eq(ac_bufgroup_alloc(g, &whole), 0);
    cr_assert_eq(ac_bufgroup_alloc(g, &none), -ENOBUFS);
    memcpy(ac_ioslice_data(&whole), "hello world", 11);
    cr_assert_eq(ac_ioslice_sub(&whole, 6, 5, &part), 0);
    cr_assert_eq(memcmp(ac_ioslice_data(&part), "world", 5), 0);
    cr_assert_eq(ac_ioslice_sub(&part, 3, 5, &none), -EINVAL, "a sub-slice stays inside");
    ac_ioslice_release(&whole);
    struct ac_bufgroup_stats st;
    ac_bufgroup_stats(g, &st);
    cr_assert_eq(st.held, 1, "the sub-slice still holds the buffer");
    cr_assert_eq(st.free, 0);
    ac_ioslice_release(&part);
    ac_bufgroup_stats(g, &st);
    cr_assert_eq(st.held, 0);
    cr_assert_eq(st.free, 1);
    cr_assert_eq(st.recycled, 1);
    cr_assert_eq(st.exhausted, 1);
    cr_assert_eq(ac_bufgroup_alloc(g, &whole), 0);
    ac_ioslice_release(&whole);
    ac_bufgroup_destroy(g);
}

struct recycled {
    uint16_t bids[8];
    unsigned n;
};

static void on_recycle(void *arg, ac_bufgroup *g, uint16_t bid)
{
    (void)g;
    struct recycled *r = arg;
    r->bids[r->n++] = bid;
}

Test(mem_iobuf, adopted_kernel_buffers_go_to_the_recycle_callback)
{
    ac_bufgroup *g = make_group(AC_IOBUF_4K, 4);
    struct recycled r = {0};
    ac_bufgroup_set_recycle(g, on_recycle, &r);
    uint16_t bid;
    cr_assert_eq(ac_bufgroup_take(g, &bid), 0); /* as net would, to provide it to a ring */
    struct ac_ioslice s;
    ac_bufgroup_adopt(g, bid, 100, &s); /* a completion filled 100 bytes */
    cr_assert_eq(s.len, 100);
    cr_assert_eq(ac_ioslice_data(&s), ac_bufgroup_addr(g, bid));
    ac_ioslice_release(&s);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.bids[0], bid);
    struct ac_bufgroup_stats st;
    ac_bufgroup_stats(g, &st);
    cr_assert_eq(st.free, 3, "a recycled buffer went back to the ring, not the free list");
    ac_bufgroup_destroy(g);
}

/* net's pattern: each buffer lent to the kernel is adopted as the kernel's reference. */
struct relender {
    struct ac_ioslice kernel;
    unsigned lent;
};

static void on_recycle_relend(void *arg, ac_bufgroup *g, uint16_t bid)
{
    struct relender *r = arg;
    ac_bufgroup_adopt(g, bid, ac_bufgroup_buf_size(g), &r->kernel);
    r->lent++;
}

Test(mem_iobuf, recycle_callback_may_adopt_the_buffer_again)
{
    ac_bufgroup *g = make_group(AC_IOBUF_1K, 1);
    struct relender r = {0};
    uint16_t bid;
    cr_assert_eq(ac_bufgroup_take(g, &bid), 0);
    ac_bufgroup_adopt(g, bid, AC_IOBUF_1K, &r.kernel);
    ac_bufgroup_set_recycle(g, on_recycle_relend, &r);
    struct ac_ioslice got;
    cr_assert_eq(ac_ioslice_sub(&r.kernel, 0, 10, &got), 0); /* a receive with more to come */
    ac_ioslice_release(&r.kernel);                           /* the kernel is done with it */
    cr_assert_eq(r.lent, 0, "the received slice still holds the buffer");
    ac_ioslice_release(&got);
    cr_assert_eq(r.lent, 1);
    cr_assert_eq(r.kernel.group, g);
    struct ac_bufgroup_stats st;
    ac_bufgroup_stats(g, &st);
    cr_assert_eq(st.held, 1, "held again, by the new kernel reference");
    cr_assert_eq(st.free, 0);
    ac_bufgroup_set_recycle(g, NULL, NULL);
    ac_ioslice_release(&r.kernel);
    ac_bufgroup_stats(g, &st);
    cr_assert_eq(st.free, 1);
    ac_bufgroup_destroy(g);
}

Test(mem_iobuf, set_picks_the_smallest_class_that_fits)
{
    ac_iobufs *b;
    struct ac_iobufs_config cfg = {.count = {2, 2, 0, 1}, .numa_node = -1};
    cr_assert_eq(ac_iobufs_create(&cfg, &b), 0);
    cr_assert_null(ac_iobufs_group(b, 2));
    struct ac_ioslice s1, s2, s3, s4;
    cr_assert_eq(ac_iobufs_alloc(b, 3000, &s1), 0);
    cr_assert_eq(s1.group, ac_iobufs_group(b, 1));
    cr_assert_eq(s1.len, 3000);
    cr_assert_eq(ac_iobufs_alloc(b, 5000, &s2), 0);
    cr_assert_eq(s2.group, ac_iobufs_group(b, 3), "no 16 KiB group: the 64 KiB one serves");
    cr_assert_eq(ac_iobufs_alloc(b, 5000, &s3), -ENOBUFS);
    cr_assert_eq(ac_iobufs_alloc(b, 70000, &s4), -EINVAL);
    ac_ioslice_release(&s1);
    ac_ioslice_release(&s2);
    ac_iobufs_destroy(b);
}
