/* chk_spread.c — baseline entries from N repeated runs of the same suite: per metric the median, min and max of the runs' medians, and bands derived from that measured run-to-run spread instead of guessed factors. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chk.h"
#include "chk_stats.h"

/* Five runs can agree by chance more closely than the next will: a band is never
 * narrower than this fraction beyond the worst run seen. */
#define SPREAD_MIN_MARGIN 0.10

static void num(char *b, size_t n, double x)
{
    if (x == floor(x) && fabs(x) < 1e15)
        snprintf(b, n, "%.0f", x);
    else
        snprintf(b, n, "%.6g", x);
}

static json_t *number(double d)
{
    return d == floor(d) && fabs(d) < 1e15 ? json_integer((json_int_t)d) : json_real(d);
}

int chk_spread_judge(const struct chk_tol *t, const json_t *m, double got, char *exp, size_t n)
{
    const json_t *jm = json_object_get(m, "median"), *jl = json_object_get(m, "min"),
                 *jh = json_object_get(m, "max"), *jr = json_object_get(m, "runs");
    if (!json_is_number(jm) || !json_is_number(jl) || !json_is_number(jh) || !json_is_integer(jr))
        return -1;
    double med = json_number_value(jm), lo = json_number_value(jl), hi = json_number_value(jh);
    int runs = (int)json_integer_value(jr);
    char a[48], b[48], lim[48], lim2[48];
    num(a, sizeof a, lo);
    num(b, sizeof b, hi);
    if ((t->kind == CHK_EXACT && lo == hi) || (t->kind == CHK_ZERO_EXACT && hi == 0)) {
        num(lim, sizeof lim, med);
        snprintf(exp, n, "== %s (exact: the same in all %d baseline runs)", lim, runs);
        return got == med || fabs(got - med) <= 1e-9 * fmax(fabs(got), fabs(med));
    }
    if (t->kind == CHK_EXACT) {
        /* the runs disagreed: on this machine it is no exact count (links held where the
         * CPU runs out); one more range either side of what was seen */
        double w = hi - lo;
        num(lim, sizeof lim, lo - w);
        num(lim2, sizeof lim2, hi + w);
        snprintf(exp, n, "in [%s, %s] (the %d baseline runs gave %s..%s: not exact here)", lim,
                 lim2, runs, a, b);
        return got >= lo - w && got <= hi + w;
    }
    /* the measured ratio between the best and worst run, applied once more beyond the
     * worst: heavy-tailed figures (latency percentiles) spread multiplicatively */
    double r = lo > 0 ? hi / lo : hi > 0 ? 2 : 1;
    double f = fmax(r, 1 + SPREAD_MIN_MARGIN);
    double up = hi * f + t->slack, down = lo / f - t->slack;
    num(lim, sizeof lim, up);
    num(lim2, sizeof lim2, down);
    switch (t->dir) {
    case CHK_LOWER_BETTER:
        snprintf(exp, n, "<= %s (the %d baseline runs gave %s..%s: max × %.3g + %g)", lim, runs, a,
                 b, f, t->slack);
        return got <= up;
    case CHK_HIGHER_BETTER:
        snprintf(exp, n, ">= %s (the %d baseline runs gave %s..%s: min / %.3g - %g)", lim2, runs,
                 a, b, f, t->slack);
        return got >= down;
    case CHK_EITHER:
        snprintf(exp, n, "in [%s, %s] (the %d baseline runs gave %s..%s: ×/÷ %.3g ± %g)", lim2,
                 lim, runs, a, b, f, t->slack);
        return got >= down && got <= up;
    }
    return -1;
}

/* The reports (of one key) in the order given: each variant's tolerated metrics as
 * {median, min, max, runs} over the reports' medians. */
static json_t *spread_entry(json_t *const *reps, int n, char *err, size_t errlen)
{
    json_t *vs = json_object();
    double *vals = malloc((size_t)n * sizeof *vals);
    if (!vs || !vals) {
        json_decref(vs);
        free(vals);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *v;
    const json_t *x;
    json_object_foreach(json_object_get(reps[0], "summary"), v, x) {
        json_t *m = json_object();
        for (const struct chk_tol *t = CHK_TOLERANCES; t->metric; t++) {
            int k = 0;
            for (int i = 0; i < n; i++)
                if (chk_summary_value(reps[i], v, t->metric, SCN_STAT_MEDIAN, &vals[k]))
                    k++;
            if (k < n)
                continue;   /* a metric some run lacks is not gated */
            if (chk_tol_vacuous(t, chk_median(vals, n)))
                continue;   /* a rate of 0 would be a band that cannot fail */
            double lo = vals[0], hi = vals[0];
            for (int i = 1; i < n; i++)
                lo = fmin(lo, vals[i]), hi = fmax(hi, vals[i]);
            json_object_set_new(m, t->metric, json_pack("{s:o,s:o,s:o,s:i}", "median",
                                number(chk_median(vals, n)), "min", number(lo), "max",
                                number(hi), "runs", n));
        }
        json_object_set_new(vs, v, m);
    }
    free(vals);
    return vs;
}

int chk_baseline_update_runs(json_t *baseline, json_t *const *reps, int n, int runs, char *err,
                             size_t errlen)
{
    if (runs < 2) {
        snprintf(err, errlen, "--from-runs: at least 2 runs are needed to measure a spread");
        return -EINVAL;
    }
    /* the keys, in first-seen order, each with its reports */
    char (*keys)[160] = calloc((size_t)n, sizeof *keys);
    json_t **group = calloc((size_t)n, sizeof *group);
    int nk = 0, rc = 0;
    if (!keys || !group) {
        free(keys);
        free(group);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        char key[160];
        chk_report_key(reps[i], key, sizeof key);
        int k = 0;
        while (k < nk && strcmp(keys[k], key))
            k++;
        if (k == nk)
            snprintf(keys[nk++], sizeof keys[0], "%s", key);
    }
    for (int k = 0; k < nk && rc == 0; k++) {
        int g = 0;
        for (int i = 0; i < n; i++) {
            char key[160];
            chk_report_key(reps[i], key, sizeof key);
            if (!strcmp(key, keys[k]))
                group[g++] = reps[i];
        }
        if (g != runs) {
            snprintf(err, errlen, "%s: %d report%s, --from-runs %d wants one from each run", keys[k],
                     g, g == 1 ? "" : "s", runs);
            rc = -EINVAL;
            break;
        }
        /* the plain update writes the entry (format, machine); then the spread replaces
         * its per-metric numbers */
        if ((rc = chk_baseline_update(baseline, group[0], err, errlen)) < 0)
            break;
        json_t *vs = spread_entry(group, g, err, errlen);
        json_t *entry = json_object_get(json_object_get(baseline, "entries"), keys[k]);
        if (!vs || !entry) {
            json_decref(vs);
            rc = -ENOMEM;
            break;
        }
        json_object_set_new(entry, "variants", vs);
        json_object_set_new(entry, "runs", json_integer(runs));
    }
    free(keys);
    free(group);
    return rc;
}
