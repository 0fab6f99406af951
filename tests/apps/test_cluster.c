/*
 * Several agentd nodes as one service (issue 16): real agentd processes
 * on --port 0 with Redis membership, a real redis-server on a port the
 * test picked, all stopped by pid. Requests go through a blocking client
 * (tests/net/http/client.h) with one keep-alive connection per node.
 * Every wait is bounded (membership convergence: 15 s; a request: the
 * client's 10 s receive timeout; retries: counted).
 */
#include "agentd_proc.h"
#include "net/resp/helpers.h"

#define MAX_NODES 4
#define TTL_MS    "1000"
#define POLL_MS   "100"

struct node {
    pid_t pid;
    uint16_t port;
    struct hc *c; /* keep-alive connection, or NULL */
    bool alive;
};

static struct redis_srv redis;
static struct node nodes[MAX_NODES];
static unsigned nnodes;
static char redis_arg[32];

static void node_start(struct node *n, const char *store, const char *mode)
{
    const char *const extra[] = {"--cluster-redis",
                                 redis_arg,
                                 "--cluster-session-store",
                                 store,
                                 "--cluster-mode",
                                 mode,
                                 "--cluster-ttl-ms",
                                 TTL_MS,
                                 "--cluster-poll-ms",
                                 POLL_MS,
                                 NULL};
    struct agentd d;
    agentd_start(&d, extra); /* dies with a crashed test (PDEATHSIG) */
    n->pid = d.pid;
    n->port = d.port;
    n->c = NULL;
    n->alive = true;
}

static void node_kill(struct node *n, int sig)
{
    int st;
    if (n->c) {
        hc_close(n->c);
        free(n->c);
        n->c = NULL;
    }
    if (!n->alive)
        return;
    kill(n->pid, sig);
    for (int i = 0; i < 1500 && waitpid(n->pid, &st, WNOHANG) != n->pid; i++)
        usleep(10000);
    if (kill(n->pid, 0) == 0) {
        kill(n->pid, SIGKILL);
        waitpid(n->pid, &st, 0);
    }
    n->alive = false;
}

static void cluster_up(unsigned n, const char *store, const char *mode)
{
    redis_start(&redis);
    snprintf(redis_arg, sizeof redis_arg, "127.0.0.1:%u", redis.port);
    nnodes = n;
    for (unsigned i = 0; i < n; i++)
        node_start(&nodes[i], store, mode);
}

static void cluster_down(void)
{
    for (unsigned i = 0; i < MAX_NODES; i++)
        node_kill(&nodes[i], SIGTERM);
    redis_kill(&redis);
}

/* One request to node n on its keep-alive connection: status or -1. */
static int request(struct node *n, const char *raw, struct hc_resp *r)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!n->c) {
            n->c = malloc(sizeof *n->c);
            cr_assert_not_null(n->c);
            if (!hc_open(n->c, n->port)) {
                free(n->c);
                n->c = NULL;
                return -1;
            }
        }
        if (hc_sends(n->c, raw) && hc_read(n->c, r, false)) {
            char v[16];
            if (hc_header(r, "Connection", v, sizeof v) && strcasecmp(v, "close") == 0) {
                hc_close(n->c);
                free(n->c);
                n->c = NULL;
            }
            return r->status;
        }
        hc_close(n->c); /* a stale keep-alive connection: once more on a new one */
        free(n->c);
        n->c = NULL;
    }
    return -1;
}

static struct hc_resp resp; /* big: not on the stack */

/*
 * session-counter for `sid` through node n. Returns the status (-1: no
 * connection); on 200 *count and the port of the node that ran it.
 */
static int count_via(struct node *n, const char *sid, long *count, uint16_t *ran)
{
    char raw[512], body[128], v[64];
    int blen = snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"input\":null}", sid);
    snprintf(raw, sizeof raw,
             "POST /v1/agents/session-counter/invoke HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
             blen, body);
    int st = request(n, raw, &resp);
    if (st != 200)
        return st;
    const char *c = strstr(resp.body, "\"count\":");
    cr_assert_not_null(c, "no count in %s", resp.body);
    *count = atol(c + 8);
    *ran = n->port;
    if (hc_header(&resp, "X-Agentcore-Node", v, sizeof v)) {
        const char *colon = strrchr(v, ':');
        cr_assert_not_null(colon);
        *ran = (uint16_t)atoi(colon + 1);
    }
    return st;
}

/* GET /v1/cluster (with ?session_id=sid) on node n into resp; the status. */
static int view_of(struct node *n, const char *sid)
{
    char raw[256];
    snprintf(raw, sizeof raw, "GET /v1/cluster%s%s HTTP/1.1\r\nHost: t\r\n\r\n",
             sid ? "?session_id=" : "", sid ? sid : "");
    return request(n, raw, &resp);
}

static unsigned members_in(const char *body)
{
    unsigned k = 0;
    for (const char *p = body; (p = strstr(p, "\"node\":")); p++)
        k++;
    return k;
}

/* Waits until every live node sees exactly `want` members (15 s at most). */
static void wait_members(unsigned want)
{
    for (int i = 0; i < 1500; i++) {
        bool all = true;
        for (unsigned k = 0; k < nnodes && all; k++)
            if (nodes[k].alive)
                all = view_of(&nodes[k], NULL) == 200 && members_in(resp.body) == want;
        if (all)
            return;
        usleep(10000);
    }
    cr_assert_fail("membership did not converge to %u members in 15 s", want);
}

/* The owner port of `sid` in node n's view. */
static uint16_t owner_of(struct node *n, const char *sid)
{
    cr_assert_eq(view_of(n, sid), 200);
    const char *o = strstr(resp.body, "\"owner\":\"");
    cr_assert_not_null(o, "%s", resp.body);
    const char *colon = strchr(o + 9, ':');
    return (uint16_t)atoi(colon + 1);
}

static struct node *live_node(unsigned k)
{
    for (unsigned i = 0; i < nnodes; i++) {
        struct node *n = &nodes[(k + i) % nnodes];
        if (n->alive)
            return n;
    }
    cr_assert_fail("no live node");
    return NULL;
}

/*
 * One increment of `sid`, retried until a 200 (503 during a membership
 * change, a refused connection to a dead node): at most 300 tries, 20 ms
 * apart. Returns the count; *tries says how many were not answered 200.
 */
static long count_retry(unsigned k, const char *sid, uint16_t *ran, unsigned *tries)
{
    long c;
    *tries = 0;
    for (int i = 0; i < 300; i++) {
        int st = count_via(live_node(k + (unsigned)i), sid, &c, ran);
        if (st == 200)
            return c;
        cr_assert(st == -1 || st == 503 || st == 504, "unexpected status %d: %s", st, resp.body);
        (*tries)++;
        usleep(20000);
    }
    cr_assert_fail("session %s not served within 300 tries", sid);
    return -1;
}

/* How many HMGETs (session loads) Redis has served. */
static long long loads(void)
{
    redisReply *r = redis_do(&redis, "INFO commandstats");
    cr_assert_not_null(r);
    const char *p = strstr(r->str, "cmdstat_hmget:calls=");
    long long n = p ? atoll(p + 20) : 0;
    freeReplyObject(r);
    return n;
}

#define NSESS 600

static char sid[NSESS][32];

static void name_sessions(void)
{
    for (unsigned i = 0; i < NSESS; i++)
        snprintf(sid[i], sizeof sid[i], "user-%u", i);
}

TestSuite(apps_cluster, .fini = cluster_down, .timeout = 240);

/* The sum of counter `name` in /v1/cluster over the live nodes. */
static long long counter_sum(const char *name)
{
    char key[64];
    long long total = 0;
    snprintf(key, sizeof key, "\"%s\":", name);
    for (unsigned k = 0; k < nnodes; k++)
        if (nodes[k].alive) {
            cr_assert_eq(view_of(&nodes[k], NULL), 200);
            const char *p = strstr(resp.body, key);
            cr_assert_not_null(p, "no %s in %s", name, resp.body);
            total += atoll(p + strlen(key));
        }
    return total;
}

Test(apps_cluster, session_runs_on_one_node_whichever_node_receives_it)
{
    long long forwarded = 0;
    cluster_up(3, "memory", "proxy");
    wait_members(3);
    for (unsigned s = 0; s < 30; s++) {
        char id[32];
        uint16_t first = 0;
        snprintf(id, sizeof id, "s-%u", s);
        for (long want = 1; want <= 6; want++) {
            long c;
            uint16_t ran;
            /* each request enters through a different node */
            struct node *entry = &nodes[(s + (unsigned)want) % 3];
            cr_assert_eq(count_via(entry, id, &c, &ran), 200, "%s", resp.body);
            forwarded += ran != entry->port;
            cr_assert_eq(c, want, "session %s counted %ld, want %ld", id, c, want);
            if (!first)
                first = ran;
            cr_assert_eq(ran, first, "session %s ran on :%u and :%u", id, first, ran);
        }
        cr_assert_eq(first, owner_of(&nodes[0], id));
    }
    /* every request that entered elsewhere was proxied once, none failed */
    cr_assert_gt(forwarded, 0);
    cr_assert_eq(counter_sum("proxied"), forwarded);
    cr_assert_eq(counter_sum("proxy_errors"), 0);
}

Test(apps_cluster, redirect_mode_answers_307_to_the_owner)
{
    cluster_up(3, "memory", "redirect");
    wait_members(3);
    unsigned redirected = 0;
    for (unsigned s = 0; s < 12; s++) {
        char id[32], raw[512], body[128], loc[128];
        snprintf(id, sizeof id, "r-%u", s);
        uint16_t owner = owner_of(&nodes[0], id);
        int blen = snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"input\":null}", id);
        snprintf(raw, sizeof raw,
                 "POST /v1/agents/session-counter/invoke HTTP/1.1\r\nHost: t\r\n"
                 "Content-Length: %d\r\n\r\n%s",
                 blen, body);
        for (unsigned k = 0; k < 3; k++) {
            int st = request(&nodes[k], raw, &resp);
            if (nodes[k].port == owner) {
                cr_assert_eq(st, 200, "%s", resp.body);
                continue;
            }
            cr_assert_eq(st, 307, "%s", resp.body);
            cr_assert(hc_header(&resp, "Location", loc, sizeof loc));
            char want[96];
            snprintf(want, sizeof want, "http://127.0.0.1:%u/v1/agents/session-counter/invoke",
                     owner);
            cr_assert_str_eq(loc, want);
            redirected++;
        }
    }
    cr_assert_eq(redirected, 24);
}

Test(apps_cluster, killed_node_moves_only_its_sessions_and_their_counts_continue)
{
    static uint16_t before[NSESS];
    unsigned tries, moved = 0, owned = 0;
    uint16_t ran;
    name_sessions();
    cluster_up(3, "redis", "proxy");
    wait_members(3);
    for (unsigned i = 0; i < NSESS; i++) {
        long c;
        for (long want = 1; want <= 2; want++) {
            cr_assert_eq(count_via(&nodes[(i + (unsigned)want) % 3], sid[i], &c, &ran), 200);
            cr_assert_eq(c, want);
        }
        before[i] = ran;
    }
    /* SIGKILL: no goodbye; the others drop it when its key expires */
    struct node *victim = &nodes[1];
    uint16_t gone = victim->port;
    node_kill(victim, SIGKILL);
    wait_members(2);
    for (unsigned i = 0; i < NSESS; i++) {
        uint16_t now = owner_of(&nodes[i % 2 ? 0 : 2], sid[i]);
        owned += before[i] == gone;
        if (now != before[i]) {
            cr_assert_eq(before[i], gone, "%s moved from a live node :%u", sid[i], before[i]);
            moved++;
        }
        /* the count continues from the last acknowledged value */
        long c = count_retry(i, sid[i], &ran, &tries);
        cr_assert_eq(ran, now);
        cr_assert_eq(c, 3, "%s: count %ld after its node died (want 3)", sid[i], c);
    }
    cr_assert_eq(moved, owned);
    double ratio = (double)moved / NSESS * 3;
    cr_log_info("killed node: %u of %u sessions moved (%.3f of the ideal 1/3)", moved, NSESS,
                ratio);
    cr_assert(ratio >= 1 / 1.5 && ratio <= 1.5, "moved %.3f of the ideal", ratio);
}

Test(apps_cluster, joining_node_takes_about_a_quarter_and_loads_their_state)
{
    static uint16_t before[NSESS];
    unsigned tries, moved = 0;
    uint16_t ran;
    long c;
    name_sessions();
    cluster_up(3, "redis", "proxy");
    wait_members(3);
    for (unsigned i = 0; i < NSESS; i++) {
        cr_assert_eq(count_via(&nodes[i % 3], sid[i], &c, &ran), 200);
        cr_assert_eq(c, 1);
        before[i] = ran;
    }
    node_start(&nodes[3], "redis", "proxy");
    nnodes = 4;
    wait_members(4);
    long long loads0 = loads();
    for (unsigned i = 0; i < NSESS; i++) {
        uint16_t now = owner_of(&nodes[i % 4], sid[i]);
        if (now != before[i]) {
            cr_assert_eq(now, nodes[3].port, "%s moved to an old node", sid[i]);
            moved++;
        }
        c = count_retry(i, sid[i], &ran, &tries);
        cr_assert_eq(ran, now);
        cr_assert_eq(c, 2, "%s: count %ld after a join (want 2)", sid[i], c);
    }
    /* only the moved sessions were loaded again: the others' copies held */
    cr_assert_eq(loads() - loads0, moved, "%lld loads for %u moved sessions", loads() - loads0,
                 moved);
    double ratio = (double)moved / NSESS * 4;
    cr_log_info("joining node took %u of %u sessions (%.3f of the ideal 1/4)", moved, NSESS, ratio);
    cr_assert(ratio >= 1 / 1.5 && ratio <= 1.5, "took %.3f of the ideal", ratio);
}

/*
 * Requests keep flowing while one node dies and another joins. Every
 * request is retried until it is answered 200; the counts prove nothing
 * was lost: each answer is exactly one above the last acknowledged one,
 * plus at most the attempts that got no answer (an attempt whose owner
 * died after storing but before answering was counted, not acknowledged).
 */
Test(apps_cluster, no_request_lost_while_members_change)
{
    enum { N = 60, ROUNDS = 12 };
    static long acked[N];
    unsigned tries, retried = 0;
    uint16_t ran;
    name_sessions();
    cluster_up(3, "redis", "proxy");
    wait_members(3);
    for (unsigned r = 0; r < ROUNDS; r++) {
        if (r == 4)
            node_kill(&nodes[0], SIGKILL);
        if (r == 8) {
            node_start(&nodes[3], "redis", "proxy");
            nnodes = 4;
        }
        for (unsigned i = 0; i < N; i++) {
            long c = count_retry(i + r, sid[i], &ran, &tries);
            cr_assert_geq(c, acked[i] + 1, "%s: acknowledged increment lost (%ld after %ld)",
                          sid[i], c, acked[i]);
            cr_assert_leq(c, acked[i] + 1 + tries, "%s: counted %ld after %ld with %u retries",
                          sid[i], c, acked[i], tries);
            acked[i] = c;
            retried += tries;
        }
    }
    cr_log_info("membership change: %u retried attempts over %u requests", retried, N * ROUNDS);
    wait_members(3);
}

/* A bad cluster flag stops agentd at once, naming the flag and why. */
Test(apps_cluster, bad_cluster_flags_are_refused_with_the_reason)
{
    static const char *const cases[][3] = {
        {"--cluster-mode", "sideways", "--cluster-mode: expected proxy or redirect"},
        {"--cluster-members", "10.0.0.1", "--cluster-members: \"10.0.0.1\" is not host:port"},
        {"--cluster-session-store", "redis", "session_store redis needs Redis nodes"},
        {"--cluster-ttl-ms", "0", "--cluster-ttl-ms: \"0\" is not 1..3600000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[512], out[2048] = {0};
        snprintf(cmd, sizeof cmd, "timeout 10 %s --port 0 --quiet %s %s 2>&1", AGENTD_BIN,
                 cases[i][0], cases[i][1]);
        FILE *f = popen(cmd, "r");
        cr_assert_not_null(f);
        size_t n = fread(out, 1, sizeof out - 1, f);
        out[n] = 0;
        int st = pclose(f);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0, "%s %s: exit %d", cases[i][0], cases[i][1],
                  st);
        cr_assert_not_null(strstr(out, cases[i][2]), "%s %s said: %s", cases[i][0], cases[i][1],
                           out);
    }
}

/*
 * The loop guard: a request that says another node forwarded it is served
 * where it lands, even by a node that does not own its session (two views
 * that differ for a moment must not bounce it). The carried deadline ends
 * the call at the sooner of it and the agent's own timeout.
 */
Test(apps_cluster, forwarded_request_is_served_where_it_lands_under_the_carried_deadline)
{
    char raw[512], body[128];
    cluster_up(3, "memory", "proxy");
    wait_members(3);
    uint16_t owner = owner_of(&nodes[0], "guarded");
    struct node *other = nodes[0].port != owner ? &nodes[0] : &nodes[1];
    int blen = snprintf(body, sizeof body, "{\"session_id\":\"guarded\",\"input\":null}");
    snprintf(raw, sizeof raw,
             "POST /v1/agents/session-counter/invoke HTTP/1.1\r\nHost: t\r\n"
             "X-Agentcore-Forwarded: 127.0.0.1:1\r\nContent-Length: %d\r\n\r\n%s",
             blen, body);
    for (int i = 1; i <= 2; i++) {
        cr_assert_eq(request(other, raw, &resp), 200, "%s", resp.body);
        char v[64];
        cr_assert(!hc_header(&resp, "X-Agentcore-Node", v, sizeof v), "proxied to %s", v);
        char want[32];
        snprintf(want, sizeof want, "\"count\":%d", i);
        cr_assert_not_null(strstr(resp.body, want), "%s", resp.body);
    }
    /* a 2 s sleep under a carried 100 ms deadline (the agent's own is 30 s): 504 */
    blen = snprintf(body, sizeof body, "{\"input\":{\"ms\":2000}}");
    snprintf(raw, sizeof raw,
             "POST /v1/agents/sleep/invoke HTTP/1.1\r\nHost: t\r\n"
             "X-Agentcore-Deadline-Ms: 100\r\nContent-Length: %d\r\n\r\n%s",
             blen, body);
    /* without the header the sleep would end and answer 200 */
    cr_assert_eq(request(&nodes[2], raw, &resp), 504, "%s", resp.body);
    cr_assert_not_null(strstr(resp.body, "deadline_exceeded"), "%s", resp.body);
}
