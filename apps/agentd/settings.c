/*
 * From agentd's config to the libraries' settings: the one place that
 * says which key drives which knob (docs/CONFIG.md has the same table).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int agentd_addr_parse(const char *text, bool numeric, struct agentd_addr *out, char *why,
                      size_t cap)
{
    const char *host = text, *colon, *port;
    size_t hlen;
    char *end;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            goto bad_form;
        host = text + 1;
        hlen = (size_t)(close - host);
        port = close + 2;
    } else {
        colon = strrchr(text, ':');
        if (!colon || strchr(text, ':') != colon)
            goto bad_form;
        hlen = (size_t)(colon - text);
        port = colon + 1;
    }
    if (hlen >= sizeof out->host) {
        snprintf(why, cap, "host longer than %zu bytes", sizeof out->host - 1);
        return -EINVAL;
    }
    struct agentd_addr a = {{0}, 0};
    if (hlen == 0)
        snprintf(a.host, sizeof a.host, "0.0.0.0"); /* ":8080": every interface, as in Go */
    else
        memcpy(a.host, host, hlen);
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    if (!*port || *end || errno || p > 65535 || *port == '-' || *port == '+') {
        snprintf(why, cap, "port '%s' is not a number from 0 to 65535", port);
        return -EINVAL;
    }
    a.port = (uint16_t)p;
    unsigned char buf[16];
    bool is_ip = inet_pton(AF_INET, a.host, buf) == 1 || inet_pton(AF_INET6, a.host, buf) == 1;
    if (numeric && !is_ip) {
        snprintf(why, cap, "'%s' is not a numeric IP address (agentd resolves no names here)",
                 a.host);
        return -EINVAL;
    }
    if (!is_ip &&
        strspn(a.host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
            strlen(a.host)) {
        snprintf(why, cap, "'%s' is not a host name or IP address", a.host);
        return -EINVAL;
    }
    *out = a;
    return 0;
bad_form:
    snprintf(why, cap, "expected host:port such as 127.0.0.1:8080 or [::1]:8080, not '%s'", text);
    return -EINVAL;
}

void agentd_settings_from_config(const struct agentd_config *c, struct agentd_settings *s)
{
    ac_runtime_config_init(&s->rt);
    ac_net_config_init(&s->net);
    ac_http_server_config_init(&s->http);

    s->rt.cpus = c->cpus[0] ? c->cpus : NULL;
    s->rt.shards = c->shards;
    s->rt.numa_node = c->numa_node;
    s->rt.sched_queue_size = c->queue_size;
    s->rt.backend = c->io_backend;
    s->rt.no_stealing = !c->work_stealing;
    for (unsigned i = 0; i < AC_PRIO_COUNT; i++)
        s->rt.sched_weights[i] = c->priority ? c->weights[i] : 1;
    s->rt.memory_hugetlb = c->hugepages;
    s->rt.memory_idle_release_ns = c->idle_release_ns;

    s->net.buf_size = (unsigned)c->read_buffer_size;
    s->net.high_water = c->write_buffer_size;
    if (!c->zero_copy)
        s->net.zc_threshold = 0;

    s->tcp = (struct ac_tcp_server_config){.host = c->api.host, .port = c->api.port};

    s->http.request_timeout_ns = c->http_request_timeout_ns;
    s->http.idle_timeout_ns = c->keep_alive_timeout_ns;
    s->http.limits.max_body = c->max_body;

    s->host = (struct ac_agent_host_config){.timeout_ns = c->request_timeout_ns};
    s->drain_ns = c->shutdown_timeout_ns;
    /* in-flight answers get the drain time, then the net its own 100 ms */
    s->rt.stop_timeout_ns = c->shutdown_timeout_ns + 1000000000ull;
}

void agentd_settings_for_shards(const struct agentd_config *c, unsigned nshards,
                                struct agentd_settings *s)
{
    s->rt.memory_limit =
        c->memory_limit_per_shard ? c->memory_limit_per_shard : c->memory_limit / nshards;
    s->host.shards = nshards;
    s->host.max_in_flight =
        c->max_concurrent_requests ? (c->max_concurrent_requests + nshards - 1) / nshards : 0;
}
