/*
 * The Redis client against real redis-server processes: pipelined order,
 * every reply type (binary-safe), EVALSHA falling back to EVAL after
 * SCRIPT FLUSH, a command timing out on a frozen server without breaking
 * the reply order, reconnect after a restart, AUTH + SELECT, a refused
 * connect, and close failing what is pending. The client runs on a shard;
 * the test thread drives it by message and checks Redis with hiredis'
 * synchronous client.
 */
#include "net/resp/helpers.h"

#define MAX_ARGS 8

/* One command sent from the test thread, answered on the shard. */
struct cmd {
    struct ctx *x;
    int argc;
    const char *argv[MAX_ARGS];
    size_t lens[MAX_ARGS];
    const struct ac_resp_script *script;
    int nkeys;
    int submit; /* ac_resp_command's return */
    int res;
    enum ac_resp_type type;
    long long integer;
    char str[256];
    size_t len, elements;
    _Atomic bool done;
};

struct ctx {
    struct tshard sh;
    struct redis_srv rs;
    struct ac_resp_config cfg;
    ac_resp_client *c;
    int create_err;
    struct ac_resp_stats stats;
    _Atomic bool flag;
};

static void on_reply(void *arg, int res, const struct ac_resp_reply *r)
{
    struct cmd *m = arg;
    m->res = res;
    if (r) {
        m->type = r->type;
        m->integer = r->integer;
        m->len = r->len;
        m->elements = r->elements;
        if (r->str)
            memcpy(m->str, r->str, r->len < sizeof m->str ? r->len : sizeof m->str - 1);
        if (r->type == AC_RESP_ARRAY && r->elements && r->element[0]->str)
            snprintf(m->str, sizeof m->str, "%s", r->element[0]->str);
    }
    atomic_store(&m->done, true);
}

static void cmd_send(void *arg)
{
    struct cmd *m = arg;
    if (m->script)
        m->submit =
            ac_resp_eval(m->x->c, m->script, m->nkeys, m->argc, m->argv, m->lens, on_reply, m);
    else
        m->submit = ac_resp_command(m->x->c, m->argc, m->argv, m->lens, on_reply, m);
    if (m->submit)
        atomic_store(&m->done, true);
}

/* Sends argv (NULL-terminated strings) and waits for the answer (≤ 10 s). */
static void cmd_run(struct ctx *x, struct cmd *m, const char *const *argv)
{
    memset(m, 0, sizeof *m);
    m->x = x;
    for (; argv[m->argc]; m->argc++) {
        m->argv[m->argc] = argv[m->argc];
        m->lens[m->argc] = strlen(argv[m->argc]);
    }
    tsh_run(&x->sh, 0, cmd_send, m);
    TSH_WAIT(&m->done, 10000, "no answer to %s", argv[0]);
}

#define CMD(x, m, ...) cmd_run((x), (m), (const char *const[]){__VA_ARGS__, NULL})

static void create_on_shard(void *arg)
{
    struct ctx *x = arg;
    x->create_err = ac_resp_client_create(x->sh.net[0], &x->cfg, &x->c);
    atomic_store(&x->flag, true);
}

static void stats_on_shard(void *arg)
{
    struct ctx *x = arg;
    ac_resp_client_stats(x->c, &x->stats);
    atomic_store(&x->flag, true);
}

static void closed(void *arg, ac_resp_client *c)
{
    (void)c;
    struct ctx *x = arg;
    x->c = NULL;
    atomic_store(&x->flag, true);
}

static void close_on_shard(void *arg)
{
    struct ctx *x = arg;
    ac_resp_client_close(x->c, closed, x);
}

static void ctx_start(struct ctx *x, bool with_redis)
{
    if (with_redis)
        redis_start(&x->rs);
    tsh_start(&x->sh, 1);
    ac_resp_config_init(&x->cfg);
    x->cfg.port = x->rs.port;
}

static void client_create(struct ctx *x)
{
    atomic_store(&x->flag, false);
    tsh_run(&x->sh, 0, create_on_shard, x);
    TSH_WAIT(&x->flag, 5000, "create did not run");
    cr_assert_eq(x->create_err, 0, "create: %s", ac_strerror(x->create_err));
}

static void client_stats(struct ctx *x)
{
    atomic_store(&x->flag, false);
    tsh_run(&x->sh, 0, stats_on_shard, x);
    TSH_WAIT(&x->flag, 5000, "stats did not run");
}

static void ctx_stop(struct ctx *x)
{
    if (x->c) {
        atomic_store(&x->flag, false);
        tsh_run(&x->sh, 0, close_on_shard, x);
        TSH_WAIT(&x->flag, 5000, "close callback did not run");
    }
    tsh_stop(&x->sh);
    redis_kill(&x->rs);
}

/* ---- pipelining --------------------------------------------------------- */

#define PIPE_N 2000

struct pipe {
    struct ctx *x;
    long long got[PIPE_N];
    int res[PIPE_N];
    unsigned answered, refused;
    _Atomic bool done;
};

static void pipe_reply(void *arg, int res, const struct ac_resp_reply *r)
{
    struct pipe *p = arg;
    p->res[p->answered] = res;
    p->got[p->answered] = r && r->type == AC_RESP_INTEGER ? r->integer : -1;
    if (++p->answered == PIPE_N)
        atomic_store(&p->done, true);
}

static void pipe_send(void *arg)
{
    struct pipe *p = arg;
    const char *argv[] = {"INCR", "pipe"};
    /* all in one loop turn: they leave in batches, far ahead of the replies */
    for (unsigned i = 0; i < PIPE_N; i++)
        if (ac_resp_command(p->x->c, 2, argv, NULL, pipe_reply, p) != 0)
            p->refused++;
    if (p->refused)
        atomic_store(&p->done, true);
}

Test(net_resp_client, pipelined_commands_are_answered_in_order, .timeout = 60)
{
    static struct ctx x;
    static struct pipe p;
    ctx_start(&x, true);
    client_create(&x);
    p.x = &x;
    tsh_run(&x.sh, 0, pipe_send, &p);
    TSH_WAIT(&p.done, 20000, "pipeline: %u of %d answered", p.answered, PIPE_N);
    cr_assert_eq(p.refused, 0);
    for (unsigned i = 0; i < PIPE_N; i++) {
        cr_assert_eq(p.res[i], 0, "command %u: %s", i, ac_strerror(p.res[i]));
        cr_assert_eq(p.got[i], (long long)i + 1, "reply %u is %lld", i, p.got[i]);
    }
    cr_assert_eq(redis_get_int(&x.rs, "pipe"), PIPE_N);
    client_stats(&x);
    cr_assert_eq(x.stats.replies, PIPE_N);
    cr_assert_eq(x.stats.pending, 0);
    cr_assert(x.stats.connected);
    ctx_stop(&x);
}

Test(net_resp_client, every_reply_type_is_parsed_binary_safe, .timeout = 60)
{
    static struct ctx x;
    static struct cmd m;
    ctx_start(&x, true);
    client_create(&x);

    /* a value with NUL, CR and LF in it, set through our client */
    memset(&m, 0, sizeof m);
    m.x = &x;
    m.argc = 3;
    m.argv[0] = "SET", m.lens[0] = 3;
    m.argv[1] = "bin", m.lens[1] = 3;
    m.argv[2] = "a\0b\r\nc", m.lens[2] = 6;
    tsh_run(&x.sh, 0, cmd_send, &m);
    TSH_WAIT(&m.done, 10000, "SET");
    cr_assert_eq(m.res, 0);
    cr_assert_eq(m.type, AC_RESP_STATUS);
    cr_assert_str_eq(m.str, "OK");
    redisReply *check = redis_do(&x.rs, "STRLEN bin");
    cr_assert_eq(check->integer, 6, "the server stored all 6 bytes");
    freeReplyObject(check);

    CMD(&x, &m, "GET", "bin");
    cr_assert_eq(m.type, AC_RESP_STRING);
    cr_assert_eq(m.len, 6);
    cr_assert_eq(memcmp(m.str, "a\0b\r\nc", 6), 0);
    CMD(&x, &m, "GET", "missing");
    cr_assert_eq(m.type, AC_RESP_NIL);
    CMD(&x, &m, "RPUSH", "list", "x", "y", "z");
    cr_assert_eq(m.type, AC_RESP_INTEGER);
    cr_assert_eq(m.integer, 3);
    CMD(&x, &m, "LRANGE", "list", "0", "-1");
    cr_assert_eq(m.type, AC_RESP_ARRAY);
    cr_assert_eq(m.elements, 3);
    cr_assert_str_eq(m.str, "x");
    CMD(&x, &m, "INCR", "list");
    cr_assert_eq(m.res, 0, "a Redis error is a reply, not a failure");
    cr_assert_eq(m.type, AC_RESP_ERROR);
    cr_assert_eq(strncmp(m.str, "WRONGTYPE", 9), 0, "%s", m.str);
    CMD(&x, &m, "PING");
    cr_assert_eq(m.type, AC_RESP_STATUS, "the connection still works after an error reply");
    ctx_stop(&x);
}

static const char *const incr_lua = "return redis.call('INCRBY', KEYS[1], ARGV[1])";

Test(net_resp_client, evalsha_falls_back_to_eval_after_script_flush, .timeout = 60)
{
    static struct ctx x;
    static struct cmd m;
    static struct ac_resp_script s;
    ac_resp_script_init(&s, incr_lua);
    ctx_start(&x, true);
    redisReply *sha = redis_do(&x.rs, "SCRIPT LOAD %s", incr_lua);
    cr_assert_str_eq(sha->str, s.sha1, "our SHA-1 is the server's");
    freeReplyObject(sha);
    redisReply *fl = redis_do(&x.rs, "SCRIPT FLUSH");
    freeReplyObject(fl);
    client_create(&x);
    for (int i = 1; i <= 3; i++) {
        memset(&m, 0, sizeof m);
        m.x = &x;
        m.script = &s;
        m.nkeys = 1;
        m.argc = 2;
        m.argv[0] = "scripted", m.lens[0] = 8;
        m.argv[1] = "5", m.lens[1] = 1;
        tsh_run(&x.sh, 0, cmd_send, &m);
        TSH_WAIT(&m.done, 10000, "eval %d", i);
        cr_assert_eq(m.res, 0, "%s", ac_strerror(m.res));
        cr_assert_eq(m.type, AC_RESP_INTEGER, "type %d: %s", m.type, m.str);
        cr_assert_eq(m.integer, 5 * i);
    }
    client_stats(&x);
    cr_assert_eq(x.stats.noscript, 1, "only the first EVALSHA missed");
    cr_assert_eq(x.stats.commands, 3);
    cr_assert_eq(x.stats.replies, 3);
    ctx_stop(&x);
}

Test(net_resp_client, timeout_on_frozen_server_keeps_replies_in_order, .timeout = 60)
{
    static struct ctx x;
    static struct cmd m;
    ctx_start(&x, true);
    x.cfg.command_timeout_ns = 200000000ull;
    client_create(&x);
    CMD(&x, &m, "PING");
    cr_assert_eq(m.res, 0);
    redis_freeze(&x.rs);
    CMD(&x, &m, "SET", "late", "1");
    cr_assert_eq(m.res, -ETIMEDOUT, "got %s", ac_strerror(m.res));
    redis_thaw(&x.rs);
    /* the late "+OK" of the SET must be dropped, not given to the GET */
    CMD(&x, &m, "GET", "late");
    cr_assert_eq(m.res, 0, "%s", ac_strerror(m.res));
    cr_assert_eq(m.type, AC_RESP_STRING, "type %d", m.type);
    cr_assert_str_eq(m.str, "1");
    client_stats(&x);
    cr_assert_eq(x.stats.timeouts, 1);
    cr_assert_eq(x.stats.drops, 0, "a timeout does not drop the connection");
    ctx_stop(&x);
}

Test(net_resp_client, reconnects_after_a_restart, .timeout = 60)
{
    static struct ctx x;
    static struct cmd m;
    ctx_start(&x, true);
    client_create(&x);
    CMD(&x, &m, "SET", "k", "before");
    cr_assert_eq(m.res, 0);
    redis_kill(&x.rs);
    /* the drop is seen on the next read; until then and while backing off,
     * commands fail (never hang) */
    CMD(&x, &m, "GET", "k");
    cr_assert(m.submit != 0 || m.res != 0, "a command on a dead server failed");
    redis_start(&x.rs); /* same port */
    bool ok = false;
    for (int i = 0; i < 500 && !ok; i++) {
        CMD(&x, &m, "SET", "k", "after");
        ok = m.submit == 0 && m.res == 0 && m.type == AC_RESP_STATUS;
        if (!ok)
            usleep(10000);
    }
    cr_assert(ok, "no reconnect within 5 s: %s", ac_strerror(m.submit ? m.submit : m.res));
    cr_assert_eq(redis_get_int(&x.rs, "k"), 0); /* "after" is not a number */
    redisReply *rep = redis_do(&x.rs, "GET k");
    cr_assert_str_eq(rep->str, "after");
    freeReplyObject(rep);
    client_stats(&x);
    cr_assert_geq(x.stats.connects, 2);
    cr_assert_geq(x.stats.drops, 1);
    ctx_stop(&x);
}

Test(net_resp_client, auth_and_select_run_on_connect, .timeout = 60)
{
    static struct ctx x;
    static struct cmd m;
    snprintf(x.rs.password, sizeof x.rs.password, "s3cret");
    ctx_start(&x, true);
    x.cfg.password = "s3cret";
    x.cfg.db = 3;
    client_create(&x);
    CMD(&x, &m, "SET", "where", "db3");
    cr_assert_eq(m.res, 0, "%s", ac_strerror(m.res));
    cr_assert_eq(m.type, AC_RESP_STATUS, "%s", m.str);
    redisReply *rep = redis_do(&x.rs, "GET where");
    cr_assert_eq(rep->type, REDIS_REPLY_NIL, "not in db 0");
    freeReplyObject(rep);
    redisContext *sync = redis_sync(&x.rs);
    freeReplyObject(redisCommand(sync, "SELECT 3"));
    rep = redisCommand(sync, "GET where");
    cr_assert_str_eq(rep->str, "db3");
    freeReplyObject(rep);
    redisFree(sync);
    ctx_stop(&x);
}

Test(net_resp_client, wrong_password_fails_commands_with_eacces, .timeout = 60)
{
    static struct ctx x;
    static struct cmd m;
    snprintf(x.rs.password, sizeof x.rs.password, "right");
    ctx_start(&x, true);
    x.cfg.password = "wrong";
    client_create(&x);
    CMD(&x, &m, "PING");
    cr_assert(m.submit == -ENOTCONN || m.res == -EACCES || m.res == -ENOTCONN, "got %s/%s",
              ac_strerror(m.submit), ac_strerror(m.res));
    cr_assert_neq(m.submit == 0 && m.res == 0, true);
    ctx_stop(&x);
}

Test(net_resp_client, refused_connect_fails_commands_fast, .timeout = 60)
{
    static struct ctx x;
    static struct cmd m;
    x.rs.port = free_port(); /* nobody listens there */
    ctx_start(&x, false);
    client_create(&x);
    CMD(&x, &m, "PING");
    cr_assert(m.submit == -ENOTCONN || m.res == -ENOTCONN, "got %s/%s", ac_strerror(m.submit),
              ac_strerror(m.res));
    ctx_stop(&x);
}

struct many {
    struct ctx *x;
    int res[4];
    unsigned n;
};

static void many_reply(void *arg, int res, const struct ac_resp_reply *r)
{
    (void)r;
    struct many *p = arg;
    p->res[p->n++] = res;
}

static void many_send_and_close(void *arg)
{
    struct many *p = arg;
    const char *argv[] = {"PING"};
    for (int i = 0; i < 4; i++)
        AC_ASSERT(ac_resp_command(p->x->c, 1, argv, NULL, many_reply, p) == 0);
    ac_resp_client_close(p->x->c, closed, p->x);
}

Test(net_resp_client, close_fails_pending_commands_with_ecanceled, .timeout = 60)
{
    static struct ctx x;
    static struct cmd m;
    static struct many p;
    ctx_start(&x, true);
    client_create(&x);
    CMD(&x, &m, "PING");
    cr_assert_eq(m.res, 0);
    redis_freeze(&x.rs);
    p.x = &x;
    atomic_store(&x.flag, false);
    tsh_run(&x.sh, 0, many_send_and_close, &p);
    TSH_WAIT(&x.flag, 5000, "close callback did not run");
    cr_assert_eq(p.n, 4, "every callback ran once");
    for (int i = 0; i < 4; i++)
        cr_assert_eq(p.res[i], -ECANCELED);
    redis_thaw(&x.rs);
    ctx_stop(&x);
}
