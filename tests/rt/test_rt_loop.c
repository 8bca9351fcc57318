/* test_rt_loop.c — rt_loop: io readiness, timers, async wake-ups across threads, wake-up counting. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rt.h"

struct io_state {
    rt_loop *loop;
    int fd;
    int reads, writes;
    char got;
};

static void on_io(rt_io *w, int revents, void *arg)
{
    struct io_state *s = arg;
    if (revents & RT_READ) {
        s->reads++;
        cr_assert_eq(read(s->fd, &s->got, 1), 1);
        rt_io_set(w, 0);   /* nothing else active: run returns */
    }
    if (revents & RT_WRITE) {
        s->writes++;
        rt_io_set(w, rt_io_events(w) & ~RT_WRITE);
    }
}

Test(rt_loop, io_read_and_write_readiness)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    rt_loop *l = rt_loop_create();
    cr_assert_not_null(l);
    struct io_state s = {.loop = l, .fd = sv[0]};
    rt_io *w = rt_io_create(l, sv[0], on_io, &s);
    cr_assert_not_null(w);
    cr_assert_eq(rt_io_events(w), 0);
    rt_io_set(w, RT_READ | RT_WRITE);
    cr_assert_eq(rt_io_events(w), RT_READ | RT_WRITE);
    cr_assert_eq(write(sv[1], "z", 1), 1);
    cr_assert_eq(rt_loop_run(l), 0);
    cr_assert_eq(s.reads, 1);
    cr_assert_eq(s.writes, 1);
    cr_assert_eq(s.got, 'z');
    cr_assert_eq(rt_io_events(w), 0);
    /* nothing active: run returns at once */
    cr_assert_eq(rt_loop_run(l), 0);
    cr_assert_eq(s.reads, 1);
    rt_io_destroy(w);
    rt_loop_destroy(l);
    close(sv[0]);
    close(sv[1]);
}

struct tstate {
    rt_loop *loop;
    rt_timer *other;
    int fired;
    int stop_after;
    rt_ns first_now;
};

static void on_timer(rt_timer *t, void *arg)
{
    struct tstate *s = arg;
    if (s->fired++ == 0)
        s->first_now = rt_loop_now(s->loop);
    if (s->fired >= s->stop_after)
        rt_timer_stop(t);
}

Test(rt_loop, timers_one_shot_and_repeat)
{
    rt_loop *l = rt_loop_create();
    struct tstate one = {.loop = l, .stop_after = 100}, rep = {.loop = l, .stop_after = 3};
    rt_timer *a = rt_timer_create(l, on_timer, &one);
    rt_timer *b = rt_timer_create(l, on_timer, &rep);
    cr_assert_not(rt_timer_active(a));
    rt_ns t0 = rt_now();
    rt_timer_start(a, 5 * RT_MS, 0);
    rt_timer_start(b, RT_MS, 2 * RT_MS);
    cr_assert(rt_timer_active(a));
    rt_ns rem = rt_timer_remaining(a);
    cr_assert_gt(rem, 0);
    cr_assert_leq(rem, 5 * RT_MS);
    cr_assert_eq(rt_loop_run(l), 0);   /* returns when both timers are inactive */
    cr_assert_eq(one.fired, 1);
    cr_assert_eq(rep.fired, 3);
    cr_assert_not(rt_timer_active(a));
    cr_assert_not(rt_timer_active(b));
    cr_assert_eq(rt_timer_remaining(a), 0);
    /* the loop's cached time is monotonic time, comparable with rt_now() */
    cr_assert_geq(one.first_now, t0 + 5 * RT_MS);
    cr_assert_leq(one.first_now, rt_now());
    rt_timer_destroy(a);
    rt_timer_destroy(b);
    rt_loop_destroy(l);
}

Test(rt_loop, timer_again_restarts_and_stops)
{
    rt_loop *l = rt_loop_create();
    struct tstate s = {.loop = l, .stop_after = 1};
    rt_timer *t = rt_timer_create(l, on_timer, &s);
    rt_timer_again(t, 30 * RT_MS);
    cr_assert(rt_timer_active(t));
    cr_assert_leq(rt_timer_remaining(t), 30 * RT_MS);
    rt_timer_again(t, 0);
    cr_assert_not(rt_timer_active(t));
    rt_timer_start(t, 10 * RT_MS, 0);
    rt_timer_start(t, RT_MS, 0);   /* restart while active */
    cr_assert_eq(rt_loop_run(l), 0);
    cr_assert_eq(s.fired, 1);
    rt_timer_destroy(t);
    rt_timer_destroy(NULL);
    rt_loop_destroy(l);
}

struct astate {
    rt_loop *loop;
    atomic_int calls;
    int want;
    rt_async *a;
};

static void on_async(rt_async *a, void *arg)
{
    struct astate *s = arg;
    (void)a;
    if (atomic_fetch_add(&s->calls, 1) + 1 >= s->want)
        rt_loop_break(s->loop);
}

static void run_loop(void *arg)
{
    struct astate *s = arg;
    rt_loop_run(s->loop);
}

Test(rt_loop, async_wakes_loop_from_another_thread)
{
    struct astate s = {.loop = rt_loop_create(), .want = 1};
    atomic_init(&s.calls, 0);
    s.a = rt_async_create(s.loop, on_async, &s);
    cr_assert_not_null(s.a);
    rt_group_stats g0, g1;
    rt_group_get(RT_GROUP_LOOP, &g0);
    rt_thread *t;
    cr_assert_eq(rt_thread_spawn(&t, RT_GROUP_LOOP, "loop", run_loop, &s), 0);
    rt_sleep(20 * RT_MS, NULL);
    cr_assert_eq(atomic_load(&s.calls), 0, "an idle loop runs no callbacks");
    for (int i = 0; i < 5; i++)
        rt_async_send(s.a);   /* coalesced: at least one call */
    cr_assert_eq(rt_thread_join(t), 0);
    int calls = atomic_load(&s.calls);
    cr_assert_geq(calls, 1);
    cr_assert_leq(calls, 5);
    rt_group_get(RT_GROUP_LOOP, &g1);
    /* the async woke the loop at least once; an idle loop does not spin */
    cr_assert_geq(g1.wakeups - g0.wakeups, 1);
    cr_assert_leq(g1.wakeups - g0.wakeups, 20);
    rt_async_destroy(s.a);
    rt_loop_destroy(s.loop);
}

static void count_only(rt_timer *t, void *arg)
{
    (void)t;
    (*(int *)arg)++;
}

Test(rt_loop, one_wakeup_per_iteration)
{
    rt_loop *l = rt_loop_create();
    int fired = 0;
    rt_timer *t = rt_timer_create(l, count_only, &fired);
    rt_group_stats o0, o1;
    for (int i = 0; i < 4; i++) {
        rt_group_get(RT_GROUP_OTHER, &o0);
        rt_timer_start(t, 2 * RT_MS, 0);
        cr_assert_eq(rt_loop_run(l), 0);
        rt_group_get(RT_GROUP_OTHER, &o1);
        /* one blocking poll that the timer ends; libev may poll once more if it
         * wakes a hair before the timer is due */
        cr_assert_geq(o1.wakeups - o0.wakeups, 1);
        cr_assert_leq(o1.wakeups - o0.wakeups, 3);
    }
    cr_assert_eq(fired, 4);
    rt_timer_destroy(t);
    rt_loop_destroy(l);
}
