/* rep_page.h — index.html of a results directory: the headline table across scenarios, then one short section per scenario, every chart and file linked relative to the page. */
#ifndef LINKBENCH_REP_PAGE_H
#define LINKBENCH_REP_PAGE_H

#include <stdbool.h>
#include <stdio.h>

typedef struct rep_page_opts {
    const char *page_path;   /* where the page will be written: every link is relative to
                              * its directory (which must exist) */
    bool embed;              /* charts as data: URIs, so the page opens anywhere alone */
    FILE *err;               /* problems (unreadable report): stderr */
} rep_page_opts;

/* The verdict over every report the page shows: what `linkbench run` prints last. */
typedef struct rep_verdict {
    int scenarios;           /* sections (a stepped scenario is one) */
    int reports;             /* report.json files (one per step) */
    int reports_valid;
    int runs;                /* (variant, repetition) runs in them */
    int runs_failed;         /* runs with a failure or invalid reason of their own */
    int held, failed, skipped;   /* expect lines over every report */
} rep_verdict;

/* Write the page for every report.json below the n directories (or report files), in
 * the order given; a directory holding suite.json (what a suite run writes) orders its
 * scenarios as the suite listed them and names the suite in the title. Built from
 * report.json alone (report.md is linked, never parsed); a chart is shown only when its
 * PNG exists and its data is not all zero. v, when not NULL, receives the verdict.
 * Returns 0, -ENOENT (no report found, said on o->err), or -EIO. */
int rep_page_write(FILE *out, char *const *dirs, int n, const rep_page_opts *o, rep_verdict *v);

/* The verdict alone (no page), as rep_page_write computes it. 0 or -ENOENT. */
int rep_page_verdict(char *const *dirs, int n, rep_verdict *v, FILE *err);

/* One line for the terminal: "verdict: PASS: 11 scenarios, 66 runs valid; expectations
 * 32 held, 0 failed, 0 skipped" (FAIL when a report is invalid, a run failed or an
 * expectation failed). */
void rep_verdict_print(FILE *f, const rep_verdict *v);
/* Whether the verdict is a pass. */
bool rep_verdict_ok(const rep_verdict *v);

#endif
