/*
 * Rendezvous (highest-random-weight) placement, see cluster.h for why.
 *
 * Each node keeps the hash of its name as a seed; the score of node i for
 * key k is fmix64(k ^ seed_i). fmix64 is a bijection with full avalanche,
 * so for a fixed key the scores of different nodes behave as independent
 * uniform draws: each node wins 1/N of the keys, and removing a node only
 * re-places the keys it won (every other node's score is unchanged).
 * Ties need two 64-bit scores to be equal — and are then broken by the
 * name, so the result never depends on the order the names came in.
 */
#include "agentcore/cluster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct node {
    uint64_t seed;
    char *name;
};

struct ac_placement {
    unsigned n;
    struct node node[];
};

int ac_placement_create(const char *const *names, unsigned n, ac_placement **out)
{
    struct ac_placement *p;
    if (!n || n > AC_PLACEMENT_MAX_NODES)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++) {
        size_t len = names[i] ? strlen(names[i]) : 0;
        if (!len || len > AC_PLACEMENT_NAME_MAX)
            return -EINVAL;
        for (unsigned j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return -EINVAL;
    }
    p = calloc(1, sizeof *p + n * sizeof p->node[0]);
    if (!p)
        return -ENOMEM;
    p->n = n;
    for (unsigned i = 0; i < n; i++) {
        p->node[i].name = strdup(names[i]);
        if (!p->node[i].name) {
            ac_placement_destroy(p);
            return -ENOMEM;
        }
        p->node[i].seed = ac_hash64(names[i], strlen(names[i]));
    }
    *out = p;
    return 0;
}

void ac_placement_destroy(ac_placement *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->n; i++)
        free(p->node[i].name);
    free(p);
}

unsigned ac_placement_owner(const ac_placement *p, uint64_t key)
{
    unsigned best = 0;
    uint64_t top = ac_hash_mix64(key ^ p->node[0].seed);
    for (unsigned i = 1; i < p->n; i++) {
        uint64_t s = ac_hash_mix64(key ^ p->node[i].seed);
        if (s > top || (s == top && strcmp(p->node[i].name, p->node[best].name) < 0)) {
            top = s;
            best = i;
        }
    }
    return best;
}

unsigned ac_placement_count(const ac_placement *p)
{
    return p->n;
}

const char *ac_placement_node(const ac_placement *p, unsigned i)
{
    return i < p->n ? p->node[i].name : NULL;
}

int ac_placement_find(const ac_placement *p, const char *name)
{
    for (unsigned i = 0; i < p->n; i++)
        if (strcmp(p->node[i].name, name) == 0)
            return (int)i;
    return -1;
}
