/* run_drvs.h — the driver side of one run over several processes: the parent drives one share of the links, forked helpers the others, results merged exactly. */
#ifndef LINKBENCH_RUN_DRVS_H
#define LINKBENCH_RUN_DRVS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "drv.h"
#include "met_hist.h"
#include "rt.h"

/* Why: a client socket is an open file too, and the driver is one process under the
 * same 20 000-open-files hard limit as a server; 30 000 links need at least two driver
 * processes. The parent keeps share 0 (its progress callback still drives the servers'
 * phases and the server faults); helpers fork()ed from it (same image, no exec) run
 * sim/drv over shares 1..n-1 and send back their drv_result and histograms (HdrHistogram
 * V2 encoding, merged bucket by bucket: exact; counts with drv_result_merge, as a drv
 * merges its own threads). Each share gets its part of every group,
 * connect_rate / n, its own seed, and links_per_src_max / n so that the shares together
 * keep every source address under the cap. Helpers keep their links open until
 * run_drvs_release, so that no server counts a helper's teardown inside its window. */
#define RUN_DRVS_MAX 64

/* Faults of one share: each scenario fault may fall into every group of the share. */
#define RUN_DRVS_FAULTS_MAX (2 * 64 * DRV_MAX_GROUPS)

typedef struct run_drvs {
    int n;                          /* helpers started */
    pid_t pid[RUN_DRVS_MAX];
    int fd[RUN_DRVS_MAX];           /* socketpair to helper i: its result, then our release */
    struct drv_fault f0[RUN_DRVS_FAULTS_MAX];   /* share 0's faults (the parent's drv reads them) */
    char why[32];                   /* a helper's saturated_why, kept for the merged result */
} run_drvs;

/* Share k of n of p (drv_share: groups split link by link, faults mapped onto the
 * share's own link indices, at most cap of them), with its own seed, its part of the
 * source-address cap, its part of the threads and the CPUs they take. 0, or -EINVAL
 * when the share holds no link. */
int run_drvs_share(const struct drv_params *p, int k, int n, struct drv_params *out,
                   struct drv_fault *faults, int cap);

/* Where share k of n of group g starts among all of p's links (global link index) and
 * how many links it takes: the split run_drvs_share makes, for a report to name. */
void run_drvs_share_range(const struct drv_params *p, int g, int k, int n, int64_t *first,
                          int64_t *count);

/* Merge result b (saturation reason b_why) into r: counts summed, establish the latest,
 * CPU utilisation and lag the worst, saturation if any (its reason copied into why,
 * and r->saturated_why pointed there, for the first saturated one). The window's
 * times and length are r's: a caller merging hosts sets them. */
void run_drvs_merge(struct drv_result *r, const struct drv_result *b, const char *b_why, char *why,
                    size_t whylen);

/* Fork n-1 helpers (n >= 1; n == 1 starts none) for shares 1..n-1 of *p, then turn *p
 * into share 0 (its faults in h->f0). Call with no other thread running (fork). Each
 * helper dies with the parent (PR_SET_PDEATHSIG), stops and drains on SIGINT/SIGTERM,
 * and closes every inherited descriptor but stdio and its socket. 0, or -1 with err
 * (helpers already started are killed). */
int run_drvs_start(run_drvs *h, struct drv_params *p, int n, char *err, size_t errlen);

/* Ask every helper to stop sending and drain (SIGTERM). */
void run_drvs_request_stop(run_drvs *h);

/* The histograms of a drv_result, in the order run_drvs_collect takes them. */
#define RUN_DRVS_NHIST 9   /* lat_rtt, lat_rtt_uncorrected, lat_out, lag, lag_own, bp_wait,
                            * rx_delay, rtt_undelivered, unsent_age */

/* Wait for each helper's result until deadline and merge it into r: counts summed,
 * establish the latest, CPU utilisation and lag the worst, saturation if any; the
 * histograms merged into dst[0..RUN_DRVS_NHIST) (writable copies of the parent's, NULL
 * to skip one). Returns the number of helpers without a result ("driver k/n: why" in
 * err for the first). */
int run_drvs_collect(run_drvs *h, struct drv_result *r, met_hist *const *dst, rt_ns deadline,
                     char *err, size_t errlen);

/* Each helper's census (drv_census), once the servers' has been taken: an array of
 * their documents (a helper that does not answer in time is left out). */
json_t *run_drvs_census(run_drvs *h, rt_ns deadline);

/* Let the helpers close their links and exit; reap them (SIGKILL after deadline: pass
 * rt_now() to abort). Idempotent. */
void run_drvs_release(run_drvs *h, rt_ns deadline);

#endif
