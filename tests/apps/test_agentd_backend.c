/*
 * agentd on a host that blocks io_uring, made real in a child process: a
 * seccomp filter (libseccomp) makes io_uring_setup, io_uring_enter and
 * io_uring_register fail with EPERM, as Docker's default profile does,
 * then agentd is exec'd under it. With the default backend (auto) it must
 * warn once, naming seccomp, and serve HTTP on epoll — checked with a real
 * request over TCP; with --backend io_uring it must refuse to start and
 * name the cause and the fix. Every wait is bounded.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct child {
    pid_t pid;
    int out, err; /* read ends of its stdout and stderr */
};

/* Runs agentd with `args` under the io_uring-denying filter (no AC_BACKEND). */
static void spawn(struct child *c, const char *const args[])
{
    const char *argv[16] = {AGENTD_BIN};
    int n = 1, o[2], e[2];
    for (; *args; args++)
        argv[n++] = *args;
    cr_assert_eq(pipe(o), 0);
    cr_assert_eq(pipe(e), 0);
    c->pid = fork();
    cr_assert_geq(c->pid, 0);
    if (c->pid == 0) {
        dup2(o[1], 1);
        dup2(e[1], 2);
        close(o[0]);
        close(e[0]);
        unsetenv("AC_BACKEND"); /* the @epoll test run must not decide for agentd */
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(io_uring_setup), 0) ||
            seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(io_uring_enter), 0) ||
            seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(io_uring_register), 0) ||
            seccomp_load(ctx))
            _exit(126);
        execv(AGENTD_BIN, (char *const *)argv);
        _exit(127);
    }
    close(o[1]);
    close(e[1]);
    c->out = o[0];
    c->err = e[0];
}

/* Reads fd until EOF or `ms` without data, into buf (NUL-terminated). */
static size_t slurp(int fd, char *buf, size_t cap, int ms, const char *until)
{
    size_t len = 0;
    buf[0] = 0;
    while (len < cap - 1 && !(until && strstr(buf, until))) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, ms) != 1)
            break;
        ssize_t k = read(fd, buf + len, cap - 1 - len);
        if (k <= 0)
            break;
        len += (size_t)k;
        buf[len] = 0;
    }
    return len;
}

/* Exit status within 15 s (SIGTERM first when `stop`). */
static int reap(struct child *c, bool stop)
{
    int st = 0;
    if (stop)
        kill(c->pid, SIGTERM);
    for (int i = 0; i < 1500; i++) {
        if (waitpid(c->pid, &st, WNOHANG) == c->pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, &st, 0);
    cr_assert_fail("agentd did not exit within 15 s");
    return -1;
}

/* GET `path` over a real TCP connection; the whole answer into buf. */
static void get(uint16_t port, const char *path, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 10};
    cr_assert_geq(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "%s", strerror(errno));
    char req[256];
    int n =
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    cr_assert_eq(write(fd, req, (size_t)n), (ssize_t)n);
    size_t len = 0;
    ssize_t k;
    while (len < cap - 1 && (k = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)k;
    buf[len] = 0;
    close(fd);
}

Test(apps_agentd_backend, auto_falls_back_to_epoll_under_seccomp_and_serves_http, .timeout = 60)
{
    static const char *const args[] = {"--port", "0", "--admin-port", "0", "--cpus", "0", NULL};
    struct child c;
    static char out[4096], err[8192], resp[4096], metrics[65536];
    spawn(&c, args);
    slurp(c.out, out, sizeof out, 10000, "\n");
    const char *p = strstr(out, "127.0.0.1:");
    if (!p) {
        reap(&c, true);
        slurp(c.err, err, sizeof err, 1000, NULL);
        cr_assert_fail("agentd did not listen; stdout: %s stderr: %s", out, err);
    }
    get((uint16_t)atoi(p + 10), "/healthz", resp, sizeof resp);
    const char *admin = strstr(p + 10, "127.0.0.1:");
    if (admin)
        get((uint16_t)atoi(admin + 10), "/metrics", metrics, sizeof metrics);
    cr_assert_eq(reap(&c, true), 0, "clean stop");
    slurp(c.err, err, sizeof err, 1000, NULL);
    close(c.out);
    close(c.err);
    cr_assert(strncmp(resp, "HTTP/1.1 200", 12) == 0, "answer: %s", resp);
    cr_assert_not_null(strstr(resp, "{\"status\":\"ok\"}"), "answer: %s", resp);
    const char *warn = strstr(err, "io_uring unavailable (seccomp)");
    cr_assert_not_null(warn, "the fallback names its cause; stderr: %s", err);
    cr_assert_null(strstr(warn + 1, "io_uring unavailable"), "one warning line; stderr: %s", err);
    cr_assert_not_null(strstr(err, "running on epoll"), "stderr: %s", err);
    cr_assert_not_null(strstr(err, "backend=epoll"), "the start line names it; stderr: %s", err);
    cr_assert_not_null(admin, "admin URL in: %s", out);
    cr_assert_not_null(strstr(metrics, "agentcore_backend_info{backend=\"epoll\"} 1"),
                       "/metrics: %.2000s", metrics);
}

Test(apps_agentd_backend, io_uring_backend_refuses_to_start_under_seccomp, .timeout = 60)
{
    static const char *const args[] = {"--port", "0", "--cpus", "0", "--backend", "io_uring", NULL};
    struct child c;
    static char out[4096], err[8192];
    spawn(&c, args);
    int status = reap(&c, false);
    slurp(c.err, err, sizeof err, 1000, NULL);
    slurp(c.out, out, sizeof out, 100, NULL);
    close(c.out);
    close(c.err);
    cr_assert_eq(status, 1, "agentd must fail; stdout: %s stderr: %s", out, err);
    cr_assert_not_null(strstr(err, "io_uring refused (seccomp)"), "cause named; stderr: %s", err);
    cr_assert_not_null(strstr(err, "fix:"), "fix named; stderr: %s", err);
    cr_assert_null(strstr(out, "listening"), "never listened");
}

Test(apps_agentd_backend, capabilities_report_names_seccomp, .timeout = 60)
{
    static const char *const args[] = {"--capabilities", NULL};
    struct child c;
    static char out[8192];
    spawn(&c, args);
    slurp(c.out, out, sizeof out, 10000, "CPUs");
    cr_assert_eq(reap(&c, false), 0);
    close(c.out);
    close(c.err);
    cr_assert_not_null(strstr(out, "backend         epoll"), "report: %s", out);
    cr_assert_not_null(strstr(out, "seccomp"), "report: %s", out);
    cr_assert_not_null(strstr(out, "RLIMIT_MEMLOCK"), "report: %s", out);
}

/* scheduler.io_backend reaches the runtime: epoll chosen outright, no fallback warning. */
Test(apps_agentd_backend, config_key_io_backend_epoll_runs_on_epoll_without_a_warning,
     .timeout = 60)
{
    char path[] = "/tmp/agentd-backend-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    static const char yaml[] = "scheduler:\n  io_backend: epoll\n";
    cr_assert_eq(write(fd, yaml, sizeof yaml - 1), (ssize_t)sizeof yaml - 1);
    close(fd);
    const char *const args[] = {"--config", path,     "--port", "0", "--admin-port",
                                "0",        "--cpus", "0",      NULL};
    struct child c;
    static char out[4096], err[8192], resp[4096];
    spawn(&c, args);
    slurp(c.out, out, sizeof out, 10000, "\n");
    const char *p = strstr(out, "127.0.0.1:");
    if (p)
        get((uint16_t)atoi(p + 10), "/healthz", resp, sizeof resp);
    int status = reap(&c, true);
    slurp(c.err, err, sizeof err, 1000, NULL);
    close(c.out);
    close(c.err);
    unlink(path);
    cr_assert_not_null(p, "agentd did not listen; stderr: %s", err);
    cr_assert_eq(status, 0);
    cr_assert(strncmp(resp, "HTTP/1.1 200", 12) == 0, "answer: %s", resp);
    cr_assert_not_null(strstr(err, "backend=epoll"), "stderr: %s", err);
    cr_assert_null(strstr(err, "io_uring unavailable"), "chosen, not a fallback: %s", err);
}
