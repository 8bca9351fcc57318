/* run_acct.h — the accounting of one run from both censuses: every message delivered, dropped, refused, observed in flight, abandoned with its connection, or lost; censored latencies. */
#ifndef LINKBENCH_RUN_ACCT_H
#define LINKBENCH_RUN_ACCT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "drv.h"

/* The rule (docs/reports.md, "Accounting"). At the driver's end the servers stop their
 * apps, let their links settle and take a census (srv_census.h); then each driver takes
 * its own (drv_census). The two are joined link by link: a driver connection and the
 * server socket whose peer it is (the TCP 4-tuple; "key" when both sides give one, as
 * the mem backend's tests do). For each joined link and each direction:
 *
 *   in:  sent on the connection = in flight to the server (sender's framed minus the
 *        server socket's decoded) + in the server socket's inbox + held by the variant
 *        (held op) + dropped (link_host_drop, on its way in) + taken by the app + lost_in
 *   out: made by the app (echoes, pushes) = held by the app + refused + held by the
 *        variant + dropped (on its way out) + written to the server socket + lost_out;
 *        written = in flight to the client + arrived at the driver
 *
 * so that per link  lost = sent - delivered - dropped - refused - in_flight  with every
 * term of in_flight observed where the message is. A drop on one link never explains a
 * loss on another. A link whose lost comes out negative (something counted twice)
 * makes the run invalid. Messages on connections that closed during the run (churn,
 * faults, the server's closes) cannot be found: the socket took them with it. They are
 * msgs_abandoned, except holes the driver saw on those connections (a later seq came)
 * that their drops do not explain: lost, pooled over the closed connections.
 *
 * Without a server census (--target) the driver's side is all that is observed: its
 * unsent slots and its socket's queues (bytes over the scenario's frame size, a partial
 * frame counting as one); what is inside the target is not observable, so whatever is
 * not back is lost (sent - delivered - observed). */
typedef struct run_acct_in {
    const json_t *srv;          /* merged server report with "census", or NULL (--target) */
    const json_t *drv_census;   /* array of driver census documents (drv_census), or NULL */
    const struct drv_result *dr;
    bool sink;                  /* app.mode sink: a client message is delivered when taken */
    const met_hist *lat_in;     /* the server's client->app histogram of the window, or NULL */
} run_acct_in;

/* Into m: msgs_sent, msgs_delivered, msgs_dropped, msgs_refused, msgs_in_flight,
 * msgs_abandoned, msgs_lost, msgs_duplicated, in_flight_detail, census_check, and the
 * censored latencies lat_rtt_censored_us, lat_out_censored_us, lat_in_censored_us
 * ({p50, p90, p99, p999, max, undelivered}); drop reasons that occurred into reasons;
 * why the run is invalid into why (strings). */
void run_acct(const run_acct_in *in, json_t *m, json_t *reasons, json_t *why);

/* The number at a dotted path into nested objects ("app.pushed"); 0 when absent. */
int64_t run_jpath(const json_t *o, const char *path);
/* The drops of messages on their way in (client -> app) in one of the server's drop
 * objects ("drops" or "drops_at_driver_end"): recv_queue_full, rate_limited,
 * cancelled_at_close, broken_by_deadline. */
int64_t run_inbound_drops(const json_t *srv, const char *obj);

/* A latency object {p50, p90, p99, p999, max} in microseconds from a histogram in ns, or
 * NULL when it is empty. */
json_t *run_lat_json(const met_hist *h);

#endif
