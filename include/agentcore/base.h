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

/* Log levels, most severe first. */
enum ac_log_level { AC_LOG_ERROR, AC_LOG_WARN, AC_LOG_INFO, AC_LOG_DEBUG };

/*
 * Writes one line to stderr: time, level, the calling thread's tag (e.g.
 * "shard 2", see ac_log_set_thread_tag) and the message. Lines from
 * different threads never interleave (one write(2) per line). Messages
 * above the process' level (ac_log_set_level; default INFO, or the
 * AC_LOG_LEVEL environment variable: error|warn|info|debug) are dropped.
 * Any thread.
 */
void ac_log(enum ac_log_level level, const char *fmt, ...) AC_PRINTF(2, 3);

/* Sets the most verbose level that ac_log writes. Any thread. */
void ac_log_set_level(enum ac_log_level level);

/* True when a message at `level` would be written. Any thread. */
bool ac_log_enabled(enum ac_log_level level);

/*
 * Sets the tag that ac_log prints for the calling thread (copied, at most
 * 15 bytes kept). NULL clears it. Calling thread only.
 */
void ac_log_set_thread_tag(const char *tag);

#define ac_log_error(...) ac_log(AC_LOG_ERROR, __VA_ARGS__)
#define ac_log_warn(...)  ac_log(AC_LOG_WARN, __VA_ARGS__)
#define ac_log_info(...)  ac_log(AC_LOG_INFO, __VA_ARGS__)
#define ac_log_debug(...) ac_log(AC_LOG_DEBUG, __VA_ARGS__)

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
