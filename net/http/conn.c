/*
 * One HTTP/1.1 connection: received slices → parser → exchanges, and the
 * answers back out in request order.
 *
 * Input. A slice is parsed in place while parsing may go on. When
 * backpressure holds parsing (max_pipeline answers pending, or
 * max_output bytes waiting) the unparsed rest is copied to `backlog` and
 * reading is paused; bytes that were already on their way are appended.
 * Parsing resumes from the backlog when answers go out, and reading
 * resumes once the backlog is empty.
 *
 * Output. Exchanges form a FIFO. The head's bytes go straight to `out`;
 * a later exchange buffers its bytes until it becomes the head. `out` is
 * handed to the socket as one write, double-buffered with `spare` (one
 * write in the kernel at a time, the next one filling). Inside the parse
 * loop nothing is flushed, so the answers to a batch of pipelined
 * requests leave in one send.
 *
 * Timers (one per connection): REQUEST from the first byte of a request
 * to its deadline (408 then); IDLE when nothing is pending (close); LINGER
 * after the sending side was shut down (close).
 *
 * Lingering close (as nginx does it). A closing answer (error, HTTP/1.0,
 * Connection: close, stop) must reach a client that keeps sending or has
 * half-closed: closing a socket with unread input sends a RST that can
 * destroy the answer in the client's kernel before it is read, and closing
 * while our last send is in the kernel cuts it off. So after the last
 * answer is queued: SHUT_WR (FIN after the bytes), then drain input until
 * the peer's EOF, linger_ns or linger_max bytes, and close only once our
 * write has completed. Re-entry: the request
 * callback may end its exchange at once; `in_pump` keeps that from
 * re-entering the parse loop, and `dead` keeps the state alive for the
 * one write callback still to come when the net closed the connection
 * under us.
 */
#include "server_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char continue_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

static void pump(struct ac__hconn *c);
static void flush(struct ac__hconn *c);
static void settle(struct ac__hconn *c);

/* ---- lifetime --------------------------------------------------------- */

/* Empties c's queue: answered exchanges are recycled, the rest orphaned. */
static void orphan_pending(struct ac__hconn *c)
{
    struct ac_http_exchange *x;
    while ((x = TAILQ_FIRST(&c->pending))) {
        TAILQ_REMOVE(&c->pending, x, link);
        if (x->done)
            ac__hx_put(c->srv, x);
        else
            ac__hx_orphan(c->srv, x);
    }
    c->npending = 0;
}

/* Frees what the connection holds; pending exchanges become orphans. */
static void release(struct ac__hconn *c)
{
    struct ac_http_server *s = c->srv;
    orphan_pending(c);
    ac_timer_cancel(&c->timer);
    ac_http_parser_destroy(c->parser);
    free(c->out.p);
    free(c->backlog.p);
    LIST_REMOVE(c, link);
    s->nconns--;
    if (c->budgeted)
        ac__http_budget_give(s->cfg.budget);
    if (c->write_busy) {
        c->dead = true; /* the write callback frees `spare` and c */
    } else {
        free(c->spare.p);
        free(c);
    }
    ac__http_server_conn_gone(s);
}

static void on_close(void *arg, ac_tcp_conn *tcp)
{
    (void)tcp;
    release(arg);
}

void ac__hconn_close(struct ac__hconn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    ac_tcp_close(c->tcp, on_close, c);
}

bool ac__hconn_idle(const struct ac__hconn *c)
{
    return c->npending == 0 && c->out.len == 0 && !c->write_busy && !ac_http_parser_busy(c->parser);
}

/* ---- output ----------------------------------------------------------- */

/* Lingering may end (at the next write completion): the peer's EOF came,
 * or it sent more than we drain. */
static bool linger_over(const struct ac__hconn *c)
{
    return c->eof || c->drained > c->srv->cfg.linger_max;
}

static void on_written(void *arg, ac_tcp_conn *tcp, int res)
{
    struct ac__hconn *c = arg;
    (void)tcp;
    c->write_busy = false;
    c->spare.len = 0;
    if (c->dead) {
        free(c->spare.p);
        free(c);
        return;
    }
    if (c->closing)
        return;
    if (res < 0 || (c->lingering && linger_over(c))) {
        ac__hconn_close(c);
        return;
    }
    flush(c);
    pump(c); /* output may have held parsing */
    settle(c);
}

static void flush(struct ac__hconn *c)
{
    if (c->write_busy || c->out.len == 0 || c->closing || c->in_pump)
        return;
    struct ac__hbuf t = c->spare;
    c->spare = c->out;
    c->out = t;
    c->write_busy = true;
    if (ac_tcp_write(c->tcp, c->spare.p, c->spare.len, on_written, c) != 0) {
        c->write_busy = false;
        c->spare.len = 0;
        ac__hconn_close(c);
    }
}

/* Past max_buffered (`what` says which way): close, count, log once per server. */
static bool over_buffered(struct ac__hconn *c, size_t bytes, const char *what)
{
    struct ac_http_server *s = c->srv;
    if (bytes <= s->cfg.max_buffered)
        return false;
    s->stats.buffer_closes++;
    if (!s->buffer_logged) {
        s->buffer_logged = true; /* buffer_closes counts the rest */
        ac_log_warn("http: closing a connection holding %zu bytes of %s (max_buffered %zu; "
                    "counted in buffer_closes, logged once)",
                    bytes, what, s->cfg.max_buffered);
    }
    ac__hconn_close(c);
    return true;
}

static int add_iov(struct ac__hbuf *b, const struct iovec *iov, int n)
{
    for (int i = 0; i < n; i++)
        if (ac__hbuf_add(b, iov[i].iov_base, iov[i].iov_len))
            return -ENOMEM;
    return 0;
}

int ac__hconn_write(struct ac__hconn *c, struct ac_http_exchange *x, const struct iovec *iov,
                    int iovcnt)
{
    if (c->closing)
        return 0;
    bool head = x == TAILQ_FIRST(&c->pending);
    struct ac__hbuf *b = head ? &c->out : &x->buf;
    if (add_iov(b, iov, iovcnt)) {
        ac__hconn_close(c);
        return -ENOMEM;
    }
    /* a stream to a client that does not read, or answers behind a slow one */
    if (over_buffered(c, b->len + (head ? ac_tcp_queued(c->tcp) : 0), "answers not yet sent"))
        return 0;
    if (head)
        flush(c);
    return 0;
}

/* Pops finished exchanges off the head, moving the next one's bytes out. */
static void advance(struct ac__hconn *c)
{
    struct ac_http_exchange *x;
    while ((x = TAILQ_FIRST(&c->pending)) && x->done) {
        TAILQ_REMOVE(&c->pending, x, link);
        c->npending--;
        bool keep = x->keep_alive;
        ac__hx_put(c->srv, x);
        if (!keep) {
            /* nothing after a closing answer is sent: later ones are orphans */
            c->close_after = true;
            c->no_more = true;
            orphan_pending(c);
            return;
        }
        struct ac_http_exchange *next = TAILQ_FIRST(&c->pending);
        if (next && next->buf.len) {
            if (ac__hbuf_add(&c->out, next->buf.p, next->buf.len)) {
                ac__hconn_close(c);
                return;
            }
            next->buf.len = 0;
        }
    }
}

void ac__hconn_done(struct ac__hconn *c, struct ac_http_exchange *x)
{
    if (c->closing) {
        /* still listed until the close callback; it was done, so put it back then */
        return;
    }
    if (x != TAILQ_FIRST(&c->pending))
        return; /* waits for the ones before it */
    advance(c);
    if (c->closing)
        return;
    flush(c);
    pump(c);
    settle(c);
}

/* A new exchange at the tail of c's queue (answers leave in this order). */
static struct ac_http_exchange *push_exchange(struct ac__hconn *c)
{
    struct ac_http_exchange *x = ac__hx_get(c->srv);
    if (!x)
        return NULL;
    x->conn = c;
    TAILQ_INSERT_TAIL(&c->pending, x, link);
    c->npending++;
    return x;
}

/* An answer made here (100, parse errors, 408, 503): an exchange like any other. */
static void answer(struct ac__hconn *c, const void *p, size_t n, bool keep_alive)
{
    struct ac_http_exchange *x = push_exchange(c);
    struct iovec iov = {(void *)p, n};
    if (!x) {
        ac__hconn_close(c);
        return;
    }
    if (ac_http_exchange_write(x, &iov, 1) == 0 && !c->closing)
        ac_http_exchange_done(x, keep_alive);
}

static void answer_error(struct ac__hconn *c, int status, unsigned retry_after, const char *code,
                         const char *msg)
{
    char buf[1024];
    struct ac_http_response r = {.status = status, .retry_after = retry_after};
    int n =
        ac_http_error_response(buf, sizeof buf, &r, &c->srv->date, c->srv->cfg.server, code, msg);
    AC_ASSERT(n > 0);
    c->no_more = true;
    answer(c, buf, (size_t)n, false);
}

/* ---- input ------------------------------------------------------------ */

static bool held(const struct ac__hconn *c)
{
    return c->npending >= c->srv->cfg.max_pipeline ||
           c->out.len + ac_tcp_queued(c->tcp) > c->srv->cfg.max_output;
}

/* A parsed request: a new exchange at the tail, then the callback. */
static void dispatch(struct ac__hconn *c, const struct ac_http_request *req)
{
    struct ac_http_exchange *x = push_exchange(c);
    if (!x) {
        answer_error(c, 503, 1, "out_of_memory", "no memory for the request");
        return;
    }
    c->req_start_ns = 0;
    c->srv->stats.requests++;
    if (!req->keep_alive)
        c->no_more = true;
    c->srv->cb(c->srv->arg, x, req);
}

/* Parses c->in while allowed; returns with the rest still in c->in. */
static void parse(struct ac__hconn *c)
{
    while (c->in_len && !c->no_more && !c->closing) {
        size_t used;
        if (held(c)) {
            c->srv->stats.parse_holds++;
            return;
        }
        if (!ac_http_parser_busy(c->parser) && !c->req_start_ns)
            c->req_start_ns = ac_now_ns();
        enum ac_http_event ev = ac_http_parser_feed(c->parser, c->in, c->in_len, &used);
        c->in += used;
        c->in_len -= used;
        switch (ev) {
        case AC_HTTP_NEED_MORE:
            break;
        case AC_HTTP_CONTINUE:
            answer(c, continue_100, sizeof continue_100 - 1, true);
            break;
        case AC_HTTP_REQUEST:
            dispatch(c, ac_http_parser_request(c->parser));
            break;
        case AC_HTTP_ERROR: {
            const struct ac_http_error *e = ac_http_parser_error(c->parser);
            c->srv->stats.parse_errors++;
            answer_error(c, e->status, 0, e->code, e->message);
            return;
        }
        }
    }
}

/* Parses what the backlog holds; empties it and resumes reading when done. */
static void pump(struct ac__hconn *c)
{
    if (c->in_pump || c->closing || c->backlog.len == c->backlog_off)
        return;
    c->in_pump = true;
    c->in = c->backlog.p + c->backlog_off;
    c->in_len = c->backlog.len - c->backlog_off;
    parse(c);
    c->in_pump = false;
    if (c->closing)
        return;
    c->backlog_off = c->backlog.len - c->in_len;
    if (c->no_more || c->backlog_off == c->backlog.len) {
        c->backlog.len = c->backlog_off = 0;
        if (c->read_held) {
            c->read_held = false;
            ac_tcp_read_resume(c->tcp);
        }
    }
    flush(c);
}

static void on_read(void *arg, ac_tcp_conn *tcp, int res, const struct ac_slice *s)
{
    struct ac__hconn *c = arg;
    (void)tcp;
    if (res == -ECANCELED) { /* ac_net_stop closed it under us: no close callback */
        c->closing = true;
        release(c);
        return;
    }
    if (res <= 0) {
        if (res < 0) {
            ac__hconn_close(c);
            return;
        }
        if (c->lingering) {
            /* Drained. The last answer may still be in the kernel: closing
             * now would cut it off (the close shuts a busy socket down), so
             * the write callback closes when it is. */
            c->eof = true;
            if (!c->write_busy)
                ac__hconn_close(c);
            return;
        }
        c->eof = true; /* answer what was asked, then close */
        c->no_more = c->no_more || c->backlog.len == c->backlog_off;
        c->close_after = true;
        settle(c);
        return;
    }
    if (c->lingering || c->no_more) {
        /* drained and dropped, for a bounded time and size: a client that
         * keeps sending after our last answer loses only its own bytes */
        c->drained += s->len;
        if (c->lingering && linger_over(c) && !c->write_busy)
            ac__hconn_close(c);
        return;
    }
    if (c->backlog.len != c->backlog_off) {
        /* arrived after the pause (already on its way): held too, bounded */
        if (over_buffered(c, c->backlog.len - c->backlog_off + s->len, "input held"))
            return;
        if (ac__hbuf_add(&c->backlog, s->data, s->len))
            ac__hconn_close(c);
        return;
    }
    c->in_pump = true;
    c->in = s->data;
    c->in_len = s->len;
    parse(c);
    c->in_pump = false;
    if (c->closing)
        return;
    if (c->in_len && !c->no_more) {
        /* held: keep the rest, stop reading until answers go out */
        c->backlog.len = c->backlog_off = 0;
        if (ac__hbuf_add(&c->backlog, c->in, c->in_len)) {
            ac__hconn_close(c);
            return;
        }
        if (!c->read_held) {
            c->read_held = true;
            ac_tcp_read_pause(c->tcp);
        }
    }
    flush(c);
    settle(c);
}

/* ---- timers and the end of a connection ------------------------------- */

static void on_timer(struct ac_timer *t, void *arg);

static void arm(struct ac__hconn *c, enum ac__htimer mode, uint64_t due)
{
    if (c->tmode == mode && c->due_ns == due && ac_timer_armed(&c->timer))
        return;
    ac_timer_cancel(&c->timer);
    c->tmode = mode;
    c->due_ns = due;
    if (ac_timer_start_at(&c->timer, due, on_timer, c) != 0)
        c->tmode = AC__HT_NONE;
}

static void on_timer(struct ac_timer *t, void *arg)
{
    struct ac__hconn *c = arg;
    (void)t;
    switch (c->tmode) {
    case AC__HT_REQUEST:
        c->srv->stats.request_timeouts++;
        c->req_start_ns = 0;
        answer_error(c, 408, 0, "request_timeout", "the request did not arrive in time");
        break;
    case AC__HT_IDLE: {
        /* left armed while requests come and go: re-check here instead */
        uint64_t now = ac_now_ns(), tmo = c->srv->cfg.idle_timeout_ns;
        if (!ac__hconn_idle(c) || now < c->idle_since_ns + tmo) {
            arm(c, AC__HT_IDLE, ac__hconn_idle(c) ? c->idle_since_ns + tmo : now + tmo);
            return;
        }
        c->srv->stats.idle_closes++;
        ac__hconn_close(c);
        return;
    }
    case AC__HT_LINGER:
        ac__hconn_close(c);
        return;
    case AC__HT_NONE:
        return;
    }
    settle(c);
}

/*
 * After every event: end the connection when it is due, and pick the
 * timer that matches its state.
 */
static void settle(struct ac__hconn *c)
{
    const struct ac_http_server_config *cfg = &c->srv->cfg;
    if (c->closing || c->lingering)
        return;
    if (c->close_after && c->npending == 0 && c->out.len == 0) {
        /* everything is queued in the socket: FIN after it, then drain */
        if (c->eof || ac_tcp_shutdown(c->tcp) != 0) {
            if (!c->write_busy) {
                ac__hconn_close(c);
                return;
            }
            /* the close waits for the write: linger without a shutdown */
        }
        c->lingering = true;
        c->no_more = true;
        if (c->read_held) {
            c->read_held = false;
            ac_tcp_read_resume(c->tcp);
        }
        arm(c, AC__HT_LINGER, ac_now_ns() + cfg->linger_ns);
        return;
    }
    if (c->no_more) {
        ac_timer_cancel(&c->timer);
        c->tmode = AC__HT_NONE;
    } else if (c->req_start_ns &&
               (ac_http_parser_busy(c->parser) || c->backlog.len != c->backlog_off)) {
        arm(c, AC__HT_REQUEST, c->req_start_ns + cfg->request_timeout_ns);
    } else if (c->npending == 0 && c->out.len == 0 && !c->write_busy) {
        c->req_start_ns = 0;
        c->idle_since_ns = ac_now_ns();
        if (cfg->idle_timeout_ns && c->tmode != AC__HT_IDLE)
            arm(c, AC__HT_IDLE, c->idle_since_ns + cfg->idle_timeout_ns);
    } else if (c->tmode == AC__HT_REQUEST) {
        ac_timer_cancel(&c->timer); /* waiting for answers: their deadlines rule */
        c->tmode = AC__HT_NONE;
    }
}

void ac__hconn_drain(struct ac__hconn *c)
{
    c->no_more = true;
    c->close_after = true;
    c->backlog.len = c->backlog_off = 0;
    settle(c);
}

/* Connections past a limit that still get their 503 (beyond: closed at once). */
#define OVER_LIMIT_SLACK 1024

void ac__hconn_accept(void *arg, ac_tcp_conn *tcp)
{
    struct ac_http_server *s = arg;
    struct ac_http_conn_budget *b = s->cfg.budget;
    bool over = s->nconns >= s->cfg.max_conns;
    if (s->nconns >= s->cfg.max_conns + OVER_LIMIT_SLACK ||
        (b && !ac__http_budget_take(b, OVER_LIMIT_SLACK))) {
        s->stats.conns_refused++;
        ac_tcp_close(tcp, NULL, NULL);
        return;
    }
    over = over || (b && ac__http_budget_over(b));
    struct ac__hconn *c = calloc(1, sizeof *c);
    if (!c || ac_http_parser_create(&s->cfg.limits, &c->parser)) {
        free(c);
        if (b)
            ac__http_budget_give(b);
        ac_tcp_close(tcp, NULL, NULL);
        return;
    }
    c->budgeted = b != NULL;
    c->srv = s;
    c->tcp = tcp;
    TAILQ_INIT(&c->pending);
    LIST_INSERT_HEAD(&s->conns, c, link);
    s->nconns++;
    s->stats.connections++;
    ac_tcp_set_data(tcp, c);
    if (ac_tcp_read_start(tcp, on_read, c) != 0) {
        ac__hconn_close(c);
        return;
    }
    if (over) {
        /* told, not just dropped: the answer goes out, then the lingering close */
        s->stats.conns_refused++;
        answer_error(c, 503, 1, "too_many_connections",
                     "the server holds its maximum of connections: retry later");
        flush(c);
    }
    settle(c);
}
