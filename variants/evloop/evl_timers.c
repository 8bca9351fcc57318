/* evl_timers.c — timeout lists: sorted intrusive lists with one lazily re-armed timer for the head. */
#include <errno.h>

#include "evl.h"

/* A timer that fires this early (libev's clock and rt_now are read at different
 * moments) still counts as due: no second wake-up for a few microseconds. */
#define DUE_TOLERANCE RT_MS

static void arm(evl_tlist *tl, rt_ns now)
{
    evl_tnode *first = tl->head.next;
    if (first == &tl->head) {
        /* Empty: leave a stale timer to fire once and find nothing rather than stop it
         * here; stopping costs as much as one empty expiry and is rarer to pay. */
        return;
    }
    rt_ns at = first->at + tl->slack;
    if (tl->armed_at != RT_NEVER && tl->armed_at <= at)
        return;   /* armed earlier than needed: it will re-arm when it fires */
    tl->armed_at = at;
    rt_timer_start(tl->timer, at > now ? at - now : 0, 0);
}

static void on_timer(rt_timer *t, void *arg)
{
    (void)t;
    evl_tlist *tl = arg;
    tl->armed_at = RT_NEVER;
    rt_ns now = rt_loop_now(tl->rl);
    /* Move what is due to a local list first: an expire callback may put its node back
     * with a deadline inside the tolerance, which must wait for the next firing. */
    evl_tnode due = {&due, &due, 0};
    for (;;) {
        evl_tnode *n = tl->head.next;
        if (n == &tl->head || n->at > now + DUE_TOLERANCE)
            break;
        evl_tlist_del(n);
        n->prev = due.prev;
        n->next = &due;
        due.prev->next = n;
        due.prev = n;
    }
    while (due.next != &due) {
        evl_tnode *n = due.next;
        evl_tlist_del(n);
        tl->expire(tl, n, now);
    }
    arm(tl, now);
}

int evl_tlist_init(evl_tlist *tl, rt_loop *rl, rt_ns slack, evl_expire_fn fn, void *arg)
{
    tl->head.prev = tl->head.next = &tl->head;
    tl->head.at = 0;
    tl->armed_at = RT_NEVER;
    tl->slack = slack;
    tl->rl = rl;
    tl->expire = fn;
    tl->arg = arg;
    tl->timer = rt_timer_create(rl, on_timer, tl);
    return tl->timer ? 0 : -ENOMEM;
}

void evl_tlist_deinit(evl_tlist *tl)
{
    while (tl->head.next && tl->head.next != &tl->head)
        evl_tlist_del(tl->head.next);
    rt_timer_destroy(tl->timer);
    tl->timer = NULL;
}

void evl_tlist_del(evl_tnode *n)
{
    if (!n->next)
        return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
}

void evl_tlist_put(evl_tlist *tl, evl_tnode *n, rt_ns at)
{
    evl_tlist_del(n);
    n->at = at;
    /* Walk back from the tail: with a constant timeout the tail is the place. */
    evl_tnode *p = tl->head.prev;
    while (p != &tl->head && p->at > at)
        p = p->prev;
    n->prev = p;
    n->next = p->next;
    p->next->prev = n;
    p->next = n;
    if (tl->head.next == n)
        arm(tl, rt_loop_now(tl->rl));
}
