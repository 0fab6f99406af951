/*
 * The router and dispatch on a real multi-shard runtime, through a test
 * exchange: each step parses raw request bytes with ac_http_parser on its
 * arrival shard, serves it, and records the response bytes. Steps run one
 * after another (or overlapping, with `nowait`); the last done() stops
 * the runtime and the test checks the recorded responses.
 */
#include "runtime/helpers.h"

#include <errno.h>
#include <http_parser.h>
#include <stdatomic.h>
#include <stdlib.h>

#define MAX_STEPS 32

struct step {
    unsigned origin;
    const char *raw;
    bool nowait; /* issue the next step without waiting for this one */
};

struct tex {
    struct ac_exchange ex;
    unsigned idx, origin;
    char *buf;
    size_t len;
    _Atomic int done;
    bool keep_alive, wrong_shard;
};

static struct {
    ac_runtime *rt;
    ac_agent_host *host;
    const struct step *steps;
    unsigned nsteps;
    struct tex tex[MAX_STEPS];
    _Atomic unsigned ndone;
    _Atomic int errors;
    int late_answer_result; /* what the late agent's answer returned */
    uint64_t msgs_full;     /* -EAGAIN refusals over all shards */
    struct ac_timer late_timer;
    ac_call late_call;
} R;

static void issue(unsigned i);

static void tex_write(struct ac_exchange *ex, const struct iovec *iov, int n)
{
    struct tex *t = (struct tex *)ex;
    if (ac_shard_id() != t->origin || atomic_load(&t->done))
        t->wrong_shard = true;
    for (int i = 0; i < n; i++) {
        t->buf = realloc(t->buf, t->len + iov[i].iov_len + 1);
        memcpy(t->buf + t->len, iov[i].iov_base, iov[i].iov_len);
        t->len += iov[i].iov_len;
        t->buf[t->len] = 0;
    }
}

static void tex_done(struct ac_exchange *ex, bool keep_alive)
{
    struct tex *t = (struct tex *)ex;
    if (ac_shard_id() != t->origin || atomic_exchange(&t->done, 1))
        atomic_fetch_add(&R.errors, 1);
    t->keep_alive = keep_alive;
    if (!R.steps[t->idx].nowait && t->idx + 1 < R.nsteps)
        issue(t->idx + 1);
    if (atomic_fetch_add(&R.ndone, 1) + 1 == R.nsteps)
        ac_runtime_stop(R.rt);
}

static const struct ac_exchange_ops tex_ops = {tex_write, tex_done};

static void serve_step(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    const struct step *s = &R.steps[i];
    ac_http_parser *p;
    size_t used;
    struct tex *t = &R.tex[i];
    if (ac_http_parser_create(NULL, &p) ||
        ac_http_parser_feed(p, s->raw, strlen(s->raw), &used) != AC_HTTP_REQUEST) {
        atomic_fetch_add(&R.errors, 1);
        ac_runtime_stop(R.rt);
        return;
    }
    t->ex.ops = &tex_ops;
    t->ex.req = ac_http_parser_request(p);
    t->idx = i;
    t->origin = s->origin;
    ac_agent_serve(R.host, &t->ex);
    /* the request (and the parser) may go as soon as serve returns */
    ac_http_parser_destroy(p);
    if (s->nowait && i + 1 < R.nsteps)
        issue(i + 1);
}

static void issue(unsigned i)
{
    if (ac_shard_id() == R.steps[i].origin)
        serve_step((void *)(uintptr_t)i);
    else if (ac_submit_to(R.steps[i].origin, serve_step, (void *)(uintptr_t)i))
        atomic_fetch_add(&R.errors, 1);
}

static void on_start(void *arg, unsigned shard)
{
    (void)arg;
    if (ac_agent_host_shard_start(R.host, shard))
        atomic_fetch_add(&R.errors, 1);
    if (shard == 0)
        issue(0);
}

static void on_stop(void *arg, unsigned shard)
{
    (void)arg;
    ac_agent_host_shard_stop(R.host, shard);
}

/* ---- test agents ----------------------------------------------------- */

static void never(void *arg, ac_call call, const ac_agent_request *req)
{
    (void)arg, (void)call, (void)req; /* the deadline must end it */
}

static void late_fire(struct ac_timer *t, void *arg)
{
    (void)t, (void)arg;
    R.late_answer_result = ac_call_answer(R.late_call, json_string("too late"));
}

static void late(void *arg, ac_call call, const ac_agent_request *req)
{
    (void)arg, (void)req;
    R.late_call = call;
    if (ac_timer_start(&R.late_timer, 60000000, late_fire, NULL))
        atomic_fetch_add(&R.errors, 1);
}

static void two_events(void *arg, ac_call call, const ac_agent_request *req)
{
    (void)arg, (void)req;
    if (ac_call_stream(call, "first", 5) || ac_call_stream(call, "second\nline", 11) ||
        ac_call_stream_end(call))
        atomic_fetch_add(&R.errors, 1);
}

/* Both see the same request: "trees" as trees built before it runs,
 * "lazy" as raw text first. Each answers with what it saw; a broken
 * expectation counts as an error. */
static void expect_at(bool ok, int line)
{
    if (!ok) {
        cr_log_warn("expectation on line %d failed", line);
        atomic_fetch_add(&R.errors, 1);
    }
}
#define expect(ok) expect_at(ok, __LINE__)

static void trees(void *arg, ac_call call, const ac_agent_request *req)
{
    (void)arg;
    expect(req->root && req->input && req->input_json.len > 0);
    expect(ac_agent_request_input(req) == req->input);
    expect(json_equal(json_object_get(req->root, "input"), req->input));
    ac_call_answer(call,
                   json_pack("{s:O, s:s?, s:I}", "input", req->input, "session", req->session_id,
                             "tools", (json_int_t)json_array_size(req->tools)));
}

static void lazy(void *arg, ac_call call, const ac_agent_request *req)
{
    char out[2048];
    (void)arg;
    expect(!req->root && !req->input && !req->context && !req->tools);
    expect(ac_call_answer_raw(call, "{\"a\":", 5) == -EINVAL);
    expect(ac_call_answer_raw(call, "{\"a\":1,\"a\":2}", 13) == -EINVAL);
    json_t *in = ac_agent_request_input(req);
    expect(in && req->input == in && ac_agent_request_input(req) == in); /* built once */
    expect(ac_agent_request_context(req) == req->context);
    expect(ac_agent_request_tools(req) == req->tools);
    int n = snprintf(out, sizeof out, "{\"input\":%.*s,\"session\":\"%s\",\"tools\":%zu}",
                     (int)req->input_json.len, req->input_json.p,
                     req->session_id ? req->session_id : "", json_array_size(req->tools));
    expect(ac_call_answer_raw(call, out, (size_t)n) == 0);
    expect(ac_call_answer_raw(call, "1", 1) == -ESTALE);
}

static unsigned ring_size = 1024;

static void run_script(unsigned shards, const struct step *steps, unsigned n)
{
    ac_runtime_config cfg;
    struct ac_agent_host_config hc = {.shards = shards};
    const struct ac_agent_def defs[] = {
        {.name = "never",
         .handler = never,
         .timeout_ns = 30000000,
         .placement = AC_AGENT_BY_SESSION},
        {.name = "late", .handler = late, .timeout_ns = 20000000},
        {.name = "limited", .handler = never, .timeout_ns = 50000000, .max_concurrency = 1},
        {.name = "two-events", .handler = two_events, .placement = AC_AGENT_BY_SESSION},
        {.name = "trees", .handler = trees, .placement = AC_AGENT_BY_SESSION},
        {.name = "lazy", .handler = lazy, .placement = AC_AGENT_BY_SESSION, .lazy_json = true},
    };
    memset(&R, 0, sizeof R);
    R.steps = steps;
    R.nsteps = n;
    cr_assert_eq(ac_agent_host_create(&hc, &R.host), 0);
    cr_assert_eq(ac_agent_register_builtins(R.host), 0);
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        cr_assert_eq(ac_agent_register(R.host, &defs[i]), 0);
    test_config(&cfg);
    cfg.shards = shards;
    cfg.oversubscribe = true;
    cfg.on_shard_start = on_start;
    cfg.on_shard_stop = on_stop;
    cfg.msg_ring_size = ring_size;
    cr_assert_eq(ac_runtime_create(&cfg, &R.rt), 0);
    test_run(R.rt);
    cr_assert_eq(R.errors, 0);
    cr_assert_eq(R.ndone, n);
    for (unsigned i = 0; i < n; i++)
        cr_assert(!R.tex[i].wrong_shard, "step %u written on another shard or after done", i);
    cr_assert_eq(ac_agent_register(R.host, &defs[0]), -EBUSY, "registry frozen");
    for (unsigned s = 0; s < shards; s++) {
        struct ac_shard_stats st;
        cr_assert_eq(ac_runtime_shard_stats(R.rt, s, &st), 0);
        R.msgs_full += st.msgs_full;
    }
    ac_runtime_destroy(R.rt);
    ac_agent_host_destroy(R.host);
}

/* Formats a POST with the right Content-Length; free_script frees it. */
static char *posts[64];
static unsigned nposts;

static const char *post(const char *path, const char *body, const char *extra)
{
    char *s;
    if (nposts == 64 ||
        asprintf(&s, "POST %s HTTP/1.1\r\nHost: t\r\n%sContent-Length: %zu\r\n\r\n%s", path,
                 extra ? extra : "", strlen(body), body) < 0)
        abort();
    return posts[nposts++] = s;
}

static void free_script(unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        free(R.tex[i].buf);
    while (nposts)
        free(posts[--nposts]);
}

/* ---- response checks ------------------------------------------------- */

static int status_of(unsigned i)
{
    int st = 0;
    cr_assert_not_null(R.tex[i].buf, "step %u: no response", i);
    cr_assert_eq(sscanf(R.tex[i].buf, "HTTP/1.1 %d ", &st), 1, "step %u: %s", i, R.tex[i].buf);
    return st;
}

static const char *body_of(unsigned i)
{
    const char *b = strstr(R.tex[i].buf, "\r\n\r\n");
    cr_assert_not_null(b);
    return b + 4;
}

static json_t *json_of(unsigned i)
{
    json_error_t je;
    json_t *j = json_loads(body_of(i), 0, &je);
    cr_assert_not_null(j, "step %u: %s in %s", i, je.text, body_of(i));
    return j;
}

static const char *error_code(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}

static void expect_error(unsigned i, int status, const char *code)
{
    cr_assert_eq(status_of(i), status, "step %u: %s", i, R.tex[i].buf);
    json_t *j = json_of(i);
    cr_assert_str_eq(error_code(j), code, "step %u", i);
    json_decref(j);
}

Test(runtime_agent_router, routes_methods_and_errors, .timeout = 60)
{
    const struct step steps[] = {
        {0, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"},
        {1, "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n"},
        {0, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n"},
        {1, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"},
        {0, "DELETE /healthz HTTP/1.1\r\nHost: t\r\n\r\n"},
        {1, "GET /v1/agents/echo/invoke HTTP/1.1\r\nHost: t\r\n\r\n"},
        {0, post("/v1/agents/nope/invoke", "{\"input\":1}", NULL)},
        {1, post("/v1/agents/echo/invoke", "{\"input\":", NULL)},
        {0, post("/v1/agents/echo/invoke", "{\"input\":1,\"temperature\":3}", NULL)},
        {1, post("/v1/agents/echo/invoke", "{\"input\":\"hi\"}", NULL)},
        {0, post("/v1/agents/echo/invoke", "{\"input\":[1,2]}", "Connection: close\r\n")},
        {1, post("/v1/agents/sleep/invoke", "{\"input\":{\"ms\":5}}", NULL)},
        {0, post("/v1/agents/compute/invoke", "{\"input\":1000}", NULL)},
        {1, post("/v1/agents/stream/invoke", "{\"input\":{\"chunks\":2}}", NULL)},
        {0, "GET /v1/agents HTTP/1.1\r\nHost: t\r\n\r\n"},
    };
    unsigned n = sizeof steps / sizeof steps[0];
    run_script(2, steps, n);

    cr_assert_eq(status_of(0), 200);
    cr_assert_str_eq(body_of(0), "{\"status\":\"ok\"}");
    cr_assert_eq(status_of(1), 200);
    cr_assert_str_eq(body_of(1), "", "HEAD has no body");
    cr_assert_not_null(strstr(R.tex[1].buf, "Content-Length: 15\r\n"));
    cr_assert_eq(status_of(2), 200);
    expect_error(3, 404, "not_found");
    expect_error(4, 405, "method_not_allowed");
    cr_assert_not_null(strstr(R.tex[4].buf, "\r\nAllow: GET, HEAD\r\n"));
    expect_error(5, 405, "method_not_allowed");
    cr_assert_not_null(strstr(R.tex[5].buf, "\r\nAllow: POST\r\n"));
    expect_error(6, 404, "unknown_agent");
    expect_error(7, 400, "invalid_json");
    expect_error(8, 400, "invalid_request");
    cr_assert_not_null(strstr(body_of(8), "temperature must be a number from 0 to 2"));

    json_t *j = json_of(9);
    cr_assert_eq(status_of(9), 200);
    cr_assert_str_eq(json_string_value(json_object_get(j, "output")), "hi");
    cr_assert_str_eq(json_string_value(json_object_get(j, "agent")), "echo");
    cr_assert_eq(json_integer_value(json_object_get(j, "shard")), 1, "any-shard runs on arrival");
    json_decref(j);
    cr_assert(R.tex[9].keep_alive);
    cr_assert(!R.tex[10].keep_alive, "Connection: close is honoured");
    cr_assert_not_null(strstr(R.tex[10].buf, "\r\nConnection: close\r\n"));

    j = json_of(11);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "output"), "slept_ms")), 5);
    json_decref(j);
    j = json_of(12);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "output"), "iterations")),
                 1000);
    json_decref(j);
    j = json_of(13);
    cr_assert_eq(json_array_size(json_object_get(json_object_get(j, "output"), "chunks")), 2);
    json_decref(j);

    j = json_of(14);
    json_t *agents = json_object_get(j, "agents"), *a;
    size_t k;
    bool saw_echo = false;
    json_array_foreach(agents, k, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "name")), "echo") != 0)
            continue;
        saw_echo = true;
        json_t *c = json_object_get(a, "counters");
        cr_assert_eq(json_integer_value(json_object_get(c, "calls")), 2, "summed over shards");
        cr_assert_eq(json_integer_value(json_object_get(c, "ok")), 2);
        cr_assert_str_eq(json_string_value(json_object_get(a, "priority")), "normal");
    }
    cr_assert(saw_echo);
    cr_assert_eq(json_integer_value(json_object_get(j, "shards")), 2);
    json_decref(j);
    free_script(n);
}

/* One session's requests arrive on every shard; all run on its owner. */
Test(runtime_agent_router, sessions_run_on_their_owner_shard_and_keep_state, .timeout = 60)
{
    static const char *const ids[] = {"alice", "bob", "carol"};
    struct step steps[12];
    unsigned n = 0;
    for (unsigned round = 0; round < 4; round++)
        for (unsigned s = 0; s < 3; s++) {
            char body[96];
            snprintf(body, sizeof body, "{\"input\":null,\"session_id\":\"%s\"}", ids[s]);
            steps[n] = (struct step){(round + s) % 4,
                                     post("/v1/agents/session-counter/invoke", body, NULL)};
            n++;
        }
    run_script(4, steps, n);
    unsigned forwarded = 0;
    for (unsigned i = 0; i < n; i++) {
        const char *id = ids[i % 3];
        json_t *j = json_of(i);
        cr_assert_eq(status_of(i), 200, "%s", R.tex[i].buf);
        cr_assert_eq(json_integer_value(json_object_get(j, "shard")), ac_session_shard(id, 4),
                     "step %u ran off its owner", i);
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "output"), "count")),
                     i / 3 + 1, "step %u", i);
        forwarded += steps[i].origin != ac_session_shard(id, 4);
        json_decref(j);
    }
    cr_assert_gt(forwarded, 0, "the script must exercise forwarding");
    free_script(n);
}

Test(runtime_agent_router, deadline_gives_504_and_drops_the_late_answer, .timeout = 60)
{
    /* a session owned by shard 1, sent to shard 0: the 504 is forwarded back */
    char body[96], id[16];
    for (unsigned i = 0;; i++) {
        snprintf(id, sizeof id, "d%u", i);
        if (ac_session_shard(id, 2) == 1)
            break;
    }
    snprintf(body, sizeof body, "{\"input\":1,\"session_id\":\"%s\"}", id);
    const struct step steps[] = {
        {0, post("/v1/agents/never/invoke", body, NULL)},
        {1, post("/v1/agents/late/invoke", "{\"input\":1}", NULL)},
        /* answers at 100 ms, after the late agent's 60 ms timer */
        {1, post("/v1/agents/sleep/invoke", "{\"input\":100}", NULL)},
        {0, "GET /v1/agents HTTP/1.1\r\nHost: t\r\n\r\n"},
    };
    run_script(2, steps, 4);
    expect_error(0, 504, "deadline_exceeded");
    cr_assert_not_null(strstr(body_of(0), "did not answer within 30 ms"));
    expect_error(1, 504, "deadline_exceeded");
    cr_assert_eq(R.late_answer_result, -ESTALE);
    cr_assert_null(strstr(R.tex[1].buf, "too late"), "the late answer must be dropped");
    json_t *j = json_of(3), *a;
    size_t k;
    json_array_foreach(json_object_get(j, "agents"), k, a)
    {
        json_t *c = json_object_get(a, "counters");
        const char *name = json_string_value(json_object_get(a, "name"));
        if (strcmp(name, "never") == 0 || strcmp(name, "late") == 0) {
            cr_assert_eq(json_integer_value(json_object_get(c, "timeouts")), 1, "%s", name);
            cr_assert_eq(json_integer_value(json_object_get(c, "inflight")), 0, "%s", name);
        }
    }
    json_decref(j);
    free_script(4);
}

Test(runtime_agent_router, concurrency_limit_answers_503_with_retry_after, .timeout = 60)
{
    const struct step steps[] = {
        {0, post("/v1/agents/limited/invoke", "{\"input\":1}", NULL), true},
        {0, post("/v1/agents/limited/invoke", "{\"input\":2}", NULL)},
    };
    run_script(1, steps, 2);
    expect_error(1, 503, "agent_busy");
    cr_assert_not_null(strstr(R.tex[1].buf, "\r\nRetry-After: 1\r\n"));
    expect_error(0, 504, "deadline_exceeded");
    free_script(2);
}

/* Parses a response with a client parser: de-chunked body, completeness. */
static struct {
    char body[4096];
    size_t len;
    bool complete;
} C;

static int c_body(http_parser *hp, const char *at, size_t n)
{
    (void)hp;
    if (C.len + n < sizeof C.body) {
        memcpy(C.body + C.len, at, n);
        C.len += n;
    }
    return 0;
}

static int c_complete(http_parser *hp)
{
    (void)hp;
    C.complete = true;
    return 0;
}

static const char *client_body(unsigned i)
{
    http_parser hp;
    http_parser_settings st;
    http_parser_settings_init(&st);
    st.on_body = c_body;
    st.on_message_complete = c_complete;
    memset(&C, 0, sizeof C);
    http_parser_init(&hp, HTTP_RESPONSE);
    size_t n = http_parser_execute(&hp, &st, R.tex[i].buf, R.tex[i].len);
    cr_assert_eq(n, R.tex[i].len, "step %u: %s", i, http_errno_name(HTTP_PARSER_ERRNO(&hp)));
    cr_assert(C.complete, "step %u: response incomplete", i);
    C.body[C.len] = 0;
    return C.body;
}

Test(runtime_agent_router, streams_arrive_as_sse_in_order_also_when_forwarded, .timeout = 60)
{
    char body[128], id[16];
    for (unsigned i = 0;; i++) {
        snprintf(id, sizeof id, "st%u", i);
        if (ac_session_shard(id, 2) == 1)
            break;
    }
    snprintf(body, sizeof body, "{\"input\":1,\"stream\":true,\"session_id\":\"%s\"}", id);
    const struct step steps[] = {
        {0, post("/v1/agents/stream/invoke",
                 "{\"input\":{\"chunks\":3,\"interval_ms\":1},\"stream\":true}", NULL)},
        {0, post("/v1/agents/two-events/invoke", body, NULL)},
        {1, post("/v1/agents/echo/invoke", "{\"input\":\"x\",\"stream\":true}", NULL)},
    };
    run_script(2, steps, 3);
    for (unsigned i = 0; i < 3; i++) {
        cr_assert_eq(status_of(i), 200);
        cr_assert_not_null(strstr(R.tex[i].buf, "\r\nContent-Type: text/event-stream\r\n"));
        cr_assert_not_null(strstr(R.tex[i].buf, "\r\nTransfer-Encoding: chunked\r\n"));
    }
    cr_assert_str_eq(client_body(0),
                     "data: {\"chunk\":0}\n\ndata: {\"chunk\":1}\n\ndata: {\"chunk\":2}\n\n");
    cr_assert_str_eq(client_body(1), "data: first\n\ndata: second\ndata: line\n\n");
    const char *b = client_body(2);
    cr_assert(strncmp(b, "event: result\ndata: {", 21) == 0, "%s", b);
    cr_assert_not_null(strstr(b, "\"output\":\"x\""));
    free_script(3);
}

/* A 2-slot message ring fills at once: forwarded calls and their replies
 * queue behind it and still arrive, in order (counts 1..N). */
Test(runtime_agent_router, full_message_rings_queue_posts_in_order, .timeout = 60)
{
    char body[96], id[16];
    struct step steps[24];
    for (unsigned i = 0;; i++) {
        snprintf(id, sizeof id, "q%u", i);
        if (ac_session_shard(id, 2) == 1)
            break;
    }
    snprintf(body, sizeof body, "{\"input\":1,\"session_id\":\"%s\"}", id);
    for (unsigned i = 0; i < 24; i++)
        steps[i] = (struct step){0, post("/v1/agents/session-counter/invoke", body, NULL), true};
    ring_size = 2;
    run_script(2, steps, 24);
    ring_size = 1024;
    cr_assert_gt(R.msgs_full, 0, "the ring never filled: the queue path was not exercised");
    for (unsigned i = 0; i < 24; i++) {
        json_t *j = json_of(i);
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "output"), "count")),
                     i + 1, "step %u", i);
        json_decref(j);
    }
    free_script(24);
}

/* Session "s1" lives on shard 1 of 2 (ac_session_hash), so calls that
 * arrive on shard 0 travel there; the long body does not fit a call. */
Test(runtime_agent_router, tree_and_lazy_agents_see_the_same_request, .timeout = 60)
{
    static char big_body[2048];
    const char *small = "{\"input\":{\"k\":[1,\"\\u00e9\"]},\"session_id\":\"s\\u0031\","
                        "\"tools\":[\"a\",\"b\"],\"context\":{\"c\":1}}";
    snprintf(big_body, sizeof big_body,
             "{\"input\":{\"k\":[1,\"%01200d\"]},\"session_id\":\"s1\",\"tools\":[\"a\",\"b\"]}",
             5);
    cr_assert_eq(ac_session_shard("s1", 2), 1);
    const struct step steps[] = {
        {0, post("/v1/agents/trees/invoke", small, NULL)},
        {0, post("/v1/agents/lazy/invoke", small, NULL)},
        {0, post("/v1/agents/trees/invoke", big_body, NULL)},
        {0, post("/v1/agents/lazy/invoke", big_body, NULL)},
        {1, post("/v1/agents/lazy/invoke", small, NULL)},
    };
    unsigned n = sizeof steps / sizeof steps[0];
    run_script(2, steps, n);
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(status_of(i), 200, "step %u: %s", i, R.tex[i].buf);
        json_t *j = json_of(i), *o = json_object_get(j, "output");
        cr_assert_eq(json_integer_value(json_object_get(j, "shard")), 1, "ran on the owner");
        cr_assert_str_eq(json_string_value(json_object_get(o, "session")), "s1");
        cr_assert_eq(json_integer_value(json_object_get(o, "tools")), 2);
        json_t *k = json_object_get(json_object_get(o, "input"), "k");
        cr_assert_eq(json_array_size(k), 2);
        if (i == 0 || i == 1 || i == 4)
            cr_assert_str_eq(json_string_value(json_array_get(k, 1)), "\xc3\xa9");
        else
            cr_assert_eq(strlen(json_string_value(json_array_get(k, 1))), 1200);
        json_decref(j);
    }
    free_script(n);
}
