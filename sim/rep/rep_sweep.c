/* rep_sweep.c — sweeps: variant instances of one module that differ in one param, found in a report and written as the chart data of the swept figures versus that param. */
#include "rep_sweep.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_file.h"
#include "link_registry.h"
#include "rep_plot.h"
#include "rep_report.h"

/* A report's config.variants as (name, module, config) triples; a plain variant has an
 * empty config. */
struct member {
    const char *name;
    const char *module;
    const json_t *config;   /* NULL: a plain variant */
};

static int members(const json_t *report, struct member *m, int max)
{
    int n = 0;
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(json_object_get(report, "config"), "variants"), i, x) {
        if (n == max)
            break;
        if (json_is_string(x))
            m[n++] = (struct member){json_string_value(x), json_string_value(x), NULL};
        else if (json_is_object(x) && json_string_value(json_object_get(x, "name")))
            m[n++] = (struct member){json_string_value(json_object_get(x, "name")),
                                     rep_variant_module(report, json_string_value(json_object_get(x, "name"))),
                                     json_object_get(x, "config")};
    }
    return n;
}

/* Whether config minus key equals base minus key (both may be NULL: empty). */
static bool same_rest(const json_t *a, const json_t *b, const char *key)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)a, k, v)
        if (strcmp(k, key) && !json_equal(v, json_object_get(b, k)))
            return false;
    json_object_foreach((json_t *)b, k, v)
        if (strcmp(k, key) && !json_object_get(a, k))
            return false;
    return true;
}

/* A module's default for param, from its own table (loaded here), or false. */
static bool param_default(const char *module, const char *param, double *out)
{
    link_module *m = NULL;
    char err[512];
    const char *twin = !strncmp(module, "go:", 3) ? module + 3 : module;
    if (link_module_load(twin, &m, err, sizeof err) < 0)
        return false;
    int k = link_params_find(m->v, param);
    if (k >= 0)
        *out = (double)m->v->params[k].def;
    link_module_unload(m);
    return k >= 0;
}

static int cmp_point(const void *a, const void *b)
{
    double x = ((const struct rep_sweep_point *)a)->value, y = ((const struct rep_sweep_point *)b)->value;
    return x < y ? -1 : x > y;
}

int rep_sweep_find(const json_t *report, struct rep_sweep *out, int max)
{
    struct member m[REP_SWEEP_POINTS_MAX];
    int nm = members(report, m, REP_SWEEP_POINTS_MAX), ns = 0;
    /* every (module, key, rest of the config) that two or more members share with
     * distinct values of key; the first member that has key seeds each candidate */
    for (int i = 0; i < nm && ns < max; i++) {
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)m[i].config, key, val) {
            if (ns == max)
                break;
            /* seen already: an earlier member of the same (module, key, rest) */
            bool seen = false;
            for (int j = 0; j < i && !seen; j++)
                seen = !strcmp(m[j].module, m[i].module) && json_object_get(m[j].config, key) &&
                       same_rest(m[j].config, m[i].config, key);
            if (seen)
                continue;
            struct rep_sweep *s = &out[ns];
            memset(s, 0, sizeof *s);
            snprintf(s->module, sizeof s->module, "%s", m[i].module);
            snprintf(s->param, sizeof s->param, "%s", key);
            for (int j = 0; j < nm && s->n < REP_SWEEP_POINTS_MAX; j++) {
                if (strcmp(m[j].module, m[i].module))
                    continue;
                double v;
                const json_t *x = json_object_get(m[j].config, key);
                if (!same_rest(m[j].config, m[i].config, key))
                    continue;
                if (x && json_is_integer(x))
                    v = (double)json_integer_value(x);
                /* a member that leaves key out (the plain module, when the rest is
                 * empty) sits at the module's default */
                else if (x || !param_default(m[j].module, key, &v))
                    continue;
                s->pts[s->n++] = (struct rep_sweep_point){.value = v};
                snprintf(s->pts[s->n - 1].variant, sizeof s->pts[0].variant, "%s", m[j].name);
            }
            /* a sweep spans three distinct values or more (two are a comparison, which
             * the report's table shows: a switch on and off is no curve) */
            qsort(s->pts, (size_t)s->n, sizeof s->pts[0], cmp_point);
            int distinct = s->n > 0;
            for (int j = 1; j < s->n; j++)
                distinct += s->pts[j].value != s->pts[j - 1].value;
            if (distinct >= 3)
                ns++;
        }
    }
    return ns;
}

/* ---------------------------------------------------------------- the data */

static double med(const json_t *sv, const char *metric, const char *sub)
{
    const json_t *x = json_object_get(sv, metric);
    if (sub)
        x = json_object_get(x, sub);
    x = json_object_get(x, "median");
    return json_is_number(x) ? json_number_value(x) : NAN;
}

/* A latency percentile, censored (messages never delivered count at their age at the
 * end: the 30 s read that holds a push shows) when the report has it. */
static double lat(const json_t *sv, const char *dir, const char *pct)
{
    char c[48], p[48];
    snprintf(c, sizeof c, "lat_%s_censored_us", dir);
    snprintf(p, sizeof p, "lat_%s_us", dir);
    double v = med(sv, c, pct);
    return isfinite(v) ? v : med(sv, p, pct);
}

/* The figures of one point, in REP_SWEEP_COLUMNS order. */
static void figures(const json_t *sv, double *v)
{
    v[0] = med(sv, "cpu_per_link_s", NULL) * 1e6;
    v[1] = med(sv, "cpu_ms_per_1k_msgs", NULL);
    v[2] = med(sv, "wakeups_per_link_s", NULL);
    v[3] = med(sv, "threads_per_link", NULL);
    v[4] = med(sv, "links", NULL);
    v[5] = lat(sv, "out", "p50");
    v[6] = lat(sv, "out", "p99");
    v[7] = lat(sv, "in", "p50");
    v[8] = lat(sv, "in", "p99");
    v[9] = lat(sv, "rtt", "p50");
    v[10] = lat(sv, "rtt", "p99");
    v[11] = med(sv, "msgs_dropped", NULL);
    v[12] = med(sv, "frames_broken_by_deadline", NULL);
}

const char *const REP_SWEEP_COLUMNS[] = {
    "cpu_us_per_link_s", "cpu_ms_per_1k_msgs", "wakeups_per_link_s", "threads_per_link", "links",
    "lat_out_p50_us", "lat_out_p99_us", "lat_in_p50_us", "lat_in_p99_us", "lat_rtt_p50_us",
    "lat_rtt_p99_us", "msgs_dropped", "frames_broken_by_deadline", NULL};
#define NCOL 13

static void num(FILE *f, double x)
{
    if (!isfinite(x))
        fputs("NaN", f);
    else if (x == floor(x) && fabs(x) < 1e15)
        fprintf(f, "%.0f", x);
    else
        fprintf(f, "%.6g", x);
}

/* Which panels the chart draws, each where it says something: CPU and wake-ups where
 * measured, a latency where messages went that way, threads or links that moved, drops.
 * A leading space is trimmed by the reader (sscanf). */
static void panels(const double v[][NCOL], int n, char *out, size_t len)
{
    bool cpu = false, wake = false, lat_out = false, lat_in = false, lat_rtt = false, thr = false,
         links = false, drops = false;
    for (int i = 0; i < n; i++) {
        cpu |= isfinite(v[i][0]);
        wake |= isfinite(v[i][2]);
        lat_out |= isfinite(v[i][6]) && v[i][6] > 0;
        lat_in |= isfinite(v[i][8]) && v[i][8] > 0;
        lat_rtt |= isfinite(v[i][10]) && v[i][10] > 0;
        thr |= isfinite(v[i][3]) && v[i][3] != v[0][3];
        links |= isfinite(v[i][4]) && v[i][4] != v[0][4];
        drops |= isfinite(v[i][11]) && v[i][11] > 0;
    }
    snprintf(out, len, "%s%s%s%s%s%s%s%s", cpu ? " cpu" : "", wake ? " wakeups" : "",
             lat_out ? " lat_out" : "", lat_in ? " lat_in" : "",
             lat_rtt && !lat_in ? " lat_rtt" : "", thr ? " threads" : "", links ? " links" : "",
             drops ? " dropped" : "");
}

int rep_sweep_write(const json_t *report, const char *dir, char *err, size_t errlen)
{
    struct rep_sweep sw[REP_SWEEPS_MAX];
    int ns = rep_sweep_find(report, sw, REP_SWEEPS_MAX);
    char path[4200];
    snprintf(path, sizeof path, "%s/sweeps.txt", dir);
    if (ns == 0) {
        remove(path);   /* a sweep of an earlier drawing is gone */
        return 0;
    }
    char *list = NULL;
    size_t list_len = 0;
    FILE *lf = open_memstream(&list, &list_len);
    if (!lf) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    const json_t *sum = json_object_get(report, "summary");
    int rc = 0;
    for (int k = 0; k < ns && rc == 0; k++) {
        const struct rep_sweep *s = &sw[k];
        double v[REP_SWEEP_POINTS_MAX][NCOL];
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
            rc = -ENOMEM;
            snprintf(err, errlen, "out of memory");
            break;
        }
        fprintf(f, "value,variant");
        for (int c = 0; c < NCOL; c++)
            fprintf(f, ",%s", REP_SWEEP_COLUMNS[c]);
        fputc('\n', f);
        for (int i = 0; i < s->n; i++) {
            figures(json_object_get(sum, s->pts[i].variant), v[i]);
            num(f, s->pts[i].value);
            fprintf(f, ",%s", s->pts[i].variant);
            for (int c = 0; c < NCOL; c++) {
                fputc(',', f);
                num(f, v[i][c]);
            }
            fputc('\n', f);
        }
        fclose(f);
        char mod[64], name[256], p[4500];
        rep_file_name(s->module, mod, sizeof mod);
        snprintf(name, sizeof name, "sweep_%s_%s", mod, s->param);
        snprintf(p, sizeof p, "%s/%s.csv", dir, name);
        rc = lb_write_atomic(p, buf, len, err, errlen);
        free(buf);
        char pan[128];
        panels((const double(*)[NCOL])v, s->n, pan, sizeof pan);
        /* one line per chart: file stem, param, module, panels (what rep_plot passes on) */
        fprintf(lf, "%s %s %s %s\n", name, s->param, mod, pan);
    }
    fclose(lf);
    if (rc == 0)
        rc = lb_write_atomic(path, list, list_len, err, errlen);
    free(list);
    return rc;
}
