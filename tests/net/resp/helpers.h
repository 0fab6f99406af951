/*
 * Shared helpers for the Redis tests (tests/net/resp, tests/runtime/cluster):
 *
 *  - real redis-server processes on 127.0.0.1, on a port the kernel picked
 *    (bound then released; a start that loses the port to someone else is
 *    retried on a new one), stopped by pid; SIGSTOP/SIGCONT freeze them.
 *    The check client is hiredis' own synchronous client, not ours.
 *  - a one- or two-shard runtime in a background thread, each shard with
 *    its net, on which a test runs functions by message and waits for a
 *    flag with a timeout.
 */
#ifndef AC_TEST_RESP_HELPERS_H
#define AC_TEST_RESP_HELPERS_H

#include "agentcore.h"

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

/* ---- redis-server -------------------------------------------------------- */

struct redis_srv {
    pid_t pid;
    uint16_t port;
    bool frozen;
    char password[32]; /* requirepass, or empty */
};

static inline uint16_t free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A synchronous connection (hiredis), authenticated when needed; NULL if down. */
static inline redisContext *redis_sync(const struct redis_srv *r)
{
    struct timeval tv = {.tv_sec = 2};
    redisContext *x = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (!x || x->err) {
        if (x)
            redisFree(x);
        return NULL;
    }
    redisSetTimeout(x, tv);
    if (r->password[0]) {
        redisReply *rep = redisCommand(x, "AUTH %s", r->password);
        if (rep)
            freeReplyObject(rep);
    }
    return x;
}

/* One command through hiredis; the reply (free it) or NULL. */
static inline redisReply *redis_do(const struct redis_srv *r, const char *fmt, ...)
{
    redisContext *x = redis_sync(r);
    if (!x)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(x, fmt, ap);
    va_end(ap);
    redisFree(x);
    return rep;
}

/* GET key as an integer (0 when missing). */
static inline long long redis_get_int(const struct redis_srv *r, const char *key)
{
    redisReply *rep = redis_do(r, "GET %s", key);
    cr_assert_not_null(rep, "redis on %u unreachable", r->port);
    long long v = rep->type == REDIS_REPLY_STRING ? atoll(rep->str) : 0;
    freeReplyObject(rep);
    return v;
}

static inline bool redis_pings(const struct redis_srv *r)
{
    redisReply *rep = redis_do(r, "PING");
    bool ok = rep && rep->type == REDIS_REPLY_STATUS;
    if (rep)
        freeReplyObject(rep);
    return ok;
}

static inline pid_t redis_spawn(const struct redis_srv *r)
{
    char port[8];
    snprintf(port, sizeof port, "%u", r->port);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        const char *argv[16] = {"redis-server", "--port", port,           "--bind", "127.0.0.1",
                                "--save",       "",       "--appendonly", "no",     "--loglevel",
                                "warning",      "--dir",  "/tmp"};
        int n = 13;
        if (r->password[0]) {
            argv[n++] = "--requirepass";
            argv[n++] = r->password;
        }
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 1);
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Starts redis-server on r->port (0: pick one); waits (≤ 10 s) until it answers. */
static inline void redis_start(struct redis_srv *r)
{
    bool pick = r->port == 0;
    for (int attempt = 0; attempt < 5; attempt++) {
        if (pick)
            r->port = free_port();
        r->pid = redis_spawn(r);
        r->frozen = false;
        for (int i = 0; i < 1000; i++) {
            int st;
            if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
                r->pid = 0; /* exited: port taken? */
                break;
            }
            if (redis_pings(r))
                return;
            usleep(10000);
        }
        if (r->pid) {
            kill(r->pid, SIGKILL);
            waitpid(r->pid, NULL, 0);
            r->pid = 0;
        }
        if (!pick)
            usleep(100000); /* same port: let the old socket go */
    }
    cr_assert_fail("redis-server did not start (is it installed?)");
}

/* Kills it (SIGKILL: a crash, nothing flushed) and reaps it. Idempotent. */
static inline void redis_kill(struct redis_srv *r)
{
    if (!r->pid)
        return;
    kill(r->pid, SIGCONT);
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
    r->frozen = false;
}

static inline void redis_freeze(struct redis_srv *r)
{
    cr_assert_eq(kill(r->pid, SIGSTOP), 0);
    r->frozen = true;
}

static inline void redis_thaw(struct redis_srv *r)
{
    if (r->pid && r->frozen)
        kill(r->pid, SIGCONT);
    r->frozen = false;
}

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
