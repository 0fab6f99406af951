/* Alert conditions as text: what parses, into what, and the errors. */
#include "agentcore/alert.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

static struct ac_alert_condition ok(const char *text)
{
    struct ac_alert_condition c;
    struct ac_alert_error err;
    int e = ac_alert_condition_parse(text, &c, &err);
    cr_assert_eq(e, 0, "'%s': %s", text, err.msg);
    return c;
}

static void bad(const char *text, size_t offset, const char *msg)
{
    struct ac_alert_condition c;
    struct ac_alert_error err;
    cr_assert_eq(ac_alert_condition_parse(text, &c, &err), -EINVAL, "'%s' parsed", text);
    cr_assert_str_eq(err.msg, msg, "'%s'", text);
    cr_assert_eq(err.offset, offset, "'%s': offset %zu", text, err.offset);
}

Test(alert_condition, original_forms)
{
    struct ac_alert_condition c = ok("p99_latency > 10ms");
    cr_assert_eq(c.metric, AC_ALERT_P99_LATENCY);
    cr_assert_eq(c.op, AC_ALERT_GT);
    cr_assert_not(c.baseline);
    cr_assert_float_eq(c.threshold, 0.010, 1e-12);

    c = ok("qps < 0.7 * baseline");
    cr_assert_eq(c.metric, AC_ALERT_QPS);
    cr_assert_eq(c.op, AC_ALERT_LT);
    cr_assert(c.baseline);
    cr_assert_float_eq(c.threshold, 0.7, 1e-12);

    c = ok("error_rate > 5%");
    cr_assert_eq(c.metric, AC_ALERT_ERROR_RATE);
    cr_assert_float_eq(c.threshold, 0.05, 1e-12);

    c = ok("memory_growth_rate > 10MB/s");
    cr_assert_eq(c.metric, AC_ALERT_MEMORY_GROWTH_RATE);
    cr_assert_float_eq(c.threshold, 10e6, 1e-6);
}

Test(alert_condition, other_spellings)
{
    struct ac_alert_condition c = ok("  qps<=baseline*0.5 ");
    cr_assert_eq(c.op, AC_ALERT_LE);
    cr_assert(c.baseline);
    cr_assert_float_eq(c.threshold, 0.5, 1e-12);
    c = ok("qps >= baseline");
    cr_assert_eq(c.op, AC_ALERT_GE);
    cr_assert_float_eq(c.threshold, 1.0, 1e-12);
    c = ok("error_rate >= 0.05");
    cr_assert_float_eq(c.threshold, 0.05, 1e-12);
    c = ok("memory_usage > 8GiB");
    cr_assert_float_eq(c.threshold, 8.0 * (1 << 30), 1);
    c = ok("queue_length > 1000");
    cr_assert_eq(c.metric, AC_ALERT_QUEUE_LENGTH);
    c = ok("p50_latency>1.5s");
    cr_assert_float_eq(c.threshold, 1.5, 1e-12);
}

Test(alert_condition, errors_point_at_the_token)
{
    bad("p98_latency > 10ms", 0,
        "unknown metric 'p98_latency' (qps, p50_latency, p99_latency, error_rate, memory_usage, "
        "memory_growth_rate, queue_length)");
    bad("", 0, "expected a metric name");
    bad("p99_latency = 10ms", 12, "expected a comparison (>, >=, <, <=) after 'p99_latency'");
    bad("p99_latency > 10", 14, "p99_latency needs a time such as 10ms, not '10'");
    bad("p99_latency > 10xs", 14, "unknown unit in '10xs' (p99_latency needs a time such as 10ms)");
    bad("p99_latency >", 13, "expected a value after the comparison");
    bad("qps < 0.7 * base", 12, "only 'baseline' may be multiplied, not 'base'");
    bad("qps < 0.7 baseline", 10, "unexpected 'baseline' after the condition");
    bad("qps < 70ms * baseline", 6, "a baseline factor is a plain number such as 0.7, not '70ms'");
    bad("error_rate > 150%", 13, "error_rate is at most 100% (1.0), not '150%'");
    bad("memory_growth_rate > 10MB", 21,
        "memory_growth_rate needs a rate such as 10MB/s, not '10MB'");
    bad("qps < -3", 6, "'-3' is negative");
    bad("qps < abc", 6, "'abc' is not a number");
}

Test(alert_condition, rule_init_checks_the_name)
{
    struct ac_alert_rule r;
    struct ac_alert_error err;
    cr_assert_eq(
        ac_alert_rule_init(&r, "high latency", "p99_latency > 10ms", 0, AC_ALERT_WARNING, &err),
        -EINVAL);
    cr_assert(err.in_name);
    cr_assert_eq(err.offset, 4);
    cr_assert_eq(ac_alert_rule_init(&r, "x", "p99_latency >", 0, AC_ALERT_WARNING, &err), -EINVAL);
    cr_assert_not(err.in_name);
    cr_assert_eq(ac_alert_rule_init(&r, "HighLatency", "p99_latency > 10ms", 30000000000ull,
                                    AC_ALERT_CRITICAL, &err),
                 0);
    cr_assert_str_eq(r.name, "HighLatency");
    cr_assert_str_eq(r.condition, "p99_latency > 10ms");
    cr_assert_eq(r.duration_ns, 30000000000ull);
}

Test(alert_condition, severities)
{
    enum ac_alert_severity s;
    cr_assert_eq(ac_alert_severity_parse("critical", &s), 0);
    cr_assert_eq(s, AC_ALERT_CRITICAL);
    cr_assert_eq(ac_alert_severity_parse("warn", &s), 0);
    cr_assert_eq(s, AC_ALERT_WARNING);
    cr_assert_eq(ac_alert_severity_parse("page", &s), -EINVAL);
    cr_assert_str_eq(ac_alert_severity_name(AC_ALERT_INFO), "info");
}

/* Random token soup: the parser never reads past the text and always says where. */
Test(alert_condition, random_text_fails_cleanly)
{
    static const char *const bits[] = {"qps",  "p99_latency", "error_rate", "memory_growth_rate",
                                       " ",    ">",           "<",          "=",
                                       ">=",   "*",           "baseline",   "0.7",
                                       "10ms", "5%",          "10MB/s",     "-",
                                       "e",    "1e9",         "\t",         "x",
                                       ".",    "%",           "/s"};
    uint32_t seed = 12345;
    char text[128];
    for (int round = 0; round < 20000; round++) {
        size_t len = 0;
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        unsigned parts = seed % 7;
        text[0] = 0;
        for (unsigned i = 0; i < parts; i++) {
            seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
            const char *b = bits[seed % AC_ARRAY_LEN(bits)];
            if (len + strlen(b) >= sizeof text)
                break;
            memcpy(text + len, b, strlen(b) + 1);
            len += strlen(b);
        }
        struct ac_alert_condition c;
        struct ac_alert_error err = {0};
        int e = ac_alert_condition_parse(text, &c, &err);
        cr_assert(e == 0 || e == -EINVAL, "'%s': %d", text, e);
        if (e) {
            cr_assert_leq(err.offset, len, "'%s': offset %zu", text, err.offset);
            cr_assert_neq(err.msg[0], 0, "'%s': no message", text);
        }
    }
}
