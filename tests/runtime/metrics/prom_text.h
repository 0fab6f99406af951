/* Reading Prometheus text in tests: sums of sample values by line prefix. */
#ifndef AC_TEST_RUNTIME_METRICS_PROM_TEXT_H
#define AC_TEST_RUNTIME_METRICS_PROM_TEXT_H

#include <stdlib.h>
#include <string.h>

/*
 * Sum of the values of every sample line of `text` that starts with
 * `prefix` (a name and, optionally, the first labels: all shards of a
 * series add up).
 */
static inline double prom_sum(const char *text, const char *prefix)
{
    double total = 0;
    size_t n = strlen(prefix);
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (strncmp(l, prefix, n) == 0) {
            const char *sp = strchr(l + n, ' ');
            if (sp)
                total += atof(sp + 1);
        }
    return total;
}

#endif
