/* met_stats.c — median/min/max over repetitions and the Little's-law check. */
#include "met_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

met_mmm met_stats_mmm(const double *v, int n)
{
    met_mmm m = {0, 0, 0, 0};
    if (n <= 0 || !v)
        return m;
    /* repetitions are few: a stack copy covers the usual case without allocating */
    double small[64];
    double *s = n <= 64 ? small : malloc((size_t)n * sizeof *s);
    if (!s) {
        /* no memory for a sorted copy: min/max are still exact, the median is not known */
        m.min = m.max = v[0];
        for (int i = 1; i < n; i++) {
            m.min = v[i] < m.min ? v[i] : m.min;
            m.max = v[i] > m.max ? v[i] : m.max;
        }
        m.median = NAN;
        m.n = n;
        return m;
    }
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    m.min = s[0];
    m.max = s[n - 1];
    m.median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
    m.n = n;
    if (s != small)
        free(s);
    return m;
}

/* A count stays an integer in JSON (9e15 is the largest integer a double holds exactly,
 * beyond that a real is as exact as anything). NaN, which JSON cannot hold, is null. */
static json_t *number(double x)
{
    if (isnan(x) || isinf(x))
        return json_null();
    if (x == floor(x) && fabs(x) < 9e15)
        return json_integer((json_int_t)x);
    return json_real(x);
}

json_t *met_mmm_to_json(met_mmm m)
{
    return json_pack("{s:o,s:o,s:o}", "median", number(m.median), "min", number(m.min),
                     "max", number(m.max));
}

met_little met_stats_little(double throughput_per_s, double mean_latency_s,
                            double measured_in_flight, double tolerance)
{
    met_little l;
    l.predicted = fmax(throughput_per_s, 0.0) * fmax(mean_latency_s, 0.0);
    l.measured = fmax(measured_in_flight, 0.0);
    if (l.predicted == 0.0)
        l.ratio = l.measured == 0.0 ? 1.0 : INFINITY;
    else
        l.ratio = l.measured / l.predicted;
    l.ok = fabs(l.ratio - 1.0) <= tolerance;
    return l;
}
