/* met_stats.h — statistics over repetitions (median, min, max) and the Little's-law sanity check. */
#ifndef LINKBENCH_MET_STATS_H
#define LINKBENCH_MET_STATS_H

#include <stdbool.h>

#include <jansson.h>

/* Median, min and max of n values: the report's summary of a metric over repetitions
 * (never best-of-N). With an even n the median is the mean of the two middle values.
 * n == 0 gives n = 0 and all three 0. */
typedef struct met_mmm {
    double median, min, max;
    int n;
} met_mmm;

met_mmm met_stats_mmm(const double *v, int n);
/* {"median": m, "min": a, "max": b}; integral values are written as JSON integers so
 * counts stay counts. NULL on ENOMEM. */
json_t *met_mmm_to_json(met_mmm m);

/* Little's law: the mean number of messages in flight L equals the throughput lambda
 * times the mean time in the system W. The report prints predicted = lambda * W beside
 * the measured in-flight mean; a large gap means one of the three measurements is
 * wrong (a clock, a counter, or a latency taken from the wrong stamp). */
typedef struct met_little {
    double predicted;   /* throughput_per_s * mean_latency_s */
    double measured;    /* the caller's in-flight mean */
    double ratio;       /* measured / predicted; 1 when both are 0, INFINITY when only predicted is */
    bool ok;            /* |ratio - 1| <= tolerance */
} met_little;

/* tolerance is relative (0.2 = 20 %). Negative inputs are treated as 0. */
met_little met_stats_little(double throughput_per_s, double mean_latency_s,
                            double measured_in_flight, double tolerance);

#endif
