/*
 * ac-demo: boots one shard per CPU, passes a token around all shards,
 * fires timers, prints what happened, then idles until Ctrl-C (or exits
 * at once with --once). `make run` starts it until agentd exists.
 */
#include "agentcore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct demo {
    ac_runtime *rt;
    unsigned nshards;
    unsigned laps_wanted;
    bool once;
    uint64_t start_ns;
    /* Owned by whichever shard holds the token: only one does at a time,
     * and each hand-over is a message (release/acquire in the ring). */
    unsigned laps_done;
    uint64_t hops;
    struct ac_timer heartbeat; /* shard 0 */
};

static void pass_token(void *arg);

static void send_on(struct demo *d)
{
    unsigned next = (ac_shard_id() + 1) % d->nshards;
    int err;
    while ((err = ac_submit_to(next, pass_token, d)) == -EAGAIN)
        ; /* cannot happen with one token in flight; kept for correctness */
    if (err && err != -ECANCELED)
        fprintf(stderr, "demo: send failed: %s\n", ac_strerror(err));
}

static void print_stats(struct demo *d)
{
    for (unsigned i = 0; i < d->nshards; i++) {
        struct ac_shard_stats st;
        if (ac_runtime_shard_stats(d->rt, i, &st) == 0)
            printf("  shard %u (cpu %d): %llu msgs run, %llu sent, %llu wake-ups, "
                   "%llu loop turns, %llu sleeps, %llu timers, %llu stalls\n",
                   i, ac_runtime_shard_cpu(d->rt, i), (unsigned long long)st.msgs_run,
                   (unsigned long long)st.msgs_sent, (unsigned long long)st.wakes_received,
                   (unsigned long long)st.loops, (unsigned long long)st.sleeps,
                   (unsigned long long)st.timers_fired, (unsigned long long)st.stalls);
    }
    fflush(stdout);
}

static void on_heartbeat(struct ac_timer *t, void *arg)
{
    struct demo *d = arg;
    printf("heartbeat: still running on %u shards (Ctrl-C stops)\n", d->nshards);
    print_stats(d);
    if (ac_timer_start(t, 10ull * 1000000000u, on_heartbeat, d))
        fprintf(stderr, "demo: cannot restart heartbeat\n");
}

static void pass_token(void *arg)
{
    struct demo *d = arg;
    d->hops++;
    if (ac_shard_id() == 0 && ++d->laps_done == d->laps_wanted) {
        double secs = (double)(ac_now_ns() - d->start_ns) / 1e9;
        printf("token: %u laps around %u shards = %llu messages in %.3f s "
               "(%.2f µs per hop, including wake-ups)\n",
               d->laps_done, d->nshards, (unsigned long long)d->hops, secs,
               secs * 1e6 / (double)d->hops);
        print_stats(d);
        if (d->once) {
            ac_runtime_stop(d->rt);
        } else {
            printf("idle now: shards sleep in io_uring_enter; Ctrl-C stops\n");
            fflush(stdout);
            if (ac_timer_start(&d->heartbeat, 10ull * 1000000000u, on_heartbeat, d))
                fprintf(stderr, "demo: cannot start heartbeat\n");
        }
        return;
    }
    send_on(d);
}

static void on_start(void *arg, unsigned shard)
{
    struct demo *d = arg;
    if (shard != 0)
        return;
    printf("booted %u shards:", d->nshards);
    for (unsigned i = 0; i < d->nshards; i++)
        printf(" %u→cpu%d", i, ac_runtime_shard_cpu(d->rt, i));
    printf("\n");
    d->start_ns = ac_now_ns();
    send_on(d);
}

int main(int argc, char **argv)
{
    struct demo d = {.laps_wanted = 100000};
    ac_runtime_config cfg;
    int err;

    ac_runtime_config_init(&cfg);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0)
            d.once = true;
        else if (strcmp(argv[i], "--cpus") == 0 && i + 1 < argc)
            cfg.cpus = argv[++i];
        else if (strcmp(argv[i], "--laps") == 0 && i + 1 < argc)
            d.laps_wanted = (unsigned)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--once] [--cpus LIST] [--laps N]\n", argv[0]);
            return 2;
        }
    }
    if (d.laps_wanted == 0)
        d.laps_wanted = 1;
    cfg.on_shard_start = on_start;
    cfg.hook_arg = &d;
    err = ac_runtime_create(&cfg, &d.rt);
    if (err) {
        fprintf(stderr, "ac-demo: %s\n", ac_strerror(err));
        return 1;
    }
    d.nshards = ac_runtime_shard_count(d.rt);
    err = ac_runtime_run(d.rt);
    if (!err) {
        printf("stopped cleanly\n");
        print_stats(&d);
    }
    ac_runtime_destroy(d.rt);
    return err ? 1 : 0;
}
