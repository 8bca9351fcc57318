/* poll.c — the seed's 非阻塞读版本 (LinkV3): one thread per link, write priority, 1 ms read polls, dropping hand-off. */
#include <errno.h>
#include <stdio.h>

#include "link.h"
#include "seed_link.h"

/* Constants from the const block at the end of LinkV3's code. DefaultCloseTimeout (2 s)
 * is close_timeout_ms, the write deadline of the close frame (seed_link.c, close_sock). */
enum { P_READ_TIMEOUT, P_WRITE_TIMEOUT, P_SEND_QUEUE, P_RECV_QUEUE,
       P_RETRY_INIT, P_RETRY_MAX, P_RETRIES, P_POLL, P_CLOSE_TIMEOUT, P_COMPRESSION,
       P_FID, P_COUNT = P_FID + SEED_F_COUNT };

static const struct link_param poll_params[P_COUNT] = {
    [P_READ_TIMEOUT] = {"read_timeout_ms", 180000, 1, 86400000,
                        "DefaultReadTimeout (3 min): only ever set between two polls, each "
                        "read is given poll_read_ms, so it has no effect (as in the seed)"},
    [P_WRITE_TIMEOUT] = {"write_timeout_ms", 60000, 1, 86400000,
                         "DefaultWriteTimeout (1 min): deadline of one write attempt"},
    [P_SEND_QUEUE] = {"send_queue_len", 256, 1, 1 << 20,
                      "DefaultWriteBufferSize: sendCh capacity (Send blocks when full)"},
    [P_RECV_QUEUE] = {"recv_queue_len", 256, 1, 1 << 20,
                      "DefaultReadBufferSize: receiveCh capacity (dropped when full)"},
    [P_RETRY_INIT] = {"retry_init_ms", 100, 1, 3600000,
                      "DefaultInitRetryInterval: first backoff after a write time-out"},
    [P_RETRY_MAX] = {"retry_max_ms", 2000, 1, 3600000,
                     "DefaultMaxRetryInterval: backoff cap"},
    [P_RETRIES] = {"retry_max", 5, 0, 1000000,
                   "DefaultMaxRetries: retries per message; also bounds the attempt loop"},
    [P_POLL] = {"poll_read_ms", 1, 1, 60000,
                "veryShortReadTimeout (1 ms): deadline of every read poll"},
    [P_CLOSE_TIMEOUT] = {"close_timeout_ms", 2000, 1, 86400000,
                         "DefaultCloseTimeout (2 s): Close's write deadline for the close frame"},
    SEED_COMPRESSION_PARAM(P_COMPRESSION),
    SEED_FIDELITY_PARAMS(P_FID),
};

/* LinkV3's elog calls (非阻塞读版本): a Warn for every dropped message. */
static const struct seed_say poll_say = {
    .comp = "LinkV3",
    .recv_full = {"warn", "接收通道已满，消息被丢弃", SEED_LOG_USER},
    .rate_limited = {"warn", "接收消息速率超限，消息被丢弃", SEED_LOG_USER},
    .write_failed = {"error", "向客户端发消息失败", SEED_LOG_LEN | SEED_LOG_ERR},
    .retries_spent = {"error", "重试次数耗尽，放弃发送", SEED_LOG_USER},
    .peer_closed = {"info", "客户端关闭连接", SEED_LOG_USER},
    .read_failed = {"error", "从客户端读取消息失败", SEED_LOG_USER | SEED_LOG_ERR},
};

/* LinkV3.readWriteLoop: `select` with write priority, the read in `default:`. */
static void poll_loop(void *arg)
{
    struct link *l = arg;
    const struct link_server *srv = l->srv;
    enum link_close_cause cause = LINK_CLOSE_SHUTDOWN;
    rt_ns write_timeout = SEED_MS(seed_param(srv, P_WRITE_TIMEOUT));
    rt_ns poll_ns = SEED_MS(seed_param(srv, P_POLL));
    int32_t retries = (int32_t)seed_param(srv, P_RETRIES);
    if (!seed_link_wait_gate(l))
        goto out;
    for (;;) {
        if (rt_ctx_done(l->ctx))   /* case <-l.ctx.Done(): return */
            goto out;
        void *item;
        if (rt_queue_try_pop(l->sendq, &item) == 0) {   /* case payload := <-l.sendCh */
            /* LinkV3.sendWithRetry: a FRESH strategy per message, inside
             * `for i := 0; i <= maxRetries; i++` — at most retry_max + 1 attempts. */
            rt_backoff rs;
            rt_backoff_init(&rs, SEED_MS(seed_param(srv, P_RETRY_INIT)),
                            SEED_MS(seed_param(srv, P_RETRY_MAX)), retries);
            enum seed_send_result r =
                seed_send_with_retry(l, item, &rs, write_timeout, retries + 1, false);
            if (r != SEED_SENT) {
                cause = seed_send_cause(r);
                goto out;
            }
            continue;
        }

        /* default: Kept flaw (非阻塞读版本, 缺点 1-2): a read with a 1 ms deadline, so an
         * idle link wakes about 1000 times a second; this is the design, not a bug. */
        vsock_msg *m;
        int rc = seed_read_msg(l, &m, poll_ns, &cause);
        if (rc == -ETIMEDOUT)
            continue;
        if (rc != 0)
            goto out;
        /* The limiter is asked after the message was read: a refused message is
         * DROPPED (rate_limited), never delayed. */
        if (!seed_allow(l)) {
            if (l->say)
                seed_log(l, &l->say->rate_limited, m->len, 0);
            link_host_drop(l->host, m, LINK_DROP_RATE_LIMITED);
            continue;
        }
        /* select { case l.receiveCh <- payload: default: drop } — no ctx case here. */
        seed_deliver_try(l, m, false);
    }
out:
    seed_link_thread_exit(l, cause);   /* defer: close(receiveCh); Close() */
}

static int poll_start(const struct link_start_args *a, struct link_server **out)
{
    return seed_server_create(a, P_COUNT, P_FID, sizeof(struct link_server), out);
}

static int poll_attach(struct link_server *srv, vsock *s, uint32_t id, struct link **out)
{
    struct seed_link_cfg cfg = {
        .size = sizeof(struct link),
        .send_cap = (size_t)seed_param(srv, P_SEND_QUEUE),
        .recv_cap = (size_t)seed_param(srv, P_RECV_QUEUE),
        .close_order = SEED_CLOSE_CANCEL_THEN_FRAME,   /* LinkV3.Close cancels first */
        .close_timeout = SEED_MS(seed_param(srv, P_CLOSE_TIMEOUT)),
        .say = &poll_say,
        .limiter_kind = SEED_LIMIT_ALLOW,
        .threads = 1,
    };
    static const struct seed_thread_spec threads[] = {{"poll-", poll_loop}};
    return seed_attach(srv, s, id, &cfg, threads, 1, out);
}

LINK_VARIANT_EXPORT = {
    .abi_version = LINK_ABI_VERSION,
    .name = "poll",
    .summary = "seed LinkV3: one thread, write priority, 1 ms read polls, drops when full or limited",
    .threads_per_link = 1,
    .loss_policy = LINK_LOSS_DROPS,
    .drop_reasons = LINK_DROP_BIT(LINK_DROP_RECV_QUEUE_FULL) | LINK_DROP_BIT(LINK_DROP_RATE_LIMITED) | LINK_DROP_BIT(LINK_DROP_BROKEN_BY_DEADLINE) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) | LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE),
    .params = poll_params,
    .n_params = P_COUNT,
    .start = poll_start,
    .attach = poll_attach,
    SEED_LINK_OPS,
};
