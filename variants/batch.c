/* batch.c — the seed's 批量发送版本 (LinkV2): one thread per link, up to 16 sends then one read, blocking hand-off (or, as the seed proposes, a non-blocking one). */
#include <errno.h>
#include <stdio.h>

#include "link.h"
#include "seed_link.h"

/* Constants from LinkV2's own const block. DefaultCloseTimeout (3 s) is close_timeout_ms,
 * the write deadline of the close frame (seed_link.c, close_sock). */
enum { P_READ_TIMEOUT, P_WRITE_TIMEOUT, P_SEND_QUEUE, P_RECV_QUEUE,
       P_RETRY_INIT, P_RETRY_MAX, P_RETRIES, P_BATCH, P_CLOSE_TIMEOUT, P_NONBLOCK, P_COMPRESSION,
       P_FID, P_COUNT = P_FID + SEED_F_COUNT };

static const struct link_param batch_params[P_COUNT] = {
    [P_READ_TIMEOUT] = {"read_timeout_ms", 1000, 1, 86400000,
                        "DefaultReadTimeout (1 s): a send waits at most this behind a read"},
    [P_WRITE_TIMEOUT] = {"write_timeout_ms", 5000, 1, 86400000,
                         "DefaultWriteTimeout (5 s): deadline of one write attempt"},
    [P_SEND_QUEUE] = {"send_queue_len", 32, 1, 1 << 20,
                      "DefaultWriteBufferSize: sendCh capacity (Send blocks when full)"},
    [P_RECV_QUEUE] = {"recv_queue_len", 32, 1, 1 << 20,
                      "DefaultReadBufferSize: receiveCh capacity (the loop blocks when full)"},
    [P_RETRY_INIT] = {"retry_init_ms", 100, 1, 3600000,
                      "DefaultInitRetryInterval: first backoff after a write time-out"},
    [P_RETRY_MAX] = {"retry_max_ms", 2000, 1, 3600000,
                     "DefaultMaxRetryInterval: backoff cap"},
    [P_RETRIES] = {"retry_max", 5, 0, 1000000,
                   "DefaultMaxRetries: retries for the loop's whole life (0: unlimited, as ekit)"},
    [P_BATCH] = {"send_batch", 16, 1, 1 << 20,
                 "sendBatch: sends per round before one read"},
    [P_CLOSE_TIMEOUT] = {"close_timeout_ms", 3000, 1, 86400000,
                         "DefaultCloseTimeout (3 s): Close's write deadline for the close frame"},
    /* Not LinkV2's code: the seed's own proposal (推荐使用, 特殊需求场景: 零消息丢失要求：
     * 可以基于版本1进行改进，增加非阻塞投递). Off by default: batch is LinkV2. */
    [P_NONBLOCK] = {"nonblocking_delivery", 0, 0, 1,
                    "0 (LinkV2): `l.receiveCh <- payload` blocks the loop while the app is "
                    "slow; 1 (the seed's proposed 增加非阻塞投递): select with ctx.Done and "
                    "default, as LinkV4's hand-off: a message finding receiveCh full is "
                    "dropped (recv_queue_full) and the loop goes on"},
    SEED_COMPRESSION_PARAM(P_COMPRESSION),
    SEED_FIDELITY_PARAMS(P_FID),
};

/* LinkV2's elog calls (批量发送版本): it never drops, so no Warn. */
static const struct seed_say batch_say = {
    .comp = "LinkV2",
    .write_failed = {"error", "发送消息失败，准备重试", SEED_LOG_LEN | SEED_LOG_ERR},
    .retries_spent = {"error", "重试次数耗尽，放弃发送", 0},
    .peer_closed = {"info", "客户端关闭连接", SEED_LOG_USER},
    .read_failed = {"error", "读取客户端消息失败", SEED_LOG_ERR},
};

/* LinkV2.readWriteLoop. */
static void batch_loop(void *arg)
{
    struct link *l = arg;
    const struct link_server *srv = l->srv;
    enum link_close_cause cause = LINK_CLOSE_SHUTDOWN;
    rt_ns read_timeout = SEED_MS(seed_param(srv, P_READ_TIMEOUT));
    rt_ns write_timeout = SEED_MS(seed_param(srv, P_WRITE_TIMEOUT));
    int64_t batch = seed_param(srv, P_BATCH);
    bool nonblocking = seed_param(srv, P_NONBLOCK) != 0;
    if (!seed_link_wait_gate(l))
        goto out;

    /* Kept flaw (批量发送版本): ONE retry strategy is made before the loop and shared by
     * every message for the link's whole life. ekit's Next() never resets, so after
     * retry_max write time-outs in total — spread over any number of messages, however
     * far apart — the next time-out closes the link (retry_spent). */
    rt_backoff rs;
    rt_backoff_init(&rs, SEED_MS(seed_param(srv, P_RETRY_INIT)),
                    SEED_MS(seed_param(srv, P_RETRY_MAX)), (int32_t)seed_param(srv, P_RETRIES));

    for (;;) {
        /* ---- batch send: select { ctx.Done: return; <-sendCh; default: nil } */
        for (int64_t i = 0; i < batch; i++) {
            if (rt_ctx_done(l->ctx))
                goto out;
            void *item;
            if (rt_queue_try_pop(l->sendq, &item) != 0)
                break;   /* nothing to send: straight to the read */
            enum seed_send_result r = seed_send_with_retry(l, item, &rs, write_timeout, 0, false);
            if (r != SEED_SENT) {
                cause = seed_send_cause(r);
                goto out;
            }
        }

        /* ---- rate limit, non-blocking. Kept flaw: a refused Allow() `continue`s to
         * the top of the loop, which finds nothing to send and asks again at once:
         * the thread spins until the next token (批量发送版本, 限流). */
        if (!seed_allow(l)) {
            seed_count_rate_wait(l);
            continue;
        }

        /* ---- read: a send arriving now waits for this read's deadline (1 s). */
        vsock_msg *m;
        int rc = seed_read_msg(l, &m, read_timeout, &cause);
        if (rc == -ETIMEDOUT)
            continue;
        if (rc != 0)
            goto out;

        /* ---- hand-off. Kept flaw (缺点 1): `l.receiveCh <- payload` blocks the whole
         * loop — sends included — while the app is slow; nothing is dropped. */
        if (!nonblocking) {
            if (seed_deliver_blocking(l, m) != 0)
                goto out;
            continue;
        }
        /* The seed's proposal: select { case <-ctx.Done(): return; case receiveCh <-
         * payload: default: drop }, LinkV4's hand-off. LinkV2 has no Warn line for it
         * (it never dropped), so none is logged; the drop is counted. */
        if (seed_deliver_try(l, m, true) < 0)
            goto out;
    }
out:
    seed_link_thread_exit(l, cause);   /* defer: close(receiveCh); Close() */
}

static int batch_start(const struct link_start_args *a, struct link_server **out)
{
    return seed_server_create(a, P_COUNT, P_FID, sizeof(struct link_server), out);
}

static int batch_attach(struct link_server *srv, vsock *s, uint32_t id, struct link **out)
{
    struct seed_link_cfg cfg = {
        .size = sizeof(struct link),
        .send_cap = (size_t)seed_param(srv, P_SEND_QUEUE),
        .recv_cap = (size_t)seed_param(srv, P_RECV_QUEUE),
        .close_order = SEED_CLOSE_FRAME_THEN_CANCEL,   /* LinkV2.Close */
        .close_timeout = SEED_MS(seed_param(srv, P_CLOSE_TIMEOUT)),
        .say = &batch_say,
        .limiter_kind = SEED_LIMIT_ALLOW,
        .threads = 1,
    };
    static const struct seed_thread_spec threads[] = {{"batch-", batch_loop}};
    return seed_attach(srv, s, id, &cfg, threads, 1, out);
}

LINK_VARIANT_EXPORT = {
    .abi_version = LINK_ABI_VERSION,
    .name = "batch",
    .summary = "seed LinkV2: one thread, up to 16 sends then a 1 s read, blocking hand-off",
    .threads_per_link = 1,
    .loss_policy = LINK_LOSS_BLOCKS,
    /* cancelled: a blocked hand-off ended by the close; broken_by_deadline: a read
     * deadline inside a frame (the seed's Go reads); recv_queue_full: only with the seed's
     * proposed nonblocking_delivery 1 (the declaration is the module's, not a config's: a
     * line about it on plain batch still reads 0 by construction, see batch_nonblocking) */
    .drop_reasons = LINK_DROP_BIT(LINK_DROP_RECV_QUEUE_FULL) | LINK_DROP_BIT(LINK_DROP_CANCELLED) | LINK_DROP_BIT(LINK_DROP_BROKEN_BY_DEADLINE) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) | LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE),
    .params = batch_params,
    .n_params = P_COUNT,
    .start = batch_start,
    .attach = batch_attach,
    SEED_LINK_OPS,
};
