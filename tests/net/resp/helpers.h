/*
 * Shared helpers for the Redis tests (tests/net/resp, tests/runtime/cluster):
 *
 *  - real redis-server processes (net/resp/redis_server.h);
 *  - a one- or two-shard runtime in a background thread, each shard with
 *    its net, on which a test runs functions by message and waits for a
 *    flag with a timeout.
 */
#ifndef AC_TEST_RESP_HELPERS_H
#define AC_TEST_RESP_HELPERS_H

#include "agentcore.h"
#include "net/resp/redis_server.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- a runtime whose shards each have a net ------------------------------ */

#define TSH_MAX 2

struct tshard {
    ac_runtime *rt;
    pthread_t thread;
    unsigned shards;
    ac_net *net[TSH_MAX];
    _Atomic unsigned started;
    _Atomic int start_err;
    int run_err;
};

static void tsh_start_hook(void *arg, unsigned id)
{
    struct tshard *t = arg;
    int err = ac_net_create(NULL, &t->net[id]);
    if (err)
        atomic_store(&t->start_err, err);
    atomic_fetch_add(&t->started, 1);
}

static void tsh_net_stopped(void *arg, ac_net *net)
{
    (void)arg;
    ac_net_destroy(net);
    ac_shard_release_stop();
}

static void tsh_stop_hook(void *arg, unsigned id)
{
    struct tshard *t = arg;
    if (!t->net[id])
        return;
    ac_shard_hold_stop();
    ac_net_stop(t->net[id], ac_now_ns() + 1000000000ull, tsh_net_stopped, t);
}

static void *tsh_main(void *arg)
{
    struct tshard *t = arg;
    t->run_err = ac_runtime_run(t->rt);
    return NULL;
}

static inline void tsh_start(struct tshard *t, unsigned shards)
{
    memset(t, 0, sizeof *t);
    t->shards = shards;
    ac_runtime_config cfg;
    ac_runtime_config_init(&cfg);
    cfg.handle_signals = false;
    cfg.shards = shards;
    cfg.oversubscribe = true;
    cfg.on_shard_start = tsh_start_hook;
    cfg.on_shard_stop = tsh_stop_hook;
    cfg.hook_arg = t;
    cr_assert_eq(ac_runtime_create(&cfg, &t->rt), 0);
    cr_assert_eq(pthread_create(&t->thread, NULL, tsh_main, t), 0);
    for (unsigned i = 0; i < 10000 && atomic_load(&t->started) < shards; i++)
        usleep(1000);
    cr_assert_eq(atomic_load(&t->started), shards, "shards did not start");
    int err = atomic_load(&t->start_err);
    if (err == -EOPNOTSUPP) {
        ac_runtime_stop(t->rt);
        pthread_join(t->thread, NULL);
        ac_runtime_destroy(t->rt);
        cr_skip_test("kernel lacks provided-buffer rings");
    }
    cr_assert_eq(err, 0, "net: %s", ac_strerror(err));
}

static inline void tsh_stop(struct tshard *t)
{
    ac_runtime_stop(t->rt);
    cr_assert_eq(pthread_join(t->thread, NULL), 0);
    cr_assert_eq(t->run_err, 0);
    ac_runtime_destroy(t->rt);
}

/* Runs fn(arg) on shard `shard` (by message). */
static inline void tsh_run(struct tshard *t, unsigned shard, ac_msg_fn fn, void *arg)
{
    cr_assert_eq(ac_runtime_submit(t->rt, shard, fn, arg), 0);
}

/* Waits (≤ timeout_ms) until *flag is true; fails the test otherwise. */
#define TSH_WAIT(flag, timeout_ms, ...)                                                            \
    do {                                                                                           \
        for (unsigned w_ = 0; w_ < (timeout_ms) && !atomic_load(flag); w_++)                       \
            usleep(1000);                                                                          \
        cr_assert(atomic_load(flag), __VA_ARGS__);                                                 \
    } while (0)

#endif
