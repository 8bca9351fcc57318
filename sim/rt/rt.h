/* rt.h — the runtime: the only door link variants have to threads, time, queues and waiting. */
#ifndef LINKBENCH_RT_H
#define LINKBENCH_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Errors across rt and vsock are negative errno values:
 *   -ETIMEDOUT  a deadline passed          -ECANCELED  the rt_ctx was cancelled
 *   -EAGAIN     would block (non-blocking) -EPIPE      closed (queue closed, link closed)
 *   -ENOMEM, -EINVAL, and whatever pthread_create/socket calls return, negated. */

/* ---------------------------------------------------------------- clock */

typedef int64_t rt_ns;                 /* nanoseconds */
#define RT_US ((rt_ns)1000)
#define RT_MS ((rt_ns)1000000)
#define RT_S  ((rt_ns)1000000000)
#define RT_NEVER INT64_MAX              /* a deadline that never passes */

/* CLOCK_MONOTONIC in ns. System-wide, so stamps compare across processes. */
rt_ns rt_now(void);
/* Deadline `d` ns from now, saturating at RT_NEVER. d <= 0 gives now. */
rt_ns rt_deadline_in(rt_ns d);

/* ---------------------------------------------------------------- ctx */

/* Cancellation (Go's context.WithCancel). Cancelling wakes, promptly, every thread
 * blocked in an rt or vsock wait that was given this ctx or a descendant. */
typedef struct rt_ctx rt_ctx;

rt_ctx *rt_ctx_create(rt_ctx *parent);   /* parent may be NULL; NULL on ENOMEM */
void rt_ctx_cancel(rt_ctx *c);           /* idempotent; cancels descendants too */
bool rt_ctx_done(const rt_ctx *c);       /* true once cancelled (c may be NULL: false) */
void rt_ctx_destroy(rt_ctx *c);          /* NULL is a no-op; no waiter may still use it */

/* Wait for `events` (POLLIN/POLLOUT) on fd until deadline or cancel.
 * Returns the revents (>0), -ETIMEDOUT or -ECANCELED. Counts one wake-up. */
int rt_wait_fd(int fd, short events, rt_ns deadline, rt_ctx *ctx);

/* Cancellable sleep. Returns 0 when the time passed, -ECANCELED. Counts one wake-up. */
int rt_sleep_until(rt_ns deadline, rt_ctx *ctx);
int rt_sleep(rt_ns d, rt_ctx *ctx);

/* Go's time.Ticker: ticks every period; a slow receiver skips ticks, never bursts. */
typedef struct rt_ticker { rt_ns period, next; } rt_ticker;
void rt_ticker_init(rt_ticker *t, rt_ns period);
int rt_ticker_wait(rt_ticker *t, rt_ctx *ctx);   /* 0 on a tick, -ECANCELED */

/* ---------------------------------------------------------------- threads */

typedef enum rt_group {
    RT_GROUP_LINK,    /* threads a variant spends per link */
    RT_GROUP_LOOP,    /* event-loop threads (independent of link count) */
    RT_GROUP_APP,     /* the app model's pool */
    RT_GROUP_DRIVER,  /* load generator */
    RT_GROUP_OTHER,   /* anything else, and threads rt did not spawn */
    RT_GROUP_COUNT
} rt_group;

const char *rt_group_name(rt_group g);
int rt_group_parse(const char *name, rt_group *out);   /* 0 or -EINVAL */

typedef struct rt_thread rt_thread;

/* Stack size for threads spawned from now on (default 64 KiB; env LINKBENCH_STACK_KIB
 * overrides the default). Sanitizer builds raise it. */
void rt_set_stack_bytes(size_t bytes);
size_t rt_stack_bytes(void);

/* Spawn a named thread in a group. On failure returns -EAGAIN (or the negated
 * pthread_create error) and counts it in the group's spawn_failed; never aborts.
 * If out is NULL the thread is detached; otherwise join it with rt_thread_join. */
int rt_thread_spawn(rt_thread **out, rt_group g, const char *name,
                    void (*fn)(void *arg), void *arg);
int rt_thread_join(rt_thread *t);          /* waits, frees; 0 or negated errno */
void rt_thread_detach(rt_thread *t);       /* frees the handle; thread runs on */

/* Per-group accounting. cpu_ns covers exited and live threads (schedstat/thread clock). */
typedef struct rt_group_stats {
    int64_t live, peak, spawned, spawn_failed;
    int64_t cpu_ns;
    int64_t wakeups;   /* returns from blocking waits: data, deadline or cancel */
} rt_group_stats;
void rt_group_get(rt_group g, rt_group_stats *out);
void rt_group_reset_peak(rt_group g);   /* peak := live (after warm-up) */
/* The thread-name classes spawned in group g so far (names without their trailing
 * digits, met_proc_name_class: "pair-17" is "pair-"), so that the kernel's per-thread
 * figures, found by name, can be told by group. Copies up to max into names (16 bytes
 * each) and returns how many there are (more than max: some were not copied). */
int rt_group_names(rt_group g, char (*names)[16], int max);

/* Count a wake-up for the calling thread (event loops call it once per loop iteration). */
void rt_count_wakeup(void);

/* ---------------------------------------------------------------- queue */

/* Bounded MPMC queue of opaque items (Go's buffered chan). */
typedef struct rt_queue rt_queue;

enum rt_queue_event {
    RT_Q_NONEMPTY = 1,   /* a push took the length from 0 to 1 */
    RT_Q_LOW      = 2,   /* a pop took the length down to the low-water mark */
    RT_Q_CLOSED   = 3
};
/* Called with no queue lock held, from the pushing/popping thread. */
typedef void (*rt_queue_notify_fn)(void *arg, rt_queue *q, enum rt_queue_event ev);

rt_queue *rt_queue_create(size_t capacity);      /* capacity >= 1; NULL on ENOMEM */
void rt_queue_destroy(rt_queue *q);               /* items left inside are not freed */
void rt_queue_set_notify(rt_queue *q, rt_queue_notify_fn fn, void *arg, size_t low_water);

/* Blocking push/pop: 0, -ETIMEDOUT, -ECANCELED, -EPIPE (closed; pop: closed and empty). */
int rt_queue_push(rt_queue *q, void *item, rt_ns deadline, rt_ctx *ctx);
int rt_queue_pop(rt_queue *q, void **item, rt_ns deadline, rt_ctx *ctx);
/* Non-blocking: 0, -EAGAIN (full/empty), -EPIPE. */
int rt_queue_try_push(rt_queue *q, void *item);
int rt_queue_try_pop(rt_queue *q, void **item);
size_t rt_queue_len(rt_queue *q);
size_t rt_queue_cap(const rt_queue *q);
void rt_queue_close(rt_queue *q);     /* wakes all waiters; pops drain what is left */
bool rt_queue_closed(rt_queue *q);

/* Wait until any of the queues has an item or ctx is cancelled (Go's select on
 * several channels). Returns the index of a ready queue, -ETIMEDOUT or -ECANCELED.
 * A closed queue counts as ready. */
int rt_queue_select(rt_queue *const *qs, int n, rt_ns deadline, rt_ctx *ctx);

/* ---------------------------------------------------------------- limiter */

/* Token bucket. Not thread-safe: one owner (a link's loop). Pure *_at forms take now. */
typedef struct rt_limiter {
    double rate_per_s;   /* tokens per second */
    double burst;        /* bucket size (Go: burst = rate in the seed) */
    double tokens;
    rt_ns last;          /* time of the last update (Allow) or last slot (Take) */
    int64_t slack;       /* uber ratelimit slack in slots (default 10) */
} rt_limiter;

void rt_limiter_init(rt_limiter *l, double rate_per_s, double burst, rt_ns now);
/* golang.org/x/time/rate Limiter.Allow: take one token if there is one. */
bool rt_limiter_allow_at(rt_limiter *l, rt_ns now);
bool rt_limiter_allow(rt_limiter *l);
/* When Allow would next succeed (now if a token is there). */
rt_ns rt_limiter_next_at(const rt_limiter *l, rt_ns now);
/* go.uber.org/ratelimit Take: reserve the next slot (1/rate apart, with slack) and
 * return the time it starts; the caller sleeps until then. */
rt_ns rt_limiter_reserve_at(rt_limiter *l, rt_ns now);
int rt_limiter_take(rt_limiter *l, rt_ctx *ctx);   /* 0 or -ECANCELED */

/* ---------------------------------------------------------------- backoff */

/* ekit retry.ExponentialBackoffRetryStrategy: initial, doubled per retry, capped at
 * max; after max_retries (when > 0) next() says it is spent. */
typedef struct rt_backoff {
    rt_ns initial, max;
    int32_t max_retries;
    int32_t retries;
    bool max_reached;
} rt_backoff;
void rt_backoff_init(rt_backoff *b, rt_ns initial, rt_ns max, int32_t max_retries);
bool rt_backoff_next(rt_backoff *b, rt_ns *delay);   /* false when spent */

/* ---------------------------------------------------------------- loop */

/* A thin reactor on libev for event-driven code: io watchers, timers, async wake-ups.
 * All functions except rt_async_send must be called on the loop's own thread. */
typedef struct rt_loop rt_loop;
typedef struct rt_io rt_io;
typedef struct rt_timer rt_timer;
typedef struct rt_async rt_async;

typedef void (*rt_io_cb)(rt_io *w, int revents, void *arg);     /* RT_READ | RT_WRITE */
typedef void (*rt_timer_cb)(rt_timer *t, void *arg);
typedef void (*rt_async_cb)(rt_async *a, void *arg);
enum { RT_READ = 1, RT_WRITE = 2 };

rt_loop *rt_loop_create(void);
void rt_loop_destroy(rt_loop *l);
int rt_loop_run(rt_loop *l);           /* runs until rt_loop_break or nothing is active */
void rt_loop_break(rt_loop *l);        /* from the loop thread */
rt_ns rt_loop_now(rt_loop *l);         /* cached time of this iteration (not for latency stamps) */

rt_io *rt_io_create(rt_loop *l, int fd, rt_io_cb cb, void *arg);
void rt_io_set(rt_io *w, int events);  /* 0 stops; RT_READ|RT_WRITE */
int rt_io_events(const rt_io *w);
void rt_io_destroy(rt_io *w);

rt_timer *rt_timer_create(rt_loop *l, rt_timer_cb cb, void *arg);
void rt_timer_start(rt_timer *t, rt_ns after, rt_ns repeat);  /* restarts if active */
void rt_timer_again(rt_timer *t, rt_ns repeat);               /* libev ev_timer_again */
rt_ns rt_timer_remaining(rt_timer *t);
void rt_timer_stop(rt_timer *t);
bool rt_timer_active(const rt_timer *t);
void rt_timer_destroy(rt_timer *t);

rt_async *rt_async_create(rt_loop *l, rt_async_cb cb, void *arg);
void rt_async_send(rt_async *a);       /* any thread; coalesced */
void rt_async_destroy(rt_async *a);

#endif
