/*
 * The agent host served over net's HTTP server: each exchange carries a
 * struct ac_exchange in its caller area, so the router's abstract
 * exchange maps one to one onto the connection's ordered exchange and a
 * request costs no allocation here. The arrow points down: runtime uses
 * net's server, net knows nothing of agents.
 */
#include "internal.h"
#include "agentcore/cluster.h"

struct hx_exchange {
    struct ac_exchange ex; /* first */
    ac_http_exchange *hx;
};

static void hx_write(struct ac_exchange *ex, const struct iovec *iov, int iovcnt)
{
    struct hx_exchange *e = (struct hx_exchange *)ex;
    /* -ENOMEM has closed the connection; the exchange still ends with done() */
    if (ac_http_exchange_write(e->hx, iov, iovcnt) != 0)
        ac_log_warn("agent: response dropped: out of memory");
}

static void hx_done(struct ac_exchange *ex, bool keep_alive)
{
    struct hx_exchange *e = (struct hx_exchange *)ex;
    ac_http_exchange_done(e->hx, keep_alive);
}

static const struct ac_exchange_ops hx_ops = {.write = hx_write, .done = hx_done};

static void on_request(void *arg, ac_http_exchange *hx, const struct ac_http_request *req)
{
    struct hx_exchange *e = ac_http_exchange_data(hx);
    e->ex.ops = &hx_ops;
    e->ex.req = req;
    e->hx = hx;
    ac_agent_serve(arg, &e->ex);
}

int ac_agent_http_start(ac_agent_host *h, struct ac_net *net,
                        const struct ac_tcp_server_config *tcp,
                        const struct ac_http_server_config *cfg, ac_http_server **out)
{
    struct ac_http_server_config c;
    if (cfg)
        c = *cfg;
    else
        ac_http_server_config_init(&c);
    c.exchange_data = sizeof(struct hx_exchange);
    struct ac__agent_shard *sh = ac__agent_shard_current();
    if (h->cfg.cluster && sh && !sh->client) {
        int err = ac_http_client_create(net, NULL, &sh->client);
        if (err)
            return err;
        /* started by the caller before serving (ac_cluster_shard_start) */
        sh->store = ac_cluster_shard_store(h->cfg.cluster, sh->id);
    }
    if (!c.server)
        c.server = h->cfg.server;
    return ac_http_server_start(net, tcp, &c, on_request, h, out);
}
