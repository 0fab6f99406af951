/*
 * Scripts: EVALSHA with the script's SHA-1 (nettle), and EVAL when the
 * server answers NOSCRIPT. The request keeps its encoded arguments after
 * "EVALSHA <sha1>" (tail_off), so the fallback re-encodes only the head.
 */
#include "internal.h"

#include <errno.h>
#include <nettle/sha1.h>
#include <stdio.h>
#include <string.h>

void ac_resp_script_init(struct ac_resp_script *s, const char *lua)
{
    static const char hex[] = "0123456789abcdef";
    struct sha1_ctx ctx;
    uint8_t d[SHA1_DIGEST_SIZE];
    s->lua = lua;
    s->len = strlen(lua);
    sha1_init(&ctx);
    sha1_update(&ctx, s->len, (const uint8_t *)lua);
    sha1_digest(&ctx, sizeof d, d);
    for (size_t i = 0; i < sizeof d; i++) {
        s->sha1[2 * i] = hex[d[i] >> 4];
        s->sha1[2 * i + 1] = hex[d[i] & 15];
    }
    s->sha1[40] = '\0';
}

/* "*N\r\n" + the command name + one argument: the part that differs. */
static size_t head_len(int argc, const char *cmd, size_t arg_len)
{
    char n[16];
    return (size_t)snprintf(n, sizeof n, "*%d\r\n", argc) + ac__resp_arg_len(strlen(cmd)) +
           ac__resp_arg_len(arg_len);
}

static char *put_head(char *out, int argc, const char *cmd, const char *arg, size_t arg_len)
{
    out += sprintf(out, "*%d\r\n", argc);
    out = ac__resp_encode_arg(out, cmd, strlen(cmd));
    return ac__resp_encode_arg(out, arg, arg_len);
}

int ac_resp_eval(ac_resp_client *c, const struct ac_resp_script *s, int nkeys, int nargs,
                 const char *const *args, const size_t *lens, ac_resp_reply_fn cb, void *arg)
{
    char nk[16];
    if (!cb || nkeys < 0 || nargs < nkeys)
        return -EINVAL;
    int err = ac__resp_client_admit(c);
    if (err)
        return err;
    int argc = 3 + nargs;
    size_t nk_len = (size_t)snprintf(nk, sizeof nk, "%d", nkeys);
    size_t head = head_len(argc, "EVALSHA", 40);
    size_t tail = ac__resp_arg_len(nk_len);
    for (int i = 0; i < nargs; i++)
        tail += ac__resp_arg_len(lens ? lens[i] : strlen(args[i]));
    struct resp_req *r = ac__resp_req_new(c, head + tail, cb, arg);
    if (!r)
        return -ENOMEM;
    char *p = put_head(r->buf, argc, "EVALSHA", s->sha1, 40);
    p = ac__resp_encode_arg(p, nk, nk_len);
    for (int i = 0; i < nargs; i++)
        p = ac__resp_encode_arg(p, args[i], lens ? lens[i] : strlen(args[i]));
    AC_ASSERT((size_t)(p - r->buf) == r->len);
    r->script = s;
    r->tail_off = (uint32_t)head;
    err = ac__resp_req_submit(c, r);
    if (err)
        ac__resp_req_discard(c, r);
    return err;
}

int ac__resp_eval_fallback(struct ac_resp_client *c, struct resp_req *old)
{
    int argc = 0;
    AC_ASSERT(sscanf(old->buf, "*%d\r\n", &argc) == 1);
    size_t tail = old->len - old->tail_off;
    size_t head = head_len(argc, "EVAL", old->script->len);
    struct resp_req *r = ac__resp_req_new(c, head + tail, old->cb, old->arg);
    if (!r)
        return -ENOMEM;
    char *p = put_head(r->buf, argc, "EVAL", old->script->lua, old->script->len);
    memcpy(p, old->buf + old->tail_off, tail);
    r->deadline = old->deadline; /* the caller's timeout still counts from the first send */
    r->resent = true;            /* one command for the caller, not two */
    if (ac_timer_armed(&old->timer))
        ac_timer_cancel(&old->timer);
    int err = ac__resp_req_submit(c, r);
    if (err) {
        ac__resp_req_discard(c, r);
        return err;
    }
    return 0;
}
