/* rep_plot.h — chart data from reports (CSV, HdrHistogram .hlog), the gnuplot scripts that draw it, and what a run writes beside its report.json. */
#ifndef LINKBENCH_REP_PLOT_H
#define LINKBENCH_REP_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* ---------------------------------------------------------------- finding reports */

/* Append every report.json at or below path to *paths (a regular file is taken as it
 * is), sorted by path, so timestamped run directories come oldest first. *paths grows
 * with realloc; free with rep_reports_free. Returns the number added (0: none), or a
 * negative errno with "path: reason" in err. */
int rep_find_reports(const char *path, char ***paths, int *n, char *err, size_t errlen);
void rep_reports_free(char **paths, int n);

/* ---------------------------------------------------------------- data (rep_data.c) */

/* A variant name as it appears in file names: a module path ("./my/link.so") keeps
 * only [A-Za-z0-9_.-] of its base name, the rest becomes '_'. */
void rep_file_name(const char *variant, char *out, size_t len);

/* Chart data for one report into dir (the report's directory):
 *   lat_<in|out|rtt>_<variant>.csv   percentile spectrum of the repetitions merged:
 *       percentile,inv_tail,value_us  (inv_tail = 1/(1-p), the HdrHistogram plot axis)
 *   lat_<in|out|rtt>_<variant>.hlog  HdrHistogram interval log, one interval per
 *       repetition, values in ns (only when the runs carry "histograms")
 *   drops.csv   variant,msgs_sent,msgs_dropped,msgs_refused,msgs_lost (medians)
 *   variants.txt  the variants in report order (file-name form), one per line
 * Without histograms the spectrum falls back to the summary's p50/p90/p99/p99.9.
 * Returns 0 or a negative errno with "file: reason" in err. */
int rep_data_write(const json_t *report, const char *dir, char *err, size_t errlen);

/* Cross-report data. reports[i] was loaded from paths[i].
 * - For each directory holding steps of one scenario (links_<N>/report.json):
 *   scale_<variant>.csv: links,links_held,threads_peak,threads_per_link,
 *   cpu_us_per_link_s,wakeups_per_link_s,rss_per_link_bytes  (one row per step)
 * - At root, when the reports hold more than one scenario: overview_dropped.csv and
 *   overview_lost.csv, one row per scenario (the newest report of each
 *   scenario@links), one column per variant, NaN where a variant was not run.
 * Returns 0 or a negative errno with err. */
int rep_data_aggregate(const char *root, char *const *paths, json_t *const *reports, int n,
                       char *err, size_t errlen);

/* ---------------------------------------------------------------- charts (rep_plot.c) */

typedef struct rep_plot_opts {
    FILE *log;            /* problems: why charts were skipped or failed (stderr) */
    FILE *info;           /* what was drawn; NULL = stdout (stderr stays for problems) */
    bool quiet;           /* only problems */
    bool charts;          /* run gnuplot (false: data only) */
} rep_plot_opts;

/* The directory holding latency.gp and its siblings: $LINKBENCH_PLOTS_DIR, then
 * <executable's dir>/../plots (a build tree inside the source tree),
 * <executable's dir>/../share/linkbench/plots (installed), then ./plots. 0 or -ENOENT. */
int rep_plot_scripts_dir(char *out, size_t len);
/* Whether gnuplot is on PATH. */
bool rep_plot_have_gnuplot(void);

/* `linkbench plot`: for every report under root, its data files when they are missing
 * (report.md too), then the cross-report data, then every chart from the CSVs, each
 * as PNG and SVG: lat_in/lat_out/lat_rtt (percentile spectrum per variant), drops,
 * series (throughput, threads, RSS over time) per report; scale (CPU per link-second
 * and threads versus links) per stepped scenario; overview (drops and lost per
 * scenario) at root. Returns 0, 1 when a chart failed or gnuplot is missing (said on
 * the log), 2 when no report was found or one did not load. */
int rep_plot_dir(const char *root, const rep_plot_opts *o);

/* The end of `linkbench run` for one scenario's results directory: report.md, data
 * and charts (as rep_plot_dir, data rewritten), then the scenario's expect lines,
 * each failure printed on out. Returns 0, or 1 when an expect line fell short or the
 * outputs could not be written. */
int rep_run_outputs(const char *dir, FILE *out, bool quiet);

#endif
