/* rt_loop.c — a thin reactor on libev: io watchers, timers, async wake-ups, with wake-up counting. */
#include <ev.h>
#include <stdlib.h>

#include "rt_internal.h"

struct rt_loop {
    struct ev_loop *ev;
    rt_ns now;   /* CLOCK_MONOTONIC cached after each poll, comparable with rt_now() */
};

struct rt_io {
    ev_io w;     /* first: the libev callback gets &w */
    rt_loop *l;
    rt_io_cb cb;
    void *arg;
    int fd, events;
};

struct rt_timer {
    ev_timer w;
    rt_loop *l;
    rt_timer_cb cb;
    void *arg;
};

struct rt_async {
    ev_async w;
    rt_loop *l;
    rt_async_cb cb;
    void *arg;
};

static ev_tstamp to_ev(rt_ns d)
{
    return d > 0 ? (ev_tstamp)d / 1e9 : 0.;
}

static rt_ns from_ev(ev_tstamp t)
{
    return (rt_ns)(t * 1e9 + (t >= 0 ? 0.5 : -0.5));
}

/* libev calls release before the backend blocks and acquire after it returns: one
 * acquire is one pass through the poll, i.e. one wake-up of the loop thread. */
static void on_release(struct ev_loop *ev)
{
    (void)ev;
}

static void on_acquire(struct ev_loop *ev)
{
    rt_loop *l = ev_userdata(ev);
    l->now = rt_now();
    rt__count_wakeup();
}

rt_loop *rt_loop_create(void)
{
    rt_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    /* NOSIGMASK: libev must not touch the thread's signal mask, which keeps rt's wake
     * signal blocked outside ppoll. */
    l->ev = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
    if (!l->ev) {
        free(l);
        return NULL;
    }
    ev_set_userdata(l->ev, l);
    ev_set_loop_release_cb(l->ev, on_release, on_acquire);
    l->now = rt_now();
    return l;
}

void rt_loop_destroy(rt_loop *l)
{
    if (!l)
        return;
    ev_loop_destroy(l->ev);
    free(l);
}

int rt_loop_run(rt_loop *l)
{
    rt__wait_mask();   /* a loop thread rt did not spawn: block the wake signal too */
    l->now = rt_now();
    ev_run(l->ev, 0);
    return 0;
}

void rt_loop_break(rt_loop *l)
{
    ev_break(l->ev, EVBREAK_ALL);
}

rt_ns rt_loop_now(rt_loop *l)
{
    return l->now;
}

/* ------------------------------------------------------------ io */

static void io_cb(struct ev_loop *ev, ev_io *w, int revents)
{
    (void)ev;
    rt_io *io = (rt_io *)w;
    int r = (revents & EV_READ ? RT_READ : 0) | (revents & EV_WRITE ? RT_WRITE : 0);
    io->cb(io, r, io->arg);
}

rt_io *rt_io_create(rt_loop *l, int fd, rt_io_cb cb, void *arg)
{
    if (fd < 0 || !cb)
        return NULL;
    rt_io *io = calloc(1, sizeof *io);
    if (!io)
        return NULL;
    io->l = l;
    io->cb = cb;
    io->arg = arg;
    io->fd = fd;
    ev_io_init(&io->w, io_cb, fd, 0);
    return io;
}

void rt_io_set(rt_io *io, int events)
{
    events &= RT_READ | RT_WRITE;
    if (events == io->events && (events == 0 || ev_is_active(&io->w)))
        return;
    ev_io_stop(io->l->ev, &io->w);
    io->events = events;
    if (!events)
        return;
    ev_io_set(&io->w, io->fd, (events & RT_READ ? EV_READ : 0) | (events & RT_WRITE ? EV_WRITE : 0));
    ev_io_start(io->l->ev, &io->w);
}

int rt_io_events(const rt_io *io)
{
    return io->events;
}

void rt_io_destroy(rt_io *io)
{
    if (!io)
        return;
    ev_io_stop(io->l->ev, &io->w);   /* also clears a pending event, so freeing is safe */
    free(io);
}

/* ------------------------------------------------------------ timers */

static void timer_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
    (void)ev;
    (void)revents;
    rt_timer *t = (rt_timer *)w;
    t->cb(t, t->arg);
}

rt_timer *rt_timer_create(rt_loop *l, rt_timer_cb cb, void *arg)
{
    if (!cb)
        return NULL;
    rt_timer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->l = l;
    t->cb = cb;
    t->arg = arg;
    ev_timer_init(&t->w, timer_cb, 0., 0.);
    return t;
}

void rt_timer_start(rt_timer *t, rt_ns after, rt_ns repeat)
{
    ev_timer_stop(t->l->ev, &t->w);
    ev_timer_set(&t->w, to_ev(after), to_ev(repeat));
    ev_timer_start(t->l->ev, &t->w);
}

/* libev's ev_timer_again: with repeat > 0, (re)start to fire `repeat` from now; with
 * repeat 0, stop. The cheap way to push back an idle timeout on every activity. */
void rt_timer_again(rt_timer *t, rt_ns repeat)
{
    t->w.repeat = to_ev(repeat);
    ev_timer_again(t->l->ev, &t->w);
}

rt_ns rt_timer_remaining(rt_timer *t)
{
    if (!ev_is_active(&t->w))
        return 0;
    rt_ns r = from_ev(ev_timer_remaining(t->l->ev, &t->w));
    return r > 0 ? r : 0;
}

void rt_timer_stop(rt_timer *t)
{
    ev_timer_stop(t->l->ev, &t->w);
}

bool rt_timer_active(const rt_timer *t)
{
    return ev_is_active(&t->w);
}

void rt_timer_destroy(rt_timer *t)
{
    if (!t)
        return;
    ev_timer_stop(t->l->ev, &t->w);
    free(t);
}

/* ------------------------------------------------------------ async */

static void async_cb(struct ev_loop *ev, ev_async *w, int revents)
{
    (void)ev;
    (void)revents;
    rt_async *a = (rt_async *)w;
    a->cb(a, a->arg);
}

/* The watcher starts active, so a loop with an async runs until rt_loop_break. */
rt_async *rt_async_create(rt_loop *l, rt_async_cb cb, void *arg)
{
    if (!cb)
        return NULL;
    rt_async *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->l = l;
    a->cb = cb;
    a->arg = arg;
    ev_async_init(&a->w, async_cb);
    ev_async_start(l->ev, &a->w);
    return a;
}

void rt_async_send(rt_async *a)
{
    ev_async_send(a->l->ev, &a->w);
}

void rt_async_destroy(rt_async *a)
{
    if (!a)
        return;
    ev_async_stop(a->l->ev, &a->w);
    free(a);
}
