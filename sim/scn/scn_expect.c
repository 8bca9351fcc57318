/* scn_expect.c — parse "expect" lines (k6-threshold style) into a small AST; evaluating them is the checker's job. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link_registry.h"
#include "met_names.h"
#include "scn_internal.h"

/* Metric names come from the report contract (met_names.h) and the drop reasons from
 * the registry, so a typo in an expect line is an error here instead of an
 * expectation that can never fail. */
enum sub { SUB_NONE, SUB_PCT, SUB_REASON };

/* Metrics the report derives per run beside the contract's scalars, and the counts of
 * the seed's Go behaviours (docs/seed-fidelity.md). */
static const char *const derived[] = {"msgs_per_cpu_s", "cpu_ms_per_1k_msgs",
                                      "frames_broken_by_deadline", "frames_cut_by_deadline",
                                      "msgs_corrupted", "log_lines", "log_busy_share",
                                      "solo_threads", "msgs_garbage", "wire_bytes",
                                      "payload_bytes", "wire_per_payload", "msgs_compressed",
                                      "links_closed_idle_quiet", "links_closed_idle_after_traffic",
                                      "links_closed_idle_talking"};
#define N_DERIVED ((int)(sizeof derived / sizeof derived[0]))

#define METRICS_MAX 64

/* Every name an expect line may start with, and what must follow it. */
static int metric_names(const char **names, enum sub *subs)
{
    int n = 0;
    for (int i = 0; MET_SCALAR_METRICS[i] && n < METRICS_MAX - 8; i++)
        names[n] = MET_SCALAR_METRICS[i], subs[n++] = SUB_NONE;
    for (int i = 0; i < N_DERIVED && n < METRICS_MAX - 8; i++)
        names[n] = derived[i], subs[n++] = SUB_NONE;
    for (int i = 0; MET_LATENCY_METRICS[i] && n < METRICS_MAX - 1; i++)
        names[n] = MET_LATENCY_METRICS[i], subs[n++] = SUB_PCT;
    names[n] = "drops_by_reason", subs[n++] = SUB_REASON;
    return n;
}

static int count(const char *const *names)
{
    int n = 0;
    while (names[n]) n++;
    return n;
}

static const char *const stats[] = {"median", "min", "max"};

const char *scn_cmp_str(enum scn_cmp op)
{
    static const char *const s[] = {"==", "!=", "<", "<=", ">", ">="};
    return (unsigned)op < 6 ? s[op] : "?";
}

const char *scn_stat_name(enum scn_stat st)
{
    return (unsigned)st < 3 ? stats[st] : "?";
}

static int find(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

static void list(char *out, size_t n, const char *const *names, int k)
{
    size_t o = 0;
    for (int i = 0; i < k && o < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%s%s", i ? (i == k - 1 ? " or " : ", ") : "", names[i]);
}

/* metric: "name", "name.sub", either optionally followed by ".median|.min|.max".
 * On success the metric (without the stat) is in ref->metric. */
static bool split_metric(const char *path, struct scn_ref *ref, char *why, size_t wn)
{
    char buf[SCN_METRIC_BYTES];
    snprintf(buf, sizeof buf, "%s", path);
    char *seg[4];
    int n = 0;
    for (char *p = buf, *save = NULL; n < 4 && (p = strtok_r(p, ".", &save)); p = NULL)
        seg[n++] = p;
    if (n == 0 || n > 3) {
        snprintf(why, wn, "metric \"%s\" has too many parts", path);
        return false;
    }
    const char *names[METRICS_MAX];
    enum sub subs[METRICS_MAX];
    int nm = metric_names(names, subs), m = find(seg[0], names, nm);
    if (m < 0) {
        const char *near = scn_closest(seg[0], names, nm);
        if (near)
            snprintf(why, wn, "unknown metric \"%s\" (did you mean \"%s\"?)", seg[0], near);
        else
            snprintf(why, wn, "unknown metric \"%s\" (docs/scenarios.md lists them)", seg[0]);
        return false;
    }
    int used = 1;
    char l[256];
    if (subs[m] == SUB_PCT) {
        int np = count(MET_LATENCY_KEYS);
        if (n < 2 || find(seg[1], MET_LATENCY_KEYS, np) < 0) {
            list(l, sizeof l, MET_LATENCY_KEYS, np);
            snprintf(why, wn, "%s needs a percentile: %s.%s", seg[0], seg[0], l);
            return false;
        }
        used = 2;
    } else if (subs[m] == SUB_REASON) {
        if (n < 2 || link_drop_reason_parse(seg[1]) < 0) {
            const char *rs[LINK_DROP_COUNT];
            for (int i = 0; i < LINK_DROP_COUNT; i++) rs[i] = link_drop_reason_name((enum link_drop_reason)i);
            list(l, sizeof l, rs, LINK_DROP_COUNT);
            snprintf(why, wn, "%s needs a reason: %s.%s", seg[0], seg[0], l);
            return false;
        }
        used = 2;
    }
    ref->stat = SCN_STAT_MEDIAN;
    if (n > used) {
        int st = find(seg[used], stats, 3);
        if (st < 0 || n > used + 1) {
            list(l, sizeof l, stats, 3);
            snprintf(why, wn, "\"%s\" after %s is not an aggregate (%s)", seg[used], seg[0], l);
            return false;
        }
        ref->stat = (enum scn_stat)st;
    }
    ref->metric[0] = '\0';
    for (int i = 0; i < used; i++) {
        size_t o = strlen(ref->metric);
        snprintf(ref->metric + o, sizeof ref->metric - o, "%s%s", i ? "." : "", seg[i]);
    }
    return true;
}

bool scn_metric_known(const char *metric, char *why, size_t why_bytes)
{
    struct scn_ref r;
    char w[320];
    bool ok = split_metric(metric, &r, w, sizeof w);
    if (!ok && why) snprintf(why, why_bytes, "%s", w);
    return ok;
}

/* ---------------------------------------------------------------- the parser */

struct lex {
    const char *s;
    size_t i;
    char *err;
    size_t en;
};

static int fail(struct lex *x, size_t col0, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct lex *x, size_t col0, const char *fmt, ...)
{
    char m[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    snprintf(x->err, x->en, "%s at column %zu", m, col0 + 1);
    return -1;
}

static void ws(struct lex *x)
{
    while (x->s[x->i] == ' ' || x->s[x->i] == '\t') x->i++;
}

static bool ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* variant '.' metric, with the metric validated. */
static int parse_ref(struct lex *x, struct scn_ref *r)
{
    ws(x);
    size_t start = x->i;
    if (x->s[x->i] == '*') {
        x->i++;
        snprintf(r->variant, sizeof r->variant, "*");
    } else {
        /* ':' for go:<design> variants (run_go.h), '+' and '@' for instances' names
         * ("poll@50ms", "poll+keep_partial") */
        while (ident_char(x->s[x->i]) || x->s[x->i] == ':' || x->s[x->i] == '+' || x->s[x->i] == '@')
            x->i++;
        size_t len = x->i - start;
        if (len == 0 || !isalpha((unsigned char)x->s[start]))
            return fail(x, start, "expected a variant name or *");
        if (len >= sizeof r->variant) return fail(x, start, "variant name too long");
        memcpy(r->variant, x->s + start, len);
        r->variant[len] = '\0';
    }
    if (x->s[x->i] != '.') return fail(x, x->i, "expected '.' and a metric name after the variant");
    x->i++;
    size_t mstart = x->i;
    while (ident_char(x->s[x->i]) || (x->s[x->i] == '.' && ident_char(x->s[x->i + 1]))) x->i++;
    size_t mlen = x->i - mstart;
    if (mlen == 0) return fail(x, mstart, "expected a metric name");
    if (mlen >= sizeof r->metric) return fail(x, mstart, "metric name too long");
    char path[SCN_METRIC_BYTES];
    memcpy(path, x->s + mstart, mlen);
    path[mlen] = '\0';
    char why[320];
    if (!split_metric(path, r, why, sizeof why)) return fail(x, mstart, "%s", why);
    return 0;
}

static int parse_op(struct lex *x, enum scn_cmp *op)
{
    ws(x);
    const char *p = x->s + x->i;
    static const struct { const char *t; enum scn_cmp op; } ops[] = {
        {"==", SCN_CMP_EQ}, {"!=", SCN_CMP_NE}, {"<=", SCN_CMP_LE},
        {">=", SCN_CMP_GE}, {"<", SCN_CMP_LT},  {">", SCN_CMP_GT}};
    for (int i = 0; i < 6; i++) {
        size_t n = strlen(ops[i].t);
        if (!strncmp(p, ops[i].t, n)) {
            /* ">>", "<<", "=<" and the like are typos, not two operators */
            if (strchr("<>=!", p[n]) && p[n]) break;
            x->i += n;
            *op = ops[i].op;
            return 0;
        }
    }
    return fail(x, x->i, "expected a comparison operator (==, !=, <, <=, >, >=)");
}

static bool number_start(const char *p)
{
    return isdigit((unsigned char)p[0]) ||
           ((p[0] == '-' || p[0] == '+' || p[0] == '.') && (isdigit((unsigned char)p[1]) || p[1] == '.'));
}

int scn_expect_parse(const char *text, struct scn_expect *e, char *err, size_t err_bytes)
{
    memset(e, 0, sizeof *e);
    struct lex x = {.s = text, .i = 0, .err = err, .en = err_bytes};
    if (strlen(text) >= sizeof e->text) return fail(&x, 0, "longer than %zu characters", sizeof e->text - 1);
    snprintf(e->text, sizeof e->text, "%s", text);
    if (parse_ref(&x, &e->lhs) < 0) return -1;
    if (parse_op(&x, &e->op) < 0) return -1;
    ws(&x);
    size_t rstart = x.i;
    if (number_start(text + x.i)) {
        char *end;
        e->value = strtod(text + x.i, &end);
        if (!isfinite(e->value)) return fail(&x, rstart, "number out of range");
        x.i = (size_t)(end - text);
        ws(&x);
        if (text[x.i] == '*') {
            x.i++;
            e->rhs_is_ref = true;
            if (parse_ref(&x, &e->rhs) < 0) return -1;
        }
    } else if (text[x.i] == '*' || isalpha((unsigned char)text[x.i])) {
        e->value = 1.0;
        e->rhs_is_ref = true;
        if (parse_ref(&x, &e->rhs) < 0) return -1;
    } else {
        return fail(&x, rstart, "expected a number, variant.metric or N * variant.metric");
    }
    ws(&x);
    if (text[x.i]) return fail(&x, x.i, "unexpected text after the expression");
    /* On the right '*' means "the same variant as on the left", which needs '*' there. */
    if (e->rhs_is_ref && !strcmp(e->rhs.variant, "*") && strcmp(e->lhs.variant, "*"))
        return fail(&x, rstart, "'*' on the right needs '*' on the left (it means the same variant)");
    return 0;
}
