/*
 * The Redis session store of one shard (see cluster.h).
 *
 * A session is the hash "<prefix>:session:<id>" {v, d}. Loads are HMGET
 * v d; writes are one script that compares versions and writes only a
 * newer one, so the check and the write are one atomic step in Redis.
 * Both go out on the shard's one connection, pipelined with whatever
 * else the shard sends, and Redis answers them in order — so a load sent
 * after a write sees that write.
 */
#include "nodes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char write_lua[] = "local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')\n"
                                "if cur >= tonumber(ARGV[1]) then return cur end\n"
                                "redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2])\n"
                                "redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
                                "return 0\n";

struct ac_session_store {
    ac_resp_client *redis;
    struct ac_resp_script write;
    char prefix[300];
    char ttl_ms[24];
    void (*done)(void *arg);
    void *done_arg;
};

/* One load or write in flight. */
struct op {
    union {
        ac_session_store_load_fn load;
        ac_session_store_write_fn write;
    } cb;
    void *arg;
};

static struct op *op_new(void *arg)
{
    struct op *op = malloc(sizeof *op);
    if (op)
        op->arg = arg;
    return op;
}

static int key_of(const ac_session_store *s, const char *id, size_t len, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s%.*s", s->prefix, (int)len, id);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : n;
}

int ac__session_store_create(ac_cluster *c, struct ac_net *net, ac_session_store **out)
{
    const struct ac_cluster_config *cfg = ac_cluster_config(c);
    struct ac_resp_config rc;
    char host[64];
    int err = ac__cluster_resp_config(cfg->redis[0], host, &rc);
    ac_session_store *s;
    if (err)
        return err;
    s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    snprintf(s->prefix, sizeof s->prefix, "%s:session:", cfg->prefix);
    snprintf(s->ttl_ms, sizeof s->ttl_ms, "%llu",
             (unsigned long long)(cfg->session_ttl_ns / 1000000));
    ac_resp_script_init(&s->write, write_lua);
    err = ac_resp_client_create(net, &rc, &s->redis);
    if (err) {
        free(s);
        return err;
    }
    *out = s;
    return 0;
}

static void closed(void *arg, ac_resp_client *c)
{
    ac_session_store *s = arg;
    (void)c;
    void (*done)(void *) = s->done;
    void *done_arg = s->done_arg;
    free(s);
    done(done_arg);
}

void ac__session_store_close(ac_session_store *s, void (*done)(void *arg), void *arg)
{
    s->done = done;
    s->done_arg = arg;
    ac_resp_client_close(s->redis, closed, s);
}

static void on_load(void *arg, int res, const struct ac_resp_reply *r)
{
    struct op *op = arg;
    if (res) {
        op->cb.load(op->arg, res, NULL, 0, 0);
    } else if (r->type != AC_RESP_ARRAY || r->elements != 2) {
        op->cb.load(op->arg, -EPROTO, NULL, 0, 0);
    } else if (r->element[0]->type != AC_RESP_STRING || r->element[1]->type != AC_RESP_STRING) {
        op->cb.load(op->arg, 0, NULL, 0, 0); /* nothing stored */
    } else {
        uint64_t v = strtoull(r->element[0]->str, NULL, 10);
        op->cb.load(op->arg, 0, r->element[1]->str, r->element[1]->len, v);
    }
    free(op);
}

int ac_session_store_load(ac_session_store *s, const char *id, size_t len,
                          ac_session_store_load_fn cb, void *arg)
{
    char key[600];
    int err = key_of(s, id, len, key, sizeof key);
    struct op *op;
    if (err < 0)
        return err;
    op = op_new(arg);
    if (!op)
        return -ENOMEM;
    op->cb.load = cb;
    const char *argv[] = {"HMGET", key, "v", "d"};
    err = ac_resp_command(s->redis, 4, argv, NULL, on_load, op);
    if (err)
        free(op);
    return err;
}

static void on_write(void *arg, int res, const struct ac_resp_reply *r)
{
    struct op *op = arg;
    if (!res && r->type != AC_RESP_INTEGER)
        res = -EPROTO;
    else if (!res && r->integer != 0)
        res = -ESTALE;
    op->cb.write(op->arg, res);
    free(op);
}

int ac_session_store_write(ac_session_store *s, const char *id, size_t len, const char *data,
                           size_t dlen, uint64_t version, ac_session_store_write_fn cb, void *arg)
{
    char key[600], ver[24];
    int err = key_of(s, id, len, key, sizeof key);
    struct op *op;
    if (err < 0)
        return err;
    op = op_new(arg);
    if (!op)
        return -ENOMEM;
    op->cb.write = cb;
    snprintf(ver, sizeof ver, "%llu", (unsigned long long)version);
    const char *args[] = {key, ver, data, s->ttl_ms};
    const size_t lens[] = {strlen(key), strlen(ver), dlen, strlen(s->ttl_ms)};
    err = ac_resp_eval(s->redis, &s->write, 1, 4, args, lens, on_write, op);
    if (err)
        free(op);
    return err;
}
