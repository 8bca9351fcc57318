/* rep_data.c — chart data from report.json files: latency percentile spectra (CSV and HdrHistogram .hlog), drops, scale steps and a cross-scenario overview. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lb_file.h"
#include "met_hist.h"
#include "met_hlog.h"
#include "rep_plot.h"
#include "rep_report.h"
#include "rep_sweep.h"

#define PATH_BYTES 4096

/* dir/name into out; a path too long to hold is refused, never silently cut. */
static int join(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len) {
        out[0] = 0;
        return -ENAMETOOLONG;
    }
    return 0;
}

static const char *const dirs[] = {"in", "out", "rtt"};

/* ---------------------------------------------------------------- finding reports */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push(char ***paths, int *n, const char *p)
{
    char **np = realloc(*paths, (size_t)(*n + 1) * sizeof *np);
    if (!np)
        return -ENOMEM;
    *paths = np;
    if (!(np[*n] = strdup(p)))
        return -ENOMEM;
    (*n)++;
    return 0;
}

static int walk(const char *dir, char ***paths, int *n, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[PATH_BYTES];
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
            continue;
        struct stat st;
        if (stat(p, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth < 8)   /* results/<scenario>/<ts>/links_<n> */
            rc = walk(p, paths, n, depth + 1);
        else if (S_ISREG(st.st_mode) && !strcmp(e->d_name, "report.json"))
            rc = push(paths, n, p);
    }
    closedir(d);
    return rc;
}

int rep_find_reports(const char *path, char ***paths, int *n, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    int before = *n, rc;
    if (S_ISDIR(st.st_mode)) {
        size_t l = strlen(path);
        char p[PATH_BYTES];
        snprintf(p, sizeof p, "%.*s", (int)(l > 1 && path[l - 1] == '/' ? l - 1 : l), path);
        rc = walk(p, paths, n, 0);
    } else
        rc = push(paths, n, path);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
    }
    if (*n > before)   /* *paths is still NULL when nothing was found */
        qsort(*paths + before, (size_t)(*n - before), sizeof **paths, cmp_str);
    return *n - before;
}

void rep_reports_free(char **paths, int n)
{
    for (int i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

void rep_file_name(const char *variant, char *out, size_t len)
{
    const char *b = strrchr(variant, '/');
    b = b ? b + 1 : variant;
    size_t l = strlen(b);
    if (l > 3 && !strcmp(b + l - 3, ".so"))
        l -= 3;
    size_t o = 0;
    for (size_t i = 0; i < l && o + 1 < len; i++) {
        char c = b[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == '+' || c == '@';   /* instances' names */
        out[o++] = ok ? c : '_';
    }
    out[o] = 0;
    if (!o)
        snprintf(out, len, "variant");
}

/* ---------------------------------------------------------------- writing files */

/* A memstream, then lb_write_atomic: a chart never reads a half-written CSV. */
typedef struct mfile {
    FILE *f;
    char *buf;
    size_t len;
} mfile;

static int mopen(mfile *m)
{
    m->buf = NULL;
    m->f = open_memstream(&m->buf, &m->len);
    return m->f ? 0 : -ENOMEM;
}

static int mclose(mfile *m, const char *dir, const char *name, char *err, size_t errlen)
{
    int bad = ferror(m->f);
    fclose(m->f);
    char p[PATH_BYTES];
    join(p, sizeof p, dir, name);
    int rc = bad ? -EIO : lb_write_atomic(p, m->buf, m->len, err, errlen);
    if (bad)
        snprintf(err, errlen, "%s: write error", p);
    free(m->buf);
    return rc;
}

static double med(const json_t *summary_v, const char *metric)
{
    const json_t *x = json_object_get(json_object_get(summary_v, metric), "median");
    return json_is_number(x) ? json_number_value(x) : NAN;
}

static void csv_num(FILE *f, double x)
{
    if (!isfinite(x))
        fputs("NaN", f);
    else if (x == floor(x) && fabs(x) < 1e15)
        fprintf(f, "%.0f", x);
    else
        fprintf(f, "%.6g", x);
}

/* ---------------------------------------------------------------- latency */

/* The spectrum HdrHistogram plots: after each bucket, the fraction at or below it. The
 * last point cannot sit at 1/(1-1) = inf, so it is drawn at 1/(1 - (n-1)/n) = n. */
static void spectrum(FILE *f, const met_hist *h)
{
    int64_t total = met_hist_count(h), cum = 0, v, k;
    int cur = 0;
    fprintf(f, "percentile,inv_tail,value_us\n");
    if (total == 0)
        return;
    fprintf(f, "0,1,%.3f\n", met_hist_min(h) / 1e3);
    double last_inv = 1, last_v = 0;
    while (met_hist_next(h, &cur, &v, &k)) {
        cum += k;
        double p = (double)cum / (double)total;
        double inv = cum >= total ? (double)total : 1.0 / (1.0 - p);
        if (cum >= total)
            v = met_hist_max(h);
        /* thin to what a chart can show: 2 % along the axis or 5 % in value; the
         * exact counts are in the .hlog */
        if (cum < total && inv < last_inv * 1.02 && v < last_v * 1.05)
            continue;
        fprintf(f, "%.9f,%.6g,%.3f\n", p * 100, inv, v / 1e3);
        last_inv = inv;
        last_v = (double)v;
    }
}

/* Without histograms: the summary's percentiles, all a report keeps. */
static void spectrum_from_summary(FILE *f, const json_t *lat)
{
    static const struct { const char *k; double p; } pts[] = {
        {"p50", 50}, {"p90", 90}, {"p99", 99}, {"p999", 99.9}};
    fprintf(f, "percentile,inv_tail,value_us\n");
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        const json_t *x = json_object_get(json_object_get(lat, pts[i].k), "median");
        if (json_is_number(x))
            fprintf(f, "%g,%.6g,%.3f\n", pts[i].p, 1 / (1 - pts[i].p / 100), json_number_value(x));
    }
}

/* lat_<dir>_<variant>.csv and .hlog for one variant. */
static int latency_files(const json_t *report, const char *variant, const char *fname,
                         const char *dir, char *err, size_t errlen)
{
    const json_t *runs = json_object_get(report, "runs");
    double dur = json_number_value(json_object_get(json_object_get(report, "config"), "duration_s"));
    char key[64], name[300], comment[400], scen[160];
    snprintf(scen, sizeof scen, "%s", json_string_value(json_object_get(
        json_object_get(report, "scenario"), "name")) ?: "?");
    for (int d = 0; d < 3; d++) {
        snprintf(key, sizeof key, "lat_%s", dirs[d]);
        met_hist *all = met_hist_create();
        mfile log = {0};
        int nh = 0, rc = 0;
        if (!all || mopen(&log) < 0) {
            met_hist_destroy(all);
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
        snprintf(comment, sizeof comment, "linkbench %s %s %s: one interval per repetition, "
                 "values in ns", scen, variant, key);
        met_hlog_write_header(log.f, 0, comment);
        size_t i;
        const json_t *run;
        json_array_foreach(runs, i, run) {
            const char *v = json_string_value(json_object_get(run, "variant"));
            /* a V2 base64 string (what run writes), or the sparse JSON form */
            const json_t *hj = json_object_get(json_object_get(run, "histograms"), key);
            met_hist *h = json_is_string(hj) ? met_hlog_decode(json_string_value(hj))
                                              : hj ? met_hist_from_json(hj) : NULL;
            if (h && v && !strcmp(v, variant)) {
                met_hist_merge(all, h);
                met_hlog_write_interval(log.f, nh * (dur > 0 ? dur : 1), dur > 0 ? dur : 1, h, NULL);
                nh++;
            }
            met_hist_destroy(h);
        }
        if (nh) {
            snprintf(name, sizeof name, "lat_%s_%s.hlog", dirs[d], fname);
            rc = mclose(&log, dir, name, err, errlen);
        } else {
            fclose(log.f);
            free(log.buf);
        }
        mfile csv;
        if (rc == 0 && mopen(&csv) == 0) {
            if (nh)
                spectrum(csv.f, all);
            else {
                char lk[64];
                snprintf(lk, sizeof lk, "lat_%s_us", dirs[d]);
                spectrum_from_summary(csv.f, json_object_get(json_object_get(
                    json_object_get(report, "summary"), variant), lk));
            }
            snprintf(name, sizeof name, "lat_%s_%s.csv", dirs[d], fname);
            rc = mclose(&csv, dir, name, err, errlen);
        }
        met_hist_destroy(all);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int rep_data_write(const json_t *report, const char *dir, char *err, size_t errlen)
{
    const json_t *summary = json_object_get(report, "summary");
    if (!json_is_object(summary)) {
        snprintf(err, errlen, "%s: report without a summary", dir);
        return -EINVAL;
    }
    mfile drops, vars;
    if (mopen(&drops) < 0 || mopen(&vars) < 0) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    fprintf(drops.f, "variant,msgs_sent,msgs_dropped,msgs_refused,msgs_lost\n");
    const char *v;
    const json_t *s;
    int rc = 0;
    json_object_foreach((json_t *)summary, v, s) {
        char fname[128];
        rep_file_name(v, fname, sizeof fname);
        fprintf(vars.f, "%s\n", fname);
        fprintf(drops.f, "%s", fname);
        static const char *const m[] = {"msgs_sent", "msgs_dropped", "msgs_refused", "msgs_lost"};
        for (int i = 0; i < 4; i++) {
            fputc(',', drops.f);
            csv_num(drops.f, med(s, m[i]));
        }
        fputc('\n', drops.f);
        if (rc == 0)
            rc = latency_files(report, v, fname, dir, err, errlen);
    }
    int r1 = mclose(&drops, dir, "drops.csv", err, errlen);
    int r2 = mclose(&vars, dir, "variants.txt", err, errlen);
    /* variant instances that span a param: the figures versus that param (rep_sweep.h) */
    int r3 = rc < 0 || r1 < 0 || r2 < 0 ? 0 : rep_sweep_write(report, dir, err, errlen);
    return rc < 0 ? rc : r1 < 0 ? r1 : r2 < 0 ? r2 : r3;
}

/* ---------------------------------------------------------------- scale and overview */

static const char *scen_name(const json_t *r)
{
    return json_string_value(json_object_get(json_object_get(r, "scenario"), "name")) ?: "?";
}

static double scen_links(const json_t *r)
{
    return json_number_value(json_object_get(json_object_get(r, "scenario"), "links"));
}

/* The directory holding path's directory: <ts>/links_1000/report.json -> <ts>. */
static void grandparent(const char *path, char *out, size_t len)
{
    snprintf(out, len, "%s", path);
    for (int k = 0; k < 2; k++) {
        char *s = strrchr(out, '/');
        if (s)
            *s = 0;
        else
            snprintf(out, len, ".");
    }
}

static bool is_step(const char *path)
{
    char tmp[PATH_BYTES];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *s = strrchr(tmp, '/');
    if (!s)
        return false;
    *s = 0;
    s = strrchr(tmp, '/');
    return !strncmp(s ? s + 1 : tmp, "links_", 6);
}

/* scale_<variant>.csv for the steps i0..i1-1 (same grandparent), sorted by links. */
static int scale_files(const char *gp, json_t *const *reports, const int *idx, int k,
                       char *err, size_t errlen)
{
    const json_t *summary = json_object_get(reports[idx[0]], "summary");
    const char *v;
    const json_t *unused;
    json_object_foreach((json_t *)summary, v, unused) {
        char fname[128], name[200];
        rep_file_name(v, fname, sizeof fname);
        mfile m;
        if (mopen(&m) < 0)
            return -ENOMEM;
        fprintf(m.f, "links,links_held,threads_peak,threads_per_link,cpu_us_per_link_s,"
                "wakeups_per_link_s,rss_per_link_bytes\n");
        for (int j = 0; j < k; j++) {
            const json_t *r = reports[idx[j]];
            const json_t *s = json_object_get(json_object_get(r, "summary"), v);
            if (!s)
                continue;
            double dur = json_number_value(json_object_get(json_object_get(r, "config"), "duration_s"));
            double held = med(s, "links"), cpu = med(s, "cpu_server_s");
            /* the whole server process per link and second of measurement: what holding
             * a link costs the machine, helpers included */
            double per = held > 0 && dur > 0 ? cpu * 1e6 / (held * dur) : NAN;
            csv_num(m.f, scen_links(r));
            double vals[] = {held, med(s, "threads_peak"), med(s, "threads_per_link"), per,
                             med(s, "wakeups_per_link_s"), med(s, "rss_per_link_bytes")};
            for (size_t q = 0; q < sizeof vals / sizeof vals[0]; q++) {
                fputc(',', m.f);
                csv_num(m.f, vals[q]);
            }
            fputc('\n', m.f);
        }
        snprintf(name, sizeof name, "scale_%s.csv", fname);
        int rc = mclose(&m, gp, name, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int cmp_links(const void *a, const void *b, void *arg)
{
    json_t *const *r = arg;
    double x = scen_links(r[*(const int *)a]), y = scen_links(r[*(const int *)b]);
    return (x > y) - (x < y);
}

/* overview_<what>.csv: rows scenario@links (newest report of each), columns variants. */
static int overview(const char *root, json_t *const *reports, int n, const char *metric,
                    const char *name, char *err, size_t errlen)
{
    const char *vars[64];
    int nv = 0, keep[512], nk = 0;
    char keys[512][160];
    for (int i = n - 1; i >= 0 && nk < 512; i--) {   /* newest first: paths sort by time */
        char key[160];
        snprintf(key, sizeof key, "%s@%.0f", scen_name(reports[i]), scen_links(reports[i]));
        bool seen = false;
        for (int j = 0; j < nk && !seen; j++)
            seen = !strcmp(keys[j], key);
        if (seen)
            continue;
        snprintf(keys[nk], sizeof keys[nk], "%s", key);
        keep[nk++] = i;
        const char *v;
        const json_t *x;
        json_object_foreach(json_object_get(reports[i], "summary"), v, x) {
            bool have = false;
            for (int j = 0; j < nv && !have; j++)
                have = !strcmp(vars[j], v);
            if (!have && nv < 64)
                vars[nv++] = v;
        }
    }
    mfile m;
    if (mopen(&m) < 0)
        return -ENOMEM;
    fprintf(m.f, "scenario");
    for (int j = 0; j < nv; j++) {
        char fname[128];
        rep_file_name(vars[j], fname, sizeof fname);
        fprintf(m.f, ",%s", fname);
    }
    fputc('\n', m.f);
    for (int q = nk - 1; q >= 0; q--) {   /* back in path order */
        const json_t *s = json_object_get(reports[keep[q]], "summary");
        fprintf(m.f, "%s", keys[q]);
        for (int j = 0; j < nv; j++) {
            fputc(',', m.f);
            csv_num(m.f, med(json_object_get(s, vars[j]), metric));
        }
        fputc('\n', m.f);
    }
    return mclose(&m, root, name, err, errlen);
}

int rep_data_aggregate(const char *root, char *const *paths, json_t *const *reports, int n,
                       char *err, size_t errlen)
{
    int *idx = calloc((size_t)n + 1, sizeof *idx);
    bool *done = calloc((size_t)n + 1, sizeof *done);
    int rc = idx && done ? 0 : -ENOMEM;
    for (int i = 0; rc == 0 && i < n; i++) {
        if (done[i] || !is_step(paths[i]))
            continue;
        char gp[PATH_BYTES], gq[PATH_BYTES];
        grandparent(paths[i], gp, sizeof gp);
        int k = 0;
        for (int j = i; j < n; j++) {
            grandparent(paths[j], gq, sizeof gq);
            if (!done[j] && is_step(paths[j]) && !strcmp(gp, gq) &&
                !strcmp(scen_name(reports[i]), scen_name(reports[j])))
                idx[k++] = j, done[j] = true;
        }
        qsort_r(idx, (size_t)k, sizeof *idx, cmp_links, (void *)reports);
        rc = scale_files(gp, reports, idx, k, err, errlen);
    }
    /* more than one scenario@links under root: the overview */
    bool several = false;
    for (int i = 1; i < n && !several; i++)
        several = strcmp(scen_name(reports[i]), scen_name(reports[0])) ||
                  scen_links(reports[i]) != scen_links(reports[0]);
    if (rc == 0 && several)
        rc = overview(root, reports, n, "msgs_dropped", "overview_dropped.csv", err, errlen);
    if (rc == 0 && several)
        rc = overview(root, reports, n, "msgs_lost", "overview_lost.csv", err, errlen);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    free(idx);
    free(done);
    return rc;
}
