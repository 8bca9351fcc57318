/* run_shard.h — one shard of a scenario's links on this host (`linkbench run --shard I/N`): the split, the common start, this host's clock, and the raw figures `linkbench merge` joins exactly. */
#ifndef LINKBENCH_RUN_SHARD_H
#define LINKBENCH_RUN_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "drv.h"
#include "run_drvs.h"
#include "scn.h"

/* How it works (docs/scale-out.md). Every shard loads the same scenario and plans the
 * whole run (run_plan_driver), then keeps its part: shard I of N takes, in every group,
 * the links run_drvs_share gives driver process I of N on one host (the first
 * links % N shards one more), with the faults that fall on them, connect_rate / N and
 * its own seed. Nothing is exchanged between shards: the split is a pure function of
 * the scenario, I and N (k6's execution segments), and a shared start time replaces a
 * controller. Each shard writes an ordinary report.json whose runs carry a "shard"
 * object (below); `linkbench merge` joins N of them into one report.
 *
 * Time. Latency, lag and windows are measured per host on its own CLOCK_MONOTONIC, so
 * they stay valid whatever the hosts' wall clocks say. Only the common start uses the
 * wall clock (CLOCK_REALTIME): run k of this shard starts at start_at + the slots of
 * runs 0..k-1 (every_ns, or run_shard_slot's estimate, the same on every shard). What
 * is recorded, never assumed: when each run was asked to start and when it did by this
 * host's clock (late_ms), the window's edges by this host's clock, and an estimate of
 * this host's clock against the target's (run_shard_clock_probe: the HTTP Date of its
 * handshake responses) so that hosts' offsets can be compared. */

typedef struct run_shard {
    int index, count;               /* shard index of count, 0 <= index < count */
    int64_t start_at_ns;            /* CLOCK_REALTIME ns when run 0 starts; 0 = at once */
    int64_t every_ns;               /* from one run's start to the next's; 0 = run_shard_slot */
    /* kept between the runs of one invocation */
    int runs;                       /* runs started so far */
    int64_t next_start_ns;          /* when the next run starts (0 = at once) */
    json_t *clock;                  /* the first run's clock probe, reused for the others */
} run_shard;

/* "I/N" (0 <= I < N <= 100000). 0, or -EINVAL with "rule (got …)" in err. */
int run_shard_parse(const char *spec, run_shard *sh, char *err, size_t errlen);

/* A UTC time: "2026-12-06T10:00:00Z" (fractional seconds allowed, Z required) or
 * "@<seconds since the epoch>" into ns since the epoch. 0, or -EINVAL with err. */
int run_shard_parse_time(const char *s, int64_t *utc_ns, char *err, size_t errlen);

/* ns since the epoch as "2026-12-06T10:00:00.123Z" into buf. */
void run_shard_format_time(int64_t utc_ns, char *buf, size_t len);

/* Seconds from one run's start to the next's when --every is not given: ramp (links
 * over the connect rate), warm-up, duration, a 5 s drain, teardown (2.5 ms per link of
 * the shard, run_progress's figure) and 5 s to spare, rounded up to a whole second. */
double run_shard_slot(const struct scn *s, int64_t links, int count);

/* One run of the shard: the part of the plan it drives, and what its start recorded. */
typedef struct run_shard_run {
    struct drv_fault faults[RUN_DRVS_FAULTS_MAX];   /* the share's faults (p->faults) */
    int64_t links;                  /* links of this shard */
    json_t *ranges;                 /* [{group, first, count}]: global link indices */
    int64_t requested_ns;           /* CLOCK_REALTIME asked for (0: at once) */
    int64_t started_ns;             /* CLOCK_REALTIME when the driver started */
    int64_t mono_at_start;          /* CLOCK_MONOTONIC at the same moment */
} run_shard_run;

/* Turn p (the whole run's plan for `links` links of s) into this shard's part. 0, or
 * -EINVAL with err when the shard holds no link. Free x->ranges with run_shard_run_deinit. */
int run_shard_apply(const run_shard *sh, const struct scn *s, int64_t links, struct drv_params *p,
                    run_shard_run *x, char *err, size_t errlen);
void run_shard_run_deinit(run_shard_run *x);

/* Before the driver starts: on the first run, the clock probe against the target; then
 * wait until this run's start (returns early, false, when run_interrupted), and record
 * the start in x. quiet: say nothing on stderr. */
bool run_shard_start(run_shard *sh, run_shard_run *x, const struct scn *s, const char *host,
                     uint16_t port, const char *path, bool quiet);

/* The run object's "shard" member: index, count, host name, links and their ranges,
 * start, the window's edges by this host's clock, the clock probe, and what merge
 * needs to join hosts exactly: the driver's result (run_shard_dr_to_json), its nine
 * histograms (run_shard_hist_json: exact) and the driver's census
 * reduced to what the driver-side accounting reads (links holding something).
 * census: the array run_object took (drv_census documents); failure: why the run
 * failed (the run's first invalid reason), or NULL. New reference. */
json_t *run_shard_object(const run_shard *sh, const run_shard_run *x, const struct drv_result *r,
                         const json_t *census, const char *failure);

/* ---- the driver's result as JSON and back (every field but the histograms) */
json_t *run_shard_dr_to_json(const struct drv_result *r);
/* Fill r from j (every field; histograms NULL, saturated_why pointing into why).
 * 0, or -EINVAL naming the first missing or mistyped field in err. */
int run_shard_dr_from_json(const json_t *j, struct drv_result *r, char *why, size_t whylen,
                           char *err, size_t errlen);

/* A histogram as a shard stores it: {"v2": HdrHistogram V2 base64 (met_hlog.h: the
 * counts, bucket by bucket), "min", "max" (exact, in ns), "overflow"}, so that the merge
 * gets back exactly what was recorded in a few KB. NULL on ENOMEM. */
json_t *run_shard_hist_json(const met_hist *h);
/* The inverse: NULL when j is malformed, or its min and max do not fall in its lowest
 * and highest buckets. */
met_hist *run_shard_hist_from_json(const json_t *j);

/* The histograms of a result in run_drvs' order, and their names in "histograms". */
extern const char *const RUN_SHARD_HIST_NAMES[RUN_DRVS_NHIST];
void run_shard_hists(const struct drv_result *r, const met_hist *h[RUN_DRVS_NHIST]);
void run_shard_set_hists(struct drv_result *r, met_hist *const h[RUN_DRVS_NHIST]);

/* ---- the target's clock (run_shard_clock.c) */

/* Open `samples` connections to host:port (about 125 ms apart, so that their Date
 * headers straddle second boundaries; fewer when CLOCK_REALTIME passes stop_ns, unless
 * it is 0), send a WebSocket handshake for path, read each response head and close
 * with RST. A response's Date (1 s resolution) was stamped
 * between sending and receiving, so target − this host lies in
 * [Date − t_received, Date + 1 s − t_sent]; the intervals are intersected. Returns
 * {"method", "samples", "with_date", "offset_ms", "uncertainty_ms", "lo_ms", "hi_ms",
 * "rtt_ms_max"} or {"method", "samples", "absent": "why"} (no Date header, no answer,
 * intervals that do not meet). New reference. */
json_t *run_shard_clock_probe(const char *host, uint16_t port, const char *path, int samples,
                              int64_t stop_ns);

/* The bounds of target − host from Date values and send/receive times (ns since the
 * epoch), intersected: false when they do not meet. Pure (tests). */
bool run_shard_clock_bounds(const int64_t *date_ns, const int64_t *t_sent, const int64_t *t_recv,
                            int n, int64_t *lo, int64_t *hi);

/* Parse an HTTP Date (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") into ns since the
 * epoch. 0, or -EINVAL. */
int run_shard_http_date(const char *s, size_t len, int64_t *utc_ns);

#endif
