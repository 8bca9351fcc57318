/* test_diff.c — `linkbench diff` on crafted result sets (the table, judging only when asked, exit codes), and the CI files of check and diff: JUnit XML validated by a schema and a real consumer, summary JSON read back. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "lb_cli.h"
#include "lb_tmpdir.h"

static char dir[512];
static char out[1 << 17];

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_diff"); }
static void teardown(void) { lb_tmpdir_remove(dir); }

TestSuite(diff, .init = setup, .fini = teardown, .timeout = 60);

static const char *path(const char *name) { return lb_path(dir, name); }

/* A report file of 5 repetitions of evloop (and dual, whose figures never change):
 * evloop's round-trip p50 is base_us + 0..4, its drops `dropped` in the last one. */
static void report(const char *name, const char *scenario, double base_us, int dropped,
                   const char *expect)
{
    json_t *runs = json_array();
    for (int i = 0; i < 5; i++)
        for (int v = 0; v < 2; v++) {
            json_t *m = json_pack("{s:i,s:i,s:i,s:f,s:{s:f,s:f}}", "msgs_sent", 1000, "msgs_lost",
                                  0, "msgs_dropped", v == 0 && i == 4 ? dropped : 0,
                                  "threads_per_link", v == 0 ? 0.0 : 2.0, "lat_rtt_us", "p50",
                                  v == 0 ? base_us + i : 500.0, "p99", v == 0 ? 900.0 : 5000.0);
            json_array_append_new(runs, json_pack("{s:s,s:i,s:o,s:{s:[],s:b}}", "variant",
                                                  v ? "dual" : "evloop", "rep", i, "metrics", m,
                                                  "flags", "invalid_reasons", "driver_saturated", 0));
        }
    json_error_t je;
    json_t *ex = json_loads(expect ? expect : "[]", 0, &je);
    cr_assert_not_null(ex, "%s", je.text);
    /* the summary check reads: medians (crafted: evloop's drops median is `dropped`) */
    json_t *sum = json_pack("{s:{s:{s:i},s:{s:i},s:{s:i}},s:{s:{s:i},s:{s:i},s:{s:i}}}",
                            "evloop", "msgs_lost", "median", 0, "msgs_dropped", "median", dropped,
                            "threads_per_link", "median", 0,
                            "dual", "msgs_lost", "median", 0, "msgs_dropped", "median", 0,
                            "threads_per_link", "median", 2);
    json_t *r = json_pack("{s:i,s:{s:s,s:i},s:{s:i,s:s,s:s},s:{s:o},s:b,s:{s:b,s:[]},s:o,s:o}",
                          "format", 1, "scenario", "name", scenario, "links", 20, "machine",
                          "cpus", 2, "model", "test", "kernel", "6", "config", "expect", ex,
                          "valid", 1, "flags", "valid", 1, "reasons", "runs", runs, "summary", sum);
    cr_assert_not_null(r);
    cr_assert_eq(json_dump_file(r, path(name), 0), 0);
    json_decref(r);
}

static json_t *load(const char *name)
{
    json_error_t je;
    json_t *j = json_load_file(path(name), 0, &je);
    cr_assert_not_null(j, "%s: %s", name, je.text);
    return j;
}

Test(diff, prints_the_table_and_judges_nothing_unless_asked)
{
    report("a.json", "echo", 100, 0, NULL);
    report("b.json", "echo", 300, 0, NULL);
    cr_assert_eq(lb_cli(out, sizeof out, "diff '%s' '%s'", path("a.json"), path("b.json")), 0,
                 "%s", out);
    cr_expect(strstr(out, "echo@20: evloop (A) → evloop (B)  (5 + 5 repetitions)"), "%s", out);
    cr_expect(strstr(out, "evloop.lat_rtt_us.p50"), "%s", out);
    cr_expect(strstr(out, "102 µs ± 2 %  →  302 µs ± 1 %"), "%s", out);
    cr_expect(strstr(out, "+196 % (p=0.008 n=5+5)"), "%s", out);
    cr_expect(!strstr(out, "REGRESSION"), "no verdict without --fail-on-regression: %s", out);
    cr_expect(strstr(out, "dual.threads_per_link"), "%s", out);
}

Test(diff, fail_on_regression_exits_99_and_writes_its_files)
{
    report("a.json", "echo", 100, 0, NULL);
    report("b.json", "echo", 300, 0, NULL);
    cr_assert_eq(lb_cli(out, sizeof out, "diff --fail-on-regression --summary-export '%s' "
                        "--junit '%s' '%s' '%s'", path("s.json"), path("j.xml"), path("a.json"),
                        path("b.json")), 99, "%s", out);
    cr_expect(strstr(out, "evloop.lat_rtt_us.p50"), "%s", out);
    cr_expect(strstr(out, "REGRESSION"), "%s", out);
    cr_expect(strstr(out, "1 regression,"), "%s", out);
    json_t *s = load("s.json");
    cr_expect_str_eq(json_string_value(json_object_get(s, "verdict")), "regression");
    cr_expect_eq(json_integer_value(json_object_get(s, "exit_code")), 99);
    size_t i;
    json_t *row;
    int found = 0;
    json_array_foreach(json_object_get(s, "rows"), i, row) {
        cr_expect_null(json_object_get(row, "histograms"));
        if (!strcmp(json_string_value(json_object_get(row, "metric")), "lat_rtt_us.p50") &&
            !strcmp(json_string_value(json_object_get(row, "variant")), "evloop")) {
            found++;
            cr_expect_str_eq(json_string_value(json_object_get(row, "verdict")), "regression");
            cr_expect_eq(json_integer_value(json_object_get(json_object_get(row, "base"), "n")), 5);
            cr_expect(json_real_value(json_object_get(row, "p")) < 0.01);
        }
    }
    cr_expect_eq(found, 1);
    json_decref(s);
    cr_expect_eq(lb_junit_check(path("j.xml"), "--failures 1 --errors 0 "
                                "--case evloop.lat_rtt_us.p50=failure --case evloop.msgs_lost=pass"), 0);
}

Test(diff, exact_rule_drops_where_the_base_had_none)
{
    report("a.json", "echo", 100, 0, NULL);
    report("b.json", "echo", 100, 3, NULL);
    cr_assert_eq(lb_cli(out, sizeof out, "diff --fail-on-regression --changes-only '%s' '%s'",
                        path("a.json"), path("b.json")), 99, "%s", out);
    cr_expect(strstr(out, "evloop.msgs_dropped"), "%s", out);
    cr_expect(strstr(out, "(exact n=5+5)"), "%s", out);
    cr_expect(!strstr(out, "evloop.lat_rtt_us.p50"), "--changes-only: %s", out);
}

Test(diff, directories_match_reports_by_scenario_and_links)
{
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/A/x' '%s/B/y/z'", dir, dir);
    cr_assert_eq(system(cmd), 0);
    report("A/x/report.json", "echo", 100, 0, NULL);
    report("B/y/z/report.json", "echo", 100, 0, NULL);
    report("B/y/report.json", "churn", 100, 0, NULL);   /* only in B: not compared */
    cr_assert_eq(lb_cli(out, sizeof out, "diff --fail-on-regression '%s' '%s'", path("A"),
                        path("B")), 0, "%s", out);
    cr_expect(strstr(out, "echo@20: evloop (A)"), "%s", out);
    cr_expect(!strstr(out, "churn@20:"), "%s", out);
}

Test(diff, usage_and_input_errors_exit_2)
{
    report("a.json", "echo", 100, 0, NULL);
    report("c.json", "churn", 100, 0, NULL);
    cr_expect_eq(lb_cli(out, sizeof out, "diff '%s'", path("a.json")), 2, "%s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "diff '%s' '%s'", path("a.json"), path("none.json")), 2,
                 "%s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "diff '%s' '%s'", path("a.json"), path("c.json")), 2,
                 "%s", out);
    cr_expect(strstr(out, "nothing in common") || strstr(out, "no scenario@links"), "%s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "diff --alpha 2 '%s' '%s'", path("a.json"),
                        path("a.json")), 2, "%s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "diff --junit x.xml '%s' '%s'", path("a.json"),
                        path("a.json")), 2, "%s", out);
}

/* check's JUnit: one case per line (named by the line, not its numbers), a failure for
 * the line that fell short, XML special characters in names escaped. */
Test(diff, check_junit_and_summary_validate)
{
    report("r.json", "a&b<\"c\">", 100, 7, "[\"*.msgs_lost == 0\", \"evloop.msgs_dropped == 0\", "
           "\"dual.threads_per_link > 1.5\", \"poll.threads_per_link > 0.5\"]");
    cr_assert_eq(lb_cli(out, sizeof out, "check --junit '%s' --summary-export '%s' '%s'",
                        path("j.xml"), path("s.json"), path("r.json")), 99, "%s", out);
    cr_expect_eq(lb_junit_check(path("j.xml"), "--tests 5 --failures 1 --skipped 1 --errors 0 "
                                "--case 'evloop.msgs_dropped == 0=failure' "
                                "--case 'dual.threads_per_link > 1.5=pass' "
                                "--case 'poll.threads_per_link > 0.5=skipped'"), 0);
    FILE *f = fopen(path("j.xml"), "r");
    cr_assert_not_null(f);
    char xml[8192];
    size_t n = fread(xml, 1, sizeof xml - 1, f);
    xml[n] = 0;
    fclose(f);
    cr_expect(strstr(xml, "name=\"a&amp;b&lt;&quot;c&quot;&gt;@20\""), "%s", xml);
    json_t *s = load("s.json");
    cr_expect_str_eq(json_string_value(json_object_get(s, "verdict")), "fail");
    cr_expect_eq(json_integer_value(json_object_get(s, "exit_code")), 99);
    json_t *c = json_object_get(s, "counts");
    cr_expect_eq(json_integer_value(json_object_get(c, "held")), 3);
    cr_expect_eq(json_integer_value(json_object_get(c, "failed")), 1);
    cr_expect_eq(json_integer_value(json_object_get(c, "skipped")), 1);
    cr_expect_eq(json_array_size(json_object_get(s, "results")), 5);
    json_decref(s);
    /* all holding: exit 0, no failure in the file */
    report("ok.json", "echo", 100, 0, "[\"*.msgs_lost == 0\"]");
    cr_assert_eq(lb_cli(out, sizeof out, "check --junit '%s' '%s'", path("ok.json.xml"),
                        path("ok.json")), 0, "%s", out);
    cr_expect_eq(lb_junit_check(path("ok.json.xml"), "--tests 2 --failures 0"), 0);
}
