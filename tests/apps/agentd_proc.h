/*
 * build/bin/agentd as a child process for the apps tests: started on
 * kernel-chosen ports (--port 0 --admin-port 0; both read from its first
 * line on stdout), stopped with SIGTERM, driven with curl. Every wait is
 * bounded: curl --max-time, poll on agentd's stdout, waitpid with a
 * deadline. Include once per test file (static functions).
 */
#ifndef AC_TEST_APPS_AGENTD_PROC_H
#define AC_TEST_APPS_AGENTD_PROC_H

#include <criterion/criterion.h>
#include <poll.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct agentd {
    pid_t pid;
    uint16_t port;       /* the API listener */
    uint16_t admin_port; /* the admin listener (same first line: "admin on http://...") */
};

static void agentd_start(struct agentd *d, const char *const extra[])
{
    /* the admin listener on a kernel-chosen port too (never 9090 in tests) */
    const char *argv[24] = {AGENTD_BIN, "--port", "0", "--admin-port", "0", "--quiet"};
    int n = 6, fds[2];
    char line[256] = {0};
    size_t len = 0;
    for (; extra && *extra; extra++)
        argv[n++] = *extra;
    cr_assert_eq(pipe(fds), 0);
    d->pid = fork();
    cr_assert_geq(d->pid, 0);
    if (d->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execv(AGENTD_BIN, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    /* the first line names the port; at most 10 s (sanitizer builds boot slowly) */
    while (!memchr(line, '\n', len) && len < sizeof line - 1) {
        struct pollfd p = {fds[0], POLLIN, 0};
        cr_assert_eq(poll(&p, 1, 10000), 1, "agentd printed nothing");
        ssize_t k = read(fds[0], line + len, sizeof line - 1 - len);
        cr_assert_gt(k, 0, "agentd exited before listening");
        len += (size_t)k;
    }
    close(fds[0]);
    const char *p = strstr(line, "127.0.0.1:");
    cr_assert_not_null(p, "unexpected first line: %s", line);
    d->port = (uint16_t)atoi(p + 10);
    cr_assert_gt(d->port, 0);
    p = strstr(line, "admin on http://127.0.0.1:");
    d->admin_port = p ? (uint16_t)atoi(p + 26) : 0;
}

/* SIGTERM, then the exit status (bounded: 15 s). */
static int agentd_stop(struct agentd *d)
{
    int st = 0;
    kill(d->pid, SIGTERM);
    for (int i = 0; i < 1500; i++) {
        if (waitpid(d->pid, &st, WNOHANG) == d->pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &st, 0);
    cr_assert_fail("agentd did not stop within 15 s");
    return -1;
}

/* Runs curl with `args` against 127.0.0.1:port; returns the status; body to `out`. */
static int curl_port(uint16_t port, const char *args, const char *path, char *out, size_t cap)
{
    char cmd[12288];
    char buf[8192];
    size_t len = 0;
    int status = -1;
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 10 -w '\\n%%{http_code}' %s 'http://127.0.0.1:%u%s'", args,
             port, path);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = 0;
    pclose(f);
    char *nl = strrchr(buf, '\n');
    cr_assert_not_null(nl, "curl printed %s", buf);
    status = atoi(nl + 1);
    *nl = 0;
    if (out)
        snprintf(out, cap, "%s", buf);
    return status;
}

/* curl against the agentd's API port. */
static int curl(const struct agentd *d, const char *args, const char *path, char *out, size_t cap)
{
    return curl_port(d->port, args, path, out, cap);
}

#endif
