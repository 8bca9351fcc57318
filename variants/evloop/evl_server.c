/* evl_server.c — evloop's server: params, one loop thread per core, the per-loop inbox, attach, stop, the exported table. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evl.h"

const struct link_param evl_params[EVL_P_COUNT] = {
    [EVL_P_LOOPS] = {"loops", 0, 0, 1024, "event-loop threads, one per core; 0 = online CPUs"},
    [EVL_P_READ_BUDGET_BYTES] = {"read_budget_bytes", 65536, 256, 16 << 20,
                                 "bytes read from one link per readiness event"},
    /* one read of the budget's bytes, whole: stopping a read every 16 messages (Netty
     * counts 16 reads, not messages) cost a loop pass and a send per 16 echoes at 1 M/s */
    [EVL_P_READ_BUDGET_MSGS] = {"read_budget_msgs", 1024, 1, 1 << 20,
                                "messages delivered from one link per readiness event"},
    [EVL_P_RECV_QUEUE_CAP] = {"recv_queue_cap", 128, 2, 1 << 20, "receive queue capacity (messages)"},
    [EVL_P_RECV_HIGH] = {"recv_high", 64, 1, 1 << 20,
                         "stop reading the link at this receive queue length"},
    [EVL_P_RECV_LOW] = {"recv_low", 32, 0, 1 << 20,
                        "resume reading when the app pops the queue down to this length"},
    [EVL_P_SEND_LOW_BYTES] = {"send_low_bytes", 32 << 10, 0, (int64_t)1 << 40,
                              "on_writable once queued outbound bytes fall to this"},
    [EVL_P_SEND_HIGH_BYTES] = {"send_high_bytes", 64 << 10, 1, (int64_t)1 << 40,
                               "send answers -EAGAIN while more bytes than this are queued"},
    [EVL_P_SEND_HARD_BYTES] = {"send_hard_bytes", 1 << 20, 1, (int64_t)1 << 40,
                               "hard limit of queued outbound bytes (policy: send_overflow_close)"},
    [EVL_P_SEND_OVERFLOW_CLOSE] = {"send_overflow_close", 1, 0, 1,
                                   "at the hard limit: 1 close 1008 (cause overflow), 0 drop the "
                                   "message (send_overflow)"},
    [EVL_P_SEND_BACKPRESSURE] = {"send_backpressure", 1, 0, 1,
                                 "1: send answers -EAGAIN above send_high_bytes; 0: accept up "
                                 "to the hard limit"},
    [EVL_P_WRITE_TIMEOUT_MS] = {"write_timeout_ms", 10000, 1, 86400000,
                                "close (cause stall) a link whose peer took no byte for this long"},
    [EVL_P_CLOSE_TIMEOUT_MS] = {"close_timeout_ms", 2000, 1, 86400000,
                                "close handshake: wait this long for the peer's close"},
    [EVL_P_IDLE_TIMEOUT_MS] = {"idle_timeout_ms", 0, 0, 86400000,
                               "loop-side idle close when auto_close; 0 = off (the app's reaper)"},
    [EVL_P_TRIM_AFTER_MS] = {"trim_after_ms", 1000, 1, 86400000,
                             "give a link's vsock buffers back after this long without I/O"},
    [EVL_P_RATE_BURST] = {"rate_burst", 0, 0, 1 << 30, "limiter bucket size; 0 = the rate"},
    [EVL_P_CORK_BYTES] = {"cork_bytes", 16384, 1, 1 << 30,
                          "app.inline: the replies of one read are written at its end, or once "
                          "this many bytes wait (uWebSockets corks 16 KiB)"},
    [EVL_P_COMPRESSION] = {"compression", 0, 0, 2,
                           "permessage-deflate (RFC 7692, zlib), answered by the upgrade: 0 "
                           "(default) off; 1 with context takeover unless the client declines "
                           "it; 2 without context takeover on either side"},
};

/* initial-exec: a module's general-dynamic TLS costs a __tls_get_addr call per read
 * (one per send); one pointer fits glibc's static TLS reserve for dlopen'd modules */
__attribute__((tls_model("initial-exec"))) _Thread_local evl_loop *evl_cur_loop;

/* ---------------------------------------------------------------- inbox */

/* Lock-free MPSC hand-off: a Treiber stack of links, each in it at most once (in_inbox),
 * with its requests OR-ed into l->req. Only the push onto an empty stack sends the
 * async, so a burst of sends from app threads costs the loop one wake-up. */
void evl_post(evl_link *l, uint32_t req)
{
    atomic_fetch_or(&l->req, req);
    if (atomic_exchange(&l->in_inbox, true))
        return;   /* already queued: the loop reads req after clearing in_inbox */
    evl_loop *lp = l->loop;
    evl_link *head = atomic_load_explicit(&lp->inbox, memory_order_relaxed);
    do {
        l->inbox_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&lp->inbox, &head, l, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (!head)
        rt_async_send(lp->wake);
}

static void drain_inbox(evl_loop *lp)
{
    evl_link *s = atomic_exchange(&lp->inbox, NULL), *r = NULL;
    while (s) {   /* reverse: handle links in the order they were posted */
        evl_link *n = s->inbox_next;
        s->inbox_next = r;
        r = s;
        s = n;
    }
    while (r) {
        evl_link *l = r;
        r = r->inbox_next;   /* read before in_inbox is cleared: a poster rewrites it */
        atomic_store(&l->in_inbox, false);
        uint32_t req = atomic_exchange(&l->req, 0);
        evl_link_handle(l, req);   /* may free l */
    }
}

/* ---------------------------------------------------------------- safe point */

/* Work that must not run inside a link's own callback (destroy) or that is left over
 * after a read budget (decoded messages the kernel will not report again) runs here:
 * a zero-delay timer, i.e. the next loop iteration, costing no system call to arm. */
void evl_defer(evl_link *l)
{
    evl_loop *lp = l->loop;
    if (l->in_pending || l->state == EVL_DEAD)
        return;
    l->in_pending = true;
    l->pend_next = lp->pending;
    lp->pending = l;
    if (!rt_timer_active(lp->defer))
        rt_timer_start(lp->defer, 0, 0);
}

static void on_defer(rt_timer *t, void *arg)
{
    (void)t;
    evl_loop *lp = arg;
    evl_link *s = lp->pending, *r = NULL;
    lp->pending = NULL;
    while (s) {
        evl_link *n = s->pend_next;
        s->pend_next = r;
        r = s;
        s = n;
    }
    while (r) {
        evl_link *l = r;
        r = r->pend_next;
        l->in_pending = false;
        evl_link_run_deferred(l);   /* may free l or defer it again */
    }
}

/* ---------------------------------------------------------------- message pool */

/* A message of this many bytes of payload or less comes from the pool; the pool holds
 * at most POOL_MAX (about 80 KiB) and is given back once a trim period passes unused. */
#define POOL_DATA 240
#define POOL_MAX 256

vsock_msg *evl_msg_get(evl_loop *lp, size_t len)
{
    lp->pool_used = true;
    if (len > POOL_DATA)
        return vsock_msg_new(len);
    vsock_msg *m = lp->pool;
    if (m) {
        lp->pool = m->next;
        lp->npool--;
        return m;
    }
    return vsock_msg_new(POOL_DATA);
}

void evl_msg_put(evl_loop *lp, vsock_msg *m)
{
    /* only what holds POOL_DATA bytes: the app may hand any message to send */
    if (lp->npool >= POOL_MAX || malloc_usable_size(m) < sizeof *m + POOL_DATA) {
        vsock_msg_free(m);
        return;
    }
    m->next = lp->pool;
    lp->pool = m;
    lp->npool++;
}

void evl_pool_trim(evl_loop *lp)
{
    if (lp->pool_used) {
        lp->pool_used = false;
        return;
    }
    while (lp->pool) {
        vsock_msg *m = lp->pool;
        lp->pool = m->next;
        vsock_msg_free(m);
    }
    lp->npool = 0;
}

/* ---------------------------------------------------------------- loop threads */

static void shutdown_loop(evl_loop *lp)
{
    lp->stopping = true;
    for (evl_link *l = lp->pending; l; l = l->pend_next)
        l->in_pending = false;
    lp->pending = NULL;
    while (lp->all) {
        evl_link *l = lp->all;
        evl_close_begin(l, LINK_CLOSE_SHUTDOWN);
        evl_link_destroy(l);
        evl_link_free(l);   /* stop() frees everything, released or not */
    }
    rt_loop_break(lp->rl);
}

static void on_wake(rt_async *a, void *arg)
{
    (void)a;
    evl_loop *lp = arg;
    drain_inbox(lp);
    if (atomic_load(&lp->srv->stopping) && !lp->stopping)
        shutdown_loop(lp);
}

static void loop_teardown(evl_loop *lp)
{
    if (lp->idle.timer) evl_tlist_deinit(&lp->idle);
    if (lp->stall.timer) evl_tlist_deinit(&lp->stall);
    if (lp->closing.timer) evl_tlist_deinit(&lp->closing);
    if (lp->rate.timer) evl_tlist_deinit(&lp->rate);
    lp->pool_used = false;
    evl_pool_trim(lp);
    free(lp->rbuf);
    lp->rbuf = NULL;
    rt_timer_destroy(lp->defer);
    rt_async_destroy(lp->wake);
    rt_loop_destroy(lp->rl);
    lp->defer = NULL;
    lp->wake = NULL;
    lp->rl = NULL;
}

static int loop_setup(evl_loop *lp)
{
    const evl_server *srv = lp->srv;
    lp->rl = rt_loop_create();
    if (!lp->rl)
        return -ENOMEM;
    lp->wake = rt_async_create(lp->rl, on_wake, lp);
    lp->defer = rt_timer_create(lp->rl, on_defer, lp);
    lp->rbuf_cap = (size_t)srv->p[EVL_P_READ_BUDGET_BYTES];
    lp->rbuf = malloc(lp->rbuf_cap);
    if (!lp->wake || !lp->defer || !lp->rbuf)
        return -ENOMEM;
    /* Slack batches neighbouring deadlines into one wake-up: trimming is not urgent,
     * the others are timeouts of seconds where a few ms do not matter. */
    rt_ns trim = srv->p[EVL_P_TRIM_AFTER_MS] * RT_MS;
    if (evl_tlist_init(&lp->idle, lp->rl, trim / 4, evl_idle_expire, lp) ||
        evl_tlist_init(&lp->stall, lp->rl, 10 * RT_MS, evl_stall_expire, lp) ||
        evl_tlist_init(&lp->closing, lp->rl, 10 * RT_MS, evl_closing_expire, lp) ||
        evl_tlist_init(&lp->rate, lp->rl, 0, evl_rate_expire, lp))
        return -ENOMEM;
    return 0;
}

static void loop_main(void *arg)
{
    evl_loop *lp = arg;
    evl_cur_loop = lp;
    lp->start_err = loop_setup(lp);
    int err = lp->start_err;
    rt_queue_push(lp->srv->ready, lp, RT_NEVER, NULL);   /* lp is not touched by start after */
    if (!err)
        rt_loop_run(lp->rl);   /* stop_loops tears it down after the join */
    else
        loop_teardown(lp);     /* nobody will wake a loop that failed to start */
}

/* ---------------------------------------------------------------- ops */

static int check_params(const int64_t *p)
{
    if (p[EVL_P_RECV_LOW] >= p[EVL_P_RECV_HIGH] || p[EVL_P_RECV_HIGH] > p[EVL_P_RECV_QUEUE_CAP])
        return -EINVAL;
    if (p[EVL_P_SEND_LOW_BYTES] >= p[EVL_P_SEND_HIGH_BYTES] ||
        p[EVL_P_SEND_HIGH_BYTES] > p[EVL_P_SEND_HARD_BYTES])
        return -EINVAL;
    return 0;
}

static void stop_loops(evl_server *srv, int started)
{
    atomic_store(&srv->stopping, true);
    for (int i = 0; i < started; i++)
        if (!srv->loops[i].start_err)
            rt_async_send(srv->loops[i].wake);
    /* Tear down only after the join: the loop can see `stopping` through any other
     * wake-up and end before rt_async_send above has stopped using its wake watcher. */
    for (int i = 0; i < started; i++) {
        rt_thread_join(srv->loops[i].thr);
        if (!srv->loops[i].start_err)
            loop_teardown(&srv->loops[i]);
    }
}

static void server_free(evl_server *srv)
{
    rt_queue_destroy(srv->ready);
    free(srv->loops);
    free(srv);
}

static int evl_start(const struct link_start_args *a, struct link_server **out)
{
    evl_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return -ENOMEM;
    srv->host = a->host;
    for (int i = 0; i < EVL_P_COUNT; i++)
        srv->p[i] = a->params ? a->params[i] : evl_params[i].def;
    if (a->common)
        srv->common = *a->common;
    if (check_params(srv->p)) {
        free(srv);
        return -EINVAL;
    }
    long n = srv->p[EVL_P_LOOPS];
    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    srv->nloops = n < 1 ? 1 : (int)n;
    srv->loops = calloc((size_t)srv->nloops, sizeof *srv->loops);
    srv->ready = rt_queue_create((size_t)srv->nloops);
    if (!srv->loops || !srv->ready) {
        server_free(srv);
        return -ENOMEM;
    }
    int started = 0, err = 0;
    for (; started < srv->nloops; started++) {
        evl_loop *lp = &srv->loops[started];
        lp->srv = srv;
        lp->idx = started;
        char name[16];
        snprintf(name, sizeof name, "evl-%d", started);
        err = rt_thread_spawn(&lp->thr, RT_GROUP_LOOP, name, loop_main, lp);
        if (err)
            break;
    }
    for (int i = 0; i < started; i++) {
        void *item;
        rt_queue_pop(srv->ready, &item, RT_NEVER, NULL);
        evl_loop *lp = item;
        if (lp->start_err && !err)
            err = lp->start_err;
    }
    if (err) {
        stop_loops(srv, started);
        server_free(srv);
        return err;
    }
    *out = srv;
    return 0;
}

static int evl_attach(struct link_server *srv, vsock *s, uint32_t link_id, struct link **out)
{
    evl_link *l = atomic_load(&srv->stopping) ? NULL : calloc(1, sizeof *l);
    if (!l) {
        vsock_close_nb(s, VSOCK_CLOSE_GOING_AWAY);
        vsock_destroy(s);
        return atomic_load(&srv->stopping) ? -ECANCELED : -ENOMEM;
    }
    /* Least-loaded loop; the link stays there for life. */
    evl_loop *best = &srv->loops[0];
    for (int i = 1; i < srv->nloops; i++)
        if (atomic_load_explicit(&srv->loops[i].nlinks, memory_order_relaxed) <
            atomic_load_explicit(&best->nlinks, memory_order_relaxed))
            best = &srv->loops[i];
    atomic_fetch_add(&best->nlinks, 1);
    l->srv = srv;
    l->loop = best;
    l->vs = s;
    l->id = link_id;
    atomic_init(&l->req_cause, -1);
    atomic_init(&l->last_active, rt_now());
    l->state = EVL_NEW;
    *out = l;
    evl_post(l, EVL_REQ_ATTACH);
    return 0;
}

static void evl_stop(struct link_server *srv)
{
    stop_loops(srv, srv->nloops);
    server_free(srv);
}

/* evl_link.c */
int evl_send(struct link *l, vsock_msg *m);
int evl_recv(struct link *l, vsock_msg **out);
void evl_update_active(struct link *l);
bool evl_try_close_if_idle(struct link *l, rt_ns idle);
int evl_close(struct link *l);
void evl_release(struct link *l);
void evl_held(struct link *l, int64_t *in, int64_t *out);

LINK_VARIANT_EXPORT = {
    .abi_version = LINK_ABI_VERSION,
    .name = "evloop",
    .summary = "one libev loop per core, no thread per link, read budgets, lossless "
               "backpressure both ways, O(1) timeout lists, stall and overflow policies",
    .threads_per_link = 0,
    .loss_policy = LINK_LOSS_LOSSLESS,
    /* inbound never drops (reading pauses instead): no recv_queue_full, no rate_limited */
    .drop_reasons = LINK_DROP_BIT(LINK_DROP_SEND_OVERFLOW) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) | LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE),
    .params = evl_params,
    .n_params = EVL_P_COUNT,
    .caps = LINK_CAP_APP_INLINE,
    .start = evl_start,
    .attach = evl_attach,
    .send = evl_send,
    .recv = evl_recv,
    .update_active = evl_update_active,
    .try_close_if_idle = evl_try_close_if_idle,
    .close = evl_close,
    .release = evl_release,
    .stop = evl_stop,
    .held = evl_held,
};
