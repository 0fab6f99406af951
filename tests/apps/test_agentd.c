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
#include <sys/prctl.h>
#include <dirent.h>
#include <pwd.h>
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

/* Runs `printf REQ | nc -N` (send, half-close, print what comes back); the output to `out`. */
static void nc_half_close(const struct agentd *d, const char *req, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "printf '%s' | timeout 10 nc -N 127.0.0.1 %u", req, d->port);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t len = fread(out, 1, cap - 1, f);
    out[len] = 0;
    cr_assert_eq(pclose(f), 0, "%s failed", cmd);
}

/* The oldest health check there is, and closing answers of every kind, after a half-close. */
Test(apps_agentd, nc_half_close_gets_every_closing_answer, .timeout = 60)
{
    static const struct {
        const char *req, *status_line;
    } cases[] = {
        {"GET /healthz HTTP/1.0\\r\\n\\r\\n", "HTTP/1.1 200 OK"},
        {"GET /healthz HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n",
         "HTTP/1.1 200 OK"},
        {"POST /v1/agents/echo/invoke HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n"
         "Content-Length: 12\\r\\n\\r\\n{\"input\":42}",
         "HTTP/1.1 200 OK"},
        {"POST /v1/agents/sleep/invoke HTTP/1.0\\r\\nContent-Length: 12\\r\\n\\r\\n{\"input\":20}",
         "HTTP/1.1 200 OK"},
        {"GET /healthz HTTP/1.1\\r\\n\\r\\n", "HTTP/1.1 400 Bad Request"},
        {"GET /nowhere HTTP/1.0\\r\\n\\r\\n", "HTTP/1.1 404 Not Found"},
        {"POST /v1/agents/echo/invoke HTTP/1.1\\r\\nHost: t\\r\\nContent-Length: "
         "5000000\\r\\n\\r\\n",
         "HTTP/1.1 413 "},
    };
    static char out[8192];
    struct agentd d;
    agentd_start(&d, NULL);
    for (unsigned round = 0; round < 5; round++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            nc_half_close(&d, cases[i].req, out, sizeof out);
            cr_assert(strncmp(out, cases[i].status_line, strlen(cases[i].status_line)) == 0,
                      "round %u, %s: got '%s'", round, cases[i].req, out);
        }
    cr_assert_eq(agentd_stop(&d), 0);
}

/* Every thread of `pid`: real, effective, saved and fs ids are uid/gid, no other group. */
static void check_ids(pid_t pid, unsigned uid, unsigned gid)
{
    char path[512], line[256];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    struct dirent *de;
    unsigned threads = 0;
    cr_assert_not_null(dir);
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/status", (int)pid, de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* the thread ended */
        unsigned seen = 0;
        while (fgets(line, sizeof line, f)) {
            unsigned a, b, c, e, want = line[0] == 'U' ? uid : gid;
            if (strncmp(line, "Groups:", 7) == 0) {
                unsigned g;
                int k = sscanf(line + 7, "%u %u", &g, &a);
                cr_assert(k <= 0 || (k == 1 && g == gid), "thread %s: %s", de->d_name, line);
                continue;
            }
            if ((strncmp(line, "Uid:", 4) && strncmp(line, "Gid:", 4)) ||
                sscanf(line + 4, "%u %u %u %u", &a, &b, &c, &e) != 4)
                continue;
            cr_assert(a == want && b == want && c == want && e == want, "thread %s: %s", de->d_name,
                      line);
            seen++;
        }
        fclose(f);
        cr_assert_eq(seen, 2);
        threads++;
    }
    closedir(dir);
    cr_assert_geq(threads, 2, "the shards' threads");
}

Test(apps_agentd, user_flag_drops_root_after_binding, .timeout = 60)
{
    static const char *const extra[] = {"--user", "nobody", NULL};
    static struct hc_resp r;
    struct agentd d;
    if (geteuid() != 0)
        cr_skip_test("needs root to test the drop");
    cr_assert_not_null(getpwnam("nobody"));
    agentd_start(&d, extra);
    cr_assert_eq(hc_status_of(d.port, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &r), 200);
    const struct passwd *pw = getpwnam("nobody");
    cr_assert_neq(pw->pw_uid, 0);
    check_ids(d.pid, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
    cr_assert_eq(agentd_stop(&d), 0);
}

Test(apps_agentd, unknown_user_is_refused_at_start, .timeout = 30)
{
    char out[256];
    FILE *f = popen(AGENTD_BIN " --port 0 --user no-such-user-here 2>&1", "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    int st = pclose(f);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d: %s", st, out);
    cr_assert_not_null(strstr(out, "no such user"), "%s", out);
}

Test(apps_agentd, listens_on_loopback_only_by_default, .timeout = 30)
{
    char line[512];
    unsigned listeners = 0;
    struct agentd d;
    agentd_start(&d, NULL);
    /* /proc/net/tcp: "sl local_address rem_address st ..."; LISTEN is 0A */
    FILE *f = fopen("/proc/net/tcp", "r");
    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f)) {
        unsigned addr, port, st;
        if (sscanf(line, " %*u: %8X:%4X %*8X:%*4X %2X", &addr, &port, &st) != 3)
            continue;
        if (port == d.port && st == 0x0A) {
            cr_assert_eq(addr, 0x0100007Fu, "listener on %08X", addr); /* 127.0.0.1 */
            listeners++;
        }
    }
    fclose(f);
    cr_assert_geq(listeners, 1);
    cr_assert_eq(agentd_stop(&d), 0);
}

Test(apps_agentd, max_conns_flag_bounds_connections_across_shards, .timeout = 60)
{
    static const char *const extra[] = {"--max-conns", "2", NULL};
    static struct hc held[2], extra_conn;
    static struct hc_resp r;
    struct agentd d;
    char v[16];
    agentd_start(&d, extra);
    for (int i = 0; i < 2; i++) {
        r.status = 0;
        /* bounded retries: a probe connection of agentd_start may still count */
        for (int tries = 0; tries < 200 && r.status != 200; tries++) {
            cr_assert(hc_open(&held[i], d.port));
            cr_assert(hc_sends(&held[i], "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
            cr_assert(hc_read(&held[i], &r, false));
            if (r.status != 200) {
                hc_close(&held[i]);
                usleep(5000);
            }
        }
        cr_assert_eq(r.status, 200);
    }
    cr_assert(hc_open(&extra_conn, d.port));
    cr_assert(hc_sends(&extra_conn, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
    cr_assert(hc_read(&extra_conn, &r, false));
    cr_assert_eq(r.status, 503, "the third connection, whichever shard took it");
    cr_assert(hc_header(&r, "Retry-After", v, sizeof v));
    cr_assert_not_null(strstr(r.body, "too_many_connections"), "%s", r.body);
    hc_close(&extra_conn);
    for (int i = 0; i < 2; i++)
        hc_close(&held[i]);
    cr_assert_eq(agentd_stop(&d), 0);
}
