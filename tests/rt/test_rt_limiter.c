/* test_rt_limiter.c — rt_limiter against x/time/rate Allow and go.uber.org/ratelimit Take, with injected time. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>

#include "rt.h"

#define T0 ((rt_ns)1000 * RT_S)

Test(rt_limiter, allow_starts_full_then_refills_at_rate)
{
    rt_limiter l;
    rt_limiter_init(&l, 10, 3, T0);   /* 10/s: one token per 100 ms */
    for (int i = 0; i < 3; i++)
        cr_assert(rt_limiter_allow_at(&l, T0), "token %d of the initial burst", i);
    cr_assert_not(rt_limiter_allow_at(&l, T0));
    cr_assert_not(rt_limiter_allow_at(&l, T0 + 99 * RT_MS));
    cr_assert(rt_limiter_allow_at(&l, T0 + 100 * RT_MS));
    cr_assert_not(rt_limiter_allow_at(&l, T0 + 100 * RT_MS));
    /* a long idle refills to burst, not beyond */
    int n = 0;
    while (rt_limiter_allow_at(&l, T0 + 10 * RT_S))
        n++;
    cr_assert_eq(n, 3);
}

Test(rt_limiter, denied_allow_does_not_consume)
{
    rt_limiter l;
    rt_limiter_init(&l, 10, 1, T0);
    cr_assert(rt_limiter_allow_at(&l, T0));
    for (int i = 1; i < 10; i++)   /* polling every 10 ms: the seed's `continue` spin */
        cr_assert_not(rt_limiter_allow_at(&l, T0 + i * 10 * RT_MS));
    cr_assert(rt_limiter_allow_at(&l, T0 + 100 * RT_MS));
}

Test(rt_limiter, rate_sequence_over_one_second)
{
    rt_limiter l;
    rt_limiter_init(&l, 100, 100, T0);   /* the seed: burst = rate */
    int allowed = 0;
    for (rt_ns t = T0; t < T0 + RT_S; t += RT_MS)   /* 1000 attempts, 1 ms apart */
        for (int k = 0; k < 5; k++)
            allowed += rt_limiter_allow_at(&l, t);
    /* the full bucket (100) plus refill over 999 ms (99.9 -> 99) */
    cr_assert_eq(allowed, 199);
}

Test(rt_limiter, next_at_predicts_the_next_allow)
{
    rt_limiter l;
    rt_limiter_init(&l, 4, 2, T0);   /* 250 ms per token */
    cr_assert_eq(rt_limiter_next_at(&l, T0), T0);
    cr_assert(rt_limiter_allow_at(&l, T0));
    cr_assert(rt_limiter_allow_at(&l, T0));
    rt_ns at = rt_limiter_next_at(&l, T0);
    cr_assert_eq(at, T0 + 250 * RT_MS);
    cr_assert_not(rt_limiter_allow_at(&l, at - RT_MS));
    cr_assert_eq(rt_limiter_next_at(&l, at - RT_MS), at);
    cr_assert(rt_limiter_allow_at(&l, at));
}

Test(rt_limiter, edge_rates_and_bursts)
{
    rt_limiter l;
    rt_limiter_init(&l, INFINITY, 0, T0);
    for (int i = 0; i < 1000; i++)
        cr_assert(rt_limiter_allow_at(&l, T0));
    cr_assert_eq(rt_limiter_next_at(&l, T0), T0);

    rt_limiter_init(&l, 10, 0, T0);   /* Go: n > burst is never allowed */
    cr_assert_not(rt_limiter_allow_at(&l, T0 + RT_S));
    cr_assert_eq(rt_limiter_next_at(&l, T0), RT_NEVER);

    rt_limiter_init(&l, 0, 2, T0);    /* no refill: the burst, then nothing */
    cr_assert(rt_limiter_allow_at(&l, T0));
    cr_assert(rt_limiter_allow_at(&l, T0 + RT_S));
    cr_assert_not(rt_limiter_allow_at(&l, T0 + 100 * RT_S));
    cr_assert_eq(rt_limiter_next_at(&l, T0), RT_NEVER);
}

Test(rt_limiter, take_slots_are_spaced_and_catch_up_with_slack)
{
    rt_limiter l;
    rt_limiter_init(&l, 100, 100, T0);   /* 10 ms slots, slack 10 */
    cr_assert_eq(l.slack, 10);
    cr_assert_eq(rt_limiter_reserve_at(&l, T0), T0, "the first call is issued now");
    cr_assert_eq(rt_limiter_reserve_at(&l, T0), T0 + 10 * RT_MS);
    cr_assert_eq(rt_limiter_reserve_at(&l, T0), T0 + 20 * RT_MS);
    cr_assert_eq(rt_limiter_reserve_at(&l, T0 + 25 * RT_MS), T0 + 30 * RT_MS);

    /* idle for a second: up to slack + 1 slots are issued at once, then spacing resumes */
    rt_ns now = T0 + 2 * RT_S;
    int immediate = 0;
    rt_ns at;
    while ((at = rt_limiter_reserve_at(&l, now)) == now)
        immediate++;
    cr_assert_eq(immediate, 11);
    cr_assert_eq(at, now + 10 * RT_MS);
}

Test(rt_limiter, take_without_slack_restarts_from_now)
{
    rt_limiter l;
    rt_limiter_init(&l, 100, 100, T0);
    l.slack = 0;
    cr_assert_eq(rt_limiter_reserve_at(&l, T0), T0);
    rt_ns now = T0 + RT_S;
    cr_assert_eq(rt_limiter_reserve_at(&l, now), now);
    cr_assert_eq(rt_limiter_reserve_at(&l, now), now + 10 * RT_MS);
    /* within a slot of the last one: spacing holds (sleep until +20 ms) */
    cr_assert_eq(rt_limiter_reserve_at(&l, now + 15 * RT_MS), now + 20 * RT_MS);
    /* more than a slot late: uber shrinks the issue time to now, no catch-up */
    cr_assert_eq(rt_limiter_reserve_at(&l, now + 45 * RT_MS), now + 45 * RT_MS);
    cr_assert_eq(l.last, now + 45 * RT_MS);
    cr_assert_eq(rt_limiter_reserve_at(&l, now + 45 * RT_MS), now + 55 * RT_MS);
}

static void cancel_soon(void *arg)
{
    rt_sleep(20 * RT_MS, NULL);
    rt_ctx_cancel(arg);
}

Test(rt_limiter, take_sleeps_and_is_cancellable)
{
    rt_limiter l;
    rt_limiter_init(&l, 50, 50, rt_now());   /* 20 ms slots */
    rt_ns t0 = rt_now();
    for (int i = 0; i < 4; i++)
        cr_assert_eq(rt_limiter_take(&l, NULL), 0);
    cr_assert_geq(rt_now() - t0, 60 * RT_MS, "4 slots span at least 3 intervals");

    rt_limiter_init(&l, 1, 1, rt_now());   /* the second slot is a second away */
    rt_ctx *c = rt_ctx_create(NULL);
    cr_assert_eq(rt_limiter_take(&l, c), 0);
    rt_thread *t;
    cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_OTHER, "cancel", cancel_soon, c), 0);
    cr_assert_eq(rt_limiter_take(&l, c), -ECANCELED);
    rt_thread_join(t);
    cr_assert_eq(rt_limiter_take(&l, c), -ECANCELED);
    rt_ctx_destroy(c);
}
