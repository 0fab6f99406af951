/*
 * Hierarchical timer wheel with cascading (Varghese & Lauck's scheme 6).
 *
 * Why a wheel: start and cancel are O(1) (unlink from a doubly-linked
 * slot list), which matters because most timers on the request path are
 * deadlines that are cancelled long before they fire. A binary heap costs
 * O(log n) for both.
 *
 * Layout: a tick is 2^16 ns (65.5 µs). Level l has 64 slots of 64^l ticks;
 * six levels span 2^52 ns (52 days); later deadlines wait in the top level
 * and are re-placed each time its slot comes round. A timer sits at the
 * lowest level whose window distance from `cur` is < 64. A 64-bit bitmap
 * per level marks non-empty slots, so finding the next event is a few
 * rotate-and-count-trailing-zeros, never a scan.
 *
 * Exactness: level-0 slots are kept sorted by deadline (insertion walks
 * back from the tail, O(1) for the usual monotonic starts), and a slot is
 * drained only up to `now`, so timers fire in deadline order and never
 * early — there is no tick rounding on the firing side. Higher levels are
 * unsorted; cascading sorts their timers into level 0.
 */
#include "agentcore/timer.h"

#include <errno.h>

#define TICK_SHIFT     16
#define SLOT_BITS      6
#define SLOT_MASK      (AC_WHEEL_SLOTS - 1)
#define LEVEL_DEFERRED 0xff

static _Thread_local struct ac_timer_wheel *current_wheel;

static inline unsigned shift_of(unsigned level)
{
    return SLOT_BITS * level;
}

static inline uint64_t rotr64(uint64_t x, unsigned r)
{
    r &= 63;
    return r ? (x >> r) | (x << (64 - r)) : x;
}

/* Circular doubly-linked lists; *head is the first element or NULL. */
static void list_insert_before(struct ac_timer *pos, struct ac_timer *t)
{
    t->next = pos;
    t->prev = pos->prev;
    pos->prev->next = t;
    pos->prev = t;
}

static void list_append(struct ac_timer **head, struct ac_timer *t)
{
    if (!*head) {
        t->next = t->prev = t;
        *head = t;
        return;
    }
    list_insert_before(*head, t);
}

/* Keeps equal deadlines in start order (FIFO). */
static void list_insert_sorted(struct ac_timer **head, struct ac_timer *t)
{
    if (!*head) {
        list_append(head, t);
        return;
    }
    struct ac_timer *p = (*head)->prev;
    while (p->deadline > t->deadline) {
        if (p == *head) {
            list_insert_before(p, t);
            *head = t;
            return;
        }
        p = p->prev;
    }
    list_insert_before(p->next, t);
}

static void list_unlink(struct ac_timer **head, struct ac_timer *t)
{
    if (t->next == t) {
        *head = NULL;
    } else {
        t->prev->next = t->next;
        t->next->prev = t->prev;
        if (*head == t)
            *head = t->next;
    }
    t->next = t->prev = NULL;
}

void ac_timer_wheel_init(struct ac_timer_wheel *w, uint64_t now_ns)
{
    *w = (struct ac_timer_wheel){.cur = now_ns >> TICK_SHIFT};
}

static void place(struct ac_timer_wheel *w, struct ac_timer *t)
{
    uint64_t tick = t->deadline >> TICK_SHIFT;
    unsigned level, slot;

    if (tick < w->cur)
        tick = w->cur;
    for (level = 0; level < AC_WHEEL_LEVELS; level++) {
        unsigned s = shift_of(level);
        if ((tick >> s) - (w->cur >> s) < AC_WHEEL_SLOTS)
            break;
    }
    if (level == AC_WHEEL_LEVELS) {
        /* Beyond the wheel's span: park in the farthest top-level slot. */
        level = AC_WHEEL_LEVELS - 1;
        slot = (unsigned)((w->cur >> shift_of(level)) + SLOT_MASK) & SLOT_MASK;
    } else {
        slot = (unsigned)(tick >> shift_of(level)) & SLOT_MASK;
    }
    t->level = (uint8_t)level;
    t->slot = (uint8_t)slot;
    if (level == 0)
        list_insert_sorted(&w->slots[0][slot], t);
    else
        list_append(&w->slots[level][slot], t);
    w->bitmap[level] |= 1ull << slot;
}

void ac_timer_wheel_add(struct ac_timer_wheel *w, struct ac_timer *t, uint64_t deadline_ns)
{
    t->deadline = deadline_ns;
    t->armed = true;
    w->count++;
    if (w->expiring && (deadline_ns >> TICK_SHIFT) <= w->cur) {
        /* Due within the tick being expired: fire on the next call. */
        t->level = LEVEL_DEFERRED;
        list_append(&w->deferred, t);
        return;
    }
    place(w, t);
}

void ac_timer_wheel_del(struct ac_timer_wheel *w, struct ac_timer *t)
{
    AC_ASSERT(t->armed);
    if (t->level == LEVEL_DEFERRED) {
        list_unlink(&w->deferred, t);
    } else {
        struct ac_timer **head = &w->slots[t->level][t->slot];
        list_unlink(head, t);
        if (!*head)
            w->bitmap[t->level] &= ~(1ull << t->slot);
    }
    t->armed = false;
    w->count--;
}

/* Moves the timers of the level-`level` window that starts at tick `cur` down. */
static void cascade(struct ac_timer_wheel *w, unsigned level)
{
    unsigned slot = (unsigned)(w->cur >> shift_of(level)) & SLOT_MASK;
    struct ac_timer *list = w->slots[level][slot];

    if (!list)
        return;
    w->slots[level][slot] = NULL;
    w->bitmap[level] &= ~(1ull << slot);
    while (list) {
        struct ac_timer *t = list;
        list_unlink(&list, t);
        place(w, t);
    }
}

/* Cascades every level whose window boundary is `cur`, highest first. */
static void cascade_at_cur(struct ac_timer_wheel *w)
{
    unsigned top = 0;
    while (top + 1 < AC_WHEEL_LEVELS && (w->cur & ((1ull << shift_of(top + 1)) - 1)) == 0)
        top++;
    for (unsigned l = top; l >= 1; l--)
        cascade(w, l);
}

/*
 * Earliest tick ≥ c at which something happens: a level-0 slot to drain or
 * a higher-level window to cascade. UINT64_MAX when the wheel is empty.
 */
static uint64_t next_event_tick(const struct ac_timer_wheel *w, uint64_t c, bool *is_level0)
{
    uint64_t best = UINT64_MAX;

    *is_level0 = false;
    if (w->bitmap[0]) {
        unsigned idx = (unsigned)__builtin_ctzll(rotr64(w->bitmap[0], (unsigned)(c & SLOT_MASK)));
        best = c + idx;
        *is_level0 = true;
    }
    for (unsigned l = 1; l < AC_WHEEL_LEVELS; l++) {
        if (!w->bitmap[l])
            continue;
        unsigned s = shift_of(l);
        uint64_t base = c >> s;
        unsigned idx =
            (unsigned)__builtin_ctzll(rotr64(w->bitmap[l], (unsigned)(base & SLOT_MASK)));
        uint64_t tick = (base + idx) << s;
        if (tick < c)
            tick = c;
        if (tick < best) {
            best = tick;
            *is_level0 = false;
        }
    }
    return best;
}

unsigned ac_timer_wheel_expire(struct ac_timer_wheel *w, uint64_t now_ns)
{
    uint64_t now_tick = now_ns >> TICK_SHIFT;
    unsigned fired = 0;

    /*
     * `cur` stays at the tick being expired (≤ now_tick), never past it, so
     * a timer started later with a deadline in that tick or earlier lands
     * in a slot the next call drains. Cascading the same boundary twice is
     * harmless: after the first time its slot is empty.
     */
    while (w->deferred) {
        struct ac_timer *t = w->deferred;
        list_unlink(&w->deferred, t);
        place(w, t);
    }
    if (w->count == 0) {
        if (w->cur < now_tick)
            w->cur = now_tick;
        return 0;
    }
    w->expiring = true;
    while (w->cur <= now_tick) {
        cascade_at_cur(w);
        struct ac_timer **head = &w->slots[0][w->cur & SLOT_MASK];
        while (*head && (*head)->deadline <= now_ns) {
            struct ac_timer *t = *head;
            list_unlink(head, t);
            t->armed = false;
            w->count--;
            fired++;
            t->cb(t, t->arg); /* may start, cancel or free timers */
        }
        if (*head)
            break; /* the rest of this tick lies after now_ns */
        w->bitmap[0] &= ~(1ull << (w->cur & SLOT_MASK));
        if (w->cur == now_tick)
            break;
        bool lvl0;
        uint64_t next = next_event_tick(w, w->cur + 1, &lvl0);
        w->cur = next < now_tick ? next : now_tick;
    }
    w->expiring = false;
    return fired;
}

uint64_t ac_timer_wheel_next(const struct ac_timer_wheel *w)
{
    bool lvl0;

    if (w->deferred)
        return 0;
    if (w->count == 0)
        return UINT64_MAX;
    uint64_t tick = next_event_tick(w, w->cur, &lvl0);
    if (tick == UINT64_MAX)
        return UINT64_MAX;
    if (lvl0) {
        const struct ac_timer *head = w->slots[0][tick & SLOT_MASK];
        return head->deadline;
    }
    return tick << TICK_SHIFT;
}

void ac_timer_wheel_set_current(struct ac_timer_wheel *w)
{
    current_wheel = w;
}

int ac_timer_start_at(struct ac_timer *t, uint64_t deadline_ns, ac_timer_fn cb, void *arg)
{
    struct ac_timer_wheel *w = current_wheel;
    if (!w)
        return -ENXIO;
    if (t->armed)
        return -EALREADY;
    t->cb = cb;
    t->arg = arg;
    ac_timer_wheel_add(w, t, deadline_ns);
    return 0;
}

int ac_timer_start(struct ac_timer *t, uint64_t delay_ns, ac_timer_fn cb, void *arg)
{
    return ac_timer_start_at(t, ac_now_ns() + delay_ns, cb, arg);
}

bool ac_timer_cancel(struct ac_timer *t)
{
    if (!t->armed)
        return false;
    AC_ASSERT(current_wheel);
    ac_timer_wheel_del(current_wheel, t);
    return true;
}
