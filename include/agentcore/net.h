/*
 * agentcore/net.h — TCP on io_uring (part of the net module).
 *
 * Per shard, one ac_net holds a provided-buffer ring that every connection
 * of the shard receives into (no per-connection read buffer), a free list
 * of write requests and the counters. Handles (long-lived): ac_tcp_server
 * (a listening socket, SO_REUSEPORT so every shard can have one on the same
 * port, multishot accept) and ac_tcp_conn (a connection: multishot recv,
 * an output queue sent with vectored batching, SEND_ZC above a threshold).
 * Requests (one operation): a write, a connect.
 *
 * Ownership and threading rules:
 *  1. Everything here is used on one shard: the thread that created the
 *     ac_net (it must have a current ring, ac_ring_current()). Handles
 *     never move between shards.
 *  2. ac_net, servers and connections are allocated by the library. A
 *     connection's memory is freed right after its close callback returns;
 *     a server's once its accept has ended after ac_tcp_server_close.
 *  3. Received data is lent as a struct ac_slice that is valid during the
 *     read callback only. ac_slice_hold keeps its buffer out of the ring
 *     until ac_slice_release; a held buffer is one the kernel cannot refill
 *     (where receives are packed, one held slice keeps the whole buffer, with
 *     other connections' bytes, from returning), so hold briefly
 *     (ac_tcp_write_slice holds until the bytes are sent).
 *  4. A buffer passed to ac_tcp_write stays owned by the caller and must
 *     stay unchanged until the write callback has run.
 *  5. When a function that takes a callback fails, the callback is never
 *     called. Every write callback runs exactly once: 0 when all bytes were
 *     handed to the kernel, -errno on a send error, -ECANCELED when the
 *     connection closed first.
 *  6. After ac_tcp_close (by the caller, an idle timeout or ac_net_stop)
 *     no callback of that connection runs except the write callbacks —
 *     0 for bytes the kernel had taken already, else -ECANCELED — and then
 *     the close callback. A write callback that wants to close checks
 *     ac_tcp_is_closing first.
 *  7. ac_net_destroy needs every handle closed and every held slice
 *     released; ac_net_stop closes them all and calls back when done.
 */
#ifndef AGENTCORE_NET_H
#define AGENTCORE_NET_H

#include "agentcore/base.h"
#include "agentcore/mem.h"

#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ac_net ac_net;
typedef struct ac_tcp_server ac_tcp_server;
typedef struct ac_tcp_conn ac_tcp_conn;

/*
 * Received bytes in a ring buffer (rule 3): a view of an ac_ioslice of
 * the shard's buffer group (mem.h), whose reference counts are the ones
 * ac_slice_hold/ac_slice_release move.
 */
struct ac_slice {
    const char *data;
    uint32_t len;
    /* private */
    struct ac_ioslice io;
};

struct ac_net_config {
    unsigned buf_count;  /* provided buffers per shard, power of two ≤ 32768 (default 256) */
    unsigned buf_size;   /* bytes each: one of AC_IOBUF_1K/4K/16K/64K (mem.h; default 16 KiB) */
    bool no_incremental; /* a whole buffer per receive even where the kernel (≥ 6.12) could
                            pack several receives into one buffer */
    size_t zc_threshold; /* writes of at least this many bytes use SEND_ZC; 0: never
                            (default AC_NET_ZC_THRESHOLD) */
    bool zc_no_adapt;    /* keep SEND_ZC even when the kernel reports it copied */
    size_t high_water;   /* queued output bytes that pause reading (default 1 MiB);
                            reading resumes below half of it */
    uint64_t mask_kinds; /* ring operation kinds to treat as missing (1 << AC_OP_x),
                            to exercise fallbacks */
};

/*
 * SEND_ZC threshold, from bench_net_zc (bench/RESULTS.md, "SEND_ZC vs
 * send"). On loopback and on a veth pair the kernel copies anyway (every
 * notification says so) and SEND_ZC cost 1.5-16x the sender CPU per byte
 * of a plain send below 64 KiB, because each zero-copy send pins pages and
 * the connection's next send waits for the notification; from 256 KiB up
 * it was within the noise of a plain send on veth (1.05x) even though it
 * copied. On a NIC that really skips the copy, zero-copy can only win
 * where that fixed per-send cost is small against the copy it saves, so
 * the threshold sits at 256 KiB; the adaptive fallback turns it off per
 * connection after the first "copied" notification, so a copying path
 * pays for one send only.
 */
#define AC_NET_ZC_THRESHOLD (256u * 1024u)

/* Why a connection closed (ac_net_stats.closed); the first reason seen wins. */
enum ac_close_cause {
    AC_CLOSE_LOCAL,    /* its owner closed it (e.g. HTTP's Connection: close or timeouts) */
    AC_CLOSE_PEER,     /* the peer ended its side first (end of stream) */
    AC_CLOSE_ERROR,    /* a receive or send failed (reset, broken pipe, ...) */
    AC_CLOSE_IDLE,     /* the net's idle timeout */
    AC_CLOSE_SHUTDOWN, /* ac_net_stop */
    AC_CLOSE_CAUSES
};

/* Counters of one shard's net (plain; read on the owning shard or after it stopped). */
struct ac_net_stats {
    uint64_t accepted, refused; /* connections taken / closed at once (limit) */
    uint64_t accept_rearms;     /* accept re-submitted (multishot ended or single-shot) */
    uint64_t conns_open;        /* connections open now */
    uint64_t recv_rearms;       /* multishot recvs that ended while reading (re-armed) */
    uint64_t enobufs;           /* receives that found the buffer ring empty */
    uint64_t bufs_waits;        /* connections parked until a buffer came back */
    uint64_t bytes_in, bytes_out;
    uint64_t sends, sends_vectored; /* send operations; those with several buffers */
    uint64_t sends_partial;         /* sends that took fewer bytes than offered */
    uint64_t zc_sends, zc_copied;   /* SEND_ZC operations; notifications saying "copied" */
    uint64_t zc_fallbacks;          /* connections that switched to plain sends */
    uint64_t read_pauses;           /* reading paused by the output high-water mark */
    uint64_t idle_timeouts;
    uint64_t fallback_accept, fallback_recv; /* single-shot used: multishot missing */
    uint64_t closed[AC_CLOSE_CAUSES];        /* connections closed, by enum ac_close_cause */
    bool incremental;                        /* receives are packed into buffers (not a counter) */
};

/* Fills `cfg` with the defaults above. */
void ac_net_config_init(struct ac_net_config *cfg);

/*
 * Creates the calling shard's net: maps the buffer memory and registers the
 * provided-buffer ring with the shard's ring. Returns 0 and *out, -ENXIO
 * when the thread has no current ring, -EINVAL for a bad config,
 * -EOPNOTSUPP when the kernel lacks provided-buffer rings, or -ENOMEM.
 */
AC_MUST_USE int ac_net_create(const struct ac_net_config *cfg, ac_net **out);

typedef void (*ac_net_stopped_fn)(void *arg, ac_net *net);

/*
 * Graceful stop: closes every server first (no new connections), closes
 * idle connections, lets connections with queued output send it until
 * `deadline_ns` (CLOCK_MONOTONIC), then closes the rest. A connection it
 * closes that is reading first gets its read callback with -ECANCELED (so
 * the owner can drop its state); it has no close callback. Calls cb(arg, net)
 * once every handle has closed; the net may be destroyed from there.
 * Pair it with ac_shard_hold_stop/ac_shard_release_stop in a shard's stop
 * hook. Calling it twice is a broken invariant.
 */
void ac_net_stop(ac_net *net, uint64_t deadline_ns, ac_net_stopped_fn cb, void *arg);

/* Frees the net (rule 7: nothing open, nothing held). */
void ac_net_destroy(ac_net *net);

/* A copy of the counters. */
void ac_net_stats(const ac_net *net, struct ac_net_stats *out);

/* The net created on the calling thread and not yet destroyed, or NULL. */
ac_net *ac_net_current(void);

/* Keeps the slice's buffer out of the ring until ac_slice_release (rule 3). */
void ac_slice_hold(const struct ac_slice *s);
/* Gives a held buffer back to the ring. */
void ac_slice_release(const struct ac_slice *s);

/* ---- servers ---- */

struct ac_tcp_server_config {
    const char *host;         /* numeric IPv4/IPv6 address (default "127.0.0.1") */
    uint16_t port;            /* 0: the kernel picks (see ac_tcp_server_port) */
    int backlog;              /* default 4096 */
    unsigned max_connections; /* per shard; beyond it a new connection is closed at once
                                 and counted (0: unlimited) */
    uint64_t idle_timeout_ns; /* close connections silent this long (0: never) */
};

/* A new connection; it is open but not reading (call ac_tcp_read_start). */
typedef void (*ac_tcp_accept_fn)(void *arg, ac_tcp_conn *conn);

/*
 * Binds a listening socket with SO_REUSEPORT and starts accepting
 * (multishot, or single-shot when the kernel lacks it). Returns 0 and
 * *out, or -errno from socket/bind/listen, -ENOMEM, -EOPNOTSUPP.
 */
AC_MUST_USE int ac_tcp_server_start(ac_net *net, const struct ac_tcp_server_config *cfg,
                                    ac_tcp_accept_fn cb, void *arg, ac_tcp_server **out);

/* The bound port. */
uint16_t ac_tcp_server_port(const ac_tcp_server *s);

/*
 * Reserves a port for servers on several shards: binds a socket with
 * SO_REUSEPORT to `host` and *port (0: the kernel picks; *port gets the
 * result) without listening, so it never receives a connection but keeps
 * the port while every shard's ac_tcp_server_start joins it. Returns the
 * socket (close it once the servers listen) or -errno. Any thread.
 */
AC_MUST_USE int ac_tcp_reserve_port(const char *host, uint16_t *port);

/* Stops accepting and closes the socket; open connections stay open. */
void ac_tcp_server_close(ac_tcp_server *s);

/* ---- connections ---- */

/*
 * res > 0: `s` holds res bytes (rule 3). res == 0: the peer shut down its
 * side (end of stream; writing is still allowed). res < 0: -errno (e.g.
 * -ECONNRESET). After res ≤ 0 reading has stopped.
 */
typedef void (*ac_tcp_read_fn)(void *arg, ac_tcp_conn *c, int res, const struct ac_slice *s);
/* Write completion (rule 5); may be NULL where ac_tcp_write takes one. */
typedef void (*ac_tcp_write_fn)(void *arg, ac_tcp_conn *c, int res);
typedef void (*ac_tcp_close_fn)(void *arg, ac_tcp_conn *c);

/* Starts delivering received data. Returns 0, -EALREADY or -ENOTCONN (closing). */
AC_MUST_USE int ac_tcp_read_start(ac_tcp_conn *c, ac_tcp_read_fn cb, void *arg);

/*
 * Queues `len` bytes (rule 4). Queued writes go out in order, several per
 * system call. Returns 0, -ENOTCONN when closing, or -ENOMEM.
 */
AC_MUST_USE int ac_tcp_write(ac_tcp_conn *c, const void *buf, size_t len, ac_tcp_write_fn cb,
                             void *arg);

/* Queues a received slice, holding its buffer until sent. No callback. */
AC_MUST_USE int ac_tcp_write_slice(ac_tcp_conn *c, const struct ac_slice *s);

/*
 * Stops receiving until ac_tcp_read_resume (the owner's backpressure;
 * independent of the high-water pause). Data the kernel had already
 * delivered may still reach the read callback after this returns.
 */
void ac_tcp_read_pause(ac_tcp_conn *c);
void ac_tcp_read_resume(ac_tcp_conn *c);

/* Shuts down the sending side once the queued output has gone. Returns 0 or -ENOTCONN. */
AC_MUST_USE int ac_tcp_shutdown(ac_tcp_conn *c);

/*
 * Closes: cancels the pending receive and sends, fails queued writes with
 * -ECANCELED, closes the socket, then calls cb(arg, c) (may be NULL).
 * Closing twice is a broken invariant.
 */
void ac_tcp_close(ac_tcp_conn *c, ac_tcp_close_fn cb, void *arg);

/* True once the connection is closing (any cause). */
bool ac_tcp_is_closing(const ac_tcp_conn *c);

/* Bytes queued and not yet sent. */
size_t ac_tcp_queued(const ac_tcp_conn *c);

/* Closes the connection after `ns` without received data (0: never). */
void ac_tcp_set_idle_timeout(ac_tcp_conn *c, uint64_t ns);

/* User data slot. */
void ac_tcp_set_data(ac_tcp_conn *c, void *data);
void *ac_tcp_data(const ac_tcp_conn *c);

/* The net the connection belongs to. */
ac_net *ac_tcp_net(const ac_tcp_conn *c);

/* res == 0: `c` is connected (not reading yet); else -errno, c == NULL. */
typedef void (*ac_tcp_connect_fn)(void *arg, ac_tcp_conn *c, int res);

/*
 * Connects to `addr` asynchronously; -ETIMEDOUT after `timeout_ns`
 * (0: the kernel's own timeout). Returns 0 or -errno (socket, -ENOMEM).
 */
AC_MUST_USE int ac_tcp_connect(ac_net *net, const struct sockaddr *addr, socklen_t len,
                               uint64_t timeout_ns, ac_tcp_connect_fn cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif
