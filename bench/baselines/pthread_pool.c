/* The mutex + condvar worker pool baseline; see pthread_pool.h. */
#include "pthread_pool.h"

#include "harness.h"

#include <errno.h>
#include <stdlib.h>

struct worker_arg {
    struct pthread_pool *p;
    unsigned cpu;
};

static void *worker(void *arg)
{
    struct worker_arg *wa = arg;
    struct pthread_pool *p = wa->p;
    (void)ac_bench_pin(wa->cpu);
    free(wa);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->len && !p->stop)
            pthread_cond_wait(&p->not_empty, &p->mu);
        if (!p->len && p->stop)
            break;
        struct pool_task t = p->q[p->head];
        p->head = (p->head + 1) % p->cap;
        p->len--;
        p->busy++;
        pthread_cond_signal(&p->not_full);
        pthread_mutex_unlock(&p->mu);
        t.fn(t.arg);
        pthread_mutex_lock(&p->mu);
        p->busy--;
        if (!p->len && !p->busy)
            pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int pthread_pool_start(struct pthread_pool *p, unsigned nworkers, unsigned cap, unsigned ncpus)
{
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->not_empty, NULL);
    pthread_cond_init(&p->not_full, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->q = calloc(cap, sizeof *p->q);
    p->workers = calloc(nworkers, sizeof *p->workers);
    if (!p->q || !p->workers)
        return -ENOMEM;
    p->cap = cap;
    p->head = p->len = p->busy = 0;
    p->stop = false;
    p->nworkers = nworkers;
    for (unsigned i = 0; i < nworkers; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        if (!wa)
            return -ENOMEM;
        *wa = (struct worker_arg){p, i % ncpus};
        int r = pthread_create(&p->workers[i], NULL, worker, wa);
        if (r)
            return -r;
    }
    return 0;
}

void pthread_pool_submit(struct pthread_pool *p, void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&p->mu);
    while (p->len == p->cap)
        pthread_cond_wait(&p->not_full, &p->mu);
    p->q[(p->head + p->len++) % p->cap] = (struct pool_task){fn, arg};
    pthread_cond_signal(&p->not_empty);
    pthread_mutex_unlock(&p->mu);
}

void pthread_pool_wait(struct pthread_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->len || p->busy)
        pthread_cond_wait(&p->idle, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void pthread_pool_stop(struct pthread_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->not_empty);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++)
        pthread_join(p->workers[i], NULL);
    free(p->workers);
    free(p->q);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->not_empty);
    pthread_cond_destroy(&p->not_full);
    pthread_cond_destroy(&p->idle);
}
