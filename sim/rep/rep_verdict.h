/* rep_verdict.h — the seed's claims (its 性能对比总结 table and 推荐使用), each with the rules that test it on report.json data, and the verdict page computed from them. */
#ifndef LINKBENCH_REP_VERDICT_H
#define LINKBENCH_REP_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#define RV_LINES_MAX 6
#define RV_TESTS_MAX 5

/* One measurement of a claim: a condition (what the scenario does), the report it reads
 * (a scenario's name, "@<links>" for a step or a size: "scale@10000"), and the rules that
 * must all hold. A rule is one of:
 *   REF OP NUMBER | REF OP REF | REF OP NUMBER * REF     (an expect line's grammar;
 *       REF = VARIANT.METRIC[.KEY], any summary metric: "hybrid.kept_up",
 *       "poll.lat_out_censored_us.p99", "pair.drops_by_reason.broken_by_deadline")
 *   rank VARIANT K METRIC[.KEY] V1,V2,...
 *       VARIANT is K-th lowest of the list by the metric; values within 10 % of each
 *       other tie, so K may be any rank a tie allows
 * show: more refs whose values the page prints beside the rule's (context, not judged). */
struct rv_test {
    const char *when;
    const char *scenario;
    const char *lines[RV_LINES_MAX];
    const char *show[RV_LINES_MAX];
};

/* A claim of the seed: its words and translation, where it stands (the table's column
 * and row, or the recommendation it belongs to), and either tests or why none exists. */
struct rv_claim {
    const char *section;      /* heading it is listed under */
    const char *zh;           /* the seed's words */
    const char *en;           /* translation */
    const char *unmeasurable; /* NULL, or why it is not measurable here and what would measure it */
    const char *proxy;        /* "loc:<design>": lines of the design's code shown as a proxy */
    struct rv_test tests[RV_TESTS_MAX];
};

/* The claims, in the seed's order; the last has section NULL. */
extern const struct rv_claim RV_CLAIMS[];

/* ---------------------------------------------------------------- evaluation */

enum rv_outcome { RV_HOLDS, RV_FAILS, RV_MISSING };

/* The report of a test: the newest (by path) among reps whose scenario name and link
 * count match "name[@links]". -1 when none. */
int rv_find_report(json_t *const *reps, char *const *paths, int n, const char *scenario);

/* Evaluate one rule on a report; its values, as "variant metric = value" text, appended
 * to vals. RV_MISSING when a variant or metric is absent (why in vals), or the rule does
 * not parse (rv_rule_parses says so). */
enum rv_outcome rv_eval_rule(const json_t *report, const char *rule, char *vals, size_t len);
/* Whether a rule is well formed; why not in err. */
bool rv_rule_parses(const char *rule, char *err, size_t len);
/* The variants a rule (or a show ref, "VARIANT.METRIC") names, into names[0..max-1].
 * Returns how many (0 when it does not parse). */
int rv_rule_variants(const char *rule, char names[][64], int max);

/* What `linkbench verdicts` needs. */
struct rv_opts {
    const char *out_path;     /* the page; links to reports are relative to its directory */
    const char *source_dir;   /* the source tree, for the lines-of-code proxy; NULL: none */
    const char *const *dirs;  /* the results directories given */
    int n_dirs;
    const char *publish_dir;  /* NULL, or copy what the page reads there first (rv_publish) */
};

/* Publish reps[i] for every used[i] under pub (replaced whole: a fresh pub.new, then
 * renamed): pub/<scenario>[/links_<N>]/ with report.md, the PNG charts and report.json
 * without its runs ("published" says so). paths[i] of each becomes the published
 * report.json (malloc'd, the old one freed). 0 or a negative errno with err. */
int rv_publish(json_t *const *reps, char **paths, int n, const bool *used, const char *pub,
               char *err, size_t errlen);

/* The verdict page (markdown) for the reports found under the given directories: every
 * claim, one row each, with the seed's words, the measured figures, the rules and the
 * computed verdict; a section on the seed's scale (links held at each size, what stopped
 * each design). Writes to f. 0, or -1 with err (no report found, one did not load). */
int rv_page_write(FILE *f, const struct rv_opts *o, char *err, size_t errlen);

#endif
