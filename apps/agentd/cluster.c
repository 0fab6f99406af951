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

void agentd_cluster_init(struct agentd_cluster *c)
{
    memset(c, 0, sizeof *c);
    ac_cluster_config_init(&c->cfg);
}

/* Splits "a,b,c" (a copy kept in *text) into list; returns the count or -EINVAL. */
static int split(const char *arg, char **text, const char **list, const char *flag)
{
    int n = 0;
    free(*text);
    *text = strdup(arg);
    if (!*text)
        return -ENOMEM;
    for (char *save = NULL, *t = strtok_r(*text, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == AGENTD_MAX_LIST || !ac_cluster_addr_valid(t)) {
            fprintf(stderr, "agentd: --%s: \"%s\" is not host:port (numeric host)%s\n", flag, t,
                    n == AGENTD_MAX_LIST ? " or too many" : "");
            return -EINVAL;
        }
        list[n++] = t;
    }
    return n;
}

static int millis(const char *arg, uint64_t *out, const char *flag)
{
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);
    if (*end || !*arg || v == 0 || v > 3600000) {
        fprintf(stderr, "agentd: --%s: \"%s\" is not 1..3600000 ms\n", flag, arg);
        return -EINVAL;
    }
    *out = v * 1000000ull;
    return 0;
}

int agentd_cluster_flag(struct agentd_cluster *c, int opt, const char *arg)
{
    int n;
    switch (opt) {
    case AGENTD_OPT_CLUSTER_ADVERTISE:
        if (!ac_cluster_addr_valid(arg) || strlen(arg) >= sizeof c->advertise) {
            fprintf(stderr, "agentd: --cluster-advertise: \"%s\" is not host:port\n", arg);
            return -EINVAL;
        }
        strcpy(c->advertise, arg);
        break;
    case AGENTD_OPT_CLUSTER_MEMBERS:
        n = split(arg, &c->members_text, c->members, "cluster-members");
        if (n < 0)
            return n;
        c->cfg.nmembers = (unsigned)n;
        break;
    case AGENTD_OPT_CLUSTER_REDIS:
        n = split(arg, &c->redis_text, c->redis, "cluster-redis");
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
            fprintf(stderr, "agentd: --cluster-mode: \"%s\" is not proxy or redirect\n", arg);
            return -EINVAL;
        }
        break;
    case AGENTD_OPT_CLUSTER_STORE:
        if (strcmp(arg, "memory") == 0)
            c->cfg.store = AC_CLUSTER_STORE_MEMORY;
        else if (strcmp(arg, "redis") == 0)
            c->cfg.store = AC_CLUSTER_STORE_REDIS;
        else {
            fprintf(stderr, "agentd: --cluster-session-store: \"%s\" is not memory or redis\n",
                    arg);
            return -EINVAL;
        }
        break;
    case AGENTD_OPT_CLUSTER_TTL:
        if (millis(arg, &c->cfg.member_ttl_ns, "cluster-ttl-ms"))
            return -EINVAL;
        break;
    case AGENTD_OPT_CLUSTER_POLL:
        if (millis(arg, &c->cfg.poll_ns, "cluster-poll-ms"))
            return -EINVAL;
        break;
    default:
        return -ENOENT;
    }
    c->enabled = true;
    return 0;
}

int agentd_cluster_create(struct agentd_cluster *c, const char *host, uint16_t port)
{
    int err;
    if (!c->enabled)
        return 0;
    if (!c->advertise[0]) {
        bool v6 = strchr(host, ':') != NULL;
        snprintf(c->advertise, sizeof c->advertise, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "",
                 port);
    }
    if (c->cfg.store == AC_CLUSTER_STORE_REDIS && !c->cfg.nredis) {
        fprintf(stderr, "agentd: --cluster-session-store redis needs --cluster-redis\n");
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
