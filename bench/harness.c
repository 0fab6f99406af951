/*
 * Benchmark harness. Results are buffered so that the JSON form is one
 * object; the table form prints as it goes.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static struct ac_bench_opts opts;
static cpu_set_t initial_affinity;
static const char *bench_name;
static bool first_result = true;

int ac_bench_parse(int argc, char **argv, struct ac_bench_opts *o)
{
    sched_getaffinity(0, sizeof initial_affinity, &initial_affinity);
    o->json = false;
    o->runs = 5;
    o->quick = false;
    o->seconds = 2.0;
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            o->json = true;
        } else if (strcmp(argv[i], "--quick") == 0) {
            o->quick = true;
            o->runs = 3;
            o->seconds = 0.3;
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            o->runs = (unsigned)atoi(argv[++i]);
            if (o->runs == 0)
                goto usage;
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            o->seconds = atof(argv[++i]);
            if (!(o->seconds > 0))
                goto usage;
        } else {
            break;
        }
    }
    return i;
usage:
    fprintf(stderr, "shared flags: [--json] [--quick] [--runs N] [--seconds S]\n");
    return -1;
}

int ac_bench_pin(unsigned cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int r = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    return -r;
}

void ac_bench_unpin(void)
{
    pthread_setaffinity_np(pthread_self(), sizeof initial_affinity, &initial_affinity);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile(const double *s, unsigned n, double q)
{
    double pos = q * (n - 1);
    unsigned lo = (unsigned)floor(pos), hi = (unsigned)ceil(pos);
    return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

void ac_bench_stats_of(double *samples, unsigned n, struct ac_bench_stats *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n == 0)
        return;
    out->kept = n < AC_BENCH_MAX_SAMPLES ? n : AC_BENCH_MAX_SAMPLES;
    memcpy(out->samples, samples, out->kept * sizeof *samples);
    qsort(samples, n, sizeof *samples, cmp_double);
    out->min = samples[0];
    out->max = samples[n - 1];
    out->median = quantile(samples, n, 0.5);
    out->p25 = quantile(samples, n, 0.25);
    out->p75 = quantile(samples, n, 0.75);
}

void ac_bench_begin(const struct ac_bench_opts *o, const char *name)
{
    opts = *o;
    bench_name = name;
    if (opts.json)
        printf("{\"bench\":\"%s\",\"runs\":%u,\"results\":[", name, opts.runs);
    else
        printf("== %s (median of %u runs; [min..max])\n", name, opts.runs);
    fflush(stdout);
}

void ac_bench_result(const char *scenario, const char *metric, const struct ac_bench_stats *s)
{
    if (opts.json) {
        printf("%s{\"scenario\":\"%s\",\"metric\":\"%s\",\"median\":%.6g,\"min\":%.6g,"
               "\"max\":%.6g,\"p25\":%.6g,\"p75\":%.6g,\"n\":%u,\"samples\":[",
               first_result ? "" : ",", scenario, metric, s->median, s->min, s->max, s->p25, s->p75,
               s->n);
        for (unsigned i = 0; i < s->kept; i++)
            printf("%s%.6g", i ? "," : "", s->samples[i]);
        printf("]}");
    } else {
        printf("  %-44s %12.4g %-10s [%.4g..%.4g]\n", scenario, s->median, metric, s->min, s->max);
    }
    first_result = false;
    fflush(stdout);
}

void ac_bench_value(const char *scenario, const char *metric, double value)
{
    if (opts.json)
        printf("%s{\"scenario\":\"%s\",\"metric\":\"%s\",\"value\":%.6g}", first_result ? "" : ",",
               scenario, metric, value);
    else
        printf("  %-44s %12.4g %s\n", scenario, value, metric);
    first_result = false;
    fflush(stdout);
}

static void cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c += 2;
                c[strcspn(c, "\n")] = '\0';
                snprintf(buf, len, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

void ac_bench_end(void)
{
    char model[128], date[32];
    struct utsname u;
    time_t t = time(NULL);
    struct tm tm;
    uname(&u);
    cpu_model(model, sizeof model);
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (opts.json)
        printf("],\"machine\":{\"cpu\":\"%s\",\"cpus\":%ld,\"kernel\":\"%s\"},\"date\":\"%s\"}\n",
               model, cpus, u.release, date);
    else
        printf("  machine: %s, %ld CPUs, Linux %s, %s\n", model, cpus, u.release, date);
    fflush(stdout);
}

uint64_t ac_bench_proc_cpu_ns(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the parenthesised command name; utime, stime are 14, 15. */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    unsigned long utime = 0, stime = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return 0;
    long hz = sysconf(_SC_CLK_TCK);
    return (uint64_t)(utime + stime) * (1000000000ull / (uint64_t)hz);
}

uint64_t ac_bench_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
