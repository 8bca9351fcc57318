/* run_suite.h — a suite file end to end (its scenarios under one results/<suite>/<stamp>/ directory), and the end of every invocation: index.html, the verdict, the page's path. */
#ifndef LINKBENCH_RUN_SUITE_H
#define LINKBENCH_RUN_SUITE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "run.h"

/* Whether file is a suite (a JSON object with "scenarios"). */
bool run_is_suite(const char *file);

/* Every scenario of the suite, checked before any runs, each into
 * <out>/<suite>/<stamp>/<scenario>/ (steps in links_<N>/ below it), with suite.json
 * beside them (name, description, the scenario directories in order, start, duration);
 * then run_finish. Returns the exit code. */
int run_suite_file(const run_opts *o, const char *file);

/* The end of a scenario's or a suite's run in dir: index.html (rep_page.h) written
 * there, the verdict printed, and the page's path printed last (stdout; stderr with
 * --json). Returns rc, or 1 when the page could not be written. */
int run_finish(const run_opts *o, const char *dir, int rc);

/* <suite dir>/<scenario>, or <scenario>-2, -3 ... when the suite names it twice, created
 * fresh; 0 or -errno (said on stderr). A built-in suite's and a --target suite's. */
int run_scenario_dir(const char *suite_dir, const char *name, char *out, size_t len);

/* ---- shared with run_scn.c */

/* out/<name>/<UTC timestamp>[-n], created fresh. 0 or -errno with err. */
int run_make_dir(const char *out, const char *name, char *dir, size_t len, char *err,
                 size_t errlen);
/* Parse a scenario with the suite's scaling (or NULL) and the command line's overrides
 * applied; the parser's error count, its words in d. */
int run_parse_overridden(const run_opts *o, const char *file, const struct scn_scaling *sc,
                         struct scn *s, struct scn_diag *d);
/* Load, scale, override and validate one scenario (errors printed). 0 or -1. */
int run_load_scenario(const run_opts *o, const char *file, const struct scn_scaling *sc,
                      struct scn *s);
/* Every step and repetition of s into dir (which exists), then report.md, charts and
 * the expect lines. 0, or 1 when a run failed or an expectation fell short. */
int run_scenario_in(const run_opts *o, const char *file, const struct scn *s, const char *dir);

#endif
