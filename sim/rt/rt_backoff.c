/* rt_backoff.c — ekit retry.ExponentialBackoffRetryStrategy, reproduced exactly. */
#include <stdint.h>

#include "rt.h"

/* ekit's constructor rejects initial <= 0 and initial > max with an error; this init
 * cannot fail, so it clamps instead (initial at least 1 ns, max at least initial). */
void rt_backoff_init(rt_backoff *b, rt_ns initial, rt_ns max, int32_t max_retries)
{
    b->initial = initial > 0 ? initial : 1;
    b->max = max >= b->initial ? max : b->initial;
    b->max_retries = max_retries;
    b->retries = 0;
    b->max_reached = false;
}

/* ekit Next(): retries is bumped on every call, spent or not. max_retries <= 0 means
 * unlimited. The interval is initial * 2^(retries-1); once it overflows or passes
 * max, max is returned from then on (the sticky maxIntervalReached). */
bool rt_backoff_next(rt_backoff *b, rt_ns *delay)
{
    if (b->retries < INT32_MAX)   /* Go wraps after 2^31 calls; we saturate */
        b->retries++;
    if (b->max_retries > 0 && b->retries > b->max_retries) {
        *delay = 0;
        return false;
    }
    if (b->max_reached) {
        *delay = b->max;
        return true;
    }
    int shift = b->retries - 1;
    if (shift >= 63 || b->initial > (INT64_MAX >> shift) || (b->initial << shift) > b->max) {
        /* Go: "interval <= 0 (overflow) || interval > max". */
        b->max_reached = true;
        *delay = b->max;
        return true;
    }
    *delay = b->initial << shift;
    return true;
}
