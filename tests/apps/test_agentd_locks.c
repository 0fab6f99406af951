/*
 * exclusive-counter across processes: two agentd processes (every shard of
 * each) hammer one lock through HTTP against the same Redis — one node,
 * and Redlock over three. The counter must end at exactly the number of
 * 200 answers, every count from 1 to N must be reported once, and the
 * fencing tokens must rise with the counts. agentd runs as a real process
 * on a kernel-chosen port, redis-server too; every wait is bounded.
 */
#include "apps/agentd_proc.h"
#include "net/resp/redis_server.h"

#include <jansson.h>

#define PROCS        2
#define CONNS        16 /* per process: SO_REUSEPORT misses a shard of 2 with p = 2^-15 */
#define PER_CONN     15
#define TOTAL        (PROCS * CONNS * PER_CONN)
#define MAX_SHARDS_T 64

struct result {
    long long count, fence;
    int shard;
};

struct worker {
    uint16_t port;
    unsigned proc;
    struct result got[PER_CONN];
    unsigned ok, failed;
    int last_status;
    char last_body[256];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    static const char req[] = "POST /v1/agents/exclusive-counter/invoke HTTP/1.1\r\nHost: t\r\n"
                              "Content-Length: 24\r\n\r\n{\"input\":\"shared-count\"}";
    struct hc *c = calloc(1, sizeof *c);
    struct hc_resp *r = calloc(1, sizeof *r);
    if (!c || !r || !hc_open(c, w->port))
        goto out;
    for (unsigned i = 0; i < PER_CONN; i++) {
        if (!hc_send(c, req, sizeof req - 1) || !hc_read(c, r, false)) {
            w->failed++;
            break;
        }
        w->last_status = r->status;
        if (r->status != 200) {
            snprintf(w->last_body, sizeof w->last_body, "%.200s", r->body);
            w->failed++;
            continue;
        }
        json_t *root = json_loads(r->body, 0, NULL);
        json_t *out = json_object_get(root, "output");
        w->got[w->ok].count = json_integer_value(json_object_get(out, "count"));
        w->got[w->ok].fence = json_integer_value(json_object_get(out, "fence"));
        w->got[w->ok].shard = (int)json_integer_value(json_object_get(root, "shard"));
        w->ok++;
        json_decref(root);
    }
    hc_close(c);
out:
    free(c);
    free(r);
    return NULL;
}

static int by_count(const void *a, const void *b)
{
    const struct result *x = a, *y = b;
    return (x->count > y->count) - (x->count < y->count);
}

static void exclusive_counter_across_processes(const char *type, unsigned nodes)
{
    static struct redis_srv rs[3];
    static struct worker w[PROCS * CONNS];
    static struct result all[TOTAL];
    struct agentd d[PROCS];
    char list[96] = "";
    memset(rs, 0, sizeof rs);
    memset(w, 0, sizeof w);
    for (unsigned i = 0; i < nodes; i++) {
        redis_start(&rs[i]);
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s127.0.0.1:%u", i ? "," : "",
                 rs[i].port);
    }
    /* a generous node timeout: the machine may be loaded, and a timeout is
     * not what this test is about */
    const char *extra[] = {
        "--redis-nodes",          list,   "--lock-type", type, "--lock-retry-delay-ms", "2",
        "--lock-node-timeout-ms", "2000", NULL};
    for (unsigned p = 0; p < PROCS; p++)
        agentd_start(&d[p], extra);

    pthread_t th[PROCS * CONNS];
    for (unsigned i = 0; i < PROCS * CONNS; i++) {
        w[i].proc = i % PROCS;
        w[i].port = d[i % PROCS].port;
        cr_assert_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (unsigned i = 0; i < PROCS * CONNS; i++)
        pthread_join(th[i], NULL);

    unsigned n = 0;
    bool seen[PROCS][MAX_SHARDS_T] = {{false}};
    for (unsigned i = 0; i < PROCS * CONNS; i++) {
        cr_assert_eq(w[i].failed, 0, "worker %u: %u failed, last %d %s", i, w[i].failed,
                     w[i].last_status, w[i].last_body);
        for (unsigned k = 0; k < w[i].ok; k++) {
            all[n++] = w[i].got[k];
            if (w[i].got[k].shard >= 0 && w[i].got[k].shard < MAX_SHARDS_T)
                seen[w[i].proc][w[i].got[k].shard] = true;
        }
    }
    cr_assert_eq(n, TOTAL);
    cr_assert_eq(redis_get_int(&rs[0], "ac:counter:shared-count"), TOTAL,
                 "the counter ends at the number of increments");
    qsort(all, n, sizeof *all, by_count);
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(all[i].count, (long long)i + 1, "count %u reported as %lld", i + 1,
                     all[i].count);
        if (i)
            cr_assert_gt(all[i].fence, all[i - 1].fence, "fence of count %u not above count %u",
                         i + 1, i);
    }
    long shards = sysconf(_SC_NPROCESSORS_ONLN);
    for (unsigned p = 0; p < PROCS; p++)
        for (long s = 0; s < shards && s < MAX_SHARDS_T; s++)
            cr_assert(seen[p][s], "agentd %u shard %ld served no increment", p, s);
    for (unsigned p = 0; p < PROCS; p++)
        cr_assert_eq(agentd_stop(&d[p]), 0, "agentd %u exited cleanly", p);
    for (unsigned i = 0; i < nodes; i++)
        redis_kill(&rs[i]);
}

Test(apps_agentd_locks, exclusive_counter_is_exact_across_two_processes_one_node, .timeout = 120)
{
    exclusive_counter_across_processes("redis", 1);
}

Test(apps_agentd_locks, exclusive_counter_is_exact_across_two_processes_redlock, .timeout = 120)
{
    exclusive_counter_across_processes("redis_redlock", 3);
}

Test(apps_agentd_locks, exclusive_counter_without_redis_is_503, .timeout = 60)
{
    struct agentd d;
    static struct hc c;
    static struct hc_resp r;
    const char *extra[] = {NULL};
    agentd_start(&d, extra);
    cr_assert(hc_open(&c, d.port));
    cr_assert(hc_sends(&c, "POST /v1/agents/exclusive-counter/invoke HTTP/1.1\r\nHost: t\r\n"
                           "Content-Length: 13\r\n\r\n{\"input\":\"x\"}"));
    cr_assert(hc_read(&c, &r, false));
    cr_assert_eq(r.status, 503);
    cr_assert_not_null(strstr(r.body, "locks_unavailable"), "%s", r.body);
    cr_assert(hc_sends(&c, "POST /v1/agents/exclusive-counter/invoke HTTP/1.1\r\nHost: t\r\n"
                           "Content-Length: 15\r\n\r\n{\"input\":\"a b\"}"));
    cr_assert(hc_read(&c, &r, false));
    cr_assert_eq(r.status, 400, "a bad lock name");
    hc_close(&c);
    cr_assert_eq(agentd_stop(&d), 0);
}

Test(apps_agentd_locks, yaml_distributed_lock_section_drives_the_locks, .timeout = 60)
{
    static struct redis_srv rs;
    static struct hc c;
    static struct hc_resp r;
    struct agentd d;
    char path[] = "/tmp/agentd-locks-XXXXXX";
    redis_start(&rs);
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    dprintf(fd,
            "distributed_lock:\n"
            "  type: redis\n"
            "  redis_nodes: [\"127.0.0.1:%u\"]\n"
            "  lock_timeout: 5s\n"
            "  retry_count: 3\n"
            "  retry_delay: 10ms\n",
            rs.port);
    close(fd);
    const char *extra[] = {"--config", path, NULL};
    agentd_start(&d, extra);
    cr_assert(hc_open(&c, d.port));
    for (int i = 1; i <= 3; i++) {
        char want[32];
        cr_assert(hc_sends(&c, "POST /v1/agents/exclusive-counter/invoke HTTP/1.1\r\nHost: t\r\n"
                               "Content-Length: 16\r\n\r\n{\"input\":\"yaml\"}"));
        cr_assert(hc_read(&c, &r, false));
        cr_assert_eq(r.status, 200, "%s", r.body);
        snprintf(want, sizeof want, "\"count\":%d", i);
        cr_assert_not_null(strstr(r.body, want), "%s", r.body);
    }
    hc_close(&c);
    /* the admin listener: the lock metrics and /debug/locks */
    cr_assert_gt(d.admin_port, 0);
    /* /metrics is larger than the test client's buffer: curl and grep */
    char cmd[256], line[256];
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 10 http://127.0.0.1:%u/metrics | grep "
             "-e '^agentcore_lock_acquires_total' -e '^agentcore_lock_acquire_seconds_count'",
             d.admin_port);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    double acquires = 0, timed = 0;
    while (fgets(line, sizeof line, f)) {
        const char *v = strchr(line, ' ');
        if (v && strncmp(line, "agentcore_lock_acquires_total", 29) == 0)
            acquires += atof(v);
        else if (v)
            timed += atof(v);
    }
    pclose(f);
    cr_assert_eq(acquires, 3, "acquires over the shards: %g", acquires);
    cr_assert_eq(timed, 3, "acquire latencies in the histogram: %g", timed);
    cr_assert(hc_open(&c, d.admin_port));
    cr_assert(hc_sends(&c, "GET /debug/locks HTTP/1.1\r\nHost: t\r\n\r\n"));
    cr_assert(hc_read(&c, &r, false));
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.body, "\"locks\":[]"), "nothing held now: %s", r.body);
    cr_assert_not_null(strstr(r.body, "\"shards_missing\":0"), "%s", r.body);
    hc_close(&c);
    redisReply *ttl = redis_do(&rs, "GET ac:counter:yaml");
    cr_assert_str_eq(ttl->str, "3");
    freeReplyObject(ttl);
    cr_assert_eq(agentd_stop(&d), 0);
    unlink(path);
    redis_kill(&rs);
}
