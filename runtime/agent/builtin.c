/*
 * The built-in agents, one per dispatch path:
 *   echo            answers at once with its input
 *   sleep           answers from a timer (input: ms, or {"ms": n}; default 10)
 *   compute         CPU work as a stealable task (input: iterations, or
 *                   {"iterations": n}; the default 350000 is about 1 ms here:
 *                   0.29 ms per 100000 measured on the 2-core Xeon dev VM);
 *                   the answer says which shard ran it ("ran_on")
 *   stream          SSE chunks from a timer (input {"chunks": n, "interval_ms": m})
 *   session-counter per-session state: 1, 2, 3, ... per session_id
 *
 * All but session-counter are lazy_json agents: echo answers with the
 * input's text as it came, compute with printed text, and the others
 * build a tree of their input only (ac_agent_request_input).
 * session-counter keeps the tree-based path (trees before it runs,
 * json_t answers) in use.
 */
#include "internal.h"
#include "agentcore/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* A number input, or a field of an object input; `def` when absent.
 * 0, -EINVAL (out of range, not a number) or -ENOMEM. */
static int input_int(const ac_agent_request *req, const char *key, json_int_t def, json_int_t max,
                     json_int_t *out)
{
    json_t *v = ac_agent_request_input(req);
    if (!v)
        return -ENOMEM;
    if (json_is_object(v))
        v = json_object_get(v, key);
    else if (json_is_null(v))
        v = NULL;
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return -EINVAL;
    *out = json_integer_value(v);
    return 0;
}

/* Fails the call for input_int's error; false when there was none. */
static bool bad_input(ac_call call, int err, const char *what)
{
    if (err == -ENOMEM)
        ac_call_fail(call, 503, "out_of_memory", "no memory for the input");
    else if (err)
        ac_call_fail(call, 400, "invalid_input", what);
    return err != 0;
}

static void echo(void *arg, ac_call call, const ac_agent_request *req)
{
    (void)arg;
    ac__call_answer_valid(call, req->input_json.p, req->input_json.len); /* validated */
}

/* ---- sleep -------------------------------------------------------------- */

struct nap {
    struct ac_timer timer;
    ac_call call;
    json_int_t ms;
};

static void nap_cancel(void *arg)
{
    struct nap *n = arg;
    ac_timer_cancel(&n->timer);
    ac_free(n);
}

static void nap_done(struct ac_timer *t, void *arg)
{
    struct nap *n = arg;
    (void)t;
    ac_call_answer(n->call, json_pack("{s:I}", "slept_ms", n->ms));
    ac_free(n);
}

static void sleep_agent(void *arg, ac_call call, const ac_agent_request *req)
{
    struct nap *n;
    json_int_t ms;
    (void)arg;
    if (bad_input(call, input_int(req, "ms", 10, 3600000, &ms),
                  "input must be ms (0..3600000) or {\"ms\": n}"))
        return;
    n = ac_calloc(1, sizeof *n);
    if (!n) {
        ac_call_fail(call, 503, "out_of_memory", "no memory for the timer");
        return;
    }
    n->call = call;
    n->ms = ms;
    AC_ASSERT(ac_timer_start(&n->timer, (uint64_t)ms * 1000000u, nap_done, n) == 0);
    ac_call_on_cancel(call, nap_cancel, n);
}

/* ---- compute ------------------------------------------------------------ */

/*
 * The work is one stealable task per call: it touches nothing of the
 * shard's, so an idle shard may take it, and its done callback — always
 * on the owner shard — answers the call. Many calls for one session
 * arrive on one shard and still spread over idle cores. No cancel hook:
 * the task may be running elsewhere when the deadline passes, so `done`
 * alone frees the work (its answer is then refused as stale).
 */
struct work {
    ac_call call;
    json_int_t iters;
    uint64_t x;
    unsigned ran_on; /* shard that ran the task */
};

static void compute_run(void *arg)
{
    struct work *w = arg;
    ac_shard_callback_name("compute"); /* a long one stalls its shard: say whose */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (json_int_t i = 0; i < w->iters; i++) { /* xorshift64*: a dependent chain */
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x *= 0x2545f4914f6cdd1dull;
    }
    w->x = x;
    w->ran_on = ac_shard_id();
}

static void compute_done(void *arg, int res)
{
    struct work *w = arg;
    char out[96];
    if (res == 0) {
        int n =
            snprintf(out, sizeof out, "{\"iterations\":%lld,\"result\":\"%016llx\",\"ran_on\":%u}",
                     (long long)w->iters, (unsigned long long)w->x, w->ran_on);
        ac__call_answer_valid(w->call, out, (size_t)n);
    } else {
        ac_call_fail(w->call, 503, "not_run", ac_strerror(res));
    }
    ac_free(w);
}

static void compute(void *arg, ac_call call, const ac_agent_request *req)
{
    json_int_t iters;
    struct work *w;
    int err;
    (void)arg;
    if (bad_input(call, input_int(req, "iterations", 350000, 1000000000, &iters),
                  "input must be iterations (0..1e9) or {\"iterations\": n}"))
        return;
    w = ac_calloc(1, sizeof *w);
    if (!w) {
        ac_call_fail(call, 503, "out_of_memory", "no memory for the work");
        return;
    }
    w->call = call;
    w->iters = iters;
    err = ac_spawn_stealable(AC_PRIO_LOW, compute_run, w, compute_done, w);
    if (err) {
        ac_free(w);
        ac_call_fail(call, 503, "queue_full", "the compute queue is full");
    }
}

/* ---- stream ------------------------------------------------------------- */

struct feed {
    struct ac_timer timer;
    ac_call call;
    json_int_t left, sent, interval_ms;
};

static void feed_cancel(void *arg)
{
    struct feed *f = arg;
    ac_timer_cancel(&f->timer);
    ac_free(f);
}

static void feed_tick(struct ac_timer *t, void *arg)
{
    struct feed *f = arg;
    char chunk[48];
    (void)t;
    if (f->left == 0) {
        ac_call_stream_end(f->call);
        ac_free(f);
        return;
    }
    int n = snprintf(chunk, sizeof chunk, "{\"chunk\":%lld}", (long long)f->sent);
    if (ac_call_stream(f->call, chunk, (size_t)n)) {
        ac_call_fail(f->call, 503, "stream_failed", "could not send a chunk");
        ac_free(f);
        return;
    }
    f->sent++;
    f->left--;
    AC_ASSERT(ac_timer_start(&f->timer, (uint64_t)f->interval_ms * 1000000u, feed_tick, f) == 0);
}

static void stream(void *arg, ac_call call, const ac_agent_request *req)
{
    json_int_t chunks, interval;
    (void)arg;
    int err = input_int(req, "chunks", 3, 10000, &chunks);
    if (!err)
        err = input_int(req, "interval_ms", 10, 60000, &interval);
    if (bad_input(call, err, "input must be {\"chunks\": 0..10000, \"interval_ms\": 0..60000}"))
        return;
    if (!req->stream) { /* all chunks in one answer */
        json_t *all = json_array();
        for (json_int_t i = 0; i < chunks; i++)
            json_array_append_new(all, json_pack("{s:I}", "chunk", i));
        ac_call_answer(call, json_pack("{s:o}", "chunks", all));
        return;
    }
    struct feed *f = ac_calloc(1, sizeof *f);
    if (!f) {
        ac_call_fail(call, 503, "out_of_memory", "no memory for the stream");
        return;
    }
    f->call = call;
    f->left = chunks;
    f->interval_ms = interval;
    ac_call_on_cancel(call, feed_cancel, f);
    feed_tick(&f->timer, f);
}

/* ---- session-counter ----------------------------------------------------- */

static void session_counter(void *arg, ac_call call, const ac_agent_request *req)
{
    (void)arg;
    if (!req->session_id) {
        ac_call_fail(call, 400, "session_id_required", "session-counter needs a session_id");
        return;
    }
    json_t *v = ac_session_get(req->session_id);
    json_int_t n = (json_is_integer(v) ? json_integer_value(v) : 0) + 1;
    int err = ac_session_put(req->session_id, json_integer(n));
    if (err) {
        ac_call_fail(call, 503, "session_unavailable", ac_strerror(err));
        return;
    }
    ac_call_answer(call, json_pack("{s:s, s:I}", "session_id", req->session_id, "count", n));
}

int ac_agent_register_builtins(ac_agent_host *h)
{
    const struct ac_agent_def defs[] = {
        {.name = "echo",
         .handler = echo,
         .lazy_json = true,
         .priority = AC_AGENT_NORMAL,
         .placement = AC_AGENT_ANY_SHARD},
        {.name = "sleep",
         .handler = sleep_agent,
         .lazy_json = true,
         .priority = AC_AGENT_NORMAL,
         .placement = AC_AGENT_ANY_SHARD},
        /* The handler only reads the input and queues the work (class LOW,
         * stealable): at NORMAL it runs ahead of the work, so a burst of
         * calls fills the deque at once and an idle shard can take half
         * of it; at the work's class, calls and work alternated and the
         * owner popped each piece of work right after queueing it. */
        {.name = "compute",
         .handler = compute,
         .lazy_json = true,
         .priority = AC_AGENT_NORMAL,
         .placement = AC_AGENT_BY_SESSION},
        {.name = "stream",
         .handler = stream,
         .lazy_json = true,
         .priority = AC_AGENT_NORMAL,
         .placement = AC_AGENT_ANY_SHARD},
        {.name = "session-counter",
         .handler = session_counter,
         .priority = AC_AGENT_HIGH,
         .placement = AC_AGENT_BY_SESSION},
    };
    for (size_t i = 0; i < AC_ARRAY_LEN(defs); i++) {
        int err = ac_agent_register(h, &defs[i]);
        if (err)
            return err;
    }
    return 0;
}
