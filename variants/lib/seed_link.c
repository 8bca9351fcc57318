/* seed_link.c — the Go `Link` common to the seed designs: Send/Receive mapping, closeOnce, idle, retry, refcounts, threads. */
#include "seed_link.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT_BATCH 64

/* ---------------------------------------------------------------- server lock */

/* A spinlock, not a mutex: variants may not call pthread; the sections below are a few
 * pointer moves (list insert/unlink), never a wait. */
static void srv_lock(struct link_server *srv)
{
    while (atomic_flag_test_and_set_explicit(&srv->lock, memory_order_acquire)) {
    }
}

static void srv_unlock(struct link_server *srv)
{
    atomic_flag_clear_explicit(&srv->lock, memory_order_release);
}

int seed_server_create(const struct link_start_args *a, int n_params, int fid, size_t size,
                       struct link_server **out)
{
    struct link_server *srv = calloc(1, size);
    if (!srv)
        return -ENOMEM;
    srv->params = calloc((size_t)(n_params > 0 ? n_params : 1), sizeof *srv->params);
    srv->stop_ctx = rt_ctx_create(NULL);
    if (!srv->params || !srv->stop_ctx) {
        free(srv->params);
        rt_ctx_destroy(srv->stop_ctx);
        free(srv);
        return -ENOMEM;
    }
    if (a->params && n_params > 0)
        memcpy(srv->params, a->params, (size_t)n_params * sizeof *srv->params);
    srv->n_params = n_params;
    srv->fid = fid;
    srv->host = a->host;
    if (a->common)
        srv->common = *a->common;
    atomic_flag_clear(&srv->lock);
    atomic_init(&srv->zombies, NULL);
    atomic_init(&srv->committed, 0);
    atomic_init(&srv->joined, 0);
    *out = srv;
    return 0;
}

/* ---------------------------------------------------------------- threads */

struct seed_thr {
    rt_thread *t;
    /* Two parties must be done before the handle may be joined: the thread (its
     * function returned) and the spawner (the handle is committed). The last one
     * pushes it onto the server's zombie stack. */
    atomic_int parties;
    void (*fn)(void *);
    void *arg;
    struct link_server *srv;   /* set by commit, before its party is counted */
    seed_thr *next;
};

static void zombie_push(struct link_server *srv, seed_thr *t)
{
    seed_thr *head = atomic_load(&srv->zombies);
    do {
        t->next = head;
    } while (!atomic_compare_exchange_weak(&srv->zombies, &head, t));
}

static void trampoline(void *arg)
{
    seed_thr *t = arg;
    t->fn(t->arg);
    if (atomic_fetch_sub(&t->parties, 1) == 1)
        zombie_push(t->srv, t);
}

seed_thr *seed_spawn(const char *name, void (*fn)(void *), void *arg, int *err)
{
    seed_thr *t = calloc(1, sizeof *t);
    if (!t) {
        *err = -ENOMEM;
        return NULL;
    }
    t->fn = fn;
    t->arg = arg;
    atomic_init(&t->parties, 2);
    int rc = rt_thread_spawn(&t->t, RT_GROUP_LINK, name, trampoline, t);
    if (rc < 0) {
        free(t);
        *err = -EAGAIN;   /* link.h: a thread could not be created */
        return NULL;
    }
    return t;
}

void seed_thr_commit(struct link_server *srv, seed_thr *t)
{
    t->srv = srv;
    atomic_fetch_add(&srv->committed, 1);
    if (atomic_fetch_sub(&t->parties, 1) == 1)
        zombie_push(srv, t);
}

void seed_thr_join(seed_thr *t)
{
    rt_thread_join(t->t);
    free(t);
}

/* Join what finished so far: a zombie's function has returned, so its join is prompt.
 * The single consumer takes the whole stack at once (no ABA with exchange). */
void seed_reap(struct link_server *srv)
{
    seed_thr *z = atomic_exchange(&srv->zombies, NULL);
    while (z) {
        seed_thr *n = z->next;
        seed_thr_join(z);
        atomic_fetch_add(&srv->joined, 1);
        z = n;
    }
}

/* stop(): every committed thread, once its loop has seen its link closed. */
static void reap_all(struct link_server *srv)
{
    for (;;) {
        seed_reap(srv);
        if (atomic_load(&srv->joined) >= atomic_load(&srv->committed))
            return;
        rt_sleep(RT_MS, NULL);
    }
}

/* ---------------------------------------------------------------- notifiers */

/* sendCh fell from full to cap-1: a Send blocked in Go would now go through. */
static void sendq_notify(void *arg, rt_queue *q, enum rt_queue_event ev)
{
    (void)q;
    struct link *l = arg;
    if (ev == RT_Q_LOW && !atomic_load(&l->released) && l->host->on_writable)
        l->host->on_writable(l->host, l, l->id);
}

/* receiveCh became non-empty, or was closed: the app's `range l.Receive()` wakes. */
static void recvq_notify(void *arg, rt_queue *q, enum rt_queue_event ev)
{
    (void)q;
    struct link *l = arg;
    if ((ev == RT_Q_NONEMPTY || ev == RT_Q_CLOSED) && !atomic_load(&l->released) &&
        l->host->on_readable)
        l->host->on_readable(l->host, l, l->id);
}

/* ---------------------------------------------------------------- links */

struct link *seed_link_new(struct link_server *srv, vsock *s, uint32_t id,
                           const struct seed_link_cfg *cfg)
{
    struct link *l = calloc(1, cfg->size);
    if (!l)
        return NULL;
    l->srv = srv;
    l->host = srv->host;
    l->id = id;
    l->s = s;
    l->close_order = cfg->close_order;
    l->close_timeout = cfg->close_timeout;
    l->close_waits_reply = seed_fid_on(srv, SEED_F_CLOSE_WAITS_REPLY);
    l->say = seed_fid_on(srv, SEED_F_LOG) ? cfg->say : NULL;
    l->auto_close = srv->common.auto_close;
    l->sendq = rt_queue_create(cfg->send_cap);
    l->ctx = rt_ctx_create(cfg->parent_ctx ? cfg->parent_ctx : srv->stop_ctx);
    l->gate = rt_ctx_create(NULL);
    if (cfg->recv_cap) {
        l->recvq = rt_queue_create(cfg->recv_cap);
        l->owns_recvq = true;
    }
    if (!l->sendq || !l->ctx || !l->gate || (cfg->recv_cap && !l->recvq)) {
        rt_queue_destroy(l->sendq);
        rt_queue_destroy(l->recvq);
        rt_ctx_destroy(l->ctx);
        rt_ctx_destroy(l->gate);
        free(l);
        return NULL;
    }
    /* Go's cancel() does not touch the conn; here the ctx also wakes the vsock. The
     * same happens in Go a moment later, when Close() closes the conn. The close frame's
     * own write waits on the server's stop ctx, not this one (close_sock): cancelling
     * first (poll's order) does not cut Go's write deadline short. */
    vsock_set_ctx(s, l->ctx);
    /* The seed's conn is a net.Conn under gobwas/ws: a deadline inside a frame loses it
     * (read) or cuts it (write) unless the design is told to repair that
     * (docs/seed-fidelity.md). */
    vsock_set_go(s, (seed_fid_on(srv, SEED_F_READ_KEEPS_PARTIAL) ? 0 : VSOCK_GO_READ) |
                    (seed_fid_on(srv, SEED_F_WRITE_RESUMES_PARTIAL) ? 0 : VSOCK_GO_WRITE));
    rt_queue_set_notify(l->sendq, sendq_notify, l, cfg->send_cap - 1);
    if (l->owns_recvq)   /* low-water = cap: a pop never reaches it, so no RT_Q_LOW */
        rt_queue_set_notify(l->recvq, recvq_notify, l, cfg->recv_cap);
    if (srv->common.rate_limit_per_s > 0) {
        /* WithRateLimit: x/time/rate NewLimiter(qps, qps) or uber ratelimit.New(rate);
         * rt_limiter serves both (Allow or Take), the burst only matters to Allow. */
        double r = (double)srv->common.rate_limit_per_s;
        l->limited = true;
        rt_limiter_init(&l->limiter, r, r, rt_now());
    }
    (void)cfg->limiter_kind;   /* recorded by the design: which call its loop makes */
    atomic_init(&l->closing, false);
    atomic_init(&l->cause, LINK_CLOSE_APP);
    atomic_init(&l->finished, false);
    atomic_init(&l->rx_in_hand, 0);
    atomic_init(&l->released, false);
    atomic_init(&l->last_active, rt_now());   /* lastActiveTime: time.Now() */
    atomic_init(&l->refs, 1 + cfg->threads);
    atomic_init(&l->threads_left, cfg->threads);

    srv_lock(srv);
    l->next = srv->links;
    if (srv->links)
        srv->links->prev = l;
    srv->links = l;
    srv_unlock(srv);
    return l;
}

/* Free without touching the server list (the caller unlinked it). */
static void link_free(struct link *l)
{
    void *item;
    if (l->on_free)
        l->on_free(l);
    /* What is left here was never handed to anyone: the send queue was drained at
     * finish (only an aborted link skips finish, and its app never saw it); the app
     * drains the receive queue before release. */
    while (rt_queue_try_pop(l->sendq, &item) == 0)
        vsock_msg_free(item);
    if (l->owns_recvq)
        while (rt_queue_try_pop(l->recvq, &item) == 0)
            vsock_msg_free(item);
    rt_queue_destroy(l->sendq);
    if (l->owns_recvq)
        rt_queue_destroy(l->recvq);
    vsock_destroy(l->s);
    rt_ctx_destroy(l->ctx);
    rt_ctx_destroy(l->gate);
    free(l);
}

void seed_link_unref(struct link *l)
{
    if (atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    struct link_server *srv = l->srv;
    srv_lock(srv);
    if (l->prev)
        l->prev->next = l->next;
    else
        srv->links = l->next;
    if (l->next)
        l->next->prev = l->prev;
    srv_unlock(srv);
    link_free(l);
}

bool seed_link_wait_gate(struct link *l)
{
    rt_sleep_until(RT_NEVER, l->gate);
    return !l->aborted;
}

void seed_link_open_gate(struct link *l)
{
    rt_ctx_cancel(l->gate);
}

int seed_link_abort(struct link *l, seed_thr **started, int n)
{
    l->aborted = true;   /* written before the gate opens: the threads read it after */
    atomic_store(&l->released, true);   /* no notifier may reach the host */
    seed_link_close(l, LINK_CLOSE_SHUTDOWN);
    seed_link_open_gate(l);
    for (int i = 0; i < n; i++)
        seed_thr_join(started[i]);
    atomic_store(&l->refs, 1);          /* nobody else holds it: the app never saw it */
    seed_link_unref(l);
    return -EAGAIN;
}

int seed_attach(struct link_server *srv, vsock *s, uint32_t id, const struct seed_link_cfg *cfg,
                const struct seed_thread_spec *threads, int n, struct link **out)
{
    seed_reap(srv);
    struct link *l = seed_link_new(srv, s, id, cfg);
    if (!l) {
        vsock_close(s, VSOCK_CLOSE_INTERNAL);
        vsock_destroy(s);
        return -ENOMEM;
    }
    seed_thr *t[4];
    int err = 0;
    for (int i = 0; i < n && i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s%u", threads[i].name_prefix, id);
        if (!(t[i] = seed_spawn(name, threads[i].fn, l, &err)))
            return seed_link_abort(l, t, i);
    }
    for (int i = 0; i < n && i < 4; i++)
        seed_thr_commit(srv, t[i]);
    *out = l;
    seed_link_open_gate(l);
    return 0;
}

static void close_sock(struct link *l)
{
    rt_ns deadline = rt_deadline_in(l->close_timeout > 0 ? l->close_timeout : 2 * RT_S);
    if (l->close_waits_reply) {   /* the harness's RFC close, kept as an option */
        vsock_close_within(l->s, VSOCK_CLOSE_NORMAL, deadline);
        return;
    }
    /* The seed: SetWriteDeadline(now + DefaultCloseTimeout); WriteServerMessage(OpClose,
     * nil), an empty close frame (the client reads 1005); conn.Close() at once, never
     * reading the client's reply. The write waits for room only until its deadline or
     * the server's stop (which closes every link in parallel, as Go's goroutines would). */
    vsock_close_after_frame(l->s, 0, deadline, l->srv->stop_ctx);
}

int seed_link_close(struct link *l, enum link_close_cause cause)
{
    bool expected = false;
    if (!atomic_compare_exchange_strong(&l->closing, &expected, true))
        return 0;   /* closeOnce */
    /* Only a won Close cancels l->ctx: done already means stop() cancelled its parent,
     * whatever error the woken loop reports. */
    if (rt_ctx_done(l->ctx))
        cause = LINK_CLOSE_SHUTDOWN;
    atomic_store(&l->cause, (int)cause);
    /* The close frame goes out under the design's DefaultCloseTimeout (Go:
     * SetWriteDeadline(now + DefaultCloseTimeout), WriteServerMessage(OpClose)); then the
     * fd is closed, which also wakes a reader or writer blocked on it (Go:
     * conn.Close()). It runs in the caller's thread, as Go's Close does: the idle
     * reaper pays one write and one close per link, no round trip (close_sock). */
    if (l->close_order == SEED_CLOSE_FRAME_THEN_CANCEL) {
        close_sock(l);
        rt_ctx_cancel(l->ctx);
    } else {
        rt_ctx_cancel(l->ctx);
        close_sock(l);
    }
    return 0;
}

void seed_link_finish(struct link *l, enum link_close_cause cause)
{
    void *item;
    seed_link_close(l, cause);
    if (atomic_exchange(&l->finished, true))
        return;
    seed_count_flush(l);
    /* Closing sendq first makes a racing Send answer -EPIPE instead of slipping a
     * message in after the drain: every message is either written or reported. */
    rt_queue_close(l->sendq);
    while (rt_queue_try_pop(l->sendq, &item) == 0)
        link_host_drop(l->host, item, LINK_DROP_UNSENT_AT_CLOSE);
    if (!l->aborted && l->host->on_closed)
        l->host->on_closed(l->host, l, l->id, (enum link_close_cause)atomic_load(&l->cause));
    /* close(l.receiveCh) in the loop's defer: the app drains it, then sees -EPIPE. */
    if (l->owns_recvq)
        rt_queue_close(l->recvq);
}

void seed_link_thread_exit(struct link *l, enum link_close_cause cause)
{
    if (atomic_fetch_sub(&l->threads_left, 1) == 1)
        seed_link_finish(l, cause);
    else
        seed_link_close(l, cause);   /* wakes the other thread; it finishes */
    seed_link_unref(l);
}

void seed_server_stop(struct link_server *srv)
{
    /* 1. Wake everything, then close every link still in the list (take a ref unless
     * it is being freed): no close waits for room or for its peer's reply any more. */
    rt_ctx_cancel(srv->stop_ctx);
    size_t n = 0, cap = 0;
    struct link **all = NULL;
    srv_lock(srv);
    for (struct link *l = srv->links; l; l = l->next)
        cap++;
    srv_unlock(srv);
    all = calloc(cap ? cap : 1, sizeof *all);
    srv_lock(srv);
    for (struct link *l = srv->links; l && all && n < cap; l = l->next) {
        int r = atomic_load(&l->refs);
        while (r > 0 && !atomic_compare_exchange_weak(&l->refs, &r, r + 1)) {
        }
        if (r > 0)
            all[n++] = l;
    }
    srv_unlock(srv);
    for (size_t i = 0; i < n; i++) {
        seed_link_close(all[i], LINK_CLOSE_SHUTDOWN);
        seed_link_unref(all[i]);
    }
    free(all);
    /* 2. Every loop sees its link closed and returns: join them all. */
    reap_all(srv);
    if (srv->on_stop)
        srv->on_stop(srv);
    /* 3. What is left is held only by the app, which may not use it after stop. */
    srv_lock(srv);
    struct link *rest = srv->links;
    srv->links = NULL;
    srv_unlock(srv);
    while (rest) {
        struct link *nx = rest->next;
        link_free(rest);
        rest = nx;
    }
    rt_ctx_destroy(srv->stop_ctx);
    free(srv->params);
    free(srv);
}

/* ---------------------------------------------------------------- the seed's log lines */

/* What Go's error would say (elog.FieldErr): the text matters only for the line's size. */
static const char *go_err(int e)
{
    switch (-e) {
    case ETIMEDOUT: return "write tcp 127.0.0.1:8080->127.0.0.1:51234: i/o timeout";
    case EPIPE: return "write tcp 127.0.0.1:8080->127.0.0.1:51234: write: broken pipe";
    case ECONNRESET: return "read tcp 127.0.0.1:8080->127.0.0.1:51234: read: connection reset by peer";
    case EPROTO: return "frame header is not masked";
    case EMSGSIZE: return "frame too large";
    case ECANCELED: return "read tcp 127.0.0.1:8080->127.0.0.1:51234: use of closed network connection";
    default: return "unexpected EOF";
    }
}

void seed_log(struct link *l, const struct seed_line *line, int64_t n, int err)
{
    if (!l->say || !line->msg)
        return;
    /* zap's JSON: level, message, the component (logger.With), then the call's fields in
     * the seed's order; userInfo is the session's (here the link id), encoded as an object */
#define HEAD "\"lv\":\"%s\",\"msg\":\"%s\",\"comp\":\"%s\",\"linkID\":\"%u\""
#define USER ",\"userInfo\":{\"uid\":%u,\"device\":\"linkbench\"}"
#define LEN ",\"payloadLen\":%lld"
#define SIZE ",\"payloadSize\":%lld"
#define ERR ",\"error\":\"%s\""
    struct link_host *h = l->host;
    const char *c = l->say->comp, *m = line->msg, *lv = line->lv;
    unsigned id = l->id;
    long long len = (long long)n;
    switch (line->fields) {
    case 0: link_host_log(h, id, HEAD, lv, m, c, id); break;
    case SEED_LOG_USER: link_host_log(h, id, HEAD USER, lv, m, c, id, id); break;
    case SEED_LOG_ERR: link_host_log(h, id, HEAD ERR, lv, m, c, id, go_err(err)); break;
    case SEED_LOG_USER | SEED_LOG_ERR:
        link_host_log(h, id, HEAD USER ERR, lv, m, c, id, id, go_err(err));
        break;
    case SEED_LOG_LEN | SEED_LOG_ERR:
        link_host_log(h, id, HEAD LEN ERR, lv, m, c, id, len, go_err(err));
        break;
    case SEED_LOG_USER | SEED_LOG_SIZE:
        link_host_log(h, id, HEAD USER SIZE, lv, m, c, id, id, len);
        break;
    default: link_host_log(h, id, HEAD, lv, m, c, id); break;
    }
#undef HEAD
#undef USER
#undef LEN
#undef SIZE
#undef ERR
}

/* ---------------------------------------------------------------- I/O helpers */

static int opcode_of(const vsock_msg *m)
{
    return m->opcode ? m->opcode : VSOCK_BINARY;
}

enum seed_send_result seed_send_with_retry(struct link *l, vsock_msg *m, rt_backoff *rs,
                                           rt_ns write_timeout, int max_attempts,
                                           bool update_active)
{
    enum seed_send_result res = SEED_SEND_SPENT;
    for (int i = 0; max_attempts <= 0 || i < max_attempts; i++) {
        if (rt_ctx_done(l->ctx)) {
            res = SEED_SEND_CANCELLED;
            goto give_up;
        }
        /* SetWriteDeadline + Write. A retry writes the whole message again: after a
         * timed-out partial write the wire carries the cut frame, then this one (Go);
         * with write_resumes_partial vsock resumes the cut frame instead. */
        int rc = vsock_write(l->s, m->data, m->len, opcode_of(m), rt_deadline_in(write_timeout));
        if (rc == 0) {
            if (update_active)
                seed_op_update_active(l);
            vsock_msg_free(m);
            return SEED_SENT;
        }
        /* the seed logs every failed attempt, a time-out too, before deciding */
        if (l->say)
            seed_log(l, &l->say->write_failed, m->len, rc);
        if (rc != -ETIMEDOUT) {   /* only a time-out is retried */
            res = SEED_SEND_ERROR;
            goto give_up;
        }
        link_host_count(l->host, LINK_C_WRITE_TIMEOUTS, 1);
        rt_ns d;
        if (!rt_backoff_next(rs, &d)) {
            res = SEED_SEND_SPENT;
            goto give_up;
        }
        link_host_count(l->host, LINK_C_RETRIES, 1);
        if (rt_sleep(d, l->ctx) != 0) {   /* case <-l.ctx.Done(): return false */
            res = SEED_SEND_CANCELLED;
            goto give_up;
        }
    }
give_up:
    if (res == SEED_SEND_SPENT && l->say)
        seed_log(l, &l->say->retries_spent, 0, 0);
    link_host_drop(l->host, m, LINK_DROP_SEND_FAILED);
    return res;
}

enum link_close_cause seed_send_cause(enum seed_send_result r)
{
    switch (r) {
    case SEED_SEND_SPENT: return LINK_CLOSE_RETRY_SPENT;
    case SEED_SEND_CANCELLED: return LINK_CLOSE_SHUTDOWN;   /* the closer's cause wins */
    default: return LINK_CLOSE_ERROR;
    }
}

int seed_read_msg(struct link *l, vsock_msg **out, rt_ns timeout, enum link_close_cause *cause)
{
    int rc = vsock_read(l->s, out, rt_deadline_in(timeout));
    if (rc == 0) {
        (*out)->link_id = l->id;
        return 0;
    }
    if (rc == -ETIMEDOUT) {
        /* Go: `ne.Timeout()` → "no data", the loop goes on; the bytes of a frame the
         * deadline cut were consumed all the same, and that message is gone. */
        vsock_msg *lost = vsock_take_broken(l->s);
        if (lost) {
            lost->link_id = l->id;
            link_host_drop(l->host, lost, LINK_DROP_BROKEN_BY_DEADLINE);
        }
        if (++l->pend_read_timeouts >= COUNT_BATCH) {
            link_host_count(l->host, LINK_C_READ_TIMEOUTS, l->pend_read_timeouts);
            l->pend_read_timeouts = 0;
        }
        return -ETIMEDOUT;
    }
    /* The seed tells a client close (1005/1001) from other errors only in its log;
     * both end the loop. A close we started ourselves keeps the first Close's cause; in
     * Go the Read it interrupted fails with "use of closed network connection", logged
     * as any other read error. */
    *cause = rc == -EPIPE ? LINK_CLOSE_PEER : LINK_CLOSE_ERROR;
    if (l->say) {
        int code = vsock_close_code(l->s);
        if (rc == -EPIPE && (code == VSOCK_CLOSE_NO_STATUS || code == VSOCK_CLOSE_GOING_AWAY))
            seed_log(l, &l->say->peer_closed, 0, 0);
        else
            seed_log(l, &l->say->read_failed, 0, rc == -EPIPE && !code ? -ECANCELED : rc);
    }
    return 1;
}

int seed_deliver_blocking(struct link *l, vsock_msg *m)
{
    atomic_store(&l->rx_in_hand, 1);
    int rc = rt_queue_push(l->recvq, m, RT_NEVER, l->ctx);
    atomic_store(&l->rx_in_hand, 0);
    if (rc == 0)
        return 0;
    /* The seed returns on ctx.Done() and the payload is gone: the queue was full when
     * the link closed. Named for what it is (a blocking design never drops for a full
     * queue), and reported so the inbound accounting stays exact. */
    link_host_drop(l->host, m, LINK_DROP_CANCELLED);
    return rc;
}

int seed_deliver_try(struct link *l, vsock_msg *m, bool with_ctx)
{
    if (with_ctx && rt_ctx_done(l->ctx)) {   /* LinkV4's `case <-l.ctx.Done(): return` */
        link_host_drop(l->host, m, LINK_DROP_CANCELLED);
        return -ECANCELED;
    }
    if (rt_queue_try_push(l->recvq, m) == 0)
        return 0;
    if (l->say)   /* the seed's Warn, one per dropped message */
        seed_log(l, &l->say->recv_full, m->len, 0);
    link_host_drop(l->host, m, LINK_DROP_RECV_QUEUE_FULL);   /* default: dropped */
    return 1;
}

bool seed_allow(struct link *l)
{
    return !l->limited || rt_limiter_allow(&l->limiter);
}

void seed_count_rate_wait(struct link *l)
{
    if (++l->pend_rate_waits >= COUNT_BATCH) {
        link_host_count(l->host, LINK_C_RATE_WAITS, l->pend_rate_waits);
        l->pend_rate_waits = 0;
    }
}

void seed_count_flush(struct link *l)
{
    if (l->pend_read_timeouts)
        link_host_count(l->host, LINK_C_READ_TIMEOUTS, l->pend_read_timeouts);
    if (l->pend_rate_waits)
        link_host_count(l->host, LINK_C_RATE_WAITS, l->pend_rate_waits);
    l->pend_read_timeouts = l->pend_rate_waits = 0;
}

/* ---------------------------------------------------------------- link ops */

int seed_op_send(struct link *l, vsock_msg *m)
{
    if (rt_ctx_done(l->ctx))
        return -EPIPE;
    int rc = rt_queue_try_push(l->sendq, m);
    if (rc == -EAGAIN) {   /* Go's Send would block here */
        link_host_count(l->host, LINK_C_SEND_BACKPRESSURE, 1);
        return -EAGAIN;
    }
    /* Go re-checks ctx after the push and answers ErrLinkClosed with the payload still
     * in sendCh; here m already belongs to the queue, so 0 it is: the close drains it
     * as unsent_at_close. */
    return rc;
}

int seed_op_recv(struct link *l, vsock_msg **out)
{
    void *item;
    int rc = rt_queue_try_pop(l->recvq, &item);
    if (rc == 0)
        *out = item;
    return rc;
}

void seed_op_update_active(struct link *l)
{
    if (!rt_ctx_done(l->ctx))   /* UpdateActiveTime: only while not cancelled */
        atomic_store(&l->last_active, rt_now());
}

bool seed_op_try_close_if_idle(struct link *l, rt_ns idle)
{
    if (rt_ctx_done(l->ctx))
        return true;
    if (!l->auto_close || rt_now() - atomic_load(&l->last_active) <= idle)
        return false;
    seed_link_close(l, LINK_CLOSE_IDLE);
    return true;
}

int seed_op_close(struct link *l)
{
    return seed_link_close(l, LINK_CLOSE_APP);
}

void seed_op_release(struct link *l)
{
    atomic_store(&l->released, true);
    seed_link_close(l, LINK_CLOSE_APP);   /* only if the app forgot to close it */
    seed_link_unref(l);
}

void seed_op_held(struct link *l, int64_t *in, int64_t *out)
{
    *in = (l->owns_recvq ? (int64_t)rt_queue_len(l->recvq) : 0) + atomic_load(&l->rx_in_hand);
    *out = (int64_t)rt_queue_len(l->sendq);
}
