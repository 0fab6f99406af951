/*
 * The admin listener's operations pages: GET /dashboard (dashboard.html,
 * embedded at build time by cmake/embed.cmake) and GET
 * /debug/pprof/profile (pprof.c).
 */
#include "internal.h"
#include "pprof.h"

/* cmake/embed.cmake's output for dashboard.html */
extern const unsigned char ac__dashboard_html[];
extern const size_t ac__dashboard_html_len;

/*
 * The guard of libprofiler, which is one per process: so is this, the
 * one mutable global of the module (an atomic owner plus fields only the
 * owning shard touches). Two admin listeners in one process share it.
 */
static struct ac__pprof profiler = {.owner = AC_SHARD_NONE, .fd = -1};

static void dashboard(void *arg, ac_admin_request *r)
{
    (void)arg;
    (void)ac_admin_reply(r, 200, "text/html; charset=utf-8", ac__dashboard_html,
                         ac__dashboard_html_len);
}

int ac__admin_dashboard_add(ac_admin *a)
{
    return ac_admin_route(a, "GET", "/dashboard", dashboard, NULL);
}

int ac_admin_pprof_enable(ac_admin *a)
{
    return ac_admin_route(a, "GET", "/debug/pprof/profile", ac__pprof_route, &profiler);
}

void ac__admin_pages_stop(void)
{
    ac__pprof_cancel(&profiler);
}
