/* chk_gate_out.c — the A/B gate's table (benchstat style), values with units, its rows as summary JSON and as JUnit cases. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "chk_gate.h"
#include "chk_junit.h"

/* Three significant digits without an exponent. */
static void sig3(char *b, size_t len, double x)
{
    double a = fabs(x);
    if (x == floor(x) && a < 1e15)
        snprintf(b, len, "%.0f", x);
    else if (a >= 100)
        snprintf(b, len, "%.0f", x);
    else if (a >= 10)
        snprintf(b, len, "%.1f", x);
    else if (a >= 1)
        snprintf(b, len, "%.2f", x);
    else
        snprintf(b, len, "%.3g", x);
}

void chk_gate_fmt(char *b, size_t len, double x, const char *unit)
{
    char n[48];
    if (isnan(x)) {
        snprintf(b, len, "-");
        return;
    }
    const char *u = unit ? unit : "";
    double a = fabs(x);
    if (!strcmp(u, "µs") && a >= 1e6)
        sig3(n, sizeof n, x / 1e6), u = "s";
    else if (!strcmp(u, "µs") && a >= 1e3)
        sig3(n, sizeof n, x / 1e3), u = "ms";
    else if (!strcmp(u, "B") && a >= 1024 * 1024)
        sig3(n, sizeof n, x / (1024 * 1024)), u = "MiB";
    else if (!strcmp(u, "B") && a >= 1024)
        sig3(n, sizeof n, x / 1024), u = "KiB";
    else if ((!strcmp(u, "msg/s") || !strcmp(u, "/s")) && a >= 1e6) {
        sig3(n, sizeof n, x / 1e6);
        snprintf(b, len, "%s M %s", n, u);
        return;
    } else if ((!strcmp(u, "msg/s") || !strcmp(u, "/s")) && a >= 1e4) {
        sig3(n, sizeof n, x / 1e3);
        snprintf(b, len, "%s k %s", n, u);
        return;
    } else
        sig3(n, sizeof n, x);
    snprintf(b, len, "%s%s%s", n, *u ? " " : "", u);
}

/* "412 µs ± 6 %" (the spread omitted when 0 or unknown). */
static void side_text(char *b, size_t len, const struct chk_row *r, int sd)
{
    char v[64];
    chk_gate_fmt(v, sizeof v, r->med[sd], r->m->unit);
    if (r->n[sd] == 0)
        snprintf(b, len, "-");
    else if (isnan(r->spread_pct[sd]) || r->spread_pct[sd] < 0.5)
        snprintf(b, len, "%s", v);
    else
        snprintf(b, len, "%s ± %.0f %%", v, r->spread_pct[sd]);
}

static const char *verdict_word(enum chk_verdict v)
{
    switch (v) {
    case CHK_V_SAME: return "";
    case CHK_V_BETTER: return "improvement";
    case CHK_V_UNCLEAR: return "unclear";
    case CHK_V_REGRESSION: return "REGRESSION";
    case CHK_V_NODATA: return "no data";
    }
    return "";
}

static void label(char *b, size_t len, const struct chk_labels *lb, int sd, const char *name)
{
    const char *f = lb && lb->fmt[sd] ? lb->fmt[sd] : (sd ? "%s" : "%s@base");
    if (strstr(f, "%s"))
        snprintf(b, len, f, name);
    else
        snprintf(b, len, "%s", f);
}

/* Pad s to w display columns (UTF-8: µ, ± and → are one column, two or three bytes),
 * on the left (right-aligned) or on the right. */
static void pad(char *out, size_t len, const char *s, int w, bool right_align)
{
    int cols = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        cols += (*p & 0xc0) != 0x80;
    int fill = w > cols ? w - cols : 0;
    snprintf(out, len, "%*s%s%*s", right_align ? fill : 0, "", s, right_align ? 0 : fill, "");
}

void chk_gate_row_text(char *buf, size_t len, const struct chk_row *r, bool judged)
{
    char name[260], a[80], b[80], ch[64], stat[80];
    snprintf(name, sizeof name, "%s.%s", r->pair->name, r->m->metric);
    side_text(a, sizeof a, r, 0);
    side_text(b, sizeof b, r, 1);
    if (!isnan(r->change_pct))
        snprintf(ch, sizeof ch, "%+.0f %%", r->change_pct);
    else if (r->n[0] && r->n[1] && r->med[1] != r->med[0]) {
        char d[48];
        chk_gate_fmt(d, sizeof d, r->med[1] - r->med[0], r->m->unit);
        snprintf(ch, sizeof ch, "%s%s", r->med[1] > r->med[0] ? "+" : "", d);
    } else
        snprintf(ch, sizeof ch, "%s", r->n[0] && r->n[1] ? "0 %" : "");
    if (!isnan(r->p) && r->p < 0.001)
        snprintf(stat, sizeof stat, "(p<0.001 n=%d+%d)", r->n[0], r->n[1]);
    else if (!isnan(r->p))
        snprintf(stat, sizeof stat, "(p=%.3f n=%d+%d)", r->p, r->n[0], r->n[1]);
    else
        snprintf(stat, sizeof stat, "(%s n=%d+%d)", r->v == CHK_V_NODATA ? "no data" : "exact",
                 r->n[0], r->n[1]);
    const char *w = judged ? verdict_word(r->v) : "";
    if (judged && r->v == CHK_V_SAME)
        w = "~";
    char pa[120], pb[120];
    pad(pa, sizeof pa, a, 20, true);
    pad(pb, sizeof pb, b, 20, false);
    snprintf(buf, len, "%-36s %s  →  %s %8s %-20s %s", name, pa, pb, ch, stat, w);
    /* no trailing blanks when there is no verdict word */
    for (size_t k = strlen(buf); k > 0 && buf[k - 1] == ' '; k--)
        buf[k - 1] = 0;
}

void chk_gate_print(FILE *f, const struct chk_row *rows, int n, const struct chk_labels *lb,
                    bool judged, bool all)
{
    const struct chk_pair *cur = NULL;
    for (int i = 0; i < n; i++) {
        const struct chk_row *r = &rows[i];
        if (!all && r->v == CHK_V_SAME)
            continue;
        if (r->pair != cur) {
            char a[240], b[240];
            cur = r->pair;
            label(a, sizeof a, lb, 0, cur->name);
            label(b, sizeof b, lb, 1, cur->name);
            const struct chk_side *s0 = &cur->side[0], *s1 = &cur->side[1];
            fprintf(f, "\n%s: %s → %s  (%d + %d repetitions", cur->key, a, b, s0->runs, s1->runs);
            if (s0->saturated || s1->saturated)
                fprintf(f, "; driver saturated in %d + %d", s0->saturated, s1->saturated);
            fprintf(f, ")\n");
        }
        char line[512];
        chk_gate_row_text(line, sizeof line, r, judged);
        fprintf(f, "  %s\n", line);
    }
}

int chk_gate_junit(chk_junit *j, const char *tool, const struct chk_row *rows, int n)
{
    for (int i = 0; i < n; i++) {
        const struct chk_row *r = &rows[i];
        char cls[400], name[300], line[512];
        snprintf(cls, sizeof cls, "linkbench.%s.%s.%s", tool, r->pair->key, r->pair->name);
        snprintf(name, sizeof name, "%s.%s", r->pair->name, r->m->metric);
        chk_gate_row_text(line, sizeof line, r, true);
        enum chk_case c = r->v == CHK_V_REGRESSION ? CHK_CASE_FAIL
                        : r->v == CHK_V_NODATA ? CHK_CASE_SKIP : CHK_CASE_PASS;
        int rc = chk_junit_add(j, r->pair->key, cls, name, c,
                               c == CHK_CASE_PASS ? NULL : line, line);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static json_t *num_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *chk_gate_rows_json(const struct chk_row *rows, int n)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++) {
        const struct chk_row *r = &rows[i];
        json_t *sides[2];
        for (int sd = 0; sd < 2; sd++)
            sides[sd] = json_pack("{s:o,s:o,s:o,s:o,s:i}", "median", num_or_null(r->med[sd]),
                                  "spread_pct", num_or_null(r->spread_pct[sd]),
                                  "min", num_or_null(r->min[sd]), "max", num_or_null(r->max[sd]),
                                  "n", r->n[sd]);
        static const char *const kinds[] = {"zero_stays_zero", "exact", "statistical"};
        static const char *const dirs[] = {"lower_is_better", "higher_is_better", "any_change"};
        json_t *ci = isfinite(r->ci_lo) ? json_pack("[f,f]", r->ci_lo, r->ci_hi) : json_null();
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:o,s:o,s:o,s:o,s:o,s:b,s:s,s:s}",
                              "key", r->pair->key, "variant", r->pair->name, "metric", r->m->metric,
                              "kind", kinds[r->m->kind], "direction", dirs[r->m->dir],
                              "threshold_pct", r->m->rel_pct, "threshold_abs", r->m->abs,
                              "base", sides[0], "candidate", sides[1],
                              "change_pct", num_or_null(r->change_pct), "ratio_ci95", ci,
                              "p", num_or_null(r->p), "p_exact", r->p_exact,
                              "rule", r->rule ? r->rule : "", "verdict", chk_verdict_name(r->v));
        if (o)
            json_array_append_new(arr, o);
    }
    return arr;
}
