/* rt_ctx.c — cancellation contexts (Go's context.WithCancel) without a file descriptor per ctx. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "rt_internal.h"

struct rt_ctx {
    pthread_mutex_t mu;          /* guards waiters */
    atomic_bool done;
    rt__waiter *waiters;         /* threads blocked in a wait given this ctx */
    rt_ctx *parent, *children, *next_sib, *prev_sib;   /* guarded by tree_mu */
};

/* Parent/child links change only on create, destroy and cancel, all rare, so one
 * process-wide lock keeps the tree simple; waits never take it. */
static pthread_mutex_t tree_mu = PTHREAD_MUTEX_INITIALIZER;

rt_ctx *rt_ctx_create(rt_ctx *parent)
{
    rt_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->mu, NULL);
    atomic_init(&c->done, false);
    if (parent) {
        pthread_mutex_lock(&tree_mu);
        c->parent = parent;
        c->next_sib = parent->children;
        if (parent->children)
            parent->children->prev_sib = c;
        parent->children = c;
        if (atomic_load(&parent->done))
            atomic_store(&c->done, true);
        pthread_mutex_unlock(&tree_mu);
    }
    return c;
}

bool rt_ctx_done(const rt_ctx *c)
{
    return c && atomic_load_explicit(&c->done, memory_order_acquire);
}

/* Set done, then wake every registered waiter. Done is stored under c->mu so a
 * waiter that registers after this sees it (it re-checks after registering). */
static void cancel_locked(rt_ctx *c)
{
    pthread_mutex_lock(&c->mu);
    atomic_store_explicit(&c->done, true, memory_order_release);
    int sig = 0;
    for (rt__waiter *w = c->waiters; w; w = w->next) {
        if (w->cond) {
            /* Taking the waiter's mutex orders the broadcast after its done-check. */
            pthread_mutex_lock(w->mu);
            pthread_cond_broadcast(w->cond);
            pthread_mutex_unlock(w->mu);
        } else {
            if (!sig)
                sig = rt__wake_signal();
            pthread_kill(w->thread, sig);
        }
    }
    pthread_mutex_unlock(&c->mu);
    for (rt_ctx *k = c->children; k; k = k->next_sib)
        cancel_locked(k);
}

void rt_ctx_cancel(rt_ctx *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&tree_mu);
    cancel_locked(c);
    pthread_mutex_unlock(&tree_mu);
}

void rt_ctx_destroy(rt_ctx *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&tree_mu);
    if (c->parent) {
        if (c->prev_sib)
            c->prev_sib->next_sib = c->next_sib;
        else
            c->parent->children = c->next_sib;
        if (c->next_sib)
            c->next_sib->prev_sib = c->prev_sib;
    }
    /* Orphaned children live on; they can no longer be cancelled through us. */
    for (rt_ctx *k = c->children, *n; k; k = n) {
        n = k->next_sib;
        k->parent = NULL;
        k->prev_sib = k->next_sib = NULL;
    }
    pthread_mutex_unlock(&tree_mu);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void rt__ctx_add(rt_ctx *c, rt__waiter *w)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    w->prev = NULL;
    w->next = c->waiters;
    if (c->waiters)
        c->waiters->prev = w;
    c->waiters = w;
    pthread_mutex_unlock(&c->mu);
}

void rt__ctx_remove(rt_ctx *c, rt__waiter *w)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    if (w->prev)
        w->prev->next = w->next;
    else
        c->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&c->mu);
}
