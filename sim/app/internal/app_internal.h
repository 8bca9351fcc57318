/* app_internal.h — the app model's state, shared by app.c (serving) and app_ctl.c (params, control, stats). */
#ifndef LINKBENCH_APP_INTERNAL_H
#define LINKBENCH_APP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "app.h"

enum { ST_ATTACHING, ST_OPEN, ST_FAILED };

/* One link as the app sees it. Never freed before app_destroy, so a late callback or a
 * message of a released link (pair) always finds valid memory. */
typedef struct slot {
    uint32_t id;
    _Atomic(struct link *) l;
    _Atomic int state;
    atomic_bool queued;          /* on the ready list or being served: queued only once */
    _Atomic int64_t events;      /* bumped by every callback before it tries to queue */
    atomic_bool want_flush;      /* on_writable seen: re-offer the held messages */
    atomic_bool closed;          /* on_closed seen */
    _Atomic int64_t closed_calls;
    _Atomic int cause;
    bool recv_eof;               /* recv answered -EPIPE (serving worker only) */
    /* The slot whose held FIFO holds a message this slot's recv returned for another
     * link (pair): this consumer waits for it as for its own (serving worker only). */
    struct slot *blocker;
    /* mu guards the held FIFO, the accounting below and every use of l outside the
     * serving worker, against release (which happens under it). */
    pthread_mutex_t mu;
    bool released;
    vsock_msg *held_head, *held_tail;
    int64_t held;
    struct slot *waiter;         /* a consumer blocked on this FIFO: queued when it drains */
    int64_t recv_msgs, dropped, seq_gaps, seq_backwards;
    /* Accounting by link, for the census at the end of a run (app_census.c): echoes
     * made, messages the variant's send accepted, refused or held when the link closed
     * (unsent_at_close), and the variant's drops by direction (a message on its way in
     * is one the app has not stamped). */
    int64_t echoed, accepted, refused, dropped_in, dropped_out;
    vsock *sock;                 /* given at attach: compared in the census, never used */
    rt_ns *push_t;               /* lat_out origin of push seq k at [k % APP_PUSH_RING] */
    int64_t push_seq_m0;         /* push_seq when the measured window began */
    uint64_t next_seq;
    uint64_t seen_win;           /* bit d: seq next_seq-1-d was taken (late vs duplicate) */
    bool seq_started;            /* a message with a header was seen */
    int64_t push_seq;
    rt_ns last_recv;             /* when the app last took a message of this link (0: never):
                                  * an idle close of a link with traffic says how long the app
                                  * had heard nothing (app_ctl.c) */
} slot;

typedef struct worker {
    app *a;
    rt_thread *t;
    pthread_mutex_t mu;          /* guards hist against app_lat_in_merge */
    met_hist *hist;
} worker;

struct app {
    app_params p;
    const struct link_variant *v;
    link_host_impl *host;
    struct link_server *srv;
    _Atomic(slot *) *slots;
    _Atomic uint32_t next_id;
    rt_queue *ready;             /* slots with something to do */
    rt_ctx *ctx;
    worker *workers;
    int n_workers;
    bool inl;                    /* handlers run inline on the variant's threads */
    worker inline_w;             /* their latency histogram (any variant thread) */
    rt_thread *pusher, *reaper;
    /* The census at the end of a run needs the app still: app_quiesce sets paused,
     * then waits until no worker, pusher or reaper is busy (each enters through
     * gate_enter). */
    atomic_bool paused;
    atomic_int busy;
    _Atomic rt_ns service_ns;
    _Atomic int service_kind;
    struct {
        _Atomic int64_t links_attached, attach_failed, attach_thread_limit, links_refused;
        _Atomic int64_t links_closed, links_released, closed_twice;
        _Atomic int64_t recv_msgs, recv_bytes, recv_no_hdr, seq_gaps, seq_backwards, seq_missing;
        _Atomic int64_t seq_late, seq_dup;
        _Atomic int64_t sent, echoed, pushed, sink_freed, send_eagain, held_now, held_peak;
        _Atomic int64_t unsent_at_close, variant_drops, idle_closed, reaper_runs, lat_overflow;
        _Atomic int64_t reaper_busy_ns;
        _Atomic int64_t pushes_late, push_lag_max_ns;
        _Atomic int64_t idle_closed_active, idle_closed_active_silence_max_ns, idle_closed_talking;
    } st;
};

#define ADD(field, n) atomic_fetch_add_explicit(&a->st.field, (n), memory_order_relaxed)

/* Pushes whose lat_out origin each link keeps for the census (censored latency of
 * pushes not delivered): the last APP_PUSH_RING; older ones are bounded by the oldest. */
#define APP_PUSH_RING 64

/* A worker, the pusher or the reaper is about to act: false (and not busy) while the
 * app is paused. Sequentially consistent with app_quiesce's store and load. */
static inline bool app_gate_enter(app *a)
{
    atomic_fetch_add(&a->busy, 1);
    if (!atomic_load(&a->paused)) return true;
    atomic_fetch_sub(&a->busy, 1);
    return false;
}
static inline void app_gate_leave(app *a) { atomic_fetch_sub(&a->busy, 1); }

static inline slot *slot_get(app *a, uint32_t id)
{
    return id < a->p.max_links ? atomic_load(&a->slots[id]) : NULL;
}

/* app.c: offer m to link s, holding it when the variant answers -EAGAIN (s->mu held). */
bool app__offer_locked(app *a, slot *s, vsock_msg *m);

/* ---- server push (app_push.c) */

/* The push thread (app_start spawns it when push_per_s > 0). */
void app__push_main(void *arg);

#endif
