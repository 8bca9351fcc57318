/* run_merge.h — `linkbench merge`: the shard reports of one sharded run joined into one report, exactly, in the format of a single host's. */
#ifndef LINKBENCH_RUN_MERGE_H
#define LINKBENCH_RUN_MERGE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The rule (docs/scale-out.md). Shard reports are the report.json files `linkbench run
 * --shard I/N` wrote; they belong together when they hold the same scenario (name, links,
 * effective config), the same target URL, the same shard count and start time, the same
 * repetitions, and every index 0..N-1 exactly once. Anything else is refused.
 *
 * For each repetition the hosts' results are joined as run_drvs joins the driver
 * processes of one host (run_drvs_merge): counts summed, establishment the latest, the
 * worst driver's CPU, lag and saturation; the nine histograms merged bucket by bucket
 * (exact: counts, min, max, overflow; run_shard_hist_json); the window the longest of the hosts' (all are
 * the scenario's duration unless one was cut short) and the drain the longest. The run
 * object is then built by the same code as a single host's (run_ext_run_object), the
 * hosts' reduced censuses standing for the drivers' census, so the accounting is the
 * same rule over all links. Server figures read from /proc (--target-pid, a local
 * target) come from one shard: every shard that read them read the same process over
 * its own window; rss_per_link_bytes is rescaled to all links. Beside the contract:
 * runs[].shards (one entry per host: links, CPU, saturation, start, window, clock),
 * runs[].shard_windows (how the hosts' windows lined up, and in which clock's frame),
 * machine.hosts (each host's machine record) and scenario.shards. */

/* Whether a loaded report is a shard result (scenario.shard is present). */
bool run_merge_is_shard(const json_t *report);

/* Join n shard reports of one step (same scenario.links) into one report (a new
 * reference), or NULL with the refusal in err ("shard 2/4 missing (have 0, 1, 3)",
 * "<path>: config differs from <path0>'s at client.rate_per_s: 40 vs 50"). paths name
 * the reports in messages. */
json_t *run_merge_reports(json_t *const *reports, const char *const *paths, int n, char *err,
                          size_t errlen);

/* The first place two JSON values differ, as a dotted path with both values
 * ("client.rate_per_s: 40 vs 50"), into buf; false when they are equal. */
bool run_merge_json_diff(const json_t *a, const json_t *b, char *buf, size_t len);

#endif
