/*
 * agentcore/fault.h — fault injection for tests (the `faults` preset).
 *
 * Built with -DAC_FAULTS=ON, chosen operations fail at a seeded random
 * rate, each kind at one place:
 *
 *   AC_FAULT_ALLOC       mem's slab refill finds no memory: ac_alloc returns NULL
 *   AC_FAULT_IO          a submitted receive, send, accept or connect never
 *                        runs and completes with -ENOMEM, -ECANCELED,
 *                        -ECONNRESET or -EAGAIN (net's ring: ac_ring_submit
 *                        keeps it, ac_ring_dispatch completes it — the
 *                        common path of every backend)
 *   AC_FAULT_SHORT_SEND  a send is offered fewer bytes than asked
 *   AC_FAULT_NOBUFS      a receive completes with -ENOBUFS (the buffer ring ran dry)
 *
 * Environment, read once at first use: AC_FAULT_SEED (default 1),
 * AC_FAULT_RATE (probability per operation, default 0: off),
 * AC_FAULT_KINDS (comma list of alloc,io,short,nobufs; default all).
 * Each thread draws from its own generator seeded from the seed and the
 * order in which threads first draw, so a run is repeatable as far as the
 * threads' interleaving is.
 *
 * Without AC_FAULTS the call sites are compiled out: nothing here runs and
 * ac_fault_compiled() is false. The functions exist in both builds.
 */
#ifndef AGENTCORE_FAULT_H
#define AGENTCORE_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ac_fault_kind {
    AC_FAULT_ALLOC,
    AC_FAULT_IO,
    AC_FAULT_SHORT_SEND,
    AC_FAULT_NOBUFS,
    AC_FAULT_KIND_COUNT
};

/* Whether this build has the injection points (AC_FAULTS). */
bool ac_fault_compiled(void);

/*
 * Sets the rate (0 stops injection, 1 fails every chosen operation) and
 * the kinds (bit k: enum ac_fault_kind k) at run time, for every thread.
 * Any thread.
 */
void ac_fault_set(double rate, unsigned kinds);

/* Faults injected so far of `kind`, over all threads. Any thread. */
uint64_t ac_fault_count(enum ac_fault_kind kind);

/*
 * Injection-point helper: true when this operation of `kind` should fail
 * now. Draws from the calling thread's generator.
 */
bool ac_fault_hit(enum ac_fault_kind kind);

/* A uniform draw in [0, n) from the calling thread's generator (n > 0). */
uint32_t ac_fault_pick(uint32_t n);

#ifdef __cplusplus
}
#endif

#endif
