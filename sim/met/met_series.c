/* met_series.c — rows of (time, counter rates/gauges, threads, RSS, CPU % by group) sampled on the caller's timer; CSV output. */
#include "met_series.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lb_file.h"
#include "met_proc.h"

struct met_series {
    met_proc *proc;            /* NULL without a process */
    int64_t period_ns;
    int ncounters, ngroups;
    met_series_kind *kinds;
    int ncols;
    char **cols;               /* column names */
    bool started;
    int64_t first_ns;          /* the baseline: t_s counts from here */
    int64_t last_ns;           /* time of the baseline or of the last row */
    int64_t *last_counters;
    int64_t last_cpu_ns, last_group_cpu[MET_PROC_GROUPS_MAX + 1];
    double *rows;              /* nrows * ncols, row-major */
    int nrows, caprows;
};

void met_series_cfg_defaults(met_series_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->label = "server";
    c->period_ns = 250 * INT64_C(1000000);
}

void met_series_destroy(met_series *s)
{
    if (!s)
        return;
    met_proc_destroy(s->proc);
    for (int c = 0; s->cols && c < s->ncols; c++)
        free(s->cols[c]);
    free(s->cols);
    free(s->kinds);
    free(s->last_counters);
    free(s->rows);
    free(s);
}

static int add_col(met_series *s, const char *fmt, const char *a)
{
    char *name;
    if (asprintf(&name, fmt, a) < 0)
        return -ENOMEM;
    s->cols[s->ncols++] = name;
    return 0;
}

met_series *met_series_create(const met_series_cfg *cfg)
{
    if (cfg->period_ns <= 0 || cfg->ngroups < 0 || cfg->ngroups > MET_PROC_GROUPS_MAX ||
        cfg->ncounters < 0 || (cfg->ncounters > 0 && !cfg->counters) ||
        (cfg->ngroups > 0 && !cfg->groups))
        return NULL;
    met_series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->period_ns = cfg->period_ns;
    s->ncounters = cfg->ncounters;
    s->ngroups = cfg->pid >= 0 ? cfg->ngroups : 0;
    int maxcols = 1 + cfg->ncounters + 3 + s->ngroups;
    s->cols = calloc((size_t)maxcols, sizeof *s->cols);
    s->kinds = calloc((size_t)cfg->ncounters + 1, sizeof *s->kinds);
    s->last_counters = calloc((size_t)cfg->ncounters + 1, sizeof *s->last_counters);
    if (!s->cols || !s->kinds || !s->last_counters)
        goto fail;
    if (cfg->pid >= 0 && !(s->proc = met_proc_create(cfg->pid, cfg->groups, s->ngroups)))
        goto fail;
    if (add_col(s, "%s", "t_s") < 0)
        goto fail;
    for (int k = 0; k < cfg->ncounters; k++) {
        const char *name = cfg->counters[k].name ? cfg->counters[k].name : "counter";
        s->kinds[k] = cfg->counters[k].kind;
        if (add_col(s, s->kinds[k] == MET_SERIES_RATE ? "%s_per_s" : "%s", name) < 0)
            goto fail;
    }
    if (s->proc) {
        const char *label = cfg->label && *cfg->label ? cfg->label : "server";
        if (add_col(s, "%s", "threads") < 0 || add_col(s, "%s", "rss_bytes") < 0 ||
            add_col(s, "cpu_%s_pct", label) < 0)
            goto fail;
        for (int g = 0; g < s->ngroups; g++)
            if (add_col(s, "cpu_%s_pct", cfg->groups[g] ? cfg->groups[g] : "group") < 0)
                goto fail;
    }
    return s;
fail:
    met_series_destroy(s);
    return NULL;
}

static int grow(met_series *s)
{
    if (s->nrows < s->caprows)
        return 0;
    int cap = s->caprows ? s->caprows * 2 : 256;   /* 256 rows = one minute at 250 ms */
    double *r = realloc(s->rows, (size_t)cap * (size_t)s->ncols * sizeof *r);
    if (!r)
        return -ENOMEM;
    s->rows = r;
    s->caprows = cap;
    return 0;
}

static int64_t proc_cpu(const met_series *s, const met_proc_reading *r)
{
    return s->ngroups ? r->cpu_ns : r->cpu_total_ns;
}

int met_series_sample(met_series *s, int64_t now_ns, const int64_t *counters)
{
    met_proc_reading r;
    bool have_proc = false;
    if (s->started && now_ns - s->last_ns < s->period_ns - s->period_ns / 10)
        return 0;
    if (s->proc) {
        /* -ESRCH: the process is gone; its last reading stands and CPU stays flat */
        /* without groups, two cheap files whatever the thread count (see met_proc.h) */
        unsigned what = s->ngroups ? MET_PROC_THREADS | MET_PROC_MEM : MET_PROC_TOTAL | MET_PROC_MEM;
        int rc = met_proc_read(s->proc, what, &r);
        if (rc == -ENOMEM)
            return rc;
        have_proc = true;
    }
    if (!s->started) {
        s->started = true;
        s->first_ns = s->last_ns = now_ns;
        for (int k = 0; k < s->ncounters; k++)
            s->last_counters[k] = counters ? counters[k] : 0;
        if (have_proc) {
            s->last_cpu_ns = proc_cpu(s, &r);
            memcpy(s->last_group_cpu, r.group_cpu_ns, sizeof s->last_group_cpu);
        }
        return 0;
    }
    if (grow(s) < 0)
        return -ENOMEM;
    double *row = s->rows + (size_t)s->nrows * (size_t)s->ncols;
    double dt = (double)(now_ns - s->last_ns) / 1e9;
    int c = 0;
    row[c++] = (double)(now_ns - s->first_ns) / 1e9;
    for (int k = 0; k < s->ncounters; k++) {
        int64_t v = counters ? counters[k] : 0;
        row[c++] = s->kinds[k] == MET_SERIES_RATE ? (double)(v - s->last_counters[k]) / dt : (double)v;
        s->last_counters[k] = v;
    }
    if (have_proc) {
        row[c++] = r.threads;
        row[c++] = (double)r.rss_bytes;
        row[c++] = 100.0 * (double)(proc_cpu(s, &r) - s->last_cpu_ns) / 1e9 / dt;
        for (int g = 0; g < s->ngroups; g++)
            row[c++] = 100.0 * (double)(r.group_cpu_ns[g] - s->last_group_cpu[g]) / 1e9 / dt;
        s->last_cpu_ns = proc_cpu(s, &r);
        memcpy(s->last_group_cpu, r.group_cpu_ns, sizeof s->last_group_cpu);
    }
    s->last_ns = now_ns;
    s->nrows++;
    return 1;
}

int met_series_rows(const met_series *s)
{
    return s->nrows;
}

int met_series_columns(const met_series *s)
{
    return s->ncols;
}

const char *met_series_column_name(const met_series *s, int col)
{
    return col >= 0 && col < s->ncols ? s->cols[col] : NULL;
}

double met_series_value(const met_series *s, int row, const char *column)
{
    if (row < 0 || row >= s->nrows)
        return NAN;
    for (int c = 0; c < s->ncols; c++)
        if (strcmp(s->cols[c], column) == 0)
            return s->rows[(size_t)row * (size_t)s->ncols + (size_t)c];
    return NAN;
}

int met_series_write_csv(const met_series *s, FILE *f)
{
    for (int c = 0; c < s->ncols; c++)
        if (fprintf(f, c ? ",%s" : "%s", s->cols[c]) < 0)
            return -EIO;
    if (fputc('\n', f) == EOF)
        return -EIO;
    for (int r = 0; r < s->nrows; r++) {
        const double *row = s->rows + (size_t)r * (size_t)s->ncols;
        for (int c = 0; c < s->ncols; c++) {
            /* %.10g: whole numbers print whole (byte counts), fractions keep their digits */
            if (fprintf(f, c ? ",%.10g" : "%.3f", row[c]) < 0)
                return -EIO;
        }
        if (fputc('\n', f) == EOF)
            return -EIO;
    }
    return 0;
}

int met_series_save(const met_series *s, const char *path, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -ENOMEM;
    }
    int rc = met_series_write_csv(s, f);
    if (fclose(f) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc == 0)
        rc = lb_write_atomic(path, buf, len, err, errlen);
    else
        snprintf(err, errlen, "%s: %s", path, strerror(-rc));
    free(buf);
    return rc;
}
