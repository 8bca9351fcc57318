/* app.c — the app model: a small consumer pool fed by readiness notifications, echo or sink, push, reaper. */
#include "app.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_internal.h"
#include "wire.h"


/* ---------------------------------------------------------------- callbacks (never block) */

static void enqueue(app *a, slot *s)
{
    atomic_fetch_add(&s->events, 1);
    if (!atomic_exchange(&s->queued, true))
        rt_queue_try_push(a->ready, s);   /* capacity max_links: never full */
}

static void learn_link(slot *s, struct link *l)
{
    struct link *none = NULL;
    if (l) atomic_compare_exchange_strong(&s->l, &none, l);
}

static void on_readable(struct link_host *h, struct link *l, uint32_t id)
{
    app *a = h->app;
    slot *s = slot_get(a, id);
    if (!s) return;
    learn_link(s, l);
    enqueue(a, s);
}

static void flush_held_locked(app *a, slot *s);

static void on_writable(struct link_host *h, struct link *l, uint32_t id)
{
    app *a = h->app;
    slot *s = slot_get(a, id);
    if (!s) return;
    learn_link(s, l);
    if (a->inl) {
        /* inline: offer the held messages again right here, on the variant's thread,
         * which then offers its own held inbound message (deliver) again; not while
         * paused for the census (they stay held, counted) */
        if (!app_gate_enter(a)) return;
        pthread_mutex_lock(&s->mu);
        flush_held_locked(a, s);
        pthread_mutex_unlock(&s->mu);
        app_gate_leave(a);
        return;
    }
    atomic_store(&s->want_flush, true);
    enqueue(a, s);
}

static void on_closed(struct link_host *h, struct link *l, uint32_t id, enum link_close_cause c)
{
    app *a = h->app;
    slot *s = slot_get(a, id);
    if (!s) return;
    learn_link(s, l);
    if (atomic_fetch_add(&s->closed_calls, 1) > 0) {
        ADD(closed_twice, 1);
        return;
    }
    atomic_store(&s->cause, (int)c);
    atomic_store(&s->closed, true);
    link_host_count_close(a->host, c);
    ADD(links_closed, 1);
    enqueue(a, s);
}

static void drop_hook(void *arg, const vsock_msg *m, enum link_drop_reason r)
{
    (void)r;
    app *a = arg;
    ADD(variant_drops, 1);
    slot *s = slot_get(a, m->link_id);
    if (!s) return;
    /* The direction by the message itself, whatever the reason: one the app has not
     * stamped (a client's, or one without a header) was on its way in. */
    struct wire_hdr h;
    bool out = wire_get(m->data, m->len, &h) == 0 && (h.kind == WIRE_PUSH || h.t_app > 0);
    pthread_mutex_lock(&s->mu);
    s->dropped++;
    if (out) s->dropped_out++;
    else s->dropped_in++;
    pthread_mutex_unlock(&s->mu);
}

/* ---------------------------------------------------------------- sending */

static void held_drop_all(app *a, slot *s)
{
    while (s->held_head) {
        vsock_msg *m = s->held_head;
        s->held_head = m->next;
        vsock_msg_free(m);
        ADD(unsent_at_close, 1);
        ADD(held_now, -1);
        s->refused++;
    }
    s->held_tail = NULL;
    s->held = 0;
}

static void held_push(app *a, slot *s, vsock_msg *m)
{
    m->next = NULL;
    if (s->held_tail) s->held_tail->next = m;
    else s->held_head = m;
    s->held_tail = m;
    s->held++;
    int64_t now = ADD(held_now, 1) + 1, peak = atomic_load(&a->st.held_peak);
    while (now > peak && !atomic_compare_exchange_weak(&a->st.held_peak, &peak, now)) {}
}

/* Offer m to link s (its messages keep FIFO order behind those already held). Like the
 * blocked goroutine of the seed, a message the variant refuses with -EAGAIN waits here
 * for on_writable; nothing is dropped and no other link waits. True when m was held.
 * Called with s->mu held. */
static bool offer_locked(app *a, slot *s, vsock_msg *m)
{
    struct link *l = atomic_load(&s->l);
    if (s->released || atomic_load(&s->closed) || !l) {
        vsock_msg_free(m);
        ADD(unsent_at_close, 1);
        s->refused++;
        return false;
    }
    if (s->held) {
        held_push(a, s, m);
        return true;
    }
    m->link_id = s->id;
    int rc = a->v->send(l, m);
    if (rc == 0) {
        ADD(sent, 1);
        s->accepted++;
        a->v->update_active(l);
    } else if (rc == -EAGAIN) {
        ADD(send_eagain, 1);
        held_push(a, s, m);
        return true;
    } else {
        vsock_msg_free(m);
        ADD(unsent_at_close, 1);
        s->refused++;
    }
    return false;
}

/* s's held FIFO is empty: a consumer that waited for it takes messages again. */
static void wake_waiter_locked(app *a, slot *s)
{
    slot *w = s->waiter;
    s->waiter = NULL;
    if (w) enqueue(a, w);
}

static void flush_held_locked(app *a, slot *s)
{
    struct link *l = atomic_load(&s->l);
    while (s->held_head && !s->released) {
        vsock_msg *m = s->held_head;
        vsock_msg *next = m->next;   /* once send accepts m, its thread may free it at once */
        int rc = a->v->send(l, m);
        if (rc == -EAGAIN) {
            ADD(send_eagain, 1);
            return;
        }
        s->held_head = next;
        if (!s->held_head) {
            s->held_tail = NULL;
            wake_waiter_locked(a, s);
        }
        s->held--;
        ADD(held_now, -1);
        if (rc == 0) {
            ADD(sent, 1);
            s->accepted++;
            a->v->update_active(l);
        } else {
            vsock_msg_free(m);
            ADD(unsent_at_close, 1);
            s->refused++;
        }
    }
}

/* ---------------------------------------------------------------- consuming */

static void serve_time(app *a, rt_ns t0)
{
    for (;;) {
        /* re-read each slice: a stalled app (a huge service time) can be resumed */
        rt_ns d = atomic_load_explicit(&a->service_ns, memory_order_relaxed);
        rt_ns left = d - (rt_now() - t0);
        if (left <= 0 || rt_ctx_done(a->ctx) || atomic_load(&a->paused)) return;
        if (atomic_load_explicit(&a->service_kind, memory_order_relaxed) != APP_SERVICE_SLEEP)
            continue;   /* busy: burn the CPU the message costs */
        rt_sleep(left < 10 * RT_MS ? left : 10 * RT_MS, a->ctx);
    }
}

/* A message's sequence number on its link (s->mu held). In sink mode these holes are the
 * only evidence of loss on the way in: a hole no drop explains is lost (run_metrics.c).
 * A link's first message sets where its sequence starts (a client reconnected by churn
 * goes on counting). */
static void seq_locked(app *a, slot *s, const struct wire_hdr *h)
{
    if (h->seq > s->next_seq && s->seq_started)
        ADD(seq_missing, (int64_t)(h->seq - s->next_seq));
    if (h->seq > s->next_seq) { s->seq_gaps++; ADD(seq_gaps, 1); }
    if (!s->seq_started || h->seq >= s->next_seq) {
        uint64_t shift = s->seq_started ? h->seq + 1 - s->next_seq : 64;
        s->seen_win = (shift >= 64 ? 0 : s->seen_win << shift) | 1;
        s->next_seq = h->seq + 1;
    } else {
        /* Behind: a late message filling a hole counted above (two workers may take
         * a pair's shared queue out of order) is not missing after all; one already
         * taken is a duplicate. Beyond the window it stays counted as missing. */
        uint64_t d = s->next_seq - 1 - h->seq;
        s->seq_backwards++;
        ADD(seq_backwards, 1);
        if (d < 64 && (s->seen_win >> d & 1))
            ADD(seq_dup, 1);
        else if (d < 64) {
            s->seen_win |= (uint64_t)1 << d;
            ADD(seq_missing, -1);
            ADD(seq_late, 1);
        }
    }
    s->seq_started = true;
}

/* The client→app latency of one message (the caller's histogram). */
static void lat_in_record(app *a, worker *w, rt_ns now, const struct wire_hdr *h)
{
    pthread_mutex_lock(&w->mu);
    bool ok = w->hist && met_hist_record(w->hist, now - h->t_sched);
    pthread_mutex_unlock(&w->mu);
    if (!ok) ADD(lat_overflow, 1);
}

/* One message taken from consumer c's recv: account it on the link it belongs to (pair's
 * recv returns messages of two links), then echo or free it. True when its echo was held:
 * c then takes nothing more until that link's held FIFO drains (c->blocker). */
static bool process_at(app *a, worker *w, slot *c, vsock_msg *m, rt_ns now)
{
    ADD(recv_msgs, 1);
    ADD(recv_bytes, m->len);
    struct wire_hdr h;
    bool has_hdr = wire_get(m->data, m->len, &h) == 0;
    if (!has_hdr) ADD(recv_no_hdr, 1);
    else if (h.t_sched > 0) lat_in_record(a, w, now, &h);
    slot *s = slot_get(a, m->link_id);
    if (!s) {   /* a variant that mislabels messages: never lose one silently */
        ADD(unsent_at_close, 1);
        vsock_msg_free(m);
        return false;
    }
    pthread_mutex_lock(&s->mu);
    s->recv_msgs++;
    s->last_recv = now;
    if (has_hdr) seq_locked(a, s, &h);
    if (!s->released) a->v->update_active(atomic_load(&s->l));
    pthread_mutex_unlock(&s->mu);

    serve_time(a, now);
    if (a->p.mode == APP_SINK) {
        vsock_msg_free(m);
        ADD(sink_freed, 1);
        return false;
    }
    if (has_hdr) {   /* keep the driver's timestamps; say when the app took it */
        h.t_app = now;
        wire_put(m->data, &h);
    }
    ADD(echoed, 1);
    pthread_mutex_lock(&s->mu);
    s->echoed++;
    bool held = offer_locked(a, s, m);
    if (held && s != c) {
        /* One waiter per FIFO (enough for pair): another consumer is never left waiting
         * unwoken, it goes on taking as it did before this model. */
        if (!s->waiter) s->waiter = c;
        held = s->waiter == c;
        if (held) c->blocker = s;
    }
    pthread_mutex_unlock(&s->mu);
    return held;
}

/* app.inline (host->deliver): the handler for one message, on the variant's thread. It
 * does what a worker does for a message it takes (process), in one pass under the
 * link's lock when the app only echoes: a link whose echo is held takes nothing more
 * (-EAGAIN), as its worker would not. The message's arrival at the app is the time the
 * variant's read handed it over (t_decoded, one clock read per read, as the driver
 * stamps its receives), else the clock now. */
static bool consumer_waits(slot *s);

static int deliver_gated(app *a, struct link *l, uint32_t id, vsock_msg *m);

static int deliver(struct link_host *h, struct link *l, uint32_t id, vsock_msg *m)
{
    app *a = h->app;
    /* paused for the census (app_quiesce): the app takes nothing, as its workers stop
     * between messages; the variant keeps m (its held op counts it) */
    if (!app_gate_enter(a)) return -EAGAIN;
    int rc = deliver_gated(a, l, id, m);
    app_gate_leave(a);
    return rc;
}

static int deliver_gated(app *a, struct link *l, uint32_t id, vsock_msg *m)
{
    slot *s = slot_get(a, id);
    m->link_id = id;
    rt_ns now = m->t_decoded > 0 ? m->t_decoded : rt_now();
    if (!s || atomic_load_explicit(&a->service_ns, memory_order_relaxed) != 0 || a->p.mode != APP_ECHO) {
        if (s) {
            if (!atomic_load_explicit(&s->l, memory_order_relaxed)) learn_link(s, l);
            if (consumer_waits(s)) return -EAGAIN;
        }
        process_at(a, &a->inline_w, s, m, now);   /* s NULL: counted unsent, never lost silently */
        return 0;
    }
    if (!atomic_load_explicit(&s->l, memory_order_relaxed)) learn_link(s, l);
    struct wire_hdr hd;
    bool has_hdr = wire_get(m->data, m->len, &hd) == 0;
    pthread_mutex_lock(&s->mu);
    if (!atomic_load(&s->closed) && s->held > 0) {   /* consumer_waits; no blocker inline */
        pthread_mutex_unlock(&s->mu);
        return -EAGAIN;
    }
    ADD(recv_msgs, 1);
    ADD(recv_bytes, m->len);
    s->recv_msgs++;
    s->last_recv = now;
    if (has_hdr) seq_locked(a, s, &hd);
    else ADD(recv_no_hdr, 1);
    if (!s->released) a->v->update_active(atomic_load(&s->l));
    if (has_hdr) {   /* keep the driver's timestamps; say when the app took it */
        hd.t_app = now;
        wire_put(m->data, &hd);
    }
    ADD(echoed, 1);
    s->echoed++;
    offer_locked(a, s, m);   /* held (send said -EAGAIN): later deliveries answer -EAGAIN */
    pthread_mutex_unlock(&s->mu);
    if (has_hdr && hd.t_sched > 0) lat_in_record(a, &a->inline_w, now, &hd);
    return 0;
}

static bool process(app *a, worker *w, slot *c, vsock_msg *m)
{
    return process_at(a, w, c, m, rt_now());
}

static void release_slot(app *a, slot *s)
{
    pthread_mutex_lock(&s->mu);
    held_drop_all(a, s);
    wake_waiter_locked(a, s);
    s->released = true;
    a->v->release(atomic_load(&s->l));
    pthread_mutex_unlock(&s->mu);
    ADD(links_released, 1);
}

/* Whether s's consumer must take nothing now. In Go each business caller is its own
 * goroutine: one blocked in Send takes nothing more from Receive, so a link whose send
 * refused a message gets no further messages taken from it, and its backpressure
 * reaches the design (a receive queue that fills, then a paused read, a blocked
 * thread or drops, as the design does) instead of the app holding every echo. A
 * consumer waits on its own held FIFO (its on_writable serves it again) or on the
 * FIFO holding a message its recv returned for another link: pair's sub-links share
 * one receive queue, and a single goroutine consuming LinkV5's unified channel stops
 * at the first message whose Send blocks, whichever link it belongs to. A closed link
 * is never kept waiting: its recv only drains what is left, then it is released. */
static bool consumer_waits(slot *s)
{
    if (atomic_load(&s->closed)) return false;
    pthread_mutex_lock(&s->mu);
    bool wait = s->held > 0;
    pthread_mutex_unlock(&s->mu);
    slot *t = s->blocker;
    if (wait || !t) return wait;
    pthread_mutex_lock(&t->mu);
    wait = t->waiter == s;   /* cleared, and s queued, when t's FIFO drained */
    pthread_mutex_unlock(&t->mu);
    if (!wait) s->blocker = NULL;
    return wait;
}

/* Serve one slot taken from the ready list; this worker owns it until queued is cleared. */
static void serve(app *a, worker *w, slot *s)
{
    struct link *l = atomic_load(&s->l);
    if (s->released || !l) return;   /* stays "queued": a released slot is never served again */
    for (;;) {
        int64_t ev0 = atomic_load(&s->events);
        if (atomic_exchange(&s->want_flush, false)) {
            pthread_mutex_lock(&s->mu);
            flush_held_locked(a, s);
            pthread_mutex_unlock(&s->mu);
        }
        if (atomic_load(&s->closed)) {
            pthread_mutex_lock(&s->mu);
            held_drop_all(a, s);
            wake_waiter_locked(a, s);
            pthread_mutex_unlock(&s->mu);
        }
        int n = 0;
        bool waits = consumer_waits(s);
        while (n < a->p.recv_batch && !s->recv_eof && !waits) {
            if (atomic_load(&a->paused)) {   /* app_quiesce: stop between messages */
                rt_queue_try_push(a->ready, s);
                return;
            }
            vsock_msg *m = NULL;
            int rc = a->v->recv(l, &m);
            if (rc == 0) {
                waits = process(a, w, s, m) && !atomic_load(&s->closed);
                n++;
            } else if (rc == -EPIPE) {
                s->recv_eof = true;
            } else {
                break;
            }
        }
        if (s->recv_eof && atomic_load(&s->closed)) {
            release_slot(a, s);
            return;
        }
        if (n == a->p.recv_batch) {   /* more may remain: give other links their turn */
            rt_queue_try_push(a->ready, s);
            return;
        }
        atomic_store(&s->queued, false);
        /* A callback that came after ev0 found queued set and did not queue s: serve
         * again rather than leave its event stranded. */
        if (atomic_load(&s->events) == ev0 || atomic_exchange(&s->queued, true)) return;
    }
}

static void worker_main(void *arg)
{
    worker *w = arg;
    app *a = w->a;
    for (;;) {
        void *item;
        if (rt_queue_pop(a->ready, &item, RT_NEVER, a->ctx) != 0) return;
        while (!app_gate_enter(a))   /* paused for the census: keep the slot, wait */
            if (rt_sleep(RT_MS, a->ctx) != 0) return;
        serve(a, w, item);
        app_gate_leave(a);
    }
}

/* ---------------------------------------------------------------- push and reaper */

/* The push generator is in app_push.c (each link on its own schedule). */
bool app__offer_locked(app *a, slot *s, vsock_msg *m)
{
    return offer_locked(a, s, m);
}

static void reaper_main(void *arg)
{
    app *a = arg;
    rt_ticker t;
    rt_ticker_init(&t, a->p.reap_period_ns);
    while (rt_ticker_wait(&t, a->ctx) == 0) {
        if (!app_gate_enter(a)) continue;   /* paused for the census: no closes */
        ADD(reaper_runs, 1);
        /* the sweep's wall time: TryCloseIfIdle closes in the caller's thread, so a
         * design whose Close waits for the peer makes the sweep wait too */
        rt_ns t0 = rt_now();
        uint32_t n = atomic_load(&a->next_id);
        for (uint32_t id = 0; id < n && id < a->p.max_links; id++) {
            bool closed;
            app_try_close_if_idle(a, id, a->p.idle_timeout_ns, &closed);
        }
        ADD(reaper_busy_ns, rt_now() - t0);
        app_gate_leave(a);
    }
}

/* ---------------------------------------------------------------- lifecycle */

app *app_create(const app_params *p, const struct link_variant *v, link_host_impl *host)
{
    char err[256];
    if (app_params_check(p, err, sizeof err) < 0) return NULL;
    app *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->p = *p;
    a->v = v;
    a->host = host;
    a->slots = calloc(p->max_links, sizeof *a->slots);
    a->ready = rt_queue_create(p->max_links);
    a->ctx = rt_ctx_create(NULL);
    a->workers = calloc(p->workers, sizeof *a->workers);
    if (!a->slots || !a->ready || !a->ctx || !a->workers) {
        app_destroy(a);
        return NULL;
    }
    for (int i = 0; i < p->workers; i++) {
        a->workers[i].a = a;
        pthread_mutex_init(&a->workers[i].mu, NULL);
        a->workers[i].hist = met_hist_create();
    }
    atomic_store(&a->service_ns, p->service_ns);
    atomic_store(&a->service_kind, (int)p->service_kind);
    host->base.app = a;
    host->base.on_readable = on_readable;
    host->base.on_writable = on_writable;
    host->base.on_closed = on_closed;
    /* inline handlers only where the variant says it can run them on its threads */
    a->inl = p->inline_handlers && (v->caps & LINK_CAP_APP_INLINE);
    host->base.deliver = a->inl ? deliver : NULL;
    pthread_mutex_init(&a->inline_w.mu, NULL);
    a->inline_w.a = a;
    a->inline_w.hist = a->inl ? met_hist_create() : NULL;
    link_host_set_drop_hook(host, drop_hook, a);
    return a;
}

int app_start(app *a, struct link_server *srv)
{
    a->srv = srv;
    int rc = 0;
    for (int i = 0; i < a->p.workers && rc == 0; i++) {
        rc = rt_thread_spawn(&a->workers[i].t, RT_GROUP_APP, "app-worker", worker_main,
                             &a->workers[i]);
        if (rc == 0) a->n_workers++;
    }
    if (rc == 0 && a->p.push_per_s > 0)
        rc = rt_thread_spawn(&a->pusher, RT_GROUP_APP, "app-push", app__push_main, a);
    if (rc == 0 && a->p.idle_timeout_ns > 0)
        rc = rt_thread_spawn(&a->reaper, RT_GROUP_APP, "app-reaper", reaper_main, a);
    if (rc < 0) app_stop(a);
    return rc;
}

void app_stop(app *a)
{
    if (!a || !a->ctx) return;
    rt_ctx_cancel(a->ctx);
    for (int i = 0; i < a->n_workers; i++) rt_thread_join(a->workers[i].t);
    a->n_workers = 0;
    if (a->pusher) rt_thread_join(a->pusher);
    if (a->reaper) rt_thread_join(a->reaper);
    a->pusher = a->reaper = NULL;
}

void app_destroy(app *a)
{
    if (!a) return;
    app_stop(a);
    if (a->host && a->host->base.app == a) {
        link_host_set_drop_hook(a->host, NULL, NULL);
        a->host->base.app = NULL;
        a->host->base.deliver = NULL;
    }
    for (uint32_t id = 0; a->slots && id < a->p.max_links; id++) {
        slot *s = atomic_load(&a->slots[id]);
        if (!s) continue;
        held_drop_all(a, s);
        pthread_mutex_destroy(&s->mu);
        free(s->push_t);
        free(s);
    }
    for (int i = 0; a->workers && i < a->p.workers; i++) {
        met_hist_destroy(a->workers[i].hist);
        pthread_mutex_destroy(&a->workers[i].mu);
    }
    if (a->inline_w.a) {
        met_hist_destroy(a->inline_w.hist);
        pthread_mutex_destroy(&a->inline_w.mu);
    }
    free(a->workers);
    free(a->slots);
    rt_queue_destroy(a->ready);
    rt_ctx_destroy(a->ctx);
    free(a);
}

int app_reserve_id(app *a, uint32_t *id)
{
    uint32_t n = atomic_load(&a->next_id);
    do {
        if (n >= a->p.max_links) {
            ADD(links_refused, 1);
            return -ENOSPC;
        }
    } while (!atomic_compare_exchange_weak(&a->next_id, &n, n + 1));
    *id = n;
    return 0;
}

int app_attach_reserved(app *a, vsock *sock, uint32_t id)
{
    if (id >= a->p.max_links || atomic_load(&a->slots[id])) {
        vsock_destroy(sock);
        return -EINVAL;
    }
    slot *s = calloc(1, sizeof *s);
    if (!s) {
        ADD(attach_failed, 1);
        vsock_destroy(sock);
        return -ENOMEM;
    }
    s->id = id;
    s->sock = sock;
    if (a->p.push_per_s > 0 && !(s->push_t = calloc(APP_PUSH_RING, sizeof *s->push_t))) {
        free(s);
        ADD(attach_failed, 1);
        vsock_destroy(sock);
        return -ENOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    atomic_store(&s->state, ST_ATTACHING);
    /* published before attach: the variant may call back before attach returns */
    atomic_store(&a->slots[id], s);
    struct link *l = NULL;
    int rc = a->v->attach(a->srv, sock, id, &l);
    if (rc < 0) {
        atomic_store(&s->state, ST_FAILED);
        ADD(attach_failed, 1);
        if (rc == -EAGAIN) ADD(attach_thread_limit, 1);
        return rc;
    }
    learn_link(s, l);
    atomic_store(&s->state, ST_OPEN);
    ADD(links_attached, 1);
    return 0;
}

int app_attach(app *a, vsock *sock, uint32_t *id_out)
{
    uint32_t id;
    int rc = app_reserve_id(a, &id);
    if (rc < 0) {
        vsock_destroy(sock);
        return rc;
    }
    rc = app_attach_reserved(a, sock, id);
    if (rc == 0 && id_out) *id_out = id;
    return rc;
}
