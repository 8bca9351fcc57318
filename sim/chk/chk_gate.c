/* chk_gate.c — the A/B gate's metric table, per-repetition samples from report.json runs, and the verdict per metric (exact rules, or Mann–Whitney U plus a threshold). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chk_gate.h"
#include "chk_stats.h"

/* The one table of the A/B gate (docs/reports.md, "Metrics the gate judges"). A change
 * is a regression when it is worse than BOTH thresholds (rel_pct of the base's median
 * and abs in the metric's unit) AND significant; the abs floor keeps a 3 µs move of a
 * 20 µs median or 2 wake-ups of 10 from counting. Counts a design determines are exact;
 * links held depend on free CPU under a limit (poll and pair stop where the CPU runs out)
 * and are judged statistically. */
const struct chk_gate_metric CHK_GATE_METRICS[] = {
    /* exact: what a design determines */
    {"runs_invalid", "", CHK_G_ZERO, CHK_G_LOWER, 0, 0},
    {"msgs_lost", "", CHK_G_ZERO, CHK_G_LOWER, 0, 0},
    {"msgs_dropped", "", CHK_G_ZERO, CHK_G_LOWER, 25, 10},
    {"msgs_refused", "", CHK_G_ZERO, CHK_G_LOWER, 25, 10},
    {"links_closed_error", "", CHK_G_ZERO, CHK_G_LOWER, 25, 2},
    {"links_closed_idle", "", CHK_G_EXACT, CHK_G_EITHER, 0, 0},
    {"threads_per_link", "", CHK_G_EXACT, CHK_G_LOWER, 0, 0.05},
    /* statistical: what timing and free CPU move */
    {"links", "", CHK_G_STAT, CHK_G_HIGHER, 5, 1},
    {"threads_peak", "", CHK_G_STAT, CHK_G_LOWER, 10, 4},
    {"throughput_msgs_s", "msg/s", CHK_G_STAT, CHK_G_HIGHER, 5, 1},
    {"msgs_per_cpu_s", "msg/s", CHK_G_STAT, CHK_G_HIGHER, 10, 0},
    {"cpu_ms_per_1k_msgs", "ms", CHK_G_STAT, CHK_G_LOWER, 10, 0.05},
    {"wakeups_per_link_s", "/s", CHK_G_STAT, CHK_G_LOWER, 10, 1},
    {"syscalls_per_msg", "", CHK_G_STAT, CHK_G_LOWER, 10, 0.02},
    {"rss_per_link_bytes", "B", CHK_G_STAT, CHK_G_LOWER, 10, 1024},
    {"lat_in_us.p50", "µs", CHK_G_STAT, CHK_G_LOWER, 10, 20},
    {"lat_in_us.p99", "µs", CHK_G_STAT, CHK_G_LOWER, 25, 100},
    {"lat_out_us.p50", "µs", CHK_G_STAT, CHK_G_LOWER, 10, 20},
    {"lat_out_us.p99", "µs", CHK_G_STAT, CHK_G_LOWER, 25, 100},
    {"lat_rtt_us.p50", "µs", CHK_G_STAT, CHK_G_LOWER, 10, 20},
    {"lat_rtt_us.p99", "µs", CHK_G_STAT, CHK_G_LOWER, 25, 100},
    {NULL, NULL, CHK_G_STAT, CHK_G_LOWER, 0, 0},
};

int chk_gate_n_metrics(void)
{
    int n = 0;
    while (CHK_GATE_METRICS[n].metric)
        n++;
    return n;
}

const char *chk_verdict_name(enum chk_verdict v)
{
    switch (v) {
    case CHK_V_SAME: return "same";
    case CHK_V_BETTER: return "improvement";
    case CHK_V_UNCLEAR: return "unclear";
    case CHK_V_REGRESSION: return "regression";
    case CHK_V_NODATA: return "no_data";
    }
    return "?";
}

void chk_gate_variant_name(const char *key, char *name, size_t len)
{
    const char *b = strrchr(key, '/');
    b = b ? b + 1 : key;
    size_t n = strlen(b);
    if (n > 3 && !strcmp(b + n - 3, ".so"))
        n -= 3;
    snprintf(name, len, "%.*s", (int)n, b);
}

/* metrics.<a>[.<b>] of one run; drops_by_reason lists only reasons that occurred. */
static bool run_value(const json_t *run, const char *metric, double *out)
{
    const json_t *m = json_object_get(run, "metrics");
    if (!strcmp(metric, "runs_invalid")) {
        *out = json_array_size(json_object_get(json_object_get(run, "flags"), "invalid_reasons")) > 0;
        return true;
    }
    char buf[128];
    snprintf(buf, sizeof buf, "%s", metric);
    char *dot = strchr(buf, '.');
    if (dot)
        *dot = 0;
    const json_t *x = json_object_get(m, buf);
    if (dot) {
        const json_t *sub = json_object_get(x, dot + 1);
        if (!sub && json_is_object(x) && !strcmp(buf, "drops_by_reason")) {
            *out = 0;
            return true;
        }
        x = sub;
    }
    if (!json_is_number(x))
        return false;
    *out = json_number_value(x);
    return true;
}

static struct chk_pair *pair_get(struct chk_set *s, const char *key, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->p[i].key, key) && !strcmp(s->p[i].name, name))
            return &s->p[i];
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 8;
        struct chk_pair *p = realloc(s->p, (size_t)cap * sizeof *p);
        if (!p)
            return NULL;
        s->p = p;
        s->cap = cap;
    }
    struct chk_pair *p = &s->p[s->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->key, sizeof p->key, "%s", key);
    snprintf(p->name, sizeof p->name, "%s", name);
    return p;
}

static int side_add_run(struct chk_side *sd, const json_t *run)
{
    if (sd->runs == sd->cap) {
        int cap = sd->cap ? 2 * sd->cap : 8;
        for (int k = 0; CHK_GATE_METRICS[k].metric; k++) {
            double *v = realloc(sd->v[k], (size_t)cap * sizeof *v);
            if (!v)
                return -ENOMEM;
            sd->v[k] = v;
        }
        sd->cap = cap;
    }
    sd->runs++;
    const json_t *flags = json_object_get(run, "flags");
    const json_t *why = json_object_get(flags, "invalid_reasons");
    double sent;
    bool measured = run_value(run, "msgs_sent", &sent);
    if (!measured)
        sd->failed++;
    if (json_array_size(why) > 0)
        sd->invalid++;
    if (json_is_true(json_object_get(flags, "driver_saturated")))
        sd->saturated++;
    if (!sd->why[0] && (json_array_size(why) > 0 || !measured))
        snprintf(sd->why, sizeof sd->why, "%s",
                 json_array_size(why) ? json_string_value(json_array_get(why, 0))
                                      : "no measurements");
    if (!measured)
        return 0;
    for (int k = 0; CHK_GATE_METRICS[k].metric; k++) {
        double x;
        if (run_value(run, CHK_GATE_METRICS[k].metric, &x) && isfinite(x))
            sd->v[k][sd->n[k]++] = x;
    }
    return 0;
}

int chk_set_add_report(struct chk_set *s, const json_t *report, int side, char *err,
                       size_t errlen)
{
    const json_t *runs = json_object_get(report, "runs");
    if (!json_is_array(runs)) {
        snprintf(err, errlen, "no runs array: not a linkbench report");
        return -EINVAL;
    }
    const json_t *sc = json_object_get(report, "scenario");
    const char *sname = json_string_value(json_object_get(sc, "name"));
    const json_t *links = json_object_get(sc, "links");
    char key[160];
    if (json_is_number(links))
        snprintf(key, sizeof key, "%s@%.0f", sname ? sname : "?", json_number_value(links));
    else
        snprintf(key, sizeof key, "%s", sname ? sname : "?");
    size_t i;
    const json_t *run;
    json_array_foreach(runs, i, run) {
        const char *vk = json_string_value(json_object_get(run, "variant"));
        if (!vk)
            continue;
        char name[200];
        chk_gate_variant_name(vk, name, sizeof name);
        int sd = side;
        size_t nl = strlen(name);
        if (sd < 0) {
            sd = nl > 5 && !strcmp(name + nl - 5, "@base") ? 0 : 1;
            if (sd == 0)
                name[nl - 5] = 0;
        }
        struct chk_pair *p = pair_get(s, key, name);
        if (!p || side_add_run(&p->side[sd], run) < 0) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    return 0;
}

void chk_set_deinit(struct chk_set *s)
{
    for (int i = 0; i < s->n; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < CHK_GATE_MAX; k++)
                free(s->p[i].side[j].v[k]);
    free(s->p);
    memset(s, 0, sizeof *s);
}

static double vmax(const double *v, int n)
{
    double m = -INFINITY;
    for (int i = 0; i < n; i++)
        m = fmax(m, v[i]);
    return m;
}

static double vmin(const double *v, int n)
{
    double m = INFINITY;
    for (int i = 0; i < n; i++)
        m = fmin(m, v[i]);
    return m;
}

/* How much worse b is than a for this metric (negative: better). */
static double worse_by(const struct chk_gate_metric *m, double a, double b)
{
    return m->dir == CHK_G_HIGHER ? a - b : m->dir == CHK_G_LOWER ? b - a : fabs(b - a);
}

/* A move of d (> 0) from base a passes both thresholds. */
static bool beyond(const struct chk_gate_metric *m, double a, double d)
{
    return d > m->abs && (a == 0 || 100 * d / fabs(a) > m->rel_pct);
}

static void judge(struct chk_row *r, const struct chk_side *b, const struct chk_side *c,
                  int k, double alpha)
{
    const struct chk_gate_metric *m = r->m;
    const double *x = b->v[k], *y = c->v[k];
    int nx = b->n[k], ny = c->n[k];
    double w = worse_by(m, r->med[0], r->med[1]);
    if (m->kind == CHK_G_ZERO && r->max[0] == 0) {
        r->rule = "base none: exact";
        r->v = r->max[1] > 0 ? CHK_V_REGRESSION : CHK_V_SAME;
        return;
    }
    if (m->kind == CHK_G_EXACT) {
        r->rule = "exact";
        r->v = w > m->abs ? CHK_V_REGRESSION
             : m->dir != CHK_G_EITHER && -w > m->abs ? CHK_V_BETTER : CHK_V_SAME;
        return;
    }
    struct chk_mwu t;
    r->rule = "threshold and significance";
    if (chk_mwu(x, nx, y, ny, &t) == 0) {
        r->p = t.p;
        r->p_exact = t.exact;
    }
    if (r->med[0] != 0) {
        double lo, hi;
        if (chk_boot_ratio(x, nx, y, ny, 1000, 0.95, 0x6c696e6b62656e63ull, &lo, &hi) == 0)
            r->ci_lo = lo, r->ci_hi = hi;
    }
    bool sig = r->p < alpha;
    /* every candidate repetition on one side of every base one: as clear as this many
     * repetitions can be (2 + 2 can never reach p < 0.2), so more of them may decide */
    bool separated = r->p_exact && (t.u == 0 || t.u == (double)nx * ny);
    if (beyond(m, r->med[0], w) && (sig || r->p < CHK_GATE_UNCLEAR_P || separated))
        r->v = sig ? CHK_V_REGRESSION : CHK_V_UNCLEAR;
    else if (m->dir != CHK_G_EITHER && beyond(m, r->med[0], -w) && sig)
        r->v = CHK_V_BETTER;
    else
        r->v = CHK_V_SAME;
}

int chk_gate_eval(const struct chk_set *s, double alpha, struct chk_row **rows, int *n,
                  int *unpaired)
{
    int nm = chk_gate_n_metrics(), cap = s->n * nm, k = 0, lone = 0;
    struct chk_row *out = calloc((size_t)(cap ? cap : 1), sizeof *out);
    if (!out)
        return -ENOMEM;
    for (int i = 0; i < s->n; i++) {
        const struct chk_pair *p = &s->p[i];
        if (!p->side[0].runs || !p->side[1].runs) {
            lone++;
            continue;
        }
        for (int j = 0; j < nm; j++) {
            const struct chk_side *b = &p->side[0], *c = &p->side[1];
            if (!b->n[j] && !c->n[j])
                continue;
            struct chk_row *r = &out[k++];
            *r = (struct chk_row){.pair = p, .m = &CHK_GATE_METRICS[j], .p = NAN,
                                  .ci_lo = NAN, .ci_hi = NAN, .change_pct = NAN};
            for (int sd = 0; sd < 2; sd++) {
                const struct chk_side *x = &p->side[sd];
                r->n[sd] = x->n[j];
                r->med[sd] = chk_median(x->v[j], x->n[j]);
                r->spread_pct[sd] = chk_spread_pct(x->v[j], x->n[j]);
                r->min[sd] = x->n[j] ? vmin(x->v[j], x->n[j]) : NAN;
                r->max[sd] = x->n[j] ? vmax(x->v[j], x->n[j]) : NAN;
            }
            if (r->med[0] != 0 && !isnan(r->med[0]))
                r->change_pct = (r->med[1] / r->med[0] - 1) * 100;
            if (!b->n[j] || !c->n[j]) {
                r->v = CHK_V_NODATA;
                r->rule = "a side did not report it";
                continue;
            }
            judge(r, b, c, j, alpha);
        }
    }
    *rows = out;
    *n = k;
    if (unpaired)
        *unpaired = lone;
    return 0;
}

void chk_gate_tally(const struct chk_row *rows, int n, struct chk_tally *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < n; i++)
        switch (rows[i].v) {
        case CHK_V_SAME: t->same++; break;
        case CHK_V_BETTER: t->better++; break;
        case CHK_V_UNCLEAR: t->unclear++; break;
        case CHK_V_REGRESSION: t->regression++; break;
        case CHK_V_NODATA: t->nodata++; break;
        }
}
