#include "agentcore/base.h"

#include <criterion/criterion.h>
#include <errno.h>

Test(base_cpulist, parses_ranges_and_singles_in_order)
{
    unsigned cpus[16], n = 0;
    cr_assert_eq(ac_cpulist_parse("6,0-3", cpus, 16, &n), 0);
    cr_assert_eq(n, 5);
    unsigned want[] = {0, 1, 2, 3, 6};
    for (unsigned i = 0; i < n; i++)
        cr_assert_eq(cpus[i], want[i]);
}

Test(base_cpulist, removes_duplicates)
{
    unsigned cpus[8], n = 0;
    cr_assert_eq(ac_cpulist_parse("1,1,0-1", cpus, 8, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(cpus[0], 0);
    cr_assert_eq(cpus[1], 1);
}

Test(base_cpulist, rejects_malformed_text)
{
    unsigned cpus[8], n = 0;
    const char *bad[] = {"", "a", "1-", "-1", "3-1", "1,,2", "1 2", "0x1", "99999", "1-2-3"};
    for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(ac_cpulist_parse(bad[i], cpus, 8, &n), -EINVAL, "accepted \"%s\"", bad[i]);
    cr_assert_eq(ac_cpulist_parse(NULL, cpus, 8, &n), -EINVAL);
}

Test(base_cpulist, reports_too_many_cpus)
{
    unsigned cpus[2], n = 0;
    cr_assert_eq(ac_cpulist_parse("0-2", cpus, 2, &n), -E2BIG);
}

Test(base_error, strerror_names_negative_errno)
{
    cr_assert_str_eq(ac_strerror(-EAGAIN), "Resource temporarily unavailable");
    cr_assert_str_eq(ac_strerror(0), "success");
}
