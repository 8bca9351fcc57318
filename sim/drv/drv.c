/* drv.c — the driver's engine (one per thread): the send pass over the wheel, receive and sequence accounting, links opening and closing. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "drv_internal.h"

/* ---------------------------------------------------------------- accounting */

#define DIR_AT(dir, off) (*(int64_t *)((char *)(dir) + (off)))

/* Add n to one echo counter for seqs [a, b): the part at or above the link's first
 * measured seq also counts in the measured window. */
void drv_echo_range(struct drv_thr *t, const struct drv_link *L, size_t off, uint64_t a, uint64_t b,
                    int64_t sign)
{
    if (b <= a)
        return;
    DIR_AT(&t->r.all.echo, off) += sign * (int64_t)(b - a);
    if (b > L->seq_meas0) {
        uint64_t lo = a > L->seq_meas0 ? a : L->seq_meas0;
        DIR_AT(&t->r.measured.echo, off) += sign * (int64_t)(b - lo);
    }
}

static inline void count(struct drv_thr *t, bool meas, size_t dir_off, size_t off, int64_t n)
{
    DIR_AT((char *)&t->r.all + dir_off, off) += n;
    if (meas)
        DIR_AT((char *)&t->r.measured + dir_off, off) += n;
}

#define ECHO offsetof(struct drv_acct, echo)
#define PUSH offsetof(struct drv_acct, push)
#define F(f) offsetof(struct drv_dir, f)

/* Slots due on L before `until` that will never be sent: the link closed or the run
 * ended. At the end they were due and waiting in the driver: counted on the link (in
 * flight at the driver, the census) and, for the window's, censored at their age. */
void drv_count_unsent(struct drv_thr *t, struct drv_link *L, rt_ns until, bool at_end)
{
    const struct drv_group *g = &t->p.groups[L->group];
    if (g->rate_per_s <= 0)
        return;
    while (L->slots_left && L->next_t < until) {
        bool meas = L->next_t >= t->t_meas0;
        count(t, meas, ECHO, F(unsent), 1);
        if (at_end) {
            L->unsent_end++;
            if (meas)
                met_hist_record(t->h[H_UNSENT], t->d->t_end - L->next_t);
        }
        L->slots_left--;
        L->next_t += drv_sched_interval(g, &L->rng);
    }
}

int64_t drv_backlog(const struct drv_thr *t, rt_ns now)
{
    int64_t n = t->outstanding;
    for (uint32_t i = 0; i < t->n_links; i++) {
        const struct drv_link *L = &t->links[i];
        const struct drv_group *g = &t->p.groups[L->group];
        if (L->state != L_OPEN || g->rate_per_s <= 0)
            continue;
        uint64_t rng = L->rng, left = L->slots_left;
        for (rt_ns s = L->next_t; left && s <= now; left--, n++)
            s += drv_sched_interval(g, &rng);
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

void drv_reschedule(struct drv_thr *t, struct drv_link *L)
{
    if (drv_sending(t) && L->state == L_OPEN && !L->wblocked && !L->iblocked && L->slots_left &&
        t->p.groups[L->group].rate_per_s > 0)
        drv_wheel_add(&t->wheel, &L->wn, L->next_t);
}

/* Hand the n framed bytes in t->tx to the kernel: one send. What it does not take is
 * kept and the link waits for writability. 0, 1 (blocked now), or -errno. */
static int put(struct drv_thr *t, struct drv_link *L, size_t n, rt_ns now)
{
    ssize_t w;
    do
        w = send(L->fd, t->tx, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN)
        return -errno;
    size_t done = w > 0 ? (size_t)w : 0;
    L->ws.bytes_out += (int64_t)done;
    if (done == n)
        return 0;
    if (drv_ws_keep(&L->ws, t->tx + done, n - done) < 0)
        return -ENOMEM;
    L->wblocked = true;
    block_begin(L, now);
    drv_ep_set(t, L, (L->stop_reading ? 0 : EPOLLIN) | EPOLLOUT);
    return 1;
}

/* Send every slot of L due by `until`, as far as the socket and in_flight_max allow,
 * in one send (more only when the pass's bytes pass pending_out_max_bytes); now is
 * their t_sent. */
static void send_due(struct drv_thr *t, struct drv_link *L, rt_ns until, rt_ns now)
{
    const struct drv_group *g = &t->p.groups[L->group];
    size_t gmax = drv_ws_frame_room(&L->ws, g->size_dist == DRV_SIZE_FIXED ? g->payload_min_bytes
                                                                         : g->payload_max_bytes);
    size_t n = 0;
    int rc = 0;
    while (L->slots_left && L->next_t <= until) {
        if (g->in_flight_max && L->tx_seq - L->echo.next >= g->in_flight_max) {
            L->iblocked = true;   /* the slot waits; its latency keeps running from t_sched */
            block_begin(L, now);
            break;
        }
        if (n + gmax > t->tx_cap) {
            if ((rc = put(t, L, n, now)) != 0)
                break;
            n = 0;
        }
        uint32_t len = drv_sched_size(g, &L->rng);
        struct wire_hdr h = {.magic = WIRE_MAGIC, .kind = WIRE_ECHO, .link_id = L->id, .len = len,
                             .seq = L->tx_seq, .t_sched = L->next_t, .t_sent = now};
        size_t f = L->ws.pmd ? drv_ws_frame_msg_z(t, &L->ws, t->tx + n, &h, len)
                             : drv_ws_frame_msg(t, t->tx + n, &h, len);
        if (!f) {   /* deflate failed: the link's compressor is out of step with the server */
            rc = -ENOMEM;
            break;
        }
        n += f;
        L->ws.msgs_out++;
        bool meas = L->next_t >= t->t_meas0;
        if (meas && L->seq_meas0 == UINT64_MAX)
            L->seq_meas0 = L->tx_seq;
        count(t, meas, ECHO, F(sent), 1);
        L->tsched[L->tx_seq % DRV_RING] = L->next_t;
        int64_t lag = now - L->next_t;
        if (meas) {
            /* the part of the lag when the link could not take it is the server's */
            rt_ns lo = L->next_t > L->bp_from ? L->next_t : L->bp_from;
            rt_ns hi = L->bp_to < now ? L->bp_to : now;
            int64_t bp = hi > lo ? hi - lo : 0;
            met_hist_record(t->h[H_LAG], lag);
            met_hist_record(t->h[H_LAG_OWN], lag - bp);
            if (bp > 0)
                met_hist_record(t->h[H_BP], bp);
        }
        if (lag > t->lag_max_tick)
            t->lag_max_tick = lag;
        L->tx_seq++;
        t->outstanding++;
        L->slots_left--;
        L->next_t += drv_sched_interval(g, &L->rng);
    }
    if (rc == 0 && n)
        rc = put(t, L, n, now);
    if (rc < 0) {
        drv_conn_lost(t, L);
        return;
    }
    drv_reschedule(t, L);
}

void drv_send_pass(struct drv_thr *t, rt_ns until)
{
    struct drv_wnode *x = drv_wheel_due(&t->wheel, until);
    while (x) {
        struct drv_wnode *nx = x->next;
        struct drv_link *L = (struct drv_link *)((char *)x - offsetof(struct drv_link, wn));
        x->next = NULL;
        if (L->next_t <= until)
            send_due(t, L, until, rt_now());   /* t_sent: this link's send, not the pass's start */
        else
            drv_reschedule(t, L);   /* in the tick but not yet due */
        x = nx;
    }
}

void drv_on_writable(struct drv_thr *t, struct drv_link *L)
{
    int rc = drv_ws_flush(L);
    if (rc == -EAGAIN)
        return;
    if (rc < 0) {
        drv_conn_lost(t, L);
        return;
    }
    L->wblocked = false;
    drv_ep_set(t, L, L->stop_reading ? 0 : EPOLLIN);
    block_end(L, rt_now());
    drv_reschedule(t, L);
}

/* ---------------------------------------------------------------- receive path */

/* A message arrived at t_recv: in the window, or after it (the drain). */
static void arrived(struct drv_thr *t, bool push, rt_ns t_recv)
{
    if (t_recv < t->t_meas0)
        return;
    rt_ns end = t->t_stop != RT_NEVER ? t->t_stop : t->t_send_end;
    if (t_recv < end) {
        if (push) t->r.window.push_delivered++;
        else t->r.window.echo_delivered++;
    } else {
        if (push) t->r.window.drain_push_delivered++;
        else t->r.window.drain_echo_delivered++;
    }
}

static void on_msg(struct drv_thr *t, struct drv_link *L, const uint8_t *m, uint32_t mlen, rt_ns t_recv)
{
    struct wire_hdr h;
    uint64_t gap;
    if (wire_get(m, mlen, &h) < 0 || (h.kind != WIRE_ECHO && h.kind != WIRE_PUSH)) {
        count(t, t_recv >= t->t_meas0, ECHO, F(bad), 1);
        count(t, t_recv >= t->t_meas0, ECHO, F(corrupted), 1);
        L->conn_other++;
        return;
    }
    if (h.kind == WIRE_PUSH) {
        /* the app's link id and seq: tracked per connection, classified by arrival */
        bool meas = t_recv >= t->t_meas0;
        if (!wire_push_fill_ok(m + WIRE_HDR_BYTES, h.len - WIRE_HDR_BYTES)) {
            count(t, meas, PUSH, F(corrupted), 1);   /* counted, never delivered */
            L->conn_other++;
            return;
        }
        switch (drv_seq_rx(&L->push, h.seq, &gap)) {
        case DRV_RX_NEW: count(t, meas, PUSH, F(delivered), 1); count(t, meas, PUSH, F(gaps), (int64_t)gap);
                         L->conn_gaps += (int64_t)gap; break;
        case DRV_RX_LATE: count(t, meas, PUSH, F(delivered), 1); count(t, meas, PUSH, F(reordered), 1);
                          count(t, meas, PUSH, F(gaps), -1); L->conn_gaps--; break;
        case DRV_RX_DUP: count(t, meas, PUSH, F(duplicates), 1); L->conn_other++; return;
        case DRV_RX_STALE: count(t, meas, PUSH, F(stale), 1); L->conn_other++; return;
        }
        L->conn_push_delivered++;
        arrived(t, true, t_recv);
        /* a push is late from its scheduled tick (t_sched), like an echo from its
         * scheduled send: a generator that fell behind is part of the latency */
        if (meas && (h.t_sched > 0 || h.t_app > 0))
            met_hist_record(t->h[H_OUT], t_recv - (h.t_sched > 0 ? h.t_sched : h.t_app));
        return;
    }
    if (h.link_id != L->id || h.seq >= L->tx_seq) {
        count(t, t_recv >= t->t_meas0, ECHO, F(bad), 1);
        count(t, t_recv >= t->t_meas0, ECHO, F(corrupted), 1);
        L->conn_other++;
        return;
    }
    /* the fill after the header must come back as sent: an external server that alters
     * payloads shows here, not as a wrong latency */
    if (h.len > t->fill_len ||
        memcmp(m + WIRE_HDR_BYTES, drv_fill(t, h.link_id, h.seq), h.len - WIRE_HDR_BYTES) != 0) {
        count(t, h.seq >= L->seq_meas0, ECHO, F(corrupted), 1);
        L->conn_other++;
        return;
    }
    bool meas = h.seq >= L->seq_meas0;
    uint64_t prev = L->echo.next;
    switch (drv_seq_rx(&L->echo, h.seq, &gap)) {
    case DRV_RX_NEW:
        drv_echo_range(t, L, F(gaps), prev, h.seq, 1);
        L->conn_gaps += (int64_t)(h.seq - prev);
        count(t, meas, ECHO, F(delivered), 1);
        t->outstanding -= (int64_t)gap + 1;
        break;
    case DRV_RX_LATE:
        count(t, meas, ECHO, F(delivered), 1);
        count(t, meas, ECHO, F(reordered), 1);
        count(t, meas, ECHO, F(gaps), -1);
        L->conn_gaps--;
        break;
    case DRV_RX_DUP: count(t, meas, ECHO, F(duplicates), 1); L->conn_other++; return;
    case DRV_RX_STALE: count(t, meas, ECHO, F(stale), 1); L->conn_other++; return;
    }
    L->conn_echo_delivered++;
    arrived(t, false, t_recv);
    if (meas) {
        met_hist_record(t->h[H_RTT], t_recv - h.t_sched);
        met_hist_record(t->h[H_RTT_UNC], t_recv - h.t_sent);
        if (h.t_app > 0)
            met_hist_record(t->h[H_OUT], t_recv - h.t_app);
    }
}

void drv_on_readable(struct drv_thr *t, struct drv_link *L)
{
    int rc = drv_ws_read(t, L, t->p.read_budget_bytes, on_msg);
    if (rc < 0) {
        drv_conn_lost(t, L);
    } else if (L->iblocked && L->tx_seq - L->echo.next < t->p.groups[L->group].in_flight_max) {
        L->iblocked = false;
        block_end(L, rt_now());
        drv_reschedule(t, L);
    }
    if (t->phase == DRV_PHASE_DRAIN)
        drv_check_drained(t);
}

/* ---------------------------------------------------------------- links opening and closing */

void drv_link_opened(struct drv_thr *t, struct drv_link *L)
{
    const struct drv_group *g = &t->p.groups[L->group];
    rt_ns now = rt_now();
    L->state = L_OPEN;
    L->wblocked = L->iblocked = false;
    t->links_open++;
    t->t_last_open = now;
    if (!L->ever_open)
        t->r.links_established++;
    L->ever_open = true;
    L->conn_seq0 = L->tx_seq;
    L->conn_echo_delivered = L->conn_push_delivered = L->conn_other = L->conn_gaps = 0;
    L->blocked_at = L->bp_from = L->bp_to = 0;
    drv_seq_reset(&L->echo, L->tx_seq);   /* seqs continue across a reconnect */
    drv_seq_reset(&L->push, 0);           /* a new app link pushes from 0 */
    drv_ep_set(t, L, L->stop_reading ? 0 : EPOLLIN);
    if (g->rate_per_s > 0) {
        /* a random phase for constant schedules, so links do not fire in lockstep */
        int64_t iv = drv_sched_interval(g, &L->rng);
        L->next_t = now + (g->pattern == DRV_CONSTANT ? (int64_t)(drv_rng_unit(&L->rng) * (double)iv) : iv);
        drv_reschedule(t, L);
    }
    drv_ramp_progress(t);
    if (L->ws.rb_len && !L->stop_reading && L->state == L_OPEN)
        drv_on_readable(t, L);   /* frames that came with the 101 */
}

void drv_link_closing(struct drv_thr *t, struct drv_link *L)
{
    drv_wheel_del(&t->wheel, &L->wn);
    t->links_open--;
    /* what was sent and not back will never come back on this connection */
    drv_echo_range(t, L, F(abandoned), L->echo.next, L->tx_seq, 1);
    t->outstanding -= (int64_t)(L->tx_seq - L->echo.next);
    L->echo.next = L->tx_seq;
    drv_count_unsent(t, L, rt_now(), false);
    if (L->slots_left && t->p.groups[L->group].rate_per_s > 0)
        L->next_t = RT_NEVER;   /* restarts when the link reopens */
}
