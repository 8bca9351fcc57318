/* chk_expect.c — evaluate a report's expect lines (parsed by scn_expect_parse) on its summary, printing metric, expected and measured for each. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chk.h"

static const char *const stat_keys[] = {"median", "min", "max"};

bool chk_summary_value(const json_t *report, const char *variant, const char *metric,
                       enum scn_stat st, double *out)
{
    const json_t *v = json_object_get(json_object_get(report, "summary"), variant);
    if (!json_is_object(v) || (unsigned)st > SCN_STAT_MAX)
        return false;
    char buf[SCN_METRIC_BYTES];
    snprintf(buf, sizeof buf, "%s", metric);
    char *dot = strchr(buf, '.');
    if (dot)
        *dot = '\0';
    const json_t *m = json_object_get(v, buf);
    if (dot) {
        const json_t *sub = json_object_get(m, dot + 1);
        /* drops_by_reason only lists the reasons that occurred in some run */
        if (!sub && json_is_object(m) && !strcmp(buf, "drops_by_reason")) {
            *out = 0;
            return true;
        }
        m = sub;
    }
    const json_t *x = json_object_get(m, stat_keys[st]);
    if (!json_is_number(x))
        return false;
    *out = json_number_value(x);
    return true;
}

void chk_report_key(const json_t *report, char *buf, size_t len)
{
    const json_t *s = json_object_get(report, "scenario");
    const char *name = json_string_value(json_object_get(s, "name"));
    const json_t *links = json_object_get(s, "links");
    if (!name)
        snprintf(buf, len, "?");
    else if (json_is_number(links))
        snprintf(buf, len, "%s@%.0f", name, json_number_value(links));
    else
        snprintf(buf, len, "%s", name);
}

/* %g with enough digits to tell 0.999 from 1 but no float noise. */
static void num(char *b, size_t n, double x)
{
    if (x == floor(x) && fabs(x) < 1e15)
        snprintf(b, n, "%.0f", x);
    else
        snprintf(b, n, "%.6g", x);
}

static bool compare(double l, enum scn_cmp op, double r)
{
    switch (op) {
    case SCN_CMP_EQ: return l == r;
    case SCN_CMP_NE: return l != r;
    case SCN_CMP_LT: return l < r;
    case SCN_CMP_LE: return l <= r;
    case SCN_CMP_GT: return l > r;
    case SCN_CMP_GE: return l >= r;
    }
    return false;
}

static void ref_name(char *b, size_t n, const char *variant, const struct scn_ref *r)
{
    snprintf(b, n, "%s.%s%s%s", variant, r->metric, r->stat == SCN_STAT_MEDIAN ? "" : ".",
             r->stat == SCN_STAT_MEDIAN ? "" : scn_stat_name(r->stat));
}

/* One line for one left-hand variant. */
static void eval_one(const json_t *report, const struct scn_expect *e, const char *lv,
                     const chk_out *o, chk_counts *c)
{
    char key[160], lname[200], rname[200] = "", a[48], b[48], f[48];
    chk_report_key(report, key, sizeof key);
    ref_name(lname, sizeof lname, lv, &e->lhs);
    const char *rv = NULL;
    if (e->rhs_is_ref) {
        rv = strcmp(e->rhs.variant, "*") ? e->rhs.variant : lv;
        ref_name(rname, sizeof rname, rv, &e->rhs);
        if (!json_object_get(json_object_get(report, "summary"), rv)) {
            c->skipped++;
            fprintf(o->f, "skip  %s: %s: %s was not run here (only variants measured in the "
                    "same run are compared)\n", key, e->text, rv);
            return;
        }
    }
    double l, r = e->value;
    bool have_l = chk_summary_value(report, lv, e->lhs.metric, e->lhs.stat, &l);
    bool have_r = true;
    if (e->rhs_is_ref) {
        double rr;
        have_r = chk_summary_value(report, rv, e->rhs.metric, e->rhs.stat, &rr);
        r = e->value * rr;
    }
    num(b, sizeof b, r);
    if (!have_l || !have_r) {
        c->failed++;
        fprintf(o->f, "FAIL  %s: %s: %s not measured (no run reported it)\n", key, e->text,
                !have_l ? lname : rname);
        return;
    }
    num(a, sizeof a, l);
    bool ok = compare(l, e->op, r);
    ok ? c->held++ : c->failed++;
    if (ok && !o->verbose)
        return;
    char how[300] = "";
    if (e->rhs_is_ref) {
        num(f, sizeof f, e->value);
        snprintf(how, sizeof how, " (%s%s%s)", e->value == 1 ? "" : f,
                 e->value == 1 ? "" : " × ", rname);
    }
    fprintf(o->f, "%s  %s: %s: %s expected %s %s%s, measured %s\n", ok ? "ok  " : "FAIL", key,
            e->text, lname, scn_cmp_str(e->op), b, how, a);
    if (!ok && e->why[0])
        fprintf(o->f, "      it is there to catch: %s\n", e->why);
}

void chk_expect_eval(const json_t *report, const struct scn_expect *e, const chk_out *o,
                     chk_counts *c)
{
    const json_t *summary = json_object_get(report, "summary");
    if (strcmp(e->lhs.variant, "*")) {
        if (!json_object_get(summary, e->lhs.variant)) {
            char key[160];
            chk_report_key(report, key, sizeof key);
            c->skipped++;
            fprintf(o->f, "skip  %s: %s: %s was not run here\n", key, e->text, e->lhs.variant);
            return;
        }
        eval_one(report, e, e->lhs.variant, o, c);
        return;
    }
    const char *v;
    const json_t *x;
    json_object_foreach((json_t *)summary, v, x) eval_one(report, e, v, o, c);
}

int chk_expect_report(const json_t *report, const chk_out *o, chk_counts *c, char *err,
                      size_t errlen)
{
    if (!json_is_object(json_object_get(report, "summary"))) {
        snprintf(err, errlen, "no summary: not a linkbench report");
        return -EINVAL;
    }
    const json_t *lines = json_object_get(json_object_get(report, "config"), "expect");
    if (lines && !json_is_array(lines)) {
        snprintf(err, errlen, "config.expect: must be an array of strings");
        return -EINVAL;
    }
    /* parse all first: a bad line is an input error, not a half-evaluated gate */
    size_t n = json_array_size(lines);
    struct scn_expect *es = n ? calloc(n, sizeof *es) : NULL;
    if (n && !es) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        /* a line, or {"line": ..., "why": ...} (scn_to_json writes the latter when the
         * scenario said which bug the line catches) */
        const json_t *x = json_array_get(lines, i);
        const char *t = json_string_value(json_is_object(x) ? json_object_get(x, "line") : x);
        const char *because = json_string_value(json_object_get(x, "why"));
        char why[256];
        if (!t || scn_expect_parse(t, &es[i], why, sizeof why) < 0) {
            snprintf(err, errlen, "config.expect[%zu]: %s (got \"%s\")", i,
                     t ? why : "must be a string or {\"line\": string, \"why\": string}", t ? t : "");
            free(es);
            return -EINVAL;
        }
        if (because)
            snprintf(es[i].why, sizeof es[i].why, "%s", because);
    }
    for (size_t i = 0; i < n; i++)
        chk_expect_eval(report, &es[i], o, c);
    free(es);
    return 0;
}

json_t *chk_load_report(const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *r = json_load_file(path, 0, &je);
    if (!r) {
        if (je.line > 0)
            snprintf(err, errlen, "%s:%d:%d: invalid JSON: %s", path, je.line, je.column, je.text);
        else
            snprintf(err, errlen, "%s: %s", path, je.text);
        return NULL;
    }
    if (!json_is_object(r) || !json_is_object(json_object_get(r, "summary"))) {
        snprintf(err, errlen, "%s: not a linkbench report (no \"summary\" object)", path);
        json_decref(r);
        return NULL;
    }
    return r;
}
