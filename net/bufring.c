/*
 * The per-shard provided-buffer ring: every connection of a shard receives
 * into buffers the kernel picks from one ring, so an idle connection holds
 * no read buffer at all.
 *
 * The buffers are a mem/ buffer group (ac_bufgroup): its region, its
 * buffer ids (the ring's bids) and its per-buffer reference counts, so a
 * received buffer is held and released one way, as ac_ioslice references
 * (struct ac_slice carries one). The ring that lends buffers to the
 * kernel is the backend's (ac__ring_pbuf_*): an io_uring provided-buffer
 * ring, or the epoll backend's own stack, from which it picks a buffer
 * per receive itself — so the references below work the same on both.
 *
 * The kernel's reference. A buffer in the ring is adopted as one reference
 * that the kernel holds, lent[bid]: a slice over the part it has not filled
 * yet. A CQE cuts the received bytes off its front as the read callback's
 * slice; holders add references; when the kernel is done with the buffer
 * its reference ends, and the last release of any reference calls the
 * group's recycle callback, which adopts the buffer again for the kernel
 * and puts it back at the ring's tail. So a buffer the kernel may still
 * write into is never recycled, however its slices come and go.
 *
 * Incremental consumption (kernel >= 6.12, IOU_PBUF_RING_INC, used when
 * the kernel accepts it): the kernel packs consecutive receives into the
 * same buffer instead of spending a whole buffer on each. Why: every
 * receive took a buffer however small, and a slice holds it until (for an
 * echo) its send completes, so with many connections the ring ran dry
 * (a -ENOBUFS per ~5 messages at 1,024 connections, each ending a
 * multishot receive); and a larger ring spreads 64-byte messages over one
 * page each, which cost cache at 128 connections. Packed, 16 KiB holds
 * ~250 such messages. While a CQE says BUF_MORE the kernel keeps the
 * buffer (its reference stays, shortened by the bytes received); the CQE
 * without it hands the kernel's reference to that last slice. Without
 * incremental consumption every CQE is such a last one.
 *
 * Optionally the group's region is also registered as fixed buffer 0, so
 * SEND_ZC of received bytes skips page pinning per send. Registered memory
 * counts against RLIMIT_MEMLOCK; when that refuses, we log once and carry
 * on unregistered.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

/* Lends buffer bid to the kernel: adopts it as the kernel's reference. */
static void ring_add(struct ac__bufpool *p, uint16_t bid)
{
    ac_bufgroup_adopt(p->group, bid, p->size, &p->lent[bid]);
    ac__ring_pbuf_add(p->net->ring, ac_bufgroup_addr(p->group, bid), p->size, bid);
    p->avail++;
}

/* The group's recycle callback: the last reference to bid is gone. */
static void recycled(void *arg, ac_bufgroup *g, uint16_t bid)
{
    struct ac__bufpool *p = arg;
    (void)g;
    ring_add(p, bid);
    ac__net_bufs_returned(p->net);
}

int ac__bufpool_init(struct ac__bufpool *p, struct ac_ring *ring, unsigned count, unsigned size,
                     bool want_registered, bool want_incremental)
{
    int err;

    if (count == 0 || (count & (count - 1)) || count > 32768)
        return -EINVAL;
    struct ac_bufgroup_config gc = {.buf_size = size, .count = count, .numa_node = -1};
    err = ac_bufgroup_create(&gc, &p->group); /* -EINVAL: size is not one of AC_IOBUF_* */
    if (err)
        return err;
    p->count = count;
    p->size = size;
    p->avail = 0;
    p->bgid = 0;
    p->lent = calloc(count, sizeof *p->lent);
    err = -ENOMEM;
    if (!p->lent)
        goto out_free;
    err = ac__ring_pbuf_register(ring, p->bgid, count, want_incremental, &p->incremental);
    if (err)
        goto out_free;
    p->ready = true;
    for (unsigned i = 0; i < count; i++) {
        uint16_t bid;
        err = ac_bufgroup_take(p->group, &bid); /* a new group has every id free */
        AC_ASSERT(err == 0);
        ring_add(p, bid);
    }
    ac_bufgroup_set_recycle(p->group, recycled, p);

    p->registered = false;
    if (want_registered) {
        err =
            ac__ring_buffers_register(ring, ac_bufgroup_base(p->group), ac_bufgroup_size(p->group));
        if (err == 0)
            p->registered = true;
        else
            ac_log_info("net: buffer memory not registered (%s; RLIMIT_MEMLOCK?): "
                        "SEND_ZC pins pages per send",
                        ac_strerror(err));
    }
    return 0;

out_free:
    free(p->lent);
    p->lent = NULL;
    ac_bufgroup_destroy(p->group);
    p->group = NULL;
    return err;
}

void ac__bufpool_fini(struct ac__bufpool *p, struct ac_ring *ring)
{
    if (!p->ready)
        return;
    if (p->registered)
        ac__ring_buffers_unregister(ring);
    ac__ring_pbuf_unregister(ring, p->bgid);
    /* The kernel's references end; the buffers go to the free list, not the ring. */
    ac_bufgroup_set_recycle(p->group, NULL, NULL);
    for (unsigned i = 0; i < p->count; i++)
        ac_ioslice_release(&p->lent[i]);
    struct ac_bufgroup_stats st;
    ac_bufgroup_stats(p->group, &st);
    AC_ASSERT(st.held == 0); /* net.h rule 7: no slice still held */
    ac_bufgroup_destroy(p->group);
    free(p->lent);
    p->ready = false;
}

void ac__bufpool_take(struct ac__bufpool *p, uint16_t bid, uint32_t len, uint32_t cqe_flags,
                      struct ac_slice *out)
{
    AC_ASSERT(bid < p->count);
    struct ac_ioslice *k = &p->lent[bid];
    AC_ASSERT(k->group && len <= k->len && (p->incremental || k->off == 0));
    if (p->incremental && (cqe_flags & IORING_CQE_F_BUF_MORE)) {
        /* The kernel keeps filling the rest: a new reference for the bytes. */
        int err = ac_ioslice_sub(k, 0, len, &out->io);
        AC_ASSERT(err == 0);
        k->off += len;
        k->len -= len;
    } else {
        /* The kernel is done with it: its reference becomes the slice's. */
        out->io = *k;
        out->io.len = len;
        k->group = NULL;
        p->avail--;
    }
    out->data = ac_ioslice_data(&out->io);
    out->len = len;
}

int ac__bufpool_fixed_index(const struct ac__bufpool *p, const void *buf, size_t len)
{
    const char *b = buf, *base = ac_bufgroup_base(p->group);
    if (!p->registered || b < base || b + len > base + ac_bufgroup_size(p->group))
        return -1;
    return 0;
}

void ac_slice_hold(const struct ac_slice *s)
{
    /* ref has the same value as s->io: releasing any copy of s drops it. */
    struct ac_ioslice ref;
    int err = ac_ioslice_sub(&s->io, 0, s->io.len, &ref);
    AC_ASSERT(err == 0);
}

void ac_slice_release(const struct ac_slice *s)
{
    struct ac_ioslice io = s->io; /* release clears the value it is given; s is const */
    ac_ioslice_release(&io);
}
