/*
 * agentcore/base.h — conventions every module shares: error returns, the
 * monotonic clock, CPU lists and logging.
 *
 * Error convention (STYLE 5): actions return 0 or -errno; predicates return
 * bool; completion callbacks receive `int res` in the same convention.
 * Nothing reports through the global errno.
 */
#ifndef AGENTCORE_BASE_H
#define AGENTCORE_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AC_MUST_USE                        __attribute__((warn_unused_result))
#define AC_PRINTF(f, a)                    __attribute__((format(printf, f, a)))
#define AC_CACHELINE                       64
#define AC_CACHE_ALIGNED                   __attribute__((aligned(AC_CACHELINE)))
#define AC_LIKELY(x)                       __builtin_expect(!!(x), 1)
#define AC_UNLIKELY(x)                     __builtin_expect(!!(x), 0)
#define AC_ARRAY_LEN(a)                    (sizeof(a) / sizeof((a)[0]))
#define AC_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Most CPUs a CPU list may name; matches glibc's cpu_set_t. */
#define AC_MAX_CPUS 1024

/*
 * Human-readable text for an error returned by any ac_ function (a negative
 * errno value). Never NULL; the string is static. Any thread.
 */
const char *ac_strerror(int err);

/*
 * Monotonic time in nanoseconds (CLOCK_MONOTONIC). Any thread.
 * Out of line so that this header needs no POSIX feature macro in a strict
 * C11 consumer (clock_gettime is POSIX, not C11); the call costs ~1 ns
 * beside the vDSO's ~15 ns.
 */
uint64_t ac_now_ns(void);

/*
 * A cheap cycle counter for measuring short intervals on one thread
 * (rdtsc on x86: ~3x cheaper than the vDSO clock; the clock elsewhere).
 * Convert with ac_cycles_per_ns(). Not comparable across machines.
 */
#if defined(__x86_64__) || defined(__i386__)
static inline uint64_t ac_cycles(void)
{
    return __builtin_ia32_rdtsc();
}
#else
static inline uint64_t ac_cycles(void)
{
    return ac_now_ns();
}
#endif

/*
 * Cycles per nanosecond of ac_cycles(), measured once per process against
 * CLOCK_MONOTONIC (the first call takes ~5 ms). Any thread.
 */
double ac_cycles_per_ns(void);

/*
 * Parses a CPU list such as "0-3,6" or "1" into ascending CPU numbers.
 * Writes at most `cap` entries to `cpus` and their count to `*n`.
 * Returns 0, -EINVAL for malformed text or a CPU ≥ AC_MAX_CPUS, or -E2BIG
 * when more than `cap` CPUs are named. Duplicates are removed. Any thread.
 */
AC_MUST_USE int ac_cpulist_parse(const char *text, unsigned *cpus, unsigned cap, unsigned *n);

/*
 * 64-bit FNV-1a over `len` bytes followed by MurmurHash3's fmix64
 * finalizer: unseeded and stable across processes, machines and versions
 * (session placement depends on it). Not for hostile-collision use. Any
 * thread.
 */
uint64_t ac_hash64(const void *data, size_t len);

/* MurmurHash3's fmix64: a bijection whose every input bit reaches every
 * output bit. Any thread. */
uint64_t ac_hash_mix64(uint64_t h);
/* What a quantity's unit measures (ac_quantity_parse). */
enum ac_unit_kind {
    AC_UNIT_NONE,          /* a bare number */
    AC_UNIT_SECONDS,       /* ns us ms s m min h */
    AC_UNIT_BYTES,         /* B; KB MB GB TB (powers of 1000); KiB MiB GiB TiB (of 1024) */
    AC_UNIT_BYTES_PER_SEC, /* a byte unit followed by "/s", e.g. 10MB/s */
    AC_UNIT_FRACTION,      /* "%": the number divided by 100 */
};

/*
 * Reads one quantity, a decimal number directly followed by an optional
 * unit ("100ms", "64KiB", "10MB/s", "5%", "0.7"), from the `len` bytes at
 * `s` (no surrounding space). Stores the value in the kind's base unit
 * (seconds, bytes, bytes per second, fraction) in *value and the kind in
 * *kind. Returns 0, -EINVAL when no number starts the text, -ENOENT for an
 * unknown unit, -ERANGE for a number that overflows. Any thread.
 */
AC_MUST_USE int ac_quantity_parse(const char *s, size_t len, enum ac_unit_kind *kind,
                                  double *value);

/*
 * A duration such as "30s", "100ms", "1m" or "0" into nanoseconds. The
 * unit is required except for 0. Returns 0, -EINVAL (malformed or
 * negative), -ENOENT (unknown unit), -EDOM (a unit that is not time) or
 * -ERANGE (over 2^64 ns). Any thread.
 */
AC_MUST_USE int ac_duration_parse(const char *s, uint64_t *ns);

/*
 * A size such as "64KiB", "8GiB", "512MB" or "4096" (bare: bytes) into
 * bytes; fractions of a byte are rounded down. Errors as
 * ac_duration_parse (-EDOM: not a byte unit). Any thread.
 */
AC_MUST_USE int ac_size_parse(const char *s, uint64_t *bytes);

/*
 * Writes `ns` as ac_duration_parse reads it, in the largest unit that is
 * exact ("30s", "1m", "100ms", "0"). Truncated to `cap`. Any thread.
 */
void ac_duration_format(uint64_t ns, char *buf, size_t cap);

/*
 * Writes `bytes` as ac_size_parse reads it: the largest exact IEC unit
 * ("64KiB", "8GiB"), else the largest exact SI one ("512MB"), else "B".
 */
void ac_size_format(uint64_t bytes, char *buf, size_t cap);

/* Log levels, most severe first. */
enum ac_log_level { AC_LOG_ERROR, AC_LOG_WARN, AC_LOG_INFO, AC_LOG_DEBUG };

/*
 * Writes one logfmt line to the log (stderr, or the file of ac_log_open):
 *
 *   ts=2026-12-04T20:39:04.123Z level=info shard=2 msg="listening"
 *
 * ts in UTC; the calling thread's tag fields (ac_log_set_thread_tag) come
 * before msg; quotes, backslashes and control characters in the message
 * are escaped. Lines from different threads never interleave (one write(2)
 * per line). Messages above the process' level (ac_log_set_level; default
 * INFO, or the AC_LOG_LEVEL environment variable: error|warn|info|debug)
 * are dropped. Any thread.
 */
void ac_log(enum ac_log_level level, const char *fmt, ...) AC_PRINTF(2, 3);

/* Sets the most verbose level that ac_log writes. Any thread. */
void ac_log_set_level(enum ac_log_level level);

/* "error", "warn", "info" or "debug" (any case). Returns 0 or -EINVAL. */
AC_MUST_USE int ac_log_level_parse(const char *name, enum ac_log_level *out);

/* The level's name as above; "?" for a bad value. */
const char *ac_log_level_name(enum ac_log_level level);

/* True when a message at `level` would be written. Any thread. */
bool ac_log_enabled(enum ac_log_level level);

/*
 * Sets logfmt fields that ac_log writes for the calling thread before msg,
 * e.g. "shard=2" (copied, at most 31 bytes kept). NULL clears them.
 * Calling thread only.
 */
void ac_log_set_thread_tag(const char *tag);

/*
 * Sends the log to `path` (created 0644, appended to) instead of stderr;
 * NULL goes back to stderr. Returns 0 or -errno from open(2) (the log is
 * unchanged then). Call at start-up, before other threads log.
 */
AC_MUST_USE int ac_log_open(const char *path);

/*
 * Opens the log file's path again (after logrotate moved it): lines written
 * from then on go to the new file; none is lost or split. Returns 0, or
 * -errno from open(2) (logging continues to the old file). Without a log
 * file it does nothing. Any thread.
 */
AC_MUST_USE int ac_log_reopen(void);

#define ac_log_error(...) ac_log(AC_LOG_ERROR, __VA_ARGS__)
#define ac_log_warn(...)  ac_log(AC_LOG_WARN, __VA_ARGS__)
#define ac_log_info(...)  ac_log(AC_LOG_INFO, __VA_ARGS__)
/* Debug lines may sit on hot paths: their arguments are not even computed
 * unless debug is on. */
#define ac_log_debug(...)                                                                          \
    do {                                                                                           \
        if (AC_UNLIKELY(ac_log_enabled(AC_LOG_DEBUG)))                                             \
            ac_log(AC_LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

/*
 * Reports a broken invariant and aborts, in every build type (STYLE 6:
 * never a made-up error code).
 */
__attribute__((noreturn)) void ac__panic(const char *file, int line, const char *fmt, ...) AC_PRINTF(3, 4);
#define AC_PANIC(...) ac__panic(__FILE__, __LINE__, __VA_ARGS__)
#define AC_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (AC_UNLIKELY(!(cond)))                                                                  \
            ac__panic(__FILE__, __LINE__, "assertion failed: %s", #cond);                          \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
