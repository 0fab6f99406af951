/*
 * Logging: one line per write(2) so threads never interleave mid-line.
 * The level is the only process-wide setting; it is written once at start
 * (or rarely by an operator) and read relaxed on every call.
 */
#include "agentcore/base.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static _Atomic int log_level = -1; /* -1: not yet read from the environment */
static _Thread_local char thread_tag[16];

static const char *const level_names[] = {
    [AC_LOG_ERROR] = "error",
    [AC_LOG_WARN] = "warn",
    [AC_LOG_INFO] = "info",
    [AC_LOG_DEBUG] = "debug",
};

static int level_from_env(void)
{
    const char *e = getenv("AC_LOG_LEVEL");
    if (e) {
        for (int i = 0; i < (int)AC_ARRAY_LEN(level_names); i++)
            if (strcasecmp(e, level_names[i]) == 0)
                return i;
    }
    return AC_LOG_INFO;
}

bool ac_log_enabled(enum ac_log_level level)
{
    int cur = atomic_load_explicit(&log_level, memory_order_relaxed);
    if (AC_UNLIKELY(cur < 0)) {
        cur = level_from_env();
        atomic_store_explicit(&log_level, cur, memory_order_relaxed);
    }
    return (int)level <= cur;
}

void ac_log_set_level(enum ac_log_level level)
{
    atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

void ac_log_set_thread_tag(const char *tag)
{
    if (!tag) {
        thread_tag[0] = '\0';
        return;
    }
    snprintf(thread_tag, sizeof thread_tag, "%s", tag);
}

static void vlog(const char *level, const char *fmt, va_list ap)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    int n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %-5s %s%s", tm.tm_hour, tm.tm_min,
                 tm.tm_sec, ts.tv_nsec / 1000000, level, thread_tag, thread_tag[0] ? ": " : "");
    if (n < 0)
        return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (m < 0)
        return;
    n += m;
    if ((size_t)n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w; /* nowhere left to report a failed log write */
}

void ac_log(enum ac_log_level level, const char *fmt, ...)
{
    if (!ac_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level_names[level], fmt, ap);
    va_end(ap);
}

void ac__panic(const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ac_log(AC_LOG_ERROR, "panic at %s:%d: %s", file, line, msg);
    abort();
}
