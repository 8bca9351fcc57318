/* rep_verdict.c — evaluate the seed's claims (rep_verdict_claims.c) on reports: find each test's report, evaluate its rules, and combine the outcomes into a verdict. */
#include "rep_verdict.h"

#include <ctype.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chk.h"

/* ---------------------------------------------------------------- reports */

int rv_find_report(json_t *const *reps, char *const *paths, int n, const char *scenario)
{
    (void)paths;   /* sorted by path: timestamped run directories oldest first */
    char name[128];
    snprintf(name, sizeof name, "%s", scenario);
    char *at = strchr(name, '@');
    double links = -1;
    if (at) {
        *at = 0;
        links = atof(at + 1);
    }
    int found = -1;
    for (int i = 0; i < n; i++) {
        const json_t *s = json_object_get(reps[i], "scenario");
        const char *nm = json_string_value(json_object_get(s, "name"));
        if (!nm || strcmp(nm, name))
            continue;
        if (links >= 0 && json_number_value(json_object_get(s, "links")) != links)
            continue;
        found = i;   /* the newest wins */
    }
    return found;
}

/* ---------------------------------------------------------------- rules */

struct ref {
    char variant[64];
    char metric[96];
};

/* "variant.metric[.key]": the variant ends at the first '.' (names hold none). */
static bool parse_ref(const char *s, struct ref *r)
{
    const char *dot = strchr(s, '.');
    if (!dot || dot == s || (size_t)(dot - s) >= sizeof r->variant || !dot[1] ||
        strlen(dot + 1) >= sizeof r->metric)
        return false;
    memcpy(r->variant, s, (size_t)(dot - s));
    r->variant[dot - s] = 0;
    snprintf(r->metric, sizeof r->metric, "%s", dot + 1);
    return strchr(r->metric, '.') == strrchr(r->metric, '.');   /* at most metric.key */
}

enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_BAD };

static enum op parse_op(const char *s)
{
    static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
    for (int i = 0; i < 6; i++)
        if (!strcmp(s, ops[i]))
            return (enum op)i;
    return OP_BAD;
}

static bool cmp(double l, enum op op, double r)
{
    switch (op) {
    case OP_EQ: return l == r;
    case OP_NE: return l != r;
    case OP_LT: return l < r;
    case OP_LE: return l <= r;
    case OP_GT: return l > r;
    case OP_GE: return l >= r;
    default: return false;
    }
}

/* A parsed rule: a comparison, or a rank among a list. */
struct rule {
    bool rank;
    struct ref lhs, rhs;
    enum op op;
    bool rhs_ref;
    double factor;           /* or the constant */
    int k;                   /* rank: claimed place, 1 = lowest */
    char list[16][64];
    int n;
};

static bool number(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return end != s && !*end && isfinite(*v);
}

static bool parse_rule(const char *text, struct rule *r, char *err, size_t len)
{
    memset(r, 0, sizeof *r);
    char buf[512], *tok[8];
    snprintf(buf, sizeof buf, "%s", text);
    int n = 0;
    for (char *s = NULL, *t = strtok_r(buf, " ", &s); t && n < 8; t = strtok_r(NULL, " ", &s))
        tok[n++] = t;
    if (n == 5 && !strcmp(tok[0], "rank")) {
        /* rank VARIANT K METRIC LIST */
        r->rank = true;
        double k;
        if (!number(tok[2], &k) || k < 1 || k != floor(k))
            return snprintf(err, len, "rank: \"%s\" is no place (1 = lowest)", tok[2]), false;
        r->k = (int)k;
        snprintf(r->lhs.variant, sizeof r->lhs.variant, "%s", tok[1]);
        snprintf(r->lhs.metric, sizeof r->lhs.metric, "%s", tok[3]);
        bool in = false;
        for (char *s = NULL, *t = strtok_r(tok[4], ",", &s); t && r->n < 16; t = strtok_r(NULL, ",", &s)) {
            snprintf(r->list[r->n++], sizeof r->list[0], "%s", t);
            in |= !strcmp(t, tok[1]);
        }
        if (!in)
            return snprintf(err, len, "rank: %s is not in its list", tok[1]), false;
        if (r->k > r->n)
            return snprintf(err, len, "rank: place %d of %d", r->k, r->n), false;
        return true;
    }
    if (n < 3 || !parse_ref(tok[0], &r->lhs) || (r->op = parse_op(tok[1])) == OP_BAD)
        return snprintf(err, len, "expected VARIANT.METRIC OP operand (got \"%s\")", text), false;
    if (n == 3 && parse_ref(tok[2], &r->rhs) && !isdigit((unsigned char)tok[2][0])) {
        r->rhs_ref = true;
        r->factor = 1;
        return true;
    }
    if (n == 3 && number(tok[2], &r->factor))
        return true;
    if (n == 5 && !strcmp(tok[3], "*") && number(tok[2], &r->factor) && parse_ref(tok[4], &r->rhs)) {
        r->rhs_ref = true;
        return true;
    }
    return snprintf(err, len, "expected NUMBER, VARIANT.METRIC or NUMBER * VARIANT.METRIC after %s "
                    "(got \"%s\")", tok[1], text), false;
}

bool rv_rule_parses(const char *rule, char *err, size_t len)
{
    struct rule r;
    return parse_rule(rule, &r, err, len);
}

int rv_rule_variants(const char *rule, char names[][64], int max)
{
    struct rule r;
    char err[256];
    int n = 0;
    if (!parse_rule(rule, &r, err, sizeof err)) {
        struct ref x;   /* a show ref alone */
        if (!parse_ref(rule, &x) || max < 1)
            return 0;
        snprintf(names[0], 64, "%s", x.variant);
        return 1;
    }
    if (r.rank) {
        for (int i = 0; i < r.n && n < max; i++)
            snprintf(names[n++], 64, "%s", r.list[i]);
        return n;
    }
    if (n < max)
        snprintf(names[n++], 64, "%s", r.lhs.variant);
    if (r.rhs_ref && n < max)
        snprintf(names[n++], 64, "%s", r.rhs.variant);
    return n;
}

/* Three significant digits; counts whole. */
static void fmt(char *b, size_t n, double x)
{
    double a = fabs(x);
    if (!isfinite(x))
        snprintf(b, n, "-");
    else if (x == floor(x) && a < 1e15)
        snprintf(b, n, "%.0f", x);
    else if (a >= 1e6)
        snprintf(b, n, "%.3g", x);
    else if (a >= 100)
        snprintf(b, n, "%.0f", x);
    else if (a >= 10)
        snprintf(b, n, "%.1f", x);
    else if (a >= 1)
        snprintf(b, n, "%.2f", x);
    else
        snprintf(b, n, "%.3g", x);
}

static void add(char *vals, size_t len, const char *fmt_, ...) __attribute__((format(printf, 3, 4)));
static void add(char *vals, size_t len, const char *fmt_, ...)
{
    size_t o = strlen(vals);
    if (o + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt_);
    vsnprintf(vals + o, len - o, fmt_, ap);
    va_end(ap);
}

/* The value of a ref, with "variant metric = value; " added to vals. */
static bool value(const json_t *rep, const struct ref *r, double *v, char *vals, size_t len)
{
    if (!chk_summary_value(rep, r->variant, r->metric, SCN_STAT_MEDIAN, v)) {
        add(vals, len, "%s.%s: not in the report; ", r->variant, r->metric);
        return false;
    }
    char b[32];
    fmt(b, sizeof b, *v);
    add(vals, len, "%s.%s = %s; ", r->variant, r->metric, b);
    return true;
}

enum rv_outcome rv_eval_rule(const json_t *report, const char *text, char *vals, size_t len)
{
    struct rule r;
    char err[256];
    if (!parse_rule(text, &r, err, sizeof err)) {
        add(vals, len, "bad rule: %s; ", err);
        return RV_MISSING;
    }
    if (!r.rank) {
        double l, rv = r.factor;
        bool ok = value(report, &r.lhs, &l, vals, len);
        if (r.rhs_ref) {
            double x;
            ok = value(report, &r.rhs, &x, vals, len) && ok;
            rv = r.factor * x;
        }
        if (!ok)
            return RV_MISSING;
        return cmp(l, r.op, rv) ? RV_HOLDS : RV_FAILS;
    }
    /* rank: values within 10 % tie, so the place may be anywhere a tie allows */
    double v[16], me = NAN;
    bool ok = true;
    for (int i = 0; i < r.n; i++) {
        struct ref x = {0};
        snprintf(x.variant, sizeof x.variant, "%s", r.list[i]);
        snprintf(x.metric, sizeof x.metric, "%s", r.lhs.metric);
        ok = value(report, &x, &v[i], vals, len) && ok;
        if (!strcmp(r.list[i], r.lhs.variant))
            me = v[i];
    }
    if (!ok)
        return RV_MISSING;
    int below = 0, at_most = 0;
    for (int i = 0; i < r.n; i++) {
        if (!strcmp(r.list[i], r.lhs.variant))
            continue;
        below += v[i] * 1.1 < me;     /* clearly lower */
        at_most += v[i] <= me * 1.1;  /* lower or tied */
    }
    add(vals, len, "%s is %d", r.lhs.variant, below + 1);
    if (at_most > below)
        add(vals, len, "-%d", at_most + 1);
    add(vals, len, " of %d (1 = lowest); ", r.n);
    return r.k >= below + 1 && r.k <= at_most + 1 ? RV_HOLDS : RV_FAILS;
}
