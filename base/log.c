/*
 * Logging: logfmt lines, one write(2) each so threads never interleave
 * mid-line. Process-wide settings (level, destination) are written at
 * start or rarely by an operator (log level flag, SIGHUP reopen) and read
 * relaxed on every call.
 *
 * The destination is one fd number that never changes once a file is
 * open: a reopen opens the new file and dup2()s it onto that number, which
 * the kernel does atomically, so a concurrent write goes wholly to the old
 * file or wholly to the new one.
 */
#include "agentcore/base.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static _Atomic int log_level = -1; /* -1: not yet read from the environment */
static _Atomic int log_fd = STDERR_FILENO;
static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER; /* guards log_path */
static char log_path[PATH_MAX];                               /* "": stderr */
static _Thread_local char thread_tag[32];

static const char *const level_names[] = {
    [AC_LOG_ERROR] = "error",
    [AC_LOG_WARN] = "warn",
    [AC_LOG_INFO] = "info",
    [AC_LOG_DEBUG] = "debug",
};

int ac_log_level_parse(const char *name, enum ac_log_level *out)
{
    for (int i = 0; i < (int)AC_ARRAY_LEN(level_names); i++)
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum ac_log_level)i;
            return 0;
        }
    return -EINVAL;
}

const char *ac_log_level_name(enum ac_log_level level)
{
    return (unsigned)level < AC_ARRAY_LEN(level_names) ? level_names[level] : "?";
}

static int level_from_env(void)
{
    const char *e = getenv("AC_LOG_LEVEL");
    enum ac_log_level l;
    return e && ac_log_level_parse(e, &l) == 0 ? (int)l : AC_LOG_INFO;
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

static int open_path(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    return fd < 0 ? -errno : fd;
}

int ac_log_open(const char *path)
{
    int err = 0;
    pthread_mutex_lock(&file_lock);
    int old = atomic_load(&log_fd);
    if (!path) {
        atomic_store(&log_fd, STDERR_FILENO);
        if (old != STDERR_FILENO)
            close(old);
        log_path[0] = '\0';
        goto out_unlock;
    }
    if (strlen(path) >= sizeof log_path) {
        err = -ENAMETOOLONG;
        goto out_unlock;
    }
    int fd = open_path(path);
    if (fd < 0) {
        err = fd;
        goto out_unlock;
    }
    if (old != STDERR_FILENO) {
        /* keep the fd number: see the file comment */
        dup3(fd, old, O_CLOEXEC);
        close(fd);
    } else {
        atomic_store(&log_fd, fd);
    }
    snprintf(log_path, sizeof log_path, "%s", path);
out_unlock:
    pthread_mutex_unlock(&file_lock);
    return err;
}

int ac_log_reopen(void)
{
    int err = 0;
    pthread_mutex_lock(&file_lock);
    if (log_path[0]) {
        int fd = open_path(log_path);
        if (fd < 0) {
            err = fd;
        } else {
            if (dup3(fd, atomic_load(&log_fd), O_CLOEXEC) < 0)
                err = -errno;
            close(fd);
        }
    }
    pthread_mutex_unlock(&file_lock);
    return err;
}

/* Appends `s` to line[n..cap) with logfmt quoting; returns the new length. */
static size_t quote(char *line, size_t n, size_t cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s && n + 6 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            line[n++] = '\\';
            line[n++] = (char)c;
        } else if (c == '\n') {
            line[n++] = '\\';
            line[n++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(line + n, "\\u00", 4);
            line[n + 4] = hex[c >> 4];
            line[n + 5] = hex[c & 15];
            n += 6;
        } else {
            line[n++] = (char)c;
        }
    }
    return n;
}

static void vlog(const char *level, const char *fmt, va_list ap)
{
    char msg[1024], line[1200];
    struct timespec ts;
    struct tm tm;
    int n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
        return;
    n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s %s%smsg=\"",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000, level, thread_tag, thread_tag[0] ? " " : "");
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    size_t len = quote(line, (size_t)n, sizeof line - 2, msg);
    line[len++] = '"';
    line[len++] = '\n';
    ssize_t w = write(atomic_load_explicit(&log_fd, memory_order_relaxed), line, len);
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
