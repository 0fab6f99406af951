/*
 * The seam: the public ac_ring_* functions, forwarding to the ring's
 * backend through its const table (struct ac__backend), plus what both
 * backends share: the kinds mask, the thread's current ring, counters,
 * the per-callback hook, and backend choice.
 *
 * Choice (AUTO): AC_BACKEND from the environment (tests run whole suites
 * on either backend this way), else io_uring, else epoll. A ring that
 * falls back says nothing here; the runtime probes once and logs the
 * cause (ac_uring_probe), so a process prints one line, not one per ring.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *ac_ring_backend_name(enum ac_ring_backend b)
{
    switch (b) {
    case AC_RING_BACKEND_IO_URING:
        return "io_uring";
    case AC_RING_BACKEND_EPOLL:
        return "epoll";
    default:
        return "auto";
    }
}

int ac_ring_backend_parse(const char *s, enum ac_ring_backend *out)
{
    if (!s)
        return -EINVAL;
    if (strcmp(s, "auto") == 0)
        *out = AC_RING_BACKEND_AUTO;
    else if (strcmp(s, "io_uring") == 0 || strcmp(s, "uring") == 0)
        *out = AC_RING_BACKEND_IO_URING;
    else if (strcmp(s, "epoll") == 0)
        *out = AC_RING_BACKEND_EPOLL;
    else
        return -EINVAL;
    return 0;
}

enum ac_ring_backend ac_ring_backend_from_env(enum ac_ring_backend b)
{
    enum ac_ring_backend env;
    if (b == AC_RING_BACKEND_AUTO && ac_ring_backend_parse(getenv("AC_BACKEND"), &env) == 0)
        return env;
    return b;
}

static int create_with(const struct ac__backend *be, const struct ac_ring_config *cfg,
                       struct ac_ring **out)
{
    struct ac_ring *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->be = be;
    int err = be->create(r, cfg);
    if (err) {
        free(r);
        return err;
    }
    *out = r;
    return 0;
}

int ac_ring_create(const struct ac_ring_config *cfg, struct ac_ring **out)
{
    static const struct ac_ring_config defaults = {.entries = 256, .sqpoll_cpu = -1};
    if (!cfg)
        cfg = &defaults;
    switch (ac_ring_backend_from_env(cfg->backend)) {
    case AC_RING_BACKEND_IO_URING:
        return create_with(&ac__backend_uring, cfg, out);
    case AC_RING_BACKEND_EPOLL:
        return create_with(&ac__backend_epoll, cfg, out);
    default:
        if (create_with(&ac__backend_uring, cfg, out) == 0)
            return 0;
        return create_with(&ac__backend_epoll, cfg, out);
    }
}

void ac_ring_destroy(struct ac_ring *r)
{
    if (!r)
        return;
    r->be->destroy(r);
    free(r);
}

int ac_ring_fd(const struct ac_ring *r)
{
    return r->be->fd(r);
}

const struct ac_ring_features *ac_ring_features(const struct ac_ring *r)
{
    return &r->feat;
}

struct io_uring *ac_ring_raw(struct ac_ring *r)
{
    return r->be == &ac__backend_uring ? &r->uring : NULL;
}

void ac_ring_describe(const struct ac_ring *r, char *buf, size_t len)
{
    r->be->describe(r, buf, len);
}

void ac_ring_mask_kinds(struct ac_ring *r, uint64_t kinds)
{
    r->masked_kinds |= kinds;
}

bool ac_ring_supports(const struct ac_ring *r, unsigned kind)
{
    return kind < AC_OP_KIND_COUNT && (r->kinds & ~r->masked_kinds & (1ull << kind));
}

static _Thread_local struct ac_ring *current_ring;

void ac_ring_set_current(struct ac_ring *r)
{
    current_ring = r;
}

struct ac_ring *ac_ring_current(void)
{
    return current_ring;
}

int ac_ring_submit(struct ac_ring *r, struct ac_op *op)
{
    AC_ASSERT(op->kind < AC_OP_KIND_COUNT);
    if (AC_UNLIKELY(!ac_ring_supports(r, op->kind)))
        return -EOPNOTSUPP;
    int err = r->be->submit(r, op);
    if (err == 0)
        r->stats.ops_inflight++;
    return err;
}

int ac_ring_submit_wake(struct ac_ring *r, int target_fd)
{
    return r->be->submit_wake(r, target_fd);
}

int ac_ring_enter(struct ac_ring *r, uint64_t timeout_ns)
{
    return r->be->enter(r, timeout_ns);
}

unsigned ac_ring_dispatch(struct ac_ring *r)
{
    return r->be->dispatch(r);
}

void ac__ring_complete(struct ac_ring *r, struct ac_op *op, int res, uint32_t flags)
{
    unsigned kind = op->kind; /* the callback may free op */
    if (!(flags & IORING_CQE_F_MORE))
        r->stats.ops_inflight--; /* its last completion (multishot and SEND_ZC post several) */
    op->complete(op, res, flags);
    if (r->after_cb)
        r->after_cb(r->after_cb_arg, ac_op_kind_name(kind));
}

void ac_ring_set_callback_hook(struct ac_ring *r, void (*after_cb)(void *arg, const char *what),
                               void *arg)
{
    r->after_cb = after_cb;
    r->after_cb_arg = arg;
}

void ac_ring_stats(const struct ac_ring *r, struct ac_ring_stats *out)
{
    *out = r->stats;
    if (r->be->stats)
        r->be->stats(r, out); /* counters only the backend knows */
}

int ac__ring_pbuf_register(struct ac_ring *r, uint16_t bgid, unsigned count, bool want_incremental,
                           bool *incremental)
{
    return r->be->pbuf_register(r, bgid, count, want_incremental, incremental);
}

void ac__ring_pbuf_add(struct ac_ring *r, void *addr, unsigned len, uint16_t bid)
{
    r->be->pbuf_add(r, addr, len, bid);
}

void ac__ring_pbuf_unregister(struct ac_ring *r, uint16_t bgid)
{
    r->be->pbuf_unregister(r, bgid);
}

int ac__ring_buffers_register(struct ac_ring *r, void *base, size_t len)
{
    return r->be->buffers_register(r, base, len);
}

void ac__ring_buffers_unregister(struct ac_ring *r)
{
    r->be->buffers_unregister(r);
}
