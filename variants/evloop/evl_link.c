/* evl_link.c — evloop's app-side operations (any thread): send, recv, activity, idle check, close, release. */
#include <errno.h>

#include "evl.h"

/* Queued outbound bytes as app threads see them: handed to send but not yet in the
 * vsock, plus in the vsock but not yet in the kernel. */
static int64_t out_bytes(const evl_link *l)
{
    return atomic_load(&l->in_bytes) + atomic_load(&l->vs_bytes);
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
    if (srv->p[EVL_P_SEND_BACKPRESSURE] && out_bytes(l) > srv->p[EVL_P_SEND_HIGH_BYTES]) {
        /* Flag first, then look again: either we see the loop's drain, or the loop
         * sees the flag and calls on_writable. */
        atomic_store(&l->want_writable, true);
        if (out_bytes(l) > srv->p[EVL_P_SEND_HIGH_BYTES]) {
            link_host_count(srv->host, LINK_C_SEND_BACKPRESSURE, 1);
            return -EAGAIN;
        }
    }
    if (out_bytes(l) + len > srv->p[EVL_P_SEND_HARD_BYTES]) {
        if (!srv->p[EVL_P_SEND_OVERFLOW_CLOSE]) {
            m->link_id = l->id;
            link_host_drop(srv->host, m, LINK_DROP_SEND_OVERFLOW);
            return 0;
        }
        request_close(l, LINK_CLOSE_OVERFLOW);
        return -EPIPE;   /* the caller keeps m */
    }
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
    atomic_store_explicit(&l->last_active, rt_now(), memory_order_relaxed);
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
