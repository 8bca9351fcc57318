/* rt_clock.c — monotonic clock, cancellable fd waits and sleeps (ppoll + wake signal), ticker. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "rt_internal.h"

rt_ns rt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (rt_ns)ts.tv_sec * RT_S + ts.tv_nsec;
}

rt_ns rt_deadline_in(rt_ns d)
{
    rt_ns now = rt_now();
    if (d <= 0)
        return now;
    if (d >= RT_NEVER - now)
        return RT_NEVER;
    return now + d;
}

/* ------------------------------------------------------------ wake signal */

/* Why a signal and not an eventfd per waiter: 10 000 links of the `dual` design are
 * 20 000 threads, and a process may hold only 20 000 files. A blocked signal costs
 * nothing; ppoll unblocks it atomically, so a cancel between the "done?" check and
 * the ppoll stays pending and interrupts the ppoll at once. */
static int wake_sig;
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static _Thread_local int mask_ready;
static _Thread_local sigset_t wait_mask;

static void on_wake(int sig)
{
    (void)sig;   /* its only job is to make ppoll return EINTR */
}

static void wake_install(void)
{
    wake_sig = SIGRTMIN + 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_wake;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;   /* no SA_RESTART: the point is to interrupt */
    sigaction(wake_sig, &sa, NULL);
}

int rt__wake_signal(void)
{
    pthread_once(&wake_once, wake_install);
    return wake_sig;
}

const sigset_t *rt__wait_mask(void)
{
    if (!mask_ready) {
        int sig = rt__wake_signal();
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, sig);
        pthread_sigmask(SIG_BLOCK, &block, &old);
        sigdelset(&old, sig);
        wait_mask = old;
        mask_ready = 1;
    }
    return &wait_mask;
}

/* ------------------------------------------------------------ waits */

static void ns_to_ts(rt_ns d, struct timespec *ts)
{
    ts->tv_sec = (time_t)(d / RT_S);
    ts->tv_nsec = (long)(d % RT_S);
}

/* ppoll until an fd is ready, the deadline passes or ctx is cancelled. With n == 0 it
 * is a sleep. A deadline already past still polls once, so a ready fd is reported. */
static int poll_until(struct pollfd *pfd, nfds_t n, rt_ns deadline, const rt_ctx *ctx,
                      const sigset_t *mask)
{
    for (;;) {
        if (rt_ctx_done(ctx))
            return -ECANCELED;
        struct timespec ts, *tsp = NULL;
        bool last = false;
        if (deadline != RT_NEVER) {
            rt_ns left = deadline - rt_now();
            if (left <= 0) {
                if (n == 0)
                    return -ETIMEDOUT;
                left = 0;
                last = true;
            }
            ns_to_ts(left, &ts);
            tsp = &ts;
        }
        int r = ppoll(pfd, n, tsp, mask);
        if (r > 0)
            return pfd[0].revents;
        if (r == 0) {
            if (last || rt_now() >= deadline)
                return -ETIMEDOUT;
            continue;   /* woke a hair early: the kernel rounds, we do not */
        }
        if (errno != EINTR)
            return -errno;
    }
}

int rt_wait_fd(int fd, short events, rt_ns deadline, rt_ctx *ctx)
{
    if (fd < 0)
        return -EBADF;
    const sigset_t *mask = rt__wait_mask();
    struct pollfd pfd = {.fd = fd, .events = events};
    rt__waiter w = {.thread = pthread_self()};
    rt__ctx_add(ctx, &w);
    int rc = poll_until(&pfd, 1, deadline, ctx, mask);
    rt__ctx_remove(ctx, &w);
    rt__count_wakeup();
    return rc;
}

int rt_sleep_until(rt_ns deadline, rt_ctx *ctx)
{
    const sigset_t *mask = rt__wait_mask();
    rt__waiter w = {.thread = pthread_self()};
    rt__ctx_add(ctx, &w);
    int rc = poll_until(NULL, 0, deadline, ctx, mask);
    rt__ctx_remove(ctx, &w);
    rt__count_wakeup();
    return rc == -ETIMEDOUT ? 0 : rc;
}

int rt_sleep(rt_ns d, rt_ctx *ctx)
{
    return rt_sleep_until(rt_deadline_in(d), ctx);
}

/* ------------------------------------------------------------ ticker */

void rt_ticker_init(rt_ticker *t, rt_ns period)
{
    t->period = period > 0 ? period : 1;
    t->next = rt_deadline_in(t->period);
}

/* Go's Ticker has a one-slot channel: a receiver late by several periods gets one
 * tick at once (the buffered one) and the next on the original phase; the missed
 * ones are dropped. So: wait for `next`, then move `next` to the first tick of the
 * phase that is still in the future. */
int rt_ticker_wait(rt_ticker *t, rt_ctx *ctx)
{
    int rc = rt_sleep_until(t->next, ctx);
    if (rc < 0)
        return rc;
    rt_ns now = rt_now();
    rt_ns next = t->next + t->period;
    if (next <= now)
        next += ((now - next) / t->period + 1) * t->period;
    t->next = next;
    return 0;
}

/* ------------------------------------------------------------ condvars */

int rt__cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;
    int rc = pthread_condattr_init(&a);
    if (rc)
        return -rc;
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    rc = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return -rc;
}

int rt__cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, rt_ns deadline)
{
    if (deadline == RT_NEVER)
        return pthread_cond_wait(c, m);
    struct timespec ts;
    ns_to_ts(deadline < 0 ? 0 : deadline, &ts);
    return pthread_cond_timedwait(c, m, &ts);
}
