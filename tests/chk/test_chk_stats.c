/* test_chk_stats.c — the gate's statistics against known values: Mann–Whitney U p-values from scipy 1.10 (Debian's python3-scipy) and from brute-force enumeration of every split, medians, spreads, the bootstrap interval's behaviour. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>

#include "chk_stats.h"

#define N(a) ((int)(sizeof(a) / sizeof(a)[0]))

static void expect_p(const double *x, int nx, const double *y, int ny, double u, double p,
                     bool exact)
{
    struct chk_mwu r;
    cr_assert_eq(chk_mwu(x, nx, y, ny, &r), 0);
    cr_expect_float_eq(r.u, u, 1e-9, "U = %g, expected %g", r.u, u);
    cr_expect(fabs(r.p - p) <= 1e-9 * fmax(1, p) + 1e-12, "p = %.12g, expected %.12g", r.p, p);
    cr_expect_eq(r.exact, exact);
}

TestSuite(chk_stats);

/* scipy.stats.mannwhitneyu(x, y, alternative="two-sided", method="exact") */
Test(chk_stats, mwu_exact_matches_scipy_without_ties)
{
    double a[] = {1, 2, 3, 4, 5}, b[] = {6, 7, 8, 9, 10};
    expect_p(a, N(a), b, N(b), 0, 0.007936507936507936, true);   /* 2 / C(10,5) */
    expect_p(b, N(b), a, N(a), 25, 0.007936507936507936, true);  /* symmetric */
    double c[] = {412, 405, 420, 398, 415, 409, 417}, d[] = {530, 525, 541, 519, 536, 528, 533};
    expect_p(c, N(c), d, N(d), 0, 0.0005827505827505828, true);  /* 2 / C(14,7) */
    double e[] = {1.1, 2.2, 3.3, 4.4, 5.5}, f[] = {1.5, 2.5, 3.5, 4.5, 5.6};
    expect_p(e, N(e), f, N(f), 10, 0.6904761904761905, true);
    double g[] = {10, 12, 11, 14, 13, 9}, h[] = {15, 8, 16, 17, 18};
    expect_p(g, N(g), h, N(h), 6, 0.12554112554112554, true);    /* unequal sizes */
}

/* With ties scipy's "exact" ignores them; the reference is brute force over every
 * C(10,5) split of the midranks (scipy.stats.rankdata), p = 2 min(P(S<=s), P(S>=s)). */
Test(chk_stats, mwu_exact_with_ties_matches_enumeration)
{
    double a[] = {1, 2, 2, 3, 3}, b[] = {3, 4, 4, 5, 5};
    expect_p(a, N(a), b, N(b), 1, 0.023809523809523808, true);
    double c[] = {0, 0, 0, 1, 0}, d[] = {0, 1, 1, 1, 2};
    expect_p(c, N(c), d, N(d), 4.5, 0.16666666666666666, true);
    double e[] = {5, 5, 5, 5, 5}, f[] = {5, 5, 5, 5, 6};
    expect_p(e, N(e), f, N(f), 10, 1, true);
}

Test(chk_stats, mwu_all_tied_is_p_1)
{
    double a[] = {3, 3, 3}, b[] = {3, 3, 3, 3};
    expect_p(a, N(a), b, N(b), 6, 1, true);
}

/* Beyond CHK_MWU_EXACT_MAX values: scipy's method="asymptotic" (tie and continuity
 * corrected) on 60 + 60 values rounded to 0.01 (ties included). */
Test(chk_stats, mwu_normal_approximation_matches_scipy_asymptotic)
{
    double x[] = {-0.26, 0.51, -0.23, -0.32, -0.93, -0.21, 1.11, 0.42, 1.04, 0.25, 0.39, 0.19,
                  -1.67, 0.86, 0.51, 0.5, -1.69, -1.74, -0.89, -0.47, 0.31, -0.05, 0.52, -0.64,
                  0.31, 0.39, -0.66, 1.72, 0.56, 1.2, -0.62, -0.74, -0.34, -0.11, 0.63, 0.25,
                  -0.45, -0.96, -0.52, 1.22, -0.81, 0.24, 0.43, -1.49, 0.05, 1.31, -2.01, -0.32,
                  -0.11, -0.82, 0.5, -0.06, -1.46, 0.83, 0.67, 0.95, 1.44, 0.36, 0.12, -1.3};
    double y[] = {1.12, -0.11, 0.05, -0.76, -0.47, -0.03, 1.79, -1.53, -0.96, 0.74, 1.94, 1.08,
                  -1.4, -2.02, 0.86, -0.24, -0.62, 1.48, 1.6, 0.66, 0.75, 0.93, 2.09, 1.12, 1.02,
                  1.05, -1.07, 1.78, 1.46, 1.03, -1.47, -0.13, 1.34, -1.31, 0.32, 1.52, -0.81,
                  2.11, 1.05, 0.35, 0.82, 1.15, 0.62, 1.65, -0.16, 0.09, 1.54, 0.53, -0.38, 1.45,
                  1.97, 0.06, -0.88, 0.37, 0.35, 0.2, 1.9, -0.53, 1.76, -0.77};
    cr_assert_gt(N(x) + N(y), CHK_MWU_EXACT_MAX);
    expect_p(x, N(x), y, N(y), 1271, 0.005537216792971397, false);
}

Test(chk_stats, mwu_refuses_an_empty_side)
{
    double a[] = {1};
    struct chk_mwu r;
    cr_expect_eq(chk_mwu(a, 1, a, 0, &r), -EINVAL);
    cr_expect_eq(chk_mwu(a, 0, a, 1, &r), -EINVAL);
}

/* n = 1 + 1 can never be significant: the smallest two-sided p is 1. */
Test(chk_stats, mwu_smallest_p_depends_on_n)
{
    double a[] = {1}, b[] = {2};
    expect_p(a, 1, b, 1, 0, 1, true);
    double c[] = {1, 2, 3}, d[] = {4, 5, 6};
    expect_p(c, 3, d, 3, 0, 0.1, true);   /* 2 / C(6,3) */
}

Test(chk_stats, median_and_spread)
{
    double odd[] = {5, 1, 3}, even[] = {4, 1, 3, 2};
    cr_expect_float_eq(chk_median(odd, 3), 3, 1e-12);
    cr_expect_float_eq(chk_median(even, 4), 2.5, 1e-12);
    cr_expect(isnan(chk_median(odd, 0)));
    double s[] = {100, 94, 106, 103};   /* median 101.5, farthest 94: 7.5 / 101.5 */
    cr_expect_float_eq(chk_spread_pct(s, 4), 100 * 7.5 / 101.5, 1e-9);
    double z[] = {0, 0, 0};
    cr_expect_float_eq(chk_spread_pct(z, 3), 0, 1e-12);
    double zz[] = {0, 0, 1};
    cr_expect(isnan(chk_spread_pct(zz, 3)));
    cr_expect_eq(odd[0], 5, "the input is not sorted in place");
    /* an outlier beyond Tukey's fences does not widen the spread: quartiles 99 and 102
     * (numpy), fences 94.5 and 106.5; 5000 is left out, 97..103 around median 100 remain */
    double o[] = {100, 99, 101, 98, 102, 97, 103, 5000, 100};
    cr_expect_float_eq(chk_spread_pct(o, 9), 3, 1e-9, "%g", chk_spread_pct(o, 9));
}

Test(chk_stats, bootstrap_interval_brackets_the_ratio_and_is_reproducible)
{
    double x[] = {100, 102, 98, 101, 99, 103, 97}, y[] = {130, 128, 133, 131, 127, 135, 129};
    double lo, hi, lo2, hi2;
    cr_assert_eq(chk_boot_ratio(x, 7, y, 7, 2000, 0.95, 42, &lo, &hi), 0);
    double point = chk_median(y, 7) / chk_median(x, 7);
    cr_expect(lo <= point && point <= hi, "[%g, %g] must hold %g", lo, hi, point);
    cr_expect_gt(lo, 1.2, "clearly separated samples: the interval excludes no change");
    cr_expect_lt(hi, 1.4);
    cr_assert_eq(chk_boot_ratio(x, 7, y, 7, 2000, 0.95, 42, &lo2, &hi2), 0);
    cr_expect(lo == lo2 && hi == hi2, "same seed, same interval");
    double c[] = {5, 5, 5};
    cr_assert_eq(chk_boot_ratio(c, 3, c, 3, 100, 0.95, 1, &lo, &hi), 0);
    cr_expect(lo == 1 && hi == 1);
}

Test(chk_stats, bootstrap_interval_holds_one_for_the_same_sample)
{
    double x[] = {100, 140, 90, 120, 105, 95, 130};
    double lo, hi;
    cr_assert_eq(chk_boot_ratio(x, 7, x, 7, 2000, 0.95, 7, &lo, &hi), 0);
    cr_expect(lo < 1 && hi > 1, "[%g, %g]", lo, hi);
}

Test(chk_stats, bootstrap_refuses_bad_input)
{
    double x[] = {0, 0, 1}, y[] = {1, 2, 3};
    double lo, hi;
    cr_expect_eq(chk_boot_ratio(x, 3, y, 3, 100, 0.95, 1, &lo, &hi), -EINVAL);   /* median 0 */
    cr_expect_eq(chk_boot_ratio(y, 3, y, 0, 100, 0.95, 1, &lo, &hi), -EINVAL);
    cr_expect_eq(chk_boot_ratio(y, 3, y, 3, 100, 1.5, 1, &lo, &hi), -EINVAL);
}
