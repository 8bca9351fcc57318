/* run_progress.h — the live progress line of `linkbench run` in a terminal: run k of N, scenario, variant, repetition, phase, elapsed and time left for the whole invocation. */
#ifndef LINKBENCH_RUN_PROGRESS_H
#define LINKBENCH_RUN_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "scn.h"

/* A run's expected wall time: ramp (links / connect rate) + warm-up + duration, plus
 * the start and teardown of the server (a fixed second and a little per link). */
double run_progress_estimate(const struct scn *s, int64_t links);
/* Every run the scenario will make (variants x repetitions x steps) and their expected
 * time, added to *runs and *secs. */
void run_progress_count(const struct scn *s, int *runs, double *secs);

/* The plan: n_scenarios scenarios, runs in all, est_s expected. Starts the clock. */
void run_progress_plan(int n_scenarios, int runs, double est_s);
/* Scenario k (1-based) starts. */
void run_progress_scenario(int k, const char *name);
/* One run starts (its expected time est_s) or ends. */
void run_progress_run_start(const char *variant, int rep, int reps, int64_t links, double est_s);
void run_progress_run_end(void);

/* Redraw the line on f (a terminal): what run_one's driver callback calls. The line
 * is cut to the terminal's width so that it never wraps (a wrapped line cannot be
 * redrawn in place). */
void run_progress_show(FILE *f, const char *phase, double t_s, double total_s,
                       long long links, double msgs_per_s);
/* Erase the line (before anything else is printed). */
void run_progress_clear(FILE *f);

/* Seconds since run_progress_plan. */
double run_progress_elapsed(void);

/* The terminal's width for fd (TIOCGWINSZ, else $COLUMNS), 0 when it is no terminal. */
int run_progress_columns(int fd);

#endif
