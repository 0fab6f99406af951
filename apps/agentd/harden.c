/* agentd's hardening flags (see harden.h). */
#include "harden.h"
#include "defaults.h"
#include "privs.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Process-wide, written before any shard starts, read-only after. */
static struct {
    struct agentd_user user;
    unsigned long long admit_target_ms, admit_interval_ms, session_max, max_conns, per_shard;
    bool admit_target_set;
} H;

static _Noreturn void bad(const char *flag, const char *val)
{
    fprintf(stderr, "agentd: %s: '%s'\n", flag, val ? val : "");
    exit(2);
}

static unsigned long long num(const char *flag, const char *val, bool zero_ok)
{
    char *end;
    errno = 0;
    unsigned long long v = val ? strtoull(val, &end, 10) : 0;
    if (!val || !*val || errno || *end || (!zero_ok && v == 0) || v > UINT32_MAX)
        bad(flag, val);
    return v;
}

void agentd_harden_parse(int *argc, char **argv)
{
    static const char *const flags[] = {
        "--user",        "--admit-target-ms", "--admit-interval-ms",
        "--session-max", "--max-conns",       "--max-conns-per-shard"};
    const char *user = NULL;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i], *val;
        size_t n = strcspn(a, "=");
        int f = -1;
        if (strcmp(a, "--") == 0) {
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        for (int k = 0; k < (int)(sizeof flags / sizeof flags[0]); k++)
            if (strlen(flags[k]) == n && strncmp(a, flags[k], n) == 0)
                f = k;
        if (f < 0) {
            argv[out++] = argv[i];
            continue;
        }
        val = a[n] == '=' ? a + n + 1 : (i + 1 < *argc ? argv[++i] : NULL);
        switch (f) {
        case 0:
            if (!val || !*val)
                bad("--user", val);
            user = val;
            break;
        case 1:
            H.admit_target_ms = num(flags[f], val, true);
            H.admit_target_set = true;
            break;
        case 2:
            H.admit_interval_ms = num(flags[f], val, false);
            break;
        case 3:
            H.session_max = num(flags[f], val, false);
            break;
        case 4:
            H.max_conns = num(flags[f], val, false);
            break;
        case 5:
            H.per_shard = num(flags[f], val, false);
            break;
        }
    }
    argv[out] = NULL;
    *argc = out;
    int err = agentd_user_resolve(user, &H.user);
    if (err) {
        fprintf(stderr, "agentd: --user %s: %s\n", user,
                err == -ENOENT ? "no such user" : strerror(-err));
        exit(1);
    }
}

int agentd_harden_settings(struct agentd_settings *s, unsigned nshards)
{
    if (!s->rt.memory_limit)
        s->rt.memory_limit = agentd_default_memory_limit(nshards);
    for (unsigned c = 0; c < 3; c++) {
        if (H.admit_target_set)
            s->host.admit_target_ns[c] = H.admit_target_ms * 1000000ull;
        if (H.admit_interval_ms)
            s->host.admit_interval_ns[c] = H.admit_interval_ms * 1000000ull;
    }
    s->host.admit_off = H.admit_target_set && H.admit_target_ms == 0;
    if (H.session_max)
        s->host.session_max = (size_t)H.session_max;
    if (H.per_shard)
        s->http.max_conns = (unsigned)H.per_shard;
    if (!s->http.budget)
        return ac_http_conn_budget_create(
            H.max_conns ? (unsigned)H.max_conns : agentd_default_max_conns(), &s->http.budget);
    return 0;
}

unsigned agentd_harden_shards_guess(const ac_runtime_config *rt)
{
    static unsigned list[4096];
    unsigned n = 0;
    cpu_set_t set;
    if (rt->cpus && ac_cpulist_parse(rt->cpus, list, 4096, &n) == 0 && n)
        return rt->shards && rt->shards < n ? rt->shards : n;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        n = (unsigned)CPU_COUNT(&set);
    else
        n = 1;
    return rt->shards ? rt->shards : n;
}

int agentd_harden_drop(void)
{
    return agentd_privs_drop(&H.user);
}

void agentd_harden_close(struct agentd_settings *s)
{
    ac_http_conn_budget_destroy(s->http.budget);
    s->http.budget = NULL;
}
