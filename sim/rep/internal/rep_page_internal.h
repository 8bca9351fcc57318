/* rep_page_internal.h — what the page's parts share: the loaded reports grouped into scenarios, and HTML helpers (escaping, relative links, figures, numbers). */
#ifndef LINKBENCH_REP_PAGE_INTERNAL_H
#define LINKBENCH_REP_PAGE_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "rep_page.h"

#define PG_PATH 4096
#define PG_VARIANTS 64

typedef struct pg_report {
    char dir[PG_PATH];      /* its directory, as found */
    json_t *r;              /* report.json */
    double links;           /* scenario.links */
} pg_report;

typedef struct pg_scen {
    char name[128];
    char dir[PG_PATH];      /* the report's directory, or the steps' parent (scale.png) */
    char anchor[160];       /* id of its section: the name, made unique */
    int first, n;           /* its reports in pg.reps, steps ascending by links */
    bool stepped;
} pg_scen;

typedef struct rep_pg {
    pg_report *reps;
    int nrep;
    pg_scen *scen;
    int nscen;
    const char *vars[PG_VARIANTS];   /* every variant, in order of first appearance */
    int nvar;
    char page_dir[PG_PATH];          /* absolute */
    bool embed;
    json_t *suite;                   /* suite.json of the first directory, or NULL */
    char suite_dir[PG_PATH];
} rep_pg;

/* The report that speaks for a scenario in the headline: its largest step. */
static inline const json_t *pg_top(const rep_pg *pg, const pg_scen *s)
{
    return pg->reps[s->first + s->n - 1].r;
}

/* ---- rep_page_html.c: HTML pieces */

/* Text with & < > " escaped. */
void pg_esc(FILE *f, const char *s);
/* A URL from the page to path (any file or directory): relative to the page's
 * directory, each segment percent-encoded where needed. */
void pg_href(FILE *f, const rep_pg *pg, const char *path);
/* <figure> of dir/name (a PNG) linking to its SVG (or the PNG) when the file exists;
 * nothing otherwise. Returns whether it was written. */
bool pg_figure(FILE *f, const rep_pg *pg, const char *dir, const char *name, const char *caption);
/* dir/name exists. */
bool pg_exists(const char *dir, const char *name);

/* A summary value: variant's metric ("lat_in_us.p99") median; NAN when absent or null. */
double pg_med(const json_t *report, const char *variant, const char *metric);

/* Numbers as the page prints them. */
enum pg_unit { PG_COUNT, PG_US, PG_CPU_US, PG_RATIO, PG_BYTES, PG_RATE };
void pg_num(char *out, size_t len, double x, enum pg_unit u);

/* ---- rep_headline.c: the headline table */
void pg_headline(FILE *f, const rep_pg *pg);

#endif
