/*
 * agentcore/resp.h — an asynchronous Redis client on net's TCP (the resp
 * module, beside net/http).
 *
 * One ac_resp_client is one connection to one Redis server, owned by one
 * shard: commands are encoded into a single buffer each, queued on the
 * connection and pipelined (several per send); replies are parsed with
 * hiredis' reader and matched to commands in order. Each command has a
 * timeout on the shard's timer wheel. A dropped connection fails what was
 * in flight and reconnects with jittered exponential backoff; AUTH and
 * SELECT run first on every connection. Lua scripts go out as EVALSHA
 * and fall back to EVAL when the server does not know the script.
 *
 * Rules:
 *  1. A client is used on the shard that created it (the thread with the
 *     ac_net). Per-shard connections: every shard makes its own clients.
 *  2. Every command's callback runs exactly once, on that shard: res 0 with
 *     the reply (a Redis error is a reply of type AC_RESP_ERROR, not a
 *     failure), or res < 0 with reply NULL: -ETIMEDOUT (no reply within
 *     the timeout; a late reply is dropped), -ECONNRESET (the connection
 *     dropped before the reply), -ENOTCONN (the client is waiting to
 *     reconnect: failed at once), -ECANCELED (the client closed), -EPROTO
 *     (the server sent something that is not RESP).
 *  3. A reply is lent: valid during the callback only.
 *  4. When a function that takes a callback fails, the callback is never
 *     called.
 *  5. The client owns copies of everything it is given (config strings,
 *     command arguments); a script (struct ac_resp_script) is the caller's
 *     and must outlive every command that uses it. It is immutable after
 *     ac_resp_script_init, so one script may serve every shard.
 */
#ifndef AGENTCORE_RESP_H
#define AGENTCORE_RESP_H

#include "agentcore/base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ac_net;
typedef struct ac_resp_client ac_resp_client;

/* Reply types (RESP2). */
enum ac_resp_type {
    AC_RESP_STRING = 1, /* bulk string */
    AC_RESP_ARRAY,
    AC_RESP_INTEGER,
    AC_RESP_NIL,
    AC_RESP_STATUS, /* simple string, e.g. "OK" */
    AC_RESP_ERROR,  /* e.g. "NOSCRIPT No matching script" */
};

struct ac_resp_reply {
    enum ac_resp_type type;
    long long integer;              /* AC_RESP_INTEGER */
    size_t len;                     /* bytes of str */
    char *str;                      /* STRING, STATUS, ERROR: NUL-terminated */
    size_t elements;                /* AC_RESP_ARRAY */
    struct ac_resp_reply **element; /* AC_RESP_ARRAY */
};

struct ac_resp_config {
    const char *host;            /* numeric address or a name (resolved once, at create) */
    uint16_t port;               /* default 6379 */
    const char *password;        /* AUTH on connect when set */
    const char *username;        /* AUTH username password (Redis 6 ACL) when set */
    unsigned db;                 /* SELECT on connect when not 0 */
    uint64_t connect_timeout_ns; /* default 1 s */
    uint64_t command_timeout_ns; /* per command (default 1 s; 0: none) */
    uint64_t backoff_min_ns;     /* first reconnect delay (default 10 ms) */
    uint64_t backoff_max_ns;     /* delay cap, doubling from the min (default 1 s) */
    unsigned max_pending;        /* commands queued or awaiting a reply (default 65536):
                                    beyond it a command is refused with -EAGAIN */
};

/* Counters of one client (plain; read on its shard). */
struct ac_resp_stats {
    uint64_t commands; /* accepted by ac_resp_command/ac_resp_eval */
    uint64_t replies;  /* replies matched to a command */
    uint64_t timeouts; /* commands failed with -ETIMEDOUT */
    uint64_t failed;   /* commands failed with another error */
    uint64_t connects; /* connections that completed their handshake */
    uint64_t drops;    /* connections lost (peer closed, error, protocol error) */
    uint64_t noscript; /* EVALSHA answered NOSCRIPT and resent as EVAL */
    uint64_t pending;  /* commands queued or in flight now */
    bool connected;    /* a connection is up (not a counter) */
};

/* res and reply as in rule 2. */
typedef void (*ac_resp_reply_fn)(void *arg, int res, const struct ac_resp_reply *reply);
typedef void (*ac_resp_closed_fn)(void *arg, ac_resp_client *c);

/* Fills `cfg` with the defaults above (host "127.0.0.1"). */
void ac_resp_config_init(struct ac_resp_config *cfg);

/*
 * Creates a client on the calling shard's `net` and starts connecting;
 * commands issued before the connection is up are queued and go out once
 * the handshake (AUTH, SELECT) succeeded. Returns 0 and *out, -EINVAL (no
 * host, bad port), -EHOSTUNREACH (the name does not resolve), -ENOMEM, or
 * -errno from the socket.
 */
AC_MUST_USE int ac_resp_client_create(struct ac_net *net, const struct ac_resp_config *cfg,
                                      ac_resp_client **out);

/*
 * Closes: every queued or in-flight command fails with -ECANCELED, the
 * connection closes, then cb(arg, c) runs (may be NULL) and the client is
 * freed. Calling shard only; closing twice is a broken invariant. Close
 * clients before stopping their net.
 */
void ac_resp_client_close(ac_resp_client *c, ac_resp_closed_fn cb, void *arg);

/*
 * Sends one command: `argc` arguments, each argv[i] of argvlen[i] bytes
 * (argvlen NULL: NUL-terminated strings). The arguments are copied.
 * Returns 0 (cb runs later, rule 2), -EINVAL (argc < 1), -ENOTCONN
 * (waiting to reconnect), -EAGAIN (max_pending reached), -ECANCELED
 * (closing) or -ENOMEM.
 */
AC_MUST_USE int ac_resp_command(ac_resp_client *c, int argc, const char *const *argv,
                                const size_t *argvlen, ac_resp_reply_fn cb, void *arg);

/* A Lua script and its SHA-1 (hex), for ac_resp_eval. */
struct ac_resp_script {
    const char *lua; /* not copied: must outlive the script */
    size_t len;
    char sha1[41];
};

/* Fills `s` for `lua` (computes its SHA-1). Any thread. */
void ac_resp_script_init(struct ac_resp_script *s, const char *lua);

/*
 * Runs a script: EVALSHA sha1 nkeys args..., where args holds the nkeys
 * keys and then the other arguments (nargs in all; lens NULL: strings).
 * When the server answers NOSCRIPT (e.g. after a restart or SCRIPT FLUSH)
 * the same call is resent as EVAL, which also caches the script there;
 * the callback sees only the final reply. Returns as ac_resp_command.
 */
AC_MUST_USE int ac_resp_eval(ac_resp_client *c, const struct ac_resp_script *s, int nkeys,
                             int nargs, const char *const *args, const size_t *lens,
                             ac_resp_reply_fn cb, void *arg);

/* True while a connection is up and its handshake succeeded. */
bool ac_resp_client_connected(const ac_resp_client *c);

/* A copy of the counters. */
void ac_resp_client_stats(const ac_resp_client *c, struct ac_resp_stats *out);

/* True when `r` is an error reply whose text starts with `prefix` (e.g. "NOSCRIPT"). */
bool ac_resp_reply_is_error(const struct ac_resp_reply *r, const char *prefix);

#ifdef __cplusplus
}
#endif
#endif
