/*
 * The client: one connection, two FIFO queues of requests and a state.
 *
 *   CONNECTING ──connected──▶ HANDSHAKE (AUTH, SELECT) ──ok──▶ READY
 *        ▲                          │ failed / dropped            │ dropped
 *        └──backoff timer── BACKOFF ◀──────────────────────────────┘
 *
 * `waiting` holds commands issued before READY; they go out, in order,
 * once the handshake succeeded. `inflight` holds commands written to the
 * connection, in the order the server answers them, so each parsed reply
 * belongs to the head. A command that times out is answered at once
 * (-ETIMEDOUT) but keeps its place in `inflight` until its late reply
 * arrives or the connection drops, so the order stays right. In BACKOFF
 * new commands fail at once (-ENOTCONN): a caller such as Redlock must
 * not wait for a server that is known to be down.
 *
 * Lifetime: every request counts in c->alive; the client is freed only
 * after close, when no request, connection or connect is left.
 */
#include "internal.h"
#include "agentcore/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

enum cstate { C_CONNECTING, C_HANDSHAKE, C_READY, C_BACKOFF, C_CLOSING };

struct queue {
    struct resp_req *head, *tail;
};

struct ac_resp_client {
    ac_net *net;
    struct ac_resp_config cfg; /* strings point at the copies below */
    char *host, *password, *username;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    enum cstate state;
    ac_tcp_conn *conn;
    redisReader *reader; /* per connection: a new one drops a partial reply */
    struct queue waiting, inflight;
    unsigned handshake_left;
    struct ac_timer backoff_timer;
    uint64_t backoff_ns;
    uint64_t rng;           /* xorshift state for the backoff jitter */
    bool connect_pending;   /* ac_tcp_connect's callback has not run yet */
    bool net_gone;          /* net closed our connection (it is stopping): no reconnect */
    unsigned closing_conns; /* closed by us, close callback not run yet */
    unsigned alive;         /* requests allocated */
    ac_resp_closed_fn closed_cb;
    void *closed_arg;
    struct ac_resp_stats stats;
};

static void start_connect(struct ac_resp_client *c);
static void drop(struct ac_resp_client *c, int err);

/* ---- queues and requests ------------------------------------------------ */

static void q_push(struct queue *q, struct resp_req *r)
{
    r->next = NULL;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
}

static struct resp_req *q_pop(struct queue *q)
{
    struct resp_req *r = q->head;
    if (r) {
        q->head = r->next;
        if (!q->head)
            q->tail = NULL;
        r->next = NULL;
    }
    return r;
}

static void maybe_free_client(struct ac_resp_client *c)
{
    if (c->state != C_CLOSING || c->alive || c->connect_pending || c->closing_conns)
        return;
    if (c->reader)
        redisReaderFree(c->reader);
    free(c->host);
    free(c->password);
    free(c->username);
    if (c->closed_cb)
        c->closed_cb(c->closed_arg, c);
    free(c);
}

static void maybe_free_req(struct resp_req *r)
{
    if (r->where != REQ_NOWHERE || r->writing || !r->answered)
        return;
    struct ac_resp_client *c = r->c;
    if (ac_timer_armed(&r->timer))
        ac_timer_cancel(&r->timer);
    ac_free(r);
    c->alive--;
    c->stats.pending--;
    maybe_free_client(c);
}

/* Answers r with a failure (once); the caller keeps r alive across the callback. */
static void req_fail(struct resp_req *r, int err)
{
    if (r->answered)
        return;
    r->answered = true;
    if (ac_timer_armed(&r->timer))
        ac_timer_cancel(&r->timer);
    if (r->handshake)
        return;
    if (err == -ETIMEDOUT)
        r->c->stats.timeouts++;
    else
        r->c->stats.failed++;
    r->cb(r->arg, err, NULL);
}

/* Fails and unlinks every request of a queue. */
static void q_fail_all(struct queue *q, int err)
{
    struct resp_req *r;
    while ((r = q_pop(q))) {
        r->where = REQ_NOWHERE;
        /* alive across the callback: it may close the client */
        r->c->alive++;
        req_fail(r, err);
        r->c->alive--;
        maybe_free_req(r);
    }
}

static void req_timeout(struct ac_timer *t, void *arg)
{
    (void)t;
    struct resp_req *r = arg;
    struct ac_resp_client *c = r->c;
    c->alive++;
    req_fail(r, -ETIMEDOUT);
    c->alive--;
    maybe_free_req(r);
}

struct resp_req *ac__resp_req_new(struct ac_resp_client *c, size_t len, ac_resp_reply_fn cb,
                                  void *arg)
{
    struct resp_req *r = ac_alloc(sizeof *r + len);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->c = c;
    r->cb = cb;
    r->arg = arg;
    r->len = len;
    c->alive++;
    c->stats.pending++;
    return r;
}

void ac__resp_req_discard(struct ac_resp_client *c, struct resp_req *r)
{
    ac_free(r);
    c->alive--;
    c->stats.pending--;
}

static void written(void *arg, ac_tcp_conn *conn, int res)
{
    struct resp_req *r = arg;
    struct ac_resp_client *c = r->c;
    r->writing = false;
    /* a failed send leaves the stream unusable: start over */
    if (res < 0 && res != -ECANCELED && c->conn == conn && !ac_tcp_is_closing(conn))
        drop(c, res);
    maybe_free_req(r);
}

/* Writes r on the connection and appends it to `inflight`. */
static void req_send(struct ac_resp_client *c, struct resp_req *r)
{
    int err = ac_tcp_write(c->conn, r->buf, r->len, written, r);
    if (err) {
        c->alive++;
        req_fail(r, err);
        c->alive--;
        maybe_free_req(r);
        return;
    }
    r->writing = true;
    r->where = REQ_INFLIGHT;
    q_push(&c->inflight, r);
}

int ac__resp_client_admit(const struct ac_resp_client *c)
{
    if (c->state == C_CLOSING)
        return -ECANCELED;
    if (c->state == C_BACKOFF)
        return -ENOTCONN;
    if (c->stats.pending >= c->cfg.max_pending)
        return -EAGAIN;
    return 0;
}

int ac__resp_req_submit(struct ac_resp_client *c, struct resp_req *r)
{
    int err = ac__resp_client_admit(c);
    if (err)
        return err;
    if (!r->handshake && c->cfg.command_timeout_ns) {
        if (!r->deadline)
            r->deadline = ac_now_ns() + c->cfg.command_timeout_ns;
        AC_ASSERT(ac_timer_start_at(&r->timer, r->deadline, req_timeout, r) == 0);
    }
    c->stats.commands += !r->handshake && !r->resent;
    if (c->state == C_READY || r->handshake) {
        req_send(c, r);
    } else {
        r->where = REQ_WAITING;
        q_push(&c->waiting, r);
    }
    return 0;
}

int ac_resp_command(ac_resp_client *c, int argc, const char *const *argv, const size_t *argvlen,
                    ac_resp_reply_fn cb, void *arg)
{
    if (argc < 1 || !cb)
        return -EINVAL;
    int err = ac__resp_client_admit(c);
    if (err)
        return err;
    struct resp_req *r = ac__resp_req_new(c, ac__resp_encoded_len(argc, argv, argvlen), cb, arg);
    if (!r)
        return -ENOMEM;
    ac__resp_encode(r->buf, argc, argv, argvlen);
    err = ac__resp_req_submit(c, r);
    if (err)
        ac__resp_req_discard(c, r);
    return err;
}

/* ---- replies -------------------------------------------------------------- */

static void ready(struct ac_resp_client *c)
{
    struct resp_req *r;
    c->state = C_READY;
    c->backoff_ns = 0;
    c->stats.connects++;
    c->stats.connected = true;
    while ((r = q_pop(&c->waiting))) {
        r->where = REQ_NOWHERE;
        if (r->answered)
            maybe_free_req(r); /* timed out while waiting */
        else
            req_send(c, r);
        if (c->state != C_READY)
            break; /* a failed send dropped the connection */
    }
}

/* One parsed reply for the head of `inflight`. */
static void on_reply(struct ac_resp_client *c, struct resp_req *r, const struct ac_resp_reply *rep)
{
    r->where = REQ_NOWHERE;
    c->alive++;
    if (r->handshake) {
        r->answered = true;
        if (rep->type == AC_RESP_ERROR) {
            ac_log_error("resp: %s:%u refused the handshake: %s", c->host, c->cfg.port, rep->str);
            drop(c, -EACCES);
        } else if (--c->handshake_left == 0) {
            ready(c);
        }
    } else if (!r->answered) {
        if (r->script && ac_resp_reply_is_error(rep, "NOSCRIPT") &&
            ac__resp_eval_fallback(c, r) == 0) {
            c->stats.noscript++;
            r->answered = true; /* the EVAL request answers the caller */
        } else {
            r->answered = true;
            if (ac_timer_armed(&r->timer))
                ac_timer_cancel(&r->timer);
            c->stats.replies++;
            r->cb(r->arg, 0, rep);
        }
    }
    c->alive--;
    maybe_free_req(r);
}

static void on_read(void *arg, ac_tcp_conn *conn, int res, const struct ac_slice *s)
{
    struct ac_resp_client *c = arg;
    if (res <= 0) {
        if (res == -ECANCELED && c->conn == conn) {
            /* ac_net_stop closed it: no close callback follows, no reconnect */
            c->conn = NULL;
            c->net_gone = true;
            drop(c, -ECONNRESET);
        } else if (c->conn == conn) {
            drop(c, -ECONNRESET);
        }
        return;
    }
    if (redisReaderFeed(c->reader, s->data, (size_t)res) != REDIS_OK) {
        drop(c, -ENOMEM);
        return;
    }
    c->alive++; /* the client outlives this loop whatever the callbacks do */
    while (c->conn == conn) {
        void *rep = NULL;
        if (redisReaderGetReply(c->reader, &rep) != REDIS_OK) {
            ac_log_error("resp: %s:%u: %s", c->host, c->cfg.port, c->reader->errstr);
            drop(c, -EPROTO);
            break;
        }
        if (!rep)
            break;
        struct resp_req *r = q_pop(&c->inflight);
        if (!r) {
            ac_log_error("resp: %s:%u sent a reply nobody asked for", c->host, c->cfg.port);
            ac__resp_reply_free(rep);
            drop(c, -EPROTO);
            break;
        }
        on_reply(c, r, rep);
        ac__resp_reply_free(rep);
    }
    c->alive--;
    maybe_free_client(c);
}

/* ---- connection life ------------------------------------------------------ */

static void conn_closed(void *arg, ac_tcp_conn *conn)
{
    (void)conn;
    struct ac_resp_client *c = arg;
    c->closing_conns--;
    maybe_free_client(c);
}

static void backoff_fire(struct ac_timer *t, void *arg)
{
    (void)t;
    start_connect(arg);
}

static uint64_t next_rand(struct ac_resp_client *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

/* Waits backoff (doubling from min to max, ±25 % jitter), then reconnects. */
static void schedule_reconnect(struct ac_resp_client *c)
{
    c->state = C_BACKOFF;
    if (c->net_gone)
        return;
    c->backoff_ns = c->backoff_ns ? c->backoff_ns * 2 : c->cfg.backoff_min_ns;
    if (c->backoff_ns > c->cfg.backoff_max_ns)
        c->backoff_ns = c->cfg.backoff_max_ns;
    uint64_t quarter = c->backoff_ns / 4;
    uint64_t delay = c->backoff_ns - quarter + (quarter ? next_rand(c) % (2 * quarter + 1) : 0);
    AC_ASSERT(ac_timer_start(&c->backoff_timer, delay, backoff_fire, c) == 0);
}

/* The connection failed or was lost: fail what it carried and back off. */
static void drop(struct ac_resp_client *c, int err)
{
    if (c->conn) {
        ac_tcp_conn *conn = c->conn;
        c->conn = NULL;
        c->stats.drops++;
        if (!ac_tcp_is_closing(conn)) {
            c->closing_conns++;
            ac_tcp_close(conn, conn_closed, c);
        }
    }
    c->stats.connected = false;
    if (c->state == C_CLOSING)
        return;
    /* BACKOFF first: callbacks below may issue commands, which must fail fast */
    c->state = C_BACKOFF;
    c->alive++;
    q_fail_all(&c->inflight, err);
    q_fail_all(&c->waiting, err == -ECONNRESET ? -ENOTCONN : err);
    c->alive--;
    if (c->state == C_BACKOFF) /* not closed from a callback */
        schedule_reconnect(c);
    else
        maybe_free_client(c);
}

static int queue_handshake(struct ac_resp_client *c, int argc, const char *const *argv)
{
    struct resp_req *r = ac__resp_req_new(c, ac__resp_encoded_len(argc, argv, NULL), NULL, NULL);
    if (!r)
        return -ENOMEM;
    ac__resp_encode(r->buf, argc, argv, NULL);
    r->handshake = true;
    c->handshake_left++;
    req_send(c, r);
    return 0;
}

static void connected(void *arg, ac_tcp_conn *conn, int res)
{
    struct ac_resp_client *c = arg;
    char db[16];
    int err = res;

    c->connect_pending = false;
    if (c->state == C_CLOSING) {
        if (conn) {
            c->closing_conns++;
            ac_tcp_close(conn, conn_closed, c);
        }
        maybe_free_client(c);
        return;
    }
    if (res) {
        ac_log_debug("resp: connect %s:%u: %s", c->host, c->cfg.port, ac_strerror(res));
        drop(c, -ENOTCONN);
        return;
    }
    c->conn = conn;
    if (c->reader)
        redisReaderFree(c->reader);
    c->reader = ac__resp_reader_create();
    if (!c->reader) {
        err = -ENOMEM;
        goto out_drop;
    }
    err = ac_tcp_read_start(conn, on_read, c);
    if (err)
        goto out_drop;
    c->state = C_HANDSHAKE;
    c->handshake_left = 0;
    if (c->password) {
        const char *a2[] = {"AUTH", c->password};
        const char *a3[] = {"AUTH", c->username ? c->username : "", c->password};
        err = c->username ? queue_handshake(c, 3, a3) : queue_handshake(c, 2, a2);
        if (err)
            goto out_drop;
    }
    if (c->cfg.db) {
        snprintf(db, sizeof db, "%u", c->cfg.db);
        const char *sel[] = {"SELECT", db};
        err = queue_handshake(c, 2, sel);
        if (err)
            goto out_drop;
    }
    if (c->handshake_left == 0)
        ready(c);
    return;

out_drop:
    drop(c, err);
}

static void start_connect(struct ac_resp_client *c)
{
    c->state = C_CONNECTING;
    int err = ac_tcp_connect(c->net, (struct sockaddr *)&c->addr, c->addrlen,
                             c->cfg.connect_timeout_ns, connected, c);
    if (err) {
        ac_log_warn("resp: connect %s:%u: %s", c->host, c->cfg.port, ac_strerror(err));
        drop(c, -ENOTCONN);
        return;
    }
    c->connect_pending = true;
}

/* ---- public --------------------------------------------------------------- */

void ac_resp_config_init(struct ac_resp_config *cfg)
{
    *cfg = (struct ac_resp_config){
        .host = "127.0.0.1",
        .port = 6379,
        .connect_timeout_ns = 1000000000ull,
        .command_timeout_ns = 1000000000ull,
        .backoff_min_ns = 10000000ull,
        .backoff_max_ns = 1000000000ull,
        .max_pending = 65536,
    };
}

static int resolve(struct ac_resp_client *c)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", c->cfg.port);
    if (getaddrinfo(c->host, port, &hints, &ai) != 0 || !ai)
        return -EHOSTUNREACH;
    memcpy(&c->addr, ai->ai_addr, ai->ai_addrlen);
    c->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

int ac_resp_client_create(ac_net *net, const struct ac_resp_config *cfg, ac_resp_client **out)
{
    bool oom = false;
    int err;
    if (!cfg->host || !cfg->port || !cfg->backoff_min_ns ||
        cfg->backoff_max_ns < cfg->backoff_min_ns || !cfg->max_pending)
        return -EINVAL;
    struct ac_resp_client *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->net = net;
    c->cfg = *cfg;
    c->host = dup_or_null(cfg->host, &oom);
    c->password = dup_or_null(cfg->password, &oom);
    c->username = dup_or_null(cfg->username, &oom);
    err = -ENOMEM;
    if (oom)
        goto out_free;
    c->cfg.host = c->host;
    c->cfg.password = c->password;
    c->cfg.username = c->username;
    err = resolve(c);
    if (err)
        goto out_free;
    if (getrandom(&c->rng, sizeof c->rng, 0) != sizeof c->rng || !c->rng)
        c->rng = (uintptr_t)c ^ ac_now_ns();
    start_connect(c);
    *out = c;
    return 0;

out_free:
    free(c->host);
    free(c->password);
    free(c->username);
    free(c);
    return err;
}

void ac_resp_client_close(ac_resp_client *c, ac_resp_closed_fn cb, void *arg)
{
    AC_ASSERT(c->state != C_CLOSING);
    c->state = C_CLOSING;
    c->closed_cb = cb;
    c->closed_arg = arg;
    c->stats.connected = false;
    if (ac_timer_armed(&c->backoff_timer))
        ac_timer_cancel(&c->backoff_timer);
    c->alive++;
    if (c->conn) {
        ac_tcp_conn *conn = c->conn;
        c->conn = NULL;
        if (!ac_tcp_is_closing(conn)) {
            c->closing_conns++;
            ac_tcp_close(conn, conn_closed, c);
        }
    }
    q_fail_all(&c->inflight, -ECANCELED);
    q_fail_all(&c->waiting, -ECANCELED);
    c->alive--;
    maybe_free_client(c);
}

bool ac_resp_client_connected(const ac_resp_client *c)
{
    return c->state == C_READY;
}

void ac_resp_client_stats(const ac_resp_client *c, struct ac_resp_stats *out)
{
    *out = c->stats;
}
