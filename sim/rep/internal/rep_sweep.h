/* rep_sweep.h — sweeps found in a report (variant instances of one module that differ in one param) and their chart data. */
#ifndef LINKBENCH_REP_SWEEP_H
#define LINKBENCH_REP_SWEEP_H

#include <jansson.h>

#define REP_SWEEP_POINTS_MAX 16   /* = SCN_VARIANTS_MAX: a scenario's variants */
#define REP_SWEEPS_MAX 8

struct rep_sweep_point {
    double value;          /* the param's value at this point */
    char variant[64];      /* the report's name for it (an instance, or the plain module) */
};

/* One param of one module, swept: the points sorted by value. */
struct rep_sweep {
    char module[64];
    char param[64];
    int n;
    struct rep_sweep_point pts[REP_SWEEP_POINTS_MAX];
};

/* The sweeps of a report: for each module and param, the instances whose config sets
 * that param and agrees on every other key, spanning three or more distinct values; a
 * member that leaves the param out but agrees on the rest (the plain module, when the
 * rest is empty) joins at the module's default, read from its own table. No new
 * scenario key: a sweep is what the instances span. Returns how many were written into
 * out (at most max). */
int rep_sweep_find(const json_t *report, struct rep_sweep *out, int max);

/* The columns of a sweep's CSV after "value,variant", NULL-terminated: CPU µs per
 * link-second, CPU ms per 1000 messages, wake-ups per link-second, threads per link,
 * links held, latency p50 and p99 (µs, censored where messages were undelivered) of each
 * direction, messages dropped, frames torn by deadlines. Medians over repetitions. */
extern const char *const REP_SWEEP_COLUMNS[];

/* For each sweep of the report, sweep_<module>_<param>.csv in dir, and sweeps.txt with
 * one line per sweep: "<file stem> <param> <module> <panel> ..." (the panels the chart
 * draws: cpu wakeups, then lat_out, lat_in, lat_rtt, threads, links, dropped where they
 * carry data). No sweep: sweeps.txt is removed. 0 or a negative errno with err. */
int rep_sweep_write(const json_t *report, const char *dir, char *err, size_t errlen);

#endif
