/*
 * Session placement (stable, spread) and per-session state on the owner
 * shard with a TTL on the shard's timer wheel.
 */
#include "runtime/helpers.h"

#include <errno.h>
#include <stdatomic.h>

Test(runtime_agent_session, placement_hash_is_stable)
{
    /* Golden values (checked against an independent Python FNV-1a + fmix64):
     * changing the hash moves every session; do it knowingly. */
    cr_assert_eq(ac_session_hash("", 0), 0xefd01f60ba992926ull, "%llx",
                 (unsigned long long)ac_session_hash("", 0));
    cr_assert_eq(ac_session_hash("session-1", 9), 0xf267abb32d450b1full, "%llx",
                 (unsigned long long)ac_session_hash("session-1", 9));
    cr_assert_eq(ac_session_shard("session-1", 1), 0);
    for (unsigned n = 1; n <= 16; n++)
        cr_assert_eq(ac_session_shard("user-42", n), ac_session_hash("user-42", 7) % n);
}

Test(runtime_agent_session, sequential_ids_spread_evenly_over_shards)
{
    static const unsigned counts[] = {2, 3, 4, 8};
    const unsigned ids = 40000;
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        unsigned n = counts[k], per[8] = {0};
        char id[32];
        for (unsigned i = 0; i < ids; i++) {
            snprintf(id, sizeof id, "session-%u", i);
            per[ac_session_shard(id, n)]++;
        }
        for (unsigned s = 0; s < n; s++) /* within 5% of an even share */
            cr_assert(per[s] > ids / n * 95 / 100 && per[s] < ids / n * 105 / 100,
                      "%u shards: shard %u got %u of %u", n, s, per[s], ids);
    }
}

/* ---- TTL ----------------------------------------------------------------- */

#define TTL_MS 20
static struct {
    ac_runtime *rt;
    ac_agent_host *host;
    struct ac_timer t15, t30, t60;
    _Atomic int step_errors;
    _Atomic int present_at_30, gone_at_60, refreshed_value;
    _Atomic int exdev;
} S;

static void fail_step(const char *what)
{
    cr_log_warn("step failed: %s", what);
    atomic_fetch_add(&S.step_errors, 1);
}

static void at15(struct ac_timer *t, void *arg)
{
    (void)t, (void)arg;
    json_t *v = ac_session_get("ttl-session"); /* refreshes the TTL */
    if (!v)
        fail_step("session gone at 15 ms");
    else
        atomic_store(&S.refreshed_value, (int)json_integer_value(v));
}

static void at30(struct ac_timer *t, void *arg)
{
    (void)t, (void)arg;
    atomic_store(&S.present_at_30, ac_session_count() == 1);
}

static void at60(struct ac_timer *t, void *arg)
{
    (void)t, (void)arg;
    atomic_store(&S.gone_at_60, ac_session_count() == 0 && !ac_session_get("ttl-session"));
    ac_runtime_stop(S.rt);
}

static void ttl_start(void *arg, unsigned shard)
{
    (void)arg;
    if (ac_agent_host_shard_start(S.host, shard))
        fail_step("shard start");
    if (ac_session_put("ttl-session", json_integer(7)))
        fail_step("put");
    /* deadline order decides: the refresh at 15 ms moves expiry to 35 ms */
    if (ac_timer_start(&S.t15, 15000000, at15, NULL) ||
        ac_timer_start(&S.t30, 30000000, at30, NULL) ||
        ac_timer_start(&S.t60, 60000000, at60, NULL))
        fail_step("timers");
}

static void stop_hook(void *arg, unsigned shard)
{
    (void)arg;
    ac_agent_host_shard_stop(S.host, shard);
}

/* Runs a runtime of hc->shards shards whose start hook is `start`, until it stops. */
static void run_host(const struct ac_agent_host_config *hc, ac_shard_hook_fn start)
{
    ac_runtime_config cfg;
    test_config(&cfg);
    cfg.shards = hc->shards;
    cfg.oversubscribe = hc->shards > 1;
    cfg.on_shard_start = start;
    cfg.on_shard_stop = stop_hook;
    cr_assert_eq(ac_agent_host_create(hc, &S.host), 0);
    cr_assert_eq(ac_runtime_create(&cfg, &S.rt), 0);
    test_run(S.rt);
    cr_assert_eq(S.step_errors, 0);
}

Test(runtime_agent_session, ttl_expires_idle_sessions_and_get_refreshes, .timeout = 30)
{
    run_host(&(struct ac_agent_host_config){.shards = 1, .session_ttl_ns = TTL_MS * 1000000ull},
             ttl_start);
    cr_assert_eq(S.refreshed_value, 7);
    cr_assert(S.present_at_30, "get at 15 ms did not refresh the TTL");
    cr_assert(S.gone_at_60, "session outlived its TTL");
    ac_runtime_destroy(S.rt);
    ac_agent_host_destroy(S.host);
}

/* A session owned by shard 1 cannot be written from shard 0. */
static void exdev_start(void *arg, unsigned shard)
{
    char id[32];
    (void)arg;
    if (ac_agent_host_shard_start(S.host, shard))
        fail_step("shard start");
    if (shard != 0)
        return;
    for (unsigned i = 0;; i++) {
        snprintf(id, sizeof id, "s%u", i);
        if (ac_session_shard(id, 2) == 1)
            break;
    }
    atomic_store(&S.exdev, ac_session_put(id, json_true()) == -EXDEV && !ac_session_get(id) &&
                               ac_session_count() == 0);
    ac_runtime_stop(S.rt);
}

Test(runtime_agent_session, only_the_owner_shard_stores_a_session, .timeout = 30)
{
    run_host(&(struct ac_agent_host_config){.shards = 2}, exdev_start);
    cr_assert(S.exdev);
    ac_runtime_destroy(S.rt);
    ac_agent_host_destroy(S.host);
}

/* ---- the cap ------------------------------------------------------------- */

static _Atomic int lru_ok;

static void lru_start(void *arg, unsigned shard)
{
    char id[16];
    bool ok = true;
    (void)arg;
    if (ac_agent_host_shard_start(S.host, shard))
        fail_step("shard start");
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "s%d", i);
        ok = ok && ac_session_put(id, json_integer(i)) == 0;
    }
    ok = ok && ac_session_get("s0") != NULL; /* s0 is now the most recent: s1 goes first */
    for (int i = 4; i < 10; i++) {
        snprintf(id, sizeof id, "s%d", i);
        ok = ok && ac_session_put(id, json_integer(i)) == 0 && ac_session_count() == 4;
    }
    /* 10 puts into 4 places: 6 evicted, least recently used first:
     * s1, s2, s3 (s0 was read after them), then s0, s4, s5 */
    ok = ok && ac_session_evictions() == 6;
    ok = ok && !ac_session_get("s0") && !ac_session_get("s1") && !ac_session_get("s5");
    for (int i = 6; i < 10; i++) {
        snprintf(id, sizeof id, "s%d", i);
        json_t *v = ac_session_get(id);
        ok = ok && v && json_integer_value(v) == i;
    }
    atomic_store(&lru_ok, ok);
    ac_runtime_stop(S.rt);
}

Test(runtime_agent_session, session_max_evicts_the_least_recently_used, .timeout = 30)
{
    run_host(&(struct ac_agent_host_config){.shards = 1, .session_max = 4}, lru_start);
    cr_assert(atomic_load(&lru_ok), "eviction order or count wrong");
    ac_runtime_destroy(S.rt);
    ac_agent_host_destroy(S.host);
}
