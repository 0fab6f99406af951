/* Defaults derived from the machine (see defaults.h). */
#include "defaults.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

unsigned agentd_default_max_conns(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 65536;
    if (rl.rlim_cur < 256 + 64)
        return 64;
    return rl.rlim_cur - 256 > UINT32_MAX ? UINT32_MAX : (unsigned)(rl.rlim_cur - 256);
}

/* The cgroup v2 limit of this process, or SIZE_MAX ("max", absent, unreadable). */
static size_t cgroup_memory_max(void)
{
    char buf[64];
    size_t v = SIZE_MAX;
    FILE *f = fopen("/sys/fs/cgroup/memory.max", "r");
    if (!f)
        return v;
    if (fgets(buf, sizeof buf, f) && buf[0] >= '0' && buf[0] <= '9')
        v = (size_t)strtoull(buf, NULL, 10);
    fclose(f);
    return v;
}

size_t agentd_default_memory_limit(unsigned shards)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t total = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : SIZE_MAX;
    size_t cg = cgroup_memory_max();
    if (cg < total)
        total = cg;
    if (total == SIZE_MAX || shards == 0)
        return 0; /* unknown: no budget rather than a made-up one */
    return total / 2 / shards;
}
