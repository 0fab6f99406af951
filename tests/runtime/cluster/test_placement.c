/*
 * Rendezvous placement: balance and minimal movement are deterministic for
 * fixed inputs, so they are asserted exactly (no statistics, no timing).
 */
#include "agentcore.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 1000000u

static uint64_t key(unsigned k)
{
    char id[32];
    int len = snprintf(id, sizeof id, "session-%u", k);
    return ac_session_hash(id, (size_t)len);
}

static char names[101][32];
static const char *ptrs[101];

static ac_placement *make(unsigned n, unsigned skip)
{
    ac_placement *p;
    unsigned m = 0;
    for (unsigned i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "10.0.0.%u:8080", i);
        if (i != skip)
            ptrs[m++] = names[i];
    }
    cr_assert_eq(ac_placement_create(ptrs, m, &p), 0);
    return p;
}

static void balanced(unsigned n)
{
    ac_placement *p = make(n, ~0u);
    unsigned *load = calloc(n, sizeof *load), max = 0;
    for (unsigned k = 0; k < NKEYS; k++)
        load[ac_placement_owner(p, key(k))]++;
    for (unsigned i = 0; i < n; i++)
        max = load[i] > max ? load[i] : max;
    double ratio = (double)max * n / NKEYS;
    cr_assert_leq(ratio, 1.05, "max/mean %.4f at %u nodes", ratio, n);
    free(load);
    ac_placement_destroy(p);
}

Test(runtime_cluster_placement, max_over_mean_within_1_05_at_10_nodes)
{
    balanced(10);
}

Test(runtime_cluster_placement, max_over_mean_within_1_05_at_100_nodes)
{
    balanced(100);
}

/* A node leaving moves exactly its own keys: every other key keeps its owner. */
static void leave(unsigned n, unsigned gone)
{
    ac_placement *all = make(n, ~0u), *less = make(n, gone);
    unsigned moved = 0, owned = 0;
    for (unsigned k = 0; k < NKEYS / 4; k++) {
        uint64_t h = key(k);
        const char *a = ac_placement_node(all, ac_placement_owner(all, h));
        const char *b = ac_placement_node(less, ac_placement_owner(less, h));
        owned += strcmp(a, names[gone]) == 0;
        moved += strcmp(a, b) != 0;
        cr_assert(strcmp(a, b) == 0 || strcmp(a, names[gone]) == 0,
                  "key %u moved from %s (not the leaver)", k, a);
    }
    cr_assert_eq(moved, owned);
    cr_assert_gt(owned, 0);
    ac_placement_destroy(all);
    ac_placement_destroy(less);
}

Test(runtime_cluster_placement, leaving_node_moves_only_its_keys)
{
    leave(10, 0);
    leave(10, 5);
    leave(10, 9);
    leave(100, 0);
    leave(100, 50);
    leave(100, 99);
}

/* A node joining takes keys only for itself, about 1/(N+1) of them. */
Test(runtime_cluster_placement, joining_node_takes_only_keys_for_itself)
{
    ac_placement *before = make(11, 7), *after = make(11, ~0u);
    unsigned moved = 0, n = NKEYS / 4;
    for (unsigned k = 0; k < n; k++) {
        uint64_t h = key(k);
        const char *a = ac_placement_node(before, ac_placement_owner(before, h));
        const char *b = ac_placement_node(after, ac_placement_owner(after, h));
        if (strcmp(a, b) != 0) {
            cr_assert_str_eq(b, names[7]);
            moved++;
        }
    }
    double ratio = (double)moved * 11 / n;
    cr_assert(ratio > 0.9 && ratio < 1.1, "joiner took %.3f of the ideal", ratio);
    ac_placement_destroy(before);
    ac_placement_destroy(after);
}

Test(runtime_cluster_placement, owner_does_not_depend_on_member_order)
{
    const char *fwd[] = {"a:1", "b:2", "c:3", "d:4"}, *rev[] = {"d:4", "c:3", "b:2", "a:1"};
    ac_placement *p, *q;
    cr_assert_eq(ac_placement_create(fwd, 4, &p), 0);
    cr_assert_eq(ac_placement_create(rev, 4, &q), 0);
    for (unsigned k = 0; k < 10000; k++)
        cr_assert_str_eq(ac_placement_node(p, ac_placement_owner(p, key(k))),
                         ac_placement_node(q, ac_placement_owner(q, key(k))));
    cr_assert_eq(ac_placement_find(q, "b:2"), 2);
    cr_assert_eq(ac_placement_find(q, "z:9"), -1);
    cr_assert_eq(ac_placement_count(q), 4);
    ac_placement_destroy(p);
    ac_placement_destroy(q);
}

Test(runtime_cluster_placement, bad_member_lists_are_refused)
{
    ac_placement *p;
    const char *dup[] = {"a:1", "b:2", "a:1"}, *empty[] = {"a:1", ""}, *null[] = {NULL};
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    const char *lng[] = {longname};
    cr_assert_eq(ac_placement_create(dup, 3, &p), -EINVAL);
    cr_assert_eq(ac_placement_create(empty, 2, &p), -EINVAL);
    cr_assert_eq(ac_placement_create(null, 1, &p), -EINVAL);
    cr_assert_eq(ac_placement_create(lng, 1, &p), -EINVAL);
    cr_assert_eq(ac_placement_create(dup, 0, &p), -EINVAL);
}
