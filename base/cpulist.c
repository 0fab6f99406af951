/* CPU list parsing ("0-3,6"), the syntax of taskset and /sys cpulist files. */
#include "agentcore/base.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_num(const char **p, unsigned *out)
{
    if (!isdigit((unsigned char)**p))
        return -EINVAL;
    char *end;
    unsigned long v = strtoul(*p, &end, 10);
    if (v >= AC_MAX_CPUS)
        return -EINVAL;
    *p = end;
    *out = (unsigned)v;
    return 0;
}

int ac_cpulist_parse(const char *text, unsigned *cpus, unsigned cap, unsigned *n)
{
    uint64_t seen[AC_MAX_CPUS / 64] = {0};
    const char *p = text;
    unsigned count = 0;
    int err;

    if (!text)
        return -EINVAL;
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return -EINVAL;
    for (;;) {
        unsigned lo, hi;
        if ((err = parse_num(&p, &lo)) < 0)
            return err;
        hi = lo;
        if (*p == '-') {
            p++;
            if ((err = parse_num(&p, &hi)) < 0)
                return err;
            if (hi < lo)
                return -EINVAL;
        }
        for (unsigned c = lo; c <= hi; c++)
            seen[c / 64] |= 1ull << (c % 64);
        if (*p == ',') {
            p++;
            continue;
        }
        while (*p == ' ' || *p == '\n')
            p++;
        if (*p != '\0')
            return -EINVAL;
        break;
    }
    for (unsigned c = 0; c < AC_MAX_CPUS; c++) {
        if (!(seen[c / 64] & (1ull << (c % 64))))
            continue;
        if (count == cap)
            return -E2BIG;
        cpus[count++] = c;
    }
    *n = count;
    return 0;
}
