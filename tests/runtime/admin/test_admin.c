/*
 * The admin listener in-process: a two-shard runtime serving the agent
 * routes on one port and the admin listener (shard 0) on another, with
 * the built-in agents, a deliberately stalling agent and routes the test
 * registers. Each test starts a fresh runtime so that counters are exact.
 * Requests are plain sockets with Connection: close, read to the end
 * (every wait bounded by SO_RCVTIMEO).
 */
#include "runtime/helpers.h"
#include "runtime/metrics/prom_text.h"

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>

#define SHARDS 2
#define STALL_MS 30 /* the stalling agent's busy time; the threshold is 10 ms */

static struct {
    ac_runtime *rt;
    ac_agent_host *host;
    ac_metrics *metrics;
    ac_admin *admin;
    pthread_t thread;
    uint16_t port;
    int reserve_fd;
    ac_net *net[SHARDS];
    ac_http_server *srv[SHARDS];
    struct ac_timer late_timer;
    ac_admin_request *late;
} A;

/* ---- what the test registers ------------------------------------------- */

static void stall_agent(void *arg, ac_call call, const ac_agent_request *req)
{
    uint64_t until = ac_now_ns() + STALL_MS * 1000000ull;
    (void)arg;
    (void)req;
    while (ac_now_ns() < until) /* the shard does nothing else meanwhile: a stall */
        ;
    ac_call_answer(call, json_true());
}

static void query_route(void *arg, ac_admin_request *r)
{
    char v[32], body[64];
    (void)arg;
    if (!ac_admin_request_query(r, "x", v, sizeof v)) {
        ac_admin_reply_error(r, 400, "missing_x", "x is required");
        return;
    }
    int n = snprintf(body, sizeof body, "x=%s", v);
    ac_admin_reply(r, 200, "text/plain", body, (size_t)n);
}

static void late_fire(struct ac_timer *t, void *arg)
{
    (void)t;
    (void)arg;
    ac_admin_reply(A.late, 200, "text/plain", "late", 4);
}

static void late_route(void *arg, ac_admin_request *r)
{
    (void)arg;
    A.late = r; /* answered 20 ms later, from a timer on the admin shard */
    cr_assert_eq(ac_timer_start(&A.late_timer, 20000000ull, late_fire, NULL), 0);
}

/* ---- runtime ------------------------------------------------------------ */

static void shard_start(void *arg, unsigned id)
{
    struct ac_tcp_server_config tcp = {.host = "127.0.0.1", .port = A.port};
    (void)arg;
    cr_assert_eq(ac_agent_host_shard_start(A.host, id), 0);
    cr_assert_eq(ac_net_create(NULL, &A.net[id]), 0);
    cr_assert_eq(ac_agent_http_start(A.host, A.net[id], &tcp, NULL, &A.srv[id]), 0);
    cr_assert_eq(ac_admin_shard_start(A.admin, id, A.net[id]), 0);
}

static void net_stopped(void *arg, ac_net *net)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    ac_net_destroy(net);
    ac_agent_host_shard_stop(A.host, id);
    ac_shard_release_stop();
}

static void http_stopped(void *arg, ac_http_server *s)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    (void)s;
    ac_net_stop(A.net[id], ac_now_ns() + 100000000ull, net_stopped, arg);
}

static void shard_stop(void *arg, unsigned id)
{
    (void)arg;
    ac_shard_hold_stop();
    ac_admin_shard_stop(A.admin, id, ac_now_ns() + 100000000ull);
    ac_http_server_stop(A.srv[id], ac_now_ns() + 1000000000ull, http_stopped,
                        (void *)(uintptr_t)id);
}

static void *run(void *arg)
{
    (void)arg;
    cr_assert_eq(ac_runtime_run(A.rt), 0);
    return NULL;
}

/* One request on a new connection (Connection: close); the whole answer. */
static int fetch(uint16_t port, const char *method, const char *target, const char *body,
                 char **out)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {10, 0};
    char head[1024];
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    int status = -1, fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { /* not listening yet */
        close(fd);
        free(buf);
        *out = strdup("");
        return -1;
    }
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                     method, target, body ? strlen(body) : 0, body ? body : "");
    cr_assert_eq(send(fd, head, (size_t)n, MSG_NOSIGNAL), n);
    for (;;) {
        if (len + 1 == cap)
            buf = realloc(buf, cap *= 2);
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    close(fd);
    buf[len] = 0;
    sscanf(buf, "HTTP/1.1 %d", &status);
    char *b = strstr(buf, "\r\n\r\n");
    *out = strdup(b ? b + 4 : "");
    free(buf);
    return status;
}

static void start(void)
{
    ac_runtime_config rc;
    struct ac_admin_config ac;
    char *body = NULL;
    bool up = false;
    memset(&A, 0, sizeof A);
    test_config(&rc);
    rc.shards = SHARDS;
    rc.oversubscribe = true;
    rc.on_shard_start = shard_start;
    rc.on_shard_stop = shard_stop;
    A.reserve_fd = ac_tcp_reserve_port("127.0.0.1", &A.port);
    cr_assert_geq(A.reserve_fd, 0);
    cr_assert_eq(ac_agent_host_create(&(struct ac_agent_host_config){.shards = SHARDS}, &A.host),
                 0);
    cr_assert_eq(ac_agent_register_builtins(A.host), 0);
    cr_assert_eq(ac_agent_register(A.host, &(struct ac_agent_def){.name = "stall-test",
                                                                  .handler = stall_agent,
                                                                  .priority = AC_AGENT_NORMAL,
                                                                  .placement = AC_AGENT_ANY_SHARD}),
                 0);
    cr_assert_eq(ac_runtime_create(&rc, &A.rt), 0);
    cr_assert_eq(ac_metrics_create(A.rt, &A.metrics), 0);
    cr_assert_eq(ac_metrics_add_builtins(A.metrics), 0);
    cr_assert_eq(ac_agent_host_metrics(A.host, A.metrics), 0);
    ac_admin_config_init(&ac);
    ac.port = 0;
    ac.metrics = A.metrics;
    cr_assert_eq(ac_admin_create(A.rt, &ac, &A.admin), 0);
    cr_assert_neq(ac_admin_port(A.admin), 0);
    cr_assert_eq(ac_admin_route(A.admin, "GET", "/test/query", query_route, NULL), 0);
    cr_assert_eq(ac_admin_route(A.admin, "GET", "/test/late", late_route, NULL), 0);
    cr_assert_eq(pthread_create(&A.thread, NULL, run, NULL), 0);
    /* both listeners: the admin one starts after the agent routes on shard 0 */
    for (int i = 0; i < 200 && !up; i++) {
        up = fetch(A.port, "GET", "/readyz", NULL, &body) == 200;
        free(body);
        if (up) {
            up = fetch(ac_admin_port(A.admin), "GET", "/healthz", NULL, &body) == 200;
            free(body);
        }
        if (!up)
            usleep(10000); /* bounded: at most 2 s for the shards to boot */
    }
    cr_assert(up, "agent server or admin listener did not become ready");
}

static void stop(void)
{
    ac_runtime_stop(A.rt);
    pthread_join(A.thread, NULL);
    for (unsigned i = 0; i < SHARDS; i++)
        ac_http_server_destroy(A.srv[i]);
    ac_runtime_destroy(A.rt);
    ac_admin_destroy(A.admin);
    ac_metrics_destroy(A.metrics);
    ac_agent_host_destroy(A.host);
    close(A.reserve_fd);
}

TestSuite(runtime_admin, .timeout = 60);

Test(runtime_admin, routes_are_checked_and_fixed_once_a_shard_started)
{
    char *b;
    static struct ac_admin_config ac;
    ac_admin_config_init(&ac);
    cr_assert_eq(ac.port, 9090);
    cr_assert_str_eq(ac.host, "127.0.0.1");
    start();
    cr_assert_eq(ac_admin_route(A.admin, "GET", "/test/more", query_route, NULL), -EBUSY);
    cr_assert_eq(fetch(ac_admin_port(A.admin), "GET", "/test/query?y=1&x=42", NULL, &b), 200);
    cr_assert_str_eq(b, "x=42");
    free(b);
    cr_assert_eq(fetch(ac_admin_port(A.admin), "GET", "/test/query", NULL, &b), 400);
    free(b);
    cr_assert_eq(fetch(ac_admin_port(A.admin), "GET", "/test/late", NULL, &b), 200);
    cr_assert_str_eq(b, "late");
    free(b);
    cr_assert_eq(fetch(ac_admin_port(A.admin), "GET", "/nope", NULL, &b), 404);
    free(b);
    cr_assert_eq(fetch(ac_admin_port(A.admin), "POST", "/metrics", "x", &b), 405);
    free(b);
    cr_assert_eq(fetch(ac_admin_port(A.admin), "HEAD", "/healthz", NULL, &b), 200);
    cr_assert_str_eq(b, "");
    free(b);
    cr_assert_eq(fetch(ac_admin_port(A.admin), "GET", "/", NULL, &b), 200);
    cr_assert_not_null(strstr(b, "GET  /test/late\n"), "%s", b);
    free(b);
    stop();
}

Test(runtime_admin, route_registration_refuses_bad_and_duplicate_routes)
{
    ac_runtime_config rc;
    ac_runtime *rt;
    ac_admin *a;
    struct ac_admin_config ac;
    test_config(&rc);
    rc.shards = 1;
    cr_assert_eq(ac_runtime_create(&rc, &rt), 0);
    ac_admin_config_init(&ac);
    ac.port = 0;
    ac.shard = 1;
    cr_assert_eq(ac_admin_create(rt, &ac, &a), -EINVAL, "no shard 1");
    ac.shard = 0;
    cr_assert_eq(ac_admin_create(rt, &ac, &a), 0);
    cr_assert_eq(ac_admin_route(a, "GET", "/x", query_route, NULL), 0);
    cr_assert_eq(ac_admin_route(a, "GET", "/x", query_route, NULL), -EEXIST);
    cr_assert_eq(ac_admin_route(a, "POST", "/x", query_route, NULL), 0);
    cr_assert_eq(ac_admin_route(a, "GET", "/healthz", query_route, NULL), -EEXIST);
    cr_assert_eq(ac_admin_route(a, "PUT", "/y", query_route, NULL), -EINVAL);
    cr_assert_eq(ac_admin_route(a, "GET", "y", query_route, NULL), -EINVAL);
    cr_assert_eq(ac_admin_route(a, "GET", "/y", NULL, NULL), -EINVAL);
    ac_admin_destroy(a);
    ac_runtime_destroy(rt);
}

Test(runtime_admin, requests_and_latency_histograms_move_by_exact_counts)
{
    char *b, *m0, *m1;
    uint16_t ap;
    start();
    ap = ac_admin_port(A.admin);
    cr_assert_eq(fetch(ap, "GET", "/metrics", NULL, &m0), 200);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fetch(A.port, "POST", "/v1/agents/echo/invoke", "{\"input\":1}", &b), 200);
        free(b);
    }
    cr_assert_eq(fetch(A.port, "POST", "/v1/agents/echo/invoke", "{bad", &b), 400);
    free(b);
    cr_assert_eq(fetch(ap, "GET", "/metrics", NULL, &m1), 200);
    const char *p200 = "agentcore_requests_total{agent=\"echo\",status=\"200\"";
    const char *p400 = "agentcore_requests_total{agent=\"echo\",status=\"400\"";
    cr_assert_eq(prom_sum(m1, p200) - prom_sum(m0, p200), 3, "%s", m1);
    cr_assert_eq(prom_sum(m1, p400) - prom_sum(m0, p400), 1);
    const char *counts[] = {"agentcore_request_duration_seconds_count{agent=\"echo\"",
                            "agentcore_request_queue_wait_seconds_count{agent=\"echo\"",
                            "agentcore_request_service_seconds_count{agent=\"echo\"",
                            "agentcore_request_duration_seconds_bucket{agent=\"echo\",shard=\"0\","
                            "le=\"+Inf\"",
                            "agentcore_request_duration_seconds_bucket{agent=\"echo\",shard=\"1\","
                            "le=\"+Inf\""};
    cr_assert_eq(prom_sum(m1, counts[0]) - prom_sum(m0, counts[0]), 3);
    cr_assert_eq(prom_sum(m1, counts[1]) - prom_sum(m0, counts[1]), 3);
    cr_assert_eq(prom_sum(m1, counts[2]) - prom_sum(m0, counts[2]), 3);
    cr_assert_eq(prom_sum(m1, counts[3]) + prom_sum(m1, counts[4]) -
                     (prom_sum(m0, counts[3]) + prom_sum(m0, counts[4])),
                 3);
    /* the in-flight gauge is back to 0 once every answer went out */
    cr_assert_eq(prom_sum(m1, "agentcore_requests_in_flight{agent=\"echo\""), 0);
    /* the admin's own requests show under its listener */
    char lst[64];
    snprintf(lst, sizeof lst, "agentcore_http_requests_total{listener=\"%u\"", ap);
    cr_assert_geq(prom_sum(m1, lst), 1);
    free(m0);
    free(m1);
    stop();
}

Test(runtime_admin, a_stalling_agent_is_named_in_the_stall_metric)
{
    char *b, *m;
    start();
    cr_assert_eq(fetch(A.port, "POST", "/v1/agents/stall-test/invoke", "{\"input\":1}", &b), 200);
    free(b);
    cr_assert_eq(fetch(ac_admin_port(A.admin), "GET", "/metrics", NULL, &m), 200);
    cr_assert_eq(prom_sum(m, "agentcore_stalls_total{callback=\"stall-test\""), 1, "%s", m);
    cr_assert_eq(prom_sum(m, "agentcore_stall_duration_seconds_count{callback=\"stall-test\""), 1);
    double s = prom_sum(m, "agentcore_stall_duration_seconds_sum{callback=\"stall-test\"");
    cr_assert_geq(s, STALL_MS / 1000.0);
    free(m);
    stop();
}

Test(runtime_admin, metrics_json_has_the_documented_fields)
{
    char *b, *j;
    json_error_t e;
    start();
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(fetch(A.port, "POST", "/v1/agents/echo/invoke", "{\"input\":1}", &b), 200);
        free(b);
    }
    cr_assert_eq(fetch(ac_admin_port(A.admin), "GET", "/metrics.json", NULL, &j), 200);
    json_t *root = json_loads(j, 0, &e);
    cr_assert_not_null(root, "invalid JSON (%s): %s", e.text, j);
    cr_assert_eq(json_integer_value(json_object_get(root, "version")), 1);
    cr_assert(json_is_real(json_object_get(root, "time")));
    cr_assert_eq(json_array_size(json_object_get(root, "shards")), SHARDS);
    json_t *totals = json_object_get(root, "totals");
    const char *keys[] = {"requests",  "errors",   "in_flight",        "memory_bytes",
                          "tasks_run", "stalls",   "connections_open", "queue_high",
                          "queue_low", "messages_sent"};
    for (unsigned i = 0; i < AC_ARRAY_LEN(keys); i++)
        cr_assert(json_is_integer(json_object_get(totals, keys[i])), "totals.%s", keys[i]);
    cr_assert_eq(json_integer_value(json_object_get(totals, "requests")), 2);
    cr_assert_gt(json_integer_value(json_object_get(totals, "memory_bytes")), 0);
    json_t *echo = json_object_get(json_object_get(root, "agents"), "echo");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(echo, "requests"), "200")), 2);
    json_t *lat = json_object_get(echo, "latency_seconds");
    cr_assert_eq(json_integer_value(json_object_get(lat, "count")), 2);
    cr_assert_gt(json_real_value(json_object_get(lat, "p50")), 0);
    cr_assert_geq(json_real_value(json_object_get(lat, "p99")),
                  json_real_value(json_object_get(lat, "p50")));
    cr_assert(json_is_object(json_object_get(echo, "queue_wait_seconds")));
    cr_assert(json_is_object(json_object_get(echo, "service_seconds")));
    cr_assert_gt(json_real_value(json_object_get(json_object_get(root, "process"),
                                                 "resident_memory_bytes")),
                 0);
    cr_assert(json_is_array(
        json_object_get(json_object_get(root, "metrics"), "agentcore_loop_turns_total")));
    json_decref(root);
    free(j);
    stop();
}

Test(runtime_admin, debug_views_answer_and_admin_routes_are_not_on_the_api_port)
{
    char *b;
    json_error_t e;
    start();
    cr_assert_eq(fetch(ac_admin_port(A.admin), "GET", "/debug/shards", NULL, &b), 200);
    json_t *root = json_loads(b, 0, &e);
    cr_assert_not_null(root, "invalid JSON (%s)", e.text);
    json_t *s1 = json_array_get(json_object_get(root, "shards"), 1);
    cr_assert_eq(json_integer_value(json_object_get(s1, "shard")), 1);
    cr_assert(json_is_object(json_object_get(s1, "queue_length")));
    cr_assert(json_is_number(json_object_get(s1, "memory_bytes")));
    json_decref(root);
    free(b);
    cr_assert_eq(fetch(ac_admin_port(A.admin), "GET", "/debug/pprof/heap", NULL, &b), 200);
    cr_assert_not_null(strstr(b, "\nshard 0\n"), "%s", b);
    cr_assert_not_null(strstr(b, "\nshard 1\n"), "%s", b);
    cr_assert_not_null(strstr(b, "  class "), "%s", b);
    free(b);
    const char *admin_only[] = {"/metrics", "/metrics.json", "/debug/shards", "/debug/pprof/heap"};
    for (unsigned i = 0; i < AC_ARRAY_LEN(admin_only); i++) {
        cr_assert_eq(fetch(A.port, "GET", admin_only[i], NULL, &b), 404, "%s", admin_only[i]);
        free(b);
    }
    stop();
}
