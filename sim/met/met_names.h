/* met_names.h — the names of the metrics a report carries (the report contract, rep_report.h), which scenario expect lines may name. */
#ifndef LINKBENCH_MET_NAMES_H
#define LINKBENCH_MET_NAMES_H

/* The contract's scalar metrics, NULL-terminated, in report order. */
extern const char *const MET_SCALAR_METRICS[];
/* The latency metrics and their percentile keys, NULL-terminated. */
extern const char *const MET_LATENCY_METRICS[];
extern const char *const MET_LATENCY_KEYS[];

#endif
