/*
 * In the asan preset freed slab objects are poisoned: a use after free and
 * a double free stop the process. Each case runs in a forked child whose
 * exit status and report the parent checks. Other builds skip: without
 * ASan there is nothing to catch the access.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentcore/mem.h"

#ifdef AC_ASAN
/* Runs fn in a child with stderr captured; returns its wait status and report. */
static int run_child(void (*fn)(void), char *report, size_t len)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn();
        _exit(0); /* reached only if nothing was caught */
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < len && (r = read(fds[0], report + n, len - 1 - n)) > 0)
        n += (size_t)r;
    report[n] = '\0';
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static volatile char sink;

static void use_after_free(void)
{
    char *p = ac_alloc(48);
    memset(p, 1, 48);
    ac_free(p);
    sink = p[8]; /* must be reported: the object is poisoned */
}

static void double_free(void)
{
    char *p = ac_alloc(48);
    ac_free(p);
    ac_free(p);
}
#endif

Test(mem_poison, use_after_free_is_reported_by_asan)
{
#ifdef AC_ASAN
    char report[8192];
    int status = run_child(use_after_free, report, sizeof report);
    /* ASan reports and exits with its default exitcode, 1. */
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "child status %#x: %s", status,
              report);
    cr_assert_not_null(strstr(report, "use-after-poison"), "report: %s", report);
#else
    cr_skip_test("poisoning needs the asan preset");
#endif
}

Test(mem_poison, double_free_panics)
{
#ifdef AC_ASAN
    char report[8192];
    int status = run_child(double_free, report, sizeof report);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "child status %#x: %s", status,
              report);
    cr_assert_not_null(strstr(report, "double free"), "report: %s", report);
#else
    cr_skip_test("poisoning needs the asan preset");
#endif
}
