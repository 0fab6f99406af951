/*
 * agentcore/http.h — HTTP/1.1 request parsing and response writing over
 * byte slices (part of the net module). No socket code: the connection
 * layer feeds received bytes in and sends the bytes written out.
 *
 * Parser. One ac_http_parser per connection. Feed it whatever arrived;
 * it returns one event at a time and how many bytes it used, so pipelined
 * requests come out one by one, in order:
 *
 *     while (len > 0) {
 *         size_t used;
 *         enum ac_http_event ev = ac_http_parser_feed(p, data, len, &used);
 *         data += used, len -= used;
 *         if (ev == AC_HTTP_REQUEST) handle(ac_http_parser_request(p));
 *         else if (ev == AC_HTTP_CONTINUE) send "HTTP/1.1 100 Continue\r\n\r\n";
 *         else if (ev == AC_HTTP_ERROR) { send the error, close; break; }
 *         // AC_HTTP_NEED_MORE: used == len, wait for more bytes
 *     }
 *
 * Lifetime rules (zero copy):
 *  1. The request returned after AC_HTTP_REQUEST points into the `data`
 *     of the feed call that returned it and/or into the parser's own
 *     per-request buffers; nothing points into earlier slices (what a
 *     request still needs from a slice is copied before that feed
 *     returns). Keep that `data` unchanged while you use the request.
 *  2. The request is valid until the next ac_http_parser_feed or
 *     ac_http_parser_destroy. Copy what must live longer.
 *  3. A request that arrives whole in one slice is not copied at all; a
 *     head or body split across slices is copied once.
 *
 * Strictness (smuggling defences; each has a stable error code):
 *  - CR must be followed by LF and LF preceded by CR in the head, chunk
 *    lines and trailers (bare LF and bare CR: 400 bare_lf / bare_cr);
 *  - obsolete line folding: 400 obs_fold; control bytes: 400 bad_character;
 *  - whitespace or other non-token bytes in a field name: 400 bad_header_name;
 *  - Content-Length with Transfer-Encoding: 400 conflicting_framing; two
 *    Content-Length headers, even equal ones: 400 duplicate_content_length;
 *  - Transfer-Encoding other than exactly "chunked": 501
 *    unsupported_transfer_encoding; Transfer-Encoding in HTTP/1.0: 400;
 *  - chunk sizes: hex digits only, at most 15 of them, and the CRLF after
 *    each chunk's data is checked (Debian's libhttp-parser is built
 *    non-strict and skips that check, so body framing is ours);
 *  - HTTP/1.1 without exactly one Host: 400 bad_host; versions other than
 *    1.0 and 1.1: 505.
 *
 * Everything is single-threaded: a parser belongs to its connection's
 * shard. The parser never allocates for a request that arrives whole
 * except the header array (reused across requests).
 *
 * Writer. Functions that write a response head, chunks, SSE events and
 * the JSON error body into caller-provided buffers (and iovecs for the
 * body), with a per-shard cached Date header.
 */
#ifndef AGENTCORE_HTTP_H
#define AGENTCORE_HTTP_H

#include "agentcore/base.h"

#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A byte string inside an input slice or a parser buffer; not NUL-terminated. */
struct ac_http_str {
    const char *p;
    size_t len;
};

struct ac_http_header {
    struct ac_http_str name, value; /* value without surrounding blanks */
};

enum ac_http_method {
    AC_HTTP_OTHER = 0, /* parsed, but none of the below: see method_str */
    AC_HTTP_GET,
    AC_HTTP_HEAD,
    AC_HTTP_POST,
    AC_HTTP_PUT,
    AC_HTTP_DELETE,
    AC_HTTP_OPTIONS,
    AC_HTTP_PATCH,
};

struct ac_http_request {
    enum ac_http_method method;
    struct ac_http_str method_str;
    struct ac_http_str target; /* request-target as sent */
    struct ac_http_str path;   /* target up to '?' (origin form) */
    struct ac_http_str query;  /* after '?', without '#...'; len 0 if none */
    unsigned version_minor;    /* HTTP/1.<minor>: 0 or 1 */
    const struct ac_http_header *headers;
    unsigned nheaders;
    struct ac_http_str body; /* de-chunked; len 0 if none */
    bool keep_alive;         /* false: answer with Connection: close, then close */
    bool expect_continue;    /* sent Expect: 100-continue */
    bool chunked;            /* body came with Transfer-Encoding: chunked */
};

/* The outcome of a feed call. */
enum ac_http_event {
    AC_HTTP_NEED_MORE, /* every byte used; the request is not complete */
    AC_HTTP_CONTINUE,  /* head of an Expect: 100-continue request parsed:
                          send "100 Continue" (once), then keep feeding */
    AC_HTTP_REQUEST,   /* a whole request: ac_http_parser_request() */
    AC_HTTP_ERROR,     /* malformed: ac_http_parser_error(); the parser is
                          dead, answer with that status and close */
};

/* Why a request was refused: status code, stable code, human text (static). */
struct ac_http_error {
    int status;
    const char *code;
    const char *message;
};

struct ac_http_limits {
    size_t max_head;      /* request line + headers, bytes (default 8192) → 431 */
    unsigned max_headers; /* header fields (default 64) → 431 */
    size_t max_body;      /* body bytes after de-chunking (default 1 MiB) → 413 */
};

/* Fills `lim` with the defaults above. */
void ac_http_limits_init(struct ac_http_limits *lim);

typedef struct ac_http_parser ac_http_parser;

/*
 * Allocates a parser (NULL `lim`: defaults). Returns 0 and *out, -EINVAL
 * for a zero limit, or -ENOMEM. The caller owns it: ac_http_parser_destroy.
 */
AC_MUST_USE int ac_http_parser_create(const struct ac_http_limits *lim, ac_http_parser **out);

void ac_http_parser_destroy(ac_http_parser *p);

/*
 * Parses from `data` until one event; *consumed says how many bytes were
 * used (the rest belongs to the next call). After AC_HTTP_REQUEST the next
 * call starts the next pipelined request. After AC_HTTP_ERROR every call
 * returns AC_HTTP_ERROR with *consumed = 0. `len` 0 returns NEED_MORE.
 */
enum ac_http_event ac_http_parser_feed(ac_http_parser *p, const char *data, size_t len,
                                       size_t *consumed);

/* The request after AC_HTTP_REQUEST (see the lifetime rules), else NULL. */
const struct ac_http_request *ac_http_parser_request(const ac_http_parser *p);

/* The error after AC_HTTP_ERROR, else NULL. */
const struct ac_http_error *ac_http_parser_error(const ac_http_parser *p);

/*
 * True while part of a request has arrived but not all of it: the
 * connection runs its header/body read timeout (408) then, and its idle
 * keep-alive timeout otherwise.
 */
bool ac_http_parser_busy(const ac_http_parser *p);

/* Frees the per-request buffers (call on idle connections). Between
 * requests only (otherwise a no-op); ends the delivered request. */
void ac_http_parser_trim(ac_http_parser *p);

/* Case-insensitive lookup of a header; NULL if absent. */
const struct ac_http_header *ac_http_request_header(const struct ac_http_request *r,
                                                    const char *name);

/* True when `s` equals the NUL-terminated `lit` byte for byte. */
bool ac_http_str_eq(struct ac_http_str s, const char *lit);

/* ---- responses -------------------------------------------------------- */

/*
 * The Date header value, formatted at most once per second. One per shard
 * (owned by the shard's HTTP state); not thread-safe by design.
 */
struct ac_http_date {
    int64_t sec;   /* wall-clock second `text` shows; 0: never formatted */
    char text[32]; /* "Sun, 06 Nov 1994 08:49:37 GMT" */
};

/* Returns the current date text, refreshing the cache if a second passed. */
const char *ac_http_date_now(struct ac_http_date *d);

/* Reason phrase for a status code ("Unknown" for codes we never send). */
const char *ac_http_reason(int status);

struct ac_http_response {
    int status;
    const char *content_type;             /* NULL: none */
    const struct ac_http_header *headers; /* extra headers, may be NULL */
    unsigned nheaders;
    uint64_t content_length; /* ignored when chunked or for 1xx/204/304 */
    unsigned retry_after;    /* seconds; > 0 adds Retry-After (429, 503) */
    bool keep_alive;         /* false: Connection: close */
    bool http10;             /* the request was HTTP/1.0: keep-alive is explicit */
    bool head_only;          /* answering HEAD: same headers, no body */
    bool chunked;            /* Transfer-Encoding: chunked; body via ac_http_chunk_* */
};

/*
 * Writes the status line and headers (Date, Server, Content-Type,
 * Content-Length or Transfer-Encoding, Connection, Retry-After, extras)
 * and the blank line into buf. `server` may be NULL (no Server header).
 * HTTP/1.0 has no chunked coding: for http10 with chunked, the writer
 * clears r->chunked and r->keep_alive (the body then ends at close; write
 * it raw). Returns the length written, or -ENOBUFS when `cap` is too small.
 */
AC_MUST_USE int ac_http_response_head(char *buf, size_t cap, struct ac_http_response *r,
                                      struct ac_http_date *date, const char *server);

/*
 * A whole response as iovecs for sendmsg: iov[0] = head (written to
 * headbuf), iov[1] = body (unless HEAD, 1xx/204/304 or empty). Sets
 * r->content_length = body_len (not for chunked). Returns the iovec count
 * (1 or 2) or -ENOBUFS. The body is referenced, not copied.
 */
AC_MUST_USE int ac_http_response_iov(struct iovec iov[2], char *headbuf, size_t cap,
                                     struct ac_http_response *r, struct ac_http_date *date,
                                     const char *server, const void *body, size_t body_len);

/*
 * One chunk of a chunked body as iovecs: size line (written to `hdr`, at
 * least 20 bytes), data, CRLF. `len` 0 writes the last chunk "0\r\n\r\n"
 * as one iovec. Returns the iovec count.
 */
int ac_http_chunk_iov(struct iovec iov[3], char hdr[20], const void *data, size_t len);

/*
 * One Server-Sent Event: an optional "event: <name>" line, then every line
 * of `data` as "data: <line>" (CRLF, CR and LF all split lines), then a
 * blank line. Returns the length written, or -ENOBUFS if more than `cap`
 * is needed (see ac_http_sse_size).
 */
AC_MUST_USE int ac_http_sse_event(char *buf, size_t cap, const char *event, const char *data,
                                  size_t len);

/* Bytes ac_http_sse_event needs for these arguments. */
size_t ac_http_sse_size(const char *event, const char *data, size_t len);

/*
 * The JSON error body {"error":{"code":"...","message":"..."}} with both
 * strings escaped. Returns its length, or -ENOBUFS.
 */
AC_MUST_USE int ac_http_error_body(char *buf, size_t cap, const char *code, const char *message);

/*
 * A whole error response (head + JSON body) in one buffer: the status,
 * keep_alive, http10, head_only, retry_after and extra headers (e.g.
 * Allow for 405) of `r` are used, the rest is set here. Returns the length written, or -ENOBUFS.
 */
AC_MUST_USE int ac_http_error_response(char *buf, size_t cap, struct ac_http_response *r,
                                       struct ac_http_date *date, const char *server,
                                       const char *code, const char *message);

/* ---- server: HTTP/1.1 over ac_tcp_conn --------------------------------- */

/*
 * An HTTP/1.1 server on one shard's ac_net (net.h): accepts, parses with
 * ac_http_parser, and hands each request to a callback as an exchange. The
 * callback answers through the exchange, now or later; responses go out
 * strictly in request order whatever order the answers come in
 * (pipelining), so an exchange answered early is buffered until the ones
 * before it are done. Parse errors, 100 Continue and the request timeout
 * (408) are answered here, in order with the rest.
 *
 * Per connection: keep-alive with an idle timeout; a request timeout from
 * the first byte of a request to its last (a slowloris connection is
 * answered 408 and closed at that deadline, whatever it trickles);
 * backpressure — no further request is parsed while max_pipeline answers
 * are pending or more than max_output response bytes wait, and the socket
 * is not read while parsing is held; a response with keep_alive false (or
 * a client's end of stream) ends the connection after the bytes before it
 * have gone: the sending side is shut down, then input is drained briefly
 * so that the peer reads the response instead of a reset.
 *
 * Rules (in addition to net.h's):
 *  1. Everything runs on the shard that owns the net.
 *  2. An exchange is valid from the request callback until
 *     ac_http_exchange_done; it stays valid when its connection closes
 *     first (writes are then dropped). Each exchange must be ended with
 *     ac_http_exchange_done exactly once — or, if that can no longer
 *     happen (the runtime stopped), ac_http_server_destroy frees it.
 *  3. The request passed to the callback is valid during the call only.
 */

typedef struct ac_http_server ac_http_server;
typedef struct ac_http_exchange ac_http_exchange;
struct ac_net;
struct ac_tcp_server_config;

/*
 * A connection budget several servers share (typically one per shard):
 * the global connection limit. Created before the shards start, destroyed
 * after they stopped; any thread may use it meanwhile (one atomic count).
 */
typedef struct ac_http_conn_budget ac_http_conn_budget;

/* Returns 0 and *out, -EINVAL (max 0) or -ENOMEM. */
AC_MUST_USE int ac_http_conn_budget_create(unsigned max, ac_http_conn_budget **out);
void ac_http_conn_budget_destroy(ac_http_conn_budget *b);
/* Connections held now (a snapshot). */
unsigned ac_http_conn_budget_used(const ac_http_conn_budget *b);

struct ac_http_server_config {
    struct ac_http_limits limits; /* parser limits (ac_http_limits_init) */
    uint64_t request_timeout_ns;  /* first byte to whole request, else 408 (default 10 s) */
    uint64_t idle_timeout_ns;     /* keep-alive connection with nothing pending (default 60 s) */
    uint64_t linger_ns;           /* input drained after a closing response (default 1 s) */
    size_t linger_max;            /* bytes drained then, at most (default 1 MiB) */
    unsigned max_pipeline;        /* pending answers that hold parsing (default 32) */
    size_t max_output;            /* pending response bytes that hold parsing (default 256 KiB) */
    /* Bytes one connection may buffer, each way: answers waiting for a
     * client that does not read (or behind a slow earlier answer), and
     * input held while parsing is paused. Past it the connection is
     * closed, counted in buffer_closes and logged once (default 4 MiB). */
    size_t max_buffered;
    size_t exchange_data; /* bytes of caller space in each exchange (default 0) */
    /* Connections held by this server (default 16384) and by every server
     * sharing `budget` (NULL: no global limit). A connection past either
     * gets 503 + Retry-After: 1 and is closed; more than 1024 past them
     * are closed at once without an answer (a flood must not buy memory). */
    unsigned max_conns;
    ac_http_conn_budget *budget;
    /* max_conns, max_buffered and linger_max: 0 takes the default;
     * max_buffered is raised to max_output when below it. */
    const char *server; /* Server header of responses made here (NULL: none) */
};

/* Fills `cfg` with the defaults above. */
void ac_http_server_config_init(struct ac_http_server_config *cfg);

/*
 * A parsed request (rule 3). The callback must end `x` (rule 2), at once
 * or later, on this shard.
 */
typedef void (*ac_http_request_fn)(void *arg, ac_http_exchange *x,
                                   const struct ac_http_request *req);

/* Counters of one server (plain; read on its shard or after it stopped). */
struct ac_http_server_stats {
    uint64_t connections;      /* accepted */
    uint64_t requests;         /* handed to the callback */
    uint64_t parse_errors;     /* answered 4xx/5xx by the parser */
    uint64_t request_timeouts; /* answered 408 */
    uint64_t idle_closes;      /* keep-alive connections closed idle */
    uint64_t parse_holds;      /* times backpressure held parsing */
    uint64_t orphans;          /* exchanges whose connection closed first */
    uint64_t conns_refused;    /* past max_conns or the budget: 503 or closed */
    uint64_t buffer_closes;    /* closed past max_buffered (a client not reading) */
};

/*
 * Starts listening with `tcp` on the calling shard's `net` (SO_REUSEPORT:
 * every shard may serve the same port). Returns 0 and *out, -EINVAL for a
 * bad config, -ENOMEM, or the errors of ac_tcp_server_start. The caller
 * owns the server: ac_http_server_stop, then ac_http_server_destroy.
 */
AC_MUST_USE int ac_http_server_start(struct ac_net *net, const struct ac_tcp_server_config *tcp,
                                     const struct ac_http_server_config *cfg, ac_http_request_fn cb,
                                     void *arg, ac_http_server **out);

/* The bound port. */
uint16_t ac_http_server_port(const ac_http_server *s);

typedef void (*ac_http_server_stopped_fn)(void *arg, ac_http_server *s);

/*
 * Graceful stop: closes the listener, closes connections with nothing
 * pending, lets the others finish the answers already requested (no new
 * request is parsed) until `deadline_ns` (CLOCK_MONOTONIC), then closes
 * what is left. cb(arg, s) runs once no connection remains (from a later
 * loop turn, never inside this call). Call it before ac_net_stop. Twice is
 * a broken invariant.
 */
void ac_http_server_stop(ac_http_server *s, uint64_t deadline_ns, ac_http_server_stopped_fn cb,
                         void *arg);

/*
 * Frees the server and every exchange still waiting for its done (rule 2).
 * After the stop callback ran and once nothing can end an exchange any
 * more; any thread then (e.g. after ac_runtime_run returned).
 */
void ac_http_server_destroy(ac_http_server *s);

/* A copy of the counters. */
void ac_http_server_stats(const ac_http_server *s, struct ac_http_server_stats *out);

/*
 * Walks the servers started on the calling thread and not yet stopped:
 * NULL gives the first, then each call the next, NULL after the last
 * (how runtime/metrics finds every server of a shard). Calling thread's
 * own servers only.
 */
ac_http_server *ac_http_server_next(const ac_http_server *prev);

/* The caller's exchange_data bytes (max_align_t aligned). */
void *ac_http_exchange_data(ac_http_exchange *x);

/*
 * Queues response bytes of `x` (copied: the iovecs may be reused when this
 * returns). Returns 0 (also when the connection has closed: the bytes are
 * dropped) or -ENOMEM (the connection is then closed).
 */
AC_MUST_USE int ac_http_exchange_write(ac_http_exchange *x, const struct iovec *iov, int iovcnt);

/*
 * Ends the exchange: its response is complete; keep_alive false closes the
 * connection after it. `x` is invalid afterwards.
 */
void ac_http_exchange_done(ac_http_exchange *x, bool keep_alive);

/* ---- client: HTTP/1.1 over ac_tcp_connect, pooled per peer ------------ */

/*
 * A client on one shard's ac_net: keeps up to max_conns_per_peer
 * keep-alive connections per peer ("host:port", numeric address) and
 * sends each request on an idle one, a new one, or queues it until one is
 * free. One request per connection at a time (no pipelining).
 *
 * Rules:
 *  1. Everything runs on the shard that owns the net.
 *  2. When ac_http_client_request fails, the callback is never called;
 *     otherwise it runs exactly once, never inside the request call: with
 *     res 0 and the response, or res -ETIMEDOUT (deadline), -ECONNREFUSED
 *     or another connect error (peer unreachable), -ECONNRESET (the
 *     connection ended before the whole response), -EPROTO (malformed
 *     response), -EMSGSIZE (over max_response), -ECANCELED (destroyed).
 *  3. A request sent on a reused idle connection that closes before any
 *     response byte is sent again once on a new connection (the peer shut
 *     an idle connection as we reused it).
 *  4. The response passed to the callback is valid during the call only.
 */
typedef struct ac_http_client ac_http_client;

struct ac_http_client_config {
    unsigned max_conns_per_peer; /* open connections per peer (default 64) */
    uint64_t connect_timeout_ns; /* default 1 s */
    uint64_t idle_timeout_ns;    /* an idle pooled connection closes after (default 30 s) */
    size_t max_response;         /* body bytes (default 16 MiB) */
};

/* Fills `cfg` with the defaults above. */
void ac_http_client_config_init(struct ac_http_client_config *cfg);

/*
 * Creates a client on the calling shard's `net` (NULL cfg: defaults).
 * Returns 0 and *out, -EINVAL or -ENOMEM. Destroy it before ac_net_stop.
 */
AC_MUST_USE int ac_http_client_create(struct ac_net *net, const struct ac_http_client_config *cfg,
                                      ac_http_client **out);

/*
 * Ends every request (callbacks get -ECANCELED, from inside this call),
 * closes every connection; the memory goes once the last one has closed.
 */
void ac_http_client_destroy(ac_http_client *c);

/* One request; copied by ac_http_client_request. */
struct ac_http_client_request {
    const char *method;                   /* "POST" */
    const char *path;                     /* origin form: "/v1/..." */
    const struct ac_http_header *headers; /* extra headers (not Host, Content-Length) */
    unsigned nheaders;
    const void *body;
    size_t body_len;
    uint64_t deadline_ns; /* CLOCK_MONOTONIC: -ETIMEDOUT after it */
};

struct ac_http_client_response {
    int status;
    const struct ac_http_header *headers;
    unsigned nheaders;       /* the first 32 */
    struct ac_http_str body; /* de-chunked */
};

typedef void (*ac_http_client_fn)(void *arg, int res, const struct ac_http_client_response *r);

/*
 * Sends `rq` to `peer` ("a.b.c.d:port" or "[v6]:port"). Returns 0 (cb
 * runs later, rule 2), -EINVAL (bad peer or request), -ENOMEM, or -ENXIO
 * when the calling thread is not a shard.
 */
AC_MUST_USE int ac_http_client_request(ac_http_client *c, const char *peer,
                                       const struct ac_http_client_request *rq,
                                       ac_http_client_fn cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif
