/*
 * SIGTERM/SIGINT stop a running runtime: the runtime runs in a child
 * process (signals are process-wide), the parent signals it once all shards
 * are up and checks that run() returned 0 and the child exited cleanly.
 * SIGHUP reopens the log file and leaves the runtime running.
 */
#include "runtime/helpers.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static int ready_fd;

static void on_start(void *arg, unsigned shard)
{
    static _Atomic unsigned up;
    ac_runtime *rt = ac_runtime_current();
    (void)arg;
    (void)shard;
    if (atomic_fetch_add(&up, 1) + 1 == ac_runtime_shard_count(rt)) {
        char c = 'r';
        if (write(ready_fd, &c, 1) != 1)
            _exit(3);
    }
}

static void child(int fd)
{
    ac_runtime *rt;
    ac_runtime_config cfg;
    ac_runtime_config_init(&cfg); /* handle_signals = true */
    cfg.on_shard_start = on_start;
    ready_fd = fd;
    if (ac_runtime_create(&cfg, &rt))
        _exit(4);
    int err = ac_runtime_run(rt);
    ac_runtime_destroy(rt);
    _exit(err ? 5 : 0);
}

/*
 * Forks a child that runs a runtime (logging to `log` unless NULL) with the
 * default signal dispositions; returns its pid once every shard is up.
 */
static pid_t fork_runtime(const char *log)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(p[0]);
        /* Criterion's worker may block or catch these; start from defaults. */
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (log && ac_log_open(log))
            _exit(6);
        child(p[1]);
    }
    close(p[1]);
    char c;
    cr_assert_eq(read(p[0], &c, 1), 1, "child did not boot");
    close(p[0]);
    return pid;
}

/* Waits for the child; asserts it exited 0 rather than dying of a signal. */
static void expect_clean_exit(pid_t pid)
{
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child was killed by signal %d instead of stopping",
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 0);
}

static void stops_on(int sig)
{
    pid_t pid = fork_runtime(NULL);
    cr_assert_eq(kill(pid, sig), 0);
    expect_clean_exit(pid);
}

Test(runtime_signals, sigterm_stops_a_running_runtime, .timeout = 60)
{
    stops_on(SIGTERM);
}

Test(runtime_signals, sigint_stops_a_running_runtime, .timeout = 60)
{
    stops_on(SIGINT);
}

/* Polls `path` for `needle`, at most 15 s. */
static bool file_has(const char *path, const char *needle)
{
    char buf[8192];
    for (int i = 0; i < 1500; i++) {
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            buf[n] = 0;
            fclose(f);
            if (strstr(buf, needle))
                return true;
        }
        usleep(10000);
    }
    return false;
}

Test(runtime_signals, sighup_reopens_the_log_and_keeps_running, .timeout = 60)
{
    char dir[] = "/tmp/ac_sighup_XXXXXX", log[64], moved[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(moved, sizeof moved, "%s/log.1", dir);
    pid_t pid = fork_runtime(log);
    cr_assert_eq(rename(log, moved), 0);
    cr_assert_eq(kill(pid, SIGHUP), 0);
    cr_assert(file_has(log, "msg=\"received SIGHUP, log file reopened\""),
              "no new log file after SIGHUP");
    cr_assert_eq(kill(pid, SIGTERM), 0, "the runtime must still be running");
    expect_clean_exit(pid);
    cr_assert(file_has(log, "received SIGTERM"));
    unlink(log);
    unlink(moved);
    rmdir(dir);
}
