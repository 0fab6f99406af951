/* admin module private declarations. */
#ifndef AC_RUNTIME_ADMIN_INTERNAL_H
#define AC_RUNTIME_ADMIN_INTERNAL_H

#include "agentcore/admin.h"
#include "agentcore/metrics.h"
#include "agentcore/runtime.h"

#include <stdatomic.h>

struct ac__admin_route {
    char *method, *path;
    ac_admin_fn fn;
    void *arg;
};

struct ac_admin {
    struct ac_runtime *rt;
    struct ac_admin_config cfg;
    char *host;
    int reserved_fd; /* the port held from create until the listener binds; -1 */
    struct ac__admin_route *routes;
    unsigned nroutes, cap_routes;
    _Atomic bool frozen;
    ac_metrics *heap_detail; /* a private registry for /debug/pprof/heap */
    /* the admin shard's */
    ac_http_server *http;
    struct ac_http_date date;
};

/* Lives in each exchange's caller area. */
struct ac_admin_request {
    struct ac_admin *admin;
    ac_http_exchange *hx;
    const struct ac_http_request *req; /* during the handler call only */
    bool keep_alive, http10, head_only;
    int view; /* routes.c: what a scrape-backed route renders (no allocation
                 of its own, so a scrape the stop overtakes leaks nothing) */
};

/* routes.c: the built-in routes. */
AC_MUST_USE int ac__admin_builtin_routes(struct ac_admin *a);

/* pages.c: GET /dashboard (built in when metrics are on); and the admin
 * shard's stop, which ends a CPU profile in progress. */
int ac__admin_dashboard_add(ac_admin *a);
void ac__admin_pages_stop(void);

#endif
