/*
 * bench_cluster_placement: which node owns a session, measured for the
 * candidates of issue 16 over 1 M session ids ("session-<i>", hashed with
 * ac_session_hash as the router does) at 10 and 100 nodes:
 *
 *   mod       hash % N over the sorted live list (the baseline)
 *   jump      jump consistent hash over the sorted live list
 *   ketama160 Ketama ring, 160 points per node (libketama's count)
 *   ketama1k  Ketama ring, 1000 points per node
 *   maglev    Maglev lookup table, 65537 entries
 *   hrw       rendezvous (highest random weight) — ac_placement, the one
 *             the library uses
 *
 * For each: max/mean load, and the fraction of sessions whose owner
 * changes when the first, a middle or the last node (in sorted order)
 * leaves, or a node that sorts first, in the middle or last joins — as a
 * ratio to the ideal (1/N on a leave, 1/(N+1) on a join). Plus ns per
 * lookup. Deterministic: no repetitions needed except for the timings.
 *
 *   bench_cluster_placement [--quick] [--json]
 */
#include "harness.h"

#include "agentcore.h"
#include "agentcore/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_NODES 128
#define MAGLEV_M  65537u

static uint64_t str_hash(const char *s)
{
    return ac_hash64(s, strlen(s));
}

/* A member set: names sorted, as every node sees them. */
struct set {
    char names[MAX_NODES + 1][32];
    unsigned n;
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* ---- candidates: build from a set, then look up key → index in set ---- */

struct algo {
    const char *name;
    void *(*build)(const struct set *s);
    unsigned (*lookup)(const void *st, uint64_t key);
    void (*destroy)(void *st);
};

static void *build_n(const struct set *s)
{
    unsigned *n = malloc(sizeof *n);
    *n = s->n;
    return n;
}

static unsigned lookup_mod(const void *st, uint64_t key)
{
    return (unsigned)(key % *(const unsigned *)st);
}

/* Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm". */
static unsigned lookup_jump(const void *st, uint64_t key)
{
    int64_t b = -1, j = 0, n = *(const unsigned *)st;
    while (j < n) {
        b = j;
        key = key * 2862933555777941757ull + 1;
        j = (int64_t)((double)(b + 1) * ((double)(1ll << 31) / (double)((key >> 33) + 1)));
    }
    return (unsigned)b;
}

struct ring {
    uint64_t *pt; /* sorted point hashes */
    unsigned *owner;
    unsigned n;
};

static unsigned ketama_points;

static int cmp_pt(const void *a, const void *b)
{
    uint64_t x = ((const uint64_t *)a)[0], y = ((const uint64_t *)b)[0];
    return x < y ? -1 : x > y;
}

static void *build_ketama(const struct set *s)
{
    struct ring *r = malloc(sizeof *r);
    unsigned n = s->n * ketama_points;
    uint64_t(*pairs)[2] = malloc(n * sizeof *pairs);
    char buf[64];
    for (unsigned i = 0, k = 0; i < s->n; i++)
        for (unsigned v = 0; v < ketama_points; v++, k++) {
            snprintf(buf, sizeof buf, "%s-%u", s->names[i], v);
            pairs[k][0] = str_hash(buf);
            pairs[k][1] = i;
        }
    qsort(pairs, n, sizeof *pairs, cmp_pt);
    r->pt = malloc(n * sizeof *r->pt);
    r->owner = malloc(n * sizeof *r->owner);
    r->n = n;
    for (unsigned k = 0; k < n; k++) {
        r->pt[k] = pairs[k][0];
        r->owner[k] = (unsigned)pairs[k][1];
    }
    free(pairs);
    return r;
}

static unsigned lookup_ketama(const void *st, uint64_t key)
{
    const struct ring *r = st;
    unsigned lo = 0, hi = r->n; /* first point >= key, wrapping */
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (r->pt[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return r->owner[lo == r->n ? 0 : lo];
}

static void destroy_ketama(void *st)
{
    struct ring *r = st;
    free(r->pt);
    free(r->owner);
    free(r);
}

/* Eisenbud et al., "Maglev", NSDI 2016, population of the lookup table. */
static void *build_maglev(const struct set *s)
{
    unsigned *table = malloc(MAGLEV_M * sizeof *table);
    unsigned *next = calloc(s->n, sizeof *next);
    uint64_t *off = malloc(s->n * sizeof *off), *skip = malloc(s->n * sizeof *skip);
    for (unsigned i = 0; i < s->n; i++) {
        uint64_t h = str_hash(s->names[i]);
        off[i] = h % MAGLEV_M;
        skip[i] = ac_hash_mix64(h ^ 0x9e3779b97f4a7c15ull) % (MAGLEV_M - 1) + 1;
    }
    memset(table, 0xff, MAGLEV_M * sizeof *table);
    for (unsigned filled = 0;;) {
        for (unsigned i = 0; i < s->n; i++) {
            uint64_t c = (off[i] + next[i] * skip[i]) % MAGLEV_M;
            while (table[c] != ~0u) {
                next[i]++;
                c = (off[i] + next[i] * skip[i]) % MAGLEV_M;
            }
            table[c] = i;
            next[i]++;
            if (++filled == MAGLEV_M)
                goto out;
        }
    }
out:
    free(next);
    free(off);
    free(skip);
    return table;
}

static unsigned lookup_maglev(const void *st, uint64_t key)
{
    return ((const unsigned *)st)[ac_hash_mix64(key) % MAGLEV_M];
}

/* The library's placement (rendezvous). */
static void *build_hrw(const struct set *s)
{
    const char *names[MAX_NODES + 1];
    ac_placement *p;
    for (unsigned i = 0; i < s->n; i++)
        names[i] = s->names[i];
    AC_BENCH_CHECK(ac_placement_create(names, s->n, &p) == 0);
    return p;
}

static unsigned lookup_hrw(const void *st, uint64_t key)
{
    return ac_placement_owner(st, key);
}

static void destroy_hrw(void *st)
{
    ac_placement_destroy(st);
}

static const struct algo algos[] = {
    {"mod", build_n, lookup_mod, free},
    {"jump", build_n, lookup_jump, free},
    {"ketama160", build_ketama, lookup_ketama, destroy_ketama},
    {"ketama1k", build_ketama, lookup_ketama, destroy_ketama},
    {"maglev", build_maglev, lookup_maglev, free},
    {"hrw", build_hrw, lookup_hrw, destroy_hrw},
};

/* ---- measurement ----------------------------------------------------- */

static uint64_t *keys;
static unsigned nkeys;

static void set_make(struct set *s, unsigned n)
{
    s->n = n;
    for (unsigned i = 0; i < n; i++)
        snprintf(s->names[i], sizeof s->names[i], "10.0.%u.%u:8080", i / 250, 10 + i % 250);
    qsort(s->names, n, sizeof s->names[0], cmp_name);
}

/* Owner names of every key under set `s` (indices into s->names). */
static void owners(const struct algo *a, const struct set *s, unsigned *out)
{
    void *st = a->build(s);
    for (unsigned k = 0; k < nkeys; k++)
        out[k] = a->lookup(st, keys[k]);
    a->destroy(st);
}

/* Fraction of keys whose owner *name* differs between two sets. */
static double moved(const struct set *s1, const unsigned *o1, const struct set *s2,
                    const unsigned *o2)
{
    unsigned long m = 0;
    for (unsigned k = 0; k < nkeys; k++)
        m += strcmp(s1->names[o1[k]], s2->names[o2[k]]) != 0;
    return (double)m / nkeys;
}

static void run(const struct algo *a, unsigned n, const struct ac_bench_opts *o)
{
    struct set base, other;
    unsigned *o1 = malloc(nkeys * sizeof *o1), *o2 = malloc(nkeys * sizeof *o2);
    unsigned load[MAX_NODES] = {0}, maxload = 0;
    char scen[64];
    ketama_points = strcmp(a->name, "ketama1k") == 0 ? 1000 : 160;
    set_make(&base, n);
    owners(a, &base, o1);
    for (unsigned k = 0; k < nkeys; k++)
        load[o1[k]]++;
    for (unsigned i = 0; i < n; i++) {
        AC_BENCH_CHECK(load[i] > 0);
        maxload = load[i] > maxload ? load[i] : maxload;
    }
    snprintf(scen, sizeof scen, "%s N=%u", a->name, n);
    ac_bench_value(scen, "max/mean", (double)maxload * n / nkeys);

    /* leaves: first, middle, last in sorted order */
    static const char *const where[] = {"first", "middle", "last"};
    double worst = 0;
    for (int w = 0; w < 3; w++) {
        unsigned gone = w == 0 ? 0 : w == 1 ? n / 2 : n - 1;
        other.n = 0;
        for (unsigned i = 0; i < n; i++)
            if (i != gone)
                memcpy(other.names[other.n++], base.names[i], sizeof base.names[i]);
        owners(a, &other, o2);
        double r = moved(&base, o1, &other, o2) * n;
        char m[32];
        snprintf(m, sizeof m, "leave %s /ideal", where[w]);
        ac_bench_value(scen, m, r);
        worst = r > worst ? r : worst;
    }
    /* joins: a name that sorts first, in the middle, last */
    static const char *const joiner[] = {"0.0.0.1:8080", "10.0.0.109:8081", "99.9.9.9:8080"};
    for (int w = 0; w < 3; w++) {
        other = base;
        memcpy(other.names[other.n++], joiner[w], strlen(joiner[w]) + 1);
        qsort(other.names, other.n, sizeof other.names[0], cmp_name);
        owners(a, &other, o2);
        double r = moved(&base, o1, &other, o2) * (n + 1);
        char m[32];
        snprintf(m, sizeof m, "join %s /ideal", where[w]);
        ac_bench_value(scen, m, r);
        worst = r > worst ? r : worst;
    }
    ac_bench_value(scen, "worst moved /ideal", worst);

    /* lookup cost (the table or ring already built) */
    void *st = a->build(&base);
    double samples[16];
    unsigned runs = o->runs > 16 ? 16 : o->runs;
    unsigned long sink = 0;
    for (unsigned r = 0; r < runs; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (unsigned k = 0; k < nkeys; k++)
            sink += a->lookup(st, keys[k]);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        samples[r] = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / nkeys;
    }
    AC_BENCH_CHECK(sink > 0);
    a->destroy(st);
    struct ac_bench_stats s;
    ac_bench_stats_of(samples, runs, &s);
    ac_bench_result(scen, "ns/lookup", &s);
    free(o1);
    free(o2);
}

int main(int argc, char **argv)
{
    struct ac_bench_opts o;
    if (ac_bench_parse(argc, argv, &o) < 0)
        return 2;
    nkeys = o.quick ? 100000 : 1000000;
    keys = malloc(nkeys * sizeof *keys);
    for (unsigned k = 0; k < nkeys; k++) {
        char id[32];
        int len = snprintf(id, sizeof id, "session-%u", k);
        keys[k] = ac_session_hash(id, (size_t)len);
    }
    ac_bench_begin(&o, "cluster_placement");
    static const unsigned sizes[] = {10, 100};
    for (unsigned z = 0; z < 2; z++)
        for (unsigned a = 0; a < sizeof algos / sizeof algos[0]; a++)
            run(&algos[a], sizes[z], &o);
    ac_bench_end();
    free(keys);
    return 0;
}
