/* Runner for the Criterion subset (see criterion/criterion.h for why). */
#include "criterion/criterion.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_SKIP 77
#define EXIT_FAIL 76

static struct shim_test *tests;
static struct shim_suite *suites;
static int expect_failures;

void shim_register_test(struct shim_test *t)
{
    t->next = tests;
    tests = t;
}

void shim_register_suite(struct shim_suite *s)
{
    s->next = suites;
    suites = s;
}

static void vreport(const char *kind, const char *file, int line, const char *expr, const char *fmt,
                    va_list ap)
{
    fprintf(stderr, "[----] %s:%d: %s: %s", file, line, kind, expr);
    if (fmt && *fmt) {
        fprintf(stderr, ": ");
        vfprintf(stderr, fmt, ap);
    }
    fprintf(stderr, "\n");
}

void shim_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("Assertion Failed", file, line, expr, fmt, ap);
    va_end(ap);
    fflush(stderr);
    _exit(EXIT_FAIL);
}

void shim_expect_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("Expectation Failed", file, line, expr, fmt, ap);
    va_end(ap);
    expect_failures++;
}

void shim_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[SKIP] ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    _exit(EXIT_SKIP);
}

void shim_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static const struct shim_params *suite_params(const char *name)
{
    for (struct shim_suite *s = suites; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s->params;
    return NULL;
}

/* Runs one test in a child; returns 1 passed, 0 failed, 2 skipped. */
static int run_one(const struct shim_test *t)
{
    const struct shim_params *sp = suite_params(t->suite), *tp = t->params;
    void (*init)(void) = tp->init ? tp->init : sp ? sp->init : NULL;
    void (*fini)(void) = tp->fini ? tp->fini : sp ? sp->fini : NULL;
    double timeout = tp->timeout > 0 ? tp->timeout : sp && sp->timeout > 0 ? sp->timeout : 0;

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 0;
    }
    if (pid == 0) {
        if (timeout > 0)
            alarm((unsigned)timeout + 1);
        if (init)
            init();
        t->fn();
        if (fini)
            fini();
        fflush(stdout);
        fflush(stderr);
        exit(expect_failures ? EXIT_FAIL : 0); /* exit(): TSan reports at exit */
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SKIP)
        return 2;
    if (tp->signal)
        return WIFSIGNALED(status) && WTERMSIG(status) == tp->signal;
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "[----] %s::%s: %s\n", t->suite, t->name,
                WTERMSIG(status) == SIGALRM ? "timed out" : strsignal(WTERMSIG(status)));
        return 0;
    }
    return WEXITSTATUS(status) == tp->exit_code;
}

int main(int argc, char **argv)
{
    unsigned passed = 0, failed = 0, skipped = 0;
    const char *only = NULL;

    /* Accept Criterion's flags that CTest passes; --filter s/n selects. */
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--filter=", 9) == 0)
            only = argv[i] + 9;
    for (struct shim_test *t = tests; t; t = t->next) {
        char full[256];
        snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
        if (t->params->disabled || (only && strcmp(only, full) != 0))
            continue;
        int r = run_one(t);
        const char *tag = r == 1 ? "PASS" : r == 2 ? "SKIP" : "FAIL";
        fprintf(stderr, "[%s] %s::%s\n", tag, t->suite, t->name);
        if (r == 1)
            passed++;
        else if (r == 2)
            skipped++;
        else
            failed++;
    }
    fprintf(stderr, "[====] Synthesis: Tested: %u | Passing: %u | Failing: %u | Skipped: %u\n",
            passed + failed + skipped, passed, failed, skipped);
    return failed ? 1 : 0;
}
