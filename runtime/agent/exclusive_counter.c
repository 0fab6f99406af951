/*
 * exclusive-counter: the distributed locks made reachable over HTTP. Under
 * the lock named by its input it reads a counter from Redis (node 0 of the
 * shard's ac_dlock), adds one and writes it back with the lease's fencing
 * token (ac_dlock_fenced_set: a write with a token older than the newest
 * one seen is refused), then releases. Run it from several shards and
 * agentd processes against the same Redis: the counter must end at the
 * number of 200 answers, and the fences they report must rise with the
 * counts.
 *
 * Input: "name" or {"lock": "name", "wait_ms": n} (default 5000: how long
 * to wait for the lock under contention). The counter key is
 * "ac:counter:<name>".
 *
 * The call may end first (its deadline): the steps still run to the
 * release, and their answer is dropped (-ESTALE).
 */
#include "internal.h"
#include "agentcore/dlock.h"
#include "agentcore/mem.h"
#include "agentcore/resp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 64

struct excl {
    ac_call call;
    ac_dlock *d;
    ac_dlock_lease *lease;
    long long count;
    int fail_status;
    const char *fail_code, *fail_msg;
    char key[NAME_MAX_LEN + 16];
    char value[24];
    char name[NAME_MAX_LEN + 1];
};

static void excl_free(struct excl *x)
{
    ac_free(x);
}

static void released(void *arg, int res)
{
    struct excl *x = arg;
    (void)res; /* the write is what counts; a late release only means the TTL ran out */
    if (x->fail_status)
        ac_call_fail(x->call, x->fail_status, x->fail_code, x->fail_msg);
    else
        ac_call_answer(x->call, json_pack("{s:s, s:I, s:I}", "lock", x->name, "count",
                                          (json_int_t)x->count, "fence",
                                          (json_int_t)ac_dlock_lease_fence(x->lease)));
    excl_free(x);
}

static void release_with(struct excl *x, int status, const char *code, const char *msg)
{
    x->fail_status = status;
    x->fail_code = code;
    x->fail_msg = msg;
    ac_dlock_release(x->lease, released, x);
}

static void written(void *arg, int res)
{
    struct excl *x = arg;
    if (res == -ESTALE)
        release_with(x, 409, "fenced_out", "a newer lock holder has written: the lease was lost");
    else if (res)
        release_with(x, 503, "redis_unavailable", ac_strerror(res));
    else
        release_with(x, 0, NULL, NULL);
}

static void read_done(void *arg, int res, const struct ac_resp_reply *r)
{
    struct excl *x = arg;
    if (res || (r->type != AC_RESP_STRING && r->type != AC_RESP_NIL)) {
        release_with(x, 503, "redis_unavailable",
                     res ? ac_strerror(res) : "counter is not a number");
        return;
    }
    x->count = (r->type == AC_RESP_STRING ? atoll(r->str) : 0) + 1;
    snprintf(x->value, sizeof x->value, "%lld", x->count);
    int err =
        ac_dlock_fenced_set(x->d, x->key, x->value, ac_dlock_lease_fence(x->lease), written, x);
    if (err)
        release_with(x, 503, "redis_unavailable", ac_strerror(err));
}

static void acquired(void *arg, int res, ac_dlock_lease *l)
{
    struct excl *x = arg;
    if (res) {
        ac_call_fail(x->call, 503, res == -EHOSTDOWN ? "redis_unavailable" : "lock_busy",
                     ac_strerror(res));
        excl_free(x);
        return;
    }
    x->lease = l;
    const char *argv[] = {"GET", x->key};
    int err = ac_resp_command(ac_dlock_node(x->d, 0), 2, argv, NULL, read_done, x);
    if (err)
        release_with(x, 503, "redis_unavailable", ac_strerror(err));
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == ':' || *s == '.'))
            return false;
    return true;
}

static void exclusive_counter(void *arg, ac_call call, const ac_agent_request *req)
{
    ac_dlock *const *locks = arg;
    const char *name = NULL;
    json_int_t wait_ms = 5000;
    json_t *in = req->input;
    if (json_is_string(in)) {
        name = json_string_value(in);
    } else if (json_is_object(in)) {
        json_t *w = json_object_get(in, "wait_ms");
        name = json_string_value(json_object_get(in, "lock"));
        if (w &&
            (!json_is_integer(w) || json_integer_value(w) < 0 || json_integer_value(w) > 600000))
            name = NULL;
        else if (w)
            wait_ms = json_integer_value(w);
    }
    if (!name || !name_ok(name)) {
        ac_call_fail(call, 400, "invalid_input",
                     "input must be a lock name ([A-Za-z0-9_.:-], 1..64) or "
                     "{\"lock\": name, \"wait_ms\": 0..600000}");
        return;
    }
    ac_dlock *d = locks[ac_shard_id()];
    if (!d) {
        ac_call_fail(call, 503, "locks_unavailable",
                     "no Redis configured (agentd --redis-nodes host:port,...)");
        return;
    }
    struct excl *x = ac_calloc(1, sizeof *x);
    if (!x) {
        ac_call_fail(call, 503, "out_of_memory", "no memory for the call");
        return;
    }
    x->call = call;
    x->d = d;
    snprintf(x->name, sizeof x->name, "%s", name);
    snprintf(x->key, sizeof x->key, "ac:counter:%s", name);
    struct ac_dlock_acquire_opts o = {
        .retry_count = 1 << 30, /* the deadline bounds the wait */
        .deadline_ns = ac_now_ns() + (uint64_t)wait_ms * 1000000u,
    };
    int err = ac_dlock_acquire(d, x->name, &o, acquired, x);
    if (err) {
        ac_call_fail(call, 503, "locks_unavailable", ac_strerror(err));
        excl_free(x);
    }
}

int ac_agent_register_exclusive_counter(ac_agent_host *h, struct ac_dlock *const *locks)
{
    const struct ac_agent_def def = {
        .name = "exclusive-counter",
        .handler = exclusive_counter,
        .arg = (void *)locks,
        .priority = AC_AGENT_NORMAL,
        .placement = AC_AGENT_ANY_SHARD,
    };
    return locks ? ac_agent_register(h, &def) : -EINVAL;
}
