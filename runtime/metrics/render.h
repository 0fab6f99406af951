/* Shared by prometheus.c and json.c: the samples of a scrape in render order. */
#ifndef AC_RUNTIME_METRICS_RENDER_H
#define AC_RUNTIME_METRICS_RENDER_H

#include "internal.h"

struct ac__sref {
    const struct ac__sample *s;
    unsigned shard; /* AC_SHARD_NONE: a process sample */
    unsigned family;
    size_t seq;
};

/* The samples of the complete sinks, sorted by family then shard (malloc'ed). 0 or -1. */
int ac__render_refs(const ac_metrics_scrape *sc, struct ac__sref **out, size_t *n);

#endif
