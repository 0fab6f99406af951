/*
 * The cluster object (runtime/cluster/cluster.c): config checks, views,
 * and — against a real redis-server — membership registration and the
 * versioned session store (a stale owner cannot overwrite a newer write).
 */
#include "net/resp/helpers.h"

static ac_cluster *make(const char *self, const char *const *members, unsigned n)
{
    struct ac_cluster_config cfg;
    ac_cluster *c;
    ac_cluster_config_init(&cfg);
    cfg.advertise = self;
    cfg.members = members;
    cfg.nmembers = n;
    cr_assert_eq(ac_cluster_create(&cfg, &c), 0);
    return c;
}

Test(runtime_cluster_view, static_members_with_self_added_and_sorted)
{
    const char *m[] = {"127.0.0.1:3", "127.0.0.1:1"};
    ac_cluster *c = make("127.0.0.1:2", m, 2);
    struct ac_cluster_view v;
    ac_cluster_view_get(c, &v);
    cr_assert_eq(v.generation, 1);
    cr_assert_eq(ac_placement_count(v.placement), 3);
    cr_assert_str_eq(ac_placement_node(v.placement, 0), "127.0.0.1:1");
    cr_assert_str_eq(ac_placement_node(v.placement, 2), "127.0.0.1:3");
    cr_assert_eq(v.self, 1);
    cr_assert_str_eq(ac_cluster_config(c)->node_id, "127.0.0.1:2");
    ac_cluster_destroy(c);
}

Test(runtime_cluster_view, a_changed_set_publishes_a_new_generation_an_equal_one_does_not)
{
    ac_cluster *c = make("127.0.0.1:1", NULL, 0);
    struct ac_cluster_view v1, v2, v3;
    const char *a[] = {"127.0.0.1:2", "127.0.0.1:1"}, *b[] = {"127.0.0.1:2", "127.0.0.1:2"};
    ac_cluster_view_get(c, &v1);
    cr_assert_eq(ac_placement_count(v1.placement), 1);
    cr_assert_eq(ac_cluster_members_set(c, a, 2), 0);
    ac_cluster_view_get(c, &v2);
    cr_assert_eq(v2.generation, v1.generation + 1);
    cr_assert_eq(ac_placement_count(v2.placement), 2);
    /* the same set (self implied, duplicates folded): nothing new */
    cr_assert_eq(ac_cluster_members_set(c, b, 2), 0);
    ac_cluster_view_get(c, &v3);
    cr_assert_eq(v3.generation, v2.generation);
    /* the old view's placement stays readable */
    cr_assert_eq(ac_placement_count(v1.placement), 1);
    ac_cluster_destroy(c);
}

Test(runtime_cluster_view, owned_since_holds_only_while_this_node_owned_the_key_throughout)
{
    ac_cluster *c = make("127.0.0.1:1", NULL, 0);
    const char *two[] = {"127.0.0.1:1", "127.0.0.1:2"};
    uint64_t mine = 0, theirs = 0;
    struct ac_cluster_view v;
    cr_assert(ac_cluster_owned_since(c, 42, 1), "alone, this node owns everything");
    cr_assert_eq(ac_cluster_members_set(c, two, 2), 0); /* generation 2 */
    ac_cluster_view_get(c, &v);
    for (uint64_t k = 1; !mine || !theirs; k++) {
        if ((int)ac_placement_owner(v.placement, k) == v.self)
            mine = mine ? mine : k;
        else
            theirs = theirs ? theirs : k;
    }
    cr_assert(ac_cluster_owned_since(c, mine, 1));
    cr_assert(!ac_cluster_owned_since(c, theirs, 1), "the other node owned it in generation 2");
    cr_assert(!ac_cluster_owned_since(c, mine, 7), "a generation never published");
    cr_assert(!ac_cluster_owned_since(c, mine, 0));
    cr_assert_eq(ac_cluster_members_set(c, two, 1), 0); /* back to one: generation 3 */
    cr_assert(!ac_cluster_owned_since(c, theirs, 1));
    cr_assert(ac_cluster_owned_since(c, theirs, 3));
    ac_cluster_destroy(c);
}

Test(runtime_cluster_view, bad_configs_are_refused)
{
    struct ac_cluster_config cfg;
    ac_cluster *c;
    const char *bad[] = {"localhost:80"};
    ac_cluster_config_init(&cfg);
    cr_assert_eq(ac_cluster_create(&cfg, &c), -EINVAL); /* no advertise */
    cfg.advertise = "127.0.0.1";
    cr_assert_eq(ac_cluster_create(&cfg, &c), -EINVAL); /* no port */
    cfg.advertise = "127.0.0.1:70000";
    cr_assert_eq(ac_cluster_create(&cfg, &c), -EINVAL);
    cfg.advertise = "[::1]:8080";
    cfg.members = bad;
    cfg.nmembers = 1;
    cr_assert_eq(ac_cluster_create(&cfg, &c), -EINVAL); /* names are not resolved */
    cfg.nmembers = 0;
    cfg.store = AC_CLUSTER_STORE_REDIS;
    cr_assert_eq(ac_cluster_create(&cfg, &c), -EINVAL); /* a Redis store needs Redis */
    cfg.store = AC_CLUSTER_STORE_MEMORY;
    cr_assert_eq(ac_cluster_create(&cfg, &c), 0);
    ac_cluster_destroy(c);
}

/* ---- against redis-server ------------------------------------------------ */

struct ctx {
    struct tshard sh;
    struct redis_srv redis;
    ac_cluster *cl;
    _Atomic bool flag;
    int res;
    uint64_t version;
    char data[64];
    uint64_t write_version;
    const char *write_data;
};

static void start_on_shard(void *arg)
{
    struct ctx *x = arg;
    x->res = ac_cluster_shard_start(x->cl, x->sh.net[0], 0);
    atomic_store(&x->flag, true);
}

static void stopped(void *arg)
{
    atomic_store(&((struct ctx *)arg)->flag, true);
}

static void stop_on_shard(void *arg)
{
    struct ctx *x = arg;
    ac_cluster_shard_stop(x->cl, 0, stopped, x);
}

static void on_written(void *arg, int res)
{
    struct ctx *x = arg;
    x->res = res;
    atomic_store(&x->flag, true);
}

static void write_on_shard(void *arg)
{
    struct ctx *x = arg;
    ac_session_store *s = ac_cluster_shard_store(x->cl, 0);
    int err = ac_session_store_write(s, "sess-1", 6, x->write_data, strlen(x->write_data),
                                     x->write_version, on_written, x);
    if (err)
        on_written(x, err);
}

static void on_loaded(void *arg, int res, const char *data, size_t len, uint64_t version)
{
    struct ctx *x = arg;
    x->res = res;
    x->version = version;
    snprintf(x->data, sizeof x->data, "%.*s", data ? (int)len : 6, data ? data : "(none)");
    atomic_store(&x->flag, true);
}

static void load_on_shard(void *arg)
{
    struct ctx *x = arg;
    int err = ac_session_store_load(ac_cluster_shard_store(x->cl, 0), "sess-1", 6, on_loaded, x);
    if (err)
        on_loaded(x, err, NULL, 0, 0);
}

static void run(struct ctx *x, ac_msg_fn fn)
{
    atomic_store(&x->flag, false);
    tsh_run(&x->sh, 0, fn, x);
    TSH_WAIT(&x->flag, 10000, "no answer");
}

static int write_version(struct ctx *x, uint64_t v, const char *data)
{
    x->write_version = v;
    x->write_data = data;
    run(x, write_on_shard);
    return x->res;
}

Test(runtime_cluster_store, stale_versions_are_refused_and_the_newest_state_loads)
{
    static struct ctx x;
    char redis[32];
    const char *r[] = {redis};
    struct ac_cluster_config cfg;
    redis_start(&x.redis);
    snprintf(redis, sizeof redis, "127.0.0.1:%u", x.redis.port);
    ac_cluster_config_init(&cfg);
    cfg.advertise = "127.0.0.1:9";
    cfg.redis = r;
    cfg.nredis = 1;
    cfg.store = AC_CLUSTER_STORE_REDIS;
    cfg.prefix = "t";
    cr_assert_eq(ac_cluster_create(&cfg, &x.cl), 0);
    tsh_start(&x.sh, 1);
    run(&x, start_on_shard);
    cr_assert_eq(x.res, 0);

    run(&x, load_on_shard);
    cr_assert_eq(x.res, 0);
    cr_assert_eq(x.version, 0, "nothing stored yet");
    cr_assert_str_eq(x.data, "(none)");

    cr_assert_eq(write_version(&x, 1, "{\"n\":1}"), 0);
    cr_assert_eq(write_version(&x, 1, "{\"n\":99}"), -ESTALE, "same version twice");
    cr_assert_eq(write_version(&x, 3, "{\"n\":3}"), 0);
    cr_assert_eq(write_version(&x, 2, "{\"n\":2}"), -ESTALE, "an older owner's write");

    run(&x, load_on_shard);
    cr_assert_eq(x.res, 0);
    cr_assert_eq(x.version, 3);
    cr_assert_str_eq(x.data, "{\"n\":3}");

    /* membership registered this node with a TTL, and the stop removes it */
    redisReply *ttl = NULL;
    for (int i = 0; i < 500; i++) {
        ttl = redis_do(&x.redis, "PTTL t:node:127.0.0.1:9");
        if (ttl && ttl->type == REDIS_REPLY_INTEGER && ttl->integer > 0)
            break;
        if (ttl)
            freeReplyObject(ttl);
        ttl = NULL;
        usleep(10000);
    }
    cr_assert_not_null(ttl, "the node never registered");
    cr_assert_leq(ttl->integer, 3000);
    freeReplyObject(ttl);
    run(&x, stop_on_shard);
    redisReply *ex = redis_do(&x.redis, "EXISTS t:node:127.0.0.1:9");
    cr_assert_not_null(ex);
    cr_assert_eq(ex->integer, 0, "a stopped node leaves at once");
    freeReplyObject(ex);
    tsh_stop(&x.sh);
    ac_cluster_destroy(x.cl);
    redis_kill(&x.redis);
}
