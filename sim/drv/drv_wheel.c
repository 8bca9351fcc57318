/* drv_wheel.c — the driver's send wheel: links by the time of their next slot, in tick-wide buckets, O(1) per operation. */
#include <string.h>

#include "drv_internal.h"

/* Level 0 holds the nodes whose tick is in the cursor's span (the 4096 ticks sharing
 * c >> 12), one bucket per tick; level 1 the nodes of the later spans of the cursor's
 * block (c >> 24), one bucket per span; the list ovf everything beyond. A span's
 * bucket is unfolded into level 0 when the cursor enters the span, the list when it
 * enters a new block. Every node of level 0 is at or after the cursor. */

#define MASK (DRV_WN - 1)

static inline uint64_t span(uint64_t k) { return k >> DRV_WB; }
static inline uint64_t block(uint64_t k) { return k >> (2 * DRV_WB); }

static void link_in(struct drv_wnode **head, struct drv_wnode *x)
{
    x->next = *head;
    if (x->next)
        x->next->pprev = &x->next;
    x->pprev = head;
    *head = x;
}

static void mark(uint64_t *m, uint64_t *s, uint32_t i)
{
    m[i / 64] |= 1ull << (i % 64);
    *s |= 1ull << (i / 64);
}

static void unmark(uint64_t *m, uint64_t *s, uint32_t i)
{
    m[i / 64] &= ~(1ull << (i % 64));
    if (!m[i / 64])
        *s &= ~(1ull << (i / 64));
}

/* The lowest set bit at or after i (< DRV_WN), or -1. */
static int first_from(const uint64_t *m, uint64_t s, uint32_t i)
{
    if (i >= DRV_WN)
        return -1;
    uint32_t w = i / 64;
    uint64_t bits = m[w] & (~0ull << (i % 64));
    if (bits)
        return (int)(w * 64 + (uint32_t)__builtin_ctzll(bits));
    uint64_t rest = w + 1 < 64 ? s & (~0ull << (w + 1)) : 0;
    if (!rest)
        return -1;
    w = (uint32_t)__builtin_ctzll(rest);
    return (int)(w * 64 + (uint32_t)__builtin_ctzll(m[w]));
}

static void place(struct drv_wheel *w, struct drv_wnode *x)
{
    if (x->k < w->c)
        x->k = w->c;   /* late: due at the next look */
    if (span(x->k) == span(w->c)) {
        uint32_t i = (uint32_t)(x->k & MASK);
        link_in(&w->b0[i], x);
        mark(w->m0, &w->s0, i);
    } else if (block(x->k) == block(w->c)) {
        uint32_t i = (uint32_t)(span(x->k) & MASK);
        link_in(&w->b1[i], x);
        mark(w->m1, &w->s1, i);
    } else {
        link_in(&w->ovf, x);
    }
}

void drv_wheel_init(struct drv_wheel *w, rt_ns tick, rt_ns now)
{
    memset(w, 0, sizeof *w);
    w->tick = tick > 0 ? tick : 1;
    w->c = (uint64_t)now / (uint64_t)w->tick;
}

void drv_wheel_add(struct drv_wheel *w, struct drv_wnode *x, rt_ns t)
{
    if (x->pprev)
        drv_wheel_del(w, x);
    x->t = t;
    x->k = (uint64_t)t / (uint64_t)w->tick;
    place(w, x);
    w->n++;
}

void drv_wheel_del(struct drv_wheel *w, struct drv_wnode *x)
{
    if (!x->pprev)
        return;
    struct drv_wnode **head = NULL;
    uint64_t *m = NULL, *s = NULL;
    uint32_t i = 0;
    if (x->k >= w->c && span(x->k) == span(w->c)) {
        i = (uint32_t)(x->k & MASK);
        head = &w->b0[i];
        m = w->m0;
        s = &w->s0;
    } else if (x->k >= w->c && block(x->k) == block(w->c)) {
        i = (uint32_t)(span(x->k) & MASK);
        head = &w->b1[i];
        m = w->m1;
        s = &w->s1;
    }
    *x->pprev = x->next;
    if (x->next)
        x->next->pprev = x->pprev;
    x->next = NULL;
    x->pprev = NULL;
    w->n--;
    if (head && !*head)
        unmark(m, s, i);
}

/* Move the cursor to the start of span sp (> the cursor's), unfolding what waits for
 * it: the list when a block begins, then the span's own bucket. */
static void enter_span(struct drv_wheel *w, uint64_t sp)
{
    bool new_block = block(sp << DRV_WB) != block(w->c);
    w->c = sp << DRV_WB;
    if (new_block) {
        /* every level-1 bucket belonged to the old block and was unfolded or empty */
        struct drv_wnode *o = w->ovf;
        w->ovf = NULL;
        while (o) {
            struct drv_wnode *nx = o->next;
            o->pprev = NULL;
            place(w, o);
            o = nx;
        }
    }
    uint32_t i = (uint32_t)(sp & MASK);
    struct drv_wnode *x = w->b1[i];
    if (!x)
        return;
    w->b1[i] = NULL;
    unmark(w->m1, &w->s1, i);
    while (x) {
        struct drv_wnode *nx = x->next;
        x->pprev = NULL;
        place(w, x);
        x = nx;
    }
}

struct drv_wnode *drv_wheel_due(struct drv_wheel *w, rt_ns now)
{
    uint64_t kn = (uint64_t)now / (uint64_t)w->tick;
    struct drv_wnode *out = NULL, **tail = &out;
    if (kn < w->c)
        return NULL;
    for (;;) {
        /* this span's buckets up to kn */
        uint64_t end = (span(w->c) << DRV_WB) | MASK;
        uint64_t last = kn < end ? kn : end;
        int i = first_from(w->m0, w->s0, (uint32_t)(w->c & MASK));
        while (i >= 0 && (uint64_t)i <= (last & MASK)) {
            struct drv_wnode *x = w->b0[i];
            w->b0[i] = NULL;
            unmark(w->m0, &w->s0, (uint32_t)i);
            for (; x; x = x->next) {
                x->pprev = NULL;
                w->n--;
                *tail = x;
                tail = &x->next;
            }
            *tail = NULL;
            i = first_from(w->m0, w->s0, (uint32_t)i + 1);
        }
        if (kn <= end) {
            /* the cursor stays on now's tick: a node put back or added late lands in
             * its bucket and the next look, at any time, takes it */
            w->c = kn;
            break;
        }
        /* past this span: the next span with anything in it, or the one kn is in */
        uint64_t next_sp = span(w->c) + 1;
        if (block(next_sp << DRV_WB) == block(w->c)) {
            int j = first_from(w->m1, w->s1, (uint32_t)(next_sp & MASK));
            uint64_t cand = j >= 0 ? (span(w->c) & ~(uint64_t)MASK) | (uint64_t)j : UINT64_MAX;
            if (cand > span(kn))
                cand = span(kn) < ((block(w->c) + 1) << DRV_WB) ? span(kn) : (block(w->c) + 1) << DRV_WB;
            next_sp = cand;
        }
        enter_span(w, next_sp);
    }
    return out;
}

rt_ns drv_wheel_next(const struct drv_wheel *w, rt_ns not_before)
{
    if (w->n == 0)
        return RT_NEVER;
    uint64_t k;
    if (w->s0) {
        int i = first_from(w->m0, w->s0, 0);
        k = (span(w->c) << DRV_WB) | (uint64_t)i;
        rt_ns at = (rt_ns)(k * (uint64_t)w->tick);
        if (at <= not_before)
            return not_before;
        /* the bucket spans a tick: its earliest slot, to the nanosecond */
        rt_ns min = RT_NEVER;
        for (const struct drv_wnode *x = w->b0[i]; x; x = x->next)
            if (x->t < min)
                min = x->t;
        return min > not_before ? min : not_before;
    }
    if (w->s1) {
        int j = first_from(w->m1, w->s1, 0);
        k = ((span(w->c) & ~(uint64_t)MASK) | (uint64_t)j) << DRV_WB;
    } else {
        k = (block(w->c) + 1) << (2 * DRV_WB);   /* the list unfolds when the next block begins */
    }
    rt_ns at = (rt_ns)(k * (uint64_t)w->tick);
    return at > not_before ? at : not_before;
}
