/* dual.c — the seed's current Link (背景): a send thread and a receive thread per link, blocking hand-off. */
#include <errno.h>
#include <stdio.h>

#include "link.h"
#include "seed_link.h"

/* The seed shows dual's loops only in prose (背景: sendLoop + receiveLoop); its Link
 * struct and sendWithRetry are in the 协程聚合版本 section. The package has three const
 * blocks that disagree; dual takes the one that closes the 非阻塞读版本 code (the
 * Link's file), and 批量发送版本's (1 s read, 5 s write, 3 s close, buffers 32) is one
 * variant_config away (workloads/dual_v2_constants.json). DefaultCloseTimeout (2 s) is close_timeout_ms,
 * the write deadline of the close frame (seed_link.c, close_sock). */
enum { P_READ_TIMEOUT, P_WRITE_TIMEOUT, P_SEND_QUEUE, P_RECV_QUEUE,
       P_RETRY_INIT, P_RETRY_MAX, P_RETRIES, P_CLOSE_TIMEOUT,
       P_FID, P_COUNT = P_FID + SEED_F_COUNT };

static const struct link_param dual_params[P_COUNT] = {
    [P_READ_TIMEOUT] = {"read_timeout_ms", 180000, 1, 86400000,
                        "DefaultReadTimeout (3 min): the receive thread's read deadline"},
    [P_WRITE_TIMEOUT] = {"write_timeout_ms", 60000, 1, 86400000,
                         "DefaultWriteTimeout (1 min): deadline of one write attempt"},
    [P_SEND_QUEUE] = {"send_queue_len", 256, 1, 1 << 20,
                      "DefaultWriteBufferSize: sendCh capacity (Send blocks when full)"},
    [P_RECV_QUEUE] = {"recv_queue_len", 256, 1, 1 << 20,
                      "DefaultReadBufferSize: receiveCh capacity (the reader blocks when full)"},
    [P_RETRY_INIT] = {"retry_init_ms", 100, 1, 3600000,
                      "DefaultInitRetryInterval: first backoff after a write time-out"},
    [P_RETRY_MAX] = {"retry_max_ms", 2000, 1, 3600000,
                     "DefaultMaxRetryInterval: backoff cap"},
    [P_RETRIES] = {"retry_max", 5, 0, 1000000,
                   "DefaultMaxRetries: retries per message (0: unlimited, as ekit)"},
    [P_CLOSE_TIMEOUT] = {"close_timeout_ms", 2000, 1, 86400000,
                         "DefaultCloseTimeout (2 s): Close's write deadline for the close frame"},
    SEED_FIDELITY_PARAMS(P_FID),
};

/* The Link's elog calls: only Link.sendWithRetry's is in the seed (协程聚合版本); the
 * prose of 背景 shows no receiveLoop code, so none is assumed there. */
static const struct seed_say dual_say = {
    .comp = "Link",
    .write_failed = {"error", "发送消息失败", SEED_LOG_ERR},
};

/* sendLoop: select { <-ctx.Done(): return; payload := <-sendCh: sendWithRetry }.
 * Link.sendWithRetry builds a fresh backoff for every message and, on success, calls
 * UpdateActiveTime itself (协程聚合版本, Link.sendWithRetry). */
static void dual_tx(void *arg)
{
    struct link *l = arg;
    const struct link_server *srv = l->srv;
    enum link_close_cause cause = LINK_CLOSE_SHUTDOWN;
    if (!seed_link_wait_gate(l))
        goto out;
    for (;;) {
        void *item;
        if (rt_queue_pop(l->sendq, &item, RT_NEVER, l->ctx) != 0)
            break;   /* cancelled: whoever closed recorded the cause */
        rt_backoff rs;
        rt_backoff_init(&rs, SEED_MS(seed_param(srv, P_RETRY_INIT)),
                        SEED_MS(seed_param(srv, P_RETRY_MAX)),
                        (int32_t)seed_param(srv, P_RETRIES));
        enum seed_send_result r = seed_send_with_retry(
            l, item, &rs, SEED_MS(seed_param(srv, P_WRITE_TIMEOUT)), 0, true);
        if (r != SEED_SENT) {
            cause = seed_send_cause(r);
            break;
        }
    }
out:
    seed_link_thread_exit(l, cause);
}

/* receiveLoop: limiter.Take() (uber ratelimit: it waits, never drops), read with the
 * read deadline, time-out → continue, then `receiveCh <- payload` in a select with
 * ctx.Done(): a slow app blocks this thread, and TCP then slows the client. */
static void dual_rx(void *arg)
{
    struct link *l = arg;
    const struct link_server *srv = l->srv;
    enum link_close_cause cause = LINK_CLOSE_SHUTDOWN;
    rt_ns read_timeout = SEED_MS(seed_param(srv, P_READ_TIMEOUT));
    if (!seed_link_wait_gate(l))
        goto out;
    for (;;) {
        if (l->limited) {
            rt_ns now = rt_now();
            rt_ns at = rt_limiter_reserve_at(&l->limiter, now);
            if (at > now) {
                seed_count_rate_wait(l);
                if (rt_sleep_until(at, l->ctx) != 0)
                    break;
            }
        }
        vsock_msg *m;
        int rc = seed_read_msg(l, &m, read_timeout, &cause);
        if (rc == -ETIMEDOUT)
            continue;
        if (rc != 0)
            break;
        if (seed_deliver_blocking(l, m) != 0)
            break;
    }
out:
    seed_link_thread_exit(l, cause);
}

static int dual_start(const struct link_start_args *a, struct link_server **out)
{
    return seed_server_create(a, P_COUNT, P_FID, sizeof(struct link_server), out);
}

static int dual_attach(struct link_server *srv, vsock *s, uint32_t id, struct link **out)
{
    struct seed_link_cfg cfg = {
        .size = sizeof(struct link),
        .send_cap = (size_t)seed_param(srv, P_SEND_QUEUE),
        .recv_cap = (size_t)seed_param(srv, P_RECV_QUEUE),
        .close_order = SEED_CLOSE_FRAME_THEN_CANCEL,   /* as LinkV2/LinkV4's Close */
        .close_timeout = SEED_MS(seed_param(srv, P_CLOSE_TIMEOUT)),
        .say = &dual_say,
        .limiter_kind = SEED_LIMIT_TAKE,
        .threads = 2,
    };
    static const struct seed_thread_spec threads[] = {{"dual-tx-", dual_tx}, {"dual-rx-", dual_rx}};
    return seed_attach(srv, s, id, &cfg, threads, 2, out);
}

LINK_VARIANT_EXPORT = {
    .abi_version = LINK_ABI_VERSION,
    .name = "dual",
    .summary = "seed's current Link: send + receive thread per link, blocking hand-off; "
               "LinkV3's const block (3 min read, 1 min write, buffers 256)",
    .threads_per_link = 2,
    .loss_policy = LINK_LOSS_BLOCKS,
    /* cancelled: a blocked hand-off ended by the close; broken_by_deadline: a read
     * deadline inside a frame (the seed's Go reads) */
    .drop_reasons = LINK_DROP_BIT(LINK_DROP_CANCELLED) | LINK_DROP_BIT(LINK_DROP_BROKEN_BY_DEADLINE) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) | LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE),
    .params = dual_params,
    .n_params = P_COUNT,
    .start = dual_start,
    .attach = dual_attach,
    SEED_LINK_OPS,
};
