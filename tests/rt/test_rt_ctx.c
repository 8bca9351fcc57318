/* test_rt_ctx.c — rt_ctx cancellation, fd waits, sleeps and the ticker. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include "rt.h"

Test(rt_ctx, cancel_is_sticky_idempotent_and_inherited)
{
    cr_assert_not(rt_ctx_done(NULL));
    rt_ctx *root = rt_ctx_create(NULL);
    rt_ctx *child = rt_ctx_create(root);
    rt_ctx *grandchild = rt_ctx_create(child);
    rt_ctx *sibling = rt_ctx_create(root);
    cr_assert_not(rt_ctx_done(root));
    rt_ctx_cancel(child);
    cr_assert(rt_ctx_done(child));
    cr_assert(rt_ctx_done(grandchild));
    cr_assert_not(rt_ctx_done(root), "a child's cancel must not reach its parent");
    cr_assert_not(rt_ctx_done(sibling));
    rt_ctx_cancel(root);
    rt_ctx_cancel(root);
    cr_assert(rt_ctx_done(root));
    cr_assert(rt_ctx_done(sibling));
    rt_ctx *late = rt_ctx_create(root);
    cr_assert(rt_ctx_done(late), "a child of a cancelled ctx starts cancelled");
    rt_ctx_destroy(late);
    rt_ctx_destroy(grandchild);
    rt_ctx_destroy(child);
    rt_ctx_destroy(sibling);
    rt_ctx_destroy(root);
    rt_ctx_destroy(NULL);
}

Test(rt_ctx, destroyed_parent_orphans_children)
{
    rt_ctx *root = rt_ctx_create(NULL);
    rt_ctx *child = rt_ctx_create(root);
    rt_ctx_destroy(root);
    cr_assert_not(rt_ctx_done(child));
    rt_ctx_cancel(child);
    cr_assert(rt_ctx_done(child));
    rt_ctx_destroy(child);
}

Test(rt_ctx, deadline_in_saturates)
{
    rt_ns before = rt_now();
    cr_assert_eq(rt_deadline_in(RT_NEVER), RT_NEVER);
    cr_assert_eq(rt_deadline_in(RT_NEVER - 1), RT_NEVER);
    rt_ns d = rt_deadline_in(-5);
    cr_assert_geq(d, before);
    cr_assert_leq(d, rt_now());
    cr_assert_geq(rt_deadline_in(RT_S), before + RT_S);
}

Test(rt_ctx, wait_fd_ready_timeout_and_past_deadline)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    rt_ns t0 = rt_now();
    cr_assert_eq(rt_wait_fd(p[0], POLLIN, rt_deadline_in(20 * RT_MS), NULL), -ETIMEDOUT);
    cr_assert_geq(rt_now() - t0, 20 * RT_MS);
    cr_assert_eq(write(p[1], "x", 1), 1);
    cr_assert_eq(rt_wait_fd(p[0], POLLIN, RT_NEVER, NULL), POLLIN);
    /* a deadline already past still reports a ready fd (the seed's 1 ms polls) */
    cr_assert_eq(rt_wait_fd(p[0], POLLIN, rt_now() - RT_S, NULL), POLLIN);
    cr_assert_eq(rt_wait_fd(p[1], POLLOUT, RT_NEVER, NULL), POLLOUT);
    cr_assert_eq(rt_wait_fd(-1, POLLIN, RT_NEVER, NULL), -EBADF);
    close(p[0]);
    close(p[1]);
}

Test(rt_ctx, sleep_returns_after_deadline)
{
    rt_ns t0 = rt_now();
    cr_assert_eq(rt_sleep(15 * RT_MS, NULL), 0);
    cr_assert_geq(rt_now() - t0, 15 * RT_MS);
    cr_assert_eq(rt_sleep_until(t0, NULL), 0);
    rt_ctx *c = rt_ctx_create(NULL);
    rt_ctx_cancel(c);
    cr_assert_eq(rt_sleep(RT_S, c), -ECANCELED);
    rt_ctx_destroy(c);
}

struct waiter {
    rt_ctx *ctx;
    int fd;
    int rc;
};

static void sleep_forever(void *a)
{
    struct waiter *w = a;
    w->rc = rt_sleep_until(RT_NEVER, w->ctx);
}

static void wait_fd_forever(void *a)
{
    struct waiter *w = a;
    w->rc = rt_wait_fd(w->fd, POLLIN, RT_NEVER, w->ctx);
}

static void cancel_later(void *a)
{
    rt_sleep(20 * RT_MS, NULL);
    rt_ctx_cancel(a);
}

Test(rt_ctx, cancel_wakes_threads_blocked_forever)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    rt_ctx *root = rt_ctx_create(NULL);
    rt_ctx *child = rt_ctx_create(root);
    struct waiter a = {.ctx = root, .rc = 1}, b = {.ctx = child, .fd = p[0], .rc = 1};
    rt_thread *ta, *tb;
    cr_assert_eq(rt_thread_spawn(&ta, RT_GROUP_LINK, "sleep", sleep_forever, &a), 0);
    cr_assert_eq(rt_thread_spawn(&tb, RT_GROUP_LINK, "waitfd", wait_fd_forever, &b), 0);
    rt_sleep(30 * RT_MS, NULL);
    cr_assert_eq(a.rc, 1);
    cr_assert_eq(b.rc, 1);
    rt_ctx_cancel(root);
    cr_assert_eq(rt_thread_join(ta), 0);
    cr_assert_eq(rt_thread_join(tb), 0);
    cr_assert_eq(a.rc, -ECANCELED);
    cr_assert_eq(b.rc, -ECANCELED);
    rt_group_stats s;
    rt_group_get(RT_GROUP_LINK, &s);
    cr_assert_eq(s.wakeups, 2);
    rt_ctx_destroy(child);
    rt_ctx_destroy(root);
    close(p[0]);
    close(p[1]);
}

/* The test runner's thread was not spawned by rt: it must still be woken. */
Test(rt_ctx, cancel_wakes_a_foreign_thread)
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    rt_ctx *c = rt_ctx_create(NULL);
    rt_thread *t;
    cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_OTHER, "cancel", cancel_later, c), 0);
    cr_assert_eq(rt_wait_fd(p[0], POLLIN, RT_NEVER, c), -ECANCELED);
    rt_thread_join(t);
    rt_ctx_destroy(c);

    c = rt_ctx_create(NULL);
    cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_OTHER, "cancel", cancel_later, c), 0);
    cr_assert_eq(rt_sleep_until(RT_NEVER, c), -ECANCELED);
    rt_thread_join(t);
    rt_ctx_destroy(c);
    close(p[0]);
    close(p[1]);
}

/* A cancel racing the waiter's "done?" check must not be lost: cancel with no delay,
 * many times. A lost wake-up would hang this test (ctest's timeout fails it). */
Test(rt_ctx, cancel_racing_the_wait_is_never_lost)
{
    for (int i = 0; i < 300; i++) {
        struct waiter w = {.ctx = rt_ctx_create(NULL), .rc = 1};
        rt_thread *t;
        cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_LINK, "race", sleep_forever, &w), 0);
        if (i % 3)
            sched_yield();
        rt_ctx_cancel(w.ctx);
        cr_assert_eq(rt_thread_join(t), 0);
        cr_assert_eq(w.rc, -ECANCELED);
        rt_ctx_destroy(w.ctx);
    }
}

Test(rt_ctx, ticker_skips_missed_ticks_instead_of_bursting)
{
    const rt_ns period = 10 * RT_MS;
    rt_ticker t;
    rt_ticker_init(&t, period);
    rt_ns phase = t.next;
    cr_assert_eq(rt_ticker_wait(&t, NULL), 0);
    cr_assert_geq(rt_now(), phase);
    cr_assert_gt(t.next, phase);
    cr_assert_eq((t.next - phase) % period, 0);

    /* fall 5.5 periods behind */
    rt_sleep(55 * RT_MS, NULL);
    rt_ns late = rt_now();
    cr_assert_eq(rt_ticker_wait(&t, NULL), 0);   /* the one buffered tick, at once */
    cr_assert_gt(t.next, late, "missed ticks are dropped, not queued");
    cr_assert_eq((t.next - phase) % period, 0, "the phase is kept");
    rt_ns before = rt_now();
    cr_assert_leq(t.next - before, period);
    cr_assert_eq(rt_ticker_wait(&t, NULL), 0);
    cr_assert_geq(rt_now(), t.next - period, "the next tick waits for its slot");

    rt_ctx *c = rt_ctx_create(NULL);
    rt_ctx_cancel(c);
    cr_assert_eq(rt_ticker_wait(&t, c), -ECANCELED);
    rt_ctx_destroy(c);
}
