/*
 * build/bin/agentd as a child process for the tests that drive it (apps,
 * admin pages, alerts): started with --quiet on kernel-chosen ports
 * (--port 0 --admin-port 0; both read from its first line on stdout),
 * stopped with SIGTERM, driven with curl and with a bounded load thread.
 * Every wait is bounded: curl --max-time, poll on agentd's stdout,
 * waitpid with a deadline; every load loop by time and count.
 */
#ifndef AC_TEST_APPS_AGENTD_PROC_H
#define AC_TEST_APPS_AGENTD_PROC_H

#include "net/http/client.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct agentd {
    pid_t pid;
    uint16_t port;       /* the API listener */
    uint16_t admin_port; /* the admin listener (same first line: "admin on http://...") */
};

static inline uint64_t ap_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Starts agentd with `extra` arguments (NULL-terminated); with `log_path`
 * its stderr (the log) goes to that file (a file, not a pipe: a full pipe
 * would block a shard that logs).
 */
static inline void agentd_start_logged(struct agentd *d, const char *const extra[],
                                       const char *log_path)
{
    /* the admin listener on a kernel-chosen port too (never 9090 in tests) */
    const char *argv[32] = {AGENTD_BIN, "--port", "0", "--admin-port", "0", "--quiet"};
    int n = 6, fds[2];
    char line[256] = {0};
    size_t len = 0;
    for (; extra && *extra; extra++)
        argv[n++] = *extra;
    cr_assert_eq(pipe(fds), 0);
    pid_t parent = getpid();
    d->pid = fork();
    cr_assert_geq(d->pid, 0);
    if (d->pid == 0) {
        /* a failed assertion ends the test process without agentd_stop:
         * agentd must not outlive it (it would hold CTest's output open) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        dup2(fds[1], 1);
        if (log_path) {
            int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0 || dup2(fd, 2) < 0)
                _exit(126);
        }
        close(fds[0]);
        execv(AGENTD_BIN, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    /* the first line names the ports; at most 10 s (sanitizer builds boot slowly) */
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

static inline void agentd_start(struct agentd *d, const char *const extra[])
{
    agentd_start_logged(d, extra, NULL);
}

/* SIGTERM, then the exit status (bounded: 15 s). */
static inline int agentd_stop(struct agentd *d)
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

/* Runs curl with `args` against 127.0.0.1:port; returns the status; body
 * to `out` (truncated to cap; may be NULL). Not reentrant (static buffers). */
static inline int curl_port(uint16_t port, const char *args, const char *path, char *out,
                            size_t cap)
{
    static char cmd[16384];   /* args may carry a 10 KB header (431 tests) */
    static char buf[1 << 21]; /* /metrics is ~160 KiB with two shards */
    size_t len = 0;
    int status = -1;
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 10 -w '\\n%%{http_code}' %s 'http://127.0.0.1:%u%s'", args, port,
             path);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = 0;
    pclose(f);
    char *nl = strrchr(buf, '\n');
    cr_assert_not_null(nl, "curl printed %s", buf);
    status = atoi(nl + 1);
    *nl = 0;
    if (out) {
        size_t n = strlen(buf) < cap ? strlen(buf) : cap - 1;
        memcpy(out, buf, n);
        out[n] = 0;
    }
    return status;
}

/* curl against the agentd's API port. */
static inline int curl(const struct agentd *d, const char *args, const char *path, char *out,
                       size_t cap)
{
    return curl_port(d->port, args, path, out, cap);
}

/* The file at `path` (agentd's log) into buf, NUL-terminated (truncated to cap). */
static inline void ap_read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    size_t len = fread(buf, 1, cap - 1, f);
    buf[len] = 0;
    fclose(f);
}

/* ---- load: keep-alive POSTs from a thread, bounded in time and count ---- */

struct ap_load {
    uint16_t port;
    const char *path, *body;
    unsigned max_ms, max_requests;
    unsigned pause_us; /* between requests: light load that leaves CPU to others */
    _Atomic bool stop;
    _Atomic unsigned ok, failed;
    pthread_t thread;
};

static inline void *ap_load_main(void *arg)
{
    struct ap_load *l = arg;
    static _Thread_local struct hc c;
    static _Thread_local struct hc_resp r;
    char req[1024];
    uint64_t end = ap_now_ms() + l->max_ms;
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     l->path, strlen(l->body), l->body);
    if (!hc_open(&c, l->port)) {
        atomic_fetch_add(&l->failed, 1);
        return NULL;
    }
    for (unsigned i = 0; i < l->max_requests && !atomic_load(&l->stop) && ap_now_ms() < end; i++) {
        if (!hc_send(&c, req, (size_t)n) || !hc_read(&c, &r, false)) {
            atomic_fetch_add(&l->failed, 1);
            hc_close(&c);
            if (!hc_open(&c, l->port))
                break;
            continue;
        }
        atomic_fetch_add(r.status == 200 ? &l->ok : &l->failed, 1);
        if (l->pause_us)
            usleep(l->pause_us);
    }
    hc_close(&c);
    return NULL;
}

static inline void ap_load_start(struct ap_load *l)
{
    cr_assert_eq(pthread_create(&l->thread, NULL, ap_load_main, l), 0);
}

static inline void ap_load_stop(struct ap_load *l)
{
    atomic_store(&l->stop, true);
    pthread_join(l->thread, NULL);
}

#endif
