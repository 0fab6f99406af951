/*
 * A granted lease: the watchdog (renew every TTL/3 with
 * compare-and-pexpire on every node, decided on quorum), the expiry timer
 * that declares it lost when its validity runs out first, and the
 * release (compare-and-delete on every node).
 */
#include "internal.h"
#include "agentcore/mem.h"

#include <errno.h>

static void cancel_timers(struct ac_dlock_lease *l)
{
    struct ac_timer *ts[] = {&l->retry_timer, &l->deadline_timer, &l->renew_timer,
                             &l->expire_timer};
    for (size_t i = 0; i < AC_ARRAY_LEN(ts); i++)
        if (ac_timer_armed(ts[i]))
            ac_timer_cancel(ts[i]);
}

void ac__lease_unlist(struct ac_dlock_lease *l)
{
    struct ac_dlock *d = l->d;
    if (!l->listed)
        return;
    if (l->prev)
        l->prev->next = l->next;
    else
        d->leases = l->next;
    if (l->next)
        l->next->prev = l->prev;
    l->next = l->prev = NULL;
    l->listed = false;
}

void ac__lease_unref(struct ac_dlock_lease *l)
{
    AC_ASSERT(l->refs > 0);
    if (--l->refs)
        return;
    cancel_timers(l);
    ac__lease_unlist(l);
    ac_free(l);
}

static void lose(struct ac_dlock_lease *l, int reason)
{
    struct ac_dlock *d = l->d;
    if (l->state != L_HELD)
        return;
    l->state = L_LOST;
    if (ac_timer_armed(&l->renew_timer))
        ac_timer_cancel(&l->renew_timer);
    if (ac_timer_armed(&l->expire_timer))
        ac_timer_cancel(&l->expire_timer);
    l->valid_until = 0;
    d->stats.lost++;
    d->stats.held--;
    ac_log_warn("dlock: lease on \"%s\" (fence %llu) lost: %s", l->name,
                (unsigned long long)l->fence, ac_strerror(reason));
    if (l->lost_cb)
        l->lost_cb(l->lost_arg, l, reason);
}

static void expire_fire(struct ac_timer *t, void *arg)
{
    (void)t;
    struct ac_dlock_lease *l = arg;
    lose(l, l->renew_err ? l->renew_err : -ETIME);
}

static void renew_fire(struct ac_timer *t, void *arg);

static void renew_later(struct ac_dlock_lease *l, uint64_t delay)
{
    if (l->state == L_HELD && l->watchdog && !ac_timer_armed(&l->renew_timer))
        AC_ASSERT(ac_timer_start(&l->renew_timer, delay, renew_fire, l) == 0);
}

static void renew_answer(struct fanout *f, unsigned node, int res, const struct ac_resp_reply *r)
{
    struct ac_dlock_lease *l = f->l;
    struct ac_dlock *d = l->d;
    int64_t left;
    switch (ac__fanout_vote(f, node, res, r, 1, 1)) {
    case FANOUT_WON:
        l->renewal = NULL;
        if (l->state != L_HELD)
            return;
        left = ac__dlock_validity(d, l->ttl_ns, f->t0, ac_now_ns());
        if (left <= 0)
            return; /* too slow to count; the expiry timer decides */
        l->renew_err = 0;
        l->valid_until = ac_now_ns() + (uint64_t)left;
        if (ac_timer_armed(&l->expire_timer))
            ac_timer_cancel(&l->expire_timer);
        AC_ASSERT(ac_timer_start_at(&l->expire_timer, l->valid_until, expire_fire, l) == 0);
        d->stats.renewals++;
        renew_later(l, l->ttl_ns / 3);
        return;
    case FANOUT_LOST:
        l->renewal = NULL;
        if (f->no) {
            lose(l, -ESTALE); /* gone or someone else's on a quorum */
        } else {
            /* unreachable for now: try again while the lease is still valid */
            l->renew_err = -EHOSTDOWN;
            renew_later(l, d->retry_delay_ns);
        }
        return;
    }
}

static void renew_fire(struct ac_timer *t, void *arg)
{
    (void)t;
    struct ac_dlock_lease *l = arg;
    if (l->state != L_HELD || l->renewal)
        return;
    struct fanout *f = ac__fanout_new(l, renew_answer);
    if (!f) {
        renew_later(l, l->d->retry_delay_ns);
        return;
    }
    l->renewal = f;
    ac__fanout_send(f, SCRIPT_RENEW, ac__all_nodes(l->d), l->ttl_ms);
}

void ac__lease_hold(struct ac_dlock_lease *l)
{
    AC_ASSERT(ac_timer_start_at(&l->expire_timer, l->valid_until, expire_fire, l) == 0);
    renew_later(l, l->ttl_ns / 3);
}

/* ---- release ---------------------------------------------------------------- */

static void release_done(struct ac_dlock_lease *l, int res)
{
    l->state = L_DONE;
    if (l->rel_cb)
        l->rel_cb(l->rel_arg, res);
    ac__lease_unref(l); /* the user's reference */
}

static void release_answer(struct fanout *f, unsigned node, int res, const struct ac_resp_reply *r)
{
    switch (ac__fanout_vote(f, node, res, r, 1, 1)) {
    case FANOUT_WON:
        release_done(f->l, 0);
        return;
    case FANOUT_LOST:
        release_done(f->l, f->no ? -ESTALE : -EHOSTDOWN);
        return;
    }
}

/* No memory for the fanout: answered from a timer (never inside the call). */
static void release_nomem(struct ac_timer *t, void *arg)
{
    (void)t;
    struct ac_dlock_lease *l = arg;
    struct ac_dlock *d = l->d;
    d->busy--;
    release_done(l, -ENOMEM); /* the keys expire with their TTL */
    ac__dlock_maybe_closed(d);
}

void ac_dlock_release(ac_dlock_lease *l, ac_dlock_released_fn cb, void *arg)
{
    struct ac_dlock *d = l->d;
    AC_ASSERT(l->state == L_HELD || l->state == L_LOST);
    if (l->state == L_HELD)
        d->stats.held--;
    l->state = L_RELEASING;
    cancel_timers(l);
    d->stats.releases++;
    ac__lease_unlist(l);
    l->rel_cb = cb;
    l->rel_arg = arg;
    struct fanout *f = ac__fanout_new(l, release_answer);
    if (!f) {
        d->busy++; /* until the timer answers */
        AC_ASSERT(ac_timer_start(&l->retry_timer, 0, release_nomem, l) == 0);
    } else {
        ac__fanout_send(f, SCRIPT_RELEASE, ac__all_nodes(d), "0");
    }
    d->busy--; /* the holder's part is over; the fanout (or timer) counts now */
}

uint64_t ac_dlock_lease_fence(const ac_dlock_lease *l)
{
    return l->fence;
}

uint64_t ac_dlock_lease_valid_until(const ac_dlock_lease *l)
{
    return l->state == L_HELD ? l->valid_until : 0;
}

bool ac_dlock_lease_lost(const ac_dlock_lease *l)
{
    return l->state == L_LOST;
}

const char *ac_dlock_lease_name(const ac_dlock_lease *l)
{
    return l->name;
}

void ac_dlock_lease_info(const ac_dlock_lease *l, struct ac_dlock_grant_info *out)
{
    *out = l->info;
}
