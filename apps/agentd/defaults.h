/*
 * agentd's default limits, derived from the machine it runs on (each one
 * can be set by a flag; docs/SECURITY.md lists them all).
 */
#ifndef AGENTD_DEFAULTS_H
#define AGENTD_DEFAULTS_H

#include <stddef.h>

/*
 * Connections for all shards together: the process's open-file limit
 * (RLIMIT_NOFILE, soft) less 256 kept for everything else (listeners,
 * rings, logs, upstream connections), at least 64.
 */
unsigned agentd_default_max_conns(void);

/*
 * Memory budget per shard: half of the memory the process may use —
 * physical memory, or the cgroup's memory.max when lower (containers) —
 * split over `shards`. Half leaves room for what the heap does not count
 * (the kernel's socket buffers, the provided-buffer rings, libc).
 */
size_t agentd_default_memory_limit(unsigned shards);

#endif
