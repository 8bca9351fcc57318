/* chk_gate.h — the A/B gate: its one metric table (direction, exact or statistical, threshold), samples per repetition from two sides' reports, and the verdict per metric. */
#ifndef LINKBENCH_CHK_GATE_H
#define LINKBENCH_CHK_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* How a metric is judged (docs/reports.md has the table in words). */
enum chk_gate_kind {
    CHK_G_ZERO,    /* a base with 0 in every repetition must stay 0 in every one (exact);
                    * a base that had some is judged like CHK_G_STAT */
    CHK_G_EXACT,   /* the medians must agree within abs: a design sets it */
    CHK_G_STAT,    /* Mann–Whitney U over repetitions: significant and beyond threshold */
};
enum chk_gate_dir {
    CHK_G_LOWER,   /* lower is better */
    CHK_G_HIGHER,  /* higher is better */
    CHK_G_EITHER,  /* any change is a regression */
};
struct chk_gate_metric {
    const char *metric;    /* name in runs[].metrics, dotted for latencies */
    const char *unit;      /* for printing: "µs", "B", "ms", "msg/s", "/s", "" */
    enum chk_gate_kind kind;
    enum chk_gate_dir dir;
    double rel_pct;        /* a change must pass this many percent of the base's median */
    double abs;            /* and this much in the metric's unit */
};
/* The table, terminated by metric NULL. "runs_invalid" is 1 for a repetition the
 * report marks invalid (lost, duplicated, accounting), else 0. */
extern const struct chk_gate_metric CHK_GATE_METRICS[];
#define CHK_GATE_MAX 32   /* at least the table's length */
int chk_gate_n_metrics(void);

/* One side's values of one variant in one scenario@links: one value per measured
 * repetition and metric (a repetition that did not report a metric adds none). */
struct chk_side {
    double *v[CHK_GATE_MAX];
    int n[CHK_GATE_MAX];
    int cap;
    int runs;        /* repetitions seen */
    int failed;      /* repetitions without measurements (the run itself failed) */
    int invalid;     /* repetitions the report marks invalid */
    int saturated;   /* repetitions where the driver was the bottleneck */
    char why[240];   /* the first invalid or failed repetition's reason */
};
/* A variant measured on both sides (or one: then nothing is compared). */
struct chk_pair {
    char key[160];    /* scenario@links */
    char name[200];   /* variant */
    struct chk_side side[2];   /* 0 base (A), 1 candidate (B) */
};
struct chk_set {
    struct chk_pair *p;
    int n, cap;
};

/* The variant name a report key stands for: a path's base name without ".so"
 * ("/x/build/variants/evloop.so" -> "evloop"); plain names unchanged. */
void chk_gate_variant_name(const char *key, char *name, size_t len);

/* Add every repetition of report to side (0 or 1). For side < 0, the side comes from the
 * name: one ending in "@base" (a base module copied by compare) is the base's, with the
 * suffix removed; any other is the candidate's. 0, or -ENOMEM / -EINVAL (no runs array)
 * with err. */
int chk_set_add_report(struct chk_set *s, const json_t *report, int side, char *err,
                       size_t errlen);
void chk_set_deinit(struct chk_set *s);

/* A change worse than the threshold whose p lies in [alpha, CHK_GATE_UNCLEAR_P) is
 * "unclear": more repetitions may settle it (compare adds them). At p >= 0.2 it is
 * within the noise of these repetitions ("~", as benchstat prints any change that is
 * not significant): on a shared VM the p99 of a 1 s run moves by 2x between identical
 * runs, and chasing those to the cap would cost every compare its maximum time. */
#define CHK_GATE_UNCLEAR_P 0.2

enum chk_verdict {
    CHK_V_SAME,        /* no significant change beyond the threshold ("~") */
    CHK_V_BETTER,      /* significant and beyond the threshold, the good way */
    CHK_V_UNCLEAR,     /* worse beyond the threshold, alpha <= p < CHK_GATE_UNCLEAR_P,
                        * or completely separated but too few repetitions for alpha */
    CHK_V_REGRESSION,  /* worse beyond the threshold and significant, or an exact rule broken */
    CHK_V_NODATA,      /* a side has no value */
};
const char *chk_verdict_name(enum chk_verdict v);

struct chk_row {
    const struct chk_pair *pair;
    const struct chk_gate_metric *m;
    double med[2], spread_pct[2], min[2], max[2];
    int n[2];
    double change_pct;   /* (med1 / med0 - 1) * 100; NAN when med0 is 0 */
    double ci_lo, ci_hi; /* 95 % bootstrap interval of med1 / med0, or NAN */
    double p;            /* Mann–Whitney two-sided, or NAN (exact rules) */
    bool p_exact;
    enum chk_verdict v;
    const char *rule;    /* which rule decided, in words ("base none: exact") */
};

/* Judge every metric of every pair that both sides measured, at significance alpha.
 * *rows (free) gets one row per (pair, metric) where a side has a value. Pairs with one
 * side only are left out (*unpaired counts them). 0 or -ENOMEM. */
int chk_gate_eval(const struct chk_set *s, double alpha, struct chk_row **rows, int *n,
                  int *unpaired);

/* The counts of a verdict list. */
struct chk_tally {
    int same, better, unclear, regression, nodata;
};
void chk_gate_tally(const struct chk_row *rows, int n, struct chk_tally *t);

/* ---------------------------------------------------------------- output */

/* Labels for the two sides in the table: "%s@base" and "%s" for compare, "A" and "B"
 * for diff (printf formats taking the variant name, or plain text). */
struct chk_labels {
    const char *fmt[2];
};

/* The table, benchstat style, grouped by scenario@links and variant:
 *   evloop.lat_rtt_us.p99   412 µs ± 6 %  →  530 µs ± 5 %   +29 % (p=0.008 n=7+7)  REGRESSION
 * judged = false prints no verdict words (diff without --fail-on-regression). */
void chk_gate_print(FILE *f, const struct chk_row *rows, int n, const struct chk_labels *lb,
                    bool judged, bool all);

/* One row as the table prints it (without indentation). */
void chk_gate_row_text(char *buf, size_t len, const struct chk_row *r, bool judged);

/* Every row as a JUnit case: suite scenario@links, class linkbench.<tool>.<key>.<variant>,
 * name <variant>.<metric>; a regression is a <failure>, no data a <skipped>. 0 or -ENOMEM. */
struct chk_junit;
int chk_gate_junit(struct chk_junit *j, const char *tool, const struct chk_row *rows, int n);

/* One value with its unit and 3 significant digits ("412 µs", "1.2 ms", "8.0 KiB"). */
void chk_gate_fmt(char *b, size_t len, double x, const char *unit);

/* The rows as the summary JSON's "rows" array (medians, spreads, n, change, interval,
 * p, verdict; no histograms). New reference or NULL. */
json_t *chk_gate_rows_json(const struct chk_row *rows, int n);

#endif
