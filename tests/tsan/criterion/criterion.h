/*
 * A minimal stand-in for Criterion's <criterion/criterion.h>, used only by
 * the tsan preset. Criterion 2.4's sandbox (BoxFort) maps its inheritable
 * arena at a random fixed address between 0x2000'0000'0000 and
 * 0x7f00'0000'0000; under ThreadSanitizer that range is shadow or
 * protected memory, so every Criterion binary aborts at start with "Could
 * not initialize inheritable arena" (Criterion issue #274). This shim keeps
 * the test sources unchanged: same macros, each test in a forked child with
 * its timeout, a non-zero exit status when any test fails.
 *
 * Covered: Test, TestSuite (.init, .fini, .timeout), cr_assert* and
 * cr_expect* (plain, eq, neq, lt, leq, gt, geq, null, not_null, not),
 * cr_skip_test, cr_log_info. Extend it when a concurrency test needs more.
 */
#ifndef AC_TSAN_CRITERION_H
#define AC_TSAN_CRITERION_H

#include <stdbool.h>
#include <string.h>

struct ac_crit_test_opts {
    void (*init)(void);
    void (*fini)(void);
    double timeout;
};

struct ac_crit_suite {
    const char *name;
    struct ac_crit_test_opts opts;
    struct ac_crit_suite *next;
};

struct ac_crit_test {
    const char *suite, *name;
    void (*fn)(void);
    struct ac_crit_test_opts opts;
    struct ac_crit_test *next;
};

void ac_crit_register_test(struct ac_crit_test *t);
void ac_crit_register_suite(struct ac_crit_suite *s);
/* Reports a failed check; `fatal` ends the test. Returns nothing useful. */
/* Not format-checked: a check without a message passes "" (GCC's
 * -Wformat-zero-length would reject it). */
void ac_crit_fail(bool fatal, const char *file, int line, const char *expr, const char *fmt, ...);
_Noreturn void ac_crit_skip(const char *fmt, ...);
void ac_crit_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define Test(suite, name, ...)                                                                     \
    static void suite##_##name##_fn(void);                                                         \
    __attribute__((constructor)) static void suite##_##name##_reg(void)                            \
    {                                                                                              \
        static struct ac_crit_test ac_crit_t_ = {                                                  \
            #suite, #name, suite##_##name##_fn, {__VA_ARGS__}, NULL};                              \
        ac_crit_register_test(&ac_crit_t_);                                                        \
    }                                                                                              \
    static void suite##_##name##_fn(void)

#define TestSuite(suite, ...)                                                                      \
    __attribute__((constructor)) static void suite##_suite_reg(void)                               \
    {                                                                                              \
        static struct ac_crit_suite ac_crit_s_ = {#suite, {__VA_ARGS__}, NULL};                    \
        ac_crit_register_suite(&ac_crit_s_);                                                       \
    }

#define AC_CRIT_CHECK(fatal, cond, expr, ...)                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ac_crit_fail(fatal, __FILE__, __LINE__, expr, "" __VA_ARGS__);                         \
    } while (0)

#define cr_assert(c, ...)          AC_CRIT_CHECK(true, (c), #c, __VA_ARGS__)
#define cr_expect(c, ...)          AC_CRIT_CHECK(false, (c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...)      AC_CRIT_CHECK(true, !(c), "!(" #c ")", __VA_ARGS__)
#define cr_expect_not(c, ...)      AC_CRIT_CHECK(false, !(c), "!(" #c ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...)    AC_CRIT_CHECK(true, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_expect_eq(a, b, ...)    AC_CRIT_CHECK(false, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...)   AC_CRIT_CHECK(true, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...)   AC_CRIT_CHECK(false, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)    AC_CRIT_CHECK(true, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...)    AC_CRIT_CHECK(false, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...)   AC_CRIT_CHECK(true, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...)   AC_CRIT_CHECK(false, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...)    AC_CRIT_CHECK(true, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...)    AC_CRIT_CHECK(false, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...)   AC_CRIT_CHECK(true, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...)   AC_CRIT_CHECK(false, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...)     AC_CRIT_CHECK(true, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_null(p, ...)     AC_CRIT_CHECK(false, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) AC_CRIT_CHECK(true, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...) AC_CRIT_CHECK(false, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_skip_test(...)          ac_crit_skip("" __VA_ARGS__)
#define cr_log_info(...)           ac_crit_log(__VA_ARGS__)

#endif
