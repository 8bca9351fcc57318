/* tsan_rt.c — rt primitives under concurrency for TSan: queues, select, ctx cancel, threads, limiter, loop wake-ups. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rt.h"
#include "tsan.h"

/* ------------------------------------------------------------ MPMC queue with notifier */

enum { PRODUCERS = 3, CONSUMERS = 3, ITEMS = 3000, QCAP = 8 };

struct mpmc {
    rt_queue *q;
    atomic_llong sum, popped;
    atomic_int nonempty, low, closed_ev;
};

static void mpmc_notify(void *arg, rt_queue *q, enum rt_queue_event ev)
{
    (void)q;
    struct mpmc *m = arg;
    if (ev == RT_Q_NONEMPTY) atomic_fetch_add(&m->nonempty, 1);
    else if (ev == RT_Q_LOW) atomic_fetch_add(&m->low, 1);
    else atomic_fetch_add(&m->closed_ev, 1);
}

struct prod { struct mpmc *m; int base; };

static void producer(void *arg)
{
    struct prod *p = arg;
    for (int i = 1; i <= ITEMS; i++) {
        intptr_t v = p->base + i;
        /* half blocking, half try_push with a retry: both paths take the lock */
        if (i & 1) {
            TS_CHECK(rt_queue_push(p->m->q, (void *)v, RT_NEVER, NULL) == 0, "push");
        } else {
            while (rt_queue_try_push(p->m->q, (void *)v) == -EAGAIN) rt_sleep(RT_US * 50, NULL);
        }
    }
}

static void consumer(void *arg)
{
    struct mpmc *m = arg;
    for (;;) {
        void *item;
        int rc = rt_queue_pop(m->q, &item, RT_NEVER, NULL);
        if (rc == -EPIPE) return;
        TS_CHECK(rc == 0, "pop: %d", rc);
        if (rc) return;
        atomic_fetch_add(&m->sum, (intptr_t)item);
        atomic_fetch_add(&m->popped, 1);
    }
}

static void queue_mpmc(void)
{
    struct mpmc m = {.q = rt_queue_create(QCAP)};
    rt_queue_set_notify(m.q, mpmc_notify, &m, 2);
    struct prod ps[PRODUCERS];
    rt_thread *pt[PRODUCERS], *ct[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        TS_CHECK(rt_thread_spawn(&ct[i], RT_GROUP_OTHER, "ts-cons", consumer, &m) == 0, "spawn");
    for (int i = 0; i < PRODUCERS; i++) {
        ps[i] = (struct prod){&m, i * 100000};
        TS_CHECK(rt_thread_spawn(&pt[i], RT_GROUP_OTHER, "ts-prod", producer, &ps[i]) == 0, "spawn");
    }
    for (int i = 0; i < PRODUCERS; i++) rt_thread_join(pt[i]);
    rt_queue_close(m.q);   /* consumers drain what is left, then see -EPIPE */
    for (int i = 0; i < CONSUMERS; i++) rt_thread_join(ct[i]);
    long long want = 0;
    for (int p = 0; p < PRODUCERS; p++) want += (long long)p * 100000 * ITEMS + (long long)ITEMS * (ITEMS + 1) / 2;
    TS_CHECK(atomic_load(&m.popped) == (long long)PRODUCERS * ITEMS, "popped %lld", atomic_load(&m.popped));
    TS_CHECK(atomic_load(&m.sum) == want, "every item exactly once");
    TS_CHECK(atomic_load(&m.nonempty) > 0 && atomic_load(&m.closed_ev) == 1, "notifier events");
    rt_queue_destroy(m.q);
}

/* ------------------------------------------------------------ select and cancel */

enum { SEL_Q = 3, SEL_ITEMS = 2000 };

struct sel {
    rt_queue *qs[SEL_Q];
    rt_ctx *ctx;
    atomic_int got;
};

static void sel_pusher(void *arg)
{
    struct sel *s = arg;
    for (int i = 0; i < SEL_ITEMS; i++)
        rt_queue_push(s->qs[i % SEL_Q], (void *)(intptr_t)(i + 1), RT_NEVER, s->ctx);
}

static void sel_waiter(void *arg)
{
    struct sel *s = arg;
    for (;;) {
        int i = rt_queue_select(s->qs, SEL_Q, RT_NEVER, s->ctx);
        if (i == -ECANCELED) return;
        TS_CHECK(i >= 0 && i < SEL_Q, "select: %d", i);
        void *item;
        if (rt_queue_try_pop(s->qs[i], &item) == 0) atomic_fetch_add(&s->got, 1);
    }
}

static void select_and_cancel(void)
{
    struct sel s = {.ctx = rt_ctx_create(NULL)};
    for (int i = 0; i < SEL_Q; i++) s.qs[i] = rt_queue_create(4);
    rt_thread *w[2], *p;
    for (int i = 0; i < 2; i++) rt_thread_spawn(&w[i], RT_GROUP_OTHER, "ts-sel", sel_waiter, &s);
    rt_thread_spawn(&p, RT_GROUP_OTHER, "ts-selpush", sel_pusher, &s);
    rt_thread_join(p);
    /* every item is taken, then cancel wakes both waiters in select */
    rt_ns end = rt_deadline_in(30 * RT_S);
    while (atomic_load(&s.got) < SEL_ITEMS && rt_now() < end) rt_sleep(RT_MS, NULL);
    TS_CHECK(atomic_load(&s.got) == SEL_ITEMS, "selected %d of %d", atomic_load(&s.got), SEL_ITEMS);
    rt_ctx_cancel(s.ctx);
    for (int i = 0; i < 2; i++) rt_thread_join(w[i]);
    for (int i = 0; i < SEL_Q; i++) rt_queue_destroy(s.qs[i]);
    rt_ctx_destroy(s.ctx);
}

/* Threads blocked in every kind of rt wait on a child ctx; the parent is cancelled from
 * another thread while children are still being created and destroyed. */
struct waits {
    rt_ctx *child;
    rt_queue *q;
    int fd;
    rt_limiter lim;   /* one owner: the limiter thread */
    atomic_int woke;
};

static void w_sleep(void *a) { struct waits *w = a; if (rt_sleep(3600 * RT_S, w->child) == -ECANCELED) atomic_fetch_add(&w->woke, 1); }
static void w_pop(void *a)
{
    struct waits *w = a;
    void *item;
    if (rt_queue_pop(w->q, &item, RT_NEVER, w->child) == -ECANCELED) atomic_fetch_add(&w->woke, 1);
}
static void w_fd(void *a) { struct waits *w = a; if (rt_wait_fd(w->fd, POLLIN, RT_NEVER, w->child) == -ECANCELED) atomic_fetch_add(&w->woke, 1); }
static void w_ticker(void *a)
{
    struct waits *w = a;
    rt_ticker t;
    rt_ticker_init(&t, RT_MS);
    while (rt_ticker_wait(&t, w->child) == 0) {}
    atomic_fetch_add(&w->woke, 1);
}
/* uber ratelimit Take at 1/s: after the first slot it waits, until cancelled */
static void w_limiter(void *a)
{
    struct waits *w = a;
    rt_limiter_init(&w->lim, 1, 1, rt_now());
    int rc;
    while ((rc = rt_limiter_take(&w->lim, w->child)) == 0) {}
    if (rc == -ECANCELED) atomic_fetch_add(&w->woke, 1);
}

static void churn(void *a)
{
    rt_ctx *parent = a;
    for (int i = 0; i < 300; i++) rt_ctx_destroy(rt_ctx_create(parent));
}

static void ctx_cancel_wakes_every_wait(void)
{
    int sv[2];
    TS_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    rt_ctx *root = rt_ctx_create(NULL);
    struct waits w = {.child = rt_ctx_create(root), .q = rt_queue_create(1), .fd = sv[0]};
    void (*fns[])(void *) = {w_sleep, w_pop, w_fd, w_ticker, w_limiter};
    enum { NW = sizeof fns / sizeof fns[0] };
    rt_thread *t[NW], *c[2];
    for (int i = 0; i < NW; i++) rt_thread_spawn(&t[i], RT_GROUP_OTHER, "ts-wait", fns[i], &w);
    for (int i = 0; i < 2; i++) rt_thread_spawn(&c[i], RT_GROUP_OTHER, "ts-churn", churn, root);
    rt_sleep(20 * RT_MS, NULL);
    rt_ctx_cancel(root);
    for (int i = 0; i < NW; i++) rt_thread_join(t[i]);
    for (int i = 0; i < 2; i++) rt_thread_join(c[i]);
    TS_CHECK(atomic_load(&w.woke) == NW, "%d of %d waits woken by cancel", atomic_load(&w.woke), NW);
    TS_CHECK(rt_ctx_done(w.child), "child cancelled with its parent");
    rt_ctx_destroy(w.child);
    rt_ctx_destroy(root);
    rt_queue_destroy(w.q);
    close(sv[0]);
    close(sv[1]);
}

/* ------------------------------------------------------------ threads and group stats */

static void nothing(void *a) { atomic_fetch_add((atomic_int *)a, 1); }

static void spawner(void *a)
{
    for (int i = 0; i < 40; i++) {
        rt_thread *t;
        if (i & 1) {
            if (rt_thread_spawn(&t, RT_GROUP_LINK, "ts-j", nothing, a) == 0) rt_thread_join(t);
        } else {
            rt_thread_spawn(NULL, RT_GROUP_LINK, "ts-d", nothing, a);   /* detached */
        }
    }
}

static void stats_reader(void *a)
{
    atomic_bool *stop = a;
    while (!atomic_load(stop)) {
        for (int g = 0; g < RT_GROUP_COUNT; g++) {
            rt_group_stats st;
            rt_group_get((rt_group)g, &st);
            TS_CHECK(st.live >= 0 && st.peak >= st.live, "group %d: live %lld peak %lld", g,
                     (long long)st.live, (long long)st.peak);
        }
        rt_group_reset_peak(RT_GROUP_LINK);
        rt_count_wakeup();
    }
}

static void threads_concurrently(void)
{
    rt_group_stats before;
    rt_group_get(RT_GROUP_LINK, &before);
    atomic_int ran = 0;
    atomic_bool stop = false;
    rt_thread *s[3], *r;
    rt_thread_spawn(&r, RT_GROUP_OTHER, "ts-stats", stats_reader, &stop);
    for (int i = 0; i < 3; i++) rt_thread_spawn(&s[i], RT_GROUP_OTHER, "ts-spawner", spawner, &ran);
    for (int i = 0; i < 3; i++) rt_thread_join(s[i]);
    rt_ns end = rt_deadline_in(30 * RT_S);
    rt_group_stats now;
    do {
        rt_group_get(RT_GROUP_LINK, &now);
        if (now.live == before.live) break;
        rt_sleep(RT_MS, NULL);
    } while (rt_now() < end);
    atomic_store(&stop, true);
    rt_thread_join(r);
    TS_CHECK(atomic_load(&ran) == 120, "%d of 120 threads ran", atomic_load(&ran));
    TS_CHECK(now.live == before.live, "detached threads left the count: live %lld, before %lld",
             (long long)now.live, (long long)before.live);
    TS_CHECK(now.spawned - before.spawned == 120, "spawned %lld", (long long)(now.spawned - before.spawned));
}

/* ------------------------------------------------------------ loop with foreign wake-ups */

struct lp {
    rt_loop *l;
    rt_async *wake, *quit;
    atomic_int sent;
    int seen;          /* loop thread only */
};

static void on_wake(rt_async *a, void *arg) { (void)a; ((struct lp *)arg)->seen++; }
static void on_quit(rt_async *a, void *arg) { (void)a; rt_loop_break(((struct lp *)arg)->l); }
static void loop_thread(void *a) { rt_loop_run(((struct lp *)a)->l); }
static void async_sender(void *a)
{
    struct lp *p = a;
    for (int i = 0; i < 500; i++) {
        rt_async_send(p->wake);
        atomic_fetch_add(&p->sent, 1);
        if (i % 50 == 0) rt_sleep(RT_US * 100, NULL);
    }
}

static void loop_async(void)
{
    struct lp p = {.l = rt_loop_create()};
    p.wake = rt_async_create(p.l, on_wake, &p);
    p.quit = rt_async_create(p.l, on_quit, &p);
    rt_thread *lt, *s[2];
    rt_thread_spawn(&lt, RT_GROUP_LOOP, "ts-loop", loop_thread, &p);
    for (int i = 0; i < 2; i++) rt_thread_spawn(&s[i], RT_GROUP_OTHER, "ts-async", async_sender, &p);
    for (int i = 0; i < 2; i++) rt_thread_join(s[i]);
    rt_async_send(p.quit);
    rt_thread_join(lt);
    /* coalesced: at least one wake-up seen, never more than were sent */
    TS_CHECK(p.seen >= 1 && p.seen <= atomic_load(&p.sent), "wake-ups seen %d of %d", p.seen,
             atomic_load(&p.sent));
    rt_async_destroy(p.wake);
    rt_async_destroy(p.quit);
    rt_loop_destroy(p.l);
}

void ts_section_rt(void)
{
    queue_mpmc();
    select_and_cancel();
    ctx_cancel_wakes_every_wait();
    threads_concurrently();
    loop_async();
}
