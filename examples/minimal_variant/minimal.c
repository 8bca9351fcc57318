/* minimal.c — an out-of-tree linkbench variant: one thread per link serving a receive queue and a send queue. */
/*
 * Build it against an installed linkbench (see CMakeLists.txt beside this file) and run
 *     linkbench run --variant ./minimal.so ...
 * A variant uses only rt_* (threads, queues, time, waiting) and vsock_* (the WebSocket
 * endpoint), so the harness measures every design through the same counters.
 *
 * Design: one thread per link alternates between writing what the app queued and
 * reading one message with a short deadline (tick_ms). One thread cannot wait for the
 * socket and the send queue at once without an event loop, so a queued reply waits at
 * most one tick: the price of this design, visible as wake-ups on idle links.
 * A full receive queue blocks the thread (LINK_LOSS_BLOCKS), like a Go channel send.
 */
#include <linkbench/link.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

enum { P_RECV_QUEUE, P_SEND_QUEUE, P_TICK_MS, P_WRITE_TIMEOUT_MS, P_COUNT };

static const struct link_param params[P_COUNT] = {
    [P_RECV_QUEUE] = {"recv_queue", 256, 1, 1 << 20, "receive queue capacity (messages)"},
    [P_SEND_QUEUE] = {"send_queue", 256, 1, 1 << 20, "send queue capacity (messages)"},
    [P_TICK_MS] = {"tick_ms", 5, 1, 1000, "longest wait for input before the send queue is served"},
    [P_WRITE_TIMEOUT_MS] = {"write_timeout_ms", 10000, 1, 3600000,
                            "a write not done by then closes the link (cause error)"},
};

struct link_server {
    struct link_host *host;
    int64_t p[P_COUNT];
    struct link_common common;
    atomic_flag lock;          /* guards the list; held only for a few pointer moves */
    struct link *links;        /* not yet released by the app */
};

struct link {
    struct link_server *srv;
    struct link *prev, *next;
    bool listed;               /* on srv->links (under srv->lock) */
    uint32_t id;
    vsock *s;
    rt_ctx *ctx;               /* cancelled to make the thread leave */
    rt_thread *t;
    rt_queue *in, *out;
    rt_limiter lim;
    _Atomic rt_ns last_active;
    atomic_bool closing;       /* a close was requested (app, idle, shutdown) */
    _Atomic int cause;         /* the requested close's cause */
    atomic_int in_hand;        /* read, waiting for room in `in` (the held op counts it) */
};

static void lock(struct link_server *srv)
{
    while (atomic_flag_test_and_set_explicit(&srv->lock, memory_order_acquire)) {}
}

static void unlock(struct link_server *srv)
{
    atomic_flag_clear_explicit(&srv->lock, memory_order_release);
}

static void unlist(struct link *l)
{
    l->listed = false;
    if (l->prev) l->prev->next = l->next;
    else l->srv->links = l->next;
    if (l->next) l->next->prev = l->prev;
    l->prev = l->next = NULL;
}

/* Request a close; true for the request that won (exactly one per link). */
static bool request_close(struct link *l, enum link_close_cause c)
{
    bool was = false;
    if (!atomic_compare_exchange_strong(&l->closing, &was, true)) return false;
    atomic_store(&l->cause, (int)c);
    rt_ctx_cancel(l->ctx);
    return true;
}

static void in_notify(void *arg, rt_queue *q, enum rt_queue_event ev)
{
    (void)q;
    struct link *l = arg;
    struct link_host *h = l->srv->host;
    if (ev == RT_Q_NONEMPTY || ev == RT_Q_CLOSED) h->on_readable(h, l, l->id);
}

static void out_notify(void *arg, rt_queue *q, enum rt_queue_event ev)
{
    (void)q;
    struct link *l = arg;
    struct link_host *h = l->srv->host;
    if (ev == RT_Q_LOW) h->on_writable(h, l, l->id);
}

/* Write everything the app queued. 0, or the vsock error that ends the link. */
static int flush_out(struct link *l)
{
    void *item;
    while (rt_queue_try_pop(l->out, &item) == 0) {
        vsock_msg *m = item;
        rt_ns dl = rt_deadline_in(l->srv->p[P_WRITE_TIMEOUT_MS] * RT_MS);
        int rc = vsock_write(l->s, m->data, m->len, m->opcode, dl);
        if (rc < 0) {
            if (rc == -ETIMEDOUT) link_host_count(l->srv->host, LINK_C_WRITE_TIMEOUTS, 1);
            link_host_drop(l->srv->host, m, LINK_DROP_SEND_FAILED);
            return rc;
        }
        vsock_msg_free(m);
    }
    return 0;
}

/* Hand one received message to the app, waiting for the limiter and for queue room. */
static int deliver(struct link *l, vsock_msg *m)
{
    m->link_id = l->id;
    if (l->srv->common.rate_limit_per_s > 0) {
        rt_ns now = rt_now(), at = rt_limiter_reserve_at(&l->lim, now);
        if (at > now) {
            link_host_count(l->srv->host, LINK_C_RATE_WAITS, 1);
            if (rt_sleep_until(at, l->ctx) < 0) {
                vsock_msg_free(m);
                return -ECANCELED;
            }
        }
    }
    atomic_store(&l->in_hand, 1);
    int rc = rt_queue_push(l->in, m, RT_NEVER, l->ctx);
    atomic_store(&l->in_hand, 0);
    if (rc < 0) vsock_msg_free(m);   /* cancelled: the link is closing, nobody will read it */
    return rc;
}

static void link_main(void *arg)
{
    struct link *l = arg;
    struct link_server *srv = l->srv;
    enum link_close_cause cause = LINK_CLOSE_ERROR;
    for (;;) {
        int rc = flush_out(l);
        if (rc == 0) {
            vsock_msg *m = NULL;
            rc = vsock_read(l->s, &m, rt_deadline_in(srv->p[P_TICK_MS] * RT_MS));
            if (rc == 0) rc = deliver(l, m);
        }
        if (rc == 0 || rc == -ETIMEDOUT) continue;
        if (rc == -ECANCELED || atomic_load(&l->closing)) cause = atomic_load(&l->cause);
        else if (rc == -EPIPE) cause = LINK_CLOSE_PEER;
        else cause = LINK_CLOSE_ERROR;
        break;
    }
    /* Close the receive side first: the app drains it, then recv answers -EPIPE. */
    rt_queue_close(l->in);
    rt_queue_close(l->out);
    void *item;
    while (rt_queue_try_pop(l->out, &item) == 0)
        link_host_drop(srv->host, item, LINK_DROP_UNSENT_AT_CLOSE);
    vsock_close(l->s, cause == LINK_CLOSE_SHUTDOWN ? VSOCK_CLOSE_GOING_AWAY
                      : cause == LINK_CLOSE_ERROR  ? VSOCK_CLOSE_INTERNAL
                                                   : VSOCK_CLOSE_NORMAL);
    atomic_store(&l->closing, true);
    srv->host->on_closed(srv->host, l, l->id, cause);
}

static void link_free(struct link *l)
{
    void *item;
    while (l->in && rt_queue_try_pop(l->in, &item) == 0) vsock_msg_free(item);
    while (l->out && rt_queue_try_pop(l->out, &item) == 0) vsock_msg_free(item);
    rt_queue_destroy(l->in);
    rt_queue_destroy(l->out);
    vsock_destroy(l->s);
    rt_ctx_destroy(l->ctx);
    free(l);
}

/* ---------------------------------------------------------------- operations */

static int m_start(const struct link_start_args *a, struct link_server **out)
{
    struct link_server *srv = calloc(1, sizeof *srv);
    if (!srv) return -ENOMEM;
    srv->host = a->host;
    for (int i = 0; i < P_COUNT; i++) srv->p[i] = a->params[i];
    srv->common = *a->common;
    atomic_flag_clear(&srv->lock);
    *out = srv;
    return 0;
}

static int m_attach(struct link_server *srv, vsock *s, uint32_t id, struct link **out)
{
    struct link *l = calloc(1, sizeof *l);
    if (l) {
        l->in = rt_queue_create(srv->p[P_RECV_QUEUE]);
        l->out = rt_queue_create(srv->p[P_SEND_QUEUE]);
        l->ctx = rt_ctx_create(NULL);
    }
    if (!l || !l->in || !l->out || !l->ctx) {
        if (l) link_free(l);
        else vsock_destroy(s);
        return -ENOMEM;
    }
    l->srv = srv;
    l->id = id;
    l->s = s;
    vsock_set_ctx(s, l->ctx);
    atomic_store(&l->last_active, rt_now());
    if (srv->common.rate_limit_per_s > 0)
        rt_limiter_init(&l->lim, (double)srv->common.rate_limit_per_s,
                        (double)srv->common.rate_limit_per_s, rt_now());
    rt_queue_set_notify(l->in, in_notify, l, 0);
    rt_queue_set_notify(l->out, out_notify, l, (size_t)srv->p[P_SEND_QUEUE] / 2);
    *out = l;
    lock(srv);
    l->next = srv->links;
    if (l->next) l->next->prev = l;
    srv->links = l;
    l->listed = true;
    unlock(srv);
    int rc = rt_thread_spawn(&l->t, RT_GROUP_LINK, "minimal-link", link_main, l);
    if (rc < 0) {   /* a thread limit is a result: the harness counts it */
        lock(srv);
        unlist(l);
        unlock(srv);
        link_free(l);
        *out = NULL;
        return rc;
    }
    return 0;
}

static int m_send(struct link *l, vsock_msg *m)
{
    if (atomic_load(&l->closing)) return -EPIPE;
    int rc = rt_queue_try_push(l->out, m);
    if (rc == -EAGAIN) link_host_count(l->srv->host, LINK_C_SEND_BACKPRESSURE, 1);
    return rc;
}

static int m_recv(struct link *l, vsock_msg **out)
{
    void *item;
    int rc = rt_queue_try_pop(l->in, &item);
    if (rc == 0) *out = item;
    return rc;
}

/* What the link holds, for the harness's accounting: the queues, and a message the
 * thread keeps while the receive queue is full. One taken from `out` is in the vsock
 * from its first write on: the harness counts it there. */
static void m_held(struct link *l, int64_t *in, int64_t *out)
{
    *in = (int64_t)rt_queue_len(l->in) + atomic_load(&l->in_hand);
    *out = (int64_t)rt_queue_len(l->out);
}

static void m_update_active(struct link *l) { atomic_store(&l->last_active, rt_now()); }

static bool m_try_close_if_idle(struct link *l, rt_ns idle)
{
    if (!l->srv->common.auto_close || rt_now() - atomic_load(&l->last_active) <= idle) return false;
    return request_close(l, LINK_CLOSE_IDLE);
}

static int m_close(struct link *l)
{
    request_close(l, LINK_CLOSE_APP);
    return 0;
}

static void m_release(struct link *l)
{
    struct link_server *srv = l->srv;
    lock(srv);
    bool mine = l->listed;
    if (mine) unlist(l);
    unlock(srv);
    if (!mine) return;   /* stop() already took it */
    rt_thread_join(l->t);   /* the thread's last act was on_closed: this is brief */
    link_free(l);
}

static void m_stop(struct link_server *srv)
{
    lock(srv);
    struct link *all = srv->links;
    srv->links = NULL;
    for (struct link *l = all; l; l = l->next) l->listed = false;
    unlock(srv);
    for (struct link *l = all; l; l = l->next) request_close(l, LINK_CLOSE_SHUTDOWN);
    while (all) {
        struct link *l = all;
        all = l->next;
        rt_thread_join(l->t);
        link_free(l);
    }
    free(srv);
}

LINK_VARIANT_EXPORT = {
    .abi_version = LINK_ABI_VERSION,
    .name = "minimal",
    .summary = "example: one thread per link alternating writes and short reads",
    .threads_per_link = 1,
    .loss_policy = LINK_LOSS_BLOCKS,
    .drop_reasons = LINK_DROP_BIT(LINK_DROP_SEND_FAILED) | LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE),
    .params = params,
    .n_params = P_COUNT,
    .start = m_start,
    .attach = m_attach,
    .send = m_send,
    .recv = m_recv,
    .update_active = m_update_active,
    .try_close_if_idle = m_try_close_if_idle,
    .close = m_close,
    .release = m_release,
    .stop = m_stop,
    .held = m_held,
};
