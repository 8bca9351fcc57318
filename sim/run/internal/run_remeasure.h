/* run_remeasure.h — a repetition whose driver was saturated is measured again (bounded): the set-aside run kept in the report with why, never dropped. */
#ifndef LINKBENCH_RUN_REMEASURE_H
#define LINKBENCH_RUN_REMEASURE_H

#include <stdbool.h>

#include <jansson.h>

/* The last run of runs, just measured (attempt 0 the first time), when its driver was
 * saturated, the run otherwise clean (it failed nothing, is not partial, has no invalid
 * reason: those are findings and stay) and attempt < max: moved to discarded with
 * "discarded": {attempt, why}, its histograms left out and its series file renamed
 * series_<v>_<rep>_discarded<attempt+1>.csv in dir. True when it was: measure again. */
bool run_remeasure_take(json_t *runs, json_t *discarded, int attempt, int max, const char *dir);

/* Into a built report: "discarded_runs" (the runs set aside, in the order measured) and
 * flags.remeasured (how many). Steals discarded. */
void run_remeasure_attach(json_t *report, json_t *discarded);

#endif
