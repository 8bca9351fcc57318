/* seed_link.h — the Go `Link` state the five seed designs share, and the server/thread bookkeeping around it. */
#ifndef LINKBENCH_SEED_LINK_H
#define LINKBENCH_SEED_LINK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "link.h"

/* Go's Close() comes in two orders in the seed: LinkV2/LinkV4 write the close frame,
 * then cancel; LinkV3 cancels first, then writes the frame. */
enum seed_close_order { SEED_CLOSE_FRAME_THEN_CANCEL, SEED_CLOSE_CANCEL_THEN_FRAME };

/* Which limiter the design's WithRateLimit builds. */
enum seed_limiter_kind {
    SEED_LIMIT_ALLOW,   /* golang.org/x/time/rate NewLimiter(qps, qps), Allow() */
    SEED_LIMIT_TAKE     /* go.uber.org/ratelimit New(rate), Take() */
};

/* ---------------------------------------------------------------- seed fidelity */

/* Switches every seed design has after its own params. Where the harness's layers could
 * behave better than the seed's Go (gobwas/ws over net.Conn), the seed's behaviour is the
 * default and the repair an explicit option (docs/seed-fidelity.md). */
enum seed_fid {
    SEED_F_CLOSE_WAITS_REPLY,   /* 0: Close writes an empty close frame and closes at once */
    SEED_F_READ_KEEPS_PARTIAL,  /* 0: a read deadline inside a frame loses it (Go) */
    SEED_F_WRITE_RESUMES_PARTIAL, /* 0: a write deadline cuts the frame; a retry re-sends it */
    SEED_F_LOG,                 /* 1: the seed's elog lines go to the host's log */
    SEED_F_COUNT
};

/* The block's entries, for a design's params table: [first + k] = ... */
#define SEED_FIDELITY_PARAMS(first)                                                        \
    [(first) + SEED_F_CLOSE_WAITS_REPLY] = {                                               \
        "close_waits_reply", 0, 0, 1,                                                      \
        "0 (seed): Close writes a close frame with no payload (the client reads 1005) "    \
        "under close_timeout_ms and closes the connection at once; 1: status 1000, then "  \
        "wait up to close_timeout_ms for the client's reply (RFC 6455 handshake)"},       \
    [(first) + SEED_F_READ_KEEPS_PARTIAL] = {                                              \
        "read_keeps_partial", 0, 0, 1,                                                     \
        "0 (seed): a read whose deadline hits inside a frame loses what it read, and the " \
        "next read takes the frame's rest for a header, as gobwas/ws over net.Conn does "  \
        "(drop broken_by_deadline, then mostly a protocol error); 1: the frame is kept "   \
        "and resumed by the next read"},                                                  \
    [(first) + SEED_F_WRITE_RESUMES_PARTIAL] = {                                           \
        "write_resumes_partial", 0, 0, 1,                                                  \
        "0 (seed): a write that times out leaves its frame cut short on the wire and "     \
        "sendWithRetry writes the whole message again behind it, as Go's Write does: "     \
        "the client reads a corrupted message, then garbage (frames_cut_by_deadline, "     \
        "msgs_corrupted); 1: the retry resumes the frame where it stopped"},              \
    [(first) + SEED_F_LOG] = {                                                             \
        "log", 1, 0, 1,                                                                    \
        "1 (seed): the design's elog lines (a Warn per dropped message, an Error per "     \
        "failed write attempt, ...) as JSON lines into the server's log, unthrottled "     \
        "(metrics log_lines, log_busy_share); 0: none"}

/* WithCompression (批量发送版本 WithCompressionV2, 非阻塞读版本 V3, 综合优化版本 V4): the
 * option the seed gives three of its designs. The upgrade negotiates permessage-deflate
 * (the harness's acceptor, as a gateway's upgrader does before NewLinkVx), and vsock then
 * compresses every data message the link writes and inflates every compressed one it
 * reads. The harness reads this param by name (srv_main.c). */
#define SEED_COMPRESSION_PARAM(idx)                                                         \
    [(idx)] = {"compression", 0, 0, 2,                                                     \
               "WithCompression: 0 (default) off; 1 permessage-deflate (RFC 7692, zlib) "  \
               "with context takeover unless the client declines it; 2 without context "   \
               "takeover on either side (each message compressed alone)"}

/* ---------------------------------------------------------------- the seed's log lines */

/* Fields a seed log call carries besides linkID (elog.Any("userInfo"), elog.Int(...),
 * elog.FieldErr). */
enum { SEED_LOG_USER = 1, SEED_LOG_LEN = 2, SEED_LOG_SIZE = 4, SEED_LOG_ERR = 8 };

/* One elog call of the seed: its level ("info", "warn", "error"), message and fields;
 * msg NULL: the seed logs nothing there. */
struct seed_line {
    const char *lv;
    const char *msg;
    unsigned fields;
};

/* A design's elog calls, by event (the component is its FieldComponent). */
struct seed_say {
    const char *comp;
    struct seed_line recv_full;      /* receiveCh full, message dropped */
    struct seed_line rate_limited;   /* the limiter refused, message dropped */
    struct seed_line write_failed;   /* one failed write attempt */
    struct seed_line retries_spent;  /* retries spent, message given up */
    struct seed_line peer_closed;    /* the client closed with 1005 or 1001 */
    struct seed_line read_failed;    /* any other read error */
};

typedef struct seed_thr seed_thr;

/* The seed's Link struct. Designs embed it first (struct dual_link { struct link base; ... }). */
struct link {
    struct link_server *srv;
    struct link_host *host;
    uint32_t id;
    vsock *s;
    rt_queue *sendq;          /* sendCh */
    rt_queue *recvq;          /* receiveCh; for pair the unified queue (not owned) */
    bool owns_recvq;
    rt_ctx *ctx;              /* ctx, cancel */
    rt_ctx *gate;             /* cancelled when attach returns: threads start then */
    enum seed_close_order close_order;
    rt_ns close_timeout;      /* DefaultCloseTimeout: Close's write deadline; 0: the vsock's */
    bool close_waits_reply;   /* close_waits_reply: the RFC handshake instead of the seed's */
    const struct seed_say *say;   /* the design's log lines; NULL when log = 0 */
    bool auto_close;
    bool limited;             /* limiter != nil */
    rt_limiter limiter;       /* one owner: the link's I/O thread */
    atomic_bool closing;      /* closeOnce */
    atomic_int cause;         /* enum link_close_cause of the first Close */
    atomic_bool finished;     /* on_closed reported */
    atomic_bool released;     /* the app called release */
    bool aborted;             /* attach failed: no callbacks, the harness never saw it */
    _Atomic rt_ns last_active;
    atomic_int refs;          /* the app's + one per thread using the link */
    atomic_int threads_left;  /* dual: the last of its two threads finishes the link */
    /* Read time-outs and rate waits happen up to thousands of times per second per link
     * (poll, pair, a spinning limiter); they reach the host's shared atomics in batches
     * so the counting itself does not become the cost measured. One writer each: the
     * thread that reads. */
    int64_t pend_read_timeouts, pend_rate_waits;
    /* A message the reading thread read and keeps while it waits for room in recvq
     * (the blocking hand-off): held, in neither queue (the held op counts it). */
    atomic_int rx_in_hand;
    void (*on_free)(struct link *l);   /* design hook run just before the memory goes */
    struct link *prev, *next; /* the server's list (for stop) */
};

/* Shared server state; a design's server embeds it first. */
struct link_server {
    struct link_host *host;
    struct link_common common;
    int64_t *params;
    int n_params;
    int fid;                  /* index of the design's first SEED_FIDELITY_PARAMS entry */
    /* Parent of every link's ctx, which is also its vsock's ctx: stop() cancels it,
     * so every blocked read, write, sleep and close handshake returns at once and the
     * links close in parallel instead of one close_timeout after another. */
    rt_ctx *stop_ctx;
    atomic_flag lock;         /* guards links; held only for list edits */
    struct link *links;
    /* Finished threads wait here to be joined (a lock-free stack: any thread pushes,
     * attach or stop takes the whole stack), so reaping costs O(finished), not O(all). */
    seed_thr *_Atomic zombies;
    atomic_llong committed, joined;
    /* design hook in stop(), after every thread is joined, before links are freed */
    void (*on_stop)(struct link_server *srv);
};

/* Per-link construction settings. */
struct seed_link_cfg {
    size_t size;              /* sizeof the design's link struct (>= sizeof(struct link)) */
    size_t send_cap;          /* sendCh buffer */
    size_t recv_cap;          /* receiveCh buffer; 0: the caller sets recvq (pair) */
    enum seed_close_order close_order;
    rt_ns close_timeout;      /* the design's DefaultCloseTimeout (its close_timeout_ms
                               * param); 0: the vsock's close_timeout */
    enum seed_limiter_kind limiter_kind;
    const struct seed_say *say;   /* the design's elog calls */
    rt_ctx *parent_ctx;       /* NULL: the server's stop_ctx */
    int threads;              /* how many loop threads will run it (refs and threads_left) */
};

/* ---------------------------------------------------------------- server */

/* Allocate `size` bytes (a design struct embedding struct link_server first), copy the
 * params and common settings; the design's SEED_FIDELITY_PARAMS block starts at index
 * fid (its last SEED_F_COUNT params). 0 or -ENOMEM. */
int seed_server_create(const struct link_start_args *a, int n_params, int fid, size_t size,
                       struct link_server **out);
/* stop(): close every link (cause shutdown), join every thread, free every link
 * (released or not) and the server. No callback after it returns. */
void seed_server_stop(struct link_server *srv);

/* ---------------------------------------------------------------- threads */

/* Spawn a joinable RT_GROUP_LINK thread. NULL with *err (-EAGAIN, -ENOMEM) on failure.
 * The handle is not yet known to the server: commit it, or join it yourself (abort). */
seed_thr *seed_spawn(const char *name, void (*fn)(void *), void *arg, int *err);
void seed_thr_commit(struct link_server *srv, seed_thr *t);
void seed_thr_join(seed_thr *t);   /* joins and frees an uncommitted handle */
/* Join the committed threads that have already finished (cheap; attach calls it; not
 * concurrently with itself or stop). */
void seed_reap(struct link_server *srv);

/* ---------------------------------------------------------------- links */

/* A new link owning s, with refs = 1 (app) + cfg->threads, in the server's list.
 * NULL on ENOMEM (s is left to the caller). */
struct link *seed_link_new(struct link_server *srv, vsock *s, uint32_t id,
                           const struct seed_link_cfg *cfg);
/* Attach failed after seed_link_new: no callbacks; join `started` threads (which must
 * exit once the link is closed), then free the link and its vsock. Returns -EAGAIN. */
int seed_link_abort(struct link *l, seed_thr **started, int n);
void seed_link_unref(struct link *l);
/* A link thread's first call: waits until attach has returned (so no callback names a
 * link the harness does not know yet). false: attach was aborted, return at once
 * through seed_link_thread_exit. */
bool seed_link_wait_gate(struct link *l);
/* attach's last step: let the link's threads run. */
void seed_link_open_gate(struct link *l);

/* One loop thread of a design: its name prefix ("dual-tx-" + link id) and its body. */
struct seed_thread_spec {
    const char *name_prefix;
    void (*fn)(void *link);
};
/* The whole attach of a thread-per-link design: reap finished threads, make the link
 * from cfg (cfg->threads must equal n), spawn its n threads, open the gate.
 * 0 with *out; -ENOMEM (s closed and destroyed) or -EAGAIN (a thread could not be
 * created: the link is aborted, s closed and destroyed, no callback). */
int seed_attach(struct link_server *srv, vsock *s, uint32_t id, const struct seed_link_cfg *cfg,
                const struct seed_thread_spec *threads, int n, struct link **out);

/* The operations every seed design shares, for its struct link_variant. */
#define SEED_LINK_OPS                                                          \
    .send = seed_op_send, .recv = seed_op_recv,                                \
    .update_active = seed_op_update_active,                                    \
    .try_close_if_idle = seed_op_try_close_if_idle, .close = seed_op_close,    \
    .release = seed_op_release, .stop = seed_server_stop,                  \
    .held = seed_op_held

/* Go's Close() under closeOnce: the first caller records the cause and runs the close
 * in the design's order; later calls return at once. 0. */
int seed_link_close(struct link *l, enum link_close_cause cause);
/* The loop's `defer`: Close (cause if first), then give back what the send queue still
 * holds (unsent_at_close), report on_closed once, close the receive queue if owned. */
void seed_link_finish(struct link *l, enum link_close_cause cause);
/* finish + drop the thread's ref: the end of a single-loop design's thread. For dual
 * only the last of its threads finishes. */
void seed_link_thread_exit(struct link *l, enum link_close_cause cause);

/* ---------------------------------------------------------------- I/O helpers */

enum seed_send_result { SEED_SENT, SEED_SEND_CANCELLED, SEED_SEND_SPENT, SEED_SEND_ERROR };

/* sendWithRetry / sendWithRetryInternal: write m with the write deadline; retry only a
 * time-out, sleeping rs's delay (cancellable); the retry writes m again, which vsock
 * takes as a new frame behind the cut one (the seed's Go), or resumes when the design
 * has write_resumes_partial. max_attempts > 0 bounds the loop (LinkV3's
 * `for i <= maxRetries`), 0 leaves it to rs (`for {}`). On SEED_SENT m is freed; on
 * any other result m is given up through link_host_drop(send_failed). */
enum seed_send_result seed_send_with_retry(struct link *l, vsock_msg *m, rt_backoff *rs,
                                           rt_ns write_timeout, int max_attempts,
                                           bool update_active);
/* The cause a failed send closes the link with. */
enum link_close_cause seed_send_cause(enum seed_send_result r);

/* Read with a deadline `timeout` from now. 0 with *out (link_id set), -ETIMEDOUT
 * (counted; a message the deadline broke is dropped as broken_by_deadline), or 1 with
 * *cause set: the loop must end. */
int seed_read_msg(struct link *l, vsock_msg **out, rt_ns timeout, enum link_close_cause *cause);

/* `l.receiveCh <- payload` inside select with ctx.Done(): blocks while the queue is
 * full. 0 delivered, or -ECANCELED/-EPIPE (m reported as cancelled_at_close: the seed
 * loses it on return). */
int seed_deliver_blocking(struct link *l, vsock_msg *m);
/* select with default: drops m (recv_queue_full) when full. 0 delivered, 1 dropped,
 * -ECANCELED (with_ctx: the select also had `case <-l.ctx.Done(): return`; m is
 * reported as cancelled_at_close and the loop returns). */
int seed_deliver_try(struct link *l, vsock_msg *m, bool with_ctx);

/* One of the seed's log lines for l, when the design logs that event and log = 1: n is
 * payloadLen/payloadSize, err a negative errno. */
void seed_log(struct link *l, const struct seed_line *line, int64_t n, int err);

/* Limiter.Allow (x/time/rate) when limited; true when not limited. */
bool seed_allow(struct link *l);
/* Count one LINK_C_RATE_WAITS from the link's I/O thread (batched, see pend_*). */
void seed_count_rate_wait(struct link *l);
/* Hand the batched counters to the host (finish does it). */
void seed_count_flush(struct link *l);

/* ---------------------------------------------------------------- link ops */

int seed_op_send(struct link *l, vsock_msg *m);
int seed_op_recv(struct link *l, vsock_msg **out);
void seed_op_update_active(struct link *l);
bool seed_op_try_close_if_idle(struct link *l, rt_ns idle);
int seed_op_close(struct link *l);
void seed_op_release(struct link *l);
/* held: recvq (when the link owns it) plus a message the reader keeps while it waits
 * for room; sendq. A message a writer took from sendq is in the vsock from its first
 * write attempt on (the vsock counts it), so it is not counted here. */
void seed_op_held(struct link *l, int64_t *in, int64_t *out);

/* Param value i of the server (the design's table order). */
static inline int64_t seed_param(const struct link_server *srv, int i) { return srv->params[i]; }
/* A seed-fidelity switch (enum seed_fid). */
static inline bool seed_fid_on(const struct link_server *srv, enum seed_fid f)
{
    return srv->params[srv->fid + (int)f] != 0;
}

/* Designated-initializer helpers for a design's params table. */
#define SEED_MS(ms) ((rt_ns)(ms) * RT_MS)

#endif
