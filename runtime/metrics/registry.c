/*
 * The registry (a list of collectors fixed before the runtime runs) and
 * the sink collectors write samples into.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ac_metrics_create(struct ac_runtime *rt, ac_metrics **out)
{
    ac_metrics *m;
    if (!rt || !out)
        return -EINVAL;
    m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->rt = rt;
    m->nshards = ac_runtime_shard_count(rt);
    m->start_ns = ac_now_ns();
    pthread_mutex_init(&m->lock, NULL);
    LIST_INIT(&m->pending);
    *out = m;
    return 0;
}

int ac_metrics_collector_add(ac_metrics *m, enum ac_metrics_scope scope, ac_metrics_collect_fn fn,
                             void *arg)
{
    if (!m || !fn)
        return -EINVAL;
    if (m->n == m->cap) {
        unsigned cap = m->cap ? m->cap * 2 : 8;
        struct ac__collector *c = realloc(m->c, cap * sizeof *c);
        if (!c)
            return -ENOMEM;
        m->c = c;
        m->cap = cap;
    }
    m->c[m->n++] = (struct ac__collector){scope, fn, arg};
    return 0;
}

int ac_metrics_add_builtins(ac_metrics *m)
{
    int err = ac_metrics_collector_add(m, AC_METRICS_PER_SHARD, ac__collect_runtime, m);
    if (!err)
        err = ac_metrics_collector_add(m, AC_METRICS_PROCESS, ac__collect_process, m);
    return err;
}

void ac_metrics_destroy(ac_metrics *m)
{
    if (!m)
        return;
    ac__scrapes_abandon(m);
    pthread_mutex_destroy(&m->lock);
    free(m->c);
    free(m);
}

unsigned ac_metrics_sink_shard(const ac_metrics_sink *s)
{
    return s->shard;
}

static struct ac__sample *sample_new(ac_metrics_sink *s, const struct ac_metric_desc *d,
                                     const char *fmt, va_list ap)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct ac__sample *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            goto dropped;
        s->v = v;
        s->cap = cap;
    }
    char *labels = NULL;
    if (fmt && vasprintf(&labels, fmt, ap) < 0)
        goto dropped;
    struct ac__sample *x = &s->v[s->n++];
    *x = (struct ac__sample){.d = d, .labels = labels};
    return x;
dropped:
    s->dropped++;
    return NULL;
}

void ac_metrics_emit(ac_metrics_sink *s, const struct ac_metric_desc *d, double value,
                     const char *labels, ...)
{
    va_list ap;
    va_start(ap, labels);
    struct ac__sample *x = sample_new(s, d, labels, ap);
    va_end(ap);
    if (x)
        x->value = value;
}

void ac_metrics_emit_hist(ac_metrics_sink *s, const struct ac_metric_desc *d,
                          const struct ac_hist *h, const char *labels, ...)
{
    struct ac_hist *copy = malloc(sizeof *copy);
    if (!copy) {
        s->dropped++;
        return;
    }
    *copy = *h;
    va_list ap;
    va_start(ap, labels);
    struct ac__sample *x = sample_new(s, d, labels, ap);
    va_end(ap);
    if (!x) {
        free(copy);
        return;
    }
    x->hist = copy;
}

bool ac_metrics_label(const char *labels, const char *key, char *buf, size_t cap)
{
    size_t klen = strlen(key);
    const char *p = labels;
    while (p && *p) {
        const char *eq = strchr(p, '=');
        if (!eq || eq[1] != '"')
            return false;
        const char *end = strchr(eq + 2, '"');
        if (!end)
            return false;
        if ((size_t)(eq - p) == klen && memcmp(p, key, klen) == 0) {
            size_t n = (size_t)(end - (eq + 2));
            if (n >= cap)
                n = cap - 1;
            memcpy(buf, eq + 2, n);
            buf[n] = 0;
            return true;
        }
        p = end[1] == ',' ? end + 2 : NULL;
    }
    return false;
}
