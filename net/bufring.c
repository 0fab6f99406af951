/*
 * The per-shard provided-buffer ring: every connection of a shard receives
 * into buffers the kernel picks from one ring, so an idle connection holds
 * no read buffer at all.
 *
 * Set up by hand (liburing 2.3 has no io_uring_setup_buf_ring): the ring
 * of io_uring_buf descriptors is page-aligned memory registered with
 * io_uring_register_buf_ring. Buffer `bid` lives at mem + bid * size. A
 * CQE hands a buffer out (refs = 1, the read callback's slice); holders
 * add refs; the last release puts it back at the ring's tail.
 *
 * Incremental consumption (kernel >= 6.12, IOU_PBUF_RING_INC, used when
 * the kernel accepts it): the kernel packs consecutive receives into the
 * same buffer instead of spending a whole buffer on each. Why: every
 * receive took a buffer however small, and a slice holds it until (for an
 * echo) its send completes, so with many connections the ring ran dry
 * (a -ENOBUFS per ~5 messages at 1,024 connections, each ending a
 * multishot receive); and a larger ring spreads 64-byte messages over one
 * page each, which cost cache at 128 connections. Packed, 16 KiB holds
 * ~250 such messages. The buffer returns to the ring once the kernel has
 * finished it (a CQE without BUF_MORE) and every slice in it is released.
 *
 * Optionally the buffer memory is also registered as fixed buffer 0, so
 * SEND_ZC of received bytes skips page pinning per send. Registered memory
 * counts against RLIMIT_MEMLOCK; when that refuses, we log once and carry
 * on unregistered.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

/*
 * Anonymous mapping: pages are touched (and counted in RSS) only when the
 * kernel first fills a buffer. The one allocation point for buffer memory,
 * so mem's NUMA-local iobufs can replace it.
 */
void *ac__bufmem_alloc(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void ac__bufmem_free(void *mem, size_t len)
{
    if (mem)
        munmap(mem, len);
}

static void ring_add(struct ac__bufpool *p, uint16_t bid)
{
    p->in_ring[bid] = 1;
    p->used[bid] = 0;
    io_uring_buf_ring_add(p->br, p->mem + (size_t)bid * p->size, p->size, bid, (int)p->mask, 0);
    /* advance is a release store of the tail: the descriptor is visible first. */
    io_uring_buf_ring_advance(p->br, 1);
    p->avail++;
}

int ac__bufpool_init(struct ac__bufpool *p, struct ac_ring *ring, unsigned count, unsigned size,
                     bool want_registered, bool want_incremental)
{
    struct io_uring *u = ac_ring_raw(ring);
    int err;

    if (count == 0 || (count & (count - 1)) || count > 32768 || size == 0)
        return -EINVAL;
    p->count = count;
    p->size = size;
    p->mask = (unsigned)io_uring_buf_ring_mask(count);
    p->avail = 0;
    p->bgid = 0;
    p->br_len = (size_t)count * sizeof(struct io_uring_buf);
    p->mem_len = (size_t)count * size;
    p->refs = calloc(count, sizeof *p->refs);
    p->in_ring = calloc(count, sizeof *p->in_ring);
    p->used = calloc(count, sizeof *p->used);
    p->br = ac__bufmem_alloc(p->br_len);
    p->mem = ac__bufmem_alloc(p->mem_len);
    err = -ENOMEM;
    if (!p->refs || !p->in_ring || !p->used || !p->br || !p->mem)
        goto out_free;

    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)p->br, .ring_entries = count, .bgid = p->bgid};
    err = -EINVAL;
    p->incremental = false;
    if (want_incremental) {
        reg.pad = IOU_PBUF_RING_INC; /* `flags` in newer uapi headers */
        err = io_uring_register_buf_ring(u, &reg, 0);
        p->incremental = err == 0;
    }
    if (err == -EINVAL) { /* not asked for, or a kernel < 6.12: a buffer per receive */
        reg.pad = 0;
        err = io_uring_register_buf_ring(u, &reg, 0);
    }
    if (err) {
        if (err == -EINVAL)
            err = -EOPNOTSUPP; /* kernel < 5.19 */
        goto out_free;
    }
    io_uring_buf_ring_init(p->br);
    for (unsigned i = 0; i < count; i++)
        ring_add(p, (uint16_t)i);

    p->registered = false;
    if (want_registered) {
        struct iovec iov = {.iov_base = p->mem, .iov_len = p->mem_len};
        err = io_uring_register_buffers(u, &iov, 1);
        if (err == 0)
            p->registered = true;
        else
            ac_log_info("net: buffer memory not registered (%s; RLIMIT_MEMLOCK?): "
                        "SEND_ZC pins pages per send",
                        ac_strerror(err));
    }
    return 0;

out_free:
    ac__bufmem_free(p->mem, p->mem_len);
    ac__bufmem_free(p->br, p->br_len);
    free(p->used);
    free(p->in_ring);
    free(p->refs);
    p->mem = NULL;
    p->br = NULL;
    p->refs = NULL;
    return err;
}

void ac__bufpool_fini(struct ac__bufpool *p, struct ac_ring *ring)
{
    if (!p->br)
        return;
    struct io_uring *u = ac_ring_raw(ring);
    if (p->registered)
        io_uring_unregister_buffers(u);
    io_uring_unregister_buf_ring(u, p->bgid);
    ac__bufmem_free(p->mem, p->mem_len);
    ac__bufmem_free(p->br, p->br_len);
    free(p->used);
    free(p->in_ring);
    free(p->refs);
    p->br = NULL;
}

void ac__bufpool_take(struct ac__bufpool *p, uint16_t bid, uint32_t len, uint32_t cqe_flags,
                      struct ac_slice *out)
{
    AC_ASSERT(bid < p->count && p->in_ring[bid] && p->refs[bid] < UINT16_MAX);
    AC_ASSERT(p->incremental || p->refs[bid] == 0);
    AC_ASSERT(p->used[bid] + len <= p->size);
    out->data = p->mem + (size_t)bid * p->size + p->used[bid];
    out->len = len;
    out->bid = bid;
    out->pool = p;
    p->used[bid] += len;
    p->refs[bid]++;
    if (!(p->incremental && (cqe_flags & IORING_CQE_F_BUF_MORE))) {
        p->in_ring[bid] = 0; /* the kernel is done with it */
        p->avail--;
    }
}

int ac__bufpool_fixed_index(const struct ac__bufpool *p, const void *buf, size_t len)
{
    const char *b = buf;
    if (!p->registered || b < p->mem || b + len > p->mem + p->mem_len)
        return -1;
    return 0;
}

void ac_slice_hold(const struct ac_slice *s)
{
    struct ac__bufpool *p = s->pool;
    AC_ASSERT(p->refs[s->bid] > 0 && p->refs[s->bid] < UINT16_MAX);
    p->refs[s->bid]++;
}

void ac_slice_release(const struct ac_slice *s)
{
    struct ac__bufpool *p = s->pool;
    AC_ASSERT(p->refs[s->bid] > 0);
    if (--p->refs[s->bid] == 0 && !p->in_ring[s->bid]) {
        ring_add(p, s->bid);
        ac__net_bufs_returned(p->net);
    }
}
