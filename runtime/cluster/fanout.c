/*
 * Fanouts: one script sent to several nodes at once, answers tallied as
 * they come. The caller's answer function decides (sets f->decided) as
 * soon as a quorum allows; answers after the decision still arrive and
 * are only counted, so a slow or frozen node costs its own request and
 * nothing else. The fanout lives until its last answer (each node client
 * bounds that by its command timeout).
 */
#include "internal.h"
#include "agentcore/mem.h"

#include <errno.h>
#include <string.h>

struct fanout *ac__fanout_new(struct ac_dlock_lease *l, fanout_answer_fn answer)
{
    struct fanout *f = ac_calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->l = l;
    f->answer = answer;
    f->t0 = ac_now_ns();
    l->refs++;
    l->d->busy++;
    return f;
}

static void fanout_done(struct fanout *f)
{
    struct ac_dlock_lease *l = f->l;
    struct ac_dlock *d = l->d;
    ac_free(f);
    d->busy--;
    ac__lease_unref(l);
    ac__dlock_maybe_closed(d);
}

static void fanout_reply(void *arg, int res, const struct ac_resp_reply *r)
{
    struct fanout_slot *s = arg;
    struct fanout *f = s->f;
    f->answered++;
    f->answer(f, s->node, res, r);
    if (f->answered == f->sent)
        fanout_done(f);
}

static void refused_fire(struct ac_timer *t, void *arg)
{
    (void)t;
    struct fanout *f = arg;
    if (f->sent == 0) {
        fanout_done(f);
        return;
    }
    uint32_t mask = f->refused_mask;
    f->refused_mask = 0;
    /* the last answer frees f: count the ones left first */
    unsigned left = (unsigned)__builtin_popcount(mask);
    for (unsigned i = 0; left; i++) {
        if (!(mask & (1u << i)))
            continue;
        left--;
        fanout_reply(&f->slot[i], f->refused_err[i], NULL);
    }
}

void ac__fanout_send(struct fanout *f, int script, uint32_t mask, const char *arg)
{
    struct ac_dlock_lease *l = f->l;
    struct ac_dlock *d = l->d;
    const char *args[] = {l->key, l->fence_key, l->token, arg};
    size_t lens[] = {l->key_len, l->fence_key_len, 32, strlen(arg)};

    f->asked = mask;
    for (unsigned i = 0; i < d->n; i++) {
        if (!(mask & (1u << i)))
            continue;
        f->slot[i] = (struct fanout_slot){.f = f, .node = i};
        f->sent++;
        int err = ac_resp_eval(d->node[i], &d->script[script], 2, 4, args, lens, fanout_reply,
                               &f->slot[i]);
        if (err) {
            f->refused_err[i] = err;
            f->refused_mask |= 1u << i;
        }
    }
    if (f->refused_mask || f->sent == 0)
        AC_ASSERT(ac_timer_start(&f->refused_timer, 0, refused_fire, f) == 0);
}

int ac__fanout_vote(struct fanout *f, unsigned node, int res, const struct ac_resp_reply *r,
                    long long ok_min, long long ok_max)
{
    struct ac_dlock *d = f->l->d;
    if (res == 0 && r->type == AC_RESP_INTEGER && r->integer >= ok_min && r->integer <= ok_max) {
        f->ok++;
        f->ok_mask |= 1u << node;
        if ((uint64_t)r->integer > f->max_seen)
            f->max_seen = (uint64_t)r->integer;
    } else if (res == 0 && r->type == AC_RESP_INTEGER) {
        f->no++;
        f->no_mask |= 1u << node;
    } else {
        if (res == 0 && r->type == AC_RESP_ERROR)
            ac_log_warn("dlock: node %u: %s", node, r->str);
        f->failed++;
        f->fail_mask |= 1u << node;
    }
    if (f->decided)
        return FANOUT_OPEN;
    if (f->ok >= d->quorum) {
        f->decided = true;
        return FANOUT_WON;
    }
    if (f->no + f->failed > f->sent - d->quorum) {
        f->decided = true;
        return FANOUT_LOST;
    }
    return FANOUT_OPEN;
}

static void cleanup_answer(struct fanout *f, unsigned node, int res, const struct ac_resp_reply *r)
{
    (void)f, (void)node, (void)res, (void)r;
}

void ac__dlock_cleanup(struct ac_dlock_lease *l, uint32_t mask)
{
    if (!mask)
        return;
    struct fanout *f = ac__fanout_new(l, cleanup_answer);
    if (!f)
        return; /* the keys expire with their TTL */
    f->decided = true;
    ac__fanout_send(f, SCRIPT_RELEASE, mask, "0");
}

int64_t ac__dlock_validity(const struct ac_dlock *d, uint64_t ttl_ns, uint64_t t0, uint64_t now)
{
    /* drift: the TTL clocks of the nodes may run fast by drift_factor, plus
     * 2 ms for the nodes' expiry granularity (redis.io distlock) */
    int64_t drift = (int64_t)((double)ttl_ns * d->drift_factor) + 2000000;
    return (int64_t)ttl_ns - (int64_t)(now - t0) - drift;
}
