/*
 * Two passes over argv: the first finds --config (and --help, --version),
 * the second applies every other flag over what the file said, so flags
 * win wherever they stand on the line.
 */
#include "cli.h"

#include "backend.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_CONFIG = 256,
    OPT_CHECK,
    OPT_PRINT,
    OPT_EMIT,
    OPT_VERSION,
    OPT_NUMA,
    OPT_ADMIN_PORT,
    OPT_LOG_LEVEL,
    OPT_LOG_FILE,
    OPT_REDIS_NODES,
    OPT_LOCK_TYPE,
    OPT_LOCK_TIMEOUT,
    OPT_LOCK_RETRY_COUNT,
    OPT_LOCK_RETRY_DELAY,
    OPT_LOCK_DRIFT,
    OPT_LOCK_NODE_TIMEOUT,
    OPT_BACKEND,
    OPT_CAPABILITIES,
};

static const struct option opts[] = {
    {"config", required_argument, 0, OPT_CONFIG},
    {"check-config", no_argument, 0, OPT_CHECK},
    {"print-config", no_argument, 0, OPT_PRINT},
    {"emit-prometheus-rules", optional_argument, 0, OPT_EMIT},
    {"version", no_argument, 0, OPT_VERSION},
    {"help", no_argument, 0, 'h'},
    {"port", required_argument, 0, 'p'},
    {"host", required_argument, 0, 'H'},
    {"admin-port", required_argument, 0, OPT_ADMIN_PORT},
    {"cpus", required_argument, 0, 'c'},
    {"numa-node", required_argument, 0, OPT_NUMA},
    {"log-level", required_argument, 0, OPT_LOG_LEVEL},
    {"log-file", required_argument, 0, OPT_LOG_FILE},
    {"request-timeout-ms", required_argument, 0, 'r'},
    {"idle-timeout-ms", required_argument, 0, 'i'},
    {"drain-ms", required_argument, 0, 'd'},
    {"max-body", required_argument, 0, 'b'},
    {"agent-timeout-ms", required_argument, 0, 't'},
    {"queue-size", required_argument, 0, 'Q'},
    {"memory-limit", required_argument, 0, 'm'},
    {"quiet", no_argument, 0, 'q'},
    {"redis-nodes", required_argument, 0, OPT_REDIS_NODES},
    {"lock-type", required_argument, 0, OPT_LOCK_TYPE},
    {"lock-timeout-ms", required_argument, 0, OPT_LOCK_TIMEOUT},
    {"lock-retry-count", required_argument, 0, OPT_LOCK_RETRY_COUNT},
    {"lock-retry-delay-ms", required_argument, 0, OPT_LOCK_RETRY_DELAY},
    {"lock-drift-factor", required_argument, 0, OPT_LOCK_DRIFT},
    {"lock-node-timeout-ms", required_argument, 0, OPT_LOCK_NODE_TIMEOUT},
    {"backend", required_argument, 0, OPT_BACKEND},
    {"capabilities", no_argument, 0, OPT_CAPABILITIES},
    AGENTD_CLUSTER_OPTIONS,
    {0, 0, 0, 0},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: agentd [--config FILE] [flags]\n"
               "  --config FILE           YAML config (reference: configs/agentd.yaml);\n"
               "                          without it: API on 127.0.0.1:8080, admin on :9090\n"
               "  --check-config          validate the config and exit (0 valid, 2 not)\n"
               "  --print-config          print the effective config as YAML and exit\n"
               "  --emit-prometheus-rules[=FILE]\n"
               "                          write monitoring.alert_rules as a Prometheus rules file\n"
               "  --port N --host A       API listener (server.listen; port 0: any free port)\n"
               "  --admin-port N          admin listener port (monitoring.admin_listen)\n"
               "  --admin-host A          admin listener address (127.0.0.1)\n"
               "  --no-metrics            nothing recorded on the request path; no /metrics\n"
               "  --cpus LIST             CPUs to run shards on, e.g. 0-3,6 (scheduler.cpus)\n"
               "  --numa-node N           every CPU of node N (scheduler.numa_node)\n"
               "  --log-level L           error|warn|info|debug (logging.level)\n"
               "  --log-file F            log to F, reopened on SIGHUP (logging.file)\n"
               "  --request-timeout-ms MS whole request received (10000; 408 after)\n"
               "  --idle-timeout-ms MS    keep-alive idle (server.keep_alive_timeout)\n"
               "  --drain-ms MS           drain on SIGTERM (server.shutdown_timeout)\n"
               "  --max-body BYTES        request body limit (server.max_body)\n"
               "  --agent-timeout-ms MS   agent deadline (server.request_timeout)\n"
               "  --queue-size N          tasks per class per shard (scheduler.queue_size)\n"
               "  --memory-limit MIB      heap budget per shard (wins over memory.memory_limit)\n"
               "                          (default: half the machine's or cgroup's memory over\n"
               "                          the shards)\n"
               "  --user NAME             drop root to NAME once listening (server.user)\n"
               "  --admit-target-ms MS    queueing delay target per class (5; 0: admission off)\n"
               "  --admit-interval-ms MS  ... held this long before 503s (100)\n"
               "  --session-max N         sessions per shard, LRU evicted past it (65536)\n"
               "  --max-conns N           connections, all shards (open-file limit - 256)\n"
               "  --max-conns-per-shard N connections per shard (16384)\n"
               "  --quiet                 print only the listening line\n"
               "  --redis-nodes H:P,...   distributed_lock.redis_nodes (sets the section)\n"
               "  --lock-type T           redis|redis_redlock (distributed_lock.type)\n"
               "  --lock-timeout-ms MS    lease TTL (distributed_lock.lock_timeout)\n"
               "  --lock-retry-count N    attempts after the first (distributed_lock.retry_count)\n"
               "  --lock-retry-delay-ms MS between attempts (distributed_lock.retry_delay)\n"
               "  --lock-drift-factor F   0..0.1 (distributed_lock.drift_factor)\n"
               "  --lock-node-timeout-ms MS one request to one Redis node (50)\n"
               "  --backend B             auto|io_uring|epoll (scheduler.io_backend; auto:\n"
               "                          io_uring, else epoll with a warning naming why)\n"
               "  --capabilities          print what this host allows and exit\n"
               "  --help, --version\n"
               "  cluster (section cluster; apps/agentd/cluster.h):\n" AGENTD_CLUSTER_USAGE);
}

static _Noreturn void bad(const char *what, const char *arg)
{
    fprintf(stderr, "agentd: %s: '%s'\n", what, arg);
    usage(stderr);
    exit(2);
}

static uint64_t num(const char *s, uint64_t max, const char *flag)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || !*s || *s == '-' || v > max)
        bad(flag, s);
    return v;
}

/* --redis-nodes host:port,[v6]:port,... : the lock section's nodes (replaced). */
static void redis_nodes(struct agentd_config *c, const char *list)
{
    char buf[AGENTD_REDIS_NODES * (AGENTD_HOST_MAX + 8)];
    if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf)
        bad("--redis-nodes (too long)", list);
    c->lock.nnodes = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        struct agentd_addr *a = &c->lock.nodes[c->lock.nnodes];
        char *colon = strrchr(tok, ':');
        if (c->lock.nnodes == AGENTD_REDIS_NODES || !colon || colon == tok)
            bad("--redis-nodes (host:port,...)", list);
        *colon = '\0';
        if (tok[0] == '[' && colon[-1] == ']') {
            tok++;
            colon[-1] = '\0';
        }
        if (!*tok || strlen(tok) >= sizeof a->host)
            bad("--redis-nodes (host:port,...)", list);
        snprintf(a->host, sizeof a->host, "%s", tok);
        a->port = (uint16_t)num(colon + 1, 65535, "--redis-nodes port");
        if (!a->port)
            bad("--redis-nodes (port 0)", list);
        c->lock.nnodes++;
    }
    if (!c->lock.nnodes)
        bad("--redis-nodes (host:port,...)", list);
    c->lock.configured = true;
}

static void first_pass(int argc, char **argv, struct agentd_cli *cli)
{
    int o;
    opterr = 0; /* the second pass reports bad flags */
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (o == OPT_CONFIG)
            cli->config_path = optarg;
        else if (o == 'h') {
            usage(stdout);
            exit(0);
        } else if (o == OPT_VERSION) {
            printf("agentd %s\n", ac_version());
            exit(0);
        } else if (o == OPT_CAPABILITIES) {
            exit(agentd_capabilities_print());
        }
    }
}

void agentd_cli_parse(int argc, char **argv, struct agentd_config *c, struct agentd_cli *cli)
{
    int o;
    *cli = (struct agentd_cli){0};
    agentd_config_init(c);
    first_pass(argc, argv, cli);
    if (cli->config_path) {
        int err = agentd_config_load(c, cli->config_path, stderr);
        if (err == -EINVAL)
            exit(2);
        if (err) {
            fprintf(stderr, "agentd: %s: %s\n", cli->config_path, ac_strerror(err));
            exit(2);
        }
    }
    optind = 0; /* GNU getopt: start over */
    opterr = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case OPT_CONFIG:
        case OPT_CAPABILITIES: /* first pass */
            break;
        case OPT_CHECK:
            cli->check_config = true;
            break;
        case OPT_PRINT:
            cli->print_config = true;
            break;
        case OPT_EMIT:
            cli->emit_rules = true;
            cli->rules_path = optarg;
            break;
        case 'p':
            c->api.port = (uint16_t)num(optarg, 65535, "--port");
            break;
        case 'H':
            if (strlen(optarg) >= sizeof c->api.host)
                bad("--host", optarg);
            snprintf(c->api.host, sizeof c->api.host, "%s", optarg);
            break;
        case OPT_ADMIN_PORT:
            c->admin.port = (uint16_t)num(optarg, 65535, "--admin-port");
            break;
        case 'c':
            if (strlen(optarg) >= sizeof c->cpus)
                bad("--cpus", optarg);
            snprintf(c->cpus, sizeof c->cpus, "%s", optarg);
            c->shards = 0;
            break;
        case OPT_NUMA:
            c->numa_node = (int)num(optarg, 1023, "--numa-node");
            break;
        case OPT_LOG_LEVEL:
            if (ac_log_level_parse(optarg, &c->log_level))
                bad("--log-level (error, warn, info, debug)", optarg);
            break;
        case OPT_LOG_FILE:
            if (strlen(optarg) >= sizeof c->log_file)
                bad("--log-file", optarg);
            snprintf(c->log_file, sizeof c->log_file, "%s", optarg);
            break;
        case 'r':
            c->http_request_timeout_ns = num(optarg, 86400000, "--request-timeout-ms") * 1000000;
            if (!c->http_request_timeout_ns)
                bad("--request-timeout-ms", optarg);
            break;
        case 'i':
            c->keep_alive_timeout_ns = num(optarg, 86400000, "--idle-timeout-ms") * 1000000;
            break;
        case 'd':
            c->shutdown_timeout_ns = num(optarg, 86400000, "--drain-ms") * 1000000;
            break;
        case 'b':
            c->max_body = num(optarg, 1ull << 30, "--max-body");
            if (!c->max_body)
                bad("--max-body", optarg);
            break;
        case 't':
            c->request_timeout_ns = num(optarg, 86400000, "--agent-timeout-ms") * 1000000;
            break;
        case 'Q':
            c->queue_size = (unsigned)num(optarg, 1u << 24, "--queue-size");
            break;
        case 'm':
            c->memory_limit_per_shard = num(optarg, 1u << 30, "--memory-limit") << 20;
            break;
        case OPT_BACKEND:
            if (ac_ring_backend_parse(optarg, &c->io_backend))
                bad("--backend (auto, io_uring, epoll)", optarg);
            break;
        case 'q':
            cli->quiet = true;
            break;
        case OPT_REDIS_NODES:
            redis_nodes(c, optarg);
            break;
        case OPT_LOCK_TYPE:
            if (strcmp(optarg, "redis") == 0)
                c->lock.type = AGENTD_LOCK_REDIS;
            else if (strcmp(optarg, "redis_redlock") == 0)
                c->lock.type = AGENTD_LOCK_REDLOCK;
            else
                bad("--lock-type (redis or redis_redlock)", optarg);
            break;
        case OPT_LOCK_TIMEOUT:
            c->lock.lock_timeout_ns = num(optarg, 3600000, "--lock-timeout-ms") * 1000000u;
            if (c->lock.lock_timeout_ns == 0)
                bad("--lock-timeout-ms", optarg);
            break;
        case OPT_LOCK_RETRY_COUNT:
            c->lock.retry_count = (unsigned)num(optarg, 1000, "--lock-retry-count");
            break;
        case OPT_LOCK_RETRY_DELAY:
            c->lock.retry_delay_ns = num(optarg, 60000, "--lock-retry-delay-ms") * 1000000u;
            break;
        case OPT_LOCK_DRIFT: {
            char *end;
            double f = strtod(optarg, &end);
            if (*end || !*optarg || !(f >= 0 && f <= 0.1))
                bad("--lock-drift-factor (0..0.1)", optarg);
            c->lock.drift_factor = f;
            break;
        }
        case OPT_LOCK_NODE_TIMEOUT:
            c->lock.node_timeout_ns = num(optarg, 60000, "--lock-node-timeout-ms") * 1000000u;
            if (c->lock.node_timeout_ns == 0)
                bad("--lock-node-timeout-ms", optarg);
            break;
        default: {
            if (agentd_cluster_flag(&c->cluster, o, optarg) == 0)
                break;
            /* getopt, or the cluster flag's reader, printed what was wrong */
            usage(stderr);
            exit(2);
        }
        }
    }
    if (optind < argc)
        bad("unexpected argument", argv[optind]);
}
