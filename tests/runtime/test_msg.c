/*
 * Cross-shard messages: exactly once, FIFO per (source, target) pair,
 * backpressure instead of loss, and delivery from non-shard threads.
 */
#include "runtime/helpers.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define MAXS     8
#define SEQ_BITS 40
#define BATCH    4096

struct shard_state {
    _Alignas(64) uint64_t sent[MAXS];
    uint64_t expect[MAXS];
    uint64_t eagain;
    struct ac_timer driver;
};

static struct {
    ac_runtime *rt;
    unsigned n;
    uint64_t per_pair;
    struct shard_state s[MAXS];
    _Atomic unsigned pairs_done;
    _Atomic unsigned out_of_order;
    _Atomic unsigned send_errors;
} P;

static void *pack(unsigned src, uint64_t seq)
{
    return (void *)(uintptr_t)(((uint64_t)src << SEQ_BITS) | seq);
}

static void on_msg(void *arg)
{
    uint64_t v = (uint64_t)(uintptr_t)arg;
    unsigned src = (unsigned)(v >> SEQ_BITS), dst = ac_shard_id();
    uint64_t seq = v & ((1ull << SEQ_BITS) - 1);
    struct shard_state *st = &P.s[dst];
    if (st->expect[src] != seq)
        atomic_fetch_add(&P.out_of_order, 1);
    st->expect[src] = seq + 1;
    if (st->expect[src] == P.per_pair && atomic_fetch_add(&P.pairs_done, 1) + 1 == P.n * P.n)
        ac_runtime_stop(P.rt);
}

static void sender(struct ac_timer *t, void *arg)
{
    unsigned me = ac_shard_id();
    struct shard_state *st = &P.s[me];
    bool more = false;
    (void)arg;
    for (unsigned dst = 0; dst < P.n; dst++) {
        for (unsigned b = 0; b < BATCH && st->sent[dst] < P.per_pair; b++) {
            int err = ac_submit_to(dst, on_msg, pack(me, st->sent[dst]));
            if (err == -EAGAIN) {
                st->eagain++;
                break;
            }
            if (err) {
                atomic_fetch_add(&P.send_errors, 1);
                return;
            }
            st->sent[dst]++;
        }
        more |= st->sent[dst] < P.per_pair;
    }
    if (more && ac_timer_start(t, 0, sender, NULL))
        atomic_fetch_add(&P.send_errors, 1);
}

static void start_sender(void *arg, unsigned shard)
{
    (void)arg;
    if (ac_timer_start(&P.s[shard].driver, 0, sender, NULL))
        atomic_fetch_add(&P.send_errors, 1);
}

static void all_pairs(unsigned shards, bool oversubscribe, uint64_t per_pair, unsigned ring_size)
{
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = shards;
    cfg.oversubscribe = oversubscribe;
    cfg.msg_ring_size = ring_size;
    cfg.on_shard_start = start_sender;
    memset(&P, 0, sizeof P);
    P.n = shards;
    P.per_pair = per_pair;
    cr_assert_eq(ac_runtime_create(&cfg, &P.rt), 0);
    test_run(P.rt);
    cr_assert_eq(P.send_errors, 0);
    cr_assert_eq(P.out_of_order, 0, "messages overtook each other within a pair");
    cr_assert_eq(P.pairs_done, shards * shards);
    uint64_t run = 0;
    for (unsigned i = 0; i < shards; i++) {
        struct ac_shard_stats st;
        cr_assert_eq(ac_runtime_shard_stats(P.rt, i, &st), 0);
        run += st.msgs_run;
        for (unsigned src = 0; src < shards; src++)
            cr_assert_eq(P.s[i].expect[src], per_pair, "exactly once");
    }
    cr_assert_eq(run, (uint64_t)shards * shards * per_pair, "no extra message ran");
    ac_runtime_destroy(P.rt);
}

Test(runtime_msg, million_messages_per_ordered_pair_arrive_once_in_order, .timeout = 240)
{
    unsigned n = test_cpu_count() < MAXS ? test_cpu_count() : MAXS;
    all_pairs(n, false, 1000000 / AC_TEST_SCALE, 1024);
}

Test(runtime_msg, four_shards_on_shared_cpus_with_tiny_rings_lose_nothing, .timeout = 240)
{
    /* 16-slot rings make -EAGAIN (backpressure) frequent */
    all_pairs(4, true, 200000 / AC_TEST_SCALE, 16);
    uint64_t eagain = 0;
    for (unsigned i = 0; i < 4; i++)
        eagain += P.s[i].eagain;
    cr_assert_gt(eagain, 0, "the tiny rings never filled: backpressure path untested");
}

/* ---- a blocked target: -EAGAIN exactly when its ring is full ------------- */

#define RING 16
static struct {
    ac_runtime *rt;
    _Atomic int target_blocked, release;
    unsigned accepted_while_blocked;
    int refused_with;
    uint64_t next_seq, expect;
    unsigned total;
    struct ac_timer retry;
    _Atomic unsigned bad;
} B;

static void block_here(void *arg)
{
    (void)arg;
    atomic_store(&B.target_blocked, 1);
    while (!atomic_load(&B.release))
        sched_yield();
}

static void count_msg(void *arg)
{
    if ((uint64_t)(uintptr_t)arg != B.expect)
        atomic_fetch_add(&B.bad, 1);
    if (++B.expect == B.total)
        ac_runtime_stop(B.rt);
}

static void send_rest(struct ac_timer *t, void *arg)
{
    (void)arg;
    while (B.next_seq < B.total) {
        int err = ac_submit_to(1, count_msg, (void *)(uintptr_t)B.next_seq);
        if (err == -EAGAIN)
            break;
        if (err) {
            atomic_fetch_add(&B.bad, 1);
            return;
        }
        B.next_seq++;
    }
    if (B.next_seq < B.total && ac_timer_start(t, 0, send_rest, NULL))
        atomic_fetch_add(&B.bad, 1);
}

/* Shard 0, once shard 1 sits in block_here: fill its ring until refused. */
static void fill_when_blocked(struct ac_timer *t, void *arg)
{
    (void)arg;
    if (!atomic_load(&B.target_blocked)) {
        /* not there yet; our loop turn carries the wake-up to shard 1 */
        if (ac_timer_start(t, 0, fill_when_blocked, NULL))
            atomic_fetch_add(&B.bad, 1);
        return;
    }
    int err;
    while ((err = ac_submit_to(1, count_msg, (void *)(uintptr_t)B.next_seq)) == 0) {
        B.next_seq++;
        B.accepted_while_blocked++;
    }
    B.refused_with = err;
    atomic_store(&B.release, 1);
    if (ac_timer_start(t, 0, send_rest, NULL))
        atomic_fetch_add(&B.bad, 1);
}

static void start_blocking(void *arg, unsigned shard)
{
    (void)arg;
    if (shard != 0)
        return;
    if (ac_submit_to(1, block_here, NULL) || ac_timer_start(&B.retry, 0, fill_when_blocked, NULL))
        atomic_fetch_add(&B.bad, 1);
}

Test(runtime_msg, full_ring_refuses_with_eagain_and_loses_nothing)
{
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = 2;
    cfg.oversubscribe = true;
    cfg.msg_ring_size = RING;
    cfg.stall_threshold_ns = 60ull * 1000 * 1000 * 1000; /* block_here is meant to stall */
    cfg.on_shard_start = start_blocking;
    memset(&B, 0, sizeof B);
    B.total = 1000;
    cr_assert_eq(ac_runtime_create(&cfg, &B.rt), 0);
    test_run(B.rt);
    cr_assert_eq(B.refused_with, -EAGAIN);
    cr_assert_eq(B.accepted_while_blocked, RING, "a blocked target takes exactly one ring");
    cr_assert_eq(B.bad, 0);
    cr_assert_eq(B.expect, B.total, "every message arrived once, in order");
    struct ac_shard_stats st;
    cr_assert_eq(ac_runtime_shard_stats(B.rt, 0, &st), 0);
    cr_assert_geq(st.msgs_full, 1);
    ac_runtime_destroy(B.rt);
}

/* ---- non-shard threads --------------------------------------------------- */

#define EXT_THREADS 3
static struct {
    ac_runtime *rt;
    unsigned n;
    unsigned per_thread;
    uint64_t expect[MAXS][EXT_THREADS]; /* [shard][thread], owned by the shard */
    _Atomic unsigned done, bad;
} X;

static void ext_msg(void *arg)
{
    uint64_t v = (uint64_t)(uintptr_t)arg;
    unsigned th = (unsigned)(v >> SEQ_BITS), me = ac_shard_id();
    uint64_t seq = v & ((1ull << SEQ_BITS) - 1);
    if (me >= X.n || X.expect[me][th] != seq)
        atomic_fetch_add(&X.bad, 1);
    X.expect[me][th] = seq + 1;
    if (atomic_fetch_add(&X.done, 1) + 1 == X.n * EXT_THREADS * X.per_thread)
        ac_runtime_stop(X.rt);
}

static void *ext_thread(void *arg)
{
    unsigned th = (unsigned)(uintptr_t)arg;
    for (unsigned i = 0; i < X.per_thread; i++) {
        for (unsigned sh = 0; sh < X.n; sh++) {
            int err;
            while ((err = ac_runtime_submit(X.rt, sh, ext_msg, pack(th, i))) == -EAGAIN)
                sched_yield();
            if (err)
                atomic_fetch_add(&X.bad, 1);
        }
    }
    return NULL;
}

static void *run_thread(void *arg)
{
    return (void *)(intptr_t)ac_runtime_run(arg);
}

Test(runtime_msg, messages_from_non_shard_threads_arrive_in_order_per_thread)
{
    ac_runtime_config cfg;
    pthread_t runner, th[EXT_THREADS];
    void *ret;
    test_config(&cfg);
    cfg.ext_inbox_size = 64; /* small: producers meet a full inbox */
    memset(&X, 0, sizeof X);
    cr_assert_eq(ac_runtime_create(&cfg, &X.rt), 0);
    X.n = ac_runtime_shard_count(X.rt);
    X.per_thread = 20000 / AC_TEST_SCALE;
    /* Some messages are queued before the runtime even starts. */
    cr_assert_eq(pthread_create(&th[0], NULL, ext_thread, (void *)0), 0);
    cr_assert_eq(pthread_create(&runner, NULL, run_thread, X.rt), 0);
    for (unsigned i = 1; i < EXT_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, ext_thread, (void *)(uintptr_t)i), 0);
    for (unsigned i = 0; i < EXT_THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_join(runner, &ret);
    cr_assert_eq((intptr_t)ret, 0);
    cr_assert_eq(X.bad, 0);
    cr_assert_eq(X.done, X.n * EXT_THREADS * X.per_thread);
    cr_assert_eq(ac_runtime_submit(X.rt, 0, ext_msg, NULL), -ECANCELED,
                 "a stopped runtime refuses new messages");
    cr_assert_eq(ac_runtime_submit(X.rt, X.n, ext_msg, NULL), -EINVAL);
    ac_runtime_destroy(X.rt);
}
