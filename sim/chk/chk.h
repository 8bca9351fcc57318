/* chk.h — the regression gate: a report's expect lines evaluated on its summary, and its metrics compared with a baseline under per-metric tolerances. */
#ifndef LINKBENCH_CHK_H
#define LINKBENCH_CHK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "scn.h"

/* Counts of one check; every evaluation adds to exactly one of them. */
typedef struct chk_counts {
    int held;      /* the line or comparison holds */
    int failed;    /* it falls short (exit 1) */
    int skipped;   /* it cannot be evaluated here (a variant not run, no baseline entry) */
} chk_counts;

/* Where a check prints: one line per evaluation, "ok", "FAIL" or "skip", naming the
 * metric, what was expected and what was measured. verbose = false prints only
 * FAIL and skip lines. */
typedef struct chk_out {
    FILE *f;
    bool verbose;
} chk_out;

/* One value of report.summary: variant's metric ("msgs_lost", "lat_rtt_us.p99",
 * "drops_by_reason.rate_limited") at aggregate st. A drop reason a variant's summary
 * lacks counts as 0 (reasons appear only once they occur). Returns false when the
 * variant or the metric is absent or its value is null. */
bool chk_summary_value(const json_t *report, const char *variant, const char *metric,
                       enum scn_stat st, double *out);

/* The report's name in messages and the baseline's key: "<scenario>@<links>" (the
 * same scenario at another size is another entry). buf gets "?" when absent. */
void chk_report_key(const json_t *report, char *buf, size_t len);

/* Evaluate one parsed expect line on the report's summary. A '*' on the left is
 * evaluated for every variant of the summary (and '*' on the right means the same
 * variant); a line naming a variant the report does not hold is skipped, since only
 * variants measured in the same run are compared. A missing value fails. */
void chk_expect_eval(const json_t *report, const struct scn_expect *e, const chk_out *o,
                     chk_counts *c);

/* Every line of report.config.expect. Returns 0, or -EINVAL with err when the report
 * has no summary or a line does not parse (an input error, exit 2). */
int chk_expect_report(const json_t *report, const chk_out *o, chk_counts *c, char *err,
                      size_t errlen);

/* ---------------------------------------------------------------- baseline */

/* How a metric may move before the gate fails. */
enum chk_kind {
    CHK_EXACT,        /* must equal the baseline */
    CHK_ZERO_EXACT,   /* a baseline of 0 must stay 0; otherwise banded like CHK_BAND */
    CHK_BAND,         /* within factor and slack of the baseline, in the bad direction */
};
enum chk_dir {
    CHK_LOWER_BETTER, /* fails above baseline * factor + slack */
    CHK_HIGHER_BETTER,/* fails below baseline / factor - slack */
    CHK_EITHER,       /* fails outside [baseline / factor - slack, baseline * factor + slack] */
};
struct chk_tol {
    const char *metric;   /* summary name, dotted for latencies */
    enum chk_kind kind;
    enum chk_dir dir;
    double factor;        /* >= 1 */
    double slack;         /* in the metric's unit */
    const char *of;       /* a count out of this one (msgs_dropped of msgs_sent): a lower-
                           * better band never reaches past half of what the baseline
                           * left (base + (of - base) / 2, of as measured now), so it can
                           * fail however much the baseline dropped; NULL: no cap */
};
/* The one tolerance table (chk_baseline.c; docs/reports.md explains each band),
 * terminated by an entry with metric NULL. Only these metrics are stored in and
 * compared with a baseline. */
extern const struct chk_tol CHK_TOLERANCES[];
/* A higher-better band whose floor is at or below 0 holds for any value (a throughput
 * of 0 would mean "at least 0"): such a baseline is not stored, and skipped when found. */
bool chk_tol_vacuous(const struct chk_tol *t, double base);

/* Compare a report with baseline (the file's JSON). Each tolerated metric of each
 * variant the baseline holds for the report's key is one evaluation; a key or variant
 * the baseline lacks is one skip. Returns 0, or -EINVAL with err when the baseline is
 * malformed. */
int chk_baseline_compare(const json_t *baseline, const json_t *report, const chk_out *o,
                         chk_counts *c, char *err, size_t errlen);

/* Put the report's medians of the tolerated metrics into baseline under its key
 * (replacing that key's entry, keeping the others). baseline must be an object; an
 * empty one is given its format. 0, or -EINVAL with err (no summary, bad baseline). */
int chk_baseline_update(json_t *baseline, const json_t *report, char *err, size_t errlen);

/* Several runs of the same suite (chk_spread.c): for each scenario@links of reps, which
 * must hold exactly `runs` reports of it, store per variant and tolerated metric
 * {median, min, max, runs} over the reports' medians, replacing that key's entry.
 * 0, or -EINVAL with err (a key with another number of reports, runs < 2). */
int chk_baseline_update_runs(json_t *baseline, json_t *const *reps, int n, int runs, char *err,
                             size_t errlen);

/* Judge got against a spread entry m ({median, min, max, runs}) for tolerance t: exact
 * where every run agreed on a count, else the measured ratio max/min applied once more
 * beyond the worst run (at least 10 %), plus t's slack. 1 holds, 0 falls short, -1 m is
 * malformed; the expectation in words in exp. */
int chk_spread_judge(const struct chk_tol *t, const json_t *m, double got, char *exp, size_t n);

/* Load a report file: a JSON object with a summary. NULL with "path: reason" in err. */
json_t *chk_load_report(const char *path, char *err, size_t errlen);

#endif
