/*
 * Timer wheel on synthetic time: every expire(now) must fire exactly the
 * timers whose deadline is ≤ now, in deadline order.
 */
#include "agentcore/timer.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#define MS (1000ull * 1000)
#define S  (1000ull * MS)

struct rec {
    struct ac_timer t;
    uint64_t deadline;
    int fired;
    bool cancelled;
};

static uint64_t now_fake;
static uint64_t last_fired_deadline;
static unsigned order_violations, early;

static void on_fire(struct ac_timer *t, void *arg)
{
    struct rec *r = arg;
    (void)t;
    r->fired++;
    if (r->deadline > now_fake)
        early++;
    if (r->deadline < last_fired_deadline)
        order_violations++;
    last_fired_deadline = r->deadline;
}

static uint64_t rnd64(void)
{
    return ((uint64_t)(unsigned)rand() << 31) ^ (uint64_t)(unsigned)rand();
}

static void add(struct ac_timer_wheel *w, struct rec *r, uint64_t deadline)
{
    r->deadline = deadline;
    r->t.cb = on_fire;
    r->t.arg = r;
    ac_timer_wheel_add(w, &r->t, deadline);
}

/* Drives the wheel the way the shard loop does: sleep until next(), expire. */
static void run_until_empty(struct ac_timer_wheel *w, struct rec *recs, unsigned n,
                            uint64_t max_step)
{
    unsigned guard = 0;
    while (w->count) {
        uint64_t next = ac_timer_wheel_next(w);
        cr_assert_neq(next, UINT64_MAX);
        /* next() is never after the earliest pending deadline */
        for (unsigned i = 0; i < n; i++)
            if (recs[i].t.armed)
                cr_assert_leq(next, recs[i].deadline);
        uint64_t step = max_step ? rnd64() % max_step : 0;
        now_fake = (next > now_fake ? next : now_fake) + step;
        ac_timer_wheel_expire(w, now_fake);
        for (unsigned i = 0; i < n; i++) {
            if (recs[i].cancelled)
                continue;
            /* everything due has fired, nothing else */
            cr_assert_eq(recs[i].fired, recs[i].deadline <= now_fake ? 1 : 0,
                         "timer %u deadline %llu now %llu fired %d", i,
                         (unsigned long long)recs[i].deadline, (unsigned long long)now_fake,
                         recs[i].fired);
        }
        cr_assert_lt(++guard, 100000, "wheel does not make progress");
    }
}

static void reset(void)
{
    now_fake = 1000 * S;
    last_fired_deadline = 0;
    order_violations = early = 0;
    srand(42);
}

Test(sched_timer_wheel, ten_thousand_random_timers_fire_in_order_never_early)
{
    enum { N = 10000 };
    struct ac_timer_wheel w;
    struct rec *recs = calloc(N, sizeof *recs);
    reset();
    ac_timer_wheel_init(&w, now_fake);
    for (unsigned i = 0; i < N; i++)
        add(&w, &recs[i], now_fake + rnd64() % (20 * S));
    cr_assert_eq(w.count, N);
    /* expire in big random steps; fired set checked after each step */
    unsigned guard = 0;
    while (w.count) {
        now_fake += rnd64() % (50 * MS);
        ac_timer_wheel_expire(&w, now_fake);
        cr_assert_lt(++guard, 100000);
    }
    for (unsigned i = 0; i < N; i++)
        cr_assert_eq(recs[i].fired, 1);
    cr_assert_eq(early, 0);
    cr_assert_eq(order_violations, 0);
    free(recs);
}

Test(sched_timer_wheel, next_deadline_drives_exact_expiry_across_all_levels)
{
    enum { N = 2000 };
    struct ac_timer_wheel w;
    struct rec *recs = calloc(N, sizeof *recs);
    reset();
    ac_timer_wheel_init(&w, now_fake);
    for (unsigned i = 0; i < N; i++) {
        /* spans level 0 (µs) to the top level (days) */
        uint64_t span = 1000ull << (rand() % 46);
        add(&w, &recs[i], now_fake + rnd64() % span);
    }
    run_until_empty(&w, recs, N, 0);
    cr_assert_eq(early, 0);
    cr_assert_eq(order_violations, 0);
    free(recs);
}

Test(sched_timer_wheel, cancelled_timers_never_fire)
{
    enum { N = 3000 };
    struct ac_timer_wheel w;
    struct rec *recs = calloc(N, sizeof *recs);
    reset();
    ac_timer_wheel_init(&w, now_fake);
    for (unsigned i = 0; i < N; i++)
        add(&w, &recs[i], now_fake + rnd64() % (10 * S));
    for (unsigned i = 0; i < N; i += 3) {
        ac_timer_wheel_del(&w, &recs[i].t);
        recs[i].cancelled = true;
        cr_assert(!recs[i].t.armed);
    }
    cr_assert_eq(w.count, N - N / 3);
    run_until_empty(&w, recs, N, 5 * MS);
    for (unsigned i = 0; i < N; i++)
        cr_assert_eq(recs[i].fired, recs[i].cancelled ? 0 : 1);
    free(recs);
}

static unsigned fifo_order[64], fifo_n;

static void on_fire_fifo(struct ac_timer *t, void *arg)
{
    (void)t;
    fifo_order[fifo_n++] = (unsigned)(uintptr_t)arg;
}

Test(sched_timer_wheel, equal_deadlines_fire_in_start_order)
{
    struct ac_timer_wheel w;
    struct ac_timer timers[50] = {0};
    reset();
    fifo_n = 0;
    ac_timer_wheel_init(&w, now_fake);
    /* 3 s away: placed on level 2, sorted into level 0 when cascaded */
    for (unsigned i = 0; i < 50; i++) {
        timers[i].cb = on_fire_fifo;
        timers[i].arg = (void *)(uintptr_t)i;
        ac_timer_wheel_add(&w, &timers[i], now_fake + 3 * S);
    }
    while (w.count) {
        uint64_t next = ac_timer_wheel_next(&w);
        now_fake = next > now_fake ? next : now_fake;
        ac_timer_wheel_expire(&w, now_fake);
    }
    cr_assert_eq(fifo_n, 50);
    for (unsigned i = 0; i < 50; i++)
        cr_assert_eq(fifo_order[i], i);
}

static struct ac_timer_wheel *restart_wheel;
static unsigned restarts;

static void restart_zero(struct ac_timer *t, void *arg)
{
    (void)arg;
    restarts++;
    ac_timer_wheel_add(restart_wheel, t, now_fake); /* due immediately */
}

Test(sched_timer_wheel, timer_restarted_from_its_callback_fires_next_call_not_in_a_loop)
{
    struct ac_timer_wheel w;
    struct ac_timer t = {.cb = restart_zero};
    reset();
    ac_timer_wheel_init(&w, now_fake);
    restart_wheel = &w;
    restarts = 0;
    ac_timer_wheel_add(&w, &t, now_fake + MS);
    now_fake += MS;
    cr_assert_eq(ac_timer_wheel_expire(&w, now_fake), 1);
    cr_assert_eq(restarts, 1);
    cr_assert(t.armed);
    cr_assert_eq(ac_timer_wheel_next(&w), 0, "a deferred timer is due at once");
    cr_assert_eq(ac_timer_wheel_expire(&w, now_fake), 1);
    cr_assert_eq(restarts, 2);
    ac_timer_wheel_del(&w, &t);
    cr_assert_eq(w.count, 0);
}

Test(sched_timer_wheel, deadlines_beyond_the_wheel_span_still_fire)
{
    struct ac_timer_wheel w;
    struct rec r = {0};
    reset();
    ac_timer_wheel_init(&w, now_fake);
    add(&w, &r, now_fake + 200ull * 24 * 3600 * S); /* 200 days */
    unsigned wakeups = 0;
    while (w.count) {
        now_fake = ac_timer_wheel_next(&w);
        ac_timer_wheel_expire(&w, now_fake);
        cr_assert_lt(++wakeups, 1000);
    }
    cr_assert_eq(r.fired, 1);
    cr_assert_eq(early, 0);
}

Test(sched_timer_wheel, empty_wheel_has_no_next_deadline)
{
    struct ac_timer_wheel w;
    ac_timer_wheel_init(&w, 12345);
    cr_assert_eq(ac_timer_wheel_next(&w), UINT64_MAX);
    cr_assert_eq(ac_timer_wheel_expire(&w, 99999999), 0);
}

Test(sched_timer, start_outside_a_shard_is_refused)
{
    struct ac_timer t = {0};
    ac_timer_wheel_set_current(NULL);
    cr_assert_eq(ac_timer_start(&t, 1000, NULL, NULL), -ENXIO);
    cr_assert(!ac_timer_cancel(&t));
}
