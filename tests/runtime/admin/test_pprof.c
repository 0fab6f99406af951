/*
 * CPU profiles (runtime/admin/pprof.c): a one-second profile taken while
 * both shards burn CPU is a file google-pprof reads, and it names the
 * functions that burned; the guard admits one profile at a time; a
 * cancelled profile reports -ECANCELED. google-pprof missing is a skip.
 */
#include "runtime/helpers.h"

#include "pprof.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#define GOOGLE_PPROF "/usr/bin/google-pprof"

struct run {
    struct ac__pprof pp;
    unsigned seconds;
    _Atomic bool done;
    int res, start_err, second_err, off_range_err;
    size_t len;
    char path[256];
    bool cancel; /* cancel the profile right after starting it */
};

/* Burns CPU in agentcore code (ac_alloc/ac_free) and in a named function
 * of ours, in slices, until the profile is done. */
__attribute__((noinline)) static void burn_cpu_slice(void)
{
    uint64_t end = ac_now_ns() + 2000000;
    while (ac_now_ns() < end) {
        void *p = ac_alloc(64);
        __asm__ volatile("" : : "r"(p) : "memory");
        ac_free(p);
    }
}

static void burn(void *arg)
{
    struct run *r = arg;
    burn_cpu_slice();
    if (!atomic_load(&r->done))
        cr_assert_eq(ac_spawn(AC_PRIO_NORMAL, burn, r), 0);
}

static void profile_done(void *arg, int res, const void *profile, size_t len)
{
    struct run *r = arg;
    r->res = res;
    r->len = len;
    if (res == 0) {
        FILE *f = fopen(r->path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(profile, 1, len, f), len);
        fclose(f);
    }
    atomic_store(&r->done, true);
    ac_runtime_stop(ac_runtime_current());
}

static void on_start(void *arg, unsigned shard)
{
    struct run *r = arg;
    if (!r->cancel)
        cr_assert_eq(ac_spawn(AC_PRIO_NORMAL, burn, r), 0);
    if (shard != 0)
        return;
    r->off_range_err = ac__pprof_cpu_start(&r->pp, AC_PPROF_MAX_SECONDS + 1, profile_done, r);
    r->start_err = ac__pprof_cpu_start(&r->pp, r->seconds, profile_done, r);
    r->second_err = ac__pprof_cpu_start(&r->pp, r->seconds, profile_done, r);
    if (r->start_err)
        ac_runtime_stop(ac_runtime_current());
    else if (r->cancel)
        ac__pprof_cancel(&r->pp);
}

static void run_profile(struct run *r, unsigned seconds, bool cancel)
{
    ac_runtime_config cfg;
    ac_runtime *rt;
    memset(r, 0, sizeof *r);
    ac__pprof_init(&r->pp);
    r->seconds = seconds;
    r->cancel = cancel;
    snprintf(r->path, sizeof r->path, "test_pprof.%d.prof", (int)getpid());
    test_config(&cfg);
    cfg.shards = 2;
    cfg.oversubscribe = true;
    cfg.on_shard_start = on_start;
    cfg.hook_arg = r;
    cr_assert_eq(ac_runtime_create(&cfg, &rt), 0);
    test_run(rt);
    ac_runtime_destroy(rt);
}

Test(admin_pprof, profile_of_both_shards_reads_in_google_pprof, .timeout = 60)
{
    static struct run r;
    char exe[512], cmd[1400], line[512];
    bool burner = false, agentcore = false;
    ssize_t n;
    if (access(GOOGLE_PPROF, X_OK) != 0)
        cr_skip_test("%s not installed (scripts/deps.sh test)", GOOGLE_PPROF);
    run_profile(&r, 1, false);
    cr_assert_eq(r.start_err, 0, "start: %s", ac_strerror(r.start_err));
    cr_assert_eq(r.second_err, -EBUSY, "a second profile at once: %d", r.second_err);
    cr_assert_eq(r.off_range_err, -EINVAL);
    cr_assert_eq(r.res, 0, "profile: %s", ac_strerror(r.res));
    cr_assert_gt(r.len, 0);
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    cr_assert_gt(n, 0);
    exe[n] = 0;
    snprintf(cmd, sizeof cmd, "%s --text '%s' '%s' 2>&1", GOOGLE_PPROF, exe, r.path);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f)) {
        burner |= strstr(line, "burn_cpu_slice") != NULL;
        agentcore |= strstr(line, " ac_") != NULL;
    }
    cr_assert_eq(pclose(f), 0, "google-pprof failed on %s", r.path);
    cr_assert(burner, "burn_cpu_slice missing from the profile (%s)", r.path);
    cr_assert(agentcore, "no agentcore (ac_) symbol in the profile (%s)", r.path);
    unlink(r.path);
}

Test(admin_pprof, cancel_reports_ecanceled_and_frees_the_guard, .timeout = 60)
{
    static struct run r;
    run_profile(&r, 60, true);
    cr_assert_eq(r.start_err, 0, "start: %s", ac_strerror(r.start_err));
    cr_assert(atomic_load(&r.done));
    cr_assert_eq(r.res, -ECANCELED);
    cr_assert_eq(atomic_load(&r.pp.owner), AC_SHARD_NONE);
}

Test(admin_pprof, off_a_shard_is_enxio)
{
    struct ac__pprof pp;
    ac__pprof_init(&pp);
    cr_assert_eq(ac__pprof_cpu_start(&pp, 1, profile_done, NULL), -ENXIO);
}

/* ---- over HTTP, from agentd ------------------------------------------------ */

#include "apps/agentd_proc.h"

/* Runs google-pprof --text on agentd's profile; true if an ac_ symbol shows. */
static bool pprof_names_agentcore(const char *profile)
{
    char cmd[1024], line[512];
    bool found = false;
    snprintf(cmd, sizeof cmd, "%s --text '%s' '%s' 2>&1", GOOGLE_PPROF, AGENTD_BIN, profile);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f))
        found |= strstr(line, " ac_") != NULL;
    cr_assert_eq(pclose(f), 0, "google-pprof failed on %s", profile);
    return found;
}

Test(admin_pprof, agentd_serves_one_profile_at_a_time_that_google_pprof_reads, .timeout = 60)
{
    struct agentd d;
    struct ap_load load = {.path = "/v1/agents/echo/invoke",
                           .body = "{\"input\":\"profile me\"}",
                           .max_ms = 30000,
                           .max_requests = 5000000};
    char cmd[512], path_a[64], path_b[64], body[512], out[16] = {0};
    if (access(GOOGLE_PPROF, X_OK) != 0)
        cr_skip_test("%s not installed (scripts/deps.sh test)", GOOGLE_PPROF);
    agentd_start(&d, NULL);
    load.port = d.port;
    ap_load_start(&load);
    cr_assert_eq(curl_port(d.admin_port, "", "/debug/pprof/profile?seconds=0", body, sizeof body),
                 400);
    cr_assert_not_null(strstr(body, "invalid_seconds"), "%s", body);
    cr_assert_eq(curl_port(d.admin_port, "", "/debug/pprof/profile?seconds=61", NULL, 0), 400);
    cr_assert_eq(curl_port(d.admin_port, "", "/debug/pprof/profile?seconds=x", NULL, 0), 400);

    /* A (3 s) in the background, B (1 s) at once: whichever reaches the
     * profiler second is refused with 409 at once, the other gets a profile */
    snprintf(path_a, sizeof path_a, "pprof_a.%d.prof", (int)getpid());
    snprintf(path_b, sizeof path_b, "pprof_b.%d.prof", (int)getpid());
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 30 -o '%s' -w '%%{http_code}' "
             "'http://127.0.0.1:%u/debug/pprof/profile?seconds=3'",
             path_a, d.admin_port);
    FILE *a = popen(cmd, "r");
    cr_assert_not_null(a);
    char args[128];
    snprintf(args, sizeof args, "-o '%s'", path_b);
    int status_b = curl_port(d.admin_port, args, "/debug/pprof/profile?seconds=1", NULL, 0);
    cr_assert_gt(fread(out, 1, sizeof out - 1, a), 0);
    pclose(a);
    int status_a = atoi(out);
    cr_assert((status_a == 200 && status_b == 409) || (status_a == 409 && status_b == 200),
              "one profile at a time: A %d, B %d", status_a, status_b);
    const char *profile = status_a == 200 ? path_a : path_b;
    cr_assert(pprof_names_agentcore(profile), "no ac_ symbol in %s", profile);

    ap_load_stop(&load);
    cr_assert_gt(atomic_load(&load.ok), 0);
    cr_assert_eq(agentd_stop(&d), 0);
    unlink(path_a);
    unlink(path_b);
}

/* GET ...?seconds=30 in the background (curl prints the status at the end). */
static FILE *long_profile(const struct agentd *d)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 40 -o /dev/null -w '%%{http_code}' "
             "'http://127.0.0.1:%u/debug/pprof/profile?seconds=30'",
             d->admin_port);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    return f;
}

Test(admin_pprof, sigterm_answers_a_running_profile_and_stops, .timeout = 60)
{
    struct agentd d;
    char out[16] = {0};
    int status = 0;
    agentd_start(&d, NULL);
    FILE *a = long_profile(&d);
    /* the 30 s profile holds the profiler once a probe is refused with 409;
     * a probe that wins the race takes its own 1 s profile, and the 30 s
     * request, refused meanwhile, is sent again */
    for (uint64_t end = ap_now_ms() + 20000; status != 409;) {
        cr_assert_lt(ap_now_ms(), end, "the 30 s profile never started");
        status = curl_port(d.admin_port, "-o /dev/null", "/debug/pprof/profile?seconds=1", NULL, 0);
        cr_assert(status == 409 || status == 200, "probe: %d", status);
        struct pollfd p = {fileno(a), POLLIN, 0};
        if (status == 200 && poll(&p, 1, 0) == 1) { /* the 30 s request has its answer */
            memset(out, 0, sizeof out);
            cr_assert_gt(fread(out, 1, sizeof out - 1, a), 0);
            pclose(a);
            cr_assert_eq(atoi(out), 409, "the 30 s request: %s", out);
            a = long_profile(&d);
        }
    }
    uint64_t t0 = ap_now_ms();
    cr_assert_eq(agentd_stop(&d), 0);
    memset(out, 0, sizeof out);
    cr_assert_gt(fread(out, 1, sizeof out - 1, a), 0);
    pclose(a);
    cr_assert_eq(atoi(out), 503, "the running profile's answer: %s", out);
    /* answered at the stop, not after its 30 s */
    cr_assert_lt(ap_now_ms() - t0, 25000);
}

Test(admin_pprof, pprof_enabled_false_leaves_the_route_out, .timeout = 30)
{
    struct agentd d;
    char cfg[64];
    snprintf(cfg, sizeof cfg, "nopprof.%d.yaml", (int)getpid());
    FILE *f = fopen(cfg, "w");
    cr_assert_not_null(f);
    fputs("monitoring:\n  pprof_enabled: false\n", f);
    fclose(f);
    const char *const extra[] = {"--config", cfg, NULL};
    agentd_start(&d, extra);
    cr_assert_eq(curl_port(d.admin_port, "-o /dev/null", "/debug/pprof/profile?seconds=1", NULL, 0),
                 404);
    cr_assert_eq(curl_port(d.admin_port, "-o /dev/null", "/metrics", NULL, 0), 200);
    cr_assert_eq(agentd_stop(&d), 0);
    unlink(cfg);
}
