/* cmd_compare_out.c — what `linkbench compare` says besides the table: which sides and mode, what failed, and for a CI the compact JSON summary and the JUnit XML. */
#include <stdio.h>

#include <jansson.h>

#include "chk_junit.h"
#include "cmp.h"

void cmp_print_sides(FILE *f, bool harness, const struct cmp_base *b, const char *self)
{
    if (harness)
        fprintf(f, "compare: mode harness: whole runs of the base's linkbench (%s) and this one "
                "(%s) alternate, one repetition each\n", b->exe, self);
    else
        fprintf(f, "compare: mode variants: the base's modules (<name>@base) and this build's "
                "alternate repetition by repetition inside each linkbench run\n");
    if (b->sha[0])
        fprintf(f, "compare: base = %s (%.12s), built in %s; candidate = this build (%s)\n",
                b->ref, b->sha, b->build, self);
    else
        fprintf(f, "compare: base = %s; candidate = this build (%s)\n",
                b->build[0] ? b->build : "the --base-variant modules", self);
}

int cmp_print_pair_notes(FILE *f, const struct chk_set *set)
{
    int failed = 0;
    for (int i = 0; i < set->n; i++) {
        const struct chk_pair *q = &set->p[i];
        for (int sd = 0; sd < 2; sd++) {
            const struct chk_side *x = &q->side[sd];
            const char *side = sd ? "candidate" : "base";
            if (x->failed)
                fprintf(f, "compare: %s %s (%s): %d of %d repetitions failed: %s\n", q->key,
                        q->name, side, x->failed, x->runs, x->why);
            else if (x->invalid)
                fprintf(f, "compare: %s %s (%s): %d of %d repetitions invalid: %s\n", q->key,
                        q->name, side, x->invalid, x->runs, x->why);
            failed += x->failed > 0;
        }
        if (!q->side[0].runs || !q->side[1].runs)
            fprintf(f, "compare: %s %s: measured on the %s only\n", q->key, q->name,
                    q->side[0].runs ? "base" : "candidate");
    }
    return failed;
}

static json_t *side_json(const struct chk_side *s)
{
    return json_pack("{s:i,s:i,s:i,s:i,s:s?}", "runs", s->runs, "failed", s->failed, "invalid",
                     s->invalid, "driver_saturated", s->saturated, "why", s->why[0] ? s->why : NULL);
}

int cmp_write_summary(const struct cmp_result *r, const char *path, char *err, size_t errlen)
{
    json_t *pairs = json_array();
    for (int i = 0; pairs && r->set && i < r->set->n; i++) {
        const struct chk_pair *p = &r->set->p[i];
        json_array_append_new(pairs, json_pack("{s:s,s:s,s:o,s:o}", "key", p->key, "variant",
                                               p->name, "base", side_json(&p->side[0]),
                                               "candidate", side_json(&p->side[1])));
    }
    const struct cmp_base *b = r->base;
    json_t *s = json_pack(
        "{s:i,s:s,s:s,s:{s:s?,s:s?,s:s?,s:b},s:{s:s},s:s,s:f,s:{s:i,s:i},s:s,s:i,s:f,"
        "s:{s:i,s:i,s:i,s:i,s:i},s:o,s:o}",
        "format", 1, "tool", "linkbench compare", "mode", r->harness ? "harness" : "variants",
        "base", "ref", b->ref[0] ? b->ref : NULL, "commit", b->sha[0] ? b->sha : NULL, "build",
        b->build[0] ? b->build : NULL, "reused_build", b->reused,
        "candidate", "linkbench", r->self, "runs_dir", r->dir, "alpha", r->alpha,
        "repetitions", "per_side", r->per_side, "rounds", r->rounds,
        "verdict", r->verdict, "exit_code", r->exit_code, "seconds", r->seconds,
        "counts", "regressions", r->t.regression, "improvements", r->t.better, "unclear",
        r->t.unclear, "unchanged", r->t.same, "no_data", r->t.nodata,
        "pairs", pairs, "rows", chk_gate_rows_json(r->rows, r->rows ? r->n : 0));
    if (!s) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    int rc = chk_json_write(s, path, err, errlen);
    json_decref(s);
    return rc;
}

int cmp_write_junit(const struct cmp_result *r, const char *path, char *err, size_t errlen)
{
    chk_junit *j = chk_junit_create("linkbench compare");
    int rc = j ? 0 : -1;
    for (int i = 0; rc == 0 && r->set && i < r->set->n; i++) {
        const struct chk_pair *p = &r->set->p[i];
        for (int sd = 0; sd < 2 && rc == 0; sd++) {
            const struct chk_side *x = &p->side[sd];
            if (!x->failed)
                continue;
            char cls[400], name[300], msg[600];
            snprintf(cls, sizeof cls, "linkbench.compare.%s.%s", p->key, p->name);
            snprintf(name, sizeof name, "%s.runs@%s", p->name, sd ? "candidate" : "base");
            snprintf(msg, sizeof msg, "%d of %d repetitions failed: %s", x->failed, x->runs, x->why);
            rc = chk_junit_add(j, p->key, cls, name, CHK_CASE_ERROR, msg, NULL);
        }
    }
    if (rc == 0 && r->rows)
        rc = chk_gate_junit(j, "compare", r->rows, r->n);
    if (rc == 0 && r->exit_code == 1 && (!r->rows || r->n == 0))
        rc = chk_junit_add(j, "compare", "linkbench.compare", "run", CHK_CASE_ERROR,
                           "the run itself failed: no measurements to judge", r->dir);
    if (rc < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        chk_junit_destroy(j);
        return -1;
    }
    chk_junit_set_time(j, r->seconds);
    rc = chk_junit_write(j, path, err, errlen);
    chk_junit_destroy(j);
    return rc;
}
