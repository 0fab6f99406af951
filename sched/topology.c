/*
 * Topology distances for victim order: the last-level cache from sysfs
 * (/sys/devices/system/cpu/cpuN/cache/indexK: the highest `level` wins),
 * the NUMA node from libnuma. sysfs rather than hwloc: it is the same data
 * hwloc reads, and this needs two small files per CPU, once at start-up.
 */
#include "internal.h"

#include <errno.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>

static bool read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    return ok;
}

/* True when `other` is in the CPU list of `cpu`'s last-level cache;
 * unknown (no sysfs cache data) counts as shared. */
static bool shares_llc(unsigned cpu, unsigned other)
{
    char path[128], text[4096];
    int best_level = -1;
    unsigned best_index = 0;
    for (unsigned k = 0; k < 16; k++) {
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%u/cache/index%u/level", cpu, k);
        if (!read_line(path, text, sizeof text))
            break;
        int level = atoi(text);
        if (level > best_level) {
            best_level = level;
            best_index = k;
        }
    }
    if (best_level < 0)
        return true;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%u/cache/index%u/shared_cpu_list", cpu,
             best_index);
    unsigned *cpus = malloc(AC_MAX_CPUS * sizeof *cpus);
    unsigned n = 0;
    bool shared = true;
    if (cpus && read_line(path, text, sizeof text) &&
        ac_cpulist_parse(text, cpus, AC_MAX_CPUS, &n) == 0) {
        shared = false;
        for (unsigned i = 0; i < n; i++)
            shared |= cpus[i] == other;
    }
    free(cpus);
    return shared;
}

static int node_of(unsigned cpu)
{
    int node = numa_available() < 0 ? 0 : numa_node_of_cpu((int)cpu);
    return node < 0 ? 0 : node;
}

int ac_sched_topology_distances(const unsigned *cpus, unsigned n, unsigned self, uint8_t *distance)
{
    if (self >= n)
        return -EINVAL;
    int self_node = node_of(cpus[self]);
    for (unsigned i = 0; i < n; i++) {
        if (i == self || shares_llc(cpus[self], cpus[i]))
            distance[i] = 0;
        else
            distance[i] = node_of(cpus[i]) == self_node ? 1 : 2;
    }
    return 0;
}
