/* chk_baseline.c — the baseline file (results/baseline.json): its one tolerance table, comparison of a report against it, and its deliberate update. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "chk.h"

/* The tolerance table: the only place bands are defined (docs/reports.md explains
 * them). These machines are shared 2-vCPU VMs: times and CPU move by tens of percent
 * between identical runs, so they get wide bands and fail only in the bad direction;
 * counts that a design determines (links held, lost messages, idle closes) are exact;
 * drops depend on timing, so a design that dropped nothing must keep dropping nothing,
 * and one that drops may move within a factor of 4, but never past half of what it did
 * not drop (4 × 3556 + 10 drops of 5000 sent is no band: it could never fail). */
const struct chk_tol CHK_TOLERANCES[] = {
    /* counts */
    {"links", CHK_EXACT, CHK_EITHER, 1, 0, NULL},
    {"msgs_sent", CHK_BAND, CHK_EITHER, 1.5, 0, NULL},
    {"msgs_lost", CHK_EXACT, CHK_EITHER, 1, 0, NULL},
    {"links_closed_idle", CHK_EXACT, CHK_EITHER, 1, 0, NULL},
    {"msgs_dropped", CHK_ZERO_EXACT, CHK_LOWER_BETTER, 4, 10, "msgs_sent"},
    {"msgs_refused", CHK_ZERO_EXACT, CHK_LOWER_BETTER, 4, 10, "msgs_sent"},
    {"links_closed_error", CHK_ZERO_EXACT, CHK_LOWER_BETTER, 4, 10, "links"},
    /* structure: set by the design, with a little room for helper threads */
    {"threads_per_link", CHK_BAND, CHK_EITHER, 1, 0.05, NULL},
    {"threads_peak", CHK_BAND, CHK_EITHER, 1.1, 4, NULL},
    /* ratios */
    {"wakeups_per_link_s", CHK_BAND, CHK_LOWER_BETTER, 2, 5, NULL},
    {"syscalls_per_msg", CHK_BAND, CHK_LOWER_BETTER, 1.5, 0.1, NULL},
    {"rss_per_link_bytes", CHK_BAND, CHK_LOWER_BETTER, 1.5, 8192, NULL},
    {"throughput_msgs_s", CHK_BAND, CHK_HIGHER_BETTER, 1.25, 0, NULL},
    {"msgs_per_cpu_s", CHK_BAND, CHK_HIGHER_BETTER, 2, 0, NULL},
    /* times */
    {"cpu_ms_per_1k_msgs", CHK_BAND, CHK_LOWER_BETTER, 2, 0.05, NULL},
    {"lat_in_us.p50", CHK_BAND, CHK_LOWER_BETTER, 3, 200, NULL},
    {"lat_in_us.p99", CHK_BAND, CHK_LOWER_BETTER, 3, 1000, NULL},
    {"lat_out_us.p50", CHK_BAND, CHK_LOWER_BETTER, 3, 200, NULL},
    {"lat_out_us.p99", CHK_BAND, CHK_LOWER_BETTER, 3, 1000, NULL},
    {"lat_rtt_us.p50", CHK_BAND, CHK_LOWER_BETTER, 3, 200, NULL},
    {"lat_rtt_us.p99", CHK_BAND, CHK_LOWER_BETTER, 3, 1000, NULL},
    {NULL, CHK_EXACT, CHK_EITHER, 1, 0, NULL},
};

/* A higher-better band whose floor is at or below 0 holds for any value: a baseline
 * throughput of 0 (a run of quiet links) means "≥ 0". Such a value is not stored, and
 * one found in an older baseline is skipped. */
bool chk_tol_vacuous(const struct chk_tol *t, double base)
{
    return t->kind == CHK_BAND && t->dir == CHK_HIGHER_BETTER && base / t->factor - t->slack <= 0;
}

static void num(char *b, size_t n, double x)
{
    if (x == floor(x) && fabs(x) < 1e15)
        snprintf(b, n, "%.0f", x);
    else
        snprintf(b, n, "%.6g", x);
}

/* Same value for counts stored as integers and read back as reals. */
static bool same(double a, double b)
{
    return a == b || fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b));
}

/* Evaluate one metric: 1 holds, 0 falls short; the expectation in words in exp. of is
 * the measured value of t->of (NAN when there is none). */
static int judge(const struct chk_tol *t, double base, double got, double of, char *exp, size_t n)
{
    char b[48], lo[48], hi[48], o[48];
    num(b, sizeof b, base);
    if (t->kind == CHK_EXACT || (t->kind == CHK_ZERO_EXACT && base == 0)) {
        snprintf(exp, n, "== %s (exact)", b);
        return same(got, base);
    }
    double up = base * t->factor + t->slack, down = base / t->factor - t->slack;
    num(hi, sizeof hi, up);
    num(lo, sizeof lo, down);
    switch (t->dir) {
    case CHK_LOWER_BETTER:
        if (t->of && isfinite(of) && base + (of - base) / 2 < up) {
            up = base + (of - base) / 2;
            num(hi, sizeof hi, up);
            num(o, sizeof o, of);
            snprintf(exp, n, "<= %s (baseline %s + half of the %s %s that it leaves)", hi, b, o, t->of);
            return got <= up;
        }
        snprintf(exp, n, "<= %s (baseline %s × %g + %g)", hi, b, t->factor, t->slack);
        return got <= up;
    case CHK_HIGHER_BETTER:
        snprintf(exp, n, ">= %s (baseline %s / %g - %g)", lo, b, t->factor, t->slack);
        return got >= down;
    case CHK_EITHER:
        snprintf(exp, n, "in [%s, %s] (baseline %s, ×/÷ %g ± %g)", lo, hi, b, t->factor, t->slack);
        return got >= down && got <= up;
    }
    return 0;
}

static const json_t *entries_of(const json_t *baseline, char *err, size_t errlen)
{
    const json_t *e = json_object_get(baseline, "entries");
    if (!json_is_object(baseline) || !json_is_object(e)) {
        snprintf(err, errlen, "baseline: must be an object with an \"entries\" object "
                 "(write one with linkbench baseline update)");
        return NULL;
    }
    return e;
}

int chk_baseline_compare(const json_t *baseline, const json_t *report, const chk_out *o,
                         chk_counts *c, char *err, size_t errlen)
{
    const json_t *entries = entries_of(baseline, err, errlen);
    if (!entries)
        return -EINVAL;
    char key[160];
    chk_report_key(report, key, sizeof key);
    const json_t *vs = json_object_get(json_object_get(entries, key), "variants");
    if (!json_is_object(vs)) {
        c->skipped++;
        fprintf(o->f, "skip  %s: no baseline entry for %s (linkbench baseline update adds it)\n",
                key, key);
        return 0;
    }
    const char *v;
    const json_t *bv;
    json_object_foreach((json_t *)vs, v, bv) {
        if (!json_is_object(bv)) {
            snprintf(err, errlen, "baseline: entries.%s.variants.%s: must be an object", key, v);
            return -EINVAL;
        }
        if (!json_object_get(json_object_get(report, "summary"), v)) {
            c->skipped++;
            fprintf(o->f, "skip  %s: baseline has %s, this report does not\n", key, v);
            continue;
        }
        for (const struct chk_tol *t = CHK_TOLERANCES; t->metric; t++) {
            const json_t *b = json_object_get(bv, t->metric);
            /* a number: one run's median, banded by the table; an object: the spread of
             * several runs (baseline update --from-runs, chk_spread.c) */
            bool spread = json_is_object(b);
            if (!json_is_number(b) && !spread)
                continue;   /* not measured when the baseline was taken */
            double base = json_number_value(spread ? json_object_get(b, "median") : b), got;
            char exp[200], g[48];
            if (!chk_summary_value(report, v, t->metric, SCN_STAT_MEDIAN, &got)) {
                c->failed++;
                num(g, sizeof g, base);
                fprintf(o->f, "FAIL  %s baseline: %s.%s expected %s, measured nothing (no run "
                        "reported it)\n", key, v, t->metric, g);
                continue;
            }
            if (chk_tol_vacuous(t, base)) {
                c->skipped++;
                fprintf(o->f, "skip  %s baseline: %s.%s: a baseline of %g cannot fail (no floor "
                        "below it); baseline update no longer stores it\n", key, v, t->metric, base);
                continue;
            }
            double of = NAN;
            if (t->of && !chk_summary_value(report, v, t->of, SCN_STAT_MEDIAN, &of))
                of = NAN;
            int ok = spread ? chk_spread_judge(t, b, got, exp, sizeof exp)
                            : judge(t, base, got, of, exp, sizeof exp);
            if (ok < 0) {
                snprintf(err, errlen, "baseline: entries.%s.variants.%s.%s: a spread needs median, "
                         "min, max and runs", key, v, t->metric);
                return -EINVAL;
            }
            ok ? c->held++ : c->failed++;
            num(g, sizeof g, got);
            if (!ok || o->verbose)
                fprintf(o->f, "%s  %s baseline: %s.%s expected %s, measured %s\n",
                        ok ? "ok  " : "FAIL", key, v, t->metric, exp, g);
        }
    }
    return 0;
}

int chk_baseline_update(json_t *baseline, const json_t *report, char *err, size_t errlen)
{
    if (!json_is_object(baseline)) {
        snprintf(err, errlen, "baseline: must be a JSON object");
        return -EINVAL;
    }
    const json_t *summary = json_object_get(report, "summary");
    if (!json_is_object(summary)) {
        snprintf(err, errlen, "no summary: not a linkbench report");
        return -EINVAL;
    }
    if (!json_object_get(baseline, "format")) {
        json_object_set_new(baseline, "format", json_integer(1));
        json_object_set_new(baseline, "about", json_string(
            "linkbench check --baseline: medians per scenario@links and variant. Rewrite on "
            "purpose with `linkbench baseline update <report.json>...`; tolerances: "
            "docs/reports.md."));
    }
    json_t *entries = json_object_get(baseline, "entries");
    if (!entries) {
        entries = json_object();
        json_object_set_new(baseline, "entries", entries);
    }
    if (!json_is_object(entries)) {
        snprintf(err, errlen, "baseline: \"entries\" must be an object");
        return -EINVAL;
    }
    char key[160];
    chk_report_key(report, key, sizeof key);
    json_t *vs = json_object();
    const char *v;
    const json_t *x;
    json_object_foreach((json_t *)summary, v, x) {
        json_t *m = json_object();
        for (const struct chk_tol *t = CHK_TOLERANCES; t->metric; t++) {
            double d;
            if (chk_summary_value(report, v, t->metric, SCN_STAT_MEDIAN, &d) && !chk_tol_vacuous(t, d))
                json_object_set_new(m, t->metric, d == floor(d) && fabs(d) < 1e15
                                    ? json_integer((json_int_t)d) : json_real(d));
        }
        json_object_set_new(vs, v, m);
    }
    /* the machine it was measured on: a baseline from another machine is a weak gate */
    const json_t *mach = json_object_get(report, "machine");
    json_t *entry = json_pack("{s:{s:O?,s:O?},s:o}", "machine", "cpus",
                              json_object_get(mach, "cpus"), "model", json_object_get(mach, "model"),
                              "variants", vs);
    if (!entry) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    json_object_set_new(entries, key, entry);
    return 0;
}
