/*
 * A Criterion-compatible subset for ThreadSanitizer builds.
 *
 * Why: Criterion 2.4 aborts at start under TSan ("Could not initialize
 * inheritable arena", Snaipe/Criterion#274, open), so the tsan preset
 * compiles the same test sources against this header instead. It keeps
 * Criterion's model — each test in its own forked process, with init/fini,
 * timeout, expected signal or exit code — and its assertion macros, so a
 * test file needs no change. Only what tests/ uses is provided; a test that
 * needs more fails to compile under tsan, which is loud, not silent.
 */
#ifndef AC_TEST_CRITERION_SHIM_H
#define AC_TEST_CRITERION_SHIM_H

/* "" __VA_ARGS__ makes the message optional; an empty format is intended. */
#pragma GCC diagnostic ignored "-Wformat-zero-length"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct shim_params {
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    int signal;
    int exit_code;
    bool disabled;
    const char *description;
};

struct shim_test {
    const char *suite, *name;
    void (*fn)(void);
    const struct shim_params *params;
    struct shim_test *next;
};

struct shim_suite {
    const char *name;
    const struct shim_params *params;
    struct shim_suite *next;
};

void shim_register_test(struct shim_test *t);
void shim_register_suite(struct shim_suite *s);
_Noreturn void shim_fail(const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void shim_expect_fail(const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
_Noreturn void shim_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define Test(suite, name, ...)                                                                     \
    static void suite##_##name##_fn(void);                                                         \
    static const struct shim_params suite##_##name##_params = {__VA_ARGS__};                       \
    static struct shim_test suite##_##name##_test = {#suite, #name, suite##_##name##_fn,           \
                                                     &suite##_##name##_params, NULL};              \
    __attribute__((constructor)) static void suite##_##name##_reg(void)                            \
    {                                                                                              \
        shim_register_test(&suite##_##name##_test);                                                \
    }                                                                                              \
    static void suite##_##name##_fn(void)

#define TestSuite(suite, ...)                                                                      \
    static const struct shim_params suite##_suite_params = {__VA_ARGS__};                          \
    static struct shim_suite suite##_suite = {#suite, &suite##_suite_params, NULL};                \
    __attribute__((constructor)) static void suite##_suite_reg(void)                               \
    {                                                                                              \
        shim_register_suite(&suite##_suite);                                                       \
    }

#define SHIM_CHECK(fail, cond, expr, ...)                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(__FILE__, __LINE__, expr, "" __VA_ARGS__);                                        \
    } while (0)

#define cr_assert(c, ...)          SHIM_CHECK(shim_fail, (c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...)      SHIM_CHECK(shim_fail, !(c), "!(" #c ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...)    SHIM_CHECK(shim_fail, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...)   SHIM_CHECK(shim_fail, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)    SHIM_CHECK(shim_fail, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...)   SHIM_CHECK(shim_fail, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...)    SHIM_CHECK(shim_fail, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...)   SHIM_CHECK(shim_fail, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...)     SHIM_CHECK(shim_fail, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) SHIM_CHECK(shim_fail, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                                                \
    SHIM_CHECK(shim_fail, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...)                                                               \
    SHIM_CHECK(shim_fail, strcmp((a), (b)) != 0, #a " != " #b, __VA_ARGS__)
#define cr_assert_float_eq(a, b, eps, ...)                                                         \
    SHIM_CHECK(shim_fail, ((a) - (b)) <= (eps) && ((b) - (a)) <= (eps), #a " ~= " #b, __VA_ARGS__)
#define cr_assert_fail(...) shim_fail(__FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)
#define cr_fail(...)        shim_fail(__FILE__, __LINE__, "cr_fail", "" __VA_ARGS__)

#define cr_expect(c, ...)        SHIM_CHECK(shim_expect_fail, (c), #c, __VA_ARGS__)
#define cr_expect_eq(a, b, ...)  SHIM_CHECK(shim_expect_fail, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...) SHIM_CHECK(shim_expect_fail, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...)  SHIM_CHECK(shim_expect_fail, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...) SHIM_CHECK(shim_expect_fail, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...)  SHIM_CHECK(shim_expect_fail, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...) SHIM_CHECK(shim_expect_fail, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_expect_not(c, ...)    SHIM_CHECK(shim_expect_fail, !(c), "!(" #c ")", __VA_ARGS__)
#define cr_expect_null(p, ...)   SHIM_CHECK(shim_expect_fail, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...)                                                                 \
    SHIM_CHECK(shim_expect_fail, (p) != NULL, #p " != NULL", __VA_ARGS__)

#define cr_skip_test(...) shim_skip("" __VA_ARGS__)
#define cr_log_info(...)  shim_log("" __VA_ARGS__)
#define cr_log_warn(...)  shim_log("" __VA_ARGS__)

#endif
