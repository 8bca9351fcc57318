/* met_hist.h — HDR-style latency histogram: ns resolution, >= 100 s range, ~3 significant digits. */
#ifndef LINKBENCH_MET_HIST_H
#define LINKBENCH_MET_HIST_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* Log-linear buckets (HdrHistogram layout): values 0 .. ~137 s (2^37 ns) with a relative
 * error below 0.1 %. One writer per histogram; merge per-thread histograms at the end. */
typedef struct met_hist met_hist;

met_hist *met_hist_create(void);               /* NULL on ENOMEM */
void met_hist_destroy(met_hist *h);            /* NULL is a no-op */
void met_hist_reset(met_hist *h);
/* Record a value in ns (n times). Returns false, and counts it in overflow, when the
 * value is out of range (negative or beyond the top); it is never silently dropped. */
bool met_hist_record(met_hist *h, int64_t v_ns);
bool met_hist_record_n(met_hist *h, int64_t v_ns, int64_t n);
void met_hist_merge(met_hist *dst, const met_hist *src);

int64_t met_hist_count(const met_hist *h);     /* recorded in range */
int64_t met_hist_overflow(const met_hist *h);  /* out of range */
int64_t met_hist_min(const met_hist *h);       /* 0 when empty */
int64_t met_hist_max(const met_hist *h);       /* exact max recorded (in range) */
double met_hist_mean(const met_hist *h);
/* Value at percentile p (0..100], as the highest-equivalent value of its bucket, like
 * HdrHistogram's valueAtPercentile. 0 when empty. */
int64_t met_hist_percentile(const met_hist *h, double p);

/* Iterate non-empty buckets in ascending order: *value is the bucket's highest
 * equivalent value, *count its count. Start with *cursor = 0; returns false at the end. */
bool met_hist_next(const met_hist *h, int *cursor, int64_t *value, int64_t *count);

/* Sparse JSON form ({"counts": [[bucket, n], ...], "overflow": n, "min":, "max":}) for
 * moving histograms between processes exactly. */
json_t *met_hist_to_json(const met_hist *h);
met_hist *met_hist_from_json(const json_t *j);   /* NULL if malformed */

#endif
