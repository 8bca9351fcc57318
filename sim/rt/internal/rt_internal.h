/* rt_internal.h — shared internals of the runtime: ctx waiter registration, thread records, wake signal. */
#ifndef LINKBENCH_RT_INTERNAL_H
#define LINKBENCH_RT_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "rt.h"

/* A thread blocked in an rt wait that a ctx cancel must wake. Lives on the waiting
 * thread's stack, linked into the ctx for exactly the duration of the wait.
 * Condvar waiters (cond != NULL) get mu locked + cond broadcast; the others get the
 * wake signal through pthread_kill, which interrupts their ppoll. */
typedef struct rt__waiter {
    struct rt__waiter *prev, *next;
    pthread_mutex_t *mu;
    pthread_cond_t *cond;
    pthread_t thread;
} rt__waiter;

/* Register/unregister a waiter; c may be NULL (no-op). Never called with mu held:
 * the lock order is ctx mutex, then the waiter's mutex. */
void rt__ctx_add(rt_ctx *c, rt__waiter *w);
void rt__ctx_remove(rt_ctx *c, rt__waiter *w);

/* The signal used to interrupt ppoll on cancel. Blocked in every thread that waits,
 * except atomically inside ppoll. */
int rt__wake_signal(void);
/* Make sure the calling thread blocks the wake signal (lazy for threads rt did not
 * spawn) and return the mask ppoll should install (the thread's mask minus it). */
const sigset_t *rt__wait_mask(void);

/* Count a wake-up (same as rt_count_wakeup, for internal callers). */
void rt__count_wakeup(void);

/* Monotonic condvar helpers: initialise a condvar on CLOCK_MONOTONIC, and wait on it
 * until an absolute rt_ns deadline (RT_NEVER = forever). Return 0 or ETIMEDOUT. */
int rt__cond_init(pthread_cond_t *c);
int rt__cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, rt_ns deadline);

#endif
