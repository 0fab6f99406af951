/* Topology distances for victim order. */
#include "agentcore/sched.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>

Test(sched_topology, self_is_nearest_and_levels_stay_in_range)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = ncpu > 8 ? 8 : (unsigned)ncpu;
    unsigned cpus[8];
    uint8_t d[8];
    for (unsigned i = 0; i < n; i++)
        cpus[i] = i;
    cr_assert_eq(ac_sched_topology_distances(cpus, n, n - 1, d), 0);
    cr_expect_eq(d[n - 1], 0);
    for (unsigned i = 0; i < n; i++)
        cr_expect_leq(d[i], 2);
}

Test(sched_topology, two_shards_on_one_cpu_share_its_cache)
{
    unsigned cpus[2] = {0, 0};
    uint8_t d[2] = {9, 9};
    cr_assert_eq(ac_sched_topology_distances(cpus, 2, 0, d), 0);
    cr_expect_eq(d[1], 0);
}

Test(sched_topology, self_out_of_range_is_einval)
{
    unsigned cpus[1] = {0};
    uint8_t d[1];
    cr_expect_eq(ac_sched_topology_distances(cpus, 1, 1, d), -EINVAL);
}
