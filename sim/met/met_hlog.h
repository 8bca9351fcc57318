/* met_hlog.h — HdrHistogram interval logs (.hlog): a histogram in the V2 compressed, base64 encoding, and the log's header and interval lines. */
#ifndef LINKBENCH_MET_HLOG_H
#define LINKBENCH_MET_HLOG_H

#include <stdio.h>

#include "met_hist.h"

/* The encoding HdrHistogram (Java, C, Go, ...) reads: a 40-byte big-endian header
 * (cookie 0x1c849313, payload length, normalizing offset 0, 3 significant digits,
 * lowest 1, highest 2^37 - 1, conversion ratio 1.0) followed by the counts up to the
 * max as ZigZag LEB128 varints, a run of k empty counters written as -k; all of it
 * zlib-deflated behind an 8-byte header (cookie 0x1c849314, deflated length), then
 * base64. Values are ns. Overflow is not representable in the format and is left out
 * (report it beside the log). Returns a new string (free it), NULL on ENOMEM. */
char *met_hlog_encode(const met_hist *h);

/* The inverse, for histograms of the same geometry (lowest 1, 3 significant digits,
 * highest at most 2^37 - 1): anything else, or a damaged input, gives NULL. Min and max
 * come back at bucket precision: the format carries counts only. */
met_hist *met_hlog_decode(const char *base64);

/* The log's header, in HdrHistogram's log format 1.3:
 *   #[<comment>]                                     (when comment is not NULL)
 *   #[Histogram log format version 1.3]
 *   #[StartTime: 1700000000.123 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]
 *   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
 * start_time_s is the wall-clock time of the log's start. Returns 0 or -EIO. */
int met_hlog_write_header(FILE *f, double start_time_s, const char *comment);

/* One interval line: [Tag=<tag>,]<start_s>,<length_s>,<max>,<base64>, start relative to
 * the StartTime, max in ms (ns / 1e6, as Java's HistogramLogWriter writes ns
 * histograms). tag may be NULL; it must not hold ',' or whitespace. 0, -EINVAL, -ENOMEM
 * or -EIO. */
int met_hlog_write_interval(FILE *f, double start_s, double length_s, const met_hist *h,
                            const char *tag);

#endif
