/* chk_stats.c — median, spread, Mann–Whitney U (exact with ties, by counting rank-sum splits) and a bootstrap interval of a ratio of medians, for the A/B gate. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chk_stats.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of an already sorted array. */
static double sorted_median(const double *s, int n)
{
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* A sorted copy of x[0..n) in small (64 values) or on the heap; NULL on ENOMEM. Free
 * with sorted_free. */
static double *sorted_copy(const double *x, int n, double *small)
{
    double *s = n <= 64 ? small : malloc((size_t)n * sizeof *s);
    if (s) {
        memcpy(s, x, (size_t)n * sizeof *s);
        qsort(s, (size_t)n, sizeof *s, cmp_double);
    }
    return s;
}

static void sorted_free(double *s, const double *small)
{
    if (s != small)
        free(s);
}

double chk_median(const double *x, int n)
{
    double small[64], *s = n > 0 ? sorted_copy(x, n, small) : NULL;
    if (!s)
        return NAN;
    double m = sorted_median(s, n);
    sorted_free(s, small);
    return m;
}

/* Quantile q of sorted s[0..n) by linear interpolation (R's type 7, numpy's default). */
static double sorted_quantile(const double *s, int n, double q)
{
    double h = (n - 1) * q;
    int lo = (int)floor(h);
    return lo + 1 < n ? s[lo] + (h - lo) * (s[lo + 1] - s[lo]) : s[lo];
}

double chk_spread_pct(const double *x, int n)
{
    double small[64], *s = n > 0 ? sorted_copy(x, n, small) : NULL;
    if (!s)
        return NAN;
    double m = sorted_median(s, n), q1 = sorted_quantile(s, n, 0.25),
           q3 = sorted_quantile(s, n, 0.75), iqr = q3 - q1, dev = 0;
    for (int i = 0; i < n; i++)
        if (s[i] >= q1 - 1.5 * iqr && s[i] <= q3 + 1.5 * iqr)
            dev = fmax(dev, fabs(s[i] - m));
    sorted_free(s, small);
    if (dev == 0)
        return 0;
    return m == 0 ? NAN : 100 * dev / fabs(m);
}

/* One pooled value with the side it came from. */
struct pooled {
    double v;
    int from_x;
};

static int cmp_pooled(const void *a, const void *b)
{
    return cmp_double(&((const struct pooled *)a)->v, &((const struct pooled *)b)->v);
}

/* P(S <= s) and P(S >= s) for S the doubled rank sum of a random nx-subset of the
 * doubled midranks r[0..n): count subsets by size and sum (cnt[k][t] over the items
 * seen so far, k descending so each item is used once). Counts reach C(100, 50) ~ 1e29:
 * doubles keep them to 16 digits, which is all a p-value needs. */
static int exact_tails(const int *r, int n, int nx, int s, double *le, double *ge)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += r[i];
    size_t w = (size_t)total + 1;
    double *cnt = calloc((size_t)(nx + 1) * w, sizeof *cnt);
    if (!cnt)
        return -ENOMEM;
    cnt[0] = 1;
    int reach = 0;   /* the largest sum reachable so far */
    for (int i = 0; i < n; i++) {
        reach += r[i];
        int kmax = i + 1 < nx ? i + 1 : nx;
        for (int k = kmax; k >= 1; k--) {
            double *dst = cnt + (size_t)k * w, *src = cnt + (size_t)(k - 1) * w;
            for (int t = reach; t >= r[i]; t--)
                dst[t] += src[t - r[i]];
        }
    }
    double all = 0, lo = 0, hi = 0;
    const double *row = cnt + (size_t)nx * w;
    for (int t = 0; t <= total; t++) {
        all += row[t];
        if (t <= s)
            lo += row[t];
        if (t >= s)
            hi += row[t];
    }
    free(cnt);
    *le = lo / all;
    *ge = hi / all;
    return 0;
}

int chk_mwu(const double *x, int nx, const double *y, int ny, struct chk_mwu *out)
{
    if (nx < 1 || ny < 1)
        return -EINVAL;
    int n = nx + ny;
    struct pooled *p = malloc((size_t)n * sizeof *p);
    int *r2 = malloc((size_t)n * sizeof *r2);   /* doubled midranks: integers */
    if (!p || !r2) {
        free(p);
        free(r2);
        return -ENOMEM;
    }
    for (int i = 0; i < nx; i++)
        p[i] = (struct pooled){x[i], 1};
    for (int j = 0; j < ny; j++)
        p[nx + j] = (struct pooled){y[j], 0};
    qsort(p, (size_t)n, sizeof *p, cmp_pooled);
    long s2 = 0;           /* doubled rank sum of x */
    double tie_term = 0;   /* sum of t^3 - t over tie groups */
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && p[j + 1].v == p[i].v)
            j++;
        int t = j - i + 1;
        /* ranks i+1 .. j+1 share (i+1 + j+1) / 2; doubled: i + j + 2 */
        for (int k = i; k <= j; k++) {
            r2[k] = i + j + 2;
            if (p[k].from_x)
                s2 += r2[k];
        }
        tie_term += (double)t * t * t - t;
        i = j + 1;
    }
    double u = s2 / 2.0 - (double)nx * (nx + 1) / 2;
    *out = (struct chk_mwu){.u = u, .p = 1, .exact = true};
    int rc = 0;
    if (tie_term == (double)n * n * n - n) {
        /* every value tied: nothing tells the samples apart */
    } else if (n <= CHK_MWU_EXACT_MAX) {
        double le, ge;
        rc = exact_tails(r2, n, nx, (int)s2, &le, &ge);
        if (rc == 0)
            out->p = fmin(1, 2 * fmin(le, ge));
    } else {
        double mu = (double)nx * ny / 2;
        double var = (double)nx * ny / 12 * ((n + 1) - tie_term / ((double)n * (n - 1)));
        double z = (fabs(u - mu) - 0.5) / sqrt(var);
        out->p = fmin(1, erfc(fmax(z, 0) / sqrt(2)));
        out->exact = false;
    }
    free(p);
    free(r2);
    return rc;
}

/* splitmix64: a small, well-mixed generator; seeded, so an interval is reproducible. */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A resample's median: n draws with replacement from v, into buf. */
static double resample_median(const double *v, int n, double *buf, uint64_t *s)
{
    for (int i = 0; i < n; i++)
        buf[i] = v[next_u64(s) % (uint64_t)n];
    qsort(buf, (size_t)n, sizeof *buf, cmp_double);
    return sorted_median(buf, n);
}

int chk_boot_ratio(const double *x, int nx, const double *y, int ny, int rounds, double level,
                   uint64_t seed, double *lo, double *hi)
{
    if (nx < 1 || ny < 1 || rounds < 10 || !(level > 0 && level < 1) || chk_median(x, nx) == 0)
        return -EINVAL;
    double *buf = malloc((size_t)(nx > ny ? nx : ny) * sizeof *buf);
    double *ratios = malloc((size_t)rounds * sizeof *ratios);
    if (!buf || !ratios) {
        free(buf);
        free(ratios);
        return -ENOMEM;
    }
    uint64_t s = seed;
    int k = 0;
    for (int i = 0; i < rounds; i++) {
        double mx = resample_median(x, nx, buf, &s), my = resample_median(y, ny, buf, &s);
        if (mx != 0)
            ratios[k++] = my / mx;
    }
    int rc = -EINVAL;
    if (k > 0) {
        qsort(ratios, (size_t)k, sizeof *ratios, cmp_double);
        double a = (1 - level) / 2;
        int il = (int)floor(a * (k - 1)), ih = (int)ceil((1 - a) * (k - 1));
        *lo = ratios[il];
        *hi = ratios[ih];
        rc = 0;
    }
    free(buf);
    free(ratios);
    return rc;
}
