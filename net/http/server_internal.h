/*
 * Private declarations of the HTTP server files: http_server.c (listener,
 * stop, exchanges) and http_conn.c (one connection: input, parsing,
 * ordered output, timers).
 */
#ifndef AC_NET_HTTP_SERVER_INTERNAL_H
#define AC_NET_HTTP_SERVER_INTERNAL_H

#include <sys/queue.h> /* the one list facility (docs/ARCHITECTURE.md, "Lists") */
#include "agentcore/http.h"
#include "agentcore/net.h"
#include "agentcore/timer.h"

#include <stddef.h>

/* A growable byte buffer. */
struct ac__hbuf {
    char *p;
    size_t len, cap;
};

/* Appends; 0 or -ENOMEM. */
AC_MUST_USE int ac__hbuf_add(struct ac__hbuf *b, const void *p, size_t n);

struct ac__hconn;

struct ac_http_exchange {
    TAILQ_ENTRY(ac_http_exchange) link; /* conn's pending queue, free list or orphans */
    struct ac__hconn *conn;             /* NULL: orphaned (or free) */
    struct ac_http_server *srv;
    struct ac__hbuf buf; /* bytes written while an earlier exchange is pending */
    bool done, keep_alive;
};

/* The caller's area follows the exchange, max_align_t aligned. */
#define AC__HX_HEAD                                                                                \
    ((sizeof(struct ac_http_exchange) + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1))

enum ac__htimer { AC__HT_NONE, AC__HT_IDLE, AC__HT_REQUEST, AC__HT_LINGER };

struct ac__hconn {
    struct ac_http_server *srv;
    ac_tcp_conn *tcp;
    ac_http_parser *parser;
    TAILQ_HEAD(, ac_http_exchange) pending; /* answers owed, in request order */
    unsigned npending;
    struct ac__hbuf out, spare; /* out: next bytes to send; spare: in the kernel */
    struct ac__hbuf backlog;    /* received, not parsed yet (parsing held) */
    size_t backlog_off;
    const char *in; /* bytes being parsed (a slice or the backlog) */
    size_t in_len;
    struct ac_timer timer;
    enum ac__htimer tmode;
    uint64_t due_ns;       /* when the armed timer should act */
    uint64_t req_start_ns; /* first byte of the partial request; 0: none */
    uint64_t idle_since_ns;
    size_t drained;                /* bytes dropped while lingering */
    bool in_pump;                  /* the parse loop runs: no re-entry, no flush */
    bool write_busy;               /* `spare` is in the kernel */
    bool read_held;                /* ac_tcp_read_pause is on */
    bool no_more;                  /* parse no further request (error, close, stop) */
    bool close_after;              /* close once the pending answers have gone */
    bool eof;                      /* the peer ended its side */
    bool lingering;                /* shut down; draining input until close */
    bool closing;                  /* ac_tcp_close called */
    bool dead;                     /* state released; freed by the write callback */
    bool budgeted;                 /* holds one unit of srv->cfg.budget */
    LIST_ENTRY(ac__hconn) link;    /* srv->conns */
};

struct ac_http_server {
    struct ac_net *net;
    ac_tcp_server *tcp;
    struct ac_http_server_config cfg;
    ac_http_request_fn cb;
    void *arg;
    struct ac_http_date date;
    LIST_HEAD(, ac__hconn) conns;
    unsigned nconns;
    TAILQ_HEAD(, ac_http_exchange) free_x, orphans;
    unsigned nfree_x;
    bool stopping;
    bool buffer_logged; /* a max_buffered close was logged */
    struct ac_timer stop_timer;
    ac_http_server_stopped_fn stop_cb;
    void *stop_arg;
    struct ac_http_server_stats stats;
    uint16_t port;                          /* the bound port, kept past the stop */
    LIST_ENTRY(ac_http_server) thread_link; /* the thread's running servers */
    bool listed;
};

/* http_server.c */
struct ac_http_exchange *ac__hx_get(struct ac_http_server *s);
void ac__hx_put(struct ac_http_server *s, struct ac_http_exchange *x);
/* The exchange's connection closed before its done: keep it until then. */
void ac__hx_orphan(struct ac_http_server *s, struct ac_http_exchange *x);
/* A connection was released: finishes a stop when it was the last. */
void ac__http_server_conn_gone(struct ac_http_server *s);

/* The global budget (server.c): take one (false: past max + slack, not
 * taken), give it back, and whether the count is past max. */
bool ac__http_budget_take(ac_http_conn_budget *b, unsigned slack);
void ac__http_budget_give(ac_http_conn_budget *b);
bool ac__http_budget_over(const ac_http_conn_budget *b);

/* http_conn.c */
void ac__hconn_accept(void *arg, ac_tcp_conn *tcp);
/* Whether the connection has nothing pending (a stop may close it now). */
bool ac__hconn_idle(const struct ac__hconn *c);
/* Stop: parse nothing more, close after the pending answers. */
void ac__hconn_drain(struct ac__hconn *c);
/* Closes now (stop deadline, or idle at stop). */
void ac__hconn_close(struct ac__hconn *c);
/* Exchange hooks: bytes of x at the head of the line / x became done. */
AC_MUST_USE int ac__hconn_write(struct ac__hconn *c, struct ac_http_exchange *x,
                                const struct iovec *iov, int iovcnt);
void ac__hconn_done(struct ac__hconn *c, struct ac_http_exchange *x);

#endif
