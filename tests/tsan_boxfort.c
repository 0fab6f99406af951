/*
 * Linked into test programs in the tsan preset only.
 *
 * Criterion's sandbox (BoxFort) maps its "inheritable arena" with
 * MAP_FIXED at 0x200000000000 + (rand_r() & 0x3fffff) * 16 MiB and gives
 * up after 10 addresses that mincore() reports as mapped. Under
 * ThreadSanitizer (v2 layout, GCC 12) almost all of that range is TSan's
 * shadow, metadata or reserved gaps, so every Criterion program aborts
 * with "Could not initialize inheritable arena" before running a test
 * (Snaipe/Criterion#274). The one application range inside it is
 * 0x550000000000-0x568000000000 (PIE binaries); this rand_r steers the
 * arena into its top part, above where the kernel loads the binary.
 * Nothing in agentcore's tests calls rand_r.
 */
#include <stdlib.h>

int rand_r(unsigned *seed)
{
    *seed += 1;
    /* base = 0x200000000000 + r * 2^24: r in 0x366000..0x366fff is 0x5660.. to 0x5670.. */
    return (int)(0x366000u + (*seed % 0x1000u));
}
