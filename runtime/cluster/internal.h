/*
 * Private declarations of the cluster module's locks.
 *
 * Objects: one ac_dlock per shard (node connections, scripts, stats, the
 * list of leases); a lease per acquire, from the first attempt until it is
 * released; a fanout per request sent to a set of nodes at once (an
 * attempt, a fence store, a renewal, a release). A fanout holds a
 * reference on its lease, so a lease's memory outlives every answer that
 * may still arrive for it; d->busy counts what close must wait for.
 */
#ifndef AC_CLUSTER_INTERNAL_H
#define AC_CLUSTER_INTERNAL_H

#include "agentcore/dlock.h"
#include "agentcore/net.h"
#include "agentcore/resp.h"
#include "agentcore/timer.h"

enum {
    SCRIPT_ACQ_ONE,
    SCRIPT_ACQ_QUORUM,
    SCRIPT_FENCE,
    SCRIPT_RENEW,
    SCRIPT_RELEASE,
    SCRIPT_FENCED_SET,
    SCRIPT_COUNT
};

/* The Lua source of each script (scripts.c). */
extern const char *const ac__dlock_lua[SCRIPT_COUNT];

enum lease_state { L_ACQUIRING, L_HELD, L_LOST, L_RELEASING, L_DONE };

struct ac_dlock {
    ac_net *net;
    enum ac_dlock_type type;
    unsigned n, quorum;
    struct ac_resp_client *node[AC_DLOCK_MAX_NODES];
    struct ac_resp_script script[SCRIPT_COUNT];
    uint64_t ttl_ns, retry_delay_ns, node_timeout_ns;
    unsigned retry_count;
    double drift_factor;
    char *prefix;
    char holder[160];
    uint64_t tok_hi, tok_lo, rng;
    struct ac_dlock_lease *leases; /* not yet released (doubly linked) */
    unsigned busy;                 /* fanouts in flight + acquires not finished */
    bool closing, clients_closing;
    struct ac_timer close_timer;
    unsigned clients_open;
    ac_dlock_closed_fn closed_cb;
    void *closed_arg;
    struct ac_dlock_stats stats;
};

struct fanout;
typedef void (*fanout_answer_fn)(struct fanout *f, unsigned node, int res,
                                 const struct ac_resp_reply *r);

struct fanout_slot {
    struct fanout *f;
    unsigned node;
};

struct fanout {
    struct ac_dlock_lease *l;
    fanout_answer_fn answer;
    unsigned sent, answered;
    unsigned ok, no, failed; /* the answer function's tally */
    bool decided;
    uint64_t t0;
    uint64_t value;                              /* FENCE: the fence stored */
    uint64_t max_seen;                           /* highest integer among the yes answers */
    uint32_t asked, ok_mask, no_mask, fail_mask; /* bit per node */
    struct fanout_slot slot[AC_DLOCK_MAX_NODES];
    /* requests a client refused at once (node down): answered from a
     * timer on the next turn, so no decision — and no user callback —
     * ever runs inside the call that sent them */
    struct ac_timer refused_timer;
    uint32_t refused_mask;
    int refused_err[AC_DLOCK_MAX_NODES];
};

struct ac_dlock_lease {
    struct ac_dlock *d;
    struct ac_dlock_lease *next, *prev;
    enum lease_state state;
    unsigned refs; /* the owner (acquire, then the user) + one per fanout */
    bool listed;
    char token[33];
    uint64_t ttl_ns, fence, valid_until;
    uint64_t started;  /* acquire call */
    uint64_t attempt0; /* start of the current attempt */
    /* acquiring */
    ac_dlock_acquired_fn acq_cb;
    void *acq_arg;
    uint64_t deadline;
    int tries_left;
    struct fanout *attempt; /* undecided attempt or fence store */
    struct ac_timer retry_timer, deadline_timer;
    /* held */
    bool watchdog;
    ac_dlock_lost_fn lost_cb;
    void *lost_arg;
    struct ac_timer renew_timer, expire_timer;
    struct fanout *renewal; /* in flight */
    int renew_err;          /* the last renewal's failure (0: none) */
    /* releasing */
    ac_dlock_released_fn rel_cb;
    void *rel_arg;
    struct ac_dlock_grant_info info;
    char ttl_ms[24];
    char fence_str[24];
    size_t key_len, fence_key_len;
    char *key, *fence_key;
    char name[];
};

/* fanout.c */
struct fanout *ac__fanout_new(struct ac_dlock_lease *l, fanout_answer_fn answer);
/*
 * Sends script `s` (keys: the lease's lock and fence keys; args: token
 * and `arg`) to every node of `mask`. Answers — also for requests that
 * could not be queued, which come on the next loop turn — arrive through
 * f->answer, never inside this call. The fanout frees itself after its
 * last answer.
 */
void ac__fanout_send(struct fanout *f, int script, uint32_t mask, const char *arg);
/*
 * Counts one answer — an integer in [ok_min, ok_max] is a yes (the
 * highest seen kept in f->max_seen), another integer a no, anything else
 * (error reply, timeout, connection) a failure — and decides once:
 * returns FANOUT_WON when a quorum has said yes, FANOUT_LOST when one can
 * no longer say yes (f->decided is then set), else FANOUT_OPEN (also for
 * every answer after the decision).
 */
enum { FANOUT_OPEN, FANOUT_WON, FANOUT_LOST };
int ac__fanout_vote(struct fanout *f, unsigned node, int res, const struct ac_resp_reply *r,
                    long long ok_min, long long ok_max);
/* Drops a reference on the lease; frees it at zero. */
void ac__lease_unref(struct ac_dlock_lease *l);
/* Unlinks from d->leases (idempotent). */
void ac__lease_unlist(struct ac_dlock_lease *l);
/* Validity left at `now` for an attempt that started at t0: TTL − elapsed − drift (ns, ≤ 0: none).
 */
int64_t ac__dlock_validity(const struct ac_dlock *d, uint64_t ttl_ns, uint64_t t0, uint64_t now);
/* Bit mask of every node. */
static inline uint32_t ac__all_nodes(const struct ac_dlock *d)
{
    return (uint32_t)((1ull << d->n) - 1);
}
/* Releases on the nodes of `mask`, nobody waiting (after a failed attempt, on close). */
void ac__dlock_cleanup(struct ac_dlock_lease *l, uint32_t mask);

/* lease.c: a granted lease starts its watchdog */
void ac__lease_hold(struct ac_dlock_lease *l);
/* dlock.c: close makes progress when d->busy drops */
void ac__dlock_maybe_closed(struct ac_dlock *d);
uint64_t ac__dlock_rand(struct ac_dlock *d);

#endif
