/* srv_census.h — the server at the driver's end: stop the app, let the links settle, then what every link holds where (app, variant, socket, kernel) and what was done with its messages. */
#ifndef LINKBENCH_SRV_CENSUS_H
#define LINKBENCH_SRV_CENSUS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "app.h"
#include "link_host_impl.h"
#include "vsock_census.h"

/* Why it settles first: a census is many readings (a lock per link, two ioctls per
 * socket); while messages move between them one can be counted twice or not at all.
 * Once the driver has stopped (it neither sends nor reads), the app is paused and the
 * pusher and reaper stopped, the variants' threads move what they can and then wait:
 * two censuses in a row that agree in every figure show a moment when nothing moved,
 * and that census is exact. One that never settles (a variant that keeps moving
 * messages on its own) is reported as such. */

typedef struct srv_census_link {
    app_link_census app;
    bool have_sock;               /* its socket was found among the live ones */
    vsock_census sock;
} srv_census_link;

typedef struct srv_census {
    uint32_t n;
    srv_census_link *links;       /* link ids 0..n-1 */
    int rounds;                   /* censuses taken */
    bool settled;                 /* the last two agreed */
    bool quiesce_timeout;         /* the app did not stop in time */
    int64_t settle_ns;            /* from the start of app_quiesce to the census kept */
} srv_census;

/* Quiesce a, then take censuses until two in a row agree or deadline (then the last one,
 * settled = false). h: its drop counters must not move either. 0 or -ENOMEM. */
int srv_census_take(app *a, link_host_impl *h, srv_census *c, rt_ns deadline);
void srv_census_deinit(srv_census *c);

/* Whether two censuses agree in every figure of every link. A census that settled can
 * still be followed by a move: a variant's loop that sleeps longer than the settling
 * rounds are apart (poll at 50 ms) writes what it held once it wakes. The run checks
 * for that after the drivers' census (srv_main.h "recheck"). */
bool srv_census_same(const srv_census *a, const srv_census *b);

/* The census document (srv_report.h, "census"): per open link (attached, on_closed not
 * seen, socket found) one object in "links", the others summed in "closed"; push
 * stamps (CLOCK_MONOTONIC) in microseconds rounded up, so an age computed from them
 * never exceeds the true one. New reference or NULL. */
json_t *srv_census_json(const srv_census *c);

#endif
