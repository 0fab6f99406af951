/* Chase-Lev deque: single-thread semantics and a multi-thief stress. */
#include "../../sched/internal.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>

#define ITEM(i)  ((void *)(uintptr_t)((i) + 1))
#define INDEX(p) ((uintptr_t)(p)-1)

Test(sched_deque, owner_pops_newest_and_thief_steals_oldest)
{
    struct ac__deque dq;
    cr_assert_eq(ac__deque_init(&dq, 2), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ac__deque_push(&dq, ITEM(i)), 0);
    cr_expect_eq(ac__deque_pop(&dq), ITEM(2));
    cr_expect_eq(ac__deque_steal(&dq), ITEM(0));
    cr_expect_eq(ac__deque_pop(&dq), ITEM(1));
    cr_expect_null(ac__deque_pop(&dq));
    cr_expect_null(ac__deque_steal(&dq));
    cr_expect_eq(ac__deque_size(&dq), 0);
    ac__deque_close(&dq);
}

Test(sched_deque, grows_past_initial_capacity_keeping_every_item)
{
    struct ac__deque dq;
    cr_assert_eq(ac__deque_init(&dq, 1), 0);
    /* Steal a few first so that top is not 0 when the buffer wraps and grows. */
    for (int i = 0; i < 2; i++)
        cr_assert_eq(ac__deque_push(&dq, ITEM(i)), 0);
    cr_expect_eq(ac__deque_steal(&dq), ITEM(0));
    for (int i = 2; i < 1000; i++)
        cr_assert_eq(ac__deque_push(&dq, ITEM(i)), 0);
    cr_expect_eq(ac__deque_size(&dq), 999);
    for (int i = 1; i < 500; i++)
        cr_expect_eq(ac__deque_steal(&dq), ITEM(i));
    for (int i = 999; i >= 500; i--)
        cr_expect_eq(ac__deque_pop(&dq), ITEM(i));
    cr_expect_null(ac__deque_pop(&dq));
    ac__deque_close(&dq);
}

Test(sched_deque, steal_half_takes_the_older_half_rounded_up)
{
    struct ac__deque dq;
    void *out[16];
    cr_assert_eq(ac__deque_init(&dq, 4), 0);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(ac__deque_push(&dq, ITEM(i)), 0);
    cr_assert_eq(ac__deque_steal_half(&dq, out, 16), 5);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(out[i], ITEM(i));
    cr_expect_eq(ac__deque_steal_half(&dq, out, 1), 1, "max caps the batch");
    cr_expect_eq(out[0], ITEM(5));
    cr_expect_eq(ac__deque_size(&dq), 3);
    cr_assert_eq(ac__deque_steal_half(&dq, out, 16), 2);
    cr_assert_eq(ac__deque_steal_half(&dq, out, 16), 1, "one item left is still stolen");
    cr_expect_eq(ac__deque_steal_half(&dq, out, 16), 0);
    ac__deque_close(&dq);
}

/*
 * Stress: one owner pushes all items (popping every third push and draining
 * at the end), N thieves steal with steal and steal-half. Every item must be
 * taken exactly once. 10 M items in release; fewer under the sanitizers,
 * which slow each atomic by 10-50x (keeps the test well under a minute).
 */
#if defined(AC_TSAN)
#define STRESS_ITEMS 2000000u
#elif defined(AC_ASAN)
#define STRESS_ITEMS 2000000u
#else
#define STRESS_ITEMS 10000000u
#endif
#define THIEVES 3

static struct ac__deque stress_dq;
static _Atomic unsigned char *seen;
static atomic_bool owner_done;
static _Atomic uint64_t taken_by_thieves;

static void take(void *p)
{
    atomic_fetch_add_explicit(&seen[INDEX(p)], 1, memory_order_relaxed);
}

static void *thief(void *arg)
{
    bool half = (uintptr_t)arg % 2;
    void *out[32];
    uint64_t n = 0;
    for (;;) {
        bool done = atomic_load_explicit(&owner_done, memory_order_acquire);
        unsigned got = 0;
        if (half) {
            got = ac__deque_steal_half(&stress_dq, out, 32);
            for (unsigned i = 0; i < got; i++)
                take(out[i]);
        } else if ((out[0] = ac__deque_steal(&stress_dq))) {
            take(out[0]);
            got = 1;
        }
        n += got;
        if (done && got == 0 && ac__deque_size(&stress_dq) == 0)
            break;
    }
    atomic_fetch_add(&taken_by_thieves, n);
    return NULL;
}

Test(sched_deque, owner_and_thieves_take_every_item_exactly_once, .timeout = 120)
{
    seen = calloc(STRESS_ITEMS, 1);
    cr_assert_not_null(seen);
    cr_assert_eq(ac__deque_init(&stress_dq, 2), 0); /* small: growth races with steals */
    pthread_t th[THIEVES];
    for (uintptr_t i = 0; i < THIEVES; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, thief, (void *)i), 0);
    uint64_t popped = 0;
    for (unsigned i = 0; i < STRESS_ITEMS; i++) {
        cr_assert_eq(ac__deque_push(&stress_dq, ITEM(i)), 0);
        void *p;
        if (i % 3 == 2 && (p = ac__deque_pop(&stress_dq))) {
            take(p);
            popped++;
        }
    }
    void *p;
    while ((p = ac__deque_pop(&stress_dq))) {
        take(p);
        popped++;
    }
    atomic_store_explicit(&owner_done, true, memory_order_release);
    for (int i = 0; i < THIEVES; i++)
        pthread_join(th[i], NULL);
    uint64_t stolen = atomic_load(&taken_by_thieves);
    cr_expect_eq(popped + stolen, STRESS_ITEMS, "popped %llu + stolen %llu",
                 (unsigned long long)popped, (unsigned long long)stolen);
    unsigned bad = 0;
    for (unsigned i = 0; i < STRESS_ITEMS; i++)
        bad += seen[i] != 1;
    cr_expect_eq(bad, 0, "%u items not taken exactly once", bad);
    ac__deque_close(&stress_dq);
    free((void *)seen);
}
