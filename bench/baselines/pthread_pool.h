/*
 * Baseline for bench/sched_spawn: the original Go design's worker pool
 * written in C — N worker threads fed by one shared FIFO protected by a
 * mutex, with condition variables for "not empty" and "not full". Unlike
 * the Go original, tasks do get dispatched to workers (its pool never ran
 * a task), and a full queue blocks the submitter instead of dropping.
 */
#ifndef AC_BENCH_PTHREAD_POOL_H
#define AC_BENCH_PTHREAD_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct pool_task {
    void (*fn)(void *);
    void *arg;
};

struct pthread_pool {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full, idle;
    struct pool_task *q;
    unsigned cap, head, len, busy;
    bool stop;
    unsigned nworkers;
    pthread_t *workers;
};

/* Starts `nworkers` workers pinned round-robin to CPUs 0..ncpus-1. 0 or -errno. */
int pthread_pool_start(struct pthread_pool *p, unsigned nworkers, unsigned cap, unsigned ncpus);
/* Queues a task, blocking while the queue is full. */
void pthread_pool_submit(struct pthread_pool *p, void (*fn)(void *), void *arg);
/* Blocks until the queue is empty and no worker runs a task. */
void pthread_pool_wait(struct pthread_pool *p);
/* Stops and joins the workers. */
void pthread_pool_stop(struct pthread_pool *p);

#endif
