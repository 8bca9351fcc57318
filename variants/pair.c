/* pair.c — the seed's 协程聚合版本 (LinkV5): one thread serves two passive links, 1 ms read polls, 20 ms idle ticker. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "link.h"
#include "seed_link.h"

/* Sub-links are the seed's Link with its defaults (the const block at the end of the
 * 非阻塞读版本 code); the loop constants are LinkV5's. The sub-link's read timeout and
 * receive buffer are not params: a passive Link is read only by tryRead's polls and
 * delivers only to the unified queue. Link's retry settings are not either: tryWrite
 * never retries. */
enum { P_WRITE_TIMEOUT, P_SEND_QUEUE, P_READ_POLL, P_IDLE_TICK, P_UNIFIED, P_CLOSE_TIMEOUT,
       P_ADJACENT, P_FID, P_COUNT = P_FID + SEED_F_COUNT };

static const struct link_param pair_params[P_COUNT] = {
    [P_WRITE_TIMEOUT] = {"write_timeout_ms", 60000, 1, 86400000,
                         "Link DefaultWriteTimeout (1 min): deadline of tryWrite's one write, "
                         "during which the other link of the pair waits"},
    [P_SEND_QUEUE] = {"send_queue_len", 256, 1, 1 << 20,
                      "Link DefaultWriteBufferSize: each sub-link's sendCh (Send blocks when full)"},
    [P_READ_POLL] = {"read_poll_ms", 1, 1, 60000,
                     "tryRead's read deadline (time.Millisecond)"},
    [P_IDLE_TICK] = {"idle_tick_ms", 20, 1, 60000,
                     "idleTicker period: the wait after a round with no activity"},
    [P_UNIFIED] = {"unified_queue_len", 128, 1, 1 << 20,
                   "unifiedReceiveCh capacity, shared by both links (dropped when full)"},
    [P_CLOSE_TIMEOUT] = {"close_timeout_ms", 2000, 1, 86400000,
                         "Link DefaultCloseTimeout (2 s): a sub-link Close's write deadline"},
    [P_ADJACENT] = {"pair_adjacent", 0, 0, 1,
                    "how links are paired: 0 by arrival (the first link of a pair is served "
                    "alone until the next arrives); 1 adjacent ids 2k and 2k+1, given together "
                    "as NewLinkV5(connA, connB) is: the first waits, unread, for its partner "
                    "(an odd last link waits for good)"},
    SEED_FIDELITY_PARAMS(P_FID),
};

/* LinkV5's elog calls: tryRead logs every non-timeout error (a client's close too) as an
 * Error, a drop from the unified queue as a Warn, any failed write as an Error. */
static const struct seed_say pair_say = {
    .comp = "LinkV5",
    .recv_full = {"warn", "统一接收通道已满，消息被丢弃", 0},
    .write_failed = {"error", "写入消息失败，关闭子连接", SEED_LOG_ERR},
    .peer_closed = {"error", "读取消息失败，关闭子连接", SEED_LOG_ERR},
    .read_failed = {"error", "读取消息失败，关闭子连接", SEED_LOG_ERR},
};
/* readWriteLoop's own lines (Info, no link id). */
static const struct seed_line pair_loop_exit = {"info", "LinkV5 读写循环退出", 0};
static const struct seed_line pair_all_closed = {"info", "所有连接均已关闭，退出循环", 0};

enum { PAIR_OPEN, PAIR_JOINED, PAIR_SEALED };

struct pair;

struct pair_link {
    struct link base;
    struct pair *p;
    atomic_bool *alive;  /* its flag in the pair (linkAAlive / linkBAlive) */
};

/* LinkV5. The seed leaves pairing to its caller (NewLinkV5 takes two connections; 实施建议
 * 1 suggests pairing by the connections' traits). By arrival (the default) the first link
 * of a pair gets the thread at once and is served alone (solo_threads) until the second
 * joins that thread's loop; with pair_adjacent links 2k and 2k+1 pair, and the thread
 * serves nothing before 2k+1 joins. If the first closes while alone, the pair is sealed
 * and the next link starts a new pair. A pair whose partner is gone runs solo. */
struct pair {
    atomic_int refs;            /* one per sub-link, the thread, the server's pending */
    struct link_server *srv;
    rt_ctx *ctx;                /* LinkV5's ctx (Send checks it) */
    rt_queue *unified;          /* unifiedReceiveCh */
    struct pair_link *a;
    struct pair_link *b;        /* published by the OPEN → JOINED transition */
    atomic_int state;
    /* linkAAlive / linkBAlive live in the pair, which outlives both sub-links: a
     * sub-link's recv reads its partner's flag after the partner may have been freed. */
    atomic_bool alive[2];
    /* For the held op only: messages of each sub-link (0: A, 1: B, by link id) in the
     * unified queue, which the seed shares between them. */
    uint32_t ids[2];
    atomic_llong unified_held[2];
    /* pair_adjacent: the thread serves nothing until B joins (cancelled then), A closes
     * or stops (its parent is A's ctx), or B can no longer come (attach gives up). */
    rt_ctx *joined;
    bool wait_partner;
};

static int sub_index(const struct pair *p, uint32_t link_id)
{
    return link_id == p->ids[0] ? 0 : 1;
}

struct pair_server {
    struct link_server base;
    struct pair *pending;       /* the last pair, while it may still be OPEN (attach only) */
};

static void pair_unref(struct pair *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    void *item;
    while (rt_queue_try_pop(p->unified, &item) == 0)
        vsock_msg_free(item);
    rt_queue_destroy(p->unified);
    rt_ctx_destroy(p->joined);
    rt_ctx_destroy(p->ctx);
    free(p);
}

static void sub_free(struct link *l)
{
    pair_unref(((struct pair_link *)l)->p);
}

/* B takes part only once its attach has returned (its gate is open). */
static struct pair_link *ready_b(struct pair *p)
{
    if (atomic_load(&p->state) != PAIR_JOINED)
        return NULL;
    return rt_ctx_done(p->b->base.gate) ? p->b : NULL;
}

/* unifiedReceiveCh became non-empty or closed: either link's recv drains it, so tell
 * every sub-link the app still holds. */
static void unified_notify(void *arg, rt_queue *q, enum rt_queue_event ev)
{
    (void)q;
    struct pair *p = arg;
    if (ev != RT_Q_NONEMPTY && ev != RT_Q_CLOSED)
        return;
    struct pair_link *subs[2] = {p->a, ready_b(p)};
    for (int i = 0; i < 2; i++) {
        struct link *l = subs[i] ? &subs[i]->base : NULL;
        if (l && !atomic_load(&l->released) && l->host->on_readable)
            l->host->on_readable(l->host, l, l->id);
    }
}

/* markLinkClosed: once per sub-link, Close it; the other link keeps working. */
static void mark_closed(struct pair_link *pl, enum link_close_cause cause)
{
    bool expected = true;
    if (atomic_compare_exchange_strong(pl->alive, &expected, false))
        seed_link_finish(&pl->base, cause);
}

/* tryWrite: one non-blocking take from sendCh, then ONE write with the write deadline.
 * Kept flaw (协程聚合版本, 缺点 2): no retry — any failure, a time-out included, closes
 * the sub-link; and the write blocks the whole loop (both links) up to its deadline. */
static bool try_write(struct pair *p, struct pair_link *pl)
{
    if (!pl || !atomic_load(pl->alive))
        return false;
    struct link *l = &pl->base;
    void *item;
    if (rt_queue_try_pop(l->sendq, &item) != 0)
        return false;
    vsock_msg *m = item;
    int rc = vsock_write(l->s, m->data, m->len, m->opcode ? m->opcode : VSOCK_BINARY,
                         rt_deadline_in(SEED_MS(seed_param(p->srv, P_WRITE_TIMEOUT))));
    if (rc == 0) {
        seed_op_update_active(l);   /* the sub-link updates its own activity */
        vsock_msg_free(m);
        return true;
    }
    if (rc == -ETIMEDOUT)
        link_host_count(l->host, LINK_C_WRITE_TIMEOUTS, 1);
    if (l->say)
        seed_log(l, &l->say->write_failed, m->len, rc);
    link_host_drop(l->host, m, LINK_DROP_SEND_FAILED);
    mark_closed(pl, LINK_CLOSE_ERROR);
    return true;
}

/* tryRead: a read with a 1 ms deadline. Kept flaw (缺点 1): polling; the sub-link's
 * limiter (uber ratelimit, built by WithRateLimit) is never consulted by this loop, so
 * rate_limit_per_s has no effect on pair, as in the seed. */
static bool try_read(struct pair *p, struct pair_link *pl)
{
    if (!pl || !atomic_load(pl->alive))
        return false;
    struct link *l = &pl->base;
    vsock_msg *m;
    enum link_close_cause cause = LINK_CLOSE_ERROR;
    int rc = seed_read_msg(l, &m, SEED_MS(seed_param(p->srv, P_READ_POLL)), &cause);
    if (rc == -ETIMEDOUT)
        return false;
    if (rc != 0) {
        mark_closed(pl, cause);
        return true;   /* 错误也是一种活动 */
    }
    seed_op_update_active(l);
    int k = sub_index(p, m->link_id);
    atomic_fetch_add(&p->unified_held[k], 1);   /* before the push: a recv may pop it at once */
    if (rt_queue_try_push(p->unified, m) != 0) {   /* select default: dropped */
        atomic_fetch_sub(&p->unified_held[k], 1);
        if (l->say)
            seed_log(l, &l->say->recv_full, m->len, 0);
        link_host_drop(l->host, m, LINK_DROP_RECV_QUEUE_FULL);
    }
    return true;
}

/* Keep the solo_threads gauge: this thread serves exactly one live link (solo) or not. */
static void set_solo(struct pair *p, bool *solo, bool now)
{
    if (*solo != now)
        link_host_count(p->srv->host, LINK_C_SOLO_THREADS, now ? 1 : -1);
    *solo = now;
}

/* LinkV5.readWriteLoop. */
static void pair_loop(void *arg)
{
    struct pair *p = arg;
    struct pair_link *a = p->a;
    bool solo = false;
    rt_ticker tick;
    rt_ticker_init(&tick, SEED_MS(seed_param(p->srv, P_IDLE_TICK)));
    if (!seed_link_wait_gate(&a->base))
        goto out;
    if (p->wait_partner)   /* NewLinkV5 needs both connections: A is not read before */
        rt_sleep_until(RT_NEVER, p->joined);
    for (;;) {
        if (rt_ctx_done(p->ctx))
            break;
        struct pair_link *b = ready_b(p);
        set_solo(p, &solo, atomic_load(a->alive) != (b && atomic_load(b->alive)));
        if (!atomic_load(a->alive) && !(b && atomic_load(b->alive))) {
            int st = PAIR_OPEN;
            if (atomic_compare_exchange_strong(&p->state, &st, PAIR_SEALED) || st == PAIR_SEALED)
                break;   /* alone and closed: no partner will join any more */
            if (b) {
                seed_log(&a->base, &pair_all_closed, 0, 0);   /* 所有连接均已关闭 */
                break;
            }
            /* B joined but its attach has not returned yet: wait for it */
        }
        /* one round, writes first; both reads run even when the first had activity */
        bool w1 = try_write(p, a), w2 = try_write(p, b);
        bool r1 = try_read(p, a), r2 = try_read(p, b);
        if (!(w1 || w2 || r1 || r2) && rt_ticker_wait(&tick, p->ctx) != 0)
            break;
    }
out:
    set_solo(p, &solo, false);
    /* defer: logger.Info("LinkV5 读写循环退出"); linkA.Close(); linkB.Close();
     * close(unifiedReceiveCh) */
    seed_log(&a->base, &pair_loop_exit, 0, 0);
    mark_closed(a, LINK_CLOSE_SHUTDOWN);
    struct pair_link *b = atomic_load(&p->state) == PAIR_JOINED ? p->b : NULL;
    if (b)
        mark_closed(b, LINK_CLOSE_SHUTDOWN);
    rt_queue_close(p->unified);
    seed_link_unref(&a->base);
    if (b)
        seed_link_unref(&b->base);
    pair_unref(p);
}

/* LinkV5.Send: ErrSubLinkInV5Closed when the sub-link is marked dead, ErrLinkV5Closed
 * when the pair is cancelled; otherwise `targetLink.sendCh <- payload` (blocks when
 * full: -EAGAIN). It does not look at the sub-link's own ctx: a message sent after the
 * app closed it, before the loop noticed, is reported at close as unsent. */
static int pair_send(struct link *l, vsock_msg *m)
{
    struct pair_link *pl = (struct pair_link *)l;
    if (!atomic_load(pl->alive) || rt_ctx_done(pl->p->ctx))
        return -EPIPE;
    int rc = rt_queue_try_push(l->sendq, m);
    if (rc == -EAGAIN)
        link_host_count(l->host, LINK_C_SEND_BACKPRESSURE, 1);
    return rc;
}

/* Receive(): the unified queue, so either link's recv returns the pair's next message
 * (its link_id says whose). The seed closes that queue only when both links are gone;
 * a closed sub-link whose partner still lives answers -EPIPE at once instead, so the
 * app can let it go: its leftover messages come out of the partner's recv. */
static int pair_recv(struct link *l, vsock_msg **out)
{
    struct pair_link *pl = (struct pair_link *)l;
    struct pair *p = pl->p;
    if (!atomic_load(pl->alive)) {
        bool other_alive = pl == p->a
            ? atomic_load(&p->state) == PAIR_JOINED && atomic_load(&p->alive[1])
            : atomic_load(&p->alive[0]);
        if (other_alive)
            return -EPIPE;
    }
    int rc = seed_op_recv(l, out);
    if (rc == 0)
        atomic_fetch_sub(&p->unified_held[sub_index(p, (*out)->link_id)], 1);
    return rc;
}

/* held: this sub-link's messages in the unified queue; its own sendq. */
static void pair_held(struct link *l, int64_t *in, int64_t *out)
{
    struct pair_link *pl = (struct pair_link *)l;
    *in = atomic_load(&pl->p->unified_held[pl == pl->p->a ? 0 : 1]);
    *out = (int64_t)rt_queue_len(l->sendq);
}

static void pair_on_stop(struct link_server *srv)
{
    struct pair_server *ps = (struct pair_server *)srv;
    if (ps->pending)
        pair_unref(ps->pending);
    ps->pending = NULL;
}

static int pair_start(const struct link_start_args *a, struct link_server **out)
{
    int rc = seed_server_create(a, P_COUNT, P_FID, sizeof(struct pair_server), out);
    if (rc == 0)
        (*out)->on_stop = pair_on_stop;
    return rc;
}

static int pair_attach(struct link_server *srv, vsock *s, uint32_t id, struct link **out)
{
    struct pair_server *ps = (struct pair_server *)srv;
    seed_reap(srv);
    struct seed_link_cfg cfg = {
        .size = sizeof(struct pair_link),
        .send_cap = (size_t)seed_param(srv, P_SEND_QUEUE),
        .recv_cap = 0,                                 /* the pair's unified queue */
        .close_order = SEED_CLOSE_FRAME_THEN_CANCEL,   /* as LinkV2/LinkV4's Close */
        .close_timeout = SEED_MS(seed_param(srv, P_CLOSE_TIMEOUT)),
        .say = &pair_say,
        .limiter_kind = SEED_LIMIT_TAKE,               /* built, never used (try_read) */
        .threads = 1,                                  /* the pair's thread holds it */
    };
    struct link *l = seed_link_new(srv, s, id, &cfg);
    if (!l) {
        vsock_close(s, VSOCK_CLOSE_INTERNAL);
        vsock_destroy(s);
        return -ENOMEM;
    }
    struct pair_link *pl = (struct pair_link *)l;

    /* pair_adjacent: link 2k+1 joins 2k's pair; any other pending pair's partner can no
     * longer come (ids only grow): its thread stops waiting and serves its link alone. */
    bool adjacent = seed_param(srv, P_ADJACENT) != 0;
    struct pair *p = ps->pending;
    if (p && adjacent && p->a->base.id + 1 != id) {
        ps->pending = NULL;
        rt_ctx_cancel(p->joined);
        pair_unref(p);   /* the server's pending ref */
        p = NULL;
    }
    /* The second link of a pair joins the running loop if its first is still there. */
    if (p) {
        ps->pending = NULL;
        pl->p = p;
        l->recvq = p->unified;
        l->on_free = sub_free;
        atomic_fetch_add(&p->refs, 1);
        p->b = pl;
        p->ids[1] = id;
        pl->alive = &p->alive[1];
        atomic_store(pl->alive, true);
        int st = PAIR_OPEN;
        if (atomic_compare_exchange_strong(&p->state, &st, PAIR_JOINED)) {
            pair_unref(p);   /* the server's pending ref */
            rt_ctx_cancel(p->joined);   /* a waiting thread starts serving both */
            *out = l;
            seed_link_open_gate(l);
            return 0;
        }
        /* The first closed alone and its loop is gone: start a new pair. */
        l->on_free = NULL;
        pair_unref(p);   /* the ref taken for this link */
        pair_unref(p);   /* the server's pending ref */
    }

    p = calloc(1, sizeof *p);
    if (p) {
        p->ctx = rt_ctx_create(srv->stop_ctx);
        p->joined = rt_ctx_create(l->ctx);
        p->unified = rt_queue_create((size_t)seed_param(srv, P_UNIFIED));
        if (!p->ctx || !p->joined || !p->unified) {
            rt_ctx_destroy(p->ctx);
            rt_ctx_destroy(p->joined);
            rt_queue_destroy(p->unified);
            free(p);
            p = NULL;
        }
    }
    if (!p) {
        seed_link_abort(l, NULL, 0);
        return -ENOMEM;
    }
    p->srv = srv;
    p->a = pl;
    p->ids[0] = id;
    p->ids[1] = UINT32_MAX;
    /* by arrival every new pair takes the next link; adjacent: only an even id's pair
     * (its odd partner may come), and its thread waits for it */
    bool takes_partner = !adjacent || id % 2 == 0;
    p->wait_partner = adjacent && takes_partner;
    atomic_init(&p->alive[0], true);
    atomic_init(&p->alive[1], false);
    pl->alive = &p->alive[0];
    atomic_init(&p->state, PAIR_OPEN);
    atomic_init(&p->refs, 1);   /* A's */
    rt_queue_set_notify(p->unified, unified_notify, p, rt_queue_cap(p->unified));
    pl->p = p;
    l->recvq = p->unified;
    l->on_free = sub_free;

    char name[32];
    int err = 0;
    snprintf(name, sizeof name, "pair-%u", id);
    atomic_fetch_add(&p->refs, takes_partner ? 2 : 1);   /* the thread's, the server's pending */
    seed_thr *t = seed_spawn(name, pair_loop, p, &err);
    if (!t) {
        atomic_fetch_sub(&p->refs, takes_partner ? 2 : 1);
        return seed_link_abort(l, NULL, 0);   /* frees A, which frees the pair */
    }
    seed_thr_commit(srv, t);
    if (takes_partner)
        ps->pending = p;
    else
        atomic_store(&p->state, PAIR_SEALED);   /* alone for good: no partner joins */
    *out = l;
    seed_link_open_gate(l);
    return 0;
}

LINK_VARIANT_EXPORT = {
    .abi_version = LINK_ABI_VERSION,
    .name = "pair",
    .summary = "seed LinkV5: one thread per two links, 1 ms read polls, 20 ms idle tick, drops when full",
    .threads_per_link = 0.5,
    .loss_policy = LINK_LOSS_DROPS,
    /* the limiter is never consulted (see try_read): no rate_limited */
    .drop_reasons = LINK_DROP_BIT(LINK_DROP_RECV_QUEUE_FULL) | LINK_DROP_BIT(LINK_DROP_BROKEN_BY_DEADLINE) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) | LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE),
    .params = pair_params,
    .n_params = P_COUNT,
    .start = pair_start,
    .attach = pair_attach,
    .send = pair_send,
    .recv = pair_recv,
    .update_active = seed_op_update_active,
    .try_close_if_idle = seed_op_try_close_if_idle,
    .close = seed_op_close,
    .release = seed_op_release,
    .stop = seed_server_stop,
    .held = pair_held,
};
