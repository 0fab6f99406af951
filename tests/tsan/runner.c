/*
 * The runner behind tests/tsan/criterion/criterion.h (see there for why it
 * exists). Each test runs in a forked child, like Criterion: a crash or a
 * fatal assertion ends only that test; the suite's .init/.fini run around
 * it; the test's (else the suite's) .timeout becomes an alarm().
 * Child exit status: 0 pass, 1 fail, 2 skip.
 */
#include "criterion/criterion.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static struct ac_crit_test *tests;
static struct ac_crit_suite *suites;
static bool failed; /* in the child */

void ac_crit_register_test(struct ac_crit_test *t)
{
    t->next = tests;
    tests = t;
}

void ac_crit_register_suite(struct ac_crit_suite *s)
{
    s->next = suites;
    suites = s;
}

static void say(const char *prefix, const char *fmt, va_list ap)
{
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void ac_crit_fail(bool fatal, const char *file, int line, const char *expr, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  %s:%d: check failed: %s%s", file, line, expr, fmt[0] ? " -- " : "");
    va_start(ap, fmt);
    say("", fmt, ap);
    va_end(ap);
    failed = true;
    if (fatal) {
        fflush(NULL);
        _exit(1);
    }
}

void ac_crit_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("  skipped: ", fmt, ap);
    va_end(ap);
    fflush(NULL);
    _exit(2);
}

void ac_crit_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("  info: ", fmt, ap);
    va_end(ap);
}

static const struct ac_crit_suite *suite_of(const struct ac_crit_test *t)
{
    for (const struct ac_crit_suite *s = suites; s; s = s->next)
        if (strcmp(s->name, t->suite) == 0)
            return s;
    return NULL;
}

static int run_one(const struct ac_crit_test *t)
{
    const struct ac_crit_suite *s = suite_of(t);
    double timeout = t->opts.timeout ? t->opts.timeout : s ? s->opts.timeout : 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        if (timeout > 0)
            alarm((unsigned)timeout + 1);
        void (*init)(void) = t->opts.init ? t->opts.init : s ? s->opts.init : NULL;
        void (*fini)(void) = t->opts.fini ? t->opts.fini : s ? s->opts.fini : NULL;
        if (init)
            init();
        t->fn();
        if (fini)
            fini();
        fflush(NULL);
        _exit(failed ? 1 : 0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "  crashed: signal %d%s\n", WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
        return 1;
    }
    return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv; /* Criterion flags such as --jobs 1 are accepted and ignored */
    unsigned n = 0, pass = 0, fail = 0, skip = 0;
    /* Registration prepends: reverse for source order. */
    struct ac_crit_test *rev = NULL;
    while (tests) {
        struct ac_crit_test *next = tests->next;
        tests->next = rev;
        rev = tests;
        tests = next;
    }
    for (struct ac_crit_test *t = rev; t; t = t->next) {
        fprintf(stderr, "[RUN ] %s::%s\n", t->suite, t->name);
        int r = run_one(t);
        n++;
        pass += r == 0;
        skip += r == 2;
        fail += r != 0 && r != 2;
        fprintf(stderr, "[%s] %s::%s\n",
                r == 0   ? "PASS"
                : r == 2 ? "SKIP"
                         : "FAIL",
                t->suite, t->name);
    }
    fprintf(stderr, "Synthesis: Tested: %u | Passing: %u | Failing: %u | Skipped: %u\n", n, pass,
            fail, skip);
    return fail ? 1 : 0;
}
