/*
 * Acquiring: attempts, each a fanout of SET NX PX to every node, decided
 * on quorum; for Redlock a second fanout stores the grant's fence on a
 * quorum before the grant is returned. Between attempts a jittered delay;
 * over all of them the caller's deadline (a timer that ends an undecided
 * attempt at once). A failed attempt releases on every node that did not
 * answer "held by someone else" — a late grant on a slow node is undone
 * by the release queued behind it on the same connection.
 */
#include "internal.h"
#include "agentcore/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int attempt_start(struct ac_dlock_lease *l);

/* Ends the acquire: a grant (res 0) or a failure; the callback runs once. */
static void finish(struct ac_dlock_lease *l, int res)
{
    struct ac_dlock *d = l->d;
    if (ac_timer_armed(&l->deadline_timer))
        ac_timer_cancel(&l->deadline_timer);
    if (ac_timer_armed(&l->retry_timer))
        ac_timer_cancel(&l->retry_timer);
    l->attempt = NULL;
    d->busy--;
    if (res == 0 && d->closing) {
        /* granted while closing: nobody may hold it past the close */
        ac__dlock_cleanup(l, ac__all_nodes(d));
        res = -ECANCELED;
    }
    if (res == 0) {
        l->state = L_HELD;
        d->busy++; /* until its holder releases it: close waits for that */
        d->stats.acquires++;
        d->stats.held++;
        ac_hist_record(&d->stats.latency, ac_now_ns() - l->started);
        ac__lease_hold(l);
        l->acq_cb(l->acq_arg, 0, l);
        return;
    }
    d->stats.failures++;
    if (res == -ETIMEDOUT)
        d->stats.timeouts++;
    l->state = L_DONE;
    ac__lease_unlist(l);
    l->acq_cb(l->acq_arg, res, NULL);
    ac__lease_unref(l); /* the acquire's reference */
    ac__dlock_maybe_closed(d);
}

static void retry_fire(struct ac_timer *t, void *arg)
{
    (void)t;
    struct ac_dlock_lease *l = arg;
    if (l->d->closing)
        finish(l, -ECANCELED);
    else if (attempt_start(l) != 0)
        finish(l, -ENOMEM);
}

/* The attempt failed with `err`: undo, then retry or give up. */
static void attempt_failed(struct ac_dlock_lease *l, struct fanout *f, int err)
{
    struct ac_dlock *d = l->d;
    l->attempt = NULL;
    /* nodes that said "held" have someone else's lock: leave it alone */
    ac__dlock_cleanup(l, ac__all_nodes(d) & ~f->no_mask);
    if (d->closing) {
        finish(l, -ECANCELED);
        return;
    }
    uint64_t now = ac_now_ns();
    uint64_t delay = d->retry_delay_ns / 2 + ac__dlock_rand(d) % (d->retry_delay_ns + 1);
    if (l->tries_left <= 0 || (l->deadline && now + delay >= l->deadline)) {
        finish(l,
               l->deadline && now + delay >= l->deadline && l->tries_left > 0 ? -ETIMEDOUT : err);
        return;
    }
    l->tries_left--;
    AC_ASSERT(ac_timer_start(&l->retry_timer, delay, retry_fire, l) == 0);
}

static void note_decision(struct ac_dlock_lease *l, struct fanout *f)
{
    l->info.nodes = l->d->n;
    l->info.granted = f->ok;
    l->info.answered = f->answered;
    l->info.pending = f->asked & ~(f->ok_mask | f->no_mask | f->fail_mask);
}

/* Phase 2 (Redlock): the fence stored on a quorum. */
static void fence_answer(struct fanout *f, unsigned node, int res, const struct ac_resp_reply *r)
{
    struct ac_dlock_lease *l = f->l;
    int64_t left;
    switch (ac__fanout_vote(f, node, res, r, 1, 1)) {
    case FANOUT_WON:
        left = ac__dlock_validity(l->d, l->ttl_ns, l->attempt0, ac_now_ns());
        if (left <= 0) {
            attempt_failed(l, f, -EHOSTDOWN);
            return;
        }
        l->fence = f->value;
        l->valid_until = ac_now_ns() + (uint64_t)left;
        finish(l, 0);
        return;
    case FANOUT_LOST:
        attempt_failed(l, f, f->no ? -EBUSY : -EHOSTDOWN);
        return;
    }
}

/*
 * To every node, not only the granting ones: the store raises each node's
 * counter (never lowers it), and a node that restarted without its data
 * is repaired by the next grant instead of staying behind — otherwise
 * nodes restarted one at a time could, together, hold a quorum that
 * never saw the latest fence. Only nodes where the lock is ours answer 1.
 */
static void start_fence(struct ac_dlock_lease *l, uint64_t fence)
{
    struct fanout *f = ac__fanout_new(l, fence_answer);
    if (!f) {
        struct fanout none = {.l = l};
        attempt_failed(l, &none, -ENOMEM);
        return;
    }
    f->value = fence;
    l->attempt = f;
    snprintf(l->fence_str, sizeof l->fence_str, "%llu", (unsigned long long)fence);
    ac__fanout_send(f, SCRIPT_FENCE, ac__all_nodes(l->d), l->fence_str);
}

/* Phase 1: the grants, decided on quorum. */
static void acquire_answer(struct fanout *f, unsigned node, int res, const struct ac_resp_reply *r)
{
    struct ac_dlock_lease *l = f->l;
    struct ac_dlock *d = l->d;
    bool one = d->type == AC_DLOCK_REDIS;
    int64_t left;
    switch (ac__fanout_vote(f, node, res, r, one ? 1 : 0, INT64_MAX)) {
    case FANOUT_WON:
        note_decision(l, f);
        left = ac__dlock_validity(d, l->ttl_ns, l->attempt0, ac_now_ns());
        if (left <= 0) {
            attempt_failed(l, f, -EHOSTDOWN);
        } else if (one) {
            l->fence = f->max_seen; /* the INCR done with the grant */
            l->valid_until = ac_now_ns() + (uint64_t)left;
            finish(l, 0);
        } else {
            start_fence(l, f->max_seen + 1);
        }
        return;
    case FANOUT_LOST:
        note_decision(l, f);
        if (f->no)
            d->stats.contended++;
        attempt_failed(l, f, f->no ? -EBUSY : -EHOSTDOWN);
        return;
    }
}

/* Starts an attempt. Returns 0 or -ENOMEM (nothing sent). */
static int attempt_start(struct ac_dlock_lease *l)
{
    struct ac_dlock *d = l->d;
    struct fanout *f = ac__fanout_new(l, acquire_answer);
    if (!f)
        return -ENOMEM;
    l->attempt = f;
    l->attempt0 = f->t0;
    l->info.attempts++;
    d->stats.attempts++;
    ac__fanout_send(f, d->type == AC_DLOCK_REDIS ? SCRIPT_ACQ_ONE : SCRIPT_ACQ_QUORUM,
                    ac__all_nodes(d), l->ttl_ms);
    return 0;
}

static void deadline_fire(struct ac_timer *t, void *arg)
{
    (void)t;
    struct ac_dlock_lease *l = arg;
    struct fanout *f = l->attempt;
    if (f) {
        /* undecided: whatever the nodes still answer is undone */
        f->decided = true;
        l->attempt = NULL;
        ac__dlock_cleanup(l, ac__all_nodes(l->d) & ~f->no_mask);
    }
    finish(l, -ETIMEDOUT);
}

static void token_make(struct ac_dlock *d, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    /* unique per shard (a counter), random across shards and processes */
    uint64_t w[2] = {d->tok_hi, d->tok_lo++};
    for (int i = 0; i < 32; i++)
        out[i] = hex[(w[i / 16] >> (4 * (15 - i % 16))) & 15];
    out[32] = '\0';
}

int ac_dlock_acquire(ac_dlock *d, const char *name, const struct ac_dlock_acquire_opts *opts,
                     ac_dlock_acquired_fn cb, void *arg)
{
    static const struct ac_dlock_acquire_opts defaults = {.retry_count = -1};
    const struct ac_dlock_acquire_opts *o = opts ? opts : &defaults;
    size_t nlen = name ? strlen(name) : 0;
    if (!cb || nlen == 0 || nlen > 200)
        return -EINVAL;
    if (d->closing)
        return -ECANCELED;
    size_t plen = strlen(d->prefix);
    size_t klen = plen + nlen, flen = klen + 6;
    struct ac_dlock_lease *l = ac_calloc(1, sizeof *l + nlen + 1 + klen + 1 + flen + 1);
    if (!l)
        return -ENOMEM;
    l->d = d;
    l->refs = 1;
    l->state = L_ACQUIRING;
    memcpy(l->name, name, nlen + 1);
    l->key = l->name + nlen + 1;
    l->key_len = klen;
    memcpy(l->key, d->prefix, plen);
    memcpy(l->key + plen, name, nlen + 1);
    l->fence_key = l->key + klen + 1;
    l->fence_key_len = flen;
    memcpy(l->fence_key, l->key, klen);
    memcpy(l->fence_key + klen, ":fence", 7);
    token_make(d, l->token);
    l->ttl_ns = o->ttl_ns ? o->ttl_ns : d->ttl_ns;
    uint64_t ms = l->ttl_ns / 1000000;
    snprintf(l->ttl_ms, sizeof l->ttl_ms, "%llu", (unsigned long long)(ms ? ms : 1));
    l->acq_cb = cb;
    l->acq_arg = arg;
    l->deadline = o->deadline_ns;
    l->tries_left = o->retry_count < 0 ? (int)d->retry_count : o->retry_count;
    l->watchdog = !o->no_watchdog;
    l->lost_cb = o->on_lost;
    l->lost_arg = o->lost_arg;
    l->started = ac_now_ns();
    /* the first attempt goes out now: its answers, even refusals from
     * nodes known down, come later (fanout.c), never inside this call */
    if (attempt_start(l) != 0) {
        ac_free(l);
        return -ENOMEM;
    }
    /* listed from the start, so close finds acquires in progress too */
    l->listed = true;
    l->next = d->leases;
    if (d->leases)
        d->leases->prev = l;
    d->leases = l;
    d->busy++;
    if (l->deadline)
        AC_ASSERT(ac_timer_start_at(&l->deadline_timer, l->deadline, deadline_fire, l) == 0);
    return 0;
}

int ac_dlock_try_acquire(ac_dlock *d, const char *name, const struct ac_dlock_acquire_opts *opts,
                         ac_dlock_acquired_fn cb, void *arg)
{
    struct ac_dlock_acquire_opts o = opts ? *opts : (struct ac_dlock_acquire_opts){0};
    o.retry_count = 0;
    return ac_dlock_acquire(d, name, &o, cb, arg);
}
