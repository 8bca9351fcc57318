/* rep_html.h — one static HTML page from results directories: every report's markdown as HTML, its charts embedded as data: URIs. */
#ifndef LINKBENCH_REP_HTML_H
#define LINKBENCH_REP_HTML_H

#include <stdio.h>

/* Write the page for every report.json below the n directories (or report files) to
 * out: a contents list, then per report its report.md rendered (machine record,
 * comparison table, paragraph, expectations) and its PNG charts; the scale and
 * overview charts where they exist. Charts are embedded, so the page opens from disk
 * anywhere. A report.md missing beside a report.json is generated first.
 * Returns 0, -ENOENT (no report found, message on err), or -EIO. */
int rep_html_write(FILE *out, char *const *dirs, int n, FILE *err);

/* The markdown subset report.md uses (headings, paragraphs, lists, pipe tables,
 * **bold**, `code`) as HTML; exposed for tests. Returns 0 or -EIO. */
int rep_html_markdown(FILE *out, const char *md);

#endif
