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
