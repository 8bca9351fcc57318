/* drv_loop.c — one driver thread's loop: epoll, the pacing tick (never two wake-ups within a tick), timers, wake-ups from other threads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "drv_internal.h"

/* Why its own loop and not libev's: libev's epoll waits in whole milliseconds (its
 * timers would send late by up to 1 ms), so the driver needed a timerfd re-armed and
 * read on every wake-up: two system calls per wake on top of epoll_wait. Here one
 * epoll_pwait2 (nanosecond timeout) waits for everything, and the tick decides how
 * often it may. */

#define MAXEV 1024
#define EV_WAKE UINT64_MAX   /* the eventfd's tag in epoll's data */

int drv_loop_init(struct drv_thr *t)
{
    t->epfd = epoll_create1(EPOLL_CLOEXEC);
    t->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    t->evs = calloc(MAXEV, sizeof *t->evs);
    if (t->epfd < 0 || t->evfd < 0 || !t->evs)
        return -errno ? -errno : -ENOMEM;
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = EV_WAKE};
    if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->evfd, &e) < 0)
        return -errno;
    return 0;
}

void drv_loop_fini(struct drv_thr *t)
{
    if (t->epfd >= 0)
        close(t->epfd);
    if (t->evfd >= 0)
        close(t->evfd);
    free(t->evs);
    t->epfd = t->evfd = -1;
    t->evs = NULL;
}

void drv_ep_set(struct drv_thr *t, struct drv_link *L, uint32_t events)
{
    if (events == L->ep || L->fd < 0)
        return;
    if (!events) {
        epoll_ctl(t->epfd, EPOLL_CTL_DEL, L->fd, NULL);
    } else {
        struct epoll_event e = {.events = events, .data.u64 = L->local};
        epoll_ctl(t->epfd, L->ep ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, L->fd, &e);
    }
    L->ep = events;
}

void drv_wake(struct drv_thr *t)
{
    uint64_t one = 1;
    if (write(t->evfd, &one, sizeof one) < 0) { /* already pending: it wakes anyway */ }
}

void drv_wake_all(struct drv *d)
{
    for (int i = 0; i < d->n_thr; i++)
        drv_wake(&d->thr[i]);
}

static void dispatch(struct drv_thr *t, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t tag = t->evs[i].data.u64;
        uint32_t ev = t->evs[i].events;
        if (tag == EV_WAKE) {
            uint64_t v;
            if (read(t->evfd, &v, sizeof v) < 0) { /* nothing pending */ }
            continue;
        }
        struct drv_link *L = &t->links[tag];
        if (L->state == L_CONNECTING || L->state == L_HANDSHAKE) {
            drv_conn_event(t, L, ev);
            continue;
        }
        if (L->state != L_OPEN)
            continue;
        if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !L->stop_reading)
            drv_on_readable(t, L);
        if (L->state == L_OPEN && L->wblocked && (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
            drv_on_writable(t, L);
    }
}

static struct timespec ts_of(rt_ns ns)
{
    return (struct timespec){.tv_sec = ns / RT_S, .tv_nsec = ns % RT_S};
}

/* epoll_pwait2 where the kernel has it (5.11); else whole milliseconds of epoll_wait
 * and the rest slept to the nanosecond, then one more look (two extra system calls per
 * timed wait: kernels before 5.11, valgrind 3.19). */
static atomic_bool no_pwait2;

static int wait_until(int epfd, struct epoll_event *evs, int maxev, rt_ns now, rt_ns dl)
{
    struct timespec to = ts_of(dl == RT_NEVER ? 0 : dl > now ? dl - now : 0);
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        int n = epoll_pwait2(epfd, evs, maxev, dl == RT_NEVER ? NULL : &to, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n < 0 ? 0 : n;
        atomic_store(&no_pwait2, true);
    }
    int ms = dl == RT_NEVER ? -1 : (int)((dl > now ? dl - now : 0) / RT_MS);
    int n = epoll_wait(epfd, evs, maxev, ms);
    if (n != 0 || dl == RT_NEVER)
        return n < 0 ? 0 : n;
    struct timespec at = ts_of(dl);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {}
    n = epoll_wait(epfd, evs, maxev, 0);
    return n < 0 ? 0 : n;
}

int drv_tick_wait(int epfd, struct epoll_event *evs, int maxev, rt_ns *t_wake, rt_ns tick, rt_ns dl)
{
    rt_ns now = rt_now();
    rt_ns not_before = *t_wake + tick;
    if (now < not_before) {
        struct timespec ts = ts_of(not_before);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
        now = rt_now();
    }
    int n = wait_until(epfd, evs, maxev, now, dl);
    *t_wake = rt_now();
    return n;
}

static void wait_and_dispatch(struct drv_thr *t, rt_ns dl)
{
    int n = drv_tick_wait(t->epfd, t->evs, MAXEV, &t->t_wake, t->p.tick_ns, dl);
    t->rt_off_set = false;   /* the kernel's stamps convert with this wake's offset */
    t->wakeups++;
    while (n > 0) {
        dispatch(t, n);
        if (n < MAXEV)
            break;
        n = epoll_wait(t->epfd, t->evs, MAXEV, 0);
    }
}

void drv_loop_run(struct drv_thr *t)
{
    while (!t->done) {
        rt_ns now = rt_now();
        drv_timers(t, now);
        if (t->done)
            break;
        if (drv_sending(t) && t->wheel.n)
            drv_send_pass(t, now);
        if (drv_sending(t) && t->wheel.n == 0)
            drv_count_mode_check(t);
        rt_ns dl = drv_timers_next(t);
        if (drv_sending(t)) {
            rt_ns w = drv_wheel_next(&t->wheel, t->t_wake + t->p.tick_ns);
            if (w < dl)
                dl = w;
        }
        wait_and_dispatch(t, dl);
    }
}
