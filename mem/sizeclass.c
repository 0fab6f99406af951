/*
 * Size classes: 16, 32, 48, 64 B, then four per doubling up to 256 KiB
 * (80, 96, 112, 128, 160, ...), so a request above 64 B wastes less than
 * 25 % of its object. Every class is a multiple of 16 (the alignment).
 */
#include "internal.h"

#define Q(b)        (1u << ((b)-2))
#define DOUBLING(b) (1u << (b)) + Q(b), (1u << (b)) + 2 * Q(b), (1u << (b)) + 3 * Q(b), 2u << (b)

const uint32_t ac__class_sizes[AC_HEAP_CLASSES] = {
    16,           32,           48,           64,           DOUBLING(6),  DOUBLING(7),
    DOUBLING(8),  DOUBLING(9),  DOUBLING(10), DOUBLING(11), DOUBLING(12), DOUBLING(13),
    DOUBLING(14), DOUBLING(15), DOUBLING(16), DOUBLING(17),
};
static_assert(2u << 17 == AC_SLAB_MAX, "the last class is AC_SLAB_MAX");

unsigned ac__class_pages(unsigned cls)
{
    size_t want = 8 * (size_t)ac__class_sizes[cls];
    size_t pages = (want + AC_PAGE_SIZE - 1) / AC_PAGE_SIZE;
    return pages > 16 ? 16 : (unsigned)pages;
}

size_t ac_heap_class_size(unsigned cls)
{
    return cls < AC_HEAP_CLASSES ? ac__class_sizes[cls] : 0;
}
