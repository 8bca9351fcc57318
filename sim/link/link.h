/* link.h — the plug-in interface: what a link design (variant) exports and what the harness gives it. */
#ifndef LINKBENCH_LINK_H
#define LINKBENCH_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "rt.h"
#include "vsock.h"

/* 2: the held operation (what a link holds, for the accounting at the end of a run).
 * 3: drop_reasons (the reasons a variant can drop for; expect lines are checked
 *    against it).
 * 4: link_variant.caps and link_host.deliver (the app model's inline mode). */
#define LINK_ABI_VERSION 4

struct link_server;   /* a variant's server state (opaque to the harness) */
struct link;          /* a variant's per-link state (opaque to the harness) */
struct link_host;

/* ---------------------------------------------------------------- declarations */

enum link_loss_policy {
    LINK_LOSS_BLOCKS,    /* never drops; a slow app blocks the link's I/O thread */
    LINK_LOSS_DROPS,     /* drops with a counter (receive queue full, rate limited, ...) */
    LINK_LOSS_LOSSLESS   /* never drops, never blocks a thread: backpressure to TCP */
};
const char *link_loss_policy_name(enum link_loss_policy p);

/* A variant's tunable: every constant of a design is one, with the seed's value as
 * default. All values are integers; the unit is in the name (_ms, _bytes, _per_s). */
struct link_param {
    const char *name;
    int64_t def, min, max;
    const char *doc;
};

/* Settings every variant receives (from the scenario's app/limits sections). */
struct link_common {
    int64_t rate_limit_per_s;   /* inbound messages per second per link; 0 = off */
    bool auto_close;            /* TryCloseIfIdle may close (seed's autoClose) */
    int64_t max_msg_bytes;      /* incoming message limit (close 1009 beyond) */
};

struct link_start_args {
    struct link_host *host;
    const int64_t *params;      /* values in the order of link_variant.params */
    const struct link_common *common;
};

/* ---------------------------------------------------------------- the variant */

/* Modes of the app model a variant may support (link_variant.caps). The app model is
 * the same for every variant; a mode is used only where the variant declares it, and
 * every report says where it was in effect. */
enum {
    /* app.inline: the variant hands each received message to host->deliver on its own
     * I/O thread, and the app runs its handler there (echo included), as uWebSockets
     * runs a message handler on its event loop, instead of a receive queue drained by
     * the app's worker pool. on_writable then also runs the app on the calling thread
     * (it offers held messages again): the variant must call both without holding a
     * lock its send takes. */
    LINK_CAP_APP_INLINE = 1u << 0,
};

struct link_variant {
    int abi_version;            /* LINK_ABI_VERSION */
    const char *name;           /* e.g. "dual" */
    const char *summary;        /* one line */
    double threads_per_link;    /* declared: 2, 1, 0.5, 0 */
    enum link_loss_policy loss_policy;
    /* The drop reasons its code can produce: LINK_DROP_BIT(r) for every reason it ever
     * passes to link_host_drop. An expect line about a reason outside this set could
     * never fail, so the loader refuses it; a drop for a reason outside it is counted as
     * a breach of the declaration (drops_undeclared in the server's report). */
    unsigned drop_reasons;
    const struct link_param *params;
    int n_params;
    unsigned caps;              /* LINK_CAP_* bits: app-model modes it supports */

    /* Start a server. 0 or a negative error. */
    int (*start)(const struct link_start_args *a, struct link_server **out);

    /* Take an accepted, handshaken vsock as a link with the harness's id (ids are
     * given in accept order). The variant owns s from here. 0 or a negative error
     * (-EAGAIN: a thread could not be created; s is then closed and destroyed). */
    int (*attach)(struct link_server *srv, vsock *s, uint32_t link_id, struct link **out);

    /* The app's Send, never blocking: 0 accepted (m is the variant's now), -EAGAIN
     * exactly when the seed's Send would block (the caller keeps m and offers it
     * again after host->on_writable), -EPIPE the link is closed (caller keeps m). */
    int (*send)(struct link *l, vsock_msg *m);

    /* The app's side of Receive(), non-blocking: 0 with *out (its link_id says which
     * link it came from: pair shares one queue between two links), -EAGAIN empty,
     * -EPIPE closed and drained (Go: the receive channel was closed). */
    int (*recv)(struct link *l, vsock_msg **out);

    void (*update_active)(struct link *l);                 /* UpdateActiveTime */
    bool (*try_close_if_idle)(struct link *l, rt_ns idle); /* TryCloseIfIdle */
    int (*close)(struct link *l);                          /* the app's Close; idempotent */

    /* The app is done with l (after on_closed and draining recv). The variant frees it
     * once its own threads are done with it. */
    void (*release)(struct link *l);

    /* Close every link, join every thread, free everything. No callback after it. */
    void (*stop)(struct link_server *srv);

    /* What l holds now, in messages, for the accounting at the end of a run (in flight
     * is observed where each message is, never computed as a remainder: METHOD.md 7).
     * *in: taken from the vsock and not yet returned by recv (receive queue, a message
     * a thread keeps while it waits for room or a token). *out: accepted by send and not
     * yet given to the vsock (from vsock_write/vsock_queue/vsock_send_now on the harness
     * counts it in the socket's own buffers). A message counts in exactly one place; one
     * the variant freed without link_host_drop counts nowhere, and the harness reports
     * it lost. The harness calls it after the app has stopped taking and sending and the
     * links have settled, from its own thread while the variant's threads run, on a link
     * not yet released: it must not block. */
    void (*held)(struct link *l, int64_t *in, int64_t *out);
};

/* ---------------------------------------------------------------- the host */

enum link_drop_reason {
    LINK_DROP_RECV_QUEUE_FULL,   /* receive queue full: message thrown away */
    LINK_DROP_RATE_LIMITED,      /* limiter refused: message thrown away */
    LINK_DROP_SEND_OVERFLOW,     /* outbound hard limit with the drop policy */
    LINK_DROP_SEND_FAILED,       /* a write failed and the message was given up */
    LINK_DROP_UNSENT_AT_CLOSE,   /* still in a send queue when the link closed */
    LINK_DROP_CANCELLED,         /* read, then lost to ctx.Done in the hand-off: the link
                                  * was closing (the seed's `case <-l.ctx.Done(): return`) */
    LINK_DROP_BROKEN_BY_DEADLINE,/* a read deadline hit mid-frame: Go's reader consumed the
                                  * partial message and lost it (docs/seed-fidelity.md) */
    LINK_DROP_COUNT
};
const char *link_drop_reason_name(enum link_drop_reason r);
#define LINK_DROP_BIT(r) (1u << (r))

enum link_close_cause {
    LINK_CLOSE_PEER,          /* the client closed or went away */
    LINK_CLOSE_ERROR,         /* read/write error, protocol error */
    LINK_CLOSE_IDLE,          /* TryCloseIfIdle / idle timeout */
    LINK_CLOSE_RETRY_SPENT,   /* write retries exhausted */
    LINK_CLOSE_STALL,         /* peer took no byte for the write timeout (evloop) */
    LINK_CLOSE_OVERFLOW,      /* outbound hard limit with the close policy */
    LINK_CLOSE_APP,           /* the app's close */
    LINK_CLOSE_SHUTDOWN,      /* stop() */
    LINK_CLOSE_COUNT
};
const char *link_close_cause_name(enum link_close_cause c);

enum link_counter {
    LINK_C_RETRIES,            /* write retries after a time-out */
    LINK_C_WRITE_TIMEOUTS,
    LINK_C_READ_TIMEOUTS,
    LINK_C_RATE_WAITS,         /* times a link waited for (or skipped on) the limiter */
    LINK_C_READ_PAUSES,        /* reads stopped for backpressure */
    LINK_C_SEND_BACKPRESSURE,  /* send answered -EAGAIN */
    LINK_C_SOLO_THREADS,       /* a gauge (+1/-1): threads of a multi-link design serving
                                * one link alone (pair's first link before its partner,
                                * the last link of a pair, an odd link) */
    LINK_C_COUNT
};
const char *link_counter_name(enum link_counter c);

/* What the harness gives a variant. Callbacks may be called from any variant thread;
 * the host's implementations are thread-safe and never block. */
struct link_host {
    void *app;   /* harness's */
    /* l's receive side went from empty to non-empty, or closed. */
    void (*on_readable)(struct link_host *h, struct link *l, uint32_t link_id);
    /* a send that answered -EAGAIN would now be accepted. */
    void (*on_writable)(struct link_host *h, struct link *l, uint32_t link_id);
    /* l closed (exactly once per link). Its recv side drains, then answers -EPIPE. */
    void (*on_closed)(struct link_host *h, struct link *l, uint32_t link_id,
                      enum link_close_cause cause);
    /* app.inline only (NULL otherwise; see LINK_CAP_APP_INLINE): run the app's handler
     * for m, received on l, on the calling thread, instead of queueing m for recv. 0: the
     * app took m. -EAGAIN: the app takes nothing from l now (a reply it sent earlier
     * waits for room, as a Go caller blocked in Send takes nothing more): the variant
     * keeps m, stops reading l, and offers m again once it has called on_writable (also
     * the answer while the app is paused for the census at the end of a run).
     * m->t_decoded, when > 0 (rt_now clock), is when the variant's read handed m over:
     * the app takes it as m's arrival (lat_in, t_app), so a read of many messages costs
     * one clock read, as the driver stamps its receives; 0: the app reads the clock. */
    int (*deliver)(struct link_host *h, struct link *l, uint32_t link_id, vsock_msg *m);
};

/* Host services, exported by the harness (thread-safe, lock-free counters). */
void link_host_drop(struct link_host *h, vsock_msg *m, enum link_drop_reason r); /* counts, frees m */
void link_host_count(struct link_host *h, enum link_counter c, int64_t n);
void link_host_log(struct link_host *h, uint32_t link_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The one symbol a variant module exports. */
#define LINK_VARIANT_SYMBOL "linkbench_variant"
#define LINK_VARIANT_EXPORT \
    __attribute__((visibility("default"))) extern const struct link_variant linkbench_variant; \
    const struct link_variant linkbench_variant

#endif
