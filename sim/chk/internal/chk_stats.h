/* chk_stats.h — distribution-free statistics for the A/B gate: median, spread, Mann–Whitney U with an exact p-value, a bootstrap interval of the ratio of medians. Pure functions, no I/O. */
#ifndef LINKBENCH_CHK_STATS_H
#define LINKBENCH_CHK_STATS_H

#include <stdbool.h>
#include <stdint.h>

/* Up to this many values in both samples together, chk_mwu computes the exact
 * permutation distribution (ties included); beyond it the normal approximation. */
#define CHK_MWU_EXACT_MAX 100

/* Median of x[0..n) (the mean of the middle two for even n). x is not modified.
 * NAN when n == 0. */
double chk_median(const double *x, int n);

/* The largest distance of a value from the median, relative to the median, in percent
 * (what "± 6 %" beside a median says), outliers left out as benchstat does: values
 * beyond 1.5 interquartile ranges outside the quartiles (Tukey's fences; quartiles
 * interpolated as R's type 7). 0 when all kept values are equal; NAN when n == 0, or
 * when the median is 0 and some kept value is not. */
double chk_spread_pct(const double *x, int n);

/* Mann–Whitney U (Wilcoxon rank-sum) test of x against y, two-sided. */
struct chk_mwu {
    double u;        /* U of x: pairs (x_i, y_j) with x_i > y_j, plus half the ties */
    double p;        /* two-sided p-value */
    bool exact;      /* p from the exact permutation distribution (else normal approx.) */
};

/* Test whether x and y come from the same distribution. Midranks for ties. When nx + ny
 * <= CHK_MWU_EXACT_MAX, p is exact: the distribution of the rank sum of x over every
 * split of the pooled (tied) ranks into nx and ny, counted by dynamic programming, and
 * p = min(1, 2 * min(P(S <= s), P(S >= s))) (for data without ties this is scipy's
 * method="exact"). Beyond, the normal approximation with tie and continuity correction
 * (scipy's method="asymptotic"). When every value is tied, p = 1.
 * Returns 0, -EINVAL (nx or ny < 1), or -ENOMEM. */
int chk_mwu(const double *x, int nx, const double *y, int ny, struct chk_mwu *out);

/* Percentile bootstrap interval of median(y) / median(x): `rounds` resamples of each
 * side with replacement from a generator seeded with `seed` (the same inputs and seed
 * give the same interval), coverage `level` (e.g. 0.95). Resamples whose x median is 0
 * are skipped. Returns 0 with [*lo, *hi]; -EINVAL (an empty side, bad level or rounds,
 * median(x) == 0) or -ENOMEM. */
int chk_boot_ratio(const double *x, int nx, const double *y, int ny, int rounds, double level,
                   uint64_t seed, double *lo, double *hi);

#endif
