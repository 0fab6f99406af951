/*
 * Response bytes on their way back to the exchange. A response is
 * serialized on the shard that ran the handler; when the exchange lives
 * on another shard the bytes travel as one ordered post per piece (head,
 * each SSE event, the end), so a stream arrives in order and the
 * connection's shard only copies bytes into its socket.
 */
#include "internal.h"
#include "agentcore/mem.h"

#include <stdlib.h>
#include <string.h>

struct reply {
    struct ac__post post; /* first: the post is the reply */
    struct ac_exchange *ex;
    bool final, keep_alive;
    size_t len;
    char data[];
};

static void deliver(void *arg)
{
    struct reply *r = arg;
    struct iovec iov = {r->data, r->len};
    if (r->len)
        r->ex->ops->write(r->ex, &iov, 1);
    if (r->final)
        r->ex->ops->done(r->ex, r->keep_alive);
    ac_free(r);
}

static void drop_reply(void *arg)
{
    ac_free(arg);
}

void ac__agent_reply(struct ac__agent_shard *sh, unsigned origin, struct ac_exchange *ex,
                     const struct iovec *iov, int iovcnt, bool final, bool keep_alive)
{
    struct reply *r;
    size_t len = 0;
    if (origin == sh->id) {
        if (iovcnt)
            ex->ops->write(ex, iov, iovcnt);
        if (final)
            ex->ops->done(ex, keep_alive);
        return;
    }
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    r = ac_alloc(sizeof *r + len); /* freed by the receiving shard */
    if (!r) {
        /* Nothing sane to send instead; the connection's timeout ends it. */
        ac_log_error("agent reply to shard %u dropped: out of memory", origin);
        return;
    }
    r->post.fn = deliver;
    r->post.drop = drop_reply;
    r->ex = ex;
    r->final = final;
    r->keep_alive = keep_alive;
    r->len = len;
    len = 0;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(r->data + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    ac__agent_post(sh, origin, &r->post);
}

void ac__agent_reply_error(struct ac__agent_shard *sh, unsigned origin, struct ac_exchange *ex,
                           struct ac__resp_mode mode, int status, unsigned retry_after,
                           const char *code, const char *msg)
{
    char buf[2048];
    struct ac_http_response r = {.status = status,
                                 .keep_alive = mode.keep_alive,
                                 .http10 = mode.http10,
                                 .head_only = mode.head_only,
                                 .retry_after = retry_after};
    int n = ac_http_error_response(buf, sizeof buf, &r, &sh->date, sh->host->cfg.server, code, msg);
    if (n < 0) /* a message too long for 2 KiB: send the code alone */
        n = ac_http_error_response(buf, sizeof buf, &r, &sh->date, sh->host->cfg.server, code,
                                   code);
    AC_ASSERT(n > 0);
    struct iovec iov = {buf, (size_t)n};
    ac__agent_reply(sh, origin, ex, &iov, 1, true, r.keep_alive);
}
