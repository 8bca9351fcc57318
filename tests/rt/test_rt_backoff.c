/* test_rt_backoff.c — rt_backoff reproduces ekit's ExponentialBackoffRetryStrategy sequences. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "rt.h"

static void expect_seq(rt_backoff *b, const rt_ns *want, int n)
{
    for (int i = 0; i < n; i++) {
        rt_ns d = -1;
        cr_assert(rt_backoff_next(b, &d), "call %d should not be spent", i + 1);
        cr_assert_eq(d, want[i], "call %d: got %lld want %lld", i + 1, (long long)d,
                     (long long)want[i]);
    }
}

Test(rt_backoff, seed_settings_give_five_doublings_then_spent)
{
    rt_backoff b;
    rt_backoff_init(&b, 100 * RT_MS, 2 * RT_S, 5);
    const rt_ns want[] = {100 * RT_MS, 200 * RT_MS, 400 * RT_MS, 800 * RT_MS, 1600 * RT_MS};
    expect_seq(&b, want, 5);
    rt_ns d = -1;
    cr_assert_not(rt_backoff_next(&b, &d));
    cr_assert_eq(d, 0);
    cr_assert_not(rt_backoff_next(&b, &d));
    cr_assert_eq(b.retries, 7, "ekit counts every call, spent or not");
}

Test(rt_backoff, non_positive_max_retries_means_unlimited_and_caps)
{
    rt_backoff b;
    rt_backoff_init(&b, 100 * RT_MS, 2 * RT_S, 0);
    const rt_ns want[] = {100 * RT_MS, 200 * RT_MS, 400 * RT_MS, 800 * RT_MS,
                          1600 * RT_MS, 2 * RT_S, 2 * RT_S};
    expect_seq(&b, want, 7);
    cr_assert(b.max_reached);
    for (int i = 0; i < 100; i++) {
        rt_ns d;
        cr_assert(rt_backoff_next(&b, &d));
        cr_assert_eq(d, 2 * RT_S);
    }
    rt_backoff_init(&b, RT_MS, RT_S, -3);
    rt_ns d;
    cr_assert(rt_backoff_next(&b, &d));
    cr_assert_eq(d, RT_MS);
}

Test(rt_backoff, interval_equal_to_max_is_not_capped_yet)
{
    rt_backoff b;
    rt_backoff_init(&b, 100, 400, 0);
    const rt_ns want[] = {100, 200, 400, 400, 400};
    expect_seq(&b, want, 5);
    cr_assert(b.max_reached, "the 4th call (800 > 400) sets the sticky flag");

    rt_backoff_init(&b, 100, 300, 10);
    const rt_ns want2[] = {100, 200, 300, 300};
    expect_seq(&b, want2, 4);
}

Test(rt_backoff, overflow_counts_as_max)
{
    rt_backoff b;
    rt_backoff_init(&b, RT_S, INT64_MAX, 0);
    for (int i = 0; i < 34; i++) {
        rt_ns d;
        cr_assert(rt_backoff_next(&b, &d));
        cr_assert_eq(d, RT_S << i);
    }
    rt_ns d;
    cr_assert(rt_backoff_next(&b, &d));
    cr_assert_eq(d, INT64_MAX, "1 s * 2^34 overflows int64 nanoseconds");
    cr_assert(b.max_reached);
}

Test(rt_backoff, spent_strategy_stays_spent)
{
    rt_backoff b;
    rt_backoff_init(&b, 10, 20, 1);
    rt_ns d;
    cr_assert(rt_backoff_next(&b, &d));
    cr_assert_eq(d, 10);
    for (int i = 0; i < 5; i++)
        cr_assert_not(rt_backoff_next(&b, &d));
}
