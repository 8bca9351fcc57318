/* cmd.h — the linkbench subcommands, one function each (argv[0] is the subcommand name). */
#ifndef LINKBENCH_CMD_H
#define LINKBENCH_CMD_H

/* Exit codes, for every subcommand (docs/reports.md, "Exit codes"): 1 the run itself
 * failed; 2 usage or input error; 99 a threshold, expect line or regression failed (k6's
 * code for failed thresholds), from check, compare and diff --fail-on-regression. */
enum { LB_EXIT_OK = 0, LB_EXIT_FAIL = 1, LB_EXIT_USAGE = 2, LB_EXIT_REGRESSION = 99 };

struct lb_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

int cmd_list(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_baseline(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_verdicts(int argc, char **argv);

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* Whether a report has a run where the driver, not the variant, was the bottleneck
 * (flags.driver_saturated); when so, why gets "<variant> rep <n> (<reason>), ...".
 * check and baseline update refuse such a report unless told --allow-saturated: its
 * figures measure the load generator (cmd_check.c). */
bool cmd_report_saturated(const json_t *rep, char *why, size_t len);

#endif
