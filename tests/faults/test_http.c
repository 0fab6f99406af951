/*
 * The HTTP agent workload under injected faults (the `faults` preset):
 * agentd's stack in-process (runtime, net, HTTP server, agent host with
 * the built-in agents) on two shards, while receives, sends and accepts
 * fail, sends come up short, the buffer ring "runs dry" and slab refills
 * find no memory. Every request must be answered with a well-formed
 * response or its connection closed (end of stream or reset) — never
 * left hanging. Then injection stops and every request of a clean run
 * must succeed. Leaks: LeakSanitizer at exit.
 */
#include "net/http/client.h"
#include "runtime/helpers.h"

#include "agentcore/fault.h"

#include <pthread.h>

#define SHARDS 2

static struct {
    ac_runtime *rt;
    ac_agent_host *host;
    pthread_t thread;
    uint16_t port;
    int reserve_fd;
    ac_net *net[SHARDS];
    ac_http_server *srv[SHARDS];
} A;

static void shard_start(void *arg, unsigned id)
{
    struct ac_tcp_server_config tcp = {.host = "127.0.0.1", .port = A.port};
    struct ac_net_config nc;
    (void)arg;
    ac_net_config_init(&nc);
    nc.buf_count = 16; /* small: the ring really runs dry too */
    nc.buf_size = 4096;
    cr_assert_eq(ac_agent_host_shard_start(A.host, id), 0);
    cr_assert_eq(ac_net_create(&nc, &A.net[id]), 0);
    cr_assert_eq(ac_agent_http_start(A.host, A.net[id], &tcp, NULL, &A.srv[id]), 0);
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
    (void)s;
    ac_net_stop(A.net[(uintptr_t)arg], ac_now_ns(), net_stopped, arg);
}

static void shard_stop(void *arg, unsigned id)
{
    (void)arg;
    ac_shard_hold_stop();
    ac_http_server_stop(A.srv[id], ac_now_ns() + 1000000000ull, http_stopped,
                        (void *)(uintptr_t)id);
}

static void *run(void *arg)
{
    (void)arg;
    cr_assert_eq(ac_runtime_run(A.rt), 0);
    return NULL;
}

static const char *const requests[] = {
    "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
    "POST /v1/agents/echo/invoke HTTP/1.1\r\nHost: t\r\nContent-Length: 25\r\n\r\n"
    "{\"input\":{\"a\":[1,2,3,4]}}",
    "POST /v1/agents/compute/invoke HTTP/1.1\r\nHost: t\r\nContent-Length: 14\r\n\r\n"
    "{\"input\":2000}",
    "POST /v1/agents/stream/invoke HTTP/1.1\r\nHost: t\r\nContent-Length: 22\r\n\r\n"
    "{\"input\":{\"chunks\":3}}",
    "GET /v1/agents HTTP/1.1\r\nHost: t\r\n\r\n",
};

/*
 * `conns` connections of `per` keep-alive requests each. Counts answers
 * (any well-formed response) and connections the server closed; fails
 * the test when one is left hanging.
 */
static void load(unsigned conns, unsigned per, unsigned *answered, unsigned *ok, unsigned *closed)
{
    static struct hc c;
    static struct hc_resp r;
    *answered = *ok = *closed = 0;
    for (unsigned i = 0; i < conns; i++) {
        cr_assert(hc_open(&c, A.port), "connect %u", i);
        for (unsigned j = 0; j < per; j++) {
            const char *raw = requests[(i + j) % AC_ARRAY_LEN(requests)];
            if (!hc_sends(&c, raw) || !hc_read(&c, &r, false)) {
                cr_assert(hc_wait_closed(&c), "conn %u request %u: neither answered nor closed", i,
                          j);
                (*closed)++;
                break;
            }
            (*answered)++;
            *ok += r.status == 200;
            cr_assert(r.status == 200 || r.status == 500 || r.status == 503,
                      "conn %u request %u: status %d", i, j, r.status);
        }
        hc_close(&c);
    }
}

Test(faults_http, every_request_answered_or_closed_then_normal_service, .timeout = 300)
{
    cr_assert(ac_fault_compiled());
    ac_runtime_config rc;
    struct hc_resp r;
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
    cr_assert_eq(ac_runtime_create(&rc, &A.rt), 0);
    cr_assert_eq(pthread_create(&A.thread, NULL, run, NULL), 0);
    bool up = false;
    for (int i = 0; i < 200 && !up; i++) {
        up = hc_status_of(A.port, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n", &r) == 200;
        if (!up)
            usleep(10000); /* bounded: at most 2 s for the shards to boot */
    }
    cr_assert(up, "agent server did not become ready");

    unsigned answered, ok, closed;
    ac_fault_set(0.02, (1u << AC_FAULT_KIND_COUNT) - 1);
    load(300, 5, &answered, &ok, &closed);
    ac_fault_set(0, 0);
    cr_log_info("under faults: %u answered (%u ok), %u closed; injected io %lu short %lu "
                "nobufs %lu alloc %lu",
                answered, ok, closed, (unsigned long)ac_fault_count(AC_FAULT_IO),
                (unsigned long)ac_fault_count(AC_FAULT_SHORT_SEND),
                (unsigned long)ac_fault_count(AC_FAULT_NOBUFS),
                (unsigned long)ac_fault_count(AC_FAULT_ALLOC));
    cr_assert_gt(ac_fault_count(AC_FAULT_IO), 0, "faults were injected");
    cr_assert_gt(answered, 0);

    /* Injection off: normal service. */
    load(100, 5, &answered, &ok, &closed);
    cr_assert_eq(closed, 0);
    cr_assert_eq(ok, 500, "every request of the clean run succeeds");

    ac_runtime_stop(A.rt);
    pthread_join(A.thread, NULL);
    for (unsigned i = 0; i < SHARDS; i++)
        ac_http_server_destroy(A.srv[i]);
    ac_runtime_destroy(A.rt);
    ac_agent_host_destroy(A.host);
    close(A.reserve_fd);
}
