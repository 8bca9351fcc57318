/* rt_queue.c — bounded MPMC queue (Go's buffered chan): blocking ops with deadline and cancel, notifier, select. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "rt_internal.h"

/* One rt_queue_select call, registered with each queue it watches; a push or close
 * on any of them sets `fired` and signals. Lives on the selecting thread's stack. */
typedef struct selwaiter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool fired;
} selwaiter;

typedef struct selnode {
    struct selnode *prev, *next;
    selwaiter *sw;
} selnode;

struct rt_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **buf;
    size_t cap, head, len;
    bool closed;
    int pop_waiters, push_waiters;   /* threads in cond waits: skip signals when 0 */
    selnode *selects;
    rt_queue_notify_fn notify;
    void *notify_arg;
    size_t low_water;
};

rt_queue *rt_queue_create(size_t capacity)
{
    if (capacity < 1)
        return NULL;
    rt_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->buf = calloc(capacity, sizeof *q->buf);
    if (!q->buf) {
        free(q);
        return NULL;
    }
    q->cap = capacity;
    pthread_mutex_init(&q->mu, NULL);
    rt__cond_init(&q->not_empty);
    rt__cond_init(&q->not_full);
    return q;
}

void rt_queue_destroy(rt_queue *q)
{
    if (!q)
        return;
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    pthread_mutex_destroy(&q->mu);
    free(q->buf);
    free(q);
}

void rt_queue_set_notify(rt_queue *q, rt_queue_notify_fn fn, void *arg, size_t low_water)
{
    pthread_mutex_lock(&q->mu);
    q->notify = fn;
    q->notify_arg = arg;
    q->low_water = low_water;
    pthread_mutex_unlock(&q->mu);
}

/* Signal every select watching q. Called with q->mu held (lock order q, then sw). */
static void wake_selects(rt_queue *q)
{
    for (selnode *n = q->selects; n; n = n->next) {
        pthread_mutex_lock(&n->sw->mu);
        n->sw->fired = true;
        pthread_cond_signal(&n->sw->cond);
        pthread_mutex_unlock(&n->sw->mu);
    }
}

/* Enqueue with q->mu held; returns the event to report once unlocked (0 = none). */
static int put_locked(rt_queue *q, void *item)
{
    q->buf[(q->head + q->len) % q->cap] = item;
    q->len++;
    if (q->pop_waiters)
        pthread_cond_signal(&q->not_empty);
    if (q->selects)
        wake_selects(q);
    return q->len == 1 && q->notify ? RT_Q_NONEMPTY : 0;
}

static int take_locked(rt_queue *q, void **item)
{
    *item = q->buf[q->head];
    q->head = (q->head + 1) % q->cap;
    q->len--;
    if (q->push_waiters)
        pthread_cond_signal(&q->not_full);
    return q->len == q->low_water && q->notify ? RT_Q_LOW : 0;
}

/* Unlock, then call the notifier (captured under the lock) with no lock held. */
static void unlock_notify(rt_queue *q, int ev)
{
    rt_queue_notify_fn fn = q->notify;
    void *arg = q->notify_arg;
    pthread_mutex_unlock(&q->mu);
    if (ev && fn)
        fn(arg, q, (enum rt_queue_event)ev);
}

int rt_queue_try_push(rt_queue *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return -EPIPE;
    }
    if (q->len == q->cap) {
        pthread_mutex_unlock(&q->mu);
        return -EAGAIN;
    }
    unlock_notify(q, put_locked(q, item));
    return 0;
}

int rt_queue_try_pop(rt_queue *q, void **item)
{
    pthread_mutex_lock(&q->mu);
    if (q->len == 0) {
        int rc = q->closed ? -EPIPE : -EAGAIN;
        pthread_mutex_unlock(&q->mu);
        return rc;
    }
    unlock_notify(q, take_locked(q, item));
    return 0;
}

/* The blocking path shared by push and pop, entered only when the fast path failed.
 * The ctx registration happens without q->mu (lock order: ctx, then queue), and
 * rt_ctx_done is re-checked under q->mu before every wait, so a cancel that lands
 * between the check and the wait still finds us in the condvar. */
static int wait_op(rt_queue *q, bool is_push, void *in, void **out, rt_ns deadline,
                   rt_ctx *ctx)
{
    pthread_cond_t *cond = is_push ? &q->not_full : &q->not_empty;
    int *waiters = is_push ? &q->push_waiters : &q->pop_waiters;
    rt__waiter w = {.mu = &q->mu, .cond = cond};
    rt__ctx_add(ctx, &w);
    pthread_mutex_lock(&q->mu);
    int rc, ev = 0;
    bool waited = false;
    for (;;) {
        if (is_push && q->closed) {
            rc = -EPIPE;
            break;
        }
        if (is_push && q->len < q->cap) {
            ev = put_locked(q, in);
            rc = 0;
            break;
        }
        if (!is_push && q->len > 0) {
            ev = take_locked(q, out);
            rc = 0;
            break;
        }
        if (!is_push && q->closed) {
            rc = -EPIPE;
            break;
        }
        if (rt_ctx_done(ctx)) {
            rc = -ECANCELED;
            break;
        }
        if (deadline != RT_NEVER && rt_now() >= deadline) {
            rc = -ETIMEDOUT;
            break;
        }
        (*waiters)++;
        rt__cond_wait_until(cond, &q->mu, deadline);
        (*waiters)--;
        waited = true;
    }
    unlock_notify(q, ev);
    rt__ctx_remove(ctx, &w);
    if (waited)
        rt__count_wakeup();
    return rc;
}

int rt_queue_push(rt_queue *q, void *item, rt_ns deadline, rt_ctx *ctx)
{
    int rc = rt_queue_try_push(q, item);
    if (rc != -EAGAIN)
        return rc;
    if (rt_ctx_done(ctx))
        return -ECANCELED;
    return wait_op(q, true, item, NULL, deadline, ctx);
}

int rt_queue_pop(rt_queue *q, void **item, rt_ns deadline, rt_ctx *ctx)
{
    int rc = rt_queue_try_pop(q, item);
    if (rc != -EAGAIN)
        return rc;
    if (rt_ctx_done(ctx))
        return -ECANCELED;
    return wait_op(q, false, NULL, item, deadline, ctx);
}

size_t rt_queue_len(rt_queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t rt_queue_cap(const rt_queue *q)
{
    return q->cap;
}

void rt_queue_close(rt_queue *q)
{
    pthread_mutex_lock(&q->mu);
    if (q->closed) {
        pthread_mutex_unlock(&q->mu);
        return;
    }
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    wake_selects(q);
    unlock_notify(q, q->notify ? RT_Q_CLOSED : 0);
}

bool rt_queue_closed(rt_queue *q)
{
    pthread_mutex_lock(&q->mu);
    bool c = q->closed;
    pthread_mutex_unlock(&q->mu);
    return c;
}

/* ------------------------------------------------------------ select */

static bool ready_locked(const rt_queue *q)
{
    return q->len > 0 || q->closed;
}

/* Register sw with (reg) or remove it from (!reg) every queue; return the first
 * ready index seen while doing so, or -1. */
static int sweep(rt_queue *const *qs, int n, selnode *nodes, bool reg)
{
    int ready = -1;
    for (int i = 0; i < n; i++) {
        rt_queue *q = qs[i];
        pthread_mutex_lock(&q->mu);
        if (reg) {
            nodes[i].prev = NULL;
            nodes[i].next = q->selects;
            if (q->selects)
                q->selects->prev = &nodes[i];
            q->selects = &nodes[i];
        } else {
            if (nodes[i].prev)
                nodes[i].prev->next = nodes[i].next;
            else
                q->selects = nodes[i].next;
            if (nodes[i].next)
                nodes[i].next->prev = nodes[i].prev;
        }
        if (ready < 0 && ready_locked(q))
            ready = i;
        pthread_mutex_unlock(&q->mu);
    }
    return ready;
}

#define SELECT_MAX 64

int rt_queue_select(rt_queue *const *qs, int n, rt_ns deadline, rt_ctx *ctx)
{
    if (n <= 0 || n > SELECT_MAX)
        return -EINVAL;
    for (int i = 0; i < n; i++) {   /* fast path: something is already there */
        pthread_mutex_lock(&qs[i]->mu);
        bool r = ready_locked(qs[i]);
        pthread_mutex_unlock(&qs[i]->mu);
        if (r)
            return i;
    }
    if (rt_ctx_done(ctx))
        return -ECANCELED;

    selwaiter sw = {.fired = false};
    selnode nodes[SELECT_MAX];
    pthread_mutex_init(&sw.mu, NULL);
    rt__cond_init(&sw.cond);
    for (int i = 0; i < n; i++)
        nodes[i].sw = &sw;
    rt__waiter w = {.mu = &sw.mu, .cond = &sw.cond};
    rt__ctx_add(ctx, &w);

    int rc;
    bool waited = false;
    for (;;) {
        /* Registered before looking, so a push after our look fires sw. */
        rc = sweep(qs, n, nodes, true);
        if (rc < 0) {
            waited = true;
            pthread_mutex_lock(&sw.mu);
            for (;;) {
                if (sw.fired)
                    break;
                if (rt_ctx_done(ctx)) {
                    rc = -ECANCELED;
                    break;
                }
                if (deadline != RT_NEVER && rt_now() >= deadline) {
                    rc = -ETIMEDOUT;
                    break;
                }
                rt__cond_wait_until(&sw.cond, &sw.mu, deadline);
            }
            sw.fired = false;
            pthread_mutex_unlock(&sw.mu);
        }
        int seen = sweep(qs, n, nodes, false);
        if (rc >= 0)
            break;
        if (seen >= 0 && rc != -ECANCELED) {   /* an item beats a deadline that just passed */
            rc = seen;
            break;
        }
        if (rc == -ECANCELED || rc == -ETIMEDOUT)
            break;
        /* Fired, but another consumer took the item first: wait again. */
    }
    rt__ctx_remove(ctx, &w);
    pthread_cond_destroy(&sw.cond);
    pthread_mutex_destroy(&sw.mu);
    if (waited)
        rt__count_wakeup();
    return rc;
}
