/* app.h — the app model, identical for every variant: consumer pool, echo/sink, push, idle reaper. */
#ifndef LINKBENCH_APP_H
#define LINKBENCH_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "link.h"
#include "link_host_impl.h"
#include "met_hist.h"

typedef struct app app;

enum app_mode {
    APP_ECHO,   /* send each message back on the link it came from (msg->link_id) */
    APP_SINK    /* free it */
};

enum app_service {
    APP_SERVICE_BUSY,    /* burn CPU for service_ns (an app that computes) */
    APP_SERVICE_SLEEP    /* rt_sleep for service_ns (a slow app waiting on something) */
};

/* Each link pushes on its own schedule (app_push.c): constant ticks at a phase drawn
 * per link, or Poisson arrivals; late pushes are sent late, never skipped. */
enum app_push_pattern { APP_PUSH_CONSTANT, APP_PUSH_POISSON };

typedef struct app_params {
    int workers;                    /* consumer threads in group app (default 2) */
    enum app_mode mode;             /* default echo */
    int recv_batch;                 /* messages taken from one link per turn (default 64) */
    rt_ns service_ns;               /* per message service time (default 0) */
    enum app_service service_kind;  /* default busy */
    double push_per_s;              /* server push per link per second; 0 = off (default) */
    enum app_push_pattern push_pattern; /* spacing of each link's pushes (default constant) */
    uint64_t push_seed;             /* seeds each link's phase / arrivals (default 1) */
    uint32_t push_bytes;            /* push payload, >= WIRE_HDR_BYTES (default 64) */
    rt_ns idle_timeout_ns;          /* reaper's TryCloseIfIdle argument; 0 = no reaper */
    rt_ns reap_period_ns;           /* how often the reaper runs (default 1 s) */
    uint32_t max_links;             /* link ids 0..max_links-1 (default 65536) */
    bool inline_handlers;           /* app.inline: run the handler on the variant's thread
                                     * where it declares LINK_CAP_APP_INLINE (default off) */
} app_params;

void app_params_default(app_params *p);

/* The push schedule (app_push.c), pure so it can be tested without a clock. */
/* One link's push schedule: its next scheduled time and its generator. */
typedef struct app_push_sched {
    rt_ns next;
    uint64_t rng;
} app_push_sched;
/* Pure: the first push of link id (seeded by p->push_seed and id) not before now; the
 * constant pattern's ticks are t0 + phase + k / push_per_s. */
void app_push_first(const app_params *p, uint32_t id, rt_ns t0, rt_ns now, app_push_sched *out);
/* Pure: move s to its next push; returns it. */
rt_ns app_push_advance(const app_params *p, app_push_sched *s);

/* Pure check: 0 or -EINVAL with "key: rule (got value)" in err. */
int app_params_check(const app_params *p, char *err, size_t errlen);

/* Totals since app_create (exact: every message is in exactly one of them). */
typedef struct app_stats {
    int64_t links_attached, attach_failed, attach_thread_limit, links_refused;
    int64_t links_closed, links_released, closed_twice;   /* closed_twice: contract breach */
    int64_t recv_msgs, recv_bytes, recv_no_hdr;   /* recv_no_hdr: no valid wire header */
    int64_t seq_gaps, seq_backwards;              /* per link seq skipped ahead / went back */
    int64_t seq_missing;    /* messages those skips passed over (a link's first seq sets its
                             * start: a reconnected client goes on from where it was) */
    int64_t seq_late;       /* went back to fill a skipped seq (reordered, not missing) */
    int64_t seq_dup;        /* went back to a seq already taken (a duplicate) */
    int64_t sent;           /* accepted by the variant's send (echoed + pushed) */
    int64_t echoed, pushed; /* made by the app (pushed: generated, maybe still held) */
    int64_t sink_freed;
    int64_t send_eagain;    /* send answered -EAGAIN (the message was held) */
    int64_t held_now, held_peak;
    int64_t unsent_at_close;   /* held or refused (-EPIPE) when its link closed */
    int64_t variant_drops;     /* seen by the drop hook */
    int64_t idle_closed, reaper_runs;
    int64_t reaper_busy_ns;    /* wall time of the reaper's sweeps (its closes included) */
    int64_t pushes_late;       /* made when the link's next tick was due already (the
                                * generator a whole interval behind); sent all the same */
    int64_t push_lag_max_ns;   /* the latest a push was made after its scheduled tick */
    int64_t lat_in_overflow;   /* latency samples out of the histogram's range */
    /* idle closes of links that had sent something: a link whose traffic the app stopped
     * hearing (the design starved it, or the machine stalled), and the longest silence
     * the app had heard from such a link when it was closed */
    int64_t idle_closed_active, idle_closed_active_silence_max_ns;
    int64_t idle_closed_talking;   /* of those, heard from within the idle timeout */
} app_stats;

typedef struct app_link_stats {
    bool exists, open, closed, released;
    enum link_close_cause cause;   /* valid when closed */
    int64_t closed_calls;          /* on_closed calls (must be 1 once closed) */
    int64_t recv_msgs, dropped;    /* dropped: seen by the drop hook */
    uint64_t next_seq;             /* highest seq received + 1 (0: none yet) */
    int64_t seq_gaps, seq_backwards;
    int64_t held, push_seq;
} app_link_stats;

/* Create an app for variant v. Sets host->base.app and its callbacks and the host's drop
 * hook: pass &host->base to v->start. NULL on ENOMEM or bad params. */
app *app_create(const app_params *p, const struct link_variant *v, link_host_impl *host);
/* Start the worker pool, the push generator and the reaper. srv is the started server.
 * 0 or a negative error (-EAGAIN: a thread could not be created; nothing is left running). */
int app_start(app *a, struct link_server *srv);
/* Stop and join the app's threads. Call before v->stop: after it the app touches no link. */
void app_stop(app *a);
/* Free everything (after v->stop). Held messages are counted as unsent_at_close. */
void app_destroy(app *a);

/* Give an upgraded vsock to the variant as the next link (ids in call order). 0 with
 * *id, or a negative error: -ENOSPC (max_links reached: s is destroyed here), or the
 * attach's error (-EAGAIN: thread limit; the variant destroyed s). Counted either way. */
int app_attach(app *a, vsock *s, uint32_t *id);
/* The same in two steps: reserve an id (-ENOSPC when none is left), then attach with it.
 * A reserved id is never given back: reserve only for a socket that will be attached
 * (the acceptor attaches upgraded sockets with app_attach, so failed upgrades use none). */
int app_reserve_id(app *a, uint32_t *id);
int app_attach_reserved(app *a, vsock *s, uint32_t id);

/* The app's Close / TryCloseIfIdle on one link. -ENOENT unknown or released link. */
int app_close_link(app *a, uint32_t id);
int app_try_close_if_idle(app *a, uint32_t id, rt_ns idle, bool *closed);
/* Change the service time while running (a slow or stalled app that recovers: a
 * message being served sees the new value within 10 ms). */
void app_set_service(app *a, rt_ns service_ns, enum app_service kind);

void app_stats_get(app *a, app_stats *out);
void app_link_stats_get(app *a, uint32_t id, app_link_stats *out);
uint32_t app_links(app *a);   /* ids handed out so far */
uint32_t app_max_links(app *a);   /* the link table's size (params.max_links) */
/* Whether handlers run inline (app.inline asked and the variant supports it). */
bool app_inline(const app *a);
/* Add the client→app latency histogram (ns, from the wire header's t_sched) to dst. */
void app_lat_in_merge(app *a, met_hist *dst);

/* ---- the census at the end of a run (app_census.c) */

/* Stop for good taking from links, sending held messages, pushing and reaping: set the
 * pause, then wait (until deadline) for the worker, pusher and reaper in progress to
 * finish their step. Every message the app has is then in a held FIFO or given away.
 * 0, or -ETIMEDOUT (still busy: a census taken now may see messages moving). */
int app_quiesce(app *a, rt_ns deadline);

#define APP_CENSUS_PUSH_RING 64   /* == APP_PUSH_RING */

/* One link id as the app sees it at the census. Counts since the link was attached. */
typedef struct app_link_census {
    uint32_t id;
    bool attached;          /* the variant took it (else its attach failed) */
    bool closed, released;  /* on_closed seen; the app let it go */
    const vsock *sock;      /* the socket given at attach (compare only, never use) */
    int64_t taken;          /* messages the app took from the variant for this link */
    int64_t echoed, pushed; /* made by the app for this link */
    int64_t accepted;       /* accepted by the variant's send */
    int64_t held;           /* in the app's held FIFO (send answered -EAGAIN) */
    int64_t refused;        /* refused (-EPIPE) or held when the link closed */
    int64_t dropped_in, dropped_out;   /* link_host_drop for this link, by direction */
    bool variant_asked;     /* held op called (open, not released) */
    int64_t variant_in, variant_out;   /* what the held op answered */
    /* inbound sequence as taken: the client seqs not taken are >= next_seq, or
     * holes below it (bit d of seen_win: next_seq-1-d taken) */
    bool seq_started;
    uint64_t next_seq, seen_win;
    /* lat_out origin (ns) of push seq k at push_t[k % ring], for k in
     * [pushed - ring, pushed) */
    rt_ns push_t[APP_CENSUS_PUSH_RING];
    int64_t push_seq_m0;    /* pushed when app_window_start was called */
} app_link_census;

/* The measured window starts: each link notes how many pushes it had (pushes from
 * there on are the window's, for the census's censored latency). */
void app_window_start(app *a);

/* The census of link ids [0, n) where n = min(cap, app_links(a)), each taken under its
 * link's lock (the variant's held op included). Call after app_quiesce. Returns n. */
uint32_t app_census(app *a, app_link_census *out, uint32_t cap);

#endif
