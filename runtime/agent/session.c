/*
 * Session placement and per-session state.
 *
 * ac_session_hash is unseeded on purpose: any process (another node, a
 * load balancer, a test) can compute which shard owns a session. That
 * makes the hash predictable, but an attacker who wants one shard busy
 * can simply reuse one session_id, so a seed would buy nothing.
 *
 * State lives only on the owner shard, in a chained hash table keyed by
 * the id. Each session carries its own timer (the shard's wheel makes
 * start and cancel O(1)); every get or put restarts it, and when it fires
 * the session and its JSON value are freed.
 *
 * Bounded: a shard holds at most session_max sessions. The TTL alone
 * bounds nothing (one client minting new ids grew RSS by 68 MB in 10 s),
 * so sessions also sit on a least-recently-used list (get and put move
 * one to the front) and a new session past the cap evicts the one at the
 * back: counted, and logged once per shard.
 */
#include "internal.h"
#include "agentcore/cluster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct ac__session {
    struct ac__session *next;
    TAILQ_ENTRY(ac__session) lru; /* sh->lru, most recent first */
    struct ac__agent_shard *sh;
    struct ac_timer ttl;
    json_t *value;
    uint64_t version, gen; /* Redis store: last version loaded/written, under view gen */
    uint64_t hash;
    size_t len;
    char id[];
};

uint64_t ac_session_hash(const char *id, size_t len)
{
    return ac_hash64(id, len);
}

unsigned ac_session_shard(const char *id, unsigned shards)
{
    return (unsigned)(ac_session_hash(id, strlen(id)) % shards);
}

/* Buckets use the high half: the low bits already chose the shard. */
static size_t bucket_of(const struct ac__agent_shard *sh, uint64_t hash)
{
    return (size_t)(hash >> 32) & (sh->nbuckets - 1);
}

static struct ac__session **find(struct ac__agent_shard *sh, const char *id, size_t len,
                                 uint64_t hash)
{
    struct ac__session **pp;
    if (!sh->nbuckets)
        return NULL;
    for (pp = &sh->buckets[bucket_of(sh, hash)]; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == hash && (*pp)->len == len && memcmp((*pp)->id, id, len) == 0)
            return pp;
    return NULL;
}

/* Unlists and frees `s` (its timer stopped first). */
static void drop(struct ac__session *s)
{
    struct ac__agent_shard *sh = s->sh;
    struct ac__session **pp = find(sh, s->id, s->len, s->hash);
    AC_ASSERT(pp && *pp == s);
    *pp = s->next;
    TAILQ_REMOVE(&sh->lru, s, lru);
    sh->nsessions--;
    ac_timer_cancel(&s->ttl);
    json_decref(s->value);
    free(s);
}

static void on_expire(struct ac_timer *t, void *arg)
{
    (void)t;
    drop(arg);
}

/* Makes room for one more session: evicts the least recently used. */
static void evict_lru(struct ac__agent_shard *sh)
{
    struct ac__session *s = TAILQ_LAST(&sh->lru, ac__session_lru);
    AC_ASSERT(s);
    AC_AGENT_STAT_ADD(sh->sessions_evicted, 1);
    if (!sh->evict_logged) {
        sh->evict_logged = true; /* the count tells the rest */
        ac_log_warn("agents: shard %u holds %zu sessions (session_max): evicting the least "
                    "recently used (counted in sessions_evicted; logged once)",
                    sh->id, sh->nsessions);
    }
    drop(s);
}

static void touch(struct ac__session *s)
{
    TAILQ_REMOVE(&s->sh->lru, s, lru);
    TAILQ_INSERT_HEAD(&s->sh->lru, s, lru);
    ac_timer_cancel(&s->ttl);
    AC_ASSERT(ac_timer_start(&s->ttl, s->sh->host->cfg.session_ttl_ns, on_expire, s) == 0);
}

/* The calling shard's state when it owns session `id`, else NULL. */
static struct ac__agent_shard *owner(const char *id, size_t len, uint64_t *hash)
{
    struct ac__agent_shard *sh = ac__agent_shard_current();
    if (!sh || !id)
        return NULL;
    *hash = ac_session_hash(id, len);
    return *hash % sh->host->cfg.shards == sh->id ? sh : NULL;
}

json_t *ac_session_get(const char *id)
{
    uint64_t hash;
    size_t len = id ? strlen(id) : 0;
    struct ac__agent_shard *sh = owner(id, len, &hash);
    struct ac__session **pp = sh ? find(sh, id, len, hash) : NULL;
    if (!pp)
        return NULL;
    touch(*pp);
    return (*pp)->value;
}

static bool grow(struct ac__agent_shard *sh)
{
    size_t n = sh->nbuckets ? sh->nbuckets * 2 : 64;
    struct ac__session **b = calloc(n, sizeof *b);
    if (!b)
        return false;
    for (size_t i = 0; i < sh->nbuckets; i++)
        for (struct ac__session *s = sh->buckets[i], *next; s; s = next) {
            next = s->next;
            size_t k = (size_t)(s->hash >> 32) & (n - 1);
            s->next = b[k];
            b[k] = s;
        }
    free(sh->buckets);
    sh->buckets = b;
    sh->nbuckets = n;
    return true;
}

/* Stores `value` (taken) as session id's; NULL and *err on failure. */
static struct ac__session *upsert(struct ac__agent_shard *sh, const char *id, size_t len,
                                  uint64_t hash, json_t *value, int *err)
{
    struct ac__session **pp = find(sh, id, len, hash), *s;
    if (pp) {
        json_decref((*pp)->value);
        (*pp)->value = value;
        touch(*pp);
        return *pp;
    }
    if (sh->nsessions >= sh->host->cfg.session_max)
        evict_lru(sh);
    if (sh->nsessions >= sh->nbuckets && !grow(sh)) {
        json_decref(value);
        *err = -ENOMEM;
        return NULL;
    }
    s = calloc(1, sizeof *s + len + 1);
    if (!s) {
        json_decref(value);
        *err = -ENOMEM;
        return NULL;
    }
    s->sh = sh;
    s->value = value;
    s->hash = hash;
    s->len = len;
    memcpy(s->id, id, len);
    size_t k = bucket_of(sh, hash);
    s->next = sh->buckets[k];
    sh->buckets[k] = s;
    sh->nsessions++;
    TAILQ_INSERT_HEAD(&sh->lru, s, lru);
    touch(s);
    return s;
}

int ac_session_put(const char *id, json_t *value)
{
    uint64_t hash;
    size_t len = id ? strlen(id) : 0;
    struct ac__agent_shard *sh;
    struct ac__session *s;
    int err = 0;
    if (!id || !len || !value) {
        json_decref(value);
        return -EINVAL;
    }
    sh = owner(id, len, &hash);
    if (!sh) {
        json_decref(value);
        return -EXDEV;
    }
    s = upsert(sh, id, len, hash, value, &err);
    if (s && sh->store) /* the store hook: written through before the answer */
        ac__session_store_write(sh, s->id, s->len, s->value, ++s->version);
    return err;
}

bool ac__session_fresh(struct ac__agent_shard *sh, const char *id, size_t len, uint64_t gen)
{
    uint64_t hash = ac_session_hash(id, len);
    struct ac__session **pp = find(sh, id, len, hash);
    if (!pp || !(*pp)->gen)
        return false;
    if ((*pp)->gen == gen)
        return true;
    /* the view changed: the copy holds if this node owned the session
     * throughout (no other node can have written it) */
    if (!ac_cluster_owned_since(sh->host->cfg.cluster, hash, (*pp)->gen))
        return false;
    (*pp)->gen = gen;
    return true;
}

int ac__session_install(struct ac__agent_shard *sh, const char *id, size_t len, json_t *value,
                        uint64_t version, uint64_t gen)
{
    uint64_t hash = ac_session_hash(id, len);
    struct ac__session **pp = find(sh, id, len, hash), *s;
    int err = 0;
    if (pp && (*pp)->gen == gen && (*pp)->version >= version) {
        json_decref(value); /* a load that crossed this node's own newer write */
        return 0;
    }
    s = upsert(sh, id, len, hash, value, &err);
    if (s) {
        s->version = version;
        s->gen = gen;
    }
    return err;
}

void ac__session_drop(struct ac__agent_shard *sh, const char *id, size_t len)
{
    struct ac__session **pp = find(sh, id, len, ac_session_hash(id, len));
    if (pp) {
        ac_timer_cancel(&(*pp)->ttl);
        on_expire(&(*pp)->ttl, *pp);
    }
}

size_t ac_session_count(void)
{
    struct ac__agent_shard *sh = ac__agent_shard_current();
    return sh ? sh->nsessions : 0;
}

uint64_t ac_session_evictions(void)
{
    struct ac__agent_shard *sh = ac__agent_shard_current();
    return sh ? atomic_load_explicit(&sh->sessions_evicted, memory_order_relaxed) : 0;
}

void ac__agent_sessions_close(struct ac__agent_shard *sh)
{
    for (size_t i = 0; i < sh->nbuckets; i++)
        for (struct ac__session *s = sh->buckets[i], *next; s; s = next) {
            next = s->next;
            ac_timer_cancel(&s->ttl);
            json_decref(s->value);
            free(s);
        }
    free(sh->buckets);
    sh->buckets = NULL;
    TAILQ_INIT(&sh->lru);
    sh->nbuckets = sh->nsessions = 0;
}
