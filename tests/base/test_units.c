/* Quantities with units: durations, sizes, and the raw parser. */
#include "agentcore/base.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

Test(base_units, durations_in_every_unit)
{
    uint64_t ns;
    cr_assert_eq(ac_duration_parse("30s", &ns), 0);
    cr_assert_eq(ns, 30000000000ull);
    cr_assert_eq(ac_duration_parse("100ms", &ns), 0);
    cr_assert_eq(ns, 100000000ull);
    cr_assert_eq(ac_duration_parse("1m", &ns), 0);
    cr_assert_eq(ns, 60000000000ull);
    cr_assert_eq(ac_duration_parse("0.1s", &ns), 0);
    cr_assert_eq(ns, 100000000ull, "rounded to the nearest ns, got %llu", (unsigned long long)ns);
    cr_assert_eq(ac_duration_parse("250us", &ns), 0);
    cr_assert_eq(ns, 250000ull);
    cr_assert_eq(ac_duration_parse("2h", &ns), 0);
    cr_assert_eq(ns, 7200000000000ull);
    cr_assert_eq(ac_duration_parse("0", &ns), 0);
    cr_assert_eq(ns, 0);
}

Test(base_units, bad_durations_say_why)
{
    uint64_t ns;
    cr_assert_eq(ac_duration_parse("30", &ns), -EDOM, "a bare number has no unit");
    cr_assert_eq(ac_duration_parse("30parsecs", &ns), -ENOENT);
    cr_assert_eq(ac_duration_parse("5MB", &ns), -EDOM);
    cr_assert_eq(ac_duration_parse("-1s", &ns), -EINVAL);
    cr_assert_eq(ac_duration_parse("s", &ns), -EINVAL);
    cr_assert_eq(ac_duration_parse("", &ns), -EINVAL);
    cr_assert_eq(ac_duration_parse("inf", &ns), -EINVAL);
    cr_assert_eq(ac_duration_parse("99999999999h", &ns), -ERANGE);
}

Test(base_units, sizes_binary_and_decimal)
{
    uint64_t b;
    cr_assert_eq(ac_size_parse("64KiB", &b), 0);
    cr_assert_eq(b, 65536);
    cr_assert_eq(ac_size_parse("8GiB", &b), 0);
    cr_assert_eq(b, 8ull << 30);
    cr_assert_eq(ac_size_parse("512MB", &b), 0);
    cr_assert_eq(b, 512000000ull);
    cr_assert_eq(ac_size_parse("4096", &b), 0);
    cr_assert_eq(b, 4096);
    cr_assert_eq(ac_size_parse("1.5KiB", &b), 0);
    cr_assert_eq(b, 1536);
    cr_assert_eq(ac_size_parse("10ms", &b), -EDOM);
    cr_assert_eq(ac_size_parse("10kb", &b), -ENOENT, "units are case-sensitive");
}

Test(base_units, quantity_kinds)
{
    enum ac_unit_kind k;
    double v;
    cr_assert_eq(ac_quantity_parse("10MB/s", 6, &k, &v), 0);
    cr_assert_eq(k, AC_UNIT_BYTES_PER_SEC);
    cr_assert_float_eq(v, 10e6, 1e-6);
    cr_assert_eq(ac_quantity_parse("5%", 2, &k, &v), 0);
    cr_assert_eq(k, AC_UNIT_FRACTION);
    cr_assert_float_eq(v, 0.05, 1e-12);
    cr_assert_eq(ac_quantity_parse("0.7", 3, &k, &v), 0);
    cr_assert_eq(k, AC_UNIT_NONE);
    cr_assert_eq(ac_quantity_parse("10ms/s", 6, &k, &v), -ENOENT, "only bytes per second");
    cr_assert_eq(ac_quantity_parse("1e3ms", 5, &k, &v), 0);
    cr_assert_float_eq(v, 1.0, 1e-12);
    /* the length bounds the text: "10ms" read as "10m" */
    cr_assert_eq(ac_quantity_parse("10ms", 3, &k, &v), 0);
    cr_assert_float_eq(v, 600.0, 1e-9);
}

Test(base_units, formats_read_back)
{
    char b[32];
    uint64_t v;
    static const uint64_t durations[] = {
        0, 1, 1500, 100000000ull, 30000000000ull, 60000000000ull, 90000000000ull, 7200000000000ull};
    static const char *const dtext[] = {"0", "1ns", "1500ns", "100ms", "30s", "1m", "90s", "2h"};
    for (unsigned i = 0; i < AC_ARRAY_LEN(durations); i++) {
        ac_duration_format(durations[i], b, sizeof b);
        cr_assert_str_eq(b, dtext[i]);
        cr_assert_eq(ac_duration_parse(b, &v), 0);
        cr_assert_eq(v, durations[i]);
    }
    static const uint64_t sizes[] = {0, 1000, 1024, 4096, 512000000ull, 8ull << 30, 1500};
    static const char *const stext[] = {"0B", "1KB", "1KiB", "4KiB", "512MB", "8GiB", "1500B"};
    for (unsigned i = 0; i < AC_ARRAY_LEN(sizes); i++) {
        ac_size_format(sizes[i], b, sizeof b);
        cr_assert_str_eq(b, stext[i]);
        cr_assert_eq(ac_size_parse(b, &v), 0);
        cr_assert_eq(v, sizes[i]);
    }
}
