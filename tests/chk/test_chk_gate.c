/* test_chk_gate.c — the A/B gate's rules on crafted repetitions: exact counts, zero stays zero, threshold and significance together, unclear, sides by name, the table's sanity. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "chk_gate.h"
#include "scn.h"

TestSuite(chk_gate);

/* A report of n repetitions of variant: metric values per repetition from the arrays
 * (NULL: left out), everything else fixed. */
struct reps {
    int n;
    const double *rtt_p50, *dropped, *tpl, *links;
    bool invalid_first;
};

static json_t *report(const char *variant, const struct reps *r)
{
    json_t *runs = json_array();
    for (int i = 0; i < r->n; i++) {
        json_t *m = json_pack("{s:i,s:i,s:{s:f,s:f}}", "msgs_sent", 1000, "msgs_lost", 0,
                              "lat_rtt_us", "p50", r->rtt_p50 ? r->rtt_p50[i] : 100.0, "p99", 900.0);
        if (r->dropped)
            json_object_set_new(m, "msgs_dropped", json_real(r->dropped[i]));
        if (r->tpl)
            json_object_set_new(m, "threads_per_link", json_real(r->tpl[i]));
        if (r->links)
            json_object_set_new(m, "links", json_real(r->links[i]));
        json_t *why = json_array();
        if (r->invalid_first && i == 0)
            json_array_append_new(why, json_string("msgs_lost = 1"));
        json_array_append_new(runs, json_pack("{s:s,s:i,s:o,s:{s:o,s:b}}", "variant", variant,
                                              "rep", i, "metrics", m, "flags", "invalid_reasons",
                                              why, "driver_saturated", 0));
    }
    return json_pack("{s:{s:s,s:i},s:o,s:{}}", "scenario", "name", "echo", "links", 20, "runs",
                     runs, "summary");
}

/* Evaluate base vs candidate and return the row of metric (fails when absent). */
static struct chk_row row_of(struct chk_set *s, const char *metric, struct chk_row **all, int *n)
{
    cr_assert_eq(chk_gate_eval(s, 0.01, all, n, NULL), 0);
    for (int i = 0; i < *n; i++)
        if (!strcmp((*all)[i].m->metric, metric))
            return (*all)[i];
    cr_assert_fail("no row for %s", metric);
    return (struct chk_row){0};
}

static struct chk_row judge(const struct reps *b, const struct reps *c, const char *metric)
{
    struct chk_set s = {0};
    char err[256];
    json_t *rb = report("evloop", b), *rc = report("evloop", c);
    cr_assert_eq(chk_set_add_report(&s, rb, 0, err, sizeof err), 0, "%s", err);
    cr_assert_eq(chk_set_add_report(&s, rc, 1, err, sizeof err), 0, "%s", err);
    struct chk_row *rows, r;
    int n;
    r = row_of(&s, metric, &rows, &n);
    r.pair = NULL;   /* points into s, freed below */
    free(rows);
    chk_set_deinit(&s);
    json_decref(rb);
    json_decref(rc);
    return r;
}

static const double lat_base[] = {100, 104, 98, 102, 101, 99, 103};

Test(chk_gate, separated_and_beyond_threshold_is_a_regression_with_exact_p)
{
    static const double slow[] = {300, 310, 305, 298, 302, 307, 299};
    struct reps b = {.n = 5, .rtt_p50 = lat_base}, c = {.n = 5, .rtt_p50 = slow};
    struct chk_row r = judge(&b, &c, "lat_rtt_us.p50");
    cr_expect_eq(r.v, CHK_V_REGRESSION, "%s", chk_verdict_name(r.v));
    cr_expect_float_eq(r.p, 2.0 / 252, 1e-12);   /* complete separation, 5 + 5 */
    cr_expect(r.p_exact);
    cr_expect_float_eq(r.change_pct, (302.0 / 101 - 1) * 100, 1e-9);
    cr_expect(r.ci_lo > 2.5 && r.ci_hi < 3.5, "[%g, %g]", r.ci_lo, r.ci_hi);
    /* the other way round it is an improvement */
    r = judge(&c, &b, "lat_rtt_us.p50");
    cr_expect_eq(r.v, CHK_V_BETTER, "%s", chk_verdict_name(r.v));
}

Test(chk_gate, significant_but_within_threshold_is_unchanged)
{
    /* +10 µs (+9.9 %): separated, significant, but under 10 % and 20 µs */
    static const double a_bit[] = {110, 112, 109, 111, 113};
    struct reps b = {.n = 5, .rtt_p50 = lat_base}, c = {.n = 5, .rtt_p50 = a_bit};
    struct chk_row r = judge(&b, &c, "lat_rtt_us.p50");
    cr_expect_lt(r.p, 0.01);
    cr_expect_eq(r.v, CHK_V_SAME, "%s", chk_verdict_name(r.v));
}

Test(chk_gate, beyond_threshold_but_not_significant_is_unclear_or_noise)
{
    /* medians 101 -> 150, overlapping: U = 5 of 25, p = 0.151 (scipy): unclear */
    static const double over[] = {150, 160, 155, 103, 99};
    struct reps b = {.n = 5, .rtt_p50 = lat_base}, c = {.n = 5, .rtt_p50 = over};
    struct chk_row r = judge(&b, &c, "lat_rtt_us.p50");
    cr_expect(r.p >= 0.01 && r.p < CHK_GATE_UNCLEAR_P, "p = %g", r.p);
    cr_expect_eq(r.v, CHK_V_UNCLEAR, "%s", chk_verdict_name(r.v));
    /* mostly interleaved: p >= 0.2 is noise, whatever the medians say */
    static const double noise[] = {150, 99, 200, 97, 98, 250, 96};
    c = (struct reps){.n = 7, .rtt_p50 = noise};
    b.n = 7;
    r = judge(&b, &c, "lat_rtt_us.p50");
    cr_expect_geq(r.p, CHK_GATE_UNCLEAR_P, "p = %g", r.p);
    cr_expect_eq(r.v, CHK_V_SAME, "%s", chk_verdict_name(r.v));
}

Test(chk_gate, zero_stays_zero_is_exact_however_few_repetitions)
{
    static const double none[] = {0, 0, 0}, one[] = {0, 1, 0}, some[] = {40, 45, 50},
                        more[] = {42, 48, 44};
    struct reps b = {.n = 3, .dropped = none}, c = {.n = 3, .dropped = one};
    struct chk_row r = judge(&b, &c, "msgs_dropped");
    cr_expect_eq(r.v, CHK_V_REGRESSION, "%s", chk_verdict_name(r.v));
    cr_expect(isnan(r.p), "an exact rule has no p-value");
    /* a base that dropped: judged like a statistic (here within 25 % and 10 messages) */
    b.dropped = some;
    c.dropped = more;
    r = judge(&b, &c, "msgs_dropped");
    cr_expect_eq(r.v, CHK_V_SAME, "%s", chk_verdict_name(r.v));
    cr_expect(!isnan(r.p));
}

Test(chk_gate, a_run_marked_invalid_is_a_regression_when_the_base_had_none)
{
    struct reps b = {.n = 3}, c = {.n = 3, .invalid_first = true};
    struct chk_row r = judge(&b, &c, "runs_invalid");
    cr_expect_eq(r.v, CHK_V_REGRESSION, "%s", chk_verdict_name(r.v));
}

Test(chk_gate, threads_per_link_is_exact_in_the_bad_direction)
{
    static const double one[] = {1, 1, 1}, two[] = {2, 2, 2}, almost[] = {1.02, 1.03, 1.01};
    struct reps b = {.n = 3, .tpl = one}, c = {.n = 3, .tpl = two};
    cr_expect_eq(judge(&b, &c, "threads_per_link").v, CHK_V_REGRESSION);
    cr_expect_eq(judge(&c, &b, "threads_per_link").v, CHK_V_BETTER);
    c.tpl = almost;   /* within 0.05: a helper thread, not a design change */
    cr_expect_eq(judge(&b, &c, "threads_per_link").v, CHK_V_SAME);
}

Test(chk_gate, links_held_are_judged_statistically_not_exactly)
{
    /* links under a CPU limit move from run to run: one short repetition is no regression */
    static const double held[] = {1000, 1000, 1000, 1000, 1000}, one_short[] = {1000, 990, 1000, 1000, 1000};
    struct reps b = {.n = 5, .links = held}, c = {.n = 5, .links = one_short};
    struct chk_row r = judge(&b, &c, "links");
    cr_expect_eq(r.v, CHK_V_SAME, "%s", chk_verdict_name(r.v));
    cr_expect(!isnan(r.p));
}

Test(chk_gate, side_comes_from_the_base_suffix_and_paths_name_variants)
{
    struct reps r = {.n = 2};
    json_t *a = report("/tmp/x/base-variants/evloop@base.so", &r);
    json_t *b = report("/opt/build/variants/evloop.so", &r);
    json_t *c = report("dual", &r);
    struct chk_set s = {0};
    char err[256];
    cr_assert_eq(chk_set_add_report(&s, a, -1, err, sizeof err), 0);
    cr_assert_eq(chk_set_add_report(&s, b, -1, err, sizeof err), 0);
    cr_assert_eq(chk_set_add_report(&s, c, -1, err, sizeof err), 0);
    cr_assert_eq(s.n, 2);
    cr_expect_str_eq(s.p[0].name, "evloop");
    cr_expect_str_eq(s.p[0].key, "echo@20");
    cr_expect_eq(s.p[0].side[0].runs, 2);
    cr_expect_eq(s.p[0].side[1].runs, 2);
    cr_expect_str_eq(s.p[1].name, "dual");
    cr_expect_eq(s.p[1].side[0].runs, 0);
    struct chk_row *rows;
    int n, lone;
    cr_assert_eq(chk_gate_eval(&s, 0.01, &rows, &n, &lone), 0);
    cr_expect_eq(lone, 1, "dual was measured on one side only");
    for (int i = 0; i < n; i++)
        cr_expect_str_eq(rows[i].pair->name, "evloop");
    free(rows);
    chk_set_deinit(&s);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

/* The one table: every metric known to the report contract, thresholds usable. */
Test(chk_gate, metric_table_is_sane)
{
    int n = chk_gate_n_metrics();
    cr_assert_gt(n, 15);
    cr_assert_leq(n, CHK_GATE_MAX);
    for (int i = 0; i < n; i++) {
        const struct chk_gate_metric *m = &CHK_GATE_METRICS[i];
        cr_expect(m->rel_pct >= 0 && m->abs >= 0, "%s", m->metric);
        cr_expect(m->kind != CHK_G_STAT || m->rel_pct > 0, "%s: a statistical metric needs a "
                  "relative threshold", m->metric);
        char why[256];
        if (strcmp(m->metric, "runs_invalid"))
            cr_expect(scn_metric_known(m->metric, why, sizeof why), "%s: %s", m->metric, why);
    }
}

Test(chk_gate, values_print_with_units)
{
    char b[64];
    chk_gate_fmt(b, sizeof b, 412.3, "µs");
    cr_expect_str_eq(b, "412 µs");
    chk_gate_fmt(b, sizeof b, 1530, "µs");
    cr_expect_str_eq(b, "1.53 ms");
    chk_gate_fmt(b, sizeof b, 143360, "B");
    cr_expect_str_eq(b, "140 KiB");
    chk_gate_fmt(b, sizeof b, 42400, "msg/s");
    cr_expect_str_eq(b, "42.4 k msg/s");
    chk_gate_fmt(b, sizeof b, 0.997, "");
    cr_expect_str_eq(b, "0.997");
    chk_gate_fmt(b, sizeof b, NAN, "µs");
    cr_expect_str_eq(b, "-");
}

/* 2 + 2 repetitions cannot reach p < 0.2 (the smallest p is 1/3): a complete separation
 * beyond the threshold is "unclear" (more repetitions may decide), not noise. */
Test(chk_gate, separated_but_too_few_repetitions_is_unclear)
{
    static const double slow[] = {300, 310};
    struct reps b = {.n = 2, .rtt_p50 = lat_base}, c = {.n = 2, .rtt_p50 = slow};
    struct chk_row r = judge(&b, &c, "lat_rtt_us.p50");
    cr_expect_float_eq(r.p, 1.0 / 3, 1e-12);
    cr_expect_eq(r.v, CHK_V_UNCLEAR, "%s", chk_verdict_name(r.v));
}
