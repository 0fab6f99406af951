/*
 * libFuzzer target: the HTTP request path end to end, without sockets.
 *
 * Bytes in → ac_http_parser (pipelined requests, as net/http/conn.c
 * feeds it) → ac_agent_serve (the router, request mapping, the built-in
 * agents on a real one-shard runtime) → response bytes, through the seam
 * net/http and runtime/agent meet at: struct ac_exchange and its ops. A
 * parse error is answered with ac_http_error_response, as the connection
 * does. The transport is the only stub: it records what would be sent.
 *
 * Checked per input: every exchange is ended exactly once, never written
 * after its end; every response parses as one complete HTTP/1.x response
 * (nodejs http_parser) with a status in 100..599; nothing hangs (an
 * exchange not ended within 10 s aborts: libFuzzer keeps the input; the
 * agents' deadline is 200 ms, so only a lost exchange gets there).
 */
#include "agentcore.h"

#include <http_parser.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#define MAX_EX 64

struct fex {
    struct ac_exchange ex;
    char *buf;
    size_t len;
    bool head; /* the request was HEAD: no body follows the head */
    _Atomic int done;
    _Atomic int late; /* written or ended after its end */
};

static struct {
    ac_runtime *rt;
    ac_agent_host *host;
    pthread_t thread;
    const uint8_t *data;
    size_t size;
    struct fex ex[MAX_EX];
    _Atomic unsigned nex;
    _Atomic bool fed;
    struct ac_http_date date;
} F;

static void fex_write(struct ac_exchange *ex, const struct iovec *iov, int n)
{
    struct fex *e = (struct fex *)ex;
    if (atomic_load(&e->done))
        atomic_store(&e->late, 1);
    for (int i = 0; i < n; i++) {
        e->buf = realloc(e->buf, e->len + iov[i].iov_len);
        if (!e->buf)
            abort();
        memcpy(e->buf + e->len, iov[i].iov_base, iov[i].iov_len);
        e->len += iov[i].iov_len;
    }
}

static void fex_done(struct ac_exchange *ex, bool keep_alive)
{
    struct fex *e = (struct fex *)ex;
    (void)keep_alive;
    if (atomic_exchange(&e->done, 1))
        atomic_store(&e->late, 1);
}

static const struct ac_exchange_ops fex_ops = {fex_write, fex_done};

static struct fex *next_ex(void)
{
    unsigned i = atomic_load(&F.nex);
    if (i == MAX_EX)
        return NULL;
    struct fex *e = &F.ex[i];
    memset(e, 0, sizeof *e);
    e->ex.ops = &fex_ops;
    atomic_store(&F.nex, i + 1);
    return e;
}

/* On shard 0: the parse loop of net/http/conn.c over the whole input. */
static void feed(void *arg)
{
    (void)arg;
    ac_http_parser *p;
    if (ac_http_parser_create(NULL, &p))
        abort();
    const char *in = (const char *)F.data;
    size_t len = F.size;
    while (len) {
        size_t used;
        enum ac_http_event ev = ac_http_parser_feed(p, in, len, &used);
        in += used;
        len -= used;
        if (ev == AC_HTTP_NEED_MORE)
            break;
        if (ev == AC_HTTP_CONTINUE)
            continue;
        struct fex *e = next_ex();
        if (!e)
            break;
        if (ev == AC_HTTP_ERROR) {
            const struct ac_http_error *err = ac_http_parser_error(p);
            char buf[1024];
            struct ac_http_response r = {.status = err->status};
            int n = ac_http_error_response(buf, sizeof buf, &r, &F.date, "fuzz", err->code,
                                           err->message);
            if (n <= 0)
                abort();
            struct iovec iov = {buf, (size_t)n};
            fex_write(&e->ex, &iov, 1);
            fex_done(&e->ex, false);
            break;
        }
        const struct ac_http_request *req = ac_http_parser_request(p);
        e->head = ac_http_str_eq(req->method_str, "HEAD");
        e->ex.req = req;
        ac_agent_serve(F.host, &e->ex);
        if (!req->keep_alive)
            break;
    }
    ac_http_parser_destroy(p);
    atomic_store(&F.fed, true);
}

static int on_complete(http_parser *hp)
{
    *(int *)hp->data += 1;
    return 0;
}

/* Exactly one complete response in e->buf. */
static void check_response(struct fex *e)
{
    http_parser hp;
    http_parser_settings s;
    int complete = 0;
    http_parser_settings_init(&s);
    s.on_message_complete = on_complete;
    http_parser_init(&hp, HTTP_RESPONSE);
    hp.data = &complete;
    size_t n = http_parser_execute(&hp, &s, e->buf, e->len);
    if (e->head && complete == 0 && HTTP_PARSER_ERRNO(&hp) == HPE_OK)
        return; /* Content-Length without the body, as HEAD answers are */
    if (n == e->len && complete == 0)
        http_parser_execute(&hp, &s, NULL, 0); /* a body that runs to the close */
    if (HTTP_PARSER_ERRNO(&hp) != HPE_OK || complete < 1 || hp.status_code < 100 ||
        hp.status_code > 599) {
        fprintf(stderr, "bad response (%s, %d complete, status %u):\n%.*s\n",
                http_errno_name(HTTP_PARSER_ERRNO(&hp)), complete, hp.status_code, (int)e->len,
                e->buf);
        abort();
    }
}

static void *run(void *arg)
{
    (void)arg;
    if (ac_runtime_run(F.rt))
        abort();
    return NULL;
}

static void shard_start(void *arg, unsigned id)
{
    (void)arg;
    if (ac_agent_host_shard_start(F.host, id))
        abort();
}

static void shard_stop(void *arg, unsigned id)
{
    (void)arg;
    ac_agent_host_shard_stop(F.host, id);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    ac_runtime_config rc;
    ac_runtime_config_init(&rc);
    rc.handle_signals = false;
    rc.shards = 1;
    rc.oversubscribe = true;
    rc.on_shard_start = shard_start;
    rc.on_shard_stop = shard_stop;
    ac_log_set_level(AC_LOG_ERROR);
    if (ac_agent_host_create(&(struct ac_agent_host_config){.shards = 1, .timeout_ns = 200000000}, &F.host) ||
        ac_agent_register_builtins(F.host) || ac_runtime_create(&rc, &F.rt) ||
        pthread_create(&F.thread, NULL, run, NULL))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    F.data = data;
    F.size = size;
    atomic_store(&F.nex, 0);
    atomic_store(&F.fed, false);
    /* the shard may still be starting: retry the hand-over a while */
    int err;
    for (int i = 0; (err = ac_runtime_submit(F.rt, 0, feed, NULL)) != 0 && i < 10000; i++)
        usleep(1000);
    if (err)
        abort();
    for (int i = 0; i < 10000; i++) {
        bool all = atomic_load(&F.fed);
        for (unsigned k = 0; all && k < atomic_load(&F.nex); k++)
            all = atomic_load(&F.ex[k].done);
        if (all)
            break;
        usleep(1000);
    }
    unsigned n = atomic_load(&F.nex);
    if (!atomic_load(&F.fed))
        abort(); /* the parse loop never finished */
    for (unsigned k = 0; k < n; k++) {
        struct fex *e = &F.ex[k];
        if (!atomic_load(&e->done) || atomic_load(&e->late)) {
            fprintf(stderr, "exchange %u: done %d late %d\n", k, e->done, e->late);
            abort();
        }
        check_response(e);
        if (getenv("FUZZ_HTTP_PRINT")) /* see what a seed gets back */
            fprintf(stderr, "--- response %u:\n%.*s\n", k, (int)e->len, e->buf);
        free(e->buf);
    }
    return 0;
}
