/*
 * agentcore/dlock.h — distributed locks on Redis with fencing tokens (the
 * cluster module, above the runtime and the RESP client).
 *
 * One ac_dlock per shard talks to the configured Redis nodes, one
 * connection per node (resp.h). A lock is a key holding a random token
 * with a TTL; a grant comes with a fencing token that is strictly greater
 * than every fencing token granted before for that lock name, so a
 * resource that remembers the highest token it has seen can refuse a
 * holder whose lease ran out while it was paused.
 *
 *  - type AC_DLOCK_REDIS: one node. SET NX PX and INCR of the fence
 *    counter in one Lua script, so the token is issued atomically with the
 *    grant.
 *  - type AC_DLOCK_REDLOCK: N independent nodes (redis.io "distlock"),
 *    quorum N/2+1. An attempt sends SET NX PX to every node at once and is
 *    decided as soon as a quorum has answered either way; a slow or frozen
 *    node only costs its own answer. Each granting node also returns its
 *    stored fence; the grant's fence is the maximum over the granting
 *    quorum plus one, and it is stored back on every node
 *    (compare-and-raise, in the same script that checks the lock is
 *    still ours; a quorum must confirm) before the grant is returned: any later grant's quorum
 * meets ours, so it sees the stored value and goes higher. Validity = TTL − elapsed − drift (TTL ×
 * drift_factor + 2 ms); a failed attempt releases on all nodes, then retries after a jittered
 * delay.
 *  - Watchdog: a held lease is renewed (compare-and-pexpire) every TTL/3;
 *    when a renewal cannot reach a quorum, finds the lock gone, or the
 *    lease's validity runs out first (e.g. the shard was paused), the
 *    lease is lost: on_lost runs once and no more renewals are sent.
 *
 * Rules:
 *  1. Everything is used on the shard that created the ac_dlock.
 *  2. When a function that takes a callback fails, the callback is never
 *     called; otherwise it runs exactly once, later (never from inside the
 *     call).
 *  3. A lease (ac_dlock_lease) is the library's: it stays valid from the
 *     acquire callback until the release callback has returned, also after
 *     it was lost. Every lease must be released (ac_dlock_release): a
 *     closing ac_dlock waits for that.
 */
#ifndef AGENTCORE_DLOCK_H
#define AGENTCORE_DLOCK_H

#include "agentcore/base.h"
#include "agentcore/hist.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ac_net;
struct ac_resp_client;
typedef struct ac_dlock ac_dlock;
typedef struct ac_dlock_lease ac_dlock_lease;

enum ac_dlock_type {
    AC_DLOCK_REDIS,   /* one node (the first of nodes) */
    AC_DLOCK_REDLOCK, /* quorum over every node */
};

#define AC_DLOCK_MAX_NODES 16

/*
 * The original Go design's `distributed_lock` section, plus what a real
 * deployment needs (per-node timeout, AUTH/SELECT, key prefix).
 */
struct ac_dlock_config {
    enum ac_dlock_type type;
    const char *nodes[AC_DLOCK_MAX_NODES]; /* "host:port" ("[v6]:port"); copied */
    unsigned node_count;
    uint64_t lock_timeout_ns; /* lease TTL (default 30 s) */
    unsigned retry_count;     /* attempts after the first (default 3) */
    uint64_t retry_delay_ns;  /* between attempts, jittered ±50 % (default 100 ms) */
    double drift_factor;      /* clock drift allowance × TTL (default 0.01) */
    uint64_t node_timeout_ns; /* one request to one node (default 50 ms) */
    const char *password;     /* AUTH on every node when set */
    unsigned db;              /* SELECT when not 0 */
    const char *key_prefix;   /* default "ac:lock:" (keys: prefix+name, prefix+name+":fence") */
    const char *holder;       /* shown by ac_dlock_foreach (default "hostname:pid") */
};

/* Fills `cfg` with the defaults above (type REDIS, no nodes). */
void ac_dlock_config_init(struct ac_dlock_config *cfg);

/*
 * Creates the calling shard's lock client on `net` and starts connecting
 * to every node. Returns 0 and *out, -EINVAL (no nodes, bad node, TTL 0,
 * drift outside [0, 0.5)), -EHOSTUNREACH (a name does not resolve) or
 * -ENOMEM.
 */
AC_MUST_USE int ac_dlock_create(struct ac_net *net, const struct ac_dlock_config *cfg,
                                ac_dlock **out);

typedef void (*ac_dlock_closed_fn)(void *arg);

/*
 * Stops: new acquires are refused (-ECANCELED), acquires in progress fail
 * with -ECANCELED (a grant that lands meanwhile is undone on Redis); held
 * leases stay valid — renewed as before — until their holders release
 * them, which close waits for (so a holder's steps in flight can finish);
 * then the node connections close, cb(arg) runs and the ac_dlock is
 * freed. Close before the net stops; a holder that never releases keeps
 * it open.
 */
void ac_dlock_close(ac_dlock *d, ac_dlock_closed_fn cb, void *arg);

/*
 * The lease was lost (rule 3: still valid; release it). reason:
 * -ETIME (validity ran out before a renewal succeeded), -ESTALE (a
 * renewal found the lock gone or someone else's on a quorum), or
 * -EHOSTDOWN (renewals could not reach a quorum).
 */
typedef void (*ac_dlock_lost_fn)(void *arg, ac_dlock_lease *l, int reason);

/*
 * res 0: `l` is granted (rule 3). Else l is NULL and res is -EBUSY (the
 * lock was held elsewhere on the last attempt), -ETIMEDOUT (the deadline
 * passed), -EHOSTDOWN (no quorum of nodes answered), or -ECANCELED (the
 * ac_dlock is closing).
 */
typedef void (*ac_dlock_acquired_fn)(void *arg, int res, ac_dlock_lease *l);

struct ac_dlock_acquire_opts {
    uint64_t ttl_ns;      /* 0: the config's lock_timeout */
    uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0: only the retries bound it */
    int retry_count;      /* attempts after the first; < 0: the config's */
    bool no_watchdog;     /* never renew: the lease ends after its TTL */
    ac_dlock_lost_fn on_lost;
    void *lost_arg;
};

/*
 * Acquires lock `name` (1..200 bytes, copied). `opts` NULL: defaults
 * (the config's TTL and retries, no deadline, watchdog on). Returns 0 (cb
 * runs later), -EINVAL (bad name or options), -ECANCELED (closing) or
 * -ENOMEM.
 */
AC_MUST_USE int ac_dlock_acquire(ac_dlock *d, const char *name,
                                 const struct ac_dlock_acquire_opts *opts, ac_dlock_acquired_fn cb,
                                 void *arg);

/* One attempt, no retries: ac_dlock_acquire with retry_count 0. */
AC_MUST_USE int ac_dlock_try_acquire(ac_dlock *d, const char *name,
                                     const struct ac_dlock_acquire_opts *opts,
                                     ac_dlock_acquired_fn cb, void *arg);

/*
 * res 0: the lock was deleted (token compared) on a quorum; -ESTALE: a
 * quorum could not be reached and some node said it was not ours any
 * more (lost, expired); -EHOSTDOWN: the nodes did not answer (the keys
 * then expire with their TTL); -ENOMEM. `l` is freed when the callback
 * returns.
 */
typedef void (*ac_dlock_released_fn)(void *arg, int res);

/*
 * Releases (compare-and-delete on every node) and stops the watchdog.
 * cb may be NULL. Releasing twice is a broken invariant.
 */
void ac_dlock_release(ac_dlock_lease *l, ac_dlock_released_fn cb, void *arg);

/* The lease's fencing token (> 0, strictly increasing per lock name). */
uint64_t ac_dlock_lease_fence(const ac_dlock_lease *l);

/* CLOCK_MONOTONIC time until which the lease is safe to use (0 once lost). */
uint64_t ac_dlock_lease_valid_until(const ac_dlock_lease *l);

/* True once the lease was lost. */
bool ac_dlock_lease_lost(const ac_dlock_lease *l);

/* The lock name. */
const char *ac_dlock_lease_name(const ac_dlock_lease *l);

/* How the grant was decided (for tests and /debug/locks). */
struct ac_dlock_grant_info {
    unsigned nodes;    /* nodes asked */
    unsigned granted;  /* that had granted when the attempt was decided */
    unsigned answered; /* that had answered (any way) by then */
    unsigned attempts; /* attempts this acquire took */
    uint32_t pending;  /* bit i: node i had not answered when decided */
};

void ac_dlock_lease_info(const ac_dlock_lease *l, struct ac_dlock_grant_info *out);

/* ---- statistics --------------------------------------------------------- */

/* Plain counters of one shard's ac_dlock (read on its shard). */
struct ac_dlock_stats {
    uint64_t acquires;  /* granted */
    uint64_t attempts;  /* attempts (one round over the nodes each) */
    uint64_t contended; /* attempts that found the lock held (contention rate: /attempts) */
    uint64_t failures;  /* acquires that ended without a grant */
    uint64_t timeouts;  /* of those: the deadline passed */
    uint64_t releases;
    uint64_t renewals;      /* successful watchdog renewals */
    uint64_t lost;          /* leases lost */
    uint64_t held;          /* leases held now (not lost, not released) */
    struct ac_hist latency; /* of granted acquires (hist.h) */
};

void ac_dlock_stats(const ac_dlock *d, struct ac_dlock_stats *out);

/* One held lease, as listed by ac_dlock_foreach. */
struct ac_dlock_held {
    const char *name;
    const char *holder; /* the config's holder, ":shard N" appended */
    uint64_t fence;
    uint64_t remaining_ns; /* of validity (0 when lost) */
    bool lost;
};

/* Calls fn for every lease not yet released (strings valid during the call). */
void ac_dlock_foreach(const ac_dlock *d, void (*fn)(void *arg, const struct ac_dlock_held *h),
                      void *arg);

/*
 * The connection to node i (< node_count), for data that the locks guard
 * (e.g. a fenced write, see the exclusive-counter agent). Owned by the
 * ac_dlock; valid until it closes.
 */
struct ac_resp_client *ac_dlock_node(ac_dlock *d, unsigned i);

/* res 0: written; -ESTALE: refused (an older fence); else the client's error. */
typedef void (*ac_dlock_written_fn)(void *arg, int res);

/*
 * The resource side of fencing, on node 0: SET key value only when
 * `fence` is not older than the newest fence a write to `key` presented
 * (kept at key + ":fence"), and remember it — in one script, so no write
 * with an older token can land after a newer one. Returns as
 * ac_resp_command; cb then runs once (rule 2).
 */
AC_MUST_USE int ac_dlock_fenced_set(ac_dlock *d, const char *key, const char *value, uint64_t fence,
                                    ac_dlock_written_fn cb, void *arg);

/* Number of nodes (1 for AC_DLOCK_REDIS). */
unsigned ac_dlock_node_count(const ac_dlock *d);

#ifdef __cplusplus
}
#endif
#endif
