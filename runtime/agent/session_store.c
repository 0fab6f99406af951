/*
 * Sessions that survive their node: the agent side of the cluster's Redis
 * session store (cluster.h). Handlers keep using ac_session_get/put.
 *
 *  - Load on first use. Before a call of a session-placed agent starts,
 *    the owner shard checks that its copy is current: loaded under this
 *    membership view, or under an older one since which this node owned
 *    the session in every view (ac_cluster_owned_since). If not — a
 *    session new to this node, expired locally, or one another node may
 *    have owned and written meanwhile — it loads the state from Redis
 *    first and starts the call when the reply is in. After a join or a
 *    leave only the sessions that moved are loaded again (~1/N).
 *  - Write through before the answer. ac_session_put bumps the session's
 *    version and sends the state (JSON text) to Redis; the call whose
 *    handler made the put holds its answer until Redis acknowledged every
 *    such write, so an answered call's state is stored. A write refused
 *    as stale (another owner wrote a newer version) or failed drops the
 *    local copy (the next call reloads) and the call answers 503 with
 *    Retry-After: the client's retry lands on the right owner with the
 *    right state, and no acknowledged update is lost.
 *
 * Limits: a put made outside a handler's run (from a timer, say) is
 * written through but holds no answer; a streamed answer is not held.
 */
#include "internal.h"
#include "agentcore/cluster.h"
#include "agentcore/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A call waiting for its session's state, with its own copy of the body
 * (the exchange's is valid only during ac_agent_serve). */
struct pending_load {
    struct ac__agent_shard *sh;
    unsigned agent, origin;
    struct ac_exchange *ex;
    struct ac__resp_mode mode;
    struct ac__envelope env; /* spans point into body[] */
    uint64_t gen;
    size_t len;
    char body[];
};

/* A write in flight: the call to release, the session to drop on failure. */
struct pending_write {
    struct ac__agent_shard *sh;
    uint64_t call;
    size_t len;
    char id[];
};

static uint64_t view_gen(struct ac__agent_shard *sh)
{
    struct ac_cluster_view v;
    ac_cluster_view_get(sh->host->cfg.cluster, &v);
    return v.generation;
}

static void loaded(void *arg, int res, const char *data, size_t len, uint64_t version)
{
    struct pending_load *p = arg;
    struct ac__agent_shard *sh = p->sh;
    const char *id = ac__envelope_session(&p->env);
    if (ac__agent_shard_current() != sh) { /* the shard stopped meanwhile */
        free(p);
        return;
    }
    json_t *value = NULL;
    if (!res && data) {
        json_error_t e;
        value = json_loadb(data, len, JSON_DECODE_ANY, &e);
        if (!value)
            res = -EPROTO;
    }
    if (!res)
        res = ac__session_install(sh, id, p->env.session_len, value, version, p->gen);
    AC_AGENT_STAT_ADD(sh->cc.loads, 1);
    if (res) {
        AC_AGENT_STAT_ADD(sh->cc.load_errors, 1);
        ac_log_warn("agent: session %s: state not loaded: %s", id, ac_strerror(res));
        ac__agent_reply_error(sh, p->origin, p->ex, p->mode, 503, 1, "session_store_unavailable",
                              "the session's state could not be loaded");
        free(p);
        return;
    }
    ac__agent_call_start(sh, p->agent, p->origin, p->ex, p->mode, &p->env, p->body, p->len);
    free(p);
}

bool ac__session_store_gate(struct ac__agent_shard *sh, unsigned agent, unsigned origin,
                            struct ac_exchange *ex, struct ac__resp_mode mode,
                            const struct ac__envelope *env, const char *body, size_t blen)
{
    if (!sh->store || !env->has_session || sh->agents[agent].def.placement != AC_AGENT_BY_SESSION)
        return false;
    const char *id = env->ids;
    size_t len = env->session_len;
    uint64_t gen = view_gen(sh);
    if (ac__session_fresh(sh, id, len, gen))
        return false;
    struct pending_load *p = malloc(sizeof *p + blen);
    int err = p ? 0 : -ENOMEM;
    if (p) {
        *p = (struct pending_load){.sh = sh,
                                   .agent = agent,
                                   .origin = origin,
                                   .ex = ex,
                                   .mode = mode,
                                   .env = *env,
                                   .gen = gen,
                                   .len = blen};
        memcpy(p->body, body, blen);
        ac__envelope_rebase(&p->env, body, p->body);
        err = ac_session_store_load(sh->store, p->env.ids, len, loaded, p);
    }
    if (err) {
        free(p);
        ac__agent_reply_error(sh, origin, ex, mode, 503, 1, "session_store_unavailable",
                              ac_strerror(err));
    }
    return true;
}

static void written(void *arg, int res)
{
    struct pending_write *w = arg;
    if (ac__agent_shard_current() == w->sh) {
        AC_AGENT_STAT_ADD(w->sh->cc.writes, 1);
        if (res == -ESTALE)
            AC_AGENT_STAT_ADD(w->sh->cc.write_stale, 1);
        else if (res)
            AC_AGENT_STAT_ADD(w->sh->cc.write_errors, 1);
        if (res) {
            ac_log_warn("agent: session %.*s: write-through failed: %s", (int)w->len, w->id,
                        ac_strerror(res));
            ac__session_drop(w->sh, w->id, w->len);
        }
        if (w->call)
            ac__agent_call_store_end(w->call, res);
    }
    free(w);
}

void ac__session_store_write(struct ac__agent_shard *sh, const char *id, size_t len,
                             const json_t *value, uint64_t version)
{
    uint64_t call = ac__agent_call_running(sh);
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    struct pending_write *w = malloc(sizeof *w + len);
    int err = text && w ? 0 : -ENOMEM;
    if (w) {
        w->sh = sh;
        w->call = call;
        w->len = len;
        memcpy(w->id, id, len);
    }
    if (!err)
        err = ac_session_store_write(sh->store, id, len, text, strlen(text), version, written, w);
    free(text);
    if (!err) {
        if (call)
            ac__agent_call_store_begin(call);
        return;
    }
    /* not sent: the state is not stored, so this call must not claim it is */
    AC_AGENT_STAT_ADD(sh->cc.writes, 1);
    AC_AGENT_STAT_ADD(sh->cc.write_errors, 1);
    free(w);
    ac__session_drop(sh, id, len);
    if (call) {
        ac__agent_call_store_begin(call);
        ac__agent_call_store_end(call, err);
    }
}
