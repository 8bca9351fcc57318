/* evl_link.c — evloop's app-side operations (any thread): send, recv, activity, idle check, close, release. */
#include <errno.h>

#include "evl.h"

/* Queued outbound bytes as app threads see them: handed to send but not yet in the
 * vsock, plus in the vsock but not yet in the kernel. */
static int64_t out_bytes(const evl_link *l)
{
    return atomic_load(&l->in_bytes) + atomic_load(&l->vs_bytes);
}

/* The loop's side of tx_lock. An app sender holds it for one non-blocking send; when
 * that sender is preempted while holding it (likely when the whole server shares one
 * CPU), spinning would only keep it off the CPU, so after a few tries the loop sleeps
 * a microsecond and lets it finish. Outbound work is rarely contended: the app tries
 * the lock only when the link is idle. */
void evl_tx_lock(evl_link *l)
{
    if (l->tx_depth++)
        return;
    for (int i = 0;; i++) {
        if (!atomic_load_explicit(&l->tx_lock, memory_order_relaxed) &&
            !atomic_exchange_explicit(&l->tx_lock, 1, memory_order_acquire))
            return;
        if (i >= 64)
            rt_sleep(RT_US, NULL);
    }
}

void evl_tx_unlock(evl_link *l)
{
    if (--l->tx_depth == 0)
        atomic_store_explicit(&l->tx_lock, 0, memory_order_release);
}

/* The fast path (uWS's inline write): when nothing of this link is queued anywhere, the
 * sending thread writes the frame to the kernel itself, instead of handing the message
 * to the loop (an inbox push, an async wake-up, the loop's own wake-up, then its
 * write). Then an echo costs the loop one wake-up, for the read, not two.
 * 1 done (m consumed), 0 not possible now (queue it), -EPIPE closed or failed. */
static int send_inline(evl_link *l, vsock_msg *m)
{
    /* in_bytes first: this thread's earlier messages that went to outq keep it above
     * zero until the loop has put them in the vsock, so nothing overtakes them. */
    if (atomic_load(&l->in_bytes) != 0)
        return 0;
    /* Cork (uWS corks the sends made while it handles one read's messages): a link
     * whose reads bring several messages at once is busy, and so is its loop, which is
     * awake anyway (the hand-off costs it no wake-up) and writes the replies of a whole
     * read in one send, where inline writes would cost one each (measured at 400 k
     * msg/s: 572 k vs 646 k messages per CPU-second). */
    if (atomic_load_explicit(&l->rx_burst, memory_order_relaxed))
        return 0;
    if (atomic_exchange_explicit(&l->tx_lock, 1, memory_order_acquire))
        return 0;
    int rc = 0;
    bool partial = false;
    if (l->tx_idle) {
        size_t frame = 0;
        int64_t r = vsock_send_now(l->vs, m->data, m->len, m->opcode ? m->opcode : VSOCK_BINARY,
                                   &frame);
        if (r == 0) {
            vsock_msg_free(m);
            rc = 1;
        } else if (r > 0) {
            /* Part of it is in the kernel: the loop takes over the rest (sent list for
             * exact unsent accounting, write readiness, stall timer). */
            m->next = NULL;
            m->link_id = (uint32_t)frame;
            l->sent = l->sent_tail = m;   /* empty while idle */
            l->sent_bytes = (int64_t)frame;
            l->tx_idle = false;
            atomic_store(&l->vs_bytes, r);
            rc = 1;
            partial = true;
        } else if (r != -EAGAIN) {
            rc = -EPIPE;   /* the loop sees the socket's error on its next read */
        }
    }
    atomic_store_explicit(&l->tx_lock, 0, memory_order_release);
    if (partial)
        evl_post(l, EVL_REQ_FLUSH);
    return rc;
}

static void request_close(evl_link *l, enum link_close_cause cause)
{
    int none = -1;
    atomic_compare_exchange_strong(&l->req_cause, &none, (int)cause);
    atomic_store(&l->closed, true);
    evl_post(l, EVL_REQ_CLOSE);
}

int evl_send(struct link *l, vsock_msg *m)
{
    const evl_server *srv = l->srv;
    if (atomic_load(&l->closed))
        return -EPIPE;
    int64_t len = m->len;
    /* on the link's loop: what its handlers corked counts too */
    bool on_loop = evl_cur_loop == l->loop;
    int64_t corked = on_loop ? l->cork_bytes : 0;
    if (srv->p[EVL_P_SEND_BACKPRESSURE] && out_bytes(l) + corked > srv->p[EVL_P_SEND_HIGH_BYTES]) {
        /* Flag first, then look again: either we see the loop's drain, or the loop
         * sees the flag and calls on_writable. */
        atomic_store(&l->want_writable, true);
        if (out_bytes(l) + corked > srv->p[EVL_P_SEND_HIGH_BYTES]) {
            link_host_count(srv->host, LINK_C_SEND_BACKPRESSURE, 1);
            return -EAGAIN;
        }
    }
    if (out_bytes(l) + corked + len > srv->p[EVL_P_SEND_HARD_BYTES]) {
        if (!srv->p[EVL_P_SEND_OVERFLOW_CLOSE]) {
            m->link_id = l->id;
            link_host_drop(srv->host, m, LINK_DROP_SEND_OVERFLOW);
            return 0;
        }
        request_close(l, LINK_CLOSE_OVERFLOW);
        return -EPIPE;   /* the caller keeps m */
    }
    if (on_loop) {
        /* On the link's own loop (an app.inline handler, or on_writable): straight into
         * the vsock, written when the read that brought the request ends. */
        return evl_loop_send(l, m);
    }
    int fast = send_inline(l, m);
    if (fast)
        return fast > 0 ? 0 : -EPIPE;
    atomic_fetch_add(&l->in_msgs, 1);
    atomic_fetch_add(&l->in_bytes, len);
    vsock_msg *head = atomic_load_explicit(&l->outq, memory_order_relaxed);
    do {
        m->next = head;
    } while (!atomic_compare_exchange_weak_explicit(&l->outq, &head, m, memory_order_release,
                                                    memory_order_relaxed));
    /* Once the link is in the inbox, later sends only push: one wake-up per batch. */
    evl_post(l, EVL_REQ_SEND);
    return 0;
}

int evl_recv(struct link *l, vsock_msg **out)
{
    /* rx_closed before rq: the loop publishes rq before it closes the receive side. */
    bool done = atomic_load(&l->rx_closed);
    rt_queue *q = atomic_load(&l->rq);
    if (!q)
        return done ? -EPIPE : -EAGAIN;
    return rt_queue_try_pop(q, (void **)out);   /* -EPIPE once closed and drained */
}

void evl_update_active(struct link *l)
{
    /* On the link's loop (app.inline) the loop's time of this iteration is as good for
     * an idle check of seconds, and costs no clock read per message. */
    rt_ns now = evl_cur_loop == l->loop ? rt_loop_now(l->loop->rl) : rt_now();
    atomic_store_explicit(&l->last_active, now, memory_order_relaxed);
}

bool evl_try_close_if_idle(struct link *l, rt_ns idle)
{
    if (atomic_load(&l->closed))
        return true;
    if (!l->srv->common.auto_close)
        return false;
    rt_ns last = atomic_load_explicit(&l->last_active, memory_order_relaxed);
    if (rt_now() - last <= idle)
        return false;
    request_close(l, LINK_CLOSE_IDLE);
    return true;
}

int evl_close(struct link *l)
{
    if (!atomic_load(&l->closed))
        request_close(l, LINK_CLOSE_APP);
    return 0;
}

void evl_release(struct link *l)
{
    evl_post(l, EVL_REQ_RELEASE);
}

/* Receive queue notifier. NONEMPTY comes from the loop's push; LOW from the app's pop,
 * on an app thread: it only posts a resume to the loop. */
void evl_rq_notify(void *arg, rt_queue *q, enum rt_queue_event ev)
{
    (void)q;
    evl_link *l = arg;
    struct link_host *h = l->srv->host;
    switch (ev) {
    case RT_Q_NONEMPTY:
    case RT_Q_CLOSED:
        h->on_readable(h, l, l->id);
        break;
    case RT_Q_LOW:
        if (atomic_load(&l->rd_paused))
            evl_post(l, EVL_REQ_RESUME);
        break;
    }
}

/* held: the receive queue and a message the loop keeps for a token or room (read
 * without the loop: the harness asks once the links have settled); messages handed
 * to send and not yet put in the vsock. The sent list is in the vsock already. */
void evl_held(struct link *l, int64_t *in, int64_t *out)
{
    rt_queue *q = atomic_load(&l->rq);
    *in = (q ? (int64_t)rt_queue_len(q) : 0) + (__atomic_load_n(&l->held, __ATOMIC_RELAXED) != NULL);
    *out = atomic_load(&l->in_msgs);
}
