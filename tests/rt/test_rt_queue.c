/* test_rt_queue.c — rt_queue: blocking and non-blocking ops, deadlines, cancel, close, notifier, select. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>

#include "rt.h"

#define P(x) ((void *)(uintptr_t)(x))

Test(rt_queue, try_ops_fifo_full_and_empty)
{
    rt_queue *q = rt_queue_create(3);
    cr_assert_not_null(q);
    cr_assert_eq(rt_queue_cap(q), 3);
    void *it;
    cr_assert_eq(rt_queue_try_pop(q, &it), -EAGAIN);
    for (int i = 1; i <= 3; i++)
        cr_assert_eq(rt_queue_try_push(q, P(i)), 0);
    cr_assert_eq(rt_queue_try_push(q, P(4)), -EAGAIN);
    cr_assert_eq(rt_queue_len(q), 3);
    for (int i = 1; i <= 3; i++) {
        cr_assert_eq(rt_queue_try_pop(q, &it), 0);
        cr_assert_eq(it, P(i));
    }
    cr_assert_eq(rt_queue_try_pop(q, &it), -EAGAIN);
    /* wrap around the ring */
    for (int round = 0; round < 5; round++) {
        cr_assert_eq(rt_queue_try_push(q, P(10 + round)), 0);
        cr_assert_eq(rt_queue_try_pop(q, &it), 0);
        cr_assert_eq(it, P(10 + round));
    }
    cr_assert_null(rt_queue_create(0));
    rt_queue_destroy(q);
}

Test(rt_queue, deadlines_time_out)
{
    rt_queue *q = rt_queue_create(1);
    void *it;
    rt_ns t0 = rt_now();
    cr_assert_eq(rt_queue_pop(q, &it, rt_deadline_in(20 * RT_MS), NULL), -ETIMEDOUT);
    cr_assert_geq(rt_now() - t0, 20 * RT_MS);
    cr_assert_eq(rt_queue_push(q, P(1), rt_deadline_in(5 * RT_MS), NULL), 0);
    t0 = rt_now();
    cr_assert_eq(rt_queue_push(q, P(2), rt_deadline_in(20 * RT_MS), NULL), -ETIMEDOUT);
    cr_assert_geq(rt_now() - t0, 20 * RT_MS);
    /* a deadline already past still takes what is there */
    cr_assert_eq(rt_queue_pop(q, &it, rt_now() - RT_S, NULL), 0);
    cr_assert_eq(it, P(1));
    rt_queue_destroy(q);
}

struct op {
    rt_queue *q;
    rt_queue *q2;
    rt_ctx *ctx;
    rt_ns delay;
    int rc;
    void *item;
};

static void late_push(void *a)
{
    struct op *o = a;
    rt_sleep(o->delay, NULL);
    o->rc = rt_queue_push(o->q, o->item, RT_NEVER, NULL);
}

static void late_pop(void *a)
{
    struct op *o = a;
    rt_sleep(o->delay, NULL);
    o->rc = rt_queue_pop(o->q, &o->item, RT_NEVER, NULL);
}

Test(rt_queue, blocking_pop_waits_for_push)
{
    rt_queue *q = rt_queue_create(2);
    struct op o = {.q = q, .delay = 20 * RT_MS, .item = P(42)};
    rt_thread *t;
    rt_group_stats before, after;
    rt_group_get(RT_GROUP_OTHER, &before);
    cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_OTHER, "pusher", late_push, &o), 0);
    void *it = NULL;
    cr_assert_eq(rt_queue_pop(q, &it, RT_NEVER, NULL), 0);
    cr_assert_eq(it, P(42));
    cr_assert_eq(rt_thread_join(t), 0);
    cr_assert_eq(o.rc, 0);
    rt_group_get(RT_GROUP_OTHER, &after);
    /* our blocking pop (1) + the pusher's sleep (1); the pusher's push did not wait */
    cr_assert_eq(after.wakeups - before.wakeups, 2);
    rt_queue_destroy(q);
}

Test(rt_queue, blocking_push_waits_for_room)
{
    rt_queue *q = rt_queue_create(1);
    cr_assert_eq(rt_queue_try_push(q, P(1)), 0);
    struct op o = {.q = q, .delay = 20 * RT_MS};
    rt_thread *t;
    cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_LINK, "popper", late_pop, &o), 0);
    cr_assert_eq(rt_queue_push(q, P(2), RT_NEVER, NULL), 0);
    cr_assert_eq(rt_thread_join(t), 0);
    cr_assert_eq(o.rc, 0);
    cr_assert_eq(o.item, P(1));
    void *it;
    cr_assert_eq(rt_queue_try_pop(q, &it), 0);
    cr_assert_eq(it, P(2));
    rt_queue_destroy(q);
}

static void pop_forever(void *a)
{
    struct op *o = a;
    o->rc = rt_queue_pop(o->q, &o->item, RT_NEVER, o->ctx);
}

static void push_forever(void *a)
{
    struct op *o = a;
    o->rc = rt_queue_push(o->q, P(9), RT_NEVER, o->ctx);
}

static void select_forever(void *a)
{
    struct op *o = a;
    rt_queue *qs[2] = {o->q, o->q2};
    o->rc = rt_queue_select(qs, 2, RT_NEVER, o->ctx);
}

Test(rt_queue, cancel_wakes_pop_push_and_select)
{
    rt_queue *empty = rt_queue_create(1), *empty2 = rt_queue_create(1), *full = rt_queue_create(1);
    cr_assert_eq(rt_queue_try_push(full, P(1)), 0);
    rt_ctx *root = rt_ctx_create(NULL);
    rt_ctx *child = rt_ctx_create(root);
    struct op a = {.q = empty, .ctx = root, .rc = 1};
    struct op b = {.q = full, .ctx = child, .rc = 1};
    struct op c = {.q = empty, .q2 = empty2, .ctx = child, .rc = 1};
    rt_thread *ta, *tb, *tc;
    cr_assert_eq(rt_thread_spawn(&ta, RT_GROUP_LINK, "pop", pop_forever, &a), 0);
    cr_assert_eq(rt_thread_spawn(&tb, RT_GROUP_LINK, "push", push_forever, &b), 0);
    cr_assert_eq(rt_thread_spawn(&tc, RT_GROUP_LINK, "select", select_forever, &c), 0);
    rt_sleep(30 * RT_MS, NULL);
    cr_assert_eq(a.rc, 1, "pop returned before cancel");
    cr_assert_eq(b.rc, 1, "push returned before cancel");
    cr_assert_eq(c.rc, 1, "select returned before cancel");
    rt_ctx_cancel(root);
    cr_assert_eq(rt_thread_join(ta), 0);
    cr_assert_eq(rt_thread_join(tb), 0);
    cr_assert_eq(rt_thread_join(tc), 0);
    cr_assert_eq(a.rc, -ECANCELED);
    cr_assert_eq(b.rc, -ECANCELED);
    cr_assert_eq(c.rc, -ECANCELED);
    rt_group_stats s;
    rt_group_get(RT_GROUP_LINK, &s);
    cr_assert_eq(s.wakeups, 3);
    /* a cancelled ctx fails at once, even when waiting would be needed */
    void *it;
    cr_assert_eq(rt_queue_pop(empty, &it, RT_NEVER, child), -ECANCELED);
    rt_ctx_destroy(child);
    rt_ctx_destroy(root);
    rt_queue_destroy(empty);
    rt_queue_destroy(empty2);
    rt_queue_destroy(full);
}

Test(rt_queue, close_drains_then_epipe_and_wakes_waiters)
{
    rt_queue *q = rt_queue_create(2), *full = rt_queue_create(1);
    cr_assert_eq(rt_queue_try_push(full, P(1)), 0);
    struct op a = {.q = q, .rc = 1}, b = {.q = full, .rc = 1};
    rt_thread *ta, *tb;
    cr_assert_eq(rt_thread_spawn(&ta, RT_GROUP_LINK, "pop", pop_forever, &a), 0);
    cr_assert_eq(rt_thread_spawn(&tb, RT_GROUP_LINK, "push", push_forever, &b), 0);
    rt_sleep(20 * RT_MS, NULL);
    rt_queue_close(q);
    rt_queue_close(full);
    cr_assert_eq(rt_thread_join(ta), 0);
    cr_assert_eq(rt_thread_join(tb), 0);
    cr_assert_eq(a.rc, -EPIPE);
    cr_assert_eq(b.rc, -EPIPE);
    cr_assert(rt_queue_closed(full));

    /* items pushed before close are still delivered, then -EPIPE */
    void *it;
    cr_assert_eq(rt_queue_try_push(full, P(2)), -EPIPE);
    cr_assert_eq(rt_queue_push(full, P(2), RT_NEVER, NULL), -EPIPE);
    cr_assert_eq(rt_queue_pop(full, &it, RT_NEVER, NULL), 0);
    cr_assert_eq(it, P(1));
    cr_assert_eq(rt_queue_pop(full, &it, RT_NEVER, NULL), -EPIPE);
    cr_assert_eq(rt_queue_try_pop(full, &it), -EPIPE);
    rt_queue_destroy(q);
    rt_queue_destroy(full);
}

struct events {
    int nonempty, low, closed;
    rt_queue *q;
};

static void on_event(void *arg, rt_queue *q, enum rt_queue_event ev)
{
    struct events *e = arg;
    cr_assert_eq(q, e->q);
    /* no lock is held: the notifier may use the queue */
    (void)rt_queue_len(q);
    if (ev == RT_Q_NONEMPTY)
        e->nonempty++;
    else if (ev == RT_Q_LOW)
        e->low++;
    else if (ev == RT_Q_CLOSED)
        e->closed++;
}

Test(rt_queue, notifier_events_and_counts)
{
    rt_queue *q = rt_queue_create(8);
    struct events e = {.q = q};
    rt_queue_set_notify(q, on_event, &e, 2);
    void *it;
    for (int i = 0; i < 5; i++)
        cr_assert_eq(rt_queue_try_push(q, P(i)), 0);
    cr_assert_eq(e.nonempty, 1, "only the 0 -> 1 push notifies");
    cr_assert_eq(rt_queue_try_pop(q, &it), 0);   /* 4 */
    cr_assert_eq(rt_queue_try_pop(q, &it), 0);   /* 3 */
    cr_assert_eq(e.low, 0);
    cr_assert_eq(rt_queue_try_pop(q, &it), 0);   /* 2 == low water */
    cr_assert_eq(e.low, 1);
    cr_assert_eq(rt_queue_try_pop(q, &it), 0);   /* 1: below, no new event */
    cr_assert_eq(rt_queue_pop(q, &it, RT_NEVER, NULL), 0);   /* 0 */
    cr_assert_eq(e.low, 1);
    cr_assert_eq(rt_queue_push(q, P(7), RT_NEVER, NULL), 0);
    cr_assert_eq(e.nonempty, 2);
    rt_queue_close(q);
    rt_queue_close(q);
    cr_assert_eq(e.closed, 1);
    cr_assert_eq(e.nonempty, 2);
    rt_queue_destroy(q);
}

Test(rt_queue, select_returns_ready_index)
{
    rt_queue *a = rt_queue_create(1), *b = rt_queue_create(1);
    rt_queue *qs[2] = {a, b};
    cr_assert_eq(rt_queue_select(qs, 2, rt_deadline_in(10 * RT_MS), NULL), -ETIMEDOUT);
    cr_assert_eq(rt_queue_try_push(b, P(1)), 0);
    cr_assert_eq(rt_queue_select(qs, 2, RT_NEVER, NULL), 1);

    /* blocks until a push on the other queue */
    void *it;
    cr_assert_eq(rt_queue_try_pop(b, &it), 0);
    struct op o = {.q = a, .delay = 20 * RT_MS, .item = P(5)};
    rt_thread *t;
    cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_LINK, "pusher", late_push, &o), 0);
    cr_assert_eq(rt_queue_select(qs, 2, RT_NEVER, NULL), 0);
    cr_assert_eq(rt_thread_join(t), 0);
    cr_assert_eq(rt_queue_try_pop(a, &it), 0);

    /* a closed queue is ready */
    rt_queue_close(b);
    cr_assert_eq(rt_queue_select(qs, 2, RT_NEVER, NULL), 1);
    cr_assert_eq(rt_queue_select(qs, 0, RT_NEVER, NULL), -EINVAL);
    rt_queue_destroy(a);
    rt_queue_destroy(b);
}

#define N_ITEMS 20000

struct mpmc {
    rt_queue *q;
    int64_t sum;
    int count;   /* consumer: items taken; producer: failed pushes */
};

/* No cr_assert off the test's own thread: results are checked after join. */
static void producer(void *arg)
{
    struct mpmc *m = arg;
    for (int i = 1; i <= N_ITEMS; i++)
        m->count += rt_queue_push(m->q, P(i), RT_NEVER, NULL) != 0;
}

static void consumer(void *arg)
{
    struct mpmc *m = arg;
    void *it;
    while (rt_queue_pop(m->q, &it, RT_NEVER, NULL) == 0) {
        m->sum += (int64_t)(uintptr_t)it;
        m->count++;
    }
}

Test(rt_queue, mpmc_delivers_every_item_once)
{
    rt_queue *q = rt_queue_create(16);
    struct mpmc pa = {.q = q}, pb = {.q = q}, c1 = {.q = q}, c2 = {.q = q};
    rt_thread *p1, *p2, *t1, *t2;
    cr_assert_eq(rt_thread_spawn(&t1, RT_GROUP_APP, "c1", consumer, &c1), 0);
    cr_assert_eq(rt_thread_spawn(&t2, RT_GROUP_APP, "c2", consumer, &c2), 0);
    cr_assert_eq(rt_thread_spawn(&p1, RT_GROUP_APP, "p1", producer, &pa), 0);
    cr_assert_eq(rt_thread_spawn(&p2, RT_GROUP_APP, "p2", producer, &pb), 0);
    rt_thread_join(p1);
    rt_thread_join(p2);
    rt_queue_close(q);
    rt_thread_join(t1);
    rt_thread_join(t2);
    int64_t one = (int64_t)N_ITEMS * (N_ITEMS + 1) / 2;
    cr_assert_eq(pa.count + pb.count, 0);
    cr_assert_eq(c1.count + c2.count, 2 * N_ITEMS);
    cr_assert_eq(c1.sum + c2.sum, 2 * one);
    rt_queue_destroy(q);
}
