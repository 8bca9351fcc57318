/* test_check.c — `linkbench check` and `linkbench baseline update` on crafted report files: every exit code (99 a line falls short, 1 an invalid report, 2 input errors), and what a failure prints. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "chk.h"
#include "lb_run.h"
#include "lb_cli.h"
#include "lb_tmpdir.h"

static char dir[512];
static char out[1 << 16];

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_check"); }

static void teardown(void) { lb_tmpdir_remove(dir); }

TestSuite(check, .init = setup, .fini = teardown, .timeout = 60);

static const char *path(const char *name) { return lb_path(dir, name); }

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(path(name), "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* linkbench <args> with stdout and stderr in out; returns the exit code. */
#define lb(...) lb_cli(out, sizeof out, __VA_ARGS__)

/* A report as `linkbench run` writes it, reduced to what check reads: two variants,
 * medians (min = max = median), the given expect lines (a JSON array's inside). */
static void report(const char *name, const char *expect, double ev_dropped, double poll_wakeups,
                   double ev_lat_p99, bool valid)
{
    char text[4096];
    snprintf(text, sizeof text,
        "{\"format\": 1, \"scenario\": {\"name\": \"echo\", \"links\": 100},"
        " \"machine\": {\"cpus\": 2, \"model\": \"test\"},"
        " \"config\": {\"duration_s\": 2, \"expect\": [%s]},"
        " \"valid\": %s, \"flags\": {\"valid\": %s, \"reasons\": [%s]},"
        " \"summary\": {"
        "  \"poll\": {\"links\": {\"median\": 100, \"min\": 100, \"max\": 100},"
        "    \"msgs_lost\": {\"median\": 0, \"min\": 0, \"max\": 0},"
        "    \"msgs_dropped\": {\"median\": 40, \"min\": 30, \"max\": 50},"
        "    \"threads_per_link\": {\"median\": 1, \"min\": 1, \"max\": 1},"
        "    \"wakeups_per_link_s\": {\"median\": %g, \"min\": %g, \"max\": %g},"
        "    \"drops_by_reason\": {\"recv_queue_full\": {\"median\": 40, \"min\": 30, \"max\": 50}}},"
        "  \"evloop\": {\"links\": {\"median\": 100, \"min\": 100, \"max\": 100},"
        "    \"msgs_lost\": {\"median\": 0, \"min\": 0, \"max\": 0},"
        "    \"msgs_dropped\": {\"median\": %g, \"min\": %g, \"max\": %g},"
        "    \"threads_per_link\": {\"median\": 0, \"min\": 0, \"max\": 0},"
        "    \"wakeups_per_link_s\": {\"median\": 2, \"min\": 1, \"max\": 3},"
        "    \"lat_rtt_us\": {\"p99\": {\"median\": %g, \"min\": %g, \"max\": %g}},"
        "    \"drops_by_reason\": {}}}}",
        expect, valid ? "true" : "false", valid ? "true" : "false",
        valid ? "" : "\"msgs_lost = 3\"", poll_wakeups, poll_wakeups, poll_wakeups, ev_dropped,
        ev_dropped, ev_dropped, ev_lat_p99, ev_lat_p99, ev_lat_p99);
    write_file(name, text);
}

#define EXPECTS "\"*.msgs_lost == 0\", \"evloop.msgs_dropped == 0\", " \
                "\"poll.wakeups_per_link_s > 100 * evloop.wakeups_per_link_s\""

Test(check, every_line_holds_exit_0)
{
    report("r.json", EXPECTS, 0, 1000, 500, true);
    cr_assert_eq(lb("check '%s'", path("r.json")), 0, "%s", out);
    cr_expect(strstr(out, "4 held, 0 failed"), "%s", out);
}

Test(check, absolute_line_falls_short_exit_99_with_metric_expected_measured)
{
    report("r.json", EXPECTS, 7, 1000, 500, true);
    cr_assert_eq(lb("check '%s'", path("r.json")), 99, "%s", out);
    cr_expect(strstr(out, "FAIL  echo@100: evloop.msgs_dropped == 0: evloop.msgs_dropped "
                          "expected == 0, measured 7"), "%s", out);
}

Test(check, relative_line_between_variants_falls_short_exit_99)
{
    report("r.json", EXPECTS, 0, 150, 500, true);
    cr_assert_eq(lb("check '%s'", path("r.json")), 99, "%s", out);
    cr_expect(strstr(out, "poll.wakeups_per_link_s expected > 200 (100 × "
                          "evloop.wakeups_per_link_s), measured 150"), "%s", out);
}

Test(check, stat_and_drop_reason_and_wildcard_right_side)
{
    report("r.json", "\"poll.wakeups_per_link_s.min >= 1000\", "
           "\"poll.drops_by_reason.recv_queue_full.max == 50\", "
           "\"evloop.drops_by_reason.rate_limited == 0\", \"*.links == *.links\"",
           0, 1000, 500, true);
    cr_assert_eq(lb("check -v '%s'", path("r.json")), 0, "%s", out);
    cr_expect(strstr(out, "5 held, 0 failed"), "%s", out);
}

Test(check, variant_not_run_is_skipped_not_failed)
{
    report("r.json", "\"dual.threads_per_link > 1.5\", \"poll.wakeups_per_link_s > dual.wakeups_per_link_s\"",
           0, 1000, 500, true);
    cr_assert_eq(lb("check '%s'", path("r.json")), 0, "%s", out);
    cr_expect(strstr(out, "0 held, 0 failed, 2 skipped"), "%s", out);
}

Test(check, metric_no_run_reported_fails)
{
    report("r.json", "\"poll.lat_rtt_us.p99 < 1000\"", 0, 1000, 500, true);
    cr_assert_eq(lb("check '%s'", path("r.json")), 99, "%s", out);
    cr_expect(strstr(out, "not measured"), "%s", out);
}

Test(check, invalid_report_exit_1)
{
    report("r.json", "", 0, 1000, 500, false);
    cr_assert_eq(lb("check '%s'", path("r.json")), 1, "%s", out);
    cr_expect(strstr(out, "invalid: msgs_lost = 3"), "%s", out);
}

Test(check, input_errors_exit_2)
{
    cr_expect_eq(lb("check"), 2, "%s", out);
    cr_expect_eq(lb("check --bogus x"), 2, "%s", out);
    cr_expect_eq(lb("check '%s'", path("missing.json")), 2, "%s", out);
    write_file("bad.json", "{\"summary\": ");
    cr_expect_eq(lb("check '%s'", path("bad.json")), 2, "%s", out);
    cr_expect(strstr(out, "invalid JSON"), "%s", out);
    write_file("nosummary.json", "{\"scenario\": {}}");
    cr_expect_eq(lb("check '%s'", path("nosummary.json")), 2, "%s", out);
    report("typo.json", "\"evloop.msgs_dorpped == 0\"", 0, 1000, 500, true);
    cr_expect_eq(lb("check '%s'", path("typo.json")), 2, "%s", out);
    cr_expect(strstr(out, "config.expect[0]"), "%s", out);
    /* an input error anywhere means no verdict at all, even after a good report */
    report("good.json", EXPECTS, 0, 1000, 500, true);
    cr_expect_eq(lb("check '%s' '%s'", path("good.json"), path("typo.json")), 2, "%s", out);
}

Test(check, directory_stands_for_its_reports)
{
    char sub[700];
    snprintf(sub, sizeof sub, "mkdir -p '%s/echo/1/links_10'", dir);
    cr_assert_eq(system(sub), 0);
    report("echo/1/report.json", EXPECTS, 0, 1000, 500, true);
    report("echo/1/links_10/report.json", EXPECTS, 9, 1000, 500, true);
    cr_assert_eq(lb("check '%s'", path("echo")), 99, "%s", out);
    cr_expect(strstr(out, "7 held, 1 failed"), "%s", out);
    cr_expect(strstr(out, "(2 reports)"), "%s", out);
}

Test(check, baseline_update_then_check_holds_then_regression_fails)
{
    report("base.json", "", 0, 1000, 500, true);
    cr_assert_eq(lb("baseline update --baseline '%s' '%s'", path("b.json"), path("base.json")), 0, "%s", out);
    json_error_t je;
    json_t *b = json_load_file(path("b.json"), 0, &je);
    cr_assert_not_null(b, "%s", je.text);
    json_t *ev = json_object_get(json_object_get(json_object_get(json_object_get(b, "entries"),
                                 "echo@100"), "variants"), "evloop");
    cr_expect_eq(json_integer_value(json_object_get(ev, "msgs_dropped")), 0);
    cr_expect_eq(json_number_value(json_object_get(ev, "lat_rtt_us.p99")), 500);
    json_decref(b);
    cr_assert_eq(lb("check --baseline '%s' '%s'", path("b.json"), path("base.json")), 0, "%s", out);

    /* a time within its band (p99 <= 500 * 3 + 1000) holds */
    report("noisy.json", "", 0, 1000, 2400, true);
    cr_expect_eq(lb("check --baseline '%s' '%s'", path("b.json"), path("noisy.json")), 0, "%s", out);
    /* beyond it fails, saying metric, band and measurement */
    report("slow.json", "", 0, 1000, 2600, true);
    cr_expect_eq(lb("check --baseline '%s' '%s'", path("b.json"), path("slow.json")), 99, "%s", out);
    cr_expect(strstr(out, "FAIL  echo@100 baseline: evloop.lat_rtt_us.p99 expected <= 2500 "
                          "(baseline 500 × 3 + 1000), measured 2600"), "%s", out);
    /* a count that was zero must stay zero */
    report("drop.json", "", 1, 1000, 500, true);
    cr_expect_eq(lb("check --baseline '%s' '%s'", path("b.json"), path("drop.json")), 99, "%s", out);
    cr_expect(strstr(out, "evloop.msgs_dropped expected == 0 (exact), measured 1"), "%s", out);
}

Test(check, baseline_input_errors_exit_2)
{
    report("r.json", "", 0, 1000, 500, true);
    cr_expect_eq(lb("check --baseline '%s' '%s'", path("none.json"), path("r.json")), 2, "%s", out);
    write_file("b.json", "{\"entries\": []}");
    cr_expect_eq(lb("check --baseline '%s' '%s'", path("b.json"), path("r.json")), 2, "%s", out);
    write_file("garbage.json", "not json");
    cr_expect_eq(lb("baseline update --baseline '%s' '%s'", path("garbage.json"), path("r.json")), 2,
                 "%s", out);
    cr_expect_eq(lb("baseline"), 2, "%s", out);
    cr_expect_eq(lb("baseline update"), 2, "%s", out);
}

Test(check, baseline_without_entry_skips)
{
    report("r.json", "", 0, 1000, 500, true);
    write_file("b.json", "{\"format\": 1, \"entries\": {\"echo@1000\": {\"variants\": {}}}}");
    cr_expect_eq(lb("check --baseline '%s' '%s'", path("b.json"), path("r.json")), 0, "%s", out);
    cr_expect(strstr(out, "no baseline entry for echo@100"), "%s", out);
}

/* The tolerance table is the one place bands live; each entry must be usable. */
Test(check, tolerance_table_is_sane)
{
    int n = 0;
    for (const struct chk_tol *t = CHK_TOLERANCES; t->metric; t++, n++) {
        cr_expect(t->factor >= 1, "%s: factor %g", t->metric, t->factor);
        cr_expect(t->slack >= 0, "%s: slack %g", t->metric, t->slack);
        char why[256];
        cr_expect(scn_metric_known(t->metric, why, sizeof why), "%s: %s", t->metric, why);
    }
    cr_expect_gt(n, 10);
}

/* baseline update --from-runs: the spread of N runs' medians, and check banding by it. */
Test(check, baseline_from_runs_stores_the_spread_and_check_bands_by_it)
{
    report("r1.json", "", 0, 1000, 500, true);
    report("r2.json", "", 0, 1000, 700, true);
    report("r3.json", "", 0, 1000, 600, true);
    cr_assert_eq(lb("baseline update --from-runs 3 --baseline '%s' '%s' '%s' '%s'", path("b.json"),
                    path("r1.json"), path("r2.json"), path("r3.json")), 0, "%s", out);
    json_error_t je;
    json_t *b = json_load_file(path("b.json"), 0, &je);
    cr_assert_not_null(b, "%s", je.text);
    json_t *e = json_object_get(json_object_get(b, "entries"), "echo@100");
    cr_expect_eq(json_integer_value(json_object_get(e, "runs")), 3);
    json_t *p99 = json_object_get(json_object_get(json_object_get(e, "variants"), "evloop"),
                                  "lat_rtt_us.p99");
    cr_expect_eq(json_number_value(json_object_get(p99, "median")), 600);
    cr_expect_eq(json_number_value(json_object_get(p99, "min")), 500);
    cr_expect_eq(json_number_value(json_object_get(p99, "max")), 700);
    cr_expect_eq(json_integer_value(json_object_get(p99, "runs")), 3);
    json_decref(b);
    /* the band: worst run × (max / min) + slack = 700 × 1.4 + 1000 = 1980 */
    report("ok.json", "", 0, 1000, 1900, true);
    cr_expect_eq(lb("check --baseline '%s' '%s'", path("b.json"), path("ok.json")), 0, "%s", out);
    report("slow.json", "", 0, 1000, 2000, true);
    cr_expect_eq(lb("check --baseline '%s' '%s'", path("b.json"), path("slow.json")), 99, "%s", out);
    cr_expect(strstr(out, "evloop.lat_rtt_us.p99 expected <= 1980 (the 3 baseline runs gave "
                          "500..700: max × 1.4 + 1000), measured 2000"), "%s", out);
    /* a count every run agreed on stays exact */
    report("drop.json", "", 2, 1000, 600, true);
    cr_expect_eq(lb("check --baseline '%s' '%s'", path("b.json"), path("drop.json")), 99, "%s", out);
    cr_expect(strstr(out, "evloop.msgs_dropped expected == 0 (exact: the same in all 3 baseline "
                          "runs), measured 2"), "%s", out);
    /* each scenario@links must come from every run */
    cr_expect_eq(lb("baseline update --from-runs 4 --baseline '%s' '%s' '%s' '%s'", path("b.json"),
                    path("r1.json"), path("r2.json"), path("r3.json")), 2, "%s", out);
    cr_expect(strstr(out, "echo@100: 3 reports, --from-runs 4 wants one from each run"), "%s", out);
    cr_expect_eq(lb("baseline update --from-runs 1 '%s'", path("r1.json")), 2, "%s", out);
}

/* Runs that disagree on a design count (links held where the CPU ran out) make it a
 * band on this machine, not an exact number. */
Test(check, spread_of_a_count_the_runs_disagreed_on_is_a_band)
{
    struct chk_tol t = {.metric = "links", .kind = CHK_EXACT, .dir = CHK_EITHER, .factor = 1};
    json_t *m = json_pack("{s:i,s:i,s:i,s:i}", "median", 1240, "min", 1200, "max", 1250, "runs", 5);
    char exp[300];
    cr_expect_eq(chk_spread_judge(&t, m, 1160, exp, sizeof exp), 1, "%s", exp);
    cr_expect_eq(chk_spread_judge(&t, m, 1140, exp, sizeof exp), 0, "%s", exp);
    cr_expect(strstr(exp, "in [1150, 1300]"), "%s", exp);
    json_object_set_new(m, "min", json_integer(1250));
    json_object_set_new(m, "median", json_integer(1250));
    cr_expect_eq(chk_spread_judge(&t, m, 1249, exp, sizeof exp), 0, "all runs agreed: exact: %s", exp);
    json_object_del(m, "runs");
    cr_expect_eq(chk_spread_judge(&t, m, 1250, exp, sizeof exp), -1);
    json_decref(m);
}

/* The report of the helper above with one run whose driver was saturated. */
static void saturated_report(const char *name, const char *r_json)
{
    report(name, EXPECTS, 0, 1000, 500, true);
    json_error_t je;
    json_t *rep = json_load_file(path(name), 0, &je);
    cr_assert_not_null(rep, "%s", je.text);
    json_object_set_new(rep, "runs", json_loads(r_json, 0, &je));
    json_object_set_new(json_object_get(rep, "flags"), "driver_saturated", json_true());
    cr_assert_eq(json_dump_file(rep, path(name), 0), 0);
    json_decref(rep);
}

#define SAT_RUNS "[{\"variant\": \"poll\", \"rep\": 0, \"metrics\": {}, \"flags\": {\"driver_saturated\": false}}," \
                 " {\"variant\": \"evloop\", \"rep\": 1, \"metrics\": {}," \
                 "  \"flags\": {\"driver_saturated\": true, \"driver_saturated_why\": \"cpu+rx\"}}]"

/* A saturated driver measured itself: check counts such a report as invalid (exit 1),
 * naming the run and why, whatever its expect lines say; --allow-saturated checks it
 * anyway. */
Test(check, saturated_driver_exit_1_unless_allowed)
{
    saturated_report("sat.json", SAT_RUNS);
    cr_assert_eq(lb("check '%s'", path("sat.json")), 1, "%s", out);
    cr_expect(strstr(out, "FAIL  echo@100: the driver was saturated (evloop rep 1 (cpu+rx))"), "%s", out);
    cr_expect(strstr(out, "--allow-saturated"), "%s", out);
    cr_expect(strstr(out, "4 held, 0 failed, 0 skipped, 1 invalid report"), "%s", out);
    cr_assert_eq(lb("check --allow-saturated '%s'", path("sat.json")), 0, "%s", out);
    cr_expect(strstr(out, "4 held, 0 failed, 0 skipped, 0 invalid reports"), "%s", out);
}

/* --skip-saturated: a saturated report's lines are neither held nor failed but one
 * skipped case naming the runs; its validity is still checked; more saturated reports
 * than --max-saturated fail the gate (exit 1); the options are checked. */
Test(check, saturated_driver_skipped_when_told_within_a_cap)
{
    saturated_report("sat.json", SAT_RUNS);
    report("ok.json", EXPECTS, 0, 1000, 500, true);
    cr_assert_eq(lb("check --skip-saturated --junit '%s' '%s' '%s'", path("j.xml"), path("sat.json"),
                    path("ok.json")), 0, "%s", out);
    cr_expect(strstr(out, "skip  echo@100: the driver was saturated (evloop rep 1 (cpu+rx))"), "%s", out);
    cr_expect(strstr(out, "4 held, 0 failed, 1 skipped, 0 invalid reports (2 reports)"), "%s", out);
    char *x = lb_slurp(path("j.xml"));
    cr_assert_not_null(x);
    cr_expect(strstr(x, "<skipped"), "%s", x);
    cr_expect(!strstr(x, "<error"), "%s", x);
    free(x);
    cr_assert_eq(lb("check --skip-saturated --max-saturated 1 '%s' '%s'", path("sat.json"), path("ok.json")),
                 0, "%s", out);
    cr_assert_eq(lb("check --skip-saturated --max-saturated 0 '%s' '%s'", path("sat.json"), path("ok.json")),
                 1, "%s", out);
    cr_expect(strstr(out, "saturated in 1 reports, more than --max-saturated 0"), "%s", out);
    /* an invalid saturated report is still invalid */
    json_error_t je;
    json_t *rep = json_load_file(path("sat.json"), 0, &je);
    cr_assert_not_null(rep, "%s", je.text);
    json_object_set_new(rep, "valid", json_false());
    json_object_set_new(json_object_get(rep, "flags"), "reasons", json_pack("[s]", "12 messages lost"));
    cr_assert_eq(json_dump_file(rep, path("sat.json"), 0), 0);
    json_decref(rep);
    cr_assert_eq(lb("check --skip-saturated '%s'", path("sat.json")), 1, "%s", out);
    cr_expect(strstr(out, "the report is invalid: 12 messages lost"), "%s", out);
    cr_assert_eq(lb("check --skip-saturated --allow-saturated '%s'", path("ok.json")), 2, "%s", out);
    cr_assert_eq(lb("check --max-saturated 3 '%s'", path("ok.json")), 2, "%s", out);
    cr_assert_eq(lb("check --skip-saturated --max-saturated -1 '%s'", path("ok.json")), 2, "%s", out);
}

/* baseline update takes nothing from a saturated report (and writes nothing) unless
 * told --allow-saturated. */
Test(check, baseline_update_refuses_a_saturated_report_unless_allowed)
{
    saturated_report("sat.json", SAT_RUNS);
    cr_assert_eq(lb("baseline update --baseline '%s' '%s'", path("b.json"), path("sat.json")), 1, "%s", out);
    cr_expect(strstr(out, "the driver was saturated (evloop rep 1 (cpu+rx))"), "%s", out);
    cr_expect(strstr(out, "nothing written"), "%s", out);
    cr_expect_neq(access(path("b.json"), F_OK), 0, "the baseline was written anyway");
    cr_assert_eq(lb("baseline update --allow-saturated --baseline '%s' '%s'", path("b.json"),
                    path("sat.json")), 0, "%s", out);
    cr_expect_eq(access(path("b.json"), F_OK), 0);
}

/* A report of one variant that sent `sent`, dropped `dropped`, at `thr` msg/s. */
static void drop_report(const char *name, double sent, double dropped, double thr)
{
    char text[2048];
    snprintf(text, sizeof text,
        "{\"format\": 1, \"scenario\": {\"name\": \"lossy\", \"links\": 10},"
        " \"config\": {\"expect\": []}, \"valid\": true, \"flags\": {\"valid\": true},"
        " \"summary\": {\"poll\": {\"links\": {\"median\": 10, \"min\": 10, \"max\": 10},"
        "  \"msgs_sent\": {\"median\": %g, \"min\": %g, \"max\": %g},"
        "  \"msgs_dropped\": {\"median\": %g, \"min\": %g, \"max\": %g},"
        "  \"throughput_msgs_s\": {\"median\": %g, \"min\": %g, \"max\": %g}}}}",
        sent, sent, sent, dropped, dropped, dropped, thr, thr, thr);
    write_file(name, text);
}

/* A design that dropped 40 of 100 may not reach 4 × 40 + 10 = 170 (more than it sent:
 * a band that could never fail): the band stops at half of what it did not drop. */
Test(check, drop_band_stops_short_of_what_was_sent)
{
    drop_report("base.json", 100, 40, 50);
    cr_assert_eq(lb("baseline update --baseline '%s' '%s'", path("b.json"), path("base.json")), 0, "%s", out);
    drop_report("more.json", 100, 65, 50);
    cr_expect_eq(lb("check --baseline '%s' '%s'", path("b.json"), path("more.json")), 0, "%s", out);
    drop_report("most.json", 100, 75, 50);
    cr_expect_eq(lb("check --baseline '%s' '%s'", path("b.json"), path("most.json")), 99, "%s", out);
    cr_expect(strstr(out, "poll.msgs_dropped expected <= 70 (baseline 40 + half of the 100 msgs_sent "
                          "that it leaves), measured 75"), "%s", out);
}

/* A rate of 0 in the baseline would mean ">= 0": not stored, and skipped when found. */
Test(check, zero_rate_baseline_is_not_a_band)
{
    drop_report("quiet.json", 0, 0, 0);
    cr_assert_eq(lb("baseline update --baseline '%s' '%s'", path("b.json"), path("quiet.json")), 0, "%s", out);
    json_t *b = json_load_file(path("b.json"), 0, NULL);
    json_t *pv = json_object_get(json_object_get(json_object_get(json_object_get(b, "entries"),
                                 "lossy@10"), "variants"), "poll");
    cr_assert_not_null(pv);
    cr_expect_null(json_object_get(pv, "throughput_msgs_s"));
    cr_expect_not_null(json_object_get(pv, "msgs_dropped"));
    json_decref(b);
    write_file("old.json", "{\"format\": 1, \"entries\": {\"lossy@10\": {\"variants\": {\"poll\": "
                           "{\"throughput_msgs_s\": 0}}}}}");
    cr_expect_eq(lb("check --baseline '%s' '%s'", path("old.json"), path("quiet.json")), 0, "%s", out);
    cr_expect(strstr(out, "skip  lossy@10 baseline: poll.throughput_msgs_s: a baseline of 0 cannot fail"),
              "%s", out);
}

/* An expect line may say which bug it is there to catch; a failure prints it. */
Test(check, failing_line_says_what_it_catches)
{
    report("why.json", "{\"line\": \"evloop.msgs_dropped == 0\", \"why\": \"a lossless design that drops\"}",
           3, 1000, 500, true);
    cr_expect_eq(lb("check '%s'", path("why.json")), 99, "%s", out);
    cr_expect(strstr(out, "it is there to catch: a lossless design that drops"), "%s", out);
}
