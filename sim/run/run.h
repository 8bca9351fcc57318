/* run.h — orchestration of `linkbench run`: scenarios, interleaved repetitions, one run per (variant, repetition), the report. */
#ifndef LINKBENCH_RUN_H
#define LINKBENCH_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "drv.h"
#include "scn.h"

/* Exit codes (the same as every subcommand's). */
enum { LB_RUN_OK = 0, LB_RUN_FAIL = 1, LB_RUN_USAGE = 2 };

/* Command-line settings (plain struct: memset, run_opts_default, then options). */
typedef struct run_opts {
    const char *out_dir;       /* results root (default "results") */
    const char *variants;      /* --variant a,b (NULL: the scenario's) */
    int64_t repeat;            /* --repeat N (0: the scenario's) */
    int64_t remeasure;         /* --remeasure N, when remeasure_set (else the scenario's
                                * driver.remeasure) */
    bool remeasure_set;
    int64_t links;             /* --links N (0: the scenario's) */
    double duration_s;         /* --duration S (0: the scenario's) */
    bool quiet;                /* no progress line, no table */
    bool json;                 /* print report.json instead of the table */
    bool progress;             /* progress line (stderr is a terminal and not quiet) */
    const char *exe;           /* this executable, started again as the server child */
    struct run_shard *shard;   /* --shard I/N (with --target): this host's part, or NULL */
} run_opts;

void run_opts_default(run_opts *o);

/* Set by the SIGINT handler: stop the current run cleanly, start no other. */
extern volatile sig_atomic_t run_interrupted;
/* Install the SIGINT/SIGTERM handler (asks the current driver to stop). */
void run_signals_install(void);

/* Everything one (variant, repetition) produced, for run_object. */
typedef struct run_inputs {
    const char *variant;
    int rep;
    int64_t links_wanted;
    const struct drv_result *dr;   /* NULL: the driver did not run */
    const json_t *srv;             /* the server's report document, or NULL */
    const json_t *kern;            /* the servers as the kernel saw them (run_watch_json), or NULL */
    const char *failure;           /* why the run failed (server died, could not start), or NULL */
    bool partial;                  /* interrupted */
    bool sink;                     /* app.mode sink: a client message is delivered when the
                                    * app takes it (nothing comes back to the driver) */
    double in_flight_mean;         /* echoes in flight, averaged over the window's samples */
    const char *series_file;       /* CSV name inside the run directory, or NULL */
    const json_t *drv_census;      /* the drivers' census documents (drv_census), or NULL */
    const char *server_cpus;       /* CPUs the server's threads ran on ("0,1") */
    const char *driver_cpus;
    rt_ns stall_max_ns;            /* the parent's stall probe: its latest wake-up less the
                                    * run-queue wait it saw (-1: not measured) */
    rt_ns probe_late_ns;           /* its latest wake-up, and the run-queue wait in it (-1) */
    rt_ns probe_late_wait_ns;
    rt_ns stall_limit_ns;          /* driver.stall_ms: a later one flags the run */
    double steal_ms;               /* the machine's steal during the run (-1: not read) */
    double planned_echo_per_s;     /* the schedule's echoes per second over all links, where
                                    * every sending group sends until the end (-1: unknown) */
} run_inputs;

/* The run object (rep_report.h's input): metrics with the contract's names, flags,
 * per-direction detail. New reference, NULL on ENOMEM. */
json_t *run_object(const run_inputs *in);

/* Every contract metric (rep_report.h) that metrics m lacks or holds as null, in
 * contract order: what a run could not measure here. New reference. */
json_t *run_absent_metrics(const json_t *m);

/* Run one (variant, repetition) of s with `links` links; series CSV into run_dir.
 * label (for the progress line) e.g. "echo dual 2/3". Appends one run object to runs.
 * Returns 0, or 1 when the run failed (its object says why). */
int run_one(const run_opts *o, const struct scn *s, int64_t links, const char *variant,
            int rep, const char *run_dir, const char *label, json_t *runs);

/* Run a scenario file (or every scenario of a suite file): every variant, interleaved
 * repetitions, report.json and series CSVs under out_dir/<scenario>/<timestamp>/.
 * Returns the exit code: 0 ok, 1 a run failed or results could not be written,
 * 2 the file did not load (messages printed). */
/* Build report.json from the parts (consumed), mark it partial after Ctrl-C, write it in
 * dir, print it when o->json. The report (caller's) or NULL after printing the error. */
json_t *run_report_emit(const run_opts *o, const char *dir, json_t *scen, json_t *mach,
                        json_t *conf, json_t *runs, json_t *discarded);
int run_file(const run_opts *o, const char *file);

#endif
