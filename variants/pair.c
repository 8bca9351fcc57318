/* pair.c — the seed's 协程聚合版本 (LinkV5): one thread serves two passive links (group_size: N), 1 ms read polls, 20 ms idle ticker. */
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
       P_ADJACENT, P_GROUP, P_FID, P_COUNT = P_FID + SEED_F_COUNT };

/* Sub-link lookups scan the group, so the group is kept small. */
#define GROUP_MAX 256

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
    /* Not LinkV5's code: the seed names the fixed pair as a flaw (缺点 5, 扩展性限制: 当前
     * 模型固定聚合两个连接); the same loop over N sub-links answers it within the design. */
    [P_GROUP] = {"group_size", 2, 1, GROUP_MAX,
                 "links one thread serves with LinkV5's loop (2: LinkV5; N: writes to each, "
                 "then a read poll of each, then the idle tick, one unified queue for all N); "
                 "with pair_adjacent, links kN .. kN+N-1 form a group"},
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

/* A group's state: OPEN (links may join), JOINING (attach is adding one: the loop may
 * not seal meanwhile), FULL (group_size links joined), SEALED (every link closed while
 * the group was open: no more joins; the next link starts a new group). */
enum { PAIR_OPEN, PAIR_JOINING, PAIR_FULL, PAIR_SEALED };

struct pair;

struct pair_link {
    struct link base;
    struct pair *p;
    int k;               /* its place in the group (0: LinkV5's linkA, 1: linkB, ...) */
};

/* One sub-link's slot in the group. linkAAlive / linkBAlive live here, in the group,
 * which outlives every sub-link: a sub-link's recv reads its partners' flags after they
 * may have been freed. */
struct pair_sub {
    struct pair_link *pl;       /* published by n_joined */
    atomic_bool alive;
    uint32_t id;
    /* for the held op only: its messages in the unified queue, which the seed shares */
    atomic_llong unified_held;
};

/* LinkV5. The seed leaves pairing to its caller (NewLinkV5 takes two connections; 实施建议
 * 1 suggests pairing by the connections' traits). By arrival (the default) the first link
 * of a group gets the thread at once and is served alone (solo_threads) until the next
 * joins that thread's loop; with pair_adjacent links kN .. kN+N-1 form a group, and the
 * thread serves nothing before the group is complete. If every link closes while the
 * group is open, it is sealed and the next link starts a new group. A group whose
 * partners are gone goes on serving the survivors (one: solo). */
struct pair {
    atomic_int refs;            /* one per sub-link, the thread, the server's pending */
    struct link_server *srv;
    rt_ctx *ctx;                /* LinkV5's ctx (Send checks it) */
    rt_queue *unified;          /* unifiedReceiveCh */
    atomic_int state;
    atomic_int n_joined;        /* sub[0 .. n_joined-1] are published */
    int cap;                    /* group_size */
    /* pair_adjacent: the thread serves nothing until the group is complete (cancelled
     * then), its first link closes or stops (the parent is its ctx), or the group can no
     * longer fill (attach gives up). */
    rt_ctx *joined;
    bool wait_partner;
    struct pair_sub sub[];      /* cap slots */
};

static int sub_index(const struct pair *p, uint32_t link_id)
{
    int n = atomic_load(&p->n_joined);
    for (int k = 0; k < n; k++)
        if (p->sub[k].id == link_id)
            return k;
    return 0;
}

struct pair_server {
    struct link_server base;
    struct pair *pending;       /* the last group, while it may still be OPEN (attach only) */
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

/* A joined sub-link takes part only once its attach has returned (its gate is open). */
static struct pair_link *ready(struct pair *p, int k)
{
    if (k >= atomic_load(&p->n_joined))
        return NULL;
    struct pair_link *pl = p->sub[k].pl;
    return rt_ctx_done(pl->base.gate) ? pl : NULL;
}

/* unifiedReceiveCh became non-empty or closed: any link's recv drains it, so tell every
 * sub-link the app still holds. */
static void unified_notify(void *arg, rt_queue *q, enum rt_queue_event ev)
{
    (void)q;
    struct pair *p = arg;
    if (ev != RT_Q_NONEMPTY && ev != RT_Q_CLOSED)
        return;
    int n = atomic_load(&p->n_joined);
    for (int k = 0; k < n; k++) {
        struct pair_link *pl = ready(p, k);
        struct link *l = pl ? &pl->base : NULL;
        if (l && !atomic_load(&l->released) && l->host->on_readable)
            l->host->on_readable(l->host, l, l->id);
    }
}

/* markLinkClosed: once per sub-link, Close it; the other link keeps working. */
static void mark_closed(struct pair_link *pl, enum link_close_cause cause)
{
    bool expected = true;
    if (atomic_compare_exchange_strong(&pl->p->sub[pl->k].alive, &expected, false))
        seed_link_finish(&pl->base, cause);
}

/* tryWrite: one non-blocking take from sendCh, then ONE write with the write deadline.
 * Kept flaw (协程聚合版本, 缺点 2): no retry — any failure, a time-out included, closes
 * the sub-link; and the write blocks the whole loop (both links) up to its deadline. */
static bool try_write(struct pair *p, struct pair_link *pl)
{
    if (!pl || !atomic_load(&p->sub[pl->k].alive))
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
    if (!pl || !atomic_load(&p->sub[pl->k].alive))
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
    atomic_llong *held = &p->sub[pl->k].unified_held;
    atomic_fetch_add(held, 1);   /* before the push: a recv may pop it at once */
    if (rt_queue_try_push(p->unified, m) != 0) {   /* select default: dropped */
        atomic_fetch_sub(held, 1);
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

/* LinkV5.readWriteLoop, over the group's N sub-links (2 in the seed). */
static void pair_loop(void *arg)
{
    struct pair *p = arg;
    struct pair_link *a = p->sub[0].pl;
    bool solo = false;
    rt_ticker tick;
    rt_ticker_init(&tick, SEED_MS(seed_param(p->srv, P_IDLE_TICK)));
    if (!seed_link_wait_gate(&a->base))
        goto out;
    if (p->wait_partner)   /* NewLinkV5 needs its connections: the first is not read before */
        rt_sleep_until(RT_NEVER, p->joined);
    for (;;) {
        if (rt_ctx_done(p->ctx))
            break;
        int n = atomic_load(&p->n_joined), live = 0;
        for (int k = 0; k < n; k++)
            live += atomic_load(&p->sub[k].alive);
        set_solo(p, &solo, live == 1);
        if (live == 0) {
            int st = PAIR_OPEN;
            if (atomic_compare_exchange_strong(&p->state, &st, PAIR_SEALED) || st == PAIR_SEALED)
                break;   /* alone and closed: no partner will join any more */
            if (st == PAIR_FULL) {
                seed_log(&a->base, &pair_all_closed, 0, 0);   /* 所有连接均已关闭 */
                break;
            }
            /* PAIR_JOINING: a link is joining right now: serve it */
        }
        /* one round, writes first; every read runs even when an earlier one had activity */
        bool act = false;
        for (int k = 0; k < n; k++)
            act |= try_write(p, ready(p, k));
        for (int k = 0; k < n; k++)
            act |= try_read(p, ready(p, k));
        if (!act && rt_ticker_wait(&tick, p->ctx) != 0)
            break;
    }
out:
    set_solo(p, &solo, false);
    /* defer: logger.Info("LinkV5 读写循环退出"); linkA.Close(); linkB.Close();
     * close(unifiedReceiveCh). The state is FULL or SEALED now, or the server stops:
     * no link joins a finished loop (attach seals an OPEN group it finds done). */
    seed_log(&a->base, &pair_loop_exit, 0, 0);
    int st = PAIR_OPEN;
    while (!atomic_compare_exchange_weak(&p->state, &st, PAIR_SEALED) && st != PAIR_FULL &&
           st != PAIR_SEALED)
        st = PAIR_OPEN;   /* JOINING: wait for the join to finish, then seal */
    int n = atomic_load(&p->n_joined);
    for (int k = 0; k < n; k++)
        mark_closed(p->sub[k].pl, LINK_CLOSE_SHUTDOWN);
    rt_queue_close(p->unified);
    for (int k = 0; k < n; k++)
        seed_link_unref(&p->sub[k].pl->base);
    pair_unref(p);
}

/* LinkV5.Send: ErrSubLinkInV5Closed when the sub-link is marked dead, ErrLinkV5Closed
 * when the pair is cancelled; otherwise `targetLink.sendCh <- payload` (blocks when
 * full: -EAGAIN). It does not look at the sub-link's own ctx: a message sent after the
 * app closed it, before the loop noticed, is reported at close as unsent. */
static int pair_send(struct link *l, vsock_msg *m)
{
    struct pair_link *pl = (struct pair_link *)l;
    if (!atomic_load(&pl->p->sub[pl->k].alive) || rt_ctx_done(pl->p->ctx))
        return -EPIPE;
    int rc = rt_queue_try_push(l->sendq, m);
    if (rc == -EAGAIN)
        link_host_count(l->host, LINK_C_SEND_BACKPRESSURE, 1);
    return rc;
}

/* Receive(): the unified queue, so any link's recv returns the group's next message
 * (its link_id says whose). The seed closes that queue only when every link is gone; a
 * closed sub-link whose partners still live answers -EPIPE at once instead, so the app
 * can let it go: its leftover messages come out of a partner's recv. */
static int pair_recv(struct link *l, vsock_msg **out)
{
    struct pair_link *pl = (struct pair_link *)l;
    struct pair *p = pl->p;
    if (!atomic_load(&p->sub[pl->k].alive)) {
        int n = atomic_load(&p->n_joined);
        for (int k = 0; k < n; k++)
            if (k != pl->k && atomic_load(&p->sub[k].alive))
                return -EPIPE;
    }
    int rc = seed_op_recv(l, out);
    if (rc == 0)
        atomic_fetch_sub(&p->sub[sub_index(p, (*out)->link_id)].unified_held, 1);
    return rc;
}

/* held: this sub-link's messages in the unified queue; its own sendq. */
static void pair_held(struct link *l, int64_t *in, int64_t *out)
{
    struct pair_link *pl = (struct pair_link *)l;
    *in = atomic_load(&pl->p->sub[pl->k].unified_held);
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

/* The group p takes link pl as its next member, unless it was sealed meanwhile (every
 * link closed while it waited: its loop is gone). */
static bool group_join(struct pair *p, struct pair_link *pl, uint32_t id)
{
    int st = PAIR_OPEN;
    if (!atomic_compare_exchange_strong(&p->state, &st, PAIR_JOINING))
        return false;
    int k = atomic_load(&p->n_joined);
    pl->p = p;
    pl->k = k;
    pl->base.recvq = p->unified;
    pl->base.on_free = sub_free;
    atomic_fetch_add(&p->refs, 1);   /* this sub-link's */
    p->sub[k].pl = pl;
    p->sub[k].id = id;
    atomic_store(&p->sub[k].unified_held, 0);
    atomic_store(&p->sub[k].alive, true);
    atomic_store(&p->n_joined, k + 1);   /* publishes the slot to the loop */
    atomic_store(&p->state, k + 1 == p->cap ? PAIR_FULL : PAIR_OPEN);
    return true;
}

static int pair_attach(struct link_server *srv, vsock *s, uint32_t id, struct link **out)
{
    struct pair_server *ps = (struct pair_server *)srv;
    seed_reap(srv);
    struct seed_link_cfg cfg = {
        .size = sizeof(struct pair_link),
        .send_cap = (size_t)seed_param(srv, P_SEND_QUEUE),
        .recv_cap = 0,                                 /* the group's unified queue */
        .close_order = SEED_CLOSE_FRAME_THEN_CANCEL,   /* as LinkV2/LinkV4's Close */
        .close_timeout = SEED_MS(seed_param(srv, P_CLOSE_TIMEOUT)),
        .say = &pair_say,
        .limiter_kind = SEED_LIMIT_TAKE,               /* built, never used (try_read) */
        .threads = 1,                                  /* the group's thread holds it */
    };
    struct link *l = seed_link_new(srv, s, id, &cfg);
    if (!l) {
        vsock_close(s, VSOCK_CLOSE_INTERNAL);
        vsock_destroy(s);
        return -ENOMEM;
    }
    struct pair_link *pl = (struct pair_link *)l;
    int cap = (int)seed_param(srv, P_GROUP);

    /* pair_adjacent: link kN+j joins kN's group; any other pending group's next member
     * can no longer come (ids only grow): its thread stops waiting and serves what it has. */
    bool adjacent = seed_param(srv, P_ADJACENT) != 0;
    struct pair *p = ps->pending;
    if (p && adjacent && p->sub[0].id + (uint32_t)atomic_load(&p->n_joined) != id) {
        ps->pending = NULL;
        rt_ctx_cancel(p->joined);
        pair_unref(p);   /* the server's pending ref */
        p = NULL;
    }
    /* The next link of a group joins the running loop if the group is still open. */
    if (p) {
        if (group_join(p, pl, id)) {
            if (atomic_load(&p->state) == PAIR_FULL) {
                ps->pending = NULL;
                pair_unref(p);              /* the server's pending ref */
                rt_ctx_cancel(p->joined);   /* a waiting thread starts serving them all */
            }
            *out = l;
            seed_link_open_gate(l);
            return 0;
        }
        /* Every link closed while it was open and its loop is gone: start a new group. */
        ps->pending = NULL;
        pair_unref(p);   /* the server's pending ref */
    }

    p = calloc(1, sizeof *p + (size_t)cap * sizeof p->sub[0]);
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
    p->cap = cap;
    atomic_init(&p->refs, 0);
    atomic_init(&p->n_joined, 0);
    atomic_init(&p->state, PAIR_OPEN);
    for (int k = 0; k < cap; k++) {
        atomic_init(&p->sub[k].alive, false);
        atomic_init(&p->sub[k].unified_held, 0);
        p->sub[k].id = UINT32_MAX;
    }
    group_join(p, pl, id);   /* the first: an OPEN group (FULL when group_size is 1) */
    /* by arrival every new group takes the next links; adjacent: only a group starting at
     * a multiple of N (its partners may come), and its thread waits for them */
    bool takes_partner = cap > 1 && (!adjacent || id % (uint32_t)cap == 0);
    p->wait_partner = adjacent && takes_partner;
    rt_queue_set_notify(p->unified, unified_notify, p, rt_queue_cap(p->unified));

    char name[32];
    int err = 0;
    snprintf(name, sizeof name, "pair-%u", id);
    atomic_fetch_add(&p->refs, takes_partner ? 2 : 1);   /* the thread's, the server's pending */
    seed_thr *t = seed_spawn(name, pair_loop, p, &err);
    if (!t) {
        atomic_fetch_sub(&p->refs, takes_partner ? 2 : 1);
        return seed_link_abort(l, NULL, 0);   /* frees the first link, which frees the group */
    }
    seed_thr_commit(srv, t);
    if (takes_partner)
        ps->pending = p;
    else if (cap > 1)
        atomic_store(&p->state, PAIR_SEALED);   /* alone for good: no partner joins */
    *out = l;
    seed_link_open_gate(l);
    return 0;
}

LINK_VARIANT_EXPORT = {
    .abi_version = LINK_ABI_VERSION,
    .name = "pair",
    .summary = "seed LinkV5: one thread per two links (group_size), 1 ms read polls, 20 ms idle tick, drops when full",
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
