/* evl_io.c — evloop's loop side: attach, budgeted reads with lossless backpressure, rate waits, inline writes with watermarks, close handshake, destroy. */
#include <errno.h>
#include <stdlib.h>

#include "evl.h"

#define P(l, i) ((l)->srv->p[i])
#define CLOSE_POLICY 1008   /* RFC 6455 policy violation: the peer would not take our data */

static rt_ns lnow(const evl_link *l)
{
    return rt_loop_now(l->loop->rl);
}

static void schedule_reap(evl_link *l);
static void flush_out(evl_link *l);
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

/* Deliver what the vsock has decoded, reading the fd at most once (when it reported
 * readable), within the byte and message budgets. What is left in the kernel is
 * reported again by level-triggered readiness; what is left decoded in the vsock
 * goes to the safe point, because the kernel will not report it again. */
static void read_step(evl_link *l, bool readable, rt_ns now)
{
    size_t budget = (size_t)P(l, EVL_P_READ_BUDGET_MSGS), msgs = 0;
    bool did_read = !readable, any = false;
    while (l->state == EVL_OPEN && !l->pause) {
        vsock_msg *m = l->held;
        __atomic_store_n(&l->held, NULL, __ATOMIC_RELAXED);
        if (!m)
            m = vsock_poll_msg(l->vs);
        if (!m) {
            if (l->peer_eof || l->rd_err) {
                /* Everything the peer sent before its close (or the error) is delivered. */
                evl_close_begin(l, l->peer_eof ? LINK_CLOSE_PEER : LINK_CLOSE_ERROR);
                break;
            }
            if (did_read)
                break;
            size_t n = 0;
            int rc = vsock_read_nb(l->vs, (size_t)P(l, EVL_P_READ_BUDGET_BYTES), &n);
            did_read = true;
            any |= n > 0;
            if (rc == -EPIPE)
                l->peer_eof = true;
            else if (rc < 0)
                l->rd_err = rc;
            continue;
        }
        any = true;
        if (msgs >= budget) {
            __atomic_store_n(&l->held, m, __ATOMIC_RELAXED);
            evl_defer(l);
            break;
        }
        if (l->lim && !rt_limiter_allow_at(l->lim, now)) {
            __atomic_store_n(&l->held, m, __ATOMIC_RELAXED);   /* never dropped: it waits for its token */
            throttle(l, now);
            break;
        }
        size_t len = 0;
        if (!rq_push(l, m, &len)) {
            __atomic_store_n(&l->held, m, __ATOMIC_RELAXED);
            pause_backpressure(l);
            break;
        }
        msgs++;
        if (len >= (size_t)P(l, EVL_P_RECV_HIGH)) {
            pause_backpressure(l);
            break;
        }
    }
    if (any && l->state == EVL_OPEN)
        touch(l);
    if (did_read && readable)
        atomic_store_explicit(&l->rx_burst, msgs > 1, memory_order_relaxed);
    /* Decoding may have queued a pong or a close reply inside wslay: send it now, not
     * at the link's next data write (which, on a quiet link, may never come). */
    if (did_read && readable && l->state == EVL_OPEN && !l->wr_armed) {
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

/* The link is closing: the peer's data after our close frame is not delivered; we
 * read only to see its close reply. */
static void closing_read(evl_link *l)
{
    vsock_msg *m;
    size_t n = 0;
    int rc = vsock_read_nb(l->vs, (size_t)P(l, EVL_P_READ_BUDGET_BYTES), &n);
    while ((m = vsock_poll_msg(l->vs)))
        vsock_msg_free(m);
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
        vsock_msg_free(m);
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
    if (out <= P(l, EVL_P_SEND_LOW_BYTES) && atomic_exchange(&l->want_writable, false))
        l->srv->host->on_writable(l->srv->host, l, l->id);
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
    check_writable(l);
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

static void take_sends_locked(evl_link *l)
{
    vsock_msg *s = atomic_exchange(&l->outq, NULL), *r = NULL;
    if (!s)
        return;
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
        return;
    }
    while (r) {
        vsock_msg *m = r;
        r = r->next;
        m->next = NULL;
        size_t b = vsock_pending_out(l->vs);
        int rc = vsock_queue(l->vs, m->data, m->len, m->opcode ? m->opcode : VSOCK_BINARY);
        atomic_fetch_sub(&l->in_bytes, (int64_t)m->len);
        atomic_fetch_sub(&l->in_msgs, 1);
        if (rc < 0) {
            drop_list(l, m, LINK_DROP_SEND_FAILED);
            continue;
        }
        m->link_id = (uint32_t)(vsock_pending_out(l->vs) - b);
        l->sent_bytes += m->link_id;
        if (l->sent_tail)
            l->sent_tail->next = m;
        else
            l->sent = m;
        l->sent_tail = m;
    }
    if (!l->wr_armed)
        flush_out(l);
    else
        atomic_store(&l->vs_bytes, (int64_t)vsock_pending_out(l->vs));
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
