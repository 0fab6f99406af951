/*
 * Prometheus text exposition format 0.0.4: one HELP and TYPE pair per
 * family, then its samples; histograms as cumulative _bucket lines with
 * the fixed bounds of hist.h (in seconds), _sum and _count.
 */
#include "render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const type_name[] = {
    [AC_METRIC_COUNTER] = "counter",
    [AC_METRIC_GAUGE] = "gauge",
    [AC_METRIC_HISTOGRAM] = "histogram",
};

/* "{labels,shard="N"" without the closing brace (extra labels may follow). */
static void open_labels(FILE *f, const struct ac__sref *r)
{
    const char *l = r->s->labels;
    bool any = l && *l;
    fputc('{', f);
    if (any)
        fputs(l, f);
    if (r->shard != AC_SHARD_NONE)
        fprintf(f, "%sshard=\"%u\"", any ? "," : "", r->shard);
}

static bool has_labels(const struct ac__sref *r)
{
    return (r->s->labels && *r->s->labels) || r->shard != AC_SHARD_NONE;
}

static void write_hist(FILE *f, const struct ac__sref *r)
{
    const struct ac_hist *h = r->s->hist;
    const char *name = r->s->d->name;
    bool comma = has_labels(r);
    uint64_t cum = 0;
    for (unsigned i = 0; i < AC_HIST_BUCKETS; i++) {
        cum += h->bucket[i];
        fprintf(f, "%s_bucket", name);
        open_labels(f, r);
        fprintf(f, "%sle=\"%.9g\"} %llu\n", comma ? "," : "", (double)ac_hist_bound_ns(i) / 1e9,
                (unsigned long long)cum);
    }
    cum += h->bucket[AC_HIST_BUCKETS];
    fprintf(f, "%s_bucket", name);
    open_labels(f, r);
    fprintf(f, "%sle=\"+Inf\"} %llu\n", comma ? "," : "", (unsigned long long)cum);
    fprintf(f, "%s_sum", name);
    if (comma) {
        open_labels(f, r);
        fputc('}', f);
    }
    fprintf(f, " %.9g\n", (double)h->sum_ns / 1e9);
    fprintf(f, "%s_count", name);
    if (comma) {
        open_labels(f, r);
        fputc('}', f);
    }
    /* _count equals the +Inf bucket by definition (Prometheus checks it) */
    fprintf(f, " %llu\n", (unsigned long long)cum);
}

int ac_metrics_render_prometheus(const ac_metrics_scrape *sc, char **out, size_t *len)
{
    struct ac__sref *v;
    size_t n;
    char *buf = NULL;
    size_t blen = 0;
    FILE *f;
    if (ac__render_refs(sc, &v, &n))
        return -ENOMEM;
    f = open_memstream(&buf, &blen);
    if (!f) {
        free(v);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const struct ac__sref *r = &v[i];
        const struct ac_metric_desc *d = r->s->d;
        if (i == 0 || v[i - 1].family != r->family)
            fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name,
                    type_name[d->type]);
        if (d->type == AC_METRIC_HISTOGRAM) {
            write_hist(f, r);
            continue;
        }
        fputs(d->name, f);
        if (has_labels(r)) {
            open_labels(f, r);
            fputc('}', f);
        }
        fprintf(f, " %.15g\n", r->s->value);
    }
    free(v);
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    *out = buf;
    *len = blen;
    return 0;
}
