/* glibc allocator settings (malloc_tune.h). */
#include "malloc_tune.h"

#include "agentcore/base.h"

#include <malloc.h>

void agentd_malloc_tune(void)
{
    /* Setting it at all turns glibc's dynamic threshold (and trim threshold) off. */
    if (mallopt(M_MMAP_THRESHOLD, 128 * 1024) != 1)
        ac_log_warn("agentd: mallopt(M_MMAP_THRESHOLD) refused: freed large buffers may stay mapped");
}
