/*
 * Rendering helpers shared by the Prometheus and JSON renderers: the
 * scrape's samples, grouped by family in the order families first appear
 * (collector order), and within a family in shard order.
 */
#include "render.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int cmp_ref(const void *a, const void *b)
{
    const struct ac__sref *x = a, *y = b;
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int ac__render_refs(const ac_metrics_scrape *sc, struct ac__sref **out, size_t *n)
{
    const struct ac_metrics_sink *s;
    size_t total = 0, k = 0;
    const struct ac_metric_desc **fam = NULL;
    unsigned nfam = 0, capfam = 0;
    AC__SCRAPE_FOREACH_SINK(sc, s)
    total += s->n;
    struct ac__sref *v = malloc((total ? total : 1) * sizeof *v);
    if (!v)
        return -1;
    AC__SCRAPE_FOREACH_SINK(sc, s)
    {
        for (size_t i = 0; i < s->n; i++) {
            const struct ac_metric_desc *d = s->v[i].d;
            unsigned f = 0;
            while (f < nfam && fam[f] != d && strcmp(fam[f]->name, d->name) != 0)
                f++;
            if (f == nfam) {
                if (nfam == capfam) {
                    capfam = capfam ? capfam * 2 : 64;
                    const struct ac_metric_desc **nf = realloc(fam, capfam * sizeof *nf);
                    if (!nf) {
                        free(fam);
                        free(v);
                        return -1;
                    }
                    fam = nf;
                }
                fam[nfam++] = d;
            }
            v[k] = (struct ac__sref){&s->v[i], s->shard, f, k};
            k++;
        }
    }
    free(fam);
    qsort(v, k, sizeof *v, cmp_ref);
    *out = v;
    *n = k;
    return 0;
}

int ac_metrics_scrape_foreach(const ac_metrics_scrape *sc, ac_metrics_sample_fn fn, void *arg)
{
    struct ac__sref *v;
    size_t n;
    if (ac__render_refs(sc, &v, &n))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct ac__sample *s = v[i].s;
        struct ac_metrics_sample x = {s->d, v[i].shard, s->labels, s->value, s->hist};
        fn(arg, &x);
    }
    free(v);
    return 0;
}
