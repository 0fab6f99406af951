/*
 * Distributed locks against real redis-server processes (one node, and
 * Redlock over three): fencing tokens, mutual exclusion from two shards,
 * nodes killed (minority, majority), a node frozen with SIGSTOP, a holder
 * paused past its TTL, the watchdog, and a Redis restart. Each shard of a
 * test runtime has its own ac_dlock; the test thread drives them by
 * message and waits on flags with timeouts. Assertions are on outcomes
 * and on how a decision was made (which nodes had answered), never on
 * elapsed wall-clock time.
 */
#include "net/resp/helpers.h"

#define NODES 3

struct env {
    struct tshard sh;
    struct redis_srv rs[NODES];
    unsigned nodes;
    struct ac_dlock_config cfg;
    char node_str[NODES][32];
    ac_dlock *d[TSH_MAX];
    _Atomic int create_err;
    _Atomic unsigned created, closed;
};

/* One lock operation from the test thread. */
struct op {
    struct env *e;
    unsigned shard;
    const char *name;
    struct ac_dlock_acquire_opts o;
    bool try_only;
    int submit, res;
    ac_dlock_lease *l;
    uint64_t fence, cb_at;
    struct ac_dlock_grant_info info;
    _Atomic bool done;
    int rel_res;
    _Atomic bool released;
    _Atomic int lost_reason;
    _Atomic bool lost;
};

static void create_on_shard(void *arg)
{
    struct env *e = arg;
    unsigned id = ac_shard_id();
    int err = ac_dlock_create(e->sh.net[id], &e->cfg, &e->d[id]);
    if (err)
        atomic_store(&e->create_err, err);
    atomic_fetch_add(&e->created, 1);
}

static void closed(void *arg)
{
    struct env *e = arg;
    atomic_fetch_add(&e->closed, 1);
}

static void close_on_shard(void *arg)
{
    struct env *e = arg;
    ac_dlock_close(e->d[ac_shard_id()], closed, e);
}

/* Starts `nodes` Redis servers and a runtime of `shards`, each with an ac_dlock. */
static void env_start(struct env *e, unsigned nodes, unsigned shards, enum ac_dlock_type type)
{
    e->nodes = nodes;
    for (unsigned i = 0; i < nodes; i++)
        redis_start(&e->rs[i]);
    tsh_start(&e->sh, shards);
    ac_dlock_config_init(&e->cfg);
    e->cfg.type = type;
    for (unsigned i = 0; i < nodes; i++) {
        snprintf(e->node_str[i], sizeof e->node_str[i], "127.0.0.1:%u", e->rs[i].port);
        e->cfg.nodes[i] = e->node_str[i];
    }
    e->cfg.node_count = nodes;
    e->cfg.retry_delay_ns = 20000000ull;
    /* the default 50 ms is a production choice; a loaded test machine (or
     * a sanitizer build) can stall a live node longer than that */
    e->cfg.node_timeout_ns = 2000000000ull;
}

static void env_dlocks(struct env *e)
{
    for (unsigned s = 0; s < e->sh.shards; s++)
        tsh_run(&e->sh, s, create_on_shard, e);
    for (unsigned i = 0; i < 5000 && atomic_load(&e->created) < e->sh.shards; i++)
        usleep(1000);
    cr_assert_eq(atomic_load(&e->created), e->sh.shards);
    cr_assert_eq(atomic_load(&e->create_err), 0, "%s", ac_strerror(atomic_load(&e->create_err)));
}

static void env_stop(struct env *e)
{
    for (unsigned i = 0; i < e->nodes; i++)
        redis_thaw(&e->rs[i]); /* a frozen node would hold up nothing, but be tidy */
    for (unsigned s = 0; s < e->sh.shards; s++)
        if (e->d[s])
            tsh_run(&e->sh, s, close_on_shard, e);
    for (unsigned i = 0; i < 10000 && atomic_load(&e->closed) < e->sh.shards; i++)
        usleep(1000);
    cr_assert_eq(atomic_load(&e->closed), e->sh.shards, "close callbacks");
    tsh_stop(&e->sh);
    for (unsigned i = 0; i < e->nodes; i++)
        redis_kill(&e->rs[i]);
}

static void on_lost(void *arg, ac_dlock_lease *l, int reason)
{
    (void)l;
    struct op *p = arg;
    atomic_store(&p->lost_reason, reason);
    atomic_store(&p->lost, true);
}

static void on_acquired(void *arg, int res, ac_dlock_lease *l)
{
    struct op *p = arg;
    p->res = res;
    p->l = l;
    p->cb_at = ac_now_ns();
    if (l) {
        p->fence = ac_dlock_lease_fence(l);
        ac_dlock_lease_info(l, &p->info);
    }
    atomic_store(&p->done, true);
}

static void acquire_on_shard(void *arg)
{
    struct op *p = arg;
    ac_dlock *d = p->e->d[ac_shard_id()];
    p->o.on_lost = on_lost;
    p->o.lost_arg = p;
    p->submit = p->try_only ? ac_dlock_try_acquire(d, p->name, &p->o, on_acquired, p)
                            : ac_dlock_acquire(d, p->name, &p->o, on_acquired, p);
    if (p->submit)
        atomic_store(&p->done, true);
}

static void on_released(void *arg, int res)
{
    struct op *p = arg;
    p->rel_res = res;
    atomic_store(&p->released, true);
}

static void release_on_shard(void *arg)
{
    struct op *p = arg;
    ac_dlock_release(p->l, on_released, p);
}

static void op_init(struct op *p, struct env *e, unsigned shard, const char *name)
{
    memset(p, 0, sizeof *p);
    p->e = e;
    p->shard = shard;
    p->name = name;
    p->o.retry_count = -1;
}

static void acquire(struct op *p)
{
    tsh_run(&p->e->sh, p->shard, acquire_on_shard, p);
    TSH_WAIT(&p->done, 30000, "acquire of %s did not call back", p->name);
    cr_assert_eq(p->submit, 0, "acquire: %s", ac_strerror(p->submit));
}

static void release(struct op *p)
{
    tsh_run(&p->e->sh, p->shard, release_on_shard, p);
    TSH_WAIT(&p->released, 30000, "release of %s did not call back", p->name);
}

struct stats_q {
    struct env *e;
    struct ac_dlock_stats st;
    _Atomic bool done;
};

static void stats_on_shard(void *arg)
{
    struct stats_q *q = arg;
    ac_dlock_stats(q->e->d[ac_shard_id()], &q->st);
    atomic_store(&q->done, true);
}

static void stats_of(struct env *e, unsigned shard, struct ac_dlock_stats *out)
{
    static struct stats_q q;
    memset(&q, 0, sizeof q);
    q.e = e;
    tsh_run(&e->sh, shard, stats_on_shard, &q);
    TSH_WAIT(&q.done, 5000, "stats");
    *out = q.st;
}

static bool key_exists(const struct redis_srv *r, const char *key)
{
    redisReply *rep = redis_do(r, "EXISTS %s", key);
    cr_assert_not_null(rep);
    bool yes = rep->integer == 1;
    freeReplyObject(rep);
    return yes;
}

/* ---- one node --------------------------------------------------------------- */

Test(runtime_cluster_dlock, single_node_fences_increase_and_held_lock_is_busy, .timeout = 60)
{
    static struct env e;
    static struct op a, b;
    env_start(&e, 1, 1, AC_DLOCK_REDIS);
    env_dlocks(&e);
    uint64_t last = 0;
    for (int i = 0; i < 3; i++) {
        op_init(&a, &e, 0, "one");
        acquire(&a);
        cr_assert_eq(a.res, 0, "%s", ac_strerror(a.res));
        cr_assert_gt(a.fence, last, "fence %llu after %llu", (unsigned long long)a.fence,
                     (unsigned long long)last);
        last = a.fence;
        cr_assert(key_exists(&e.rs[0], "ac:lock:one"));
        if (i == 1) {
            op_init(&b, &e, 0, "one");
            b.try_only = true;
            acquire(&b);
            cr_assert_eq(b.res, -EBUSY, "try-acquire of a held lock: %s", ac_strerror(b.res));
        }
        release(&a);
        cr_assert_eq(a.rel_res, 0);
        cr_assert(!key_exists(&e.rs[0], "ac:lock:one"), "released on the server");
    }
    cr_assert_eq(redis_get_int(&e.rs[0], "ac:lock:one:fence"), (long long)last,
                 "the fence is the server's counter");
    struct ac_dlock_stats st;
    stats_of(&e, 0, &st);
    cr_assert_eq(st.acquires, 3);
    cr_assert_eq(st.contended, 1);
    cr_assert_eq(st.failures, 1);
    cr_assert_eq(st.releases, 3);
    cr_assert_eq(st.held, 0);
    cr_assert_eq(st.latency.count, 3);
    env_stop(&e);
}

/* Both shards loop: acquire, GET, fenced SET of count+1, release. */
#define MX_PER_SHARD 150

struct mx {
    struct env *e;
    unsigned left[TSH_MAX];
    ac_dlock_lease *l[TSH_MAX];
    char count[TSH_MAX][24];
    uint64_t fence_at[2 * MX_PER_SHARD + 1]; /* fence that wrote count i (written under the lock) */
    _Atomic unsigned finished, errors;
};

static void mx_next(struct mx *m, unsigned s);

static void mx_released(void *arg, int res)
{
    struct mx *m = arg;
    unsigned s = ac_shard_id();
    if (res)
        atomic_fetch_add(&m->errors, 1);
    mx_next(m, s);
}

static void mx_written(void *arg, int res)
{
    struct mx *m = arg;
    unsigned s = ac_shard_id();
    if (res == 0) {
        long long n = atoll(m->count[s]);
        if (n > 0 && n <= 2 * MX_PER_SHARD)
            m->fence_at[n] = ac_dlock_lease_fence(m->l[s]);
    } else {
        atomic_fetch_add(&m->errors, 1);
    }
    ac_dlock_release(m->l[s], mx_released, m);
}

static void mx_read(void *arg, int res, const struct ac_resp_reply *r)
{
    struct mx *m = arg;
    unsigned s = ac_shard_id();
    long long v = res == 0 && r->type == AC_RESP_STRING ? atoll(r->str) : 0;
    snprintf(m->count[s], sizeof m->count[s], "%lld", v + 1);
    if (ac_dlock_fenced_set(m->e->d[s], "mx:count", m->count[s], ac_dlock_lease_fence(m->l[s]),
                            mx_written, m) != 0) {
        atomic_fetch_add(&m->errors, 1);
        ac_dlock_release(m->l[s], mx_released, m);
    }
}

static void mx_acquired(void *arg, int res, ac_dlock_lease *l)
{
    struct mx *m = arg;
    unsigned s = ac_shard_id();
    if (res) {
        atomic_fetch_add(&m->errors, 1);
        mx_next(m, s);
        return;
    }
    m->l[s] = l;
    const char *argv[] = {"GET", "mx:count"};
    if (ac_resp_command(ac_dlock_node(m->e->d[s], 0), 2, argv, NULL, mx_read, m) != 0) {
        atomic_fetch_add(&m->errors, 1);
        ac_dlock_release(l, mx_released, m);
    }
}

static void mx_next(struct mx *m, unsigned s)
{
    if (m->left[s] == 0) {
        atomic_fetch_add(&m->finished, 1);
        return;
    }
    m->left[s]--;
    struct ac_dlock_acquire_opts o = {.retry_count = 1000,
                                      .deadline_ns = ac_now_ns() + 20000000000ull};
    if (ac_dlock_acquire(m->e->d[s], "mx", &o, mx_acquired, m) != 0) {
        atomic_fetch_add(&m->errors, 1);
        atomic_fetch_add(&m->finished, 1);
    }
}

static void mx_start(void *arg)
{
    struct mx *m = arg;
    mx_next(m, ac_shard_id());
}

static void mutual_exclusion(enum ac_dlock_type type, unsigned nodes)
{
    static struct env e;
    static struct mx m;
    memset(&e, 0, sizeof e);
    memset(&m, 0, sizeof m);
    env_start(&e, nodes, 2, type);
    e.cfg.retry_delay_ns = 2000000ull; /* contention is the point: retry fast */
    env_dlocks(&e);
    m.e = &e;
    /* both shards start against a held lock, so both contend whatever the
     * scheduling; the test lets go once each has found it held */
    static struct op gate;
    op_init(&gate, &e, 0, "mx");
    acquire(&gate);
    cr_assert_eq(gate.res, 0);
    for (unsigned s = 0; s < 2; s++) {
        m.left[s] = MX_PER_SHARD;
        tsh_run(&e.sh, s, mx_start, &m);
    }
    struct ac_dlock_stats g0, g1;
    for (int i = 0; i < 10000; i++) {
        stats_of(&e, 0, &g0);
        stats_of(&e, 1, &g1);
        if (g0.contended && g1.contended)
            break;
        usleep(1000);
    }
    cr_assert(g0.contended && g1.contended, "both shards found the lock held");
    release(&gate);
    cr_assert_eq(gate.rel_res, 0);
    for (unsigned i = 0; i < 60000 && atomic_load(&m.finished) < 2; i++)
        usleep(1000);
    cr_assert_eq(atomic_load(&m.finished), 2, "both shards finished");
    cr_assert_eq(atomic_load(&m.errors), 0);
    cr_assert_eq(redis_get_int(&e.rs[0], "mx:count"), 2 * MX_PER_SHARD,
                 "no increment was lost or doubled");
    for (unsigned n = 2; n <= 2 * MX_PER_SHARD; n++)
        cr_assert_gt(m.fence_at[n], m.fence_at[n - 1], "fence of write %u not above write %u", n,
                     n - 1);
    struct ac_dlock_stats s0, s1;
    stats_of(&e, 0, &s0);
    stats_of(&e, 1, &s1);
    cr_assert_eq(s0.acquires + s1.acquires, 2 * MX_PER_SHARD + 1);
    env_stop(&e);
}

Test(runtime_cluster_dlock, two_shards_exclude_each_other_on_one_node, .timeout = 120)
{
    mutual_exclusion(AC_DLOCK_REDIS, 1);
}

Test(runtime_cluster_dlock, two_shards_exclude_each_other_with_redlock, .timeout = 120)
{
    mutual_exclusion(AC_DLOCK_REDLOCK, 3);
}

/* ---- Redlock: nodes down, frozen --------------------------------------------- */

Test(runtime_cluster_dlock, redlock_grants_with_a_minority_killed, .timeout = 60)
{
    static struct env e;
    static struct op a;
    env_start(&e, NODES, 1, AC_DLOCK_REDLOCK);
    env_dlocks(&e);
    op_init(&a, &e, 0, "minority");
    acquire(&a);
    cr_assert_eq(a.res, 0);
    uint64_t f1 = a.fence;
    release(&a);
    redis_kill(&e.rs[1]);
    for (int i = 0; i < 5; i++) {
        op_init(&a, &e, 0, "minority");
        acquire(&a);
        cr_assert_eq(a.res, 0, "granted with one node of three down: %s", ac_strerror(a.res));
        cr_assert_eq(a.info.granted, 2);
        cr_assert_gt(a.fence, f1);
        f1 = a.fence;
        release(&a);
        cr_assert_eq(a.rel_res, 0);
    }
    env_stop(&e);
}

Test(runtime_cluster_dlock, redlock_fails_cleanly_with_a_majority_killed, .timeout = 60)
{
    static struct env e;
    static struct op a;
    env_start(&e, NODES, 1, AC_DLOCK_REDLOCK);
    env_dlocks(&e);
    op_init(&a, &e, 0, "majority");
    acquire(&a);
    cr_assert_eq(a.res, 0);
    release(&a);
    redis_kill(&e.rs[0]);
    redis_kill(&e.rs[2]);
    /* without a deadline: the retries end it, each attempt decided as soon
     * as two nodes failed */
    op_init(&a, &e, 0, "majority");
    a.o.retry_count = 2;
    acquire(&a);
    cr_assert_eq(a.res, -EHOSTDOWN, "got %s", ac_strerror(a.res));
    cr_assert_null(a.l);
    /* with a deadline and many retries: the deadline ends it */
    op_init(&a, &e, 0, "majority");
    a.o.retry_count = 1000000;
    uint64_t deadline = ac_now_ns() + 300000000ull;
    a.o.deadline_ns = deadline;
    acquire(&a);
    cr_assert_eq(a.res, -ETIMEDOUT, "got %s", ac_strerror(a.res));
    cr_assert_null(a.l);
    cr_assert(!key_exists(&e.rs[1], "ac:lock:majority"), "the surviving node's grant was released");
    struct ac_dlock_stats st;
    stats_of(&e, 0, &st);
    cr_assert_eq(st.failures, 2);
    cr_assert_eq(st.timeouts, 1);
    cr_assert_eq(st.held, 0);
    env_stop(&e);
}

Test(runtime_cluster_dlock, redlock_with_a_frozen_node_decides_on_quorum, .timeout = 60)
{
    static struct env e;
    static struct op a;
    env_start(&e, NODES, 1, AC_DLOCK_REDLOCK);
    /* a per-node timeout far beyond the test: only the quorum can decide */
    e.cfg.node_timeout_ns = 60000000000ull;
    env_dlocks(&e);
    op_init(&a, &e, 0, "frozen");
    acquire(&a);
    cr_assert_eq(a.res, 0);
    release(&a);
    redis_freeze(&e.rs[2]);
    uint64_t last = a.fence;
    for (int i = 0; i < 20; i++) {
        op_init(&a, &e, 0, "frozen");
        acquire(&a);
        cr_assert_eq(a.res, 0, "acquire %d: %s", i, ac_strerror(a.res));
        cr_assert_eq(a.info.granted, 2);
        cr_assert(a.info.pending & (1u << 2),
                  "decided while the frozen node had not answered (pending %#x)", a.info.pending);
        cr_assert_eq(a.info.attempts, 1);
        cr_assert_gt(a.fence, last);
        last = a.fence;
        release(&a);
        cr_assert_eq(a.rel_res, 0, "released on the two live nodes");
    }
    env_stop(&e); /* thaws first */
}

/* ---- leases ------------------------------------------------------------------- */

Test(runtime_cluster_dlock, watchdog_keeps_a_short_lease_alive, .timeout = 60)
{
    static struct env e;
    static struct op a;
    struct ac_dlock_stats st;
    env_start(&e, 1, 1, AC_DLOCK_REDIS);
    env_dlocks(&e);
    op_init(&a, &e, 0, "dog");
    a.o.ttl_ns = 300000000ull;
    acquire(&a);
    cr_assert_eq(a.res, 0);
    /* three renewals = about a TTL; wait for them (bounded), not for time */
    for (int i = 0; i < 10000; i++) {
        stats_of(&e, 0, &st);
        if (st.renewals >= 4)
            break;
        usleep(1000);
    }
    cr_assert_geq(st.renewals, 4, "renewals: %llu", (unsigned long long)st.renewals);
    cr_assert(!atomic_load(&a.lost));
    redisReply *rep = redis_do(&e.rs[0], "PTTL ac:lock:dog");
    cr_assert_gt(rep->integer, 0, "still held on the server past its first TTL");
    freeReplyObject(rep);
    release(&a);
    cr_assert_eq(a.rel_res, 0);
    env_stop(&e);
}

struct pause {
    _Atomic bool go;
    _Atomic bool paused;
};

static void pause_shard(void *arg)
{
    struct pause *p = arg;
    atomic_store(&p->paused, true);
    /* a stop-the-world pause of this shard (bounded: 20 s) */
    for (int i = 0; i < 20000 && !atomic_load(&p->go); i++)
        usleep(1000);
}

struct fw {
    struct env *e;
    uint64_t fence;
    int res;
    _Atomic bool done;
};

static void fw_done(void *arg, int res)
{
    struct fw *w = arg;
    w->res = res;
    atomic_store(&w->done, true);
}

static void fw_on_shard(void *arg)
{
    struct fw *w = arg;
    char v[24];
    snprintf(v, sizeof v, "%llu", (unsigned long long)w->fence);
    int err = ac_dlock_fenced_set(w->e->d[ac_shard_id()], "paused:data", v, w->fence, fw_done, w);
    if (err)
        fw_done(w, err);
}

static int fenced_write(struct env *e, unsigned shard, uint64_t fence)
{
    static struct fw w;
    memset(&w, 0, sizeof w);
    w.e = e;
    w.fence = fence;
    tsh_run(&e->sh, shard, fw_on_shard, &w);
    TSH_WAIT(&w.done, 10000, "fenced write");
    return w.res;
}

Test(runtime_cluster_dlock, paused_holder_loses_its_lease_and_its_late_write_is_refused,
     .timeout = 60)
{
    static struct env e;
    static struct op a, b;
    static struct pause p;
    env_start(&e, 1, 2, AC_DLOCK_REDIS);
    env_dlocks(&e);
    op_init(&a, &e, 0, "paused");
    a.o.ttl_ns = 200000000ull;
    acquire(&a);
    cr_assert_eq(a.res, 0);
    cr_assert_eq(fenced_write(&e, 0, a.fence), 0, "the holder writes while it holds");
    /* shard 0 stops dead, renewals included */
    tsh_run(&e.sh, 0, pause_shard, &p);
    TSH_WAIT(&p.paused, 5000, "pause");
    /* shard 1 gets the lock once the TTL has run out on the server */
    op_init(&b, &e, 1, "paused");
    b.o.retry_count = 1000;
    b.o.deadline_ns = ac_now_ns() + 20000000000ull;
    acquire(&b);
    cr_assert_eq(b.res, 0, "%s", ac_strerror(b.res));
    cr_assert_gt(b.fence, a.fence);
    cr_assert_eq(fenced_write(&e, 1, b.fence), 0);
    cr_assert(!atomic_load(&a.lost), "paused: nothing ran on shard 0 yet");
    atomic_store(&p.go, true);
    TSH_WAIT(&a.lost, 10000, "the paused holder was told it lost the lease");
    cr_assert_eq(atomic_load(&a.lost_reason), -ETIME);
    /* the holder wakes and writes with its old token: refused */
    cr_assert_eq(fenced_write(&e, 0, a.fence), -ESTALE);
    redisReply *rep = redis_do(&e.rs[0], "GET paused:data");
    cr_assert_eq((uint64_t)atoll(rep->str), b.fence, "the new holder's write stands");
    freeReplyObject(rep);
    release(&a);
    cr_assert_eq(a.rel_res, -ESTALE, "a lost lease is not ours to delete");
    cr_assert(key_exists(&e.rs[0], "ac:lock:paused"), "the new holder's lock stays");
    release(&b);
    cr_assert_eq(b.rel_res, 0);
    struct ac_dlock_stats st;
    stats_of(&e, 0, &st);
    cr_assert_eq(st.lost, 1);
    env_stop(&e);
}

Test(runtime_cluster_dlock, locks_work_again_after_a_redis_restart, .timeout = 60)
{
    static struct env e;
    static struct op a;
    env_start(&e, 1, 1, AC_DLOCK_REDIS);
    env_dlocks(&e);
    op_init(&a, &e, 0, "restart");
    acquire(&a);
    cr_assert_eq(a.res, 0);
    release(&a);
    redis_kill(&e.rs[0]);
    redis_start(&e.rs[0]); /* same port, empty data */
    op_init(&a, &e, 0, "restart");
    a.o.retry_count = 1000;
    a.o.deadline_ns = ac_now_ns() + 10000000000ull;
    acquire(&a);
    cr_assert_eq(a.res, 0, "reconnected and granted: %s", ac_strerror(a.res));
    cr_assert(key_exists(&e.rs[0], "ac:lock:restart"));
    release(&a);
    cr_assert_eq(a.rel_res, 0);
    env_stop(&e);
}

/*
 * Nodes restart without their data, one at a time. Every grant stores its
 * fence on every node it reaches, so the restarted node is repaired by
 * the next grants; the test restarts the next one only once the previous
 * one holds the current fence again (the operating rule: never restart a
 * second node before the first is repaired). Fences must rise throughout.
 */
Test(runtime_cluster_dlock, redlock_fences_keep_rising_when_nodes_restart_empty, .timeout = 60)
{
    static struct env e;
    static struct op a;
    env_start(&e, NODES, 1, AC_DLOCK_REDLOCK);
    env_dlocks(&e);
    uint64_t last = 0;
    int victim = -1;
    for (unsigned round = 0; round < 2 * NODES; round++) {
        bool repaired = victim < 0;
        for (int i = 0; i < 500 && (i < 3 || !repaired); i++) {
            op_init(&a, &e, 0, "restarts");
            a.o.retry_count = 1000;
            a.o.deadline_ns = ac_now_ns() + 10000000000ull;
            acquire(&a);
            cr_assert_eq(a.res, 0, "round %u: %s", round, ac_strerror(a.res));
            cr_assert_gt(a.fence, last, "round %u: fence %llu after %llu", round,
                         (unsigned long long)a.fence, (unsigned long long)last);
            last = a.fence;
            release(&a);
            if (!repaired)
                repaired = (uint64_t)redis_get_int(&e.rs[victim], "ac:lock:restarts:fence") == last;
        }
        cr_assert(repaired, "round %u: node %d never got the current fence back", round, victim);
        victim = (int)(round % NODES);
        redis_kill(&e.rs[victim]);
        redis_start(&e.rs[victim]); /* same port, empty */
    }
    env_stop(&e);
}

Test(runtime_cluster_dlock, close_waits_until_held_leases_are_released, .timeout = 60)
{
    static struct env e;
    static struct op a;
    struct ac_dlock_stats st;
    env_start(&e, 1, 1, AC_DLOCK_REDIS);
    env_dlocks(&e);
    op_init(&a, &e, 0, "held-at-close");
    acquire(&a);
    cr_assert_eq(a.res, 0);
    tsh_run(&e.sh, 0, close_on_shard, &e);
    /* a message after the close: it ran, and the close had not finished */
    stats_of(&e, 0, &st);
    cr_assert_eq(st.held, 1);
    cr_assert_eq(atomic_load(&e.closed), 0, "close waits for the holder");
    cr_assert(key_exists(&e.rs[0], "ac:lock:held-at-close"), "still held on Redis");
    release(&a);
    cr_assert_eq(a.rel_res, 0);
    for (unsigned i = 0; i < 10000 && atomic_load(&e.closed) < 1; i++)
        usleep(1000);
    cr_assert_eq(atomic_load(&e.closed), 1, "close called back after the release");
    e.d[0] = NULL;
    cr_assert(!key_exists(&e.rs[0], "ac:lock:held-at-close"));
    tsh_stop(&e.sh);
    redis_kill(&e.rs[0]);
}

static void acquire_then_close(void *arg)
{
    struct op *p = arg;
    acquire_on_shard(p);
    ac_dlock_close(p->e->d[ac_shard_id()], closed, p->e);
}

Test(runtime_cluster_dlock, close_fails_an_acquire_in_flight_and_leaves_no_lock, .timeout = 60)
{
    static struct env e;
    static struct op a;
    env_start(&e, NODES, 1, AC_DLOCK_REDLOCK);
    env_dlocks(&e);
    op_init(&a, &e, 0, "closing");
    tsh_run(&e.sh, 0, acquire_then_close, &a);
    TSH_WAIT(&a.done, 10000, "the acquire called back");
    cr_assert_eq(a.submit, 0);
    cr_assert_eq(a.res, -ECANCELED, "got %s", ac_strerror(a.res));
    for (unsigned i = 0; i < 10000 && atomic_load(&e.closed) < 1; i++)
        usleep(1000);
    cr_assert_eq(atomic_load(&e.closed), 1, "close called back");
    e.d[0] = NULL;
    for (unsigned n = 0; n < NODES; n++)
        cr_assert(!key_exists(&e.rs[n], "ac:lock:closing"), "node %u holds no lock", n);
    tsh_stop(&e.sh);
    for (unsigned n = 0; n < NODES; n++)
        redis_kill(&e.rs[n]);
}
