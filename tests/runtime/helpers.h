/* Shared helpers for runtime tests. */
#ifndef AC_TEST_RUNTIME_HELPERS_H
#define AC_TEST_RUNTIME_HELPERS_H

#include "agentcore.h"

#include <criterion/criterion.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Iteration counts are smaller under the sanitizers (10-50x slower). */
#if defined(AC_TSAN) || defined(AC_ASAN)
#define AC_TEST_SCALE 20
#else
#define AC_TEST_SCALE 1
#endif

static inline unsigned test_cpu_count(void)
{
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    return (unsigned)CPU_COUNT(&set);
}

/* A config for tests: no signal handling (Criterion owns signals). */
static inline void test_config(ac_runtime_config *cfg)
{
    ac_runtime_config_init(cfg);
    cfg->handle_signals = false;
}

/* Runs `rt` and asserts it stopped cleanly. */
static inline void test_run(ac_runtime *rt)
{
    int err = ac_runtime_run(rt);
    cr_assert_eq(err, 0, "ac_runtime_run: %s", ac_strerror(err));
}

#endif
