/* hybrid.c — the seed's 综合优化版本 (LinkV4): one thread per link, up to 8 sends then a 30 s read, dropping hand-off. */
#include <errno.h>
#include <stdio.h>

#include "link.h"
#include "seed_link.h"

/* Constants from LinkV4's own const block. DefaultCloseTimeout (3 s) is close_timeout_ms,
 * the write deadline of the close frame (seed_link.c, close_sock). */
enum { P_READ_TIMEOUT, P_WRITE_TIMEOUT, P_SEND_QUEUE, P_RECV_QUEUE,
       P_RETRY_INIT, P_RETRY_MAX, P_RETRIES, P_BATCH, P_CLOSE_TIMEOUT, P_COMPRESSION,
       P_FID, P_COUNT = P_FID + SEED_F_COUNT };

static const struct link_param hybrid_params[P_COUNT] = {
    [P_READ_TIMEOUT] = {"read_timeout_ms", 30000, 1, 86400000,
                        "DefaultReadTimeout (30 s): a send waits at most this behind a read"},
    [P_WRITE_TIMEOUT] = {"write_timeout_ms", 10000, 1, 86400000,
                         "DefaultWriteTimeout (10 s): deadline of one write attempt"},
    [P_SEND_QUEUE] = {"send_queue_len", 64, 1, 1 << 20,
                      "DefaultWriteBufferSize: sendCh capacity (Send blocks when full)"},
    [P_RECV_QUEUE] = {"recv_queue_len", 64, 1, 1 << 20,
                      "DefaultReadBufferSize: receiveCh capacity (dropped when full)"},
    [P_RETRY_INIT] = {"retry_init_ms", 100, 1, 3600000,
                      "DefaultInitRetryInterval: first backoff after a write time-out"},
    [P_RETRY_MAX] = {"retry_max_ms", 2000, 1, 3600000,
                     "DefaultMaxRetryInterval: backoff cap"},
    [P_RETRIES] = {"retry_max", 3, 0, 1000000,
                   "DefaultMaxRetries: retries for the loop's whole life (0: unlimited, as ekit)"},
    [P_BATCH] = {"send_batch", 8, 1, 1 << 20,
                 "sendBatch: sends per round before one read"},
    [P_CLOSE_TIMEOUT] = {"close_timeout_ms", 3000, 1, 86400000,
                         "DefaultCloseTimeout (3 s): Close's write deadline for the close frame"},
    SEED_COMPRESSION_PARAM(P_COMPRESSION),
    SEED_FIDELITY_PARAMS(P_FID),
};

/* LinkV4's elog calls (综合优化版本): a Warn for every dropped message. */
static const struct seed_say hybrid_say = {
    .comp = "LinkV4",
    .recv_full = {"warn", "接收通道已满，消息被丢弃，请检查业务处理能力", SEED_LOG_USER | SEED_LOG_SIZE},
    .write_failed = {"error", "发送消息失败", SEED_LOG_LEN | SEED_LOG_ERR},
    .retries_spent = {"error", "重试次数耗尽，放弃发送", 0},
    .peer_closed = {"info", "客户端关闭连接", SEED_LOG_USER},
    .read_failed = {"error", "读取客户端消息失败", SEED_LOG_ERR},
};

/* LinkV4.readWriteLoop. */
static void hybrid_loop(void *arg)
{
    struct link *l = arg;
    const struct link_server *srv = l->srv;
    enum link_close_cause cause = LINK_CLOSE_SHUTDOWN;
    rt_ns read_timeout = SEED_MS(seed_param(srv, P_READ_TIMEOUT));
    rt_ns write_timeout = SEED_MS(seed_param(srv, P_WRITE_TIMEOUT));
    int64_t batch = seed_param(srv, P_BATCH);
    if (!seed_link_wait_gate(l))
        goto out;

    /* Kept flaw (综合优化版本): the retry strategy is created once, before the loop, and
     * shared by every message for the link's life: after retry_max (3) write time-outs
     * in total the next one closes the link (retry_spent). */
    rt_backoff rs;
    rt_backoff_init(&rs, SEED_MS(seed_param(srv, P_RETRY_INIT)),
                    SEED_MS(seed_param(srv, P_RETRY_MAX)), (int32_t)seed_param(srv, P_RETRIES));

    for (;;) {
        /* ---- batch send phase; `default: goto READ_PHASE` when sendCh is empty. */
        for (int64_t sent = 0; sent < batch;) {
            if (rt_ctx_done(l->ctx))
                goto out;
            void *item;
            if (rt_queue_try_pop(l->sendq, &item) != 0)
                goto read_phase;
            enum seed_send_result r = seed_send_with_retry(l, item, &rs, write_timeout, 0, false);
            if (r != SEED_SENT) {
                cause = seed_send_cause(r);
                goto out;
            }
            sent++;
        }
    read_phase:
        /* ---- rate limit. Kept flaw (综合优化版本, 限流检查): a refused Allow()
         * `continue`s and asks again at once: the thread spins until the next token. */
        if (!seed_allow(l)) {
            seed_count_rate_wait(l);
            continue;
        }

        /* ---- read. Kept flaw: with the 30 s deadline, a Send arriving while the link
         * is idle waits here up to 30 s before the loop gets back to the send phase. */
        vsock_msg *m;
        int rc = seed_read_msg(l, &m, read_timeout, &cause);
        if (rc == -ETIMEDOUT)
            continue;
        if (rc != 0)
            goto out;

        /* ---- hand-off: select { ctx.Done: return; receiveCh <- payload; default: drop } */
        if (seed_deliver_try(l, m, true) < 0)
            goto out;
    }
out:
    seed_link_thread_exit(l, cause);   /* defer: close(receiveCh); Close() */
}

static int hybrid_start(const struct link_start_args *a, struct link_server **out)
{
    return seed_server_create(a, P_COUNT, P_FID, sizeof(struct link_server), out);
}

static int hybrid_attach(struct link_server *srv, vsock *s, uint32_t id, struct link **out)
{
    struct seed_link_cfg cfg = {
        .size = sizeof(struct link),
        .send_cap = (size_t)seed_param(srv, P_SEND_QUEUE),
        .recv_cap = (size_t)seed_param(srv, P_RECV_QUEUE),
        .close_order = SEED_CLOSE_FRAME_THEN_CANCEL,   /* LinkV4.Close */
        .close_timeout = SEED_MS(seed_param(srv, P_CLOSE_TIMEOUT)),
        .say = &hybrid_say,
        .limiter_kind = SEED_LIMIT_ALLOW,
        .threads = 1,
    };
    static const struct seed_thread_spec threads[] = {{"hybrid-", hybrid_loop}};
    return seed_attach(srv, s, id, &cfg, threads, 1, out);
}

LINK_VARIANT_EXPORT = {
    .abi_version = LINK_ABI_VERSION,
    .name = "hybrid",
    .summary = "seed LinkV4: one thread, up to 8 sends then a 30 s read, drops when full",
    .threads_per_link = 1,
    .loss_policy = LINK_LOSS_DROPS,
    /* a refused Allow() spins (`continue`), it never drops: no rate_limited */
    .drop_reasons = LINK_DROP_BIT(LINK_DROP_RECV_QUEUE_FULL) | LINK_DROP_BIT(LINK_DROP_CANCELLED) | LINK_DROP_BIT(LINK_DROP_BROKEN_BY_DEADLINE) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) | LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE),
    .params = hybrid_params,
    .n_params = P_COUNT,
    .start = hybrid_start,
    .attach = hybrid_attach,
    SEED_LINK_OPS,
};
