/*
 * Calls: a per-shard table of call slots reached through generation-
 * checked handles, the deadline of each call, and the handler-facing API
 * (answer, fail, stream).
 *
 * A handle is (generation << 32 | shard << 22 | slot). Ending a call
 * bumps its slot's generation, so a handle kept past the end — a late
 * answer after the deadline sent 504 — no longer matches and is refused
 * with -ESTALE: nothing is freed under the handler, and a handler that
 * never answers leaks nothing (the deadline ends its call).
 */
#include "internal.h"
#include "agentcore/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_BITS   22
#define INLINE_BODY 384 /* request bytes a call holds without an allocation */
#define SHARD_BITS  10
#define NO_SLOT     UINT32_MAX

struct ac__call {
    uint32_t gen, slot, next_free;
    bool live;
    bool started; /* streaming: the 200 head went out */
    bool chunked; /* streaming with chunked framing (not HTTP/1.0) */
    struct ac__agent_shard *sh;
    unsigned agent, origin;
    struct ac_exchange *ex;
    struct ac__resp_mode mode;
    ac_agent_request req;
    struct ac_timer deadline;
    ac_call_cancel_fn cancel_fn;
    void *cancel_arg;
    struct ac__queued queued; /* listed until the handler starts */
    /* the request's body, then its ids: inline_body or ac_alloc'd */
    char *body;
    size_t body_len;
    char inline_body[INLINE_BODY];
    /* session store writes this call made and Redis has not acknowledged;
     * its answer waits in `held` (ac_alloc'd) until they are (session_store.c) */
    unsigned store_pending;
    int store_err;
    char *held;
    size_t held_len;
    int status;       /* of the answer, for metrics (0: ended without one) */
    uint64_t t_start; /* ac_cycles() at the call's start (metrics on) */
    uint64_t t_run;   /* ... and when its handler started (0: not yet) */
};

_Static_assert(AC_MAX_CPUS <= (1u << SHARD_BITS), "shard bits of a call handle");

static struct ac__call *lookup(ac_call h)
{
    struct ac__agent_shard *sh = ac__agent_shard_current();
    uint32_t slot = (uint32_t)h.id & ((1u << SLOT_BITS) - 1);
    unsigned shard = (unsigned)(h.id >> SLOT_BITS) & ((1u << SHARD_BITS) - 1);
    struct ac__call *c;
    if (!sh || shard != sh->id || slot >= sh->ncalls)
        return NULL;
    c = sh->calls[slot];
    return c->live && c->gen == (uint32_t)(h.id >> 32) ? c : NULL;
}

static struct ac__call *slot_alloc(struct ac__agent_shard *sh)
{
    struct ac__call *c;
    if (sh->free_call != NO_SLOT) {
        c = sh->calls[sh->free_call];
        sh->free_call = c->next_free;
        return c;
    }
    if (sh->ncalls == (1u << SLOT_BITS))
        return NULL;
    if (sh->ncalls == sh->cap_calls) {
        uint32_t cap = sh->cap_calls ? sh->cap_calls * 2 : 64;
        struct ac__call **n = realloc(sh->calls, cap * sizeof *n);
        if (!n)
            return NULL;
        sh->calls = n;
        sh->cap_calls = cap;
    }
    c = ac_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->slot = sh->ncalls;
    sh->calls[sh->ncalls++] = c;
    return c;
}

static struct ac__agent_counters *counters(struct ac__call *c)
{
    return &c->sh->agents[c->agent].c;
}

/* Ends the call: the handle goes stale, the slot is reused. */
static void end_call(struct ac__call *c)
{
    struct ac__agent_shard *sh = c->sh;
    ac_timer_cancel(&c->deadline);
    ac__admit_queue_remove(sh, &c->queued);
    if (c->req.root) {
        json_decref(c->req.root); /* owns the trees */
    } else {
        json_decref(c->req.input);
        json_decref(c->req.context);
        json_decref(c->req.tools);
    }
    if (c->body != c->inline_body)
        ac_free(c->body);
    c->body = NULL;
    ac_free(c->held);
    c->held = NULL;
    c->store_pending = 0;
    c->store_err = 0;
    c->live = false;
    c->gen++;
    c->cancel_fn = NULL;
    c->next_free = sh->free_call;
    sh->free_call = c->slot;
    sh->live_calls--;
    AC_AGENT_STAT_ADD(counters(c)->inflight, (uint64_t)-1);
    if (c->status)
        ac__agent_metrics_end(&sh->agents[c->agent], c->status, c->t_start, c->t_run);
}

static void send_bytes(struct ac__call *c, const struct iovec *iov, int n, bool final)
{
    ac__agent_reply(c->sh, c->origin, c->ex, iov, n, final, c->mode.keep_alive);
}

static void fail_call(struct ac__call *c, int status, const char *code, const char *msg);
static void store_failed(struct ac__call *c);

static void on_deadline(struct ac_timer *t, void *arg)
{
    struct ac__call *c = arg;
    char msg[160];
    ac_call_cancel_fn fn = c->cancel_fn;
    (void)t;
    snprintf(msg, sizeof msg, "agent \"%s\" did not answer within %llu ms",
             c->sh->agents[c->agent].def.name,
             (unsigned long long)(c->sh->agents[c->agent].def.timeout_ns / 1000000));
    AC_AGENT_STAT_ADD(counters(c)->timeouts, 1);
    fail_call(c, 504, "deadline_exceeded", msg);
    if (fn)
        fn(c->cancel_arg);
}

_Static_assert(sizeof(uintptr_t) >= sizeof(uint64_t), "a call handle fits a task argument");

static const enum ac_prio class_prio[] = {
    [AC_AGENT_HIGH] = AC_PRIO_HIGH,
    [AC_AGENT_NORMAL] = AC_PRIO_NORMAL,
    [AC_AGENT_LOW] = AC_PRIO_LOW,
};

/* Parses the body once more, with jansson, for an agent that wants trees
 * (as before the scan existed: root owns them). False when out of memory:
 * the text was validated already. */
static bool build_trees(struct ac__call *c)
{
    json_t *root = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES, NULL), *v;
    if (!root)
        return false;
    c->req.root = root;
    c->req.input = json_object_get(root, "input");
    v = json_object_get(root, "context");
    c->req.context = json_is_object(v) ? v : NULL;
    v = json_object_get(root, "tools");
    c->req.tools = json_is_array(v) ? v : NULL;
    return true;
}

/* The tree of `text` in *slot, built the first time. */
static json_t *lazy_tree(json_t **slot, struct ac_http_str text)
{
    if (!*slot && text.len)
        *slot = json_loadb(text.p, text.len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    return *slot;
}

/* The handler got a pointer to const; the request is the call's own copy. */
json_t *ac_agent_request_input(const ac_agent_request *req)
{
    ac_agent_request *r = (ac_agent_request *)req;
    return lazy_tree(&r->input, r->input_json);
}

json_t *ac_agent_request_context(const ac_agent_request *req)
{
    ac_agent_request *r = (ac_agent_request *)req;
    return lazy_tree(&r->context, r->context_json);
}

json_t *ac_agent_request_tools(const ac_agent_request *req)
{
    ac_agent_request *r = (ac_agent_request *)req;
    return lazy_tree(&r->tools, r->tools_json);
}

static void run_handler(void *arg)
{
    ac_call h = {(uint64_t)(uintptr_t)arg};
    struct ac__call *c = lookup(h);
    if (!c)
        return; /* ended while queued (deadline, shard stop) */
    struct ac__agent_shard *sh = c->sh;
    struct ac__agent *a = &sh->agents[c->agent];
    uint64_t t0 = ac_now_ns();
    if (!ac__admit_start(sh, a, &c->queued, t0)) {
        AC_AGENT_STAT_ADD(a->c.rejected, 1);
        fail_call(c, 503, "overloaded", "the call waited too long in its queue: retry later");
        return;
    }
    if (a->m)
        c->t_run = ac_cycles();
    if (!a->def.lazy_json && !build_trees(c)) {
        fail_call(c, 503, "out_of_memory", "no memory for the request's JSON");
        return;
    }
    /* a stall in the handler is reported under the agent's name */
    ac_shard_callback_name(a->def.name);
    sh->running = h.id; /* session puts made now belong to this call */
    a->def.handler(a->def.arg, h, &c->req); /* may end the call: c is not used after */
    sh->running = 0;
    ac__admit_ran(sh, a->def.priority, ac_now_ns() - t0);
}

uint64_t ac__agent_call_running(struct ac__agent_shard *sh)
{
    return sh->running;
}

/* Copies the body and ids into the call; false when out of memory. */
static bool keep_request(struct ac__call *c, const struct ac__envelope *env, const char *body,
                         size_t len)
{
    size_t need = len + env->session_len + 1u + env->user_len + 1u;
    char *b = need <= sizeof c->inline_body ? c->inline_body : ac_alloc(need);
    if (!b)
        return false;
    memcpy(b, body, len);
    char *sid = b + len, *uid = sid + env->session_len + 1;
    memcpy(sid, env->ids, env->session_len + 1u);
    memcpy(uid, ac__envelope_user(env) ? ac__envelope_user(env) : "", env->user_len + 1u);
    c->body = b;
    c->body_len = len;
    c->req = (ac_agent_request){
        .session_id = env->has_session ? sid : NULL,
        .user_id = env->has_user ? uid : NULL,
        .temperature = env->temperature,
        .has_temperature = env->has_temperature,
        .max_tokens = env->max_tokens,
        .stream = env->stream,
        .input_json = ac__span_move(env->input, body, b),
        .context_json = ac__span_move(env->context, body, b),
        .tools_json = ac__span_move(env->tools, body, b),
    };
    return true;
}

void ac__agent_call_start(struct ac__agent_shard *sh, unsigned agent, unsigned origin,
                          struct ac_exchange *ex, struct ac__resp_mode mode,
                          const struct ac__envelope *env, const char *body, size_t len)
{
    struct ac__agent *a = &sh->agents[agent];
    struct ac__call *c;
    uint64_t inflight = atomic_load_explicit(&a->c.inflight, memory_order_relaxed);
    uint64_t now = ac_now_ns();
    const char *code = NULL, *why = NULL;
    if (a->def.max_concurrency && inflight >= a->def.max_concurrency) {
        code = "agent_busy";
        why = "the agent's concurrency limit is reached";
    } else if (sh->host->cfg.max_in_flight && sh->live_calls >= sh->host->cfg.max_in_flight) {
        code = "server_busy";
        why = "the shard's limit of calls in flight is reached";
    } else if (!ac__admit(sh, a, now)) {
        code = "overloaded";
        why = "calls of this class are waiting too long: retry later";
    }
    if (code) { /* refused before any work: 503, counted as rejected */
        AC_AGENT_STAT_ADD(a->c.rejected, 1);
        ac__agent_metrics_end(a, 503, 0, 0);
        ac__agent_reply_error(sh, origin, ex, mode, 503, 1, code, why);
        return;
    }
    if (ac__session_store_gate(sh, agent, origin, ex, mode, env, body, len))
        return; /* back here once the session's state is loaded */
    c = slot_alloc(sh);
    if (c && !keep_request(c, env, body, len)) {
        c->next_free = sh->free_call; /* back to the free list, generation unchanged */
        sh->free_call = c->slot;
        c = NULL;
    }
    if (!c) {
        ac__agent_metrics_end(a, 503, 0, 0);
        ac__agent_reply_error(sh, origin, ex, mode, 503, 1, "out_of_memory",
                              "no memory for the call");
        return;
    }
    c->live = true;
    sh->live_calls++;
    c->started = c->chunked = false;
    c->sh = sh;
    c->agent = agent;
    c->origin = origin;
    c->ex = ex;
    c->mode = mode;
    c->req.agent = a->def.name;
    c->cancel_fn = NULL;
    c->status = 0;
    c->t_start = a->m ? ac_cycles() : 0;
    c->t_run = 0;
    AC_AGENT_STAT_ADD(a->c.calls, 1);
    AC_AGENT_STAT_ADD(a->c.inflight, 1);
    ac_call h = {((uint64_t)c->gen << 32) | ((uint64_t)sh->id << SLOT_BITS) | c->slot};
    /* The handler runs as a task of the agent's class; the handle travels
     * in the task's pointer, so a task whose call the deadline ended while
     * it was queued finds a stale handle and does nothing. */
    int err = ac_spawn(class_prio[a->def.priority], run_handler, (void *)(uintptr_t)h.id);
    if (err) {
        AC_AGENT_STAT_ADD(a->c.rejected, 1);
        c->status = 503;
        ac__agent_reply_error(sh, origin, ex, mode, 503, 1, "queue_full",
                              err == -EBUSY ? "the agent's priority class queue is full"
                                            : "the call could not be scheduled");
        end_call(c); /* releases the request's copy */
        return;
    }
    ac__admit_queue_push(sh, a->def.priority, &c->queued, now);
    /* a proxying node's deadline only ever shortens the agent's own */
    uint64_t at = now + a->def.timeout_ns;
    if (mode.deadline_ns && mode.deadline_ns < at)
        at = mode.deadline_ns;
    AC_ASSERT(ac_timer_start_at(&c->deadline, at, on_deadline, c) == 0);
}

void ac__agent_calls_close(struct ac__agent_shard *sh)
{
    for (uint32_t i = 0; i < sh->ncalls; i++) {
        struct ac__call *c = sh->calls[i];
        if (c->live) {
            ac_call_cancel_fn fn = c->cancel_fn;
            end_call(c);
            if (fn)
                fn(c->cancel_arg);
        }
        ac_free(c);
    }
    free(sh->calls);
    sh->calls = NULL;
    sh->ncalls = sh->cap_calls = 0;
}

/* ---- streaming framing ------------------------------------------------ */

/* Sends one SSE event (with the head first if needed); final ends it. */
static int stream_event(struct ac__call *c, const char *event, const char *data, size_t len,
                        bool final)
{
    char head[512], hdr[20];
    struct iovec iov[6];
    int n = 0;
    char *ev = NULL;
    if (!c->started) {
        static const struct ac_http_header no_cache[] = {{{"Cache-Control", 13}, {"no-cache", 8}}};
        struct ac_http_response r = {.status = 200,
                                     .content_type = "text/event-stream",
                                     .headers = no_cache,
                                     .nheaders = 1,
                                     .keep_alive = c->mode.keep_alive,
                                     .http10 = c->mode.http10,
                                     .chunked = true};
        int k = ac_http_response_head(head, sizeof head, &r, &c->sh->date, c->sh->host->cfg.server);
        AC_ASSERT(k > 0);
        c->mode.keep_alive = r.keep_alive;
        c->chunked = r.chunked;
        c->started = true;
        iov[n++] = (struct iovec){head, (size_t)k};
    }
    if (data) {
        size_t size = ac_http_sse_size(event, data, len);
        ev = ac_alloc(size);
        if (!ev)
            return -ENOMEM;
        AC_ASSERT(ac_http_sse_event(ev, size, event, data, len) == (int)size);
        if (c->chunked)
            n += ac_http_chunk_iov(iov + n, hdr, ev, size);
        else
            iov[n++] = (struct iovec){ev, size};
    }
    if (final && c->chunked)
        n += ac_http_chunk_iov(iov + n, hdr, NULL, 0);
    send_bytes(c, iov, n, final);
    ac_free(ev);
    return 0;
}

/* Ends the call with an error answer (counted as an error). */
static void fail_call(struct ac__call *c, int status, const char *code, const char *msg)
{
    AC_AGENT_STAT_ADD(counters(c)->errors, 1);
    c->status = status;
    if (c->req.stream && c->started) {
        char body[1024];
        int n = ac_http_error_body(body, sizeof body, code, msg);
        if (n < 0)
            n = ac_http_error_body(body, sizeof body, code, code);
        stream_event(c, "error", body, (size_t)n, true);
    } else {
        ac__agent_reply_error(c->sh, c->origin, c->ex, c->mode, status, status == 503 ? 1 : 0, code,
                              msg);
    }
    end_call(c);
}

/* ---- the handler API -------------------------------------------------- */

/*
 * The 200 answer around `out` (one valid JSON value): the envelope's head
 * {"agent":...,"shard":...,"output": follows the HTTP head in one buffer,
 * the handler's bytes go as they are, then the closing brace — three
 * iovecs, one write. Ends the call.
 */
static void answer_text(struct ac__call *c, const char *out, size_t len)
{
    char head[640], pre[128];
    struct iovec iov[3];
    /* Held while this call's session writes are unacknowledged: sent by
     * ac__agent_call_store_end once they are, or replaced by a 503 if one
     * failed. A streamed answer is not held (session_store.c, "Limits"). */
    if (!c->req.stream && c->store_pending) {
        c->held = ac_alloc(len ? len : 1);
        if (!c->held) {
            fail_call(c, 503, "out_of_memory", "no memory to hold the answer");
            return;
        }
        memcpy(c->held, out, len);
        c->held_len = len;
        return;
    }
    if (!c->req.stream && c->store_err) {
        store_failed(c);
        return;
    }
    /* {"agent":"<name>","shard":<id>,"output": — printed by hand: this is
     * on every answer and snprintf's format walk cost more than the rest */
    size_t name_len = strlen(c->req.agent), plen = 0;
    char digits[12];
    int nd = 0;
    unsigned id = c->sh->id;
    do
        digits[nd++] = (char)('0' + id % 10);
    while ((id /= 10) > 0);
    AC_ASSERT(name_len <= 64); /* registry names */
    memcpy(pre, "{\"agent\":\"", 10);
    plen = 10;
    memcpy(pre + plen, c->req.agent, name_len);
    plen += name_len;
    memcpy(pre + plen, "\",\"shard\":", 10);
    plen += 10;
    while (nd > 0)
        pre[plen++] = digits[--nd];
    memcpy(pre + plen, ",\"output\":", 10);
    plen += 10;
    size_t total = plen + len + 1;
    if (c->req.stream) {
        char *body = ac_alloc(total);
        int err = body ? 0 : -ENOMEM;
        if (body) {
            memcpy(body, pre, plen);
            memcpy(body + plen, out, len);
            body[total - 1] = '}';
            err = stream_event(c, "result", body, total, true);
            ac_free(body);
        }
        if (err) {
            fail_call(c, 503, "out_of_memory", "no memory for the answer");
            return;
        }
        AC_AGENT_STAT_ADD(counters(c)->ok, 1);
        c->status = 200;
        end_call(c);
        return;
    }
    struct ac_http_response r = {.status = 200,
                                 .content_type = "application/json",
                                 .content_length = total,
                                 .keep_alive = c->mode.keep_alive,
                                 .http10 = c->mode.http10};
    int n = ac_http_response_head(head, sizeof head - sizeof pre, &r, &c->sh->date,
                                  c->sh->host->cfg.server);
    AC_ASSERT(n > 0);
    memcpy(head + n, pre, plen);
    iov[0] = (struct iovec){head, (size_t)n + plen};
    iov[1] = (struct iovec){(void *)out, len};
    iov[2] = (struct iovec){(void *)"}", 1};
    AC_AGENT_STAT_ADD(counters(c)->ok, 1);
    send_bytes(c, iov, 3, true);
    c->status = 200;
    end_call(c);
}

int ac_call_answer(ac_call h, json_t *output)
{
    struct ac__call *c = lookup(h);
    char small[2048], *out = small;
    size_t n;
    if (!c || c->held) {
        json_decref(output);
        return -ESTALE;
    }
    /* Most outputs fit the stack buffer: one dump, no allocation. */
    json_t *v = output ? output : json_null();
    n = json_dumpb(v, small, sizeof small, JSON_COMPACT | JSON_ENCODE_ANY);
    if (n > sizeof small) {
        out = malloc(n);
        if (out)
            n = json_dumpb(v, out, n, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    json_decref(output);
    if (!out) {
        fail_call(c, 503, "out_of_memory", "the shard's memory budget is exhausted");
        return 0;
    }
    if (n == 0)
        fail_call(c, 500, "bad_output", "the agent's output could not be serialized");
    else
        answer_text(c, out, n);
    if (out != small)
        free(out);
    return 0;
}

int ac__call_answer_valid(ac_call h, const char *json, size_t len)
{
    struct ac__call *c = lookup(h);
    if (!c || c->held)
        return -ESTALE;
    answer_text(c, json, len);
    return 0;
}

int ac_call_answer_raw(ac_call h, const char *json, size_t len)
{
    struct ac__call *c = lookup(h);
    struct ac__json_result res;
    if (!c || c->held)
        return -ESTALE;
    if (!json || ac__json_scan(json, len, NULL, NULL, &res) != 0)
        return -EINVAL;
    answer_text(c, json, len);
    return 0;
}

/* A session write of this call failed: 503, so the client retries. */
static void store_failed(struct ac__call *c)
{
    char msg[160];
    snprintf(msg, sizeof msg, "the session's state was not stored: %s",
             c->store_err == -ESTALE ? "a newer version exists (ownership moved)"
                                     : ac_strerror(c->store_err));
    fail_call(c, 503, "session_store_failed", msg);
}

void ac__agent_call_store_begin(uint64_t call)
{
    struct ac__call *c = lookup((ac_call){call});
    if (c)
        c->store_pending++;
}

void ac__agent_call_store_end(uint64_t call, int err)
{
    struct ac__call *c = lookup((ac_call){call});
    if (!c || !c->store_pending)
        return; /* the call ended first (deadline): nothing waits */
    if (err && !c->store_err)
        c->store_err = err;
    if (--c->store_pending || !c->held)
        return;
    if (c->store_err)
        store_failed(c); /* frees held through end_call */
    else
        answer_text(c, c->held, c->held_len); /* end_call frees held */
}

int ac_call_fail(ac_call h, int status, const char *code, const char *message)
{
    struct ac__call *c = lookup(h);
    if (!c)
        return -ESTALE;
    if (status < 400 || status > 599 || !code || !message)
        return -EINVAL;
    fail_call(c, status, code, message);
    return 0;
}

int ac_call_stream(ac_call h, const char *data, size_t len)
{
    struct ac__call *c = lookup(h);
    if (!c)
        return -ESTALE;
    if (!c->req.stream)
        return -EINVAL;
    return stream_event(c, NULL, data, len, false);
}

int ac_call_stream_end(ac_call h)
{
    struct ac__call *c = lookup(h);
    if (!c)
        return -ESTALE;
    if (!c->req.stream)
        return -EINVAL;
    if (stream_event(c, NULL, NULL, 0, true))
        return -ENOMEM;
    AC_AGENT_STAT_ADD(counters(c)->ok, 1);
    c->status = 200;
    end_call(c);
    return 0;
}

int ac_call_on_cancel(ac_call h, ac_call_cancel_fn fn, void *arg)
{
    struct ac__call *c = lookup(h);
    if (!c)
        return -ESTALE;
    c->cancel_fn = fn;
    c->cancel_arg = arg;
    return 0;
}
