/* rep_report.h — build report.json (scenario, machine, config, runs, summary, flags) from run objects, and write it atomically (lb_file.h). */
#ifndef LINKBENCH_REP_REPORT_H
#define LINKBENCH_REP_REPORT_H

#include <stddef.h>

#include <jansson.h>

/* ---- Input: one run object per (variant, repetition), produced by `linkbench run`:
 *
 *   {
 *     "variant": "dual",              required, non-empty string
 *     "rep": 0,                       required integer >= 0
 *     "metrics": {                    required object
 *       "links": 1000, "msgs_sent": 123456, ...      numbers: the contract's scalar
 *                                                    metrics (MET_SCALAR_METRICS) and any
 *                                                    other number
 *       "lat_in_us":  {"p50": 41.2, "p90": .., "p99": .., "p999": .., "max": ..},
 *       "lat_out_us": {...}, "lat_rtt_us": {...},
 *       "drops_by_reason": {"queue_full": 12, ...}   only reasons that occurred
 *       "<other>": {"<key>": number, ...}            any other object of numbers, e.g.
 *                                                    per-direction detail, is summarised
 *                                                    key by key
 *     },
 *     "flags": {                      optional
 *       "driver_saturated": false,    the driver, not the variant, was the bottleneck
 *       "partial": false,             the run was cut short (signal, failure)
 *       "limit_reached": "dual could hold 9800 links: thread limit",   or absent/null
 *       "invalid_reasons": ["..."]    problems the run command found itself
 *     },
 *     ... anything else (histograms, file names) is copied into report.runs as is
 *   }
 *
 * Accounting rules checked here, each making the report invalid with a reason:
 *   - msgs_lost must be present and 0;
 *   - when all of them are present, msgs_sent == msgs_delivered + msgs_dropped +
 *     msgs_refused + msgs_in_flight + msgs_lost (+ msgs_abandoned when reported: the
 *     messages of connections that closed during the run), every message once.
 * A run is also marked driver_saturated when cpu_driver_util > 0.8 (METHOD.md, 9).
 *
 * ---- Output (report.json):
 *
 *   { "format": 1, "scenario": .., "machine": .., "config": ..,
 *     "valid": bool,
 *     "flags": { "valid": bool, "reasons": [str], "driver_saturated": bool,
 *                "partial": bool,
 *                "variants": { "<variant>": { "reps": n, "valid": bool,
 *                     "driver_saturated": bool, "partial": bool,
 *                     "limit_reached": str|null, "missing_metrics": [str] } } },
 *     "runs": [ the run objects, with the derived metrics added ],
 *     "summary": { "<variant>": { "<metric>": {"median", "min", "max"},
 *                   "lat_in_us": {"p50": {"median", "min", "max"}, ...},
 *                   "drops_by_reason": {"<reason>": {"median", "min", "max"}}, ... } } }
 *
 * Every contract metric appears in every variant's summary; one no run reported has
 * null median/min/max and is listed in flags.variants.<v>.missing_metrics. Derived per
 * run, when absent and computable: cpu_ms_per_1k_msgs = cpu_server_s * 1e6 /
 * msgs_delivered, msgs_per_cpu_s = msgs_delivered / cpu_server_s. A reason missing from
 * one run's drops_by_reason counts as 0 there. Partial is also set when variants did not
 * all complete the same number of repetitions. */

/* Build the report. scenario, machine and config are copied (NULL gives {}); runs must
 * be an array of run objects. Returns a new reference, or NULL with a message in err
 * naming the bad element ("runs[2].variant: must be a non-empty string"). */
json_t *rep_report_build(const json_t *scenario, const json_t *machine, const json_t *config,
                         const json_t *runs, char *err, size_t errlen);

/* The module a report's variant ran: an instance's "variant" (config.variants holds
 * {"name", "variant", "config"} for each instance), else name itself. */
const char *rep_variant_module(const json_t *report, const char *name);
/* An instance's own params (config.variants[].config), or NULL for a plain variant. */
const json_t *rep_variant_config(const json_t *report, const char *name);

/* Write the report (indented, keys in insertion order) to path atomically. Returns 0 or
 * a negative errno with "path: reason" in err. */
int rep_report_write(const json_t *report, const char *path, char *err, size_t errlen);

#endif
