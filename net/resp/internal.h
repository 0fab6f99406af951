/*
 * Private declarations of the resp module: the reply builder handed to
 * hiredis' reader, the command encoder, and the client's request record.
 */
#ifndef AC_RESP_INTERNAL_H
#define AC_RESP_INTERNAL_H

#include "agentcore/net.h"
#include "agentcore/resp.h"
#include "agentcore/timer.h"

#include <hiredis/read.h>
#include <sys/socket.h>

/* A reader whose replies are struct ac_resp_reply (freed with ac__resp_reply_free). */
redisReader *ac__resp_reader_create(void);
void ac__resp_reply_free(void *reply);

/* Bytes that encoding argc arguments as a RESP array takes. */
size_t ac__resp_encoded_len(int argc, const char *const *argv, const size_t *lens);
/* Encodes into out (ac__resp_encoded_len bytes); returns the end. */
char *ac__resp_encode(char *out, int argc, const char *const *argv, const size_t *lens);
/* Encodes only "$len\r\nbytes\r\n"; returns the end. */
char *ac__resp_encode_arg(char *out, const char *arg, size_t len);
/* Bytes of "$len\r\nbytes\r\n" for an argument of `len` bytes. */
size_t ac__resp_arg_len(size_t len);

/*
 * One command. It lives until three things are over: its place in a queue
 * (waiting for the connection, or in flight awaiting the reply), its write
 * (the buffer must stay until net's write callback) and its answer (the
 * callback ran, once: reply, timeout or failure).
 */
enum req_where { REQ_NOWHERE, REQ_WAITING, REQ_INFLIGHT };

struct resp_req {
    struct resp_req *next;
    struct ac_resp_client *c;
    ac_resp_reply_fn cb;
    void *arg;
    struct ac_timer timer;
    uint64_t deadline;                   /* of the timer (0: none) */
    const struct ac_resp_script *script; /* EVALSHA: resent as EVAL on NOSCRIPT */
    uint32_t tail_off;                   /* EVALSHA: where numkeys starts in buf */
    uint8_t where;                       /* enum req_where */
    bool handshake;                      /* AUTH/SELECT of the connection */
    bool resent;                         /* an EVAL resent for a NOSCRIPT EVALSHA */
    bool answered, writing;
    size_t len;
    char buf[];
};

/* Allocates a request of `len` buffer bytes (not yet queued); NULL: no memory. */
struct resp_req *ac__resp_req_new(struct ac_resp_client *c, size_t len, ac_resp_reply_fn cb,
                                  void *arg);
/* Queues a filled request (arms its timeout). Returns as ac_resp_command. */
int ac__resp_req_submit(struct ac_resp_client *c, struct resp_req *r);
/* Frees a request that was never submitted. */
void ac__resp_req_discard(struct ac_resp_client *c, struct resp_req *r);
/* Resends a NOSCRIPT-answered EVALSHA as EVAL; 0 when the new request took over. */
int ac__resp_eval_fallback(struct ac_resp_client *c, struct resp_req *r);

/* The client's checks shared with ac_resp_eval: 0 or the refusal. */
int ac__resp_client_admit(const struct ac_resp_client *c);

#endif
