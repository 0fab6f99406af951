/*
 * The alert state machine, fed synthetic samples one "second" apart (the
 * sample time is the engine's only clock, so no test waits).
 */
#include "agentcore/alert.h"

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#define SEC 1000000000ull

struct seen {
    unsigned n;
    enum ac_alert_state from[32], to[32];
    uint64_t at[32];
};

static void record(void *arg, const struct ac_alert_status *now, enum ac_alert_state from)
{
    struct seen *s = arg;
    cr_assert_lt(s->n, 32);
    s->from[s->n] = from;
    s->to[s->n] = now->state;
    s->at[s->n] = now->since_ns;
    s->n++;
}

static ac_alert_engine *engine(const char *cond, uint64_t duration_ns, struct seen *seen)
{
    struct ac_alert_rule r;
    struct ac_alert_error err;
    ac_alert_engine *e;
    cr_assert_eq(ac_alert_rule_init(&r, "rule", cond, duration_ns, AC_ALERT_WARNING, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(ac_alert_engine_create(
                     &(struct ac_alert_engine_config){
                         .rules = &r, .nrules = 1, .on_transition = record, .arg = seen},
                     &e),
                 0);
    return e;
}

static struct ac_alert_sample sample(uint64_t sec)
{
    return (struct ac_alert_sample){.t_ns = (sec + 1) * SEC,
                                    .qps = 1000,
                                    .p50_latency = 0.001,
                                    .p99_latency = 0.002,
                                    .error_rate = 0,
                                    .memory_bytes = 1e8,
                                    .queue_length = 0};
}

/* One ordinary sample at second t. */
static void feed(ac_alert_engine *e, uint64_t t)
{
    struct ac_alert_sample s = sample(t);
    ac_alert_engine_eval(e, &s);
}

static enum ac_alert_state state(const ac_alert_engine *e)
{
    struct ac_alert_status st;
    cr_assert_eq(ac_alert_engine_status(e, 0, &st), 0);
    return st.state;
}

Test(alert_engine, pending_firing_resolved_with_duration)
{
    struct seen seen = {0};
    ac_alert_engine *e = engine("p99_latency > 10ms", 30 * SEC, &seen);
    uint64_t t = 0;
    for (; t < 5; t++)
        feed(e, t);
    cr_assert_eq(state(e), AC_ALERT_INACTIVE);
    cr_assert_eq(seen.n, 0);
    /* slow from t=5: pending at once, firing once 30 s have passed */
    for (; t < 35; t++) {
        struct ac_alert_sample s = sample(t);
        s.p99_latency = 0.020;
        ac_alert_engine_eval(e, &s);
        cr_assert_eq(state(e), AC_ALERT_PENDING, "t=%llu", (unsigned long long)t);
    }
    struct ac_alert_sample s = sample(t++);
    s.p99_latency = 0.020;
    ac_alert_engine_eval(e, &s);
    cr_assert_eq(state(e), AC_ALERT_FIRING);
    feed(e, t++);
    cr_assert_eq(state(e), AC_ALERT_RESOLVED);
    cr_assert_eq(seen.n, 3);
    cr_assert_eq(seen.from[0], AC_ALERT_INACTIVE);
    cr_assert_eq(seen.to[0], AC_ALERT_PENDING);
    cr_assert_eq(seen.to[1], AC_ALERT_FIRING);
    cr_assert_eq(seen.at[1] - seen.at[0], 30 * SEC);
    cr_assert_eq(seen.from[2], AC_ALERT_FIRING);
    cr_assert_eq(seen.to[2], AC_ALERT_RESOLVED);
    /* true again: pending again from resolved */
    s = sample(t++);
    s.p99_latency = 0.5;
    ac_alert_engine_eval(e, &s);
    cr_assert_eq(seen.from[3], AC_ALERT_RESOLVED);
    cr_assert_eq(seen.to[3], AC_ALERT_PENDING);
    ac_alert_engine_destroy(e);
}

Test(alert_engine, short_spike_goes_back_to_inactive)
{
    struct seen seen = {0};
    ac_alert_engine *e = engine("error_rate > 5%", 10 * SEC, &seen);
    for (uint64_t t = 0; t < 21; t++) {
        struct ac_alert_sample s = sample(t);
        s.error_rate = (t % 5 == 4) ? 0.5 : 0.01; /* one bad second in five */
        ac_alert_engine_eval(e, &s);
    }
    cr_assert_eq(state(e), AC_ALERT_INACTIVE);
    cr_assert_eq(seen.n, 8, "4 spikes, each pending then inactive");
    for (unsigned i = 0; i < seen.n; i++)
        cr_assert_neq(seen.to[i], AC_ALERT_FIRING);
    ac_alert_engine_destroy(e);
}

Test(alert_engine, zero_duration_fires_on_first_true_sample)
{
    struct seen seen = {0};
    ac_alert_engine *e = engine("queue_length >= 100", 0, &seen);
    struct ac_alert_sample s = sample(0);
    s.queue_length = 100;
    ac_alert_engine_eval(e, &s);
    cr_assert_eq(seen.n, 1);
    cr_assert_eq(seen.from[0], AC_ALERT_INACTIVE);
    cr_assert_eq(seen.to[0], AC_ALERT_FIRING);
    ac_alert_engine_destroy(e);
}

Test(alert_engine, qps_drop_against_trailing_baseline)
{
    struct seen seen = {0};
    ac_alert_engine *e = engine("qps < 0.7 * baseline", 60 * SEC, &seen);
    struct ac_alert_status st;
    uint64_t t = 0;
    for (; t < 600; t++) /* ten steady minutes at 1000 req/s */
        feed(e, t);
    cr_assert_eq(state(e), AC_ALERT_INACTIVE);
    cr_assert_eq(ac_alert_engine_status(e, 0, &st), 0);
    cr_assert_float_eq(st.threshold, 700, 1e-9);
    /* a 20 % dip does not count; a 50 % drop does, after a minute */
    for (uint64_t end = t + 120; t < end; t++) {
        struct ac_alert_sample s = sample(t);
        s.qps = 800;
        ac_alert_engine_eval(e, &s);
    }
    cr_assert_eq(state(e), AC_ALERT_INACTIVE);
    uint64_t drop = t;
    for (uint64_t end = t + 61; t < end; t++) {
        struct ac_alert_sample s = sample(t);
        s.qps = 500;
        ac_alert_engine_eval(e, &s);
    }
    cr_assert_eq(state(e), AC_ALERT_FIRING);
    cr_assert_eq(seen.n, 2);
    cr_assert_eq(seen.at[0], (drop + 1) * SEC, "pending on the first low second");
    cr_assert_eq(seen.at[1] - seen.at[0], 60 * SEC);
    ac_alert_engine_destroy(e);
}

Test(alert_engine, memory_growth_is_the_slope_over_a_minute)
{
    struct seen seen = {0};
    ac_alert_engine *e = engine("memory_growth_rate > 10MB/s", 5 * 60 * SEC, &seen);
    struct ac_alert_status st;
    uint64_t t = 0;
    double mem = 1e8;
    for (; t < 120; t++, mem += 5e6) /* 5 MB/s: below */
        ac_alert_engine_eval(
            e, &(struct ac_alert_sample){.t_ns = (t + 1) * SEC, .memory_bytes = mem, .qps = NAN});
    cr_assert_eq(ac_alert_engine_status(e, 0, &st), 0);
    cr_assert_float_eq(st.value, 5e6, 1);
    cr_assert_eq(st.state, AC_ALERT_INACTIVE);
    for (uint64_t end = t + 400; t < end; t++, mem += 20e6) /* 20 MB/s for 400 s */
        ac_alert_engine_eval(e,
                             &(struct ac_alert_sample){.t_ns = (t + 1) * SEC, .memory_bytes = mem});
    cr_assert_eq(ac_alert_engine_status(e, 0, &st), 0);
    cr_assert_eq(st.state, AC_ALERT_FIRING);
    cr_assert_float_eq(st.value, 20e6, 1);
    /* the slope passes 10 MB/s a few seconds into the ramp; 5 min later it fires */
    cr_assert_eq(seen.at[1] - seen.at[0], 300 * SEC);
    ac_alert_engine_destroy(e);
}

Test(alert_engine, no_data_never_fires)
{
    struct seen seen = {0};
    ac_alert_engine *e = engine("p99_latency > 10ms", 0, &seen);
    struct ac_alert_sample s = sample(0);
    s.p99_latency = NAN;
    ac_alert_engine_eval(e, &s);
    cr_assert_eq(seen.n, 0);
    ac_alert_engine_destroy(e);
}

Test(alert_engine, older_samples_are_ignored)
{
    struct seen seen = {0};
    ac_alert_engine *e = engine("queue_length > 5", 0, &seen);
    struct ac_alert_sample s = sample(10);
    ac_alert_engine_eval(e, &s);
    s = sample(3);
    s.queue_length = 50;
    ac_alert_engine_eval(e, &s);
    cr_assert_eq(seen.n, 0);
    ac_alert_engine_destroy(e);
}

Test(alert_engine, without_callback_transitions_are_logged)
{
    struct ac_alert_rule r;
    struct ac_alert_error err;
    ac_alert_engine *e;
    int fds[2];
    char buf[1024] = {0};
    cr_assert_eq(
        ac_alert_rule_init(&r, "QueueLong", "queue_length > 5", 0, AC_ALERT_CRITICAL, &err), 0);
    cr_assert_eq(
        ac_alert_engine_create(&(struct ac_alert_engine_config){.rules = &r, .nrules = 1}, &e), 0);
    cr_assert_eq(pipe(fds), 0);
    int saved = dup(2);
    dup2(fds[1], 2);
    struct ac_alert_sample s = sample(0);
    s.queue_length = 9;
    ac_alert_engine_eval(e, &s);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    cr_assert_gt(read(fds[0], buf, sizeof buf - 1), 0);
    close(fds[0]);
    cr_assert_not_null(strstr(buf, "level=warn"), "%s", buf);
    cr_assert_not_null(strstr(buf, "alert QueueLong firing (was inactive): queue_length > 5"), "%s",
                       buf);
    ac_alert_engine_destroy(e);
}
