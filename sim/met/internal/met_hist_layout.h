/* met_hist_layout.h — internal: the bucket geometry shared by met_hist.c and met_hlog.c. */
#ifndef LINKBENCH_MET_HIST_LAYOUT_H
#define LINKBENCH_MET_HIST_LAYOUT_H

#include <stdint.h>

/* HdrHistogram geometry for lowest = 1 ns, highest = 2^37 - 1 ns, 3 significant digits:
 * 2 * 10^3 values must be resolvable one by one, so a sub-bucket holds 2^11 = 2048
 * slots; each further bucket doubles the range and halves the resolution, so only the
 * upper half of each bucket after the first is stored. 27 buckets reach 2^37 - 1, which
 * gives (27 + 1) * 1024 = 28672 counters (224 KiB of int64). HdrHistogram_c computes the
 * same numbers from hdr_init(1, 2^37 - 1, 3), which is what keeps .hlog output readable
 * by its tools. */
#define MET_HIST_SIGFIGS 3
#define MET_HIST_LOWEST 1
#define MET_HIST_HIGHEST ((INT64_C(1) << 37) - 1)
#define MET_HIST_SUB_BUCKET_MAG 11
#define MET_HIST_SUB_BUCKET_COUNT (1 << MET_HIST_SUB_BUCKET_MAG)
#define MET_HIST_HALF_MAG (MET_HIST_SUB_BUCKET_MAG - 1)
#define MET_HIST_HALF_COUNT (1 << MET_HIST_HALF_MAG)
#define MET_HIST_BUCKET_COUNT 27
#define MET_HIST_COUNTS_LEN ((MET_HIST_BUCKET_COUNT + 1) * MET_HIST_HALF_COUNT)

/* Counter index of an in-range value (0 <= v <= MET_HIST_HIGHEST). */
static inline int met_hist_index_of(int64_t v)
{
    uint64_t u = (uint64_t)v | (MET_HIST_SUB_BUCKET_COUNT - 1);
    int pow2ceil = 64 - __builtin_clzll(u);
    int bucket = pow2ceil - MET_HIST_SUB_BUCKET_MAG;
    int sub = (int)(v >> bucket);
    return ((bucket + 1) << MET_HIST_HALF_MAG) + (sub - MET_HIST_HALF_COUNT);
}

/* The bucket number (= log2 of the slot width) of a counter index. */
static inline int met_hist_bucket_of_index(int i)
{
    int bucket = (i >> MET_HIST_HALF_MAG) - 1;
    return bucket < 0 ? 0 : bucket;
}

/* Lowest value that lands in counter i. */
static inline int64_t met_hist_lowest_of_index(int i)
{
    int bucket = (i >> MET_HIST_HALF_MAG) - 1;
    int64_t sub = (i & (MET_HIST_HALF_COUNT - 1)) + MET_HIST_HALF_COUNT;
    if (bucket < 0) {
        sub -= MET_HIST_HALF_COUNT;
        bucket = 0;
    }
    return sub << bucket;
}

/* Highest value that lands in counter i ("highest equivalent value"). */
static inline int64_t met_hist_highest_of_index(int i)
{
    return met_hist_lowest_of_index(i) + (INT64_C(1) << met_hist_bucket_of_index(i)) - 1;
}

#endif
