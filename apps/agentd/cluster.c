/*
 * agentd's cluster flags: parsed into an ac_cluster_config, turned into
 * the process' ac_cluster once the listening port is known (with
 * --port 0 the advertise address needs the port the kernel picked).
 */
#include "cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct option agentd_cluster_options[] = {AGENTD_CLUSTER_OPTIONS, {0, 0, 0, 0}};

void agentd_cluster_init(struct agentd_cluster *c)
{
    memset(c, 0, sizeof *c);
    ac_cluster_config_init(&c->cfg);
}

/* Splits "a,b,c" (a copy kept in *text) into list; the count or -EINVAL/-ENOMEM. */
static int split(const char *arg, char **text, const char **list, char *why, size_t cap)
{
    int n = 0;
    free(*text);
    *text = strdup(arg);
    if (!*text)
        return -ENOMEM;
    for (char *save = NULL, *t = strtok_r(*text, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == AGENTD_MAX_LIST) {
            snprintf(why, cap, "at most %d addresses", AGENTD_MAX_LIST);
            return -EINVAL;
        }
        if (!ac_cluster_addr_valid(t)) {
            snprintf(why, cap, "\"%s\" is not host:port with a numeric host", t);
            return -EINVAL;
        }
        list[n++] = t;
    }
    if (!n) {
        snprintf(why, cap, "expected host:port[,host:port...]");
        return -EINVAL;
    }
    return n;
}

static int millis(const char *arg, uint64_t *out, char *why, size_t cap)
{
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);
    if (*end || !*arg || v == 0 || v > 3600000) {
        snprintf(why, cap, "\"%s\" is not 1..3600000 (milliseconds)", arg);
        return -EINVAL;
    }
    *out = v * 1000000ull;
    return 0;
}

int agentd_cluster_set(struct agentd_cluster *c, int opt, const char *arg, char *why, size_t cap)
{
    int n;
    switch (opt) {
    case AGENTD_OPT_CLUSTER_NODE_ID:
        if (!*arg || strlen(arg) >= sizeof c->node_id) {
            snprintf(why, cap, "expected 1..%zu bytes", sizeof c->node_id - 1);
            return -EINVAL;
        }
        strcpy(c->node_id, arg);
        c->cfg.node_id = c->node_id;
        break;
    case AGENTD_OPT_CLUSTER_ADVERTISE:
        if (!ac_cluster_addr_valid(arg) || strlen(arg) >= sizeof c->advertise) {
            snprintf(why, cap, "\"%s\" is not host:port with a numeric host", arg);
            return -EINVAL;
        }
        strcpy(c->advertise, arg);
        break;
    case AGENTD_OPT_CLUSTER_MEMBERS:
        n = split(arg, &c->members_text, c->members, why, cap);
        if (n < 0)
            return n;
        c->cfg.nmembers = (unsigned)n;
        break;
    case AGENTD_OPT_CLUSTER_REDIS:
        n = split(arg, &c->redis_text, c->redis, why, cap);
        if (n < 0)
            return n;
        c->cfg.nredis = (unsigned)n;
        break;
    case AGENTD_OPT_CLUSTER_MODE:
        if (strcmp(arg, "proxy") == 0)
            c->cfg.mode = AC_CLUSTER_PROXY;
        else if (strcmp(arg, "redirect") == 0)
            c->cfg.mode = AC_CLUSTER_REDIRECT;
        else {
            snprintf(why, cap, "expected proxy or redirect, not \"%s\"", arg);
            return -EINVAL;
        }
        break;
    case AGENTD_OPT_CLUSTER_STORE:
        if (strcmp(arg, "memory") == 0)
            c->cfg.store = AC_CLUSTER_STORE_MEMORY;
        else if (strcmp(arg, "redis") == 0)
            c->cfg.store = AC_CLUSTER_STORE_REDIS;
        else {
            snprintf(why, cap, "expected memory or redis, not \"%s\"", arg);
            return -EINVAL;
        }
        break;
    case AGENTD_OPT_CLUSTER_TTL:
        if (millis(arg, &c->cfg.member_ttl_ns, why, cap))
            return -EINVAL;
        break;
    case AGENTD_OPT_CLUSTER_POLL:
        if (millis(arg, &c->cfg.poll_ns, why, cap))
            return -EINVAL;
        break;
    default:
        return -ENOENT;
    }
    c->enabled = true;
    return 0;
}

int agentd_cluster_flag(struct agentd_cluster *c, int opt, const char *arg)
{
    char why[160];
    int err = agentd_cluster_set(c, opt, arg, why, sizeof why);
    if (err == -EINVAL) {
        const char *name = "cluster";
        for (const struct option *o = agentd_cluster_options; o->name; o++)
            if (o->val == opt)
                name = o->name;
        fprintf(stderr, "agentd: --%s: %s\n", name, why);
    }
    return err;
}

int agentd_cluster_create(struct agentd_cluster *c, const char *host, uint16_t port)
{
    int err;
    /* a config section may fill cfg directly: members or Redis also turn it on */
    if (!c->enabled && !c->cfg.nmembers && !c->cfg.nredis)
        return 0;
    if (!c->advertise[0]) {
        bool v6 = strchr(host, ':') != NULL;
        snprintf(c->advertise, sizeof c->advertise, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "",
                 port);
    }
    if (c->cfg.store == AC_CLUSTER_STORE_REDIS && !c->cfg.nredis) {
        fprintf(stderr, "agentd: cluster: session_store redis needs Redis nodes "
                        "(--cluster-redis)\n");
        return -EINVAL;
    }
    c->cfg.advertise = c->advertise;
    c->cfg.members = c->members;
    c->cfg.redis = c->redis;
    err = ac_cluster_create(&c->cfg, &c->cluster);
    if (err)
        fprintf(stderr, "agentd: cluster: %s\n", ac_strerror(err));
    return err;
}

void agentd_cluster_destroy(struct agentd_cluster *c)
{
    ac_cluster_destroy(c->cluster);
    free(c->members_text);
    free(c->redis_text);
    c->cluster = NULL;
}

int agentd_cluster_shard_start(struct agentd_cluster *c, ac_net *net, unsigned shard)
{
    return c->cluster ? ac_cluster_shard_start(c->cluster, net, shard) : 0;
}

void agentd_cluster_shard_stop(struct agentd_cluster *c, unsigned shard, void (*done)(void *arg),
                               void *arg)
{
    if (c->cluster)
        ac_cluster_shard_stop(c->cluster, shard, done, arg);
    else
        done(arg);
}
