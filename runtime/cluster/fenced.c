/*
 * The fenced write: what a resource guarded by these locks does with the
 * fencing token (Kleppmann's "How to do distributed locking"). Here the
 * resource is a key on node 0 and the check runs in Redis itself.
 */
#include "internal.h"
#include "agentcore/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct fenced_write {
    ac_dlock_written_fn cb;
    void *arg;
};

static void written(void *arg, int res, const struct ac_resp_reply *r)
{
    struct fenced_write *w = arg;
    if (res == 0)
        res = r->type == AC_RESP_INTEGER ? (r->integer == 1 ? 0 : -ESTALE) : -EPROTO;
    ac_dlock_written_fn cb = w->cb;
    void *cb_arg = w->arg;
    ac_free(w);
    cb(cb_arg, res);
}

int ac_dlock_fenced_set(ac_dlock *d, const char *key, const char *value, uint64_t fence,
                        ac_dlock_written_fn cb, void *arg)
{
    char fkey[256], f[24];
    if (!cb || !key || !value || snprintf(fkey, sizeof fkey, "%s:fence", key) >= (int)sizeof fkey)
        return -EINVAL;
    snprintf(f, sizeof f, "%llu", (unsigned long long)fence);
    struct fenced_write *w = ac_alloc(sizeof *w);
    if (!w)
        return -ENOMEM;
    w->cb = cb;
    w->arg = arg;
    const char *args[] = {key, fkey, value, f};
    int err = ac_resp_eval(d->node[0], &d->script[SCRIPT_FENCED_SET], 2, 4, args, NULL, written, w);
    if (err)
        ac_free(w);
    return err;
}
