/*
 * build/bin/ac-echo as a process: with --sqpoll its shards' rings use a
 * kernel SQ polling thread, and it must still echo every byte in order
 * and exit 0 on SIGTERM. The start-up log line says which ring flags the
 * kernel granted; the test requires "sqpoll=on" so it cannot pass on
 * plain rings.
 */
#include "net/helpers.h"

#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

struct echo_proc {
    pid_t pid;
    int err_fd; /* read end of its stderr */
    char log[8192];
    size_t log_len;
};

static void proc_start(struct echo_proc *p, uint16_t port, bool sqpoll)
{
    int pfd[2];
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%u", port);
    cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
    p->pid = fork();
    cr_assert_geq(p->pid, 0);
    if (p->pid == 0) {
        dup2(pfd[1], 2);
        char *argv[] = {
            AC_ECHO_BIN, "--port", port_s, "--host", "127.0.0.1", sqpoll ? "--sqpoll" : NULL, NULL};
        execv(AC_ECHO_BIN, argv);
        _exit(127);
    }
    close(pfd[1]);
    p->err_fd = pfd[0];
    p->log_len = 0;
}

/* Reads its log until `needle` appears or `ms` pass; true when found. */
static bool proc_wait_log(struct echo_proc *p, const char *needle, int ms)
{
    uint64_t deadline = ac_now_ns() + (uint64_t)ms * 1000000ull;
    while (!memmem(p->log, p->log_len, needle, strlen(needle))) {
        int64_t left = (int64_t)(deadline - ac_now_ns());
        if (left <= 0 || p->log_len == sizeof p->log)
            return false;
        struct pollfd pf = {.fd = p->err_fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(left / 1000000) + 1) <= 0)
            continue;
        ssize_t r = read(p->err_fd, p->log + p->log_len, sizeof p->log - p->log_len);
        if (r <= 0)
            return false; /* exited */
        p->log_len += (size_t)r;
    }
    return true;
}

static int proc_stop(struct echo_proc *p)
{
    int st = 0;
    kill(p->pid, SIGTERM);
    cr_assert_eq(waitpid(p->pid, &st, 0), p->pid);
    close(p->err_fd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(apps_ac_echo, sqpoll_server_echoes_every_byte_and_exits_cleanly, .timeout = 90)
{
    skip_without_sqpoll();
    int reserve;
    uint16_t port = reserve_port(&reserve);
    struct echo_proc p;
    proc_start(&p, port, true);
    bool listening = proc_wait_log(&p, "listening on", 20000);
    if (!listening) {
        int code = proc_stop(&p);
        close(reserve);
        cr_assert(listening, "ac-echo did not start (exit %d): %.*s", code, (int)p.log_len, p.log);
    }
    bool sq_on = memmem(p.log, p.log_len, "sqpoll=on", 9) != NULL;
    uint64_t n = echo_clients(port, 32, 256 << 10, 2024, 60);
    int code = proc_stop(&p);
    close(reserve);
    cr_assert(sq_on, "ring flags in the log: %.*s", (int)p.log_len, p.log);
    cr_assert_gt(n, 32, "bytes echoed");
    cr_assert_eq(code, 0, "ac-echo exit status");
}
