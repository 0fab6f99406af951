#include "agentcore/hist.h"

#include <criterion/criterion.h>

Test(base_hist, every_bound_falls_in_its_own_bucket_and_one_more_in_the_next)
{
    for (unsigned i = 0; i < AC_HIST_BUCKETS; i++) {
        uint64_t b = ac_hist_bound_ns(i);
        cr_assert_eq(ac_hist_index(b), i, "bound %llu", (unsigned long long)b);
        cr_assert_eq(ac_hist_index(b + 1), i + 1, "bound %llu + 1", (unsigned long long)b);
        if (i)
            cr_assert_gt(b, ac_hist_bound_ns(i - 1));
    }
    cr_assert_eq(ac_hist_index(0), 0);
    cr_assert_eq(ac_hist_index(UINT64_MAX), AC_HIST_BUCKETS);
}

Test(base_hist, bounds_are_two_per_doubling_from_1024_ns_to_2_pow_36)
{
    cr_assert_eq(ac_hist_bound_ns(0), 1024);
    cr_assert_eq(ac_hist_bound_ns(1), 1536);
    cr_assert_eq(ac_hist_bound_ns(2), 2048);
    cr_assert_eq(ac_hist_bound_ns(AC_HIST_BUCKETS - 1), 1ull << 36);
}

Test(base_hist, record_counts_sum_and_bucket)
{
    struct ac_hist h = {0};
    ac_hist_record(&h, 5000);
    ac_hist_record(&h, 5000);
    ac_hist_record(&h, 1);
    cr_assert_eq(h.count, 3);
    cr_assert_eq(h.sum_ns, 10001);
    cr_assert_eq(h.bucket[ac_hist_index(5000)], 2);
    cr_assert_eq(h.bucket[0], 1);
}

Test(base_hist, quantiles_land_in_the_bucket_of_the_ranked_value)
{
    struct ac_hist h = {0};
    for (int i = 0; i < 99; i++)
        ac_hist_record(&h, 100000); /* 100 us */
    ac_hist_record(&h, 50000000);   /* 50 ms */
    double p50 = ac_hist_quantile(&h, 0.5), p100 = ac_hist_quantile(&h, 1.0);
    unsigned b = ac_hist_index(100000);
    cr_assert(p50 > (double)ac_hist_bound_ns(b - 1) && p50 <= (double)ac_hist_bound_ns(b),
              "p50 %f", p50);
    unsigned t = ac_hist_index(50000000);
    cr_assert(p100 > (double)ac_hist_bound_ns(t - 1) && p100 <= (double)ac_hist_bound_ns(t),
              "p100 %f", p100);
    struct ac_hist empty = {0};
    cr_assert_eq(ac_hist_quantile(&empty, 0.99), 0);
}

Test(base_hist, merge_adds_every_count)
{
    struct ac_hist a = {0}, b = {0};
    ac_hist_record(&a, 2000);
    ac_hist_record(&b, 2000);
    ac_hist_record(&b, 1ull << 40);
    ac_hist_merge(&a, &b);
    cr_assert_eq(a.count, 3);
    cr_assert_eq(a.bucket[ac_hist_index(2000)], 2);
    cr_assert_eq(a.bucket[AC_HIST_BUCKETS], 1);
}
