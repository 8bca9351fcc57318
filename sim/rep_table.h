/* rep_table.h — the comparison table printed at the end of a run (aligned text or markdown), from report.json's summary. */
#ifndef LINKBENCH_REP_TABLE_H
#define LINKBENCH_REP_TABLE_H

#include <stdio.h>

#include <jansson.h>

enum rep_table_fmt {
    REP_TABLE_TEXT,       /* aligned columns for a terminal */
    REP_TABLE_MARKDOWN,   /* a GitHub-style table for report.md */
};

/* One row per variant (in the summary's order), medians over repetitions:
 *   variant | threads/link | CPU per 1k msgs (ms) | in p50 (µs) | in p99 (µs) |
 *   out p50 (µs) | out p99 (µs) | drops | lost | throughput (msg/s) | notes
 * A metric no run reported shows as "-". Notes say INVALID, driver-saturated, partial
 * and the limit a variant reached, so a number is never read without its caveat.
 * Returns 0 or -EIO / -EINVAL (report without a summary). */
int rep_table_print(FILE *f, const json_t *report, enum rep_table_fmt fmt);
/* The same into a new string (free it); NULL on error. */
char *rep_table_string(const json_t *report, enum rep_table_fmt fmt);

#endif
