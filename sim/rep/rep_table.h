/* rep_table.h — the comparison table printed at the end of a run (aligned text fitted to a width, markdown, HTML), from report.json's summary. */
#ifndef LINKBENCH_REP_TABLE_H
#define LINKBENCH_REP_TABLE_H

#include <stdio.h>

#include <jansson.h>

enum rep_table_fmt {
    REP_TABLE_TEXT,       /* aligned columns for a terminal */
    REP_TABLE_MARKDOWN,   /* a GitHub-style table for report.md */
    REP_TABLE_HTML,       /* <table class="cmp"> for the results page */
};

/* One row per variant (in the summary's order), medians over repetitions:
 *   variant | threads/link | CPU per 1k msgs (ms) | in p50 (µs) | in p99 (µs) |
 *   out p50 (µs) | out p99 (µs) | drops | in flight | lost | throughput (msg/s) |
 *   kept up | notes
 * A metric no run reported shows as "-". A p99 with messages undelivered at the end
 * shows the censored p99 as "≥x" (a lower bound: those messages counted at their age).
 * kept up: yes in every repetition, no in none, some otherwise. Notes say INVALID,
 * driver-saturated, partial and the limit a variant reached, so a number is never read
 * without its caveat; they are never cut. Returns 0 or -EIO / -EINVAL (report without a
 * summary). */
int rep_table_print(FILE *f, const json_t *report, enum rep_table_fmt fmt);
/* The same, text fitted to cols columns (0: no limit): titles wrap over several lines
 * when one line would not fit, notes wrap at spaces in their column, or go on lines of
 * their own under the row when fewer than 20 columns are left for them. */
int rep_table_print_width(FILE *f, const json_t *report, enum rep_table_fmt fmt, int cols);
/* The line printed above the table: "== echo, 100 links: 6 variants x 3 repetitions, medians ==". */
void rep_table_title(FILE *f, const json_t *report);
/* The same into a new string (free it); NULL on error. */
char *rep_table_string(const json_t *report, enum rep_table_fmt fmt);

#endif
