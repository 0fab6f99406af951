/*
 * redis-server processes for the tests: on 127.0.0.1, on a port the kernel
 * picked (bound then released; a start that loses the port to someone
 * else is retried on a new one), stopped by pid; SIGSTOP/SIGCONT freeze
 * them. The check client is hiredis' own synchronous client, not ours.
 */
#ifndef AC_TEST_REDIS_SERVER_H
#define AC_TEST_REDIS_SERVER_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

/*
 * True when the server answering on r->port is the process we started:
 * another test may have started one on the same port between our probe
 * of a free port and our server's bind (ours then fails to bind).
 */
static inline bool redis_is_ours(const struct redis_srv *r)
{
    redisReply *rep = redis_do(r, "INFO server");
    const char *p = rep && rep->type == REDIS_REPLY_STRING ? strstr(rep->str, "process_id:") : NULL;
    bool ours = p && atol(p + 11) == (long)r->pid;
    if (rep)
        freeReplyObject(rep);
    return ours;
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
        /* dies with the test, even one that failed before its teardown */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2); /* holding the test's pipes would stall its reader */
        }
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
            if (redis_pings(r) && redis_is_ours(r))
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

#endif
