/*
 * The dashboard (runtime/admin/dashboard.html) in headless Chromium,
 * against a real agentd under a bounded load: the page loads from
 * /dashboard, fetches /metrics.json on its own, and shows a non-zero
 * request rate. A screenshot is kept as a test artifact (its path is
 * printed). Chromium missing is a skip.
 */
#include "apps/agentd_proc.h"

#include <sys/stat.h>

#define CHROMIUM "/usr/bin/chromium"

/* Runs headless Chromium on `url` with `what` (--dump-dom or
 * --screenshot=...), bounded by timeout(1); output to `out`. */
static int chromium(const char *what, const char *url, char *out, size_t cap)
{
    char dir[] = "/tmp/ac-chromium-XXXXXX", cmd[2048];
    size_t len = 0;
    cr_assert_not_null(mkdtemp(dir));
    /* a fresh profile, nothing but 127.0.0.1 reached; virtual time lets
     * the page run ~6 refreshes without waiting 6 s of wall time per
     * timer (fetches still go to the real agentd) */
    snprintf(cmd, sizeof cmd,
             "timeout -k 5 45 %s --headless --no-sandbox --disable-gpu --disable-quic "
             "--no-first-run --disable-background-networking --disable-component-update "
             "--disable-sync --disable-extensions --user-data-dir=%s --window-size=1280,1000 "
             "--virtual-time-budget=6000 %s '%s' 2>/dev/null",
             CHROMIUM, dir, what, url);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    if (out) {
        len = fread(out, 1, cap - 1, f);
        out[len] = 0;
    } else {
        char sink[4096];
        while (fread(sink, 1, sizeof sink, f) > 0)
            ;
    }
    int st = pclose(f);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The data-value of the element with id `id` in the dumped DOM; -1 if absent. */
static double dom_value(const char *dom, const char *id)
{
    char key[64];
    snprintf(key, sizeof key, "id=\"%s\" data-value=\"", id);
    const char *p = strstr(dom, key);
    return p ? strtod(p + strlen(key), NULL) : -1.0;
}

Test(admin_dashboard, chromium_shows_nonzero_qps_under_load, .timeout = 120)
{
    static char dom[1 << 18];
    struct agentd d;
    struct ap_load load = {.path = "/v1/agents/echo/invoke",
                           .body = "{\"input\":\"dashboard\"}",
                           .max_ms = 60000,
                           .max_requests = 2000000,
                           .pause_us = 500};
    char url[128], shot[512], arg[600], body[256];
    struct stat st;
    if (access(CHROMIUM, X_OK) != 0)
        cr_skip_test("%s not installed (scripts/deps.sh test)", CHROMIUM);
    agentd_start(&d, NULL);
    load.port = d.port;
    ap_load_start(&load);
    /* the page needs requests to count: wait for the first answers */
    for (uint64_t end = ap_now_ms() + 10000; atomic_load(&load.ok) < 10;) {
        cr_assert_lt(ap_now_ms(), end, "no load reached agentd");
        usleep(10000);
    }
    cr_assert_eq(curl_port(d.admin_port, "", "/dashboard", body, sizeof body), 200);
    cr_assert_not_null(strstr(body, "<!DOCTYPE html>"), "%s", body);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/dashboard", d.admin_port);

    cr_assert_eq(chromium("--dump-dom", url, dom, sizeof dom), 0, "chromium failed");
    double qps = dom_value(dom, "qps");
    cr_assert_gt(qps, 0.0, "the page shows no QPS (%g); status: %.200s", qps,
                 strstr(dom, "id=\"status\"") ? strstr(dom, "id=\"status\"") : dom);

    mkdir(AC_ARTIFACT_DIR, 0755);
    snprintf(shot, sizeof shot, "%s/dashboard.png", AC_ARTIFACT_DIR);
    unlink(shot);
    snprintf(arg, sizeof arg, "--screenshot='%s'", shot);
    cr_assert_eq(chromium(arg, url, NULL, 0), 0, "chromium screenshot failed");
    cr_assert_eq(stat(shot, &st), 0, "no screenshot at %s", shot);
    cr_assert_gt(st.st_size, 1000);
    fprintf(stderr, "dashboard screenshot: %s\n", shot);

    ap_load_stop(&load);
    cr_assert_gt(atomic_load(&load.ok), 0);
    cr_assert_eq(agentd_stop(&d), 0);
}
