/* agentd's settings for the C library's allocator. */
#ifndef AGENTD_MALLOC_TUNE_H
#define AGENTD_MALLOC_TUNE_H

/*
 * Fixes glibc's mmap threshold at 128 KiB. Why: large request and response
 * buffers (HTTP bodies, output queues) come from malloc, and glibc raises
 * its mmap threshold each time such a block is freed (up to 32 MiB), after
 * which large blocks come from the per-thread arenas and stay there: after
 * a spike of 256 KiB echo bodies RSS stayed 30 % above its pre-spike level
 * for over a minute (bench/soak.py). Fixed, they are mapped and unmapped
 * per use and RSS came back within a second. Call once, before threads.
 */
void agentd_malloc_tune(void);

#endif
