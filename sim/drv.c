/* drv.c — the driver's engine: open-loop send sweep, receive and sequence accounting, phases, result. */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "drv_internal.h"

static bool sending(const struct drv *d)
{
    return d->phase <= DRV_PHASE_MEASURE;
}

/* ---------------------------------------------------------------- accounting */

#define DIR_AT(dir, off) (*(int64_t *)((char *)(dir) + (off)))

/* Add n to one echo counter for seqs [a, b): the part at or above the link's first
 * measured seq also counts in the measured window. */
void drv_echo_range(struct drv *d, const struct drv_link *L, size_t off, uint64_t a, uint64_t b, int64_t sign)
{
    if (b <= a)
        return;
    DIR_AT(&d->r.all.echo, off) += sign * (int64_t)(b - a);
    if (b > L->seq_meas0) {
        uint64_t lo = a > L->seq_meas0 ? a : L->seq_meas0;
        DIR_AT(&d->r.measured.echo, off) += sign * (int64_t)(b - lo);
    }
}

static void count(struct drv *d, bool meas, size_t dir_off, size_t off, int64_t n)
{
    DIR_AT((char *)&d->r.all + dir_off, off) += n;
    if (meas)
        DIR_AT((char *)&d->r.measured + dir_off, off) += n;
}

#define ECHO offsetof(struct drv_acct, echo)
#define PUSH offsetof(struct drv_acct, push)
#define F(f) offsetof(struct drv_dir, f)

/* Slots due on L before `until` that will never be sent: the link closed or the run
 * ended. At the end they were due and waiting in the driver: counted on the link (in
 * flight at the driver, the census) and, for the window's, censored at their age. */
void drv_count_unsent(struct drv *d, struct drv_link *L, rt_ns until, bool at_end)
{
    const struct drv_group *g = &d->p.groups[L->group];
    if (g->rate_per_s <= 0)
        return;
    while (L->slots_left && L->next_t < until) {
        bool meas = L->next_t >= d->t_meas0;
        count(d, meas, ECHO, F(unsent), 1);
        if (at_end) {
            L->unsent_end++;
            if (meas)
                met_hist_record(d->h_unsent, d->t_end - L->next_t);
        }
        L->slots_left--;
        L->next_t += drv_sched_interval(g, &L->rng);
    }
}

int64_t drv_backlog(const struct drv *d, rt_ns now)
{
    int64_t n = d->outstanding;
    for (uint32_t i = 0; i < d->n_links; i++) {
        const struct drv_link *L = &d->links[i];
        const struct drv_group *g = &d->p.groups[L->group];
        if (L->state != L_OPEN || g->rate_per_s <= 0)
            continue;
        uint64_t rng = L->rng, left = L->slots_left;
        for (rt_ns t = L->next_t; left && t <= now; left--, n++)
            t += drv_sched_interval(g, &rng);
    }
    return n;
}

/* The link cannot take a slot from now (socket not writable, in_flight_max), or can
 * again: a slot sent later waited that long for the server, not for the driver. */
static void block_begin(struct drv_link *L, rt_ns now)
{
    if (!L->blocked_at)
        L->blocked_at = now;
}

static void block_end(struct drv_link *L, rt_ns now)
{
    if (L->blocked_at && !L->wblocked && !L->iblocked) {
        L->bp_from = L->blocked_at;
        L->bp_to = now;
        L->blocked_at = 0;
    }
}

/* ---------------------------------------------------------------- send path */

static void reschedule(struct drv *d, struct drv_link *L)
{
    if (sending(d) && L->state == L_OPEN && !L->wblocked && !L->iblocked && L->slots_left &&
        d->p.groups[L->group].rate_per_s > 0)
        drv_heap_push(d, L);
}

/* Send every slot of L that is due, as far as the socket and in_flight_max allow. */
static void send_due(struct drv *d, struct drv_link *L, rt_ns now)
{
    const struct drv_group *g = &d->p.groups[L->group];
    /* queued bytes asked once per link and sweep, then counted here (a frame's header
     * is at most 14 bytes): each vsock call takes the socket's lock */
    size_t pend = vsock_pending_out(L->s);
    while (L->slots_left && L->next_t <= now) {
        if (g->in_flight_max && L->tx_seq - L->echo.next >= g->in_flight_max) {
            L->iblocked = true;   /* the slot waits; its latency keeps running from t_sched */
            block_begin(L, now);
            break;
        }
        if (pend >= d->p.pending_out_max_bytes)
            break;                /* flush first; still due, so swept again right after */
        uint32_t len = drv_sched_size(g, &L->rng);
        struct wire_hdr h = {.magic = WIRE_MAGIC, .kind = WIRE_ECHO, .link_id = L->id, .len = len,
                             .seq = L->tx_seq, .t_sched = L->next_t, .t_sent = now};
        wire_put(d->scratch, &h);
        if (vsock_queue(L->s, d->scratch, len, VSOCK_BINARY) < 0) {
            drv_conn_lost(d, L);
            return;
        }
        pend += len + 14;
        bool meas = L->next_t >= d->t_meas0;
        if (meas && L->seq_meas0 == UINT64_MAX)
            L->seq_meas0 = L->tx_seq;
        count(d, meas, ECHO, F(sent), 1);
        L->tsched[L->tx_seq % DRV_RING] = L->next_t;
        int64_t lag = now - L->next_t;
        if (meas) {
            /* the part of the lag when the link could not take it is the server's */
            rt_ns lo = L->next_t > L->bp_from ? L->next_t : L->bp_from;
            rt_ns hi = L->bp_to < now ? L->bp_to : now;
            int64_t bp = hi > lo ? hi - lo : 0;
            met_hist_record(d->h_lag, lag);
            met_hist_record(d->h_lag_own, lag - bp);
            if (bp > 0)
                met_hist_record(d->h_bp, bp);
        }
        if (lag > d->lag_max_tick)
            d->lag_max_tick = lag;
        L->tx_seq++;
        d->outstanding++;
        L->slots_left--;
        L->next_t += drv_sched_interval(g, &L->rng);
    }
    if (!L->dirty) {
        L->dirty = true;
        L->dirty_next = d->dirty;
        d->dirty = L;
    }
}

static void arm_timer(struct drv *d)
{
    rt_ns t = d->heap_n ? d->heap[0]->next_t : 0;
    rt_ns grid = d->p.wake_grid_ns;
    if (grid > 0 && t > 0)
        t = (t + grid - 1) / grid * grid;   /* wake on a grid: fewer wake-ups, lag <= grid */
    if (t == d->tfd_armed)
        return;
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (t > 0) {
        its.it_value.tv_sec = t / RT_S;
        its.it_value.tv_nsec = t % RT_S;
    }
    timerfd_settime(d->tfd, TFD_TIMER_ABSTIME, &its, NULL);   /* also clears a past expiry */
    d->tfd_armed = t;
}

static void stop_sending(struct drv *d);

/* Before the loop sleeps: send everything due across links, flush each socket once,
 * arm the timerfd for the earliest slot left. */
void drv_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)w; (void)revents;
    struct drv *d = ev_userdata(loop);
    if (!sending(d))
        return;
    rt_ns now = rt_now();
    if (now >= d->t_send_end) {
        stop_sending(d);
        return;
    }
    rt_ns c0 = d->p.cpu_split ? drv_thread_cpu() : 0;
    while (d->heap_n && d->heap[0]->next_t <= now) {
        struct drv_link *L = drv_heap_pop(d);
        send_due(d, L, now);
        now = rt_now();
    }
    while (d->dirty) {
        struct drv_link *L = d->dirty;
        d->dirty = L->dirty_next;
        L->dirty = false;
        if (L->state != L_OPEN)
            continue;
        int rc = vsock_flush(L->s);
        if (rc == -EAGAIN) {
            L->wblocked = true;
            block_begin(L, now);
            ev_io_start(loop, &L->wr);
        } else if (rc < 0) {
            drv_conn_lost(d, L);
            continue;
        }
        reschedule(d, L);
    }
    if (d->p.cpu_split) {
        d->cpu_tx += drv_thread_cpu() - c0;
        d->n_tx_events++;
    }
    /* count mode: every slot sent and nothing left to schedule */
    if (d->phase != DRV_PHASE_RAMP && d->heap_n == 0 && d->p.duration_ns == 0) {
        bool more = false;
        for (uint32_t i = 0; i < d->n_links && !more; i++) {
            const struct drv_link *L = &d->links[i];
            more = L->slots_left && d->p.groups[L->group].rate_per_s > 0 &&
                   (L->state == L_OPEN || L->state == L_CONNECTING || L->state == L_HANDSHAKE);
        }
        if (!more) {
            stop_sending(d);
            return;
        }
    }
    arm_timer(d);
}

void drv_tfd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct drv *d = ev_userdata(loop);
    uint64_t n;
    if (read(w->fd, &n, sizeof n) < 0) { /* nothing: a re-arm cleared it */ }
    d->tfd_armed = 0;   /* fired: the next prepare re-arms even for the same time */
}

void drv_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct drv *d = ev_userdata(loop);
    struct drv_link *L = w->data;
    int rc = vsock_flush(L->s);
    if (rc == -EAGAIN)
        return;
    ev_io_stop(loop, &L->wr);
    L->wblocked = false;
    block_end(L, rt_now());
    if (rc < 0) {
        drv_conn_lost(d, L);
        return;
    }
    reschedule(d, L);
}

/* ---------------------------------------------------------------- receive path */

/* A message arrived at t_recv: in the window, or after it (the drain). */
static inline rt_ns window_end(const struct drv *d)
{
    return d->t_stop != RT_NEVER ? d->t_stop : d->t_send_end;
}

static void arrived(struct drv *d, bool push, rt_ns t_recv)
{
    if (t_recv < d->t_meas0)
        return;
    if (t_recv < window_end(d)) {
        if (push) d->r.window.push_delivered++;
        else d->r.window.echo_delivered++;
    } else {
        if (push) d->r.window.drain_push_delivered++;
        else d->r.window.drain_echo_delivered++;
    }
}

static void on_msg(struct drv *d, struct drv_link *L, const vsock_msg *m, rt_ns t_recv)
{
    struct wire_hdr h;
    uint64_t gap;
    if (wire_get(m->data, m->len, &h) < 0 || (h.kind != WIRE_ECHO && h.kind != WIRE_PUSH)) {
        count(d, t_recv >= d->t_meas0, ECHO, F(bad), 1);
        count(d, t_recv >= d->t_meas0, ECHO, F(corrupted), 1);
        L->conn_other++;
        return;
    }
    if (h.kind == WIRE_PUSH) {
        /* the app's link id and seq: tracked per connection, classified by arrival */
        bool meas = t_recv >= d->t_meas0;
        if (!wire_push_fill_ok((const uint8_t *)m->data + WIRE_HDR_BYTES, h.len - WIRE_HDR_BYTES)) {
            count(d, meas, PUSH, F(corrupted), 1);   /* counted, never delivered */
            return;
        }
        switch (drv_seq_rx(&L->push, h.seq, &gap)) {
        case DRV_RX_NEW: count(d, meas, PUSH, F(delivered), 1); count(d, meas, PUSH, F(gaps), (int64_t)gap);
                         L->conn_gaps += (int64_t)gap; break;
        case DRV_RX_LATE: count(d, meas, PUSH, F(delivered), 1); count(d, meas, PUSH, F(reordered), 1);
                          count(d, meas, PUSH, F(gaps), -1); L->conn_gaps--; break;
        case DRV_RX_DUP: count(d, meas, PUSH, F(duplicates), 1); L->conn_other++; return;
        case DRV_RX_STALE: count(d, meas, PUSH, F(stale), 1); L->conn_other++; return;
        }
        L->conn_push_delivered++;
        arrived(d, true, t_recv);
        /* a push is late from its scheduled tick (t_sched), like an echo from its
         * scheduled send: a generator that fell behind is part of the latency */
        if (meas && (h.t_sched > 0 || h.t_app > 0))
            met_hist_record(d->h_out, t_recv - (h.t_sched > 0 ? h.t_sched : h.t_app));
        return;
    }
    if (h.link_id != L->id || h.seq >= L->tx_seq) {
        count(d, t_recv >= d->t_meas0, ECHO, F(bad), 1);
        count(d, t_recv >= d->t_meas0, ECHO, F(corrupted), 1);
        L->conn_other++;
        return;
    }
    /* the fill after the header must come back as sent (scratch holds the pattern):
     * an external server that alters payloads shows here, not as a wrong latency */
    if (h.len > d->scratch_len ||
        memcmp((const uint8_t *)m->data + WIRE_HDR_BYTES, d->scratch + WIRE_HDR_BYTES,
               h.len - WIRE_HDR_BYTES) != 0) {
        count(d, h.seq >= L->seq_meas0, ECHO, F(corrupted), 1);
        L->conn_other++;
        return;
    }
    bool meas = h.seq >= L->seq_meas0;
    uint64_t prev = L->echo.next;
    switch (drv_seq_rx(&L->echo, h.seq, &gap)) {
    case DRV_RX_NEW:
        drv_echo_range(d, L, F(gaps), prev, h.seq, 1);
        L->conn_gaps += (int64_t)(h.seq - prev);
        count(d, meas, ECHO, F(delivered), 1);
        d->outstanding -= (int64_t)gap + 1;
        break;
    case DRV_RX_LATE:
        count(d, meas, ECHO, F(delivered), 1);
        count(d, meas, ECHO, F(reordered), 1);
        count(d, meas, ECHO, F(gaps), -1);
        L->conn_gaps--;
        break;
    case DRV_RX_DUP: count(d, meas, ECHO, F(duplicates), 1); L->conn_other++; return;
    case DRV_RX_STALE: count(d, meas, ECHO, F(stale), 1); L->conn_other++; return;
    }
    L->conn_echo_delivered++;
    arrived(d, false, t_recv);
    if (meas) {
        met_hist_record(d->h_rtt, t_recv - h.t_sched);
        met_hist_record(d->h_rtt_unc, t_recv - h.t_sent);
        if (h.t_app > 0)
            met_hist_record(d->h_out, t_recv - h.t_app);
    }
}

void drv_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct drv *d = ev_userdata(loop);
    struct drv_link *L = w->data;
    rt_ns c0 = d->p.cpu_split ? drv_thread_cpu() : 0;
    /* receive-side delay: how long the readable socket waited for this callback while
     * the loop served the events before it */
    rt_ns t_rd = rt_now();
    if (t_rd >= d->t_meas0 && t_rd < window_end(d) && d->t_wake)
        met_hist_record(d->h_rx, t_rd - d->t_wake);
    size_t n = 0;
    int rc = vsock_read_nb(L->s, d->p.read_budget_bytes, &n);
    rt_ns t_recv = rt_now();   /* one stamp per read: the messages arrived together */
    vsock_msg *m;
    while ((m = vsock_poll_msg(L->s))) {
        on_msg(d, L, m, t_recv);
        vsock_msg_free(m);
    }
    if (rc < 0 && rc != -EAGAIN) {
        drv_conn_lost(d, L);
    } else if (L->iblocked && L->tx_seq - L->echo.next < d->p.groups[L->group].in_flight_max) {
        L->iblocked = false;
        block_end(L, t_recv);
        reschedule(d, L);
    }
    if (d->p.cpu_split) {
        d->cpu_rx += drv_thread_cpu() - c0;
        d->n_rx_events++;
    }
    if (d->phase == DRV_PHASE_DRAIN && d->outstanding <= 0)
        ev_break(loop, EVBREAK_ONE);
}

/* ---------------------------------------------------------------- links opening and closing */

void drv_link_opened(struct drv *d, struct drv_link *L)
{
    const struct drv_group *g = &d->p.groups[L->group];
    rt_ns now = rt_now();
    L->state = L_OPEN;
    L->wblocked = L->iblocked = false;
    d->links_open++;
    d->t_last_open = now;
    if (!L->ever_open)
        d->r.links_established++;
    L->ever_open = true;
    L->conn_seq0 = L->tx_seq;
    L->conn_echo_delivered = L->conn_push_delivered = L->conn_other = L->conn_gaps = 0;
    L->blocked_at = L->bp_from = L->bp_to = 0;
    drv_seq_reset(&L->echo, L->tx_seq);   /* seqs continue across a reconnect */
    drv_seq_reset(&L->push, 0);           /* a new app link pushes from 0 */
    ev_set_cb(&L->rd, drv_read_cb);
    ev_set_cb(&L->wr, drv_write_cb);
    if (!L->stop_reading) {
        ev_io_start(d->loop, &L->rd);
        ev_feed_event(d->loop, &L->rd, EV_READ);   /* bytes read with the 101 are buffered */
    }
    if (g->rate_per_s > 0) {
        /* a random phase for constant schedules, so links do not fire in lockstep */
        int64_t iv = drv_sched_interval(g, &L->rng);
        L->next_t = now + (g->pattern == DRV_CONSTANT ? (int64_t)(drv_rng_unit(&L->rng) * (double)iv) : iv);
        reschedule(d, L);
    }
    drv_ramp_progress(d);
}

void drv_link_closing(struct drv *d, struct drv_link *L)
{
    drv_heap_remove(d, L);
    d->links_open--;
    /* what was sent and not back will never come back on this connection */
    drv_echo_range(d, L, F(abandoned), L->echo.next, L->tx_seq, 1);
    d->outstanding -= (int64_t)(L->tx_seq - L->echo.next);
    L->echo.next = L->tx_seq;
    drv_count_unsent(d, L, rt_now(), false);
    if (L->slots_left && d->p.groups[L->group].rate_per_s > 0)
        L->next_t = RT_NEVER;   /* restarts when the link reopens */
}

/* ---------------------------------------------------------------- phases */

static void phase_cb(struct ev_loop *loop, ev_timer *w, int revents);

static double secs_until(rt_ns t)
{
    rt_ns dt = t - rt_now();
    return dt > 0 ? (double)dt / 1e9 : 0.;
}

void drv_ramp_progress(struct drv *d)
{
    if (d->phase != DRV_PHASE_RAMP || d->next_connect < d->n_links || d->pending_connects > 0)
        return;
    rt_ns now = rt_now();
    d->t_load0 = now;
    d->t_meas0 = now + d->p.warmup_ns;
    if (d->r.links_established == d->n_links)
        d->r.establish_ns = d->t_last_open - d->t_start;
    if (d->p.duration_ns > 0)
        d->t_send_end = d->t_meas0 + d->p.duration_ns;
    d->phase = d->p.warmup_ns > 0 ? DRV_PHASE_WARMUP : DRV_PHASE_MEASURE;
    if (d->phase == DRV_PHASE_MEASURE) {
        d->cpu_meas0 = drv_thread_cpu();
        d->cpu_meas0_set = true;
        d->r.window.backlog_start = drv_backlog(d, now);
    } else {
        ev_timer_set(&d->drain_t, secs_until(d->t_meas0), 0.);
        ev_set_cb(&d->drain_t, phase_cb);
        ev_timer_start(d->loop, &d->drain_t);
    }
    if (d->n_faults) {
        ev_timer_set(&d->fault_t, secs_until(d->t_load0 + d->faults[0].at_ns), 0.);
        ev_timer_start(d->loop, &d->fault_t);
    }
    for (int g = 0; g < d->p.n_groups; g++)
        if (d->p.groups[g].close_rate_per_s > 0) {
            double iv = 1.0 / d->p.groups[g].close_rate_per_s;
            ev_timer_set(&d->churn_t[g], iv < 1e-3 ? 1e-3 : iv, iv < 1e-3 ? 1e-3 : iv);
            ev_timer_start(d->loop, &d->churn_t[g]);
        }
    if (d->links_open == 0)
        stop_sending(d);   /* nothing connected: report the failures */
    else
        drv_progress_now(d);   /* the window's times, to the server at once */
}

static void phase_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w; (void)revents;
    struct drv *d = ev_userdata(loop);
    if (d->phase == DRV_PHASE_WARMUP) {
        d->phase = DRV_PHASE_MEASURE;
        d->cpu_meas0 = drv_thread_cpu();
        d->cpu_meas0_set = true;
        d->r.window.backlog_start = drv_backlog(d, rt_now());
    }
}

static void drain_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w; (void)revents;
    ev_break(loop, EVBREAK_ONE);
}

static void stop_sending(struct drv *d)
{
    if (!sending(d))
        return;
    rt_ns now = rt_now();
    /* a planned end is the window's end to the nanosecond (the server takes its own
     * there); the loop may notice it a little later */
    d->t_stop = d->t_send_end != RT_NEVER && now >= d->t_send_end ? d->t_send_end : now;
    if (d->phase == DRV_PHASE_MEASURE) {
        d->cpu_meas1 = drv_thread_cpu();
        d->cpu_meas1_set = true;
        d->r.window.backlog_end = drv_backlog(d, d->t_stop);
    }
    d->phase = DRV_PHASE_DRAIN;
    drv_progress_now(d);
    while (drv_heap_pop(d)) {}
    arm_timer(d);
    ev_timer_stop(d->loop, &d->connect_t);
    ev_timer_stop(d->loop, &d->drain_t);
    for (int g = 0; g < d->p.n_groups; g++)
        ev_timer_stop(d->loop, &d->churn_t[g]);
    if (d->outstanding <= 0) {
        ev_break(d->loop, EVBREAK_ONE);
        return;
    }
    ev_timer_init(&d->drain_t, drain_cb, (double)d->p.drain_max_ns / 1e9, 0.);
    ev_timer_start(d->loop, &d->drain_t);
}

void drv_stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)w; (void)revents;
    struct drv *d = ev_userdata(loop);
    d->r.stopped = true;
    if (sending(d) && d->stop_req < 2) {
        if (d->phase == DRV_PHASE_RAMP) {
            /* no load time yet: the window is empty, the connects in progress drain */
            d->t_load0 = d->t_meas0 = rt_now();
        }
        stop_sending(d);
    } else {
        ev_break(loop, EVBREAK_ONE);
    }
}

void drv_fault_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct drv *d = ev_userdata(loop);
    rt_ns now = rt_now();
    while (d->fault_i < d->n_faults && d->t_load0 + d->faults[d->fault_i].at_ns <= now) {
        const struct drv_fault *f = &d->faults[d->fault_i++];
        drv_fault(d, f->kind, f->link_first, f->link_count);
    }
    if (d->fault_i < d->n_faults) {
        ev_timer_set(w, secs_until(d->t_load0 + d->faults[d->fault_i].at_ns), 0.);
        ev_timer_start(loop, w);
    }
}
