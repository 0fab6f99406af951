/*
 * The benchmark harness every bench/ program shares: argument parsing,
 * pinning, repeated runs reduced to median and spread, machine facts, and
 * output as a table or (--json) one JSON object.
 *
 * Usage: parse args, call ac_bench_begin(), for each scenario collect
 * `runs` samples and call ac_bench_result(), then ac_bench_end().
 */
#ifndef AC_BENCH_HARNESS_H
#define AC_BENCH_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ac_bench_opts {
    bool json;      /* --json: one JSON object on stdout */
    unsigned runs;  /* --runs N: repetitions per scenario (default 5) */
    bool quick;     /* --quick: shorter runs, for smoke tests */
    double seconds; /* --seconds S: duration of timed runs where used */
};

/*
 * Parses the shared flags. Unknown flags are left to the program: returns
 * the index of the first argument not consumed, or -1 on a malformed
 * shared flag (after printing usage).
 */
int ac_bench_parse(int argc, char **argv, struct ac_bench_opts *o);

/* Pins the calling thread to `cpu`. Returns 0 or -errno. */
int ac_bench_pin(unsigned cpu);

/* Gives the calling thread back the affinity the process started with. */
void ac_bench_unpin(void);

/* Raw samples kept per result (the suite's results.json wants them). */
#define AC_BENCH_MAX_SAMPLES 64

/*
 * Median and spread of n samples (the array is sorted in place). The first
 * AC_BENCH_MAX_SAMPLES samples are also copied, in the order measured,
 * into `samples` (`kept` of them) so that --json can print them raw.
 */
struct ac_bench_stats {
    double median, min, max, p25, p75;
    unsigned n;
    unsigned kept;
    double samples[AC_BENCH_MAX_SAMPLES];
};
void ac_bench_stats_of(double *samples, unsigned n, struct ac_bench_stats *out);

/* Starts the report for program `name`. */
void ac_bench_begin(const struct ac_bench_opts *o, const char *name);

/*
 * Records one result: `scenario` (e.g. "slab 64B"), `metric` (e.g.
 * "ns/op"), the samples' statistics. Printed as a table row or JSON entry.
 */
void ac_bench_result(const char *scenario, const char *metric, const struct ac_bench_stats *s);

/* Records a ratio or single derived number (e.g. "vs mimalloc", 0.42). */
void ac_bench_value(const char *scenario, const char *metric, double value);

/* Prints machine facts (CPU model, CPUs, kernel, date) and ends the report. */
void ac_bench_end(void);

/* CPU time (utime+stime) that process `pid` has used, in ns; 0 on error. */
uint64_t ac_bench_proc_cpu_ns(pid_t pid);

/* CPU time used by the calling thread, in ns. */
uint64_t ac_bench_thread_cpu_ns(void);

/* Aborts with a message when a benchmark's work was not done. */
#define AC_BENCH_CHECK(cond)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "bench check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
