/* met_series.h — a time-series sampler driven by the caller's timer: a process's CPU by group, threads and RSS plus caller counters, written as CSV. */
#ifndef LINKBENCH_MET_SERIES_H
#define LINKBENCH_MET_SERIES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* A caller counter is either cumulative (a RATE: the CSV shows its per-second rate over
 * each period, column "<name>_per_s") or a GAUGE (shown as sampled, column "<name>").
 * Put the unit in the name: "msgs" -> msgs_per_s, "links" -> links, "queue_bytes". */
typedef enum met_series_kind { MET_SERIES_RATE, MET_SERIES_GAUGE } met_series_kind;

typedef struct met_series_counter {
    const char *name;
    met_series_kind kind;
} met_series_counter;

typedef struct met_series_cfg {
    pid_t pid;                 /* process to sample; 0 = this one; < 0 = none (counters only) */
    const char *label;         /* names the process's CPU column: cpu_<label>_pct (default "server") */
    int64_t period_ns;         /* default 250 ms */
    const char *const *groups; /* thread-name prefixes: one cpu_<group>_pct column each.
                                * Groups make each sample walk every thread (costly at
                                * thousands of threads, see met_proc.h); without them the
                                * process CPU comes from /proc/PID/stat in 10 ms ticks. */
    int ngroups;               /* <= MET_PROC_GROUPS_MAX */
    const met_series_counter *counters;
    int ncounters;
} met_series_cfg;

typedef struct met_series met_series;

void met_series_cfg_defaults(met_series_cfg *c);   /* pid 0, "server", 250 ms, nothing else */
/* The cfg's strings are copied. NULL on ENOMEM or invalid cfg (period <= 0, too many groups). */
met_series *met_series_create(const met_series_cfg *cfg);
void met_series_destroy(met_series *s);   /* NULL is a no-op */

/* Call from the caller's own timer (so it lives in a libev loop without a thread of its
 * own) with the current time and the current values of the cfg's counters (may be NULL
 * when there are none). The first call sets the baseline and adds no row; later calls
 * add a row when at least 90 % of a period has passed since the previous row (a timer
 * firing a little early must not skip a whole period). Each row covers the interval
 * since the previous one: t_s is its end, rates and CPU % are over it; CPU % is of one
 * core, so 2 busy cores read 200. A process that exited keeps its last readings.
 * Returns 1 when a row was added, 0 when not due (or baseline), -ENOMEM. */
int met_series_sample(met_series *s, int64_t now_ns, const int64_t *counters);

int met_series_rows(const met_series *s);
int met_series_columns(const met_series *s);
const char *met_series_column_name(const met_series *s, int col);
/* A cell by column name; NAN when the row or the column does not exist. */
double met_series_value(const met_series *s, int row, const char *column);

/* CSV: a header line of column names (units in the names), then one line per row.
 * Columns: t_s, the counters, then (with a process) threads, rss_bytes,
 * cpu_<label>_pct, cpu_<group>_pct... Returns 0 or -EIO. */
int met_series_write_csv(const met_series *s, FILE *f);
/* The same into path, atomically. 0 or negative errno with "path: reason" in err. */
int met_series_save(const met_series *s, const char *path, char *err, size_t errlen);

#endif
