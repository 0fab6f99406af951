/*
 * build/bin/agentd as a process on a kernel-chosen port (--port 0; the
 * port is read from its first line on stdout), driven by curl and by the
 * test client (tests/net/http_client.h) for what curl cannot send
 * (partial heads, pipelining). Every wait is bounded: curl --max-time,
 * SO_RCVTIMEO, poll on agentd's stdout, waitpid with a deadline.
 */
#include "net/http/client.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "apps/agentd_proc.h"

#define INVOKE(agent) "/v1/agents/" agent "/invoke"

static char big[10000];

Test(apps_agentd, curl_drives_every_route_and_error, .timeout = 120)
{
    static const char *const extra[] = {
        "--request-timeout-ms", "300", "--agent-timeout-ms", "200", "--max-body", "1024", NULL};
    static struct hc_resp r;
    struct agentd d;
    static char body[12288];
    agentd_start(&d, extra);
    cr_assert_eq(curl(&d, "", "/healthz", body, sizeof body), 200);
    cr_assert_str_eq(body, "{\"status\":\"ok\"}");
    cr_assert_eq(curl(&d, "", "/readyz", body, sizeof body), 200);
    cr_assert_eq(curl(&d, "", "/v1/agents", body, sizeof body), 200);
    for (const char *a = "echo\0sleep\0compute\0stream\0session-counter\0"; *a; a += strlen(a) + 1)
        cr_assert_not_null(strstr(body, a), "%s missing from %s", a, body);
    cr_assert_eq(curl(&d, "-I", "/healthz", body, sizeof body), 200);
    cr_assert_not_null(strstr(body, "Content-Length: 15"), "%s", body);
    cr_assert_eq(curl(&d, "-d '{\"input\":\"hi\"}'", INVOKE("echo"), body, sizeof body), 200);
    cr_assert_not_null(strstr(body, "\"output\":\"hi\""), "%s", body);
    cr_assert_eq(
        curl(&d, "-H 'Expect: 100-continue' -d '{\"input\":3}'", INVOKE("echo"), body, sizeof body),
        200);
    cr_assert_eq(curl(&d, "-d '{\"input\":5}'", INVOKE("sleep"), body, sizeof body), 200);
    cr_assert_not_null(strstr(body, "\"slept_ms\":5"), "%s", body);
    cr_assert_eq(curl(&d, "-d '{\"input\":1000}'", INVOKE("compute"), body, sizeof body), 200);
    cr_assert_eq(curl(&d, "-N -d '{\"input\":{\"chunks\":3,\"interval_ms\":1},\"stream\":true}'",
                      INVOKE("stream"), body, sizeof body),
                 200);
    cr_assert_not_null(strstr(body, "data: {\"chunk\":2}"), "%s", body);
    for (int n = 1; n <= 3; n++) {
        char want[32];
        cr_assert_eq(curl(&d, "-d '{\"session_id\":\"curl\",\"input\":null}'",
                          INVOKE("session-counter"), body, sizeof body),
                     200);
        snprintf(want, sizeof want, "\"count\":%d}", n);
        cr_assert_not_null(strstr(body, want), "%s", body);
    }
    /* errors */
    cr_assert_eq(curl(&d, "-d '{nope'", INVOKE("echo"), body, sizeof body), 400);
    cr_assert_not_null(strstr(body, "\"error\":{\"code\":\"invalid_json\""), "%s", body);
    cr_assert_eq(curl(&d, "-d '{\"input\":1}'", INVOKE("nobody"), NULL, 0), 404);
    cr_assert_eq(curl(&d, "", "/nowhere", NULL, 0), 404);
    cr_assert_eq(curl(&d, "-X DELETE", "/healthz", NULL, 0), 405);
    memset(big, 'x', 2000);
    big[2000] = 0;
    snprintf(body, sizeof body, "-d '{\"input\":\"%s\"}'", big);
    cr_assert_eq(curl(&d, body, INVOKE("echo"), NULL, 0), 413);
    memset(big, 'y', 9000);
    big[9000] = 0;
    snprintf(body, sizeof body, "-H 'X-Big: %s'", big);
    cr_assert_eq(curl(&d, body, "/healthz", NULL, 0), 431);
    cr_assert_eq(curl(&d, "-d '{\"input\":1000}'", INVOKE("sleep"), body, sizeof body), 504);
    cr_assert_not_null(strstr(body, "deadline_exceeded"), "%s", body);
    /* curl cannot stop mid-head: the test client sends half a request */
    cr_assert_eq(hc_status_of(d.port, "GET /healthz HTTP/1.1\r\nHost: t\r\n", &r), 408);
    cr_assert_eq(curl(&d, "", "/healthz", NULL, 0), 200, "still serving");
    cr_assert_eq(agentd_stop(&d), 0);
}

Test(apps_agentd, full_queue_is_503_and_pipelined_answers_stay_in_order, .timeout = 60)
{
    static const char *const extra[] = {"--queue-size", "1", NULL};
    static struct hc c;
    static struct hc_resp r;
    static char raw[100 * 128];
    struct agentd d;
    size_t n = 0;
    unsigned busy = 0;
    agentd_start(&d, extra);
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(raw + n, sizeof raw - n,
                              "POST /v1/agents/echo/invoke HTTP/1.1\r\nHost: t\r\n"
                              "Content-Length: 13\r\n\r\n{\"input\":%3d}",
                              i);
    cr_assert(hc_open(&c, d.port));
    cr_assert(hc_send(&c, raw, n));
    for (int i = 0; i < 100; i++) {
        char want[32];
        cr_assert(hc_read(&c, &r, false), "answer %d", i);
        if (r.status == 503) {
            cr_assert(hc_header(&r, "Retry-After", want, sizeof want));
            busy++;
            continue;
        }
        cr_assert_eq(r.status, 200);
        snprintf(want, sizeof want, "\"output\":%d}", i);
        cr_assert_not_null(strstr(r.body, want), "answer %d: %s", i, r.body);
    }
    hc_close(&c);
    cr_assert_geq(busy, 1);
    cr_assert_eq(agentd_stop(&d), 0);
}

Test(apps_agentd, sigterm_lets_the_answer_in_flight_finish, .timeout = 60)
{
    static struct hc c;
    static struct hc_resp r;
    struct agentd d;
    agentd_start(&d, NULL);
    cr_assert(hc_open(&c, d.port));
    cr_assert(hc_sends(&c, "POST /v1/agents/sleep/invoke HTTP/1.1\r\nHost: t\r\n"
                           "Content-Length: 13\r\n\r\n{\"input\":300}"));
    /* wait (bounded) until the call is in flight: the agent list counts it */
    bool inflight = false;
    for (int i = 0; i < 200 && !inflight; i++) {
        cr_assert_eq(hc_status_of(d.port, "GET /v1/agents HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
        const char *s = strstr(r.body, "\"name\":\"sleep\"");
        inflight = s && strstr(s, "\"inflight\":1}");
        if (!inflight)
            usleep(5000);
    }
    cr_assert(inflight, "the sleep call never started");
    kill(d.pid, SIGTERM);
    cr_assert(hc_read(&c, &r, false));
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.body, "\"slept_ms\":300"));
    cr_assert(hc_wait_closed(&c));
    hc_close(&c);
    cr_assert_eq(agentd_stop(&d), 0);
}
