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

#define SLOT_BITS  22
#define SHARD_BITS 10
#define NO_SLOT    UINT32_MAX

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
    /* session store writes this call made and Redis has not acknowledged;
     * its answer waits in `held` until they are (session_store.c) */
    unsigned store_pending;
    int store_err;
    char *held;
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
    json_decref(c->req.root);
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
static void send_answer(struct ac__call *c, char *body);
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

static void run_handler(void *arg)
{
    ac_call h = {(uint64_t)(uintptr_t)arg};
    struct ac__call *c = lookup(h);
    if (!c)
        return; /* ended while queued (deadline, shard stop) */
    struct ac__agent_shard *sh = c->sh;
    struct ac__agent *a = &sh->agents[c->agent];
    if (a->m)
        c->t_run = ac_cycles();
    /* a stall in the handler is reported under the agent's name */
    ac_shard_callback_name(a->def.name);
    sh->running = h.id; /* session puts made now belong to this call */
    a->def.handler(a->def.arg, h, &c->req);
    sh->running = 0;
}

uint64_t ac__agent_call_running(struct ac__agent_shard *sh)
{
    return sh->running;
}

void ac__agent_call_start(struct ac__agent_shard *sh, unsigned agent, unsigned origin,
                          struct ac_exchange *ex, struct ac__resp_mode mode,
                          const ac_agent_request *req)
{
    struct ac__agent *a = &sh->agents[agent];
    struct ac__call *c;
    uint64_t inflight = atomic_load_explicit(&a->c.inflight, memory_order_relaxed);
    if (a->def.max_concurrency && inflight >= a->def.max_concurrency) {
        AC_AGENT_STAT_ADD(a->c.rejected, 1);
        ac__agent_metrics_end(a, 503, 0, 0);
        ac__agent_reply_error(sh, origin, ex, mode, 503, 1, "agent_busy",
                              "the agent's concurrency limit is reached");
        json_decref(req->root);
        return;
    }
    if (sh->host->cfg.max_in_flight && sh->live_calls >= sh->host->cfg.max_in_flight) {
        AC_AGENT_STAT_ADD(a->c.rejected, 1);
        ac__agent_reply_error(sh, origin, ex, mode, 503, 1, "server_busy",
                              "the shard's limit of calls in flight is reached");
        json_decref(req->root);
        return;
    }
    if (ac__session_store_gate(sh, agent, origin, ex, mode, req))
        return; /* back here once the session's state is loaded */
    c = slot_alloc(sh);
    if (!c) {
        ac__agent_metrics_end(a, 503, 0, 0);
        ac__agent_reply_error(sh, origin, ex, mode, 503, 1, "out_of_memory",
                              "no memory for the call");
        json_decref(req->root);
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
    c->req = *req;
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
        end_call(c); /* releases req->root (c->req is its copy) */
        return;
    }
    /* a proxying node's deadline only ever shortens the agent's own */
    uint64_t at = ac_now_ns() + a->def.timeout_ns;
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

int ac_call_answer(ac_call h, json_t *output)
{
    struct ac__call *c = lookup(h);
    if (!c || c->held) {
        json_decref(output);
        return -ESTALE;
    }
    /* The envelope is printed around the serialized output rather than
     * packed as a JSON object: one object, its hash table and a second
     * walk less per answer (agent names need no escaping: [a-z0-9_-]). */
    char *out = json_dumps(output ? output : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    char *body = NULL;
    json_decref(output);
    if (out) {
        size_t n = strlen(out) + strlen(c->req.agent) + 48;
        body = ac_alloc(n); /* NULL past the shard's memory budget */
        if (body)
            snprintf(body, n, "{\"agent\":\"%s\",\"shard\":%u,\"output\":%s}", c->req.agent,
                     c->sh->id, out);
        free(out);
        if (!body) {
            fail_call(c, 503, "out_of_memory", "the shard's memory budget is exhausted");
            return 0;
        }
    }
    if (!body) {
        fail_call(c, 500, "bad_output", "the agent's output could not be serialized");
        return 0;
    }
    if (c->req.stream) {
        int err = stream_event(c, "result", body, strlen(body), true);
        ac_free(body);
        if (!err)
            AC_AGENT_STAT_ADD(counters(c)->ok, 1);
        if (err) {
            fail_call(c, 503, "out_of_memory", "no memory for the answer");
            return 0;
        }
        c->status = 200;
        end_call(c);
        return 0;
    }
    if (c->store_pending) { /* acknowledged only once its state is stored */
        c->held = body;
        return 0;
    }
    if (c->store_err) {
        ac_free(body);
        store_failed(c);
        return 0;
    }
    send_answer(c, body);
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

/* Sends a 200 answer with `body` (freed here) and ends the call. */
static void send_answer(struct ac__call *c, char *body)
{
    char head[512];
    struct iovec iov[2];
    struct ac_http_response r = {.status = 200,
                                 .content_type = "application/json",
                                 .keep_alive = c->mode.keep_alive,
                                 .http10 = c->mode.http10};
    int n = ac_http_response_iov(iov, head, sizeof head, &r, &c->sh->date, c->sh->host->cfg.server,
                                 body, strlen(body));
    AC_ASSERT(n > 0);
    AC_AGENT_STAT_ADD(counters(c)->ok, 1);
    send_bytes(c, iov, n, true);
    ac_free(body);
    c->held = NULL;
    c->status = 200;
    end_call(c);
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
    if (c->store_err) {
        store_failed(c); /* frees held through end_call */
        return;
    }
    send_answer(c, c->held);
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
