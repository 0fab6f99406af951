/*
 * Plain pthreads acting as shards, for the stealing test and benchmark
 * (tests/sched/test_steal.c, bench/sched_steal.c) until the runtime wires
 * the scheduler in. Each "shard" runs the loop of the runtime contract in
 * agentcore/sched.h; a mutex+condvar inbox stands in for the runtime's
 * message rings and the condvar wait for io_uring_enter (a wake() is the
 * MSG_RING). Header-only, all static inline.
 */
#ifndef AC_TESTS_PTHREAD_SHARDS_H
#define AC_TESTS_PTHREAD_SHARDS_H

#include "agentcore/sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#define PSHARD_MAX   4
#define PSHARD_INBOX 1024

struct pshard_msg {
    void (*fn)(void *);
    void *arg;
};

struct pshard {
    ac_sched *s;
    pthread_t th;
    unsigned id;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pshard_msg inbox[PSHARD_INBOX];
    unsigned head, len;
    bool woken, asleep; /* under mu */
    atomic_uint wakes;  /* wake() calls aimed at this shard */
};

struct pshard_world {
    struct pshard sh[PSHARD_MAX];
    unsigned n;
    ac_steal_group *group;
    atomic_bool stop;
};

/* hooks.post: queue fn(fnarg) for the shard; -EAGAIN when its inbox is full. */
static inline int pshard_post(void *arg, unsigned shard, void (*fn)(void *), void *fnarg)
{
    struct pshard *t = &((struct pshard_world *)arg)->sh[shard];
    int r = -EAGAIN;
    pthread_mutex_lock(&t->mu);
    if (t->len < PSHARD_INBOX) {
        t->inbox[(t->head + t->len++) % PSHARD_INBOX] = (struct pshard_msg){fn, fnarg};
        pthread_cond_signal(&t->cv);
        r = 0;
    }
    pthread_mutex_unlock(&t->mu);
    return r;
}

/* hooks.wake */
static inline void pshard_wake(void *arg, unsigned shard)
{
    struct pshard *t = &((struct pshard_world *)arg)->sh[shard];
    atomic_fetch_add(&t->wakes, 1);
    pthread_mutex_lock(&t->mu);
    t->woken = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/* n shards (flat topology) sharing one steal group. 0 or -errno. */
static inline int pshard_world_init(struct pshard_world *w, unsigned n, unsigned queue_size,
                                    bool stealing)
{
    int err = ac_steal_group_create(n, &w->group);
    if (err)
        return err;
    w->n = n;
    atomic_init(&w->stop, false);
    ac_sched *peers[PSHARD_MAX];
    uint8_t dist[PSHARD_MAX] = {0};
    for (unsigned i = 0; i < n; i++) {
        struct pshard *p = &w->sh[i];
        struct ac_sched_config cfg;
        ac_sched_config_default(&cfg);
        cfg.shard_id = i;
        cfg.queue_size = queue_size;
        cfg.stealing = stealing;
        cfg.group = w->group;
        cfg.hooks = (struct ac_sched_hooks){.arg = w, .post = pshard_post, .wake = pshard_wake};
        err = ac_sched_create(&cfg, &p->s);
        if (err)
            return err;
        peers[i] = p->s;
        p->id = i;
        p->head = p->len = 0;
        p->woken = p->asleep = false;
        atomic_init(&p->wakes, 0);
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->cv, NULL);
    }
    for (unsigned i = 0; i < n && !err; i++)
        err = ac_sched_set_peers(w->sh[i].s, peers, n, dist);
    return err;
}

static inline void pshard_world_destroy(struct pshard_world *w)
{
    for (unsigned i = 0; i < w->n; i++) {
        ac_sched_destroy(w->sh[i].s);
        pthread_mutex_destroy(&w->sh[i].mu);
        pthread_cond_destroy(&w->sh[i].cv);
    }
    ac_steal_group_destroy(w->group);
}

/* Asks every shard's loop to return. Any thread. */
static inline void pshard_stop(struct pshard_world *w)
{
    atomic_store(&w->stop, true);
    for (unsigned i = 0; i < w->n; i++) {
        pthread_mutex_lock(&w->sh[i].mu);
        pthread_cond_signal(&w->sh[i].cv);
        pthread_mutex_unlock(&w->sh[i].mu);
    }
}

static inline bool pshard_asleep(struct pshard *p)
{
    pthread_mutex_lock(&p->mu);
    bool a = p->asleep;
    pthread_mutex_unlock(&p->mu);
    return a;
}

/* The shard loop; returns after pshard_stop. Runs on the shard's thread. */
static inline void pshard_loop(struct pshard_world *w, struct pshard *me)
{
    ac_sched_set_current(me->s);
    while (!atomic_load(&w->stop)) {
        ac_sched_run(me->s, 64);
        pthread_mutex_lock(&me->mu);
        while (me->len) {
            struct pshard_msg m = me->inbox[me->head];
            me->head = (me->head + 1) % PSHARD_INBOX;
            me->len--;
            pthread_mutex_unlock(&me->mu);
            m.fn(m.arg);
            pthread_mutex_lock(&me->mu);
        }
        pthread_mutex_unlock(&me->mu);
        if (ac_sched_has_ready(me->s) || ac_sched_steal(me->s) || !ac_sched_sleep_prepare(me->s))
            continue;
        pthread_mutex_lock(&me->mu);
        me->asleep = true;
        /* Untimed: a lost wake-up hangs (tests: into their timeout). */
        while (!me->woken && !me->len && !atomic_load(&w->stop))
            pthread_cond_wait(&me->cv, &me->mu);
        me->woken = me->asleep = false;
        pthread_mutex_unlock(&me->mu);
        ac_sched_sleep_done(me->s);
    }
}

#endif
