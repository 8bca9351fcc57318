/* rt_limiter.c — token bucket: x/time/rate Limiter.Allow and go.uber.org/ratelimit Take, with injectable time. */
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "rt_internal.h"

/* `last` before the first event. For Allow this is Go's zero time.Time (an elapsed
 * time so long the bucket is full); for Take it is uber's state == 0 ("first call:
 * issue now"). A limiter is used either through Allow or through Take, not both. */
#define NEVER_SEEN INT64_MIN

void rt_limiter_init(rt_limiter *l, double rate_per_s, double burst, rt_ns now)
{
    (void)now;   /* both models start from "never used"; see NEVER_SEEN */
    l->rate_per_s = rate_per_s;
    l->burst = burst;
    l->tokens = burst;   /* x/time/rate starts full */
    l->last = NEVER_SEEN;
    l->slack = 10;       /* uber's default WithSlack(10) */
}

/* x/time/rate advance(): tokens at `now`, capped at burst. A clock going backwards
 * counts as no time passing. */
static double tokens_at(const rt_limiter *l, rt_ns now)
{
    if (l->last == NEVER_SEEN)
        return l->burst;
    rt_ns last = now < l->last ? now : l->last;
    double elapsed_s = (double)(now - last) / 1e9;
    double t = l->tokens + elapsed_s * l->rate_per_s;
    return t > l->burst ? l->burst : t;
}

bool rt_limiter_allow_at(rt_limiter *l, rt_ns now)
{
    if (isinf(l->rate_per_s) && l->rate_per_s > 0)
        return true;
    if (l->burst < 1)
        return false;   /* Go: n <= burst fails */
    double t = tokens_at(l, now) - 1;
    if (t < 0) {
        /* Go allows when the wait, truncated to whole nanoseconds, is zero. */
        if (l->rate_per_s <= 0)
            return false;
        double wait_ns = 1e9 * (-t / l->rate_per_s);
        if (wait_ns >= 1)
            return false;
    }
    l->tokens = t;
    l->last = now;
    return true;
}

bool rt_limiter_allow(rt_limiter *l)
{
    return rt_limiter_allow_at(l, rt_now());
}

rt_ns rt_limiter_next_at(const rt_limiter *l, rt_ns now)
{
    if (isinf(l->rate_per_s) && l->rate_per_s > 0)
        return now;
    if (l->burst < 1)
        return RT_NEVER;
    if (tokens_at(l, now) >= 1)
        return now;
    if (l->rate_per_s <= 0)
        return RT_NEVER;
    /* Counted from the last update, not from now, so the answer does not drift with
     * the rounding of each caller's `now`; ceil makes Allow at that instant succeed. */
    double wait_ns = ceil(1e9 * (1 - l->tokens) / l->rate_per_s);
    if (wait_ns >= (double)(RT_NEVER - l->last))
        return RT_NEVER;
    rt_ns at = l->last + (rt_ns)wait_ns;
    return at > now ? at : now;
}

/* go.uber.org/ratelimit atomicInt64Limiter.Take, single owner: `last` is uber's
 * "time of next permission issue". Slots are perRequest apart; after idling, up to
 * `slack` slots may be issued back to back to catch up. */
rt_ns rt_limiter_reserve_at(rt_limiter *l, rt_ns now)
{
    if (l->rate_per_s <= 0)
        return RT_NEVER;   /* uber divides by zero here; we never issue */
    rt_ns per = isinf(l->rate_per_s) ? 0 : (rt_ns)(1e9 / l->rate_per_s);
    rt_ns max_slack = l->slack > 0 ? l->slack * per : 0;
    rt_ns next;
    if (l->last == NEVER_SEEN || (max_slack == 0 && now - l->last > per))
        next = now;
    else if (max_slack > 0 && now - l->last > max_slack + per)
        next = now - max_slack;
    else
        next = l->last + per;
    l->last = next;
    return next > now ? next : now;
}

int rt_limiter_take(rt_limiter *l, rt_ctx *ctx)
{
    if (rt_ctx_done(ctx))
        return -ECANCELED;
    rt_ns now = rt_now();
    rt_ns at = rt_limiter_reserve_at(l, now);
    if (at <= now)
        return 0;   /* a slot already due is not a wait, so no wake-up is counted */
    return rt_sleep_until(at, ctx);
}
