/* evl_io.c — evloop's loop side: attach, budgeted reads with lossless backpressure, rate waits, inline writes with watermarks, close handshake, destroy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evl.h"

#define P(l, i) ((l)->srv->p[i])
#define CLOSE_POLICY 1008   /* RFC 6455 policy violation: the peer would not take our data */

static rt_ns lnow(const evl_link *l)
{
    return rt_loop_now(l->loop->rl);
}

static void schedule_reap(evl_link *l);
static void flush_out(evl_link *l);
static void cork_out(evl_link *l);
static void take_sends_locked(evl_link *l);

/* ---------------------------------------------------------------- watcher */

/* One io watcher per link; events recomputed from the link's state and written to
 * libev only when they change. */
static void update_io(evl_link *l)
{
    int ev = 0;
    bool rd_ok = !l->peer_eof && !l->rd_err && !l->reap;
    if (l->state == EVL_OPEN && !l->pause && rd_ok)
        ev |= RT_READ;
    if (l->state == EVL_CLOSING && rd_ok)
        ev |= RT_READ;   /* to see the peer's close reply */
    if (l->wr_armed && !l->reap)
        ev |= RT_WRITE;
    if (l->io && ev != l->io_ev) {
        l->io_ev = (uint8_t)ev;
        rt_io_set(l->io, ev);
    }
}

/* ---------------------------------------------------------------- idle list */

/* Loop-side activity: move to the idle list's tail, lazily (skip when done in the
 * last eighth of the period), no libev call. */
static void touch(evl_link *l)
{
    rt_ns now = lnow(l), trim = P(l, EVL_P_TRIM_AFTER_MS) * RT_MS;
    if (!l->trimmed && evl_tnode_linked(&l->tn_idle) && l->tn_idle.at >= now + trim - trim / 8)
        return;
    l->trimmed = false;
    evl_tlist_put(&l->loop->idle, &l->tn_idle, now + trim);
}

void evl_idle_expire(evl_tlist *tl, evl_tnode *n, rt_ns now)
{
    evl_link *l = EVL_CONTAINER(n, evl_link, tn_idle);
    rt_ns trim = P(l, EVL_P_TRIM_AFTER_MS) * RT_MS;
    if (l->state != EVL_OPEN)
        return;
    rt_ns last_io = n->at - trim;
    if (now - l->loop->pool_pass >= trim) {   /* links go quiet: maybe the loop too */
        l->loop->pool_pass = now;
        evl_pool_trim(l->loop);
    }
    if (!l->trimmed) {
        evl_tx_lock(l);
        bool busy = l->wr_armed || l->sent || l->held;
        if (!busy)
            vsock_trim(l->vs);
        evl_tx_unlock(l);
        if (busy) {   /* busy, not idle */
            evl_tlist_put(tl, n, now + trim);
            return;
        }
        l->trimmed = true;
    } else {
        last_io = n->at - P(l, EVL_P_IDLE_TIMEOUT_MS) * RT_MS;
    }
    rt_ns idle = P(l, EVL_P_IDLE_TIMEOUT_MS) * RT_MS;
    if (!idle || !l->srv->common.auto_close)
        return;   /* off the list: an idle link costs nothing from here on */
    /* The app's activity stamp is on the same monotonic clock (rt_loop_now caches rt_now). */
    rt_ns app = atomic_load_explicit(&l->last_active, memory_order_relaxed);
    rt_ns last = app > last_io ? app : last_io;
    if (now - last + RT_MS >= idle) {
        evl_close_begin(l, LINK_CLOSE_IDLE);
        return;
    }
    evl_tlist_put(tl, n, last + idle);
}

/* ---------------------------------------------------------------- inbound */

static bool rq_push(evl_link *l, vsock_msg *m, size_t *len)
{
    rt_queue *q = atomic_load_explicit(&l->rq, memory_order_relaxed);
    if (!q) {   /* created on the first message: an idle link that never spoke has none */
        q = rt_queue_create((size_t)P(l, EVL_P_RECV_QUEUE_CAP));
        if (!q)
            return false;
        rt_queue_set_notify(q, evl_rq_notify, l, (size_t)P(l, EVL_P_RECV_LOW));
        atomic_store(&l->rq, q);
    }
    m->link_id = l->id;
    if (rt_queue_try_push(q, m) != 0)
        return false;
    *len = rt_queue_len(q);
    return true;
}

static void pause_backpressure(evl_link *l)
{
    l->pause |= EVL_PAUSE_BACKPRESSURE;
    atomic_store(&l->rd_paused, true);
    /* Look again after publishing rd_paused: a pop to the low mark that ran before the
     * app could see the flag posted no resume. */
    rt_queue *q = atomic_load_explicit(&l->rq, memory_order_relaxed);
    if (q && rt_queue_len(q) <= (size_t)P(l, EVL_P_RECV_LOW)) {
        l->pause &= (uint8_t)~EVL_PAUSE_BACKPRESSURE;
        atomic_store(&l->rd_paused, false);
        evl_defer(l);
        return;
    }
    link_host_count(l->srv->host, LINK_C_READ_PAUSES, 1);
}

static void maybe_resume(evl_link *l)
{
    if (l->state != EVL_OPEN || !(l->pause & EVL_PAUSE_BACKPRESSURE))
        return;
    rt_queue *q = atomic_load_explicit(&l->rq, memory_order_relaxed);
    if (q && rt_queue_len(q) > (size_t)P(l, EVL_P_RECV_LOW))
        return;   /* a later pop to the low mark posts again */
    l->pause &= (uint8_t)~EVL_PAUSE_BACKPRESSURE;
    atomic_store(&l->rd_paused, false);
    evl_defer(l);   /* held and decoded messages first, then the watcher again */
}

static void throttle(evl_link *l, rt_ns now)
{
    l->pause |= EVL_PAUSE_RATE;
    link_host_count(l->srv->host, LINK_C_RATE_WAITS, 1);
    evl_tlist_put(&l->loop->rate, &l->tn_rate, rt_limiter_next_at(l->lim, now));
}

/* Hand one message to the app: inline (app.inline) or into the receive queue. 0 taken;
 * 1 when reading must stop after it (the app refused it: kept in l->held; or the queue
 * reached its high mark). */
static int give(evl_link *l, vsock_msg *m)
{
    struct link_host *h = l->srv->host;
    if (h->deliver) {
        /* the handler runs here; its replies are corked until the read ends */
        if (h->deliver(h, l, l->id, m) == -EAGAIN) {
            __atomic_store_n(&l->held, m, __ATOMIC_RELAXED);   /* offered again after on_writable */
            l->pause |= EVL_PAUSE_APP;
            return 1;
        }
        return 0;
    }
    size_t len = 0;
    if (!rq_push(l, m, &len)) {
        __atomic_store_n(&l->held, m, __ATOMIC_RELAXED);
        pause_backpressure(l);
        return 1;
    }
    if (len >= (size_t)P(l, EVL_P_RECV_HIGH)) {
        pause_backpressure(l);
        return 1;
    }
    return 0;
}

/* One read's messages, as the vsock parses them in the loop's buffer. */
typedef struct rx {
    evl_link *l;
    size_t msgs, budget;
    rt_ns now;            /* the loop's time (the limiter's clock) */
    rt_ns stamp;          /* when this read handed its first message over (rt_now) */
    bool more, throttled;
} rx;

static int on_msg(void *arg, uint8_t *data, size_t len, int opcode)
{
    rx *c = arg;
    evl_link *l = c->l;
    if (c->msgs >= c->budget) {
        c->more = true;   /* the kernel will not report these again: the safe point */
        return VSOCK_STOP_BEFORE;
    }
    if (l->lim && !rt_limiter_allow_at(l->lim, c->now)) {
        c->throttled = true;   /* never dropped: it waits in the vsock for its token */
        return VSOCK_STOP_BEFORE;
    }
    vsock_msg *m = evl_msg_get(l->loop, len);
    if (!m) {
        c->more = true;
        return VSOCK_STOP_BEFORE;
    }
    memcpy(m->data, data, len);
    m->len = (uint32_t)len;
    m->opcode = (uint8_t)opcode;
    m->link_id = l->id;
    /* One clock read per read, as the driver stamps its receives: with app.inline the
     * app takes it as the message's arrival (link_host.deliver) */
    if (!c->stamp)
        c->stamp = rt_now();
    m->t_decoded = c->stamp;
    c->msgs++;
    return give(l, m) ? VSOCK_STOP_AFTER : 0;
}

/* Deliver what the link has (a held message, then frames kept in the vsock), reading
 * the fd at most once (when it reported readable), within the byte and message budgets.
 * What is left in the kernel is reported again by level-triggered readiness; what the
 * vsock keeps parsed goes to the safe point, because the kernel will not report it. */
static void read_body(evl_link *l, bool readable, rt_ns now)
{
    rx c = {.l = l, .budget = (size_t)P(l, EVL_P_READ_BUDGET_MSGS), .now = now};
    size_t n = 0;
    bool stopped = false;
    if (l->state == EVL_OPEN && !l->pause && l->held) {
        vsock_msg *m = l->held;
        __atomic_store_n(&l->held, NULL, __ATOMIC_RELAXED);
        c.msgs++;
        stopped = give(l, m) != 0;
    }
    if (l->state == EVL_OPEN && !l->pause && !stopped) {
        evl_loop *lp = l->loop;
        int rc = vsock_read_inplace(l->vs, lp->rbuf, lp->rbuf_cap, readable, on_msg, &c, &n);
        if (rc == -EPIPE)
            l->peer_eof = true;
        else if (rc < 0)
            l->rd_err = rc;
        if (c.throttled)
            throttle(l, now);
        else if (c.more)
            evl_defer(l);
        /* Everything the peer sent before its close (or the error) is delivered. */
        if ((l->peer_eof || l->rd_err) && !l->held && l->state == EVL_OPEN)
            evl_close_begin(l, l->peer_eof ? LINK_CLOSE_PEER : LINK_CLOSE_ERROR);
    }
    if ((n > 0 || c.msgs > 0) && l->state == EVL_OPEN)
        touch(l);
    if (readable)
        atomic_store_explicit(&l->rx_burst, c.msgs > 1, memory_order_relaxed);
    /* The read may have queued a pong or a close reply: send it now, not at the link's
     * next data write (which, on a quiet link, may never come). */
    if (readable && l->state == EVL_OPEN && !l->wr_armed) {
        evl_tx_lock(l);
        bool ww = vsock_want_write(l->vs);
        evl_tx_unlock(l);
        if (ww) {
            flush_out(l);
            return;   /* flush_out updated the watchers */
        }
    }
    update_io(l);
}

/* One read with its handlers (app.inline): what they send on this link is queued in
 * the vsock meanwhile and written here in one send (uWS corks a read's replies). */
static void read_step(evl_link *l, bool readable, rt_ns now)
{
    /* app.inline: the outbound lock once for the read, its handlers' sends nest in it */
    bool inl = l->srv->host->deliver != NULL;
    if (inl)
        evl_tx_lock(l);
    l->in_read = true;
    read_body(l, readable, now);
    l->in_read = false;
    if (l->tx_dirty && !l->wr_armed)
        flush_out(l);
    else if (l->tx_dirty)
        cork_out(l);    /* with write armed, the writable event writes it */
    if (inl)
        evl_tx_unlock(l);
}

void evl_rate_expire(evl_tlist *tl, evl_tnode *n, rt_ns now)
{
    (void)tl;
    evl_link *l = EVL_CONTAINER(n, evl_link, tn_rate);
    if (l->state != EVL_OPEN)
        return;
    l->pause &= (uint8_t)~EVL_PAUSE_RATE;
    /* The timer was set for the token's time; the loop's cached clock may read a few
     * microseconds earlier than libev's. Take the later: no second wake-up. */
    read_step(l, false, now > n->at ? now : n->at);
}

static int discard(void *arg, uint8_t *data, size_t len, int opcode)
{
    (void)arg, (void)data, (void)len, (void)opcode;
    return 0;
}

/* The link is closing: the peer's data after our close frame is not delivered; we
 * read only to see its close reply. */
static void closing_read(evl_link *l)
{
    size_t n = 0;
    int rc = vsock_read_inplace(l->vs, l->loop->rbuf, l->loop->rbuf_cap, true, discard, NULL, &n);
    if (rc < 0) {
        l->peer_eof = true;
        schedule_reap(l);
    }
    update_io(l);
}

/* ---------------------------------------------------------------- outbound */

/* A message handed to the vsock stays in the sent list until its frame is in the
 * kernel, so that a close can report exactly the unwritten ones. While listed, its
 * link_id field holds its frame length (restored before it is handed back). */
static void reap_sent(evl_link *l, int64_t pending)
{
    if (pending < 0)
        pending = 0;
    int64_t written = l->sent_bytes - pending;
    while (l->sent && (int64_t)l->sent->link_id <= written) {
        vsock_msg *m = l->sent;
        int64_t f = m->link_id;
        l->sent = m->next;
        written -= f;
        l->sent_bytes -= f;
        evl_msg_put(l->loop, m);
    }
    if (!l->sent)
        l->sent_tail = NULL;
}

static void drop_list(evl_link *l, vsock_msg *m, enum link_drop_reason r)
{
    while (m) {
        vsock_msg *n = m->next;
        m->next = NULL;
        m->link_id = l->id;
        link_host_drop(l->srv->host, m, r);
        m = n;
    }
}

static void check_writable(evl_link *l)
{
    if (l->state != EVL_OPEN || !atomic_load(&l->want_writable))
        return;
    int64_t out = atomic_load(&l->in_bytes) + atomic_load(&l->vs_bytes);
    if (out <= P(l, EVL_P_SEND_LOW_BYTES) && atomic_exchange(&l->want_writable, false)) {
        l->srv->host->on_writable(l->srv->host, l, l->id);
        if (l->pause & EVL_PAUSE_APP) {   /* the app may take again: offer the held one */
            l->pause &= (uint8_t)~EVL_PAUSE_APP;
            evl_defer(l);
        }
    }
}

static int64_t data_pending(const evl_link *l)
{
    int64_t p = (int64_t)vsock_pending_out(l->vs);
    return l->state == EVL_CLOSING ? p - l->close_frame_bytes : p;
}

static void flush_out(evl_link *l)
{
    if (l->state == EVL_DEAD || l->reap)
        return;
    evl_tx_lock(l);
again:
    l->tx_dirty = false;
    cork_out(l);
    size_t before = vsock_pending_out(l->vs);
    int rc = vsock_flush(l->vs);
    size_t after = vsock_pending_out(l->vs);
    reap_sent(l, data_pending(l));
    atomic_store(&l->vs_bytes, (int64_t)after);
    /* Drained and open: app senders may write inline again. */
    l->tx_idle = rc == 0 && l->state == EVL_OPEN && !l->sent;
    if (rc == 0) {
        l->wr_armed = false;
        if (l->state == EVL_OPEN)
            evl_tlist_del(&l->tn_out);
    } else if (rc == -EAGAIN) {
        /* Write readiness only now, and a stall deadline that moves with progress. */
        l->wr_armed = true;
        if (l->state == EVL_OPEN && (after < before || !evl_tnode_linked(&l->tn_out)))
            evl_tlist_put(&l->loop->stall, &l->tn_out,
                          lnow(l) + P(l, EVL_P_WRITE_TIMEOUT_MS) * RT_MS);
    } else {
        l->wr_armed = false;
        if (l->state == EVL_OPEN)
            evl_close_begin(l, LINK_CLOSE_ERROR);
        schedule_reap(l);
    }
    if (after < before && l->state == EVL_OPEN)
        touch(l);
    update_io(l);
    bool nested = l->in_flush;
    l->in_flush = true;
    check_writable(l);   /* app.inline: on_writable may send on this thread */
    l->in_flush = nested;
    if (l->tx_dirty && !nested && !l->in_read && !l->wr_armed && l->state != EVL_DEAD && !l->reap)
        goto again;
    evl_tx_unlock(l);
}

/* Move the app's messages into the vsock; flush inline unless write readiness is
 * already armed (then the kernel is full and the writable event will flush). */
static void take_sends(evl_link *l)
{
    if (!atomic_load_explicit(&l->outq, memory_order_relaxed))
        return;
    evl_tx_lock(l);
    take_sends_locked(l);
    evl_tx_unlock(l);
}

/* The cork: messages to send, in order, not yet in the vsock (loop thread, tx lock held).
 * Their link_id field holds their frame's size from here on (restored before a message
 * is handed back). One vsock call then queues them all (vsock_queue_list). */
static void cork_add(evl_link *l, vsock_msg *m)
{
    l->cork_n++;
    m->next = NULL;
    m->link_id = (uint32_t)vsock_frame_bytes(l->vs, m->len);
    l->cork_bytes += m->link_id;
    if (l->cork_tail)
        l->cork_tail->next = m;
    else
        l->cork = m;
    l->cork_tail = m;
}

/* Into the vsock behind what is there; the sent list keeps them until written. */
static void cork_out(evl_link *l)
{
    vsock_msg *c = l->cork;
    if (!c)
        return;
    int n = vsock_queue_list(l->vs, c);
    vsock_msg *last = NULL, *rest = c;
    int64_t bytes = 0;
    for (int i = 0; i < n; i++) {
        last = rest;
        bytes += rest->link_id;
        rest = rest->next;
    }
    if (last) {
        last->next = NULL;
        if (l->sent_tail)
            l->sent_tail->next = c;
        else
            l->sent = c;
        l->sent_tail = last;
        l->sent_bytes += bytes;
    }
    l->cork = l->cork_tail = NULL;
    l->cork_bytes = 0;
    atomic_fetch_sub(&l->in_msgs, l->cork_n);   /* in the vsock now, or dropped */
    l->cork_n = 0;
    drop_list(l, rest, LINK_DROP_SEND_FAILED);   /* the socket failed, or its limit */
    atomic_store(&l->vs_bytes, (int64_t)vsock_pending_out(l->vs));
}

/* The app's messages from outq into the cork; false when there were none. */
static bool move_sends_locked(evl_link *l)
{
    if (!atomic_load_explicit(&l->outq, memory_order_relaxed))
        return false;
    vsock_msg *s = atomic_exchange(&l->outq, NULL), *r = NULL;
    if (!s)
        return false;
    l->tx_idle = false;
    while (s) {   /* the stack is newest-first */
        vsock_msg *n = s->next;
        s->next = r;
        r = s;
        s = n;
    }
    if (l->state != EVL_OPEN) {
        for (vsock_msg *m = r; m; m = m->next) {
            atomic_fetch_sub(&l->in_bytes, (int64_t)m->len);
            atomic_fetch_sub(&l->in_msgs, 1);
        }
        drop_list(l, r, LINK_DROP_UNSENT_AT_CLOSE);
        return true;
    }
    while (r) {
        vsock_msg *m = r;
        r = r->next;
        int64_t len = m->len;
        cork_add(l, m);   /* still counted in in_msgs: out of the vsock until cork_out */
        atomic_fetch_sub(&l->in_bytes, len);
    }
    return true;
}

static void take_sends_locked(evl_link *l)
{
    if (!move_sends_locked(l) || l->state != EVL_OPEN)
        return;
    if (!l->wr_armed)
        flush_out(l);
    else
        cork_out(l);   /* the writable event writes it */
}

int evl_loop_send(evl_link *l, vsock_msg *m)
{
    if (l->state != EVL_OPEN)
        return -EPIPE;   /* the caller keeps m */
    evl_tx_lock(l);
    move_sends_locked(l);   /* what app threads queued before it goes first */
    l->tx_idle = false;
    atomic_fetch_add(&l->in_msgs, 1);   /* accepted, not yet in the vsock (the held op) */
    cork_add(l, m);
    if (l->in_read || l->in_flush) {
        /* written when the read (or the flush) ends, or once cork_bytes wait */
        l->tx_dirty = true;
        if (l->in_read && !l->in_flush && l->cork_bytes >= P(l, EVL_P_CORK_BYTES)) {
            if (l->wr_armed)
                cork_out(l);
            else
                flush_out(l);
        }
    } else if (l->wr_armed) {
        cork_out(l);   /* the writable event writes it */
    } else {
        flush_out(l);
    }
    evl_tx_unlock(l);
    return 0;
}

void evl_stall_expire(evl_tlist *tl, evl_tnode *n, rt_ns now)
{
    (void)tl;
    (void)now;
    evl_link *l = EVL_CONTAINER(n, evl_link, tn_out);
    if (l->state == EVL_OPEN)
        evl_close_begin(l, LINK_CLOSE_STALL);
}

void evl_closing_expire(evl_tlist *tl, evl_tnode *n, rt_ns now)
{
    (void)tl;
    (void)now;
    schedule_reap(EVL_CONTAINER(n, evl_link, tn_out));
}

/* ---------------------------------------------------------------- close */

static void schedule_reap(evl_link *l)
{
    if (l->reap || l->state == EVL_DEAD)
        return;
    l->reap = true;
    update_io(l);   /* quiet the watcher until the safe point */
    evl_defer(l);
}

static int close_code(enum link_close_cause c)
{
    switch (c) {
    case LINK_CLOSE_APP: return VSOCK_CLOSE_NORMAL;
    case LINK_CLOSE_OVERFLOW: return CLOSE_POLICY;
    case LINK_CLOSE_ERROR: return VSOCK_CLOSE_INTERNAL;
    case LINK_CLOSE_PEER: return VSOCK_CLOSE_NORMAL;
    default: return VSOCK_CLOSE_GOING_AWAY;   /* idle, stall, shutdown */
    }
}

void evl_close_begin(evl_link *l, enum link_close_cause cause)
{
    if (l->state != EVL_OPEN)
        return;
    struct link_host *h = l->srv->host;
    evl_tx_lock(l);   /* no inline send from here on: the close frame is the last */
    cork_out(l);      /* replies the read made before the close go before our close frame */
    l->tx_idle = false;
    l->state = EVL_CLOSING;
    atomic_store(&l->closed, true);
    evl_tlist_del(&l->tn_idle);
    evl_tlist_del(&l->tn_rate);
    evl_tlist_del(&l->tn_out);
    l->pause = 0;
    atomic_store(&l->rd_paused, false);
    vsock_msg_free(l->held);   /* inbound not yet delivered: the close discards it */
    __atomic_store_n(&l->held, NULL, __ATOMIC_RELAXED);
    take_sends(l);             /* not yet in the vsock: reported unsent */
    h->on_closed(h, l, l->id, cause);
    rt_queue *q = atomic_load(&l->rq);
    atomic_store(&l->rx_closed, true);
    if (q)
        rt_queue_close(q);     /* the notifier calls on_readable */
    else
        h->on_readable(h, l, l->id);
    if (cause == LINK_CLOSE_ERROR) {
        /* The socket is broken, or the vsock queued its own close (1002, 1009): one
         * flush for that, nothing more to say. */
        if (l->rd_err == -EPROTO || l->rd_err == -EMSGSIZE)
            (void)vsock_flush(l->vs);
        schedule_reap(l);
        evl_tx_unlock(l);
        return;
    }
    size_t b = vsock_pending_out(l->vs);
    vsock_close_nb(l->vs, close_code(cause));
    l->close_frame_bytes = (int64_t)(vsock_pending_out(l->vs) - b);
    l->wr_armed = false;
    flush_out(l);
    evl_tx_unlock(l);
    if (cause == LINK_CLOSE_PEER || l->peer_eof) {
        schedule_reap(l);      /* the peer has closed already: no reply to wait for */
        return;
    }
    if (cause == LINK_CLOSE_SHUTDOWN)
        return;                /* stop() destroys right after */
    evl_tlist_put(&l->loop->closing, &l->tn_out, lnow(l) + P(l, EVL_P_CLOSE_TIMEOUT_MS) * RT_MS);
    update_io(l);
}

/* ---------------------------------------------------------------- lifetime */

static void io_cb(rt_io *w, int revents, void *arg)
{
    (void)w;
    evl_link *l = arg;
    if (l->reap || l->state == EVL_DEAD)
        return;
    if (revents & RT_WRITE)
        flush_out(l);
    if (!(revents & RT_READ) || l->reap)
        return;
    if (l->state == EVL_OPEN)
        read_step(l, true, lnow(l));
    else if (l->state == EVL_CLOSING)
        closing_read(l);
}

void evl_link_open(evl_link *l)
{
    evl_loop *lp = l->loop;
    l->state = EVL_OPEN;
    l->all_next = lp->all;
    if (lp->all)
        lp->all->all_prev = l;
    lp->all = l;
    l->io = rt_io_create(lp->rl, vsock_fd(l->vs), io_cb, l);
    int64_t rate = l->srv->common.rate_limit_per_s;
    if (rate > 0 && l->io) {
        l->lim = malloc(sizeof *l->lim);
        if (l->lim) {
            int64_t burst = P(l, EVL_P_RATE_BURST) ? P(l, EVL_P_RATE_BURST) : rate;
            rt_limiter_init(l->lim, (double)rate, (double)burst, lnow(l));
        }
    }
    if (!l->io || (rate > 0 && !l->lim)) {
        evl_close_begin(l, LINK_CLOSE_ERROR);
        schedule_reap(l);
        return;
    }
    touch(l);
    evl_tx_lock(l);
    l->tx_idle = vsock_pending_out(l->vs) == 0;
    evl_tx_unlock(l);
    /* Bytes that came with the handshake may already be buffered: look once. */
    read_step(l, true, lnow(l));
}

void evl_link_handle(evl_link *l, uint32_t req)
{
    if (req & EVL_REQ_ATTACH)
        evl_link_open(l);
    take_sends(l);   /* also drops, as unsent, what raced with a close */
    if ((req & EVL_REQ_FLUSH) && l->state == EVL_OPEN && !l->wr_armed)
        flush_out(l);   /* an inline send's unwritten tail: write readiness, stall timer */
    if ((req & EVL_REQ_CLOSE) && l->state == EVL_OPEN) {
        int c = atomic_load(&l->req_cause);
        evl_close_begin(l, c < 0 ? LINK_CLOSE_APP : (enum link_close_cause)c);
    }
    if (req & EVL_REQ_RESUME)
        maybe_resume(l);
    if (req & EVL_REQ_RELEASE) {
        l->app_done = true;
        if (l->state == EVL_OPEN)
            evl_close_begin(l, LINK_CLOSE_APP);
        if (l->state == EVL_DEAD && !l->in_pending)
            evl_link_free(l);
    }
}

void evl_link_run_deferred(evl_link *l)
{
    if (l->reap) {
        evl_link_destroy(l);
        if (l->app_done)
            evl_link_free(l);
        return;
    }
    if (l->state == EVL_OPEN)
        read_step(l, false, lnow(l));
}

void evl_link_destroy(evl_link *l)
{
    if (l->state == EVL_DEAD)
        return;
    evl_tx_lock(l);
    l->tx_idle = false;
    if (l->vs) {
        reap_sent(l, data_pending(l));
        drop_list(l, l->sent, LINK_DROP_UNSENT_AT_CLOSE);
        l->sent = l->sent_tail = NULL;
        l->sent_bytes = 0;
    }
    l->state = EVL_DEAD;
    drop_list(l, l->cork, LINK_DROP_UNSENT_AT_CLOSE);
    l->cork = l->cork_tail = NULL;
    l->cork_bytes = 0;
    atomic_fetch_sub(&l->in_msgs, l->cork_n);
    l->cork_n = 0;
    take_sends(l);
    vsock_msg_free(l->held);
    __atomic_store_n(&l->held, NULL, __ATOMIC_RELAXED);
    evl_tlist_del(&l->tn_idle);
    evl_tlist_del(&l->tn_rate);
    evl_tlist_del(&l->tn_out);
    rt_io_destroy(l->io);
    l->io = NULL;
    vsock_destroy(l->vs);
    l->vs = NULL;
    atomic_store(&l->vs_bytes, 0);
    evl_tx_unlock(l);
    atomic_fetch_sub(&l->loop->nlinks, 1);
}

void evl_link_free(evl_link *l)
{
    evl_loop *lp = l->loop;
    if (l->all_prev)
        l->all_prev->all_next = l->all_next;
    else if (lp->all == l)
        lp->all = l->all_next;
    if (l->all_next)
        l->all_next->all_prev = l->all_prev;
    rt_queue *q = atomic_load(&l->rq);
    if (q) {
        rt_queue_set_notify(q, NULL, NULL, 0);   /* no resume posts for a freed link */
        void *it;
        while (rt_queue_try_pop(q, &it) == 0)
            vsock_msg_free(it);
        rt_queue_destroy(q);
    }
    free(l->lim);
    free(l);
}
