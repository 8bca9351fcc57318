/* test_compare.c — `linkbench compare` end to end: the planted regression (sleepy.so with 200 µs per send against the same without) must be flagged with exit 99 and valid CI files; the harness mode's mechanics; every usage error exits 2. */
#include <criterion/criterion.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lb_cli.h"
#include "lb_tmpdir.h"

static char dir[512];
static char out[1 << 18];

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_compare"); }
static void teardown(void) { lb_tmpdir_remove(dir); }

TestSuite(compare, .init = setup, .fini = teardown, .timeout = 900);

static const char *env(const char *name)
{
    const char *v = getenv(name);
    cr_assert_not_null(v, "%s is not set (run through ctest)", name);
    return v;
}

/* workloads/echo.json of the source tree */
static const char *echo_json(void)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/workloads/echo.json", env("LINKBENCH_SOURCE_DIR"));
    return p;
}

/* Small and short: 20 links for 1 s per repetition (the mechanics). */
#define SMALL "--duration 1 --links 20"
/* The planted regression at the echo scenario's 100 links (5 000 messages a second):
 * 200 µs per send is a second of sleep per second on the app's two consumer threads,
 * so the candidate's messages also queue behind it, and a few repetitions where the
 * shared machine stalls both sides cannot hide it. */
#define PLANTED "--duration 1 --repeat 5 --max-repeat 15"

Test(compare, planted_regression_is_flagged_exit_99)
{
    const char *plug = env("LINKBENCH_TEST_PLUGINS");
    char junit[700], summary[700];
    snprintf(junit, sizeof junit, "%s/compare.xml", dir);
    snprintf(summary, sizeof summary, "%s/compare.json", dir);
    int rc = lb_cli(out, sizeof out, "compare --base-variant '%s/fast/sleepy.so' --variant "
                    "'%s/slow/sleepy.so' " PLANTED " --out '%s/runs' "
                    "--junit '%s' --summary-export '%s' '%s'", plug, plug, dir, junit, summary,
                    echo_json());
    cr_assert_eq(rc, 99, "%s", out);
    cr_expect(strstr(out, "compare: mode variants"), "%s", out);
    cr_expect(strstr(out, "echo@100: sleepy@base → sleepy"), "%s", out);
    cr_expect(strstr(out, "REGRESSION (exit 99)"), "%s", out);

    json_error_t je;
    json_t *s = json_load_file(summary, 0, &je);
    cr_assert_not_null(s, "%s", je.text);
    cr_expect_str_eq(json_string_value(json_object_get(s, "verdict")), "regression");
    cr_expect_str_eq(json_string_value(json_object_get(s, "mode")), "variants");
    cr_expect_eq(json_integer_value(json_object_get(s, "exit_code")), 99);
    int per_side = (int)json_integer_value(json_object_get(json_object_get(s, "repetitions"), "per_side"));
    cr_expect(per_side >= 5 && per_side <= 15, "%d", per_side);
    /* the sleep is on the app's send path: app -> client latency is what it must move */
    size_t i;
    json_t *row;
    bool out_flagged = false;
    json_array_foreach(json_object_get(s, "rows"), i, row) {
        const char *m = json_string_value(json_object_get(row, "metric"));
        const char *v = json_string_value(json_object_get(row, "verdict"));
        cr_expect_str_eq(json_string_value(json_object_get(row, "variant")), "sleepy");
        if (!strcmp(v, "regression") && (!strcmp(m, "lat_out_us.p50") || !strcmp(m, "lat_rtt_us.p50")))
            out_flagged = true;
        if (!strcmp(m, "msgs_lost") || !strcmp(m, "threads_per_link"))
            cr_expect_str_eq(v, "same", "%s: a design count must not move", m);
    }
    cr_expect(out_flagged, "lat_out_us.p50 or lat_rtt_us.p50 flagged: %s", out);
    json_t *pair = json_array_get(json_object_get(s, "pairs"), 0);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(pair, "base"), "runs")), per_side);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(pair, "candidate"), "runs")), per_side);
    json_decref(s);
    cr_expect_eq(lb_junit_check(junit, "--errors 0 --case sleepy.msgs_lost=pass"), 0);
    /* the failures in the file are the regressions the summary counts */
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "grep -c '<failure ' '%s' >/dev/null", junit);
    cr_expect_eq(system(cmd), 0, "no <failure> in %s", junit);
}

/* Whole runs of two linkbench binaries alternating: here the same build twice (the
 * mechanics, not a verdict: any outcome of a self-comparison is 0 or 99). */
Test(compare, harness_mode_alternates_whole_runs)
{
    char bin[1024];
    snprintf(bin, sizeof bin, "%s", env("LINKBENCH_BIN"));
    const char *build = dirname(bin);
    int rc = lb_cli(out, sizeof out, "compare --base-build '%s' --mode harness --variant evloop "
                    SMALL " --repeat 2 --max-repeat 2 --out '%s/runs' '%s'", build, dir,
                    echo_json());
    cr_assert(rc == 0 || rc == 99, "exit %d: %s", rc, out);
    cr_expect(strstr(out, "compare: mode harness"), "%s", out);
    cr_expect(strstr(out, "echo@20: evloop@base → evloop  (2 + 2 repetitions"), "%s", out);
    cr_expect(strstr(out, "evloop.lat_rtt_us.p99"), "%s", out);
    cr_expect(strstr(out, "(p=1.000 n=2+2)") || strstr(out, "(p=0.333 n=2+2)") ||
              strstr(out, "(p=0.667 n=2+2)"), "2 + 2 repetitions cannot be significant: %s", out);
}

Test(compare, usage_errors_exit_2)
{
    const char *plug = env("LINKBENCH_TEST_PLUGINS");
    const char *e = echo_json();
    cr_expect_eq(lb_cli(out, sizeof out, "compare '%s'", e), 2, "no base: %s", out);
    cr_expect(strstr(out, "exactly one of --base"), "%s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "compare --base HEAD --base-build /tmp '%s'", e), 2, "%s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "compare --base-variant '%s/fast/sleepy.so'", plug), 2,
                 "no scenario: %s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "compare --base-variant '%s/fast/sleepy.so' '%s/nope.json'",
                        plug, dir), 2, "%s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "compare --base-variant '%s/fast/sleepy.so' --mode fast '%s'",
                        plug, e), 2, "%s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "compare --base-variant '%s/fast/sleepy.so' --mode harness '%s'",
                        plug, e), 2, "%s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "compare --base-variant '%s/fast/sleepy.so' --repeat 1 '%s'",
                        plug, e), 2, "%s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "compare --base-variant '%s/fast/sleepy.so' --repeat 5 "
                        "--max-repeat 3 '%s'", plug, e), 2, "%s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "compare --base-variant '%s/fast/sleepy.so' --alpha 0 '%s'",
                        plug, e), 2, "%s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "compare --base-build '%s' '%s'", dir, e), 2,
                 "a directory without variants/: %s", out);
    cr_expect(strstr(out, "not a linkbench build directory"), "%s", out);
    cr_expect_eq(lb_cli(out, sizeof out, "compare --source '%s' --base no-such-ref-xyz '%s'",
                        env("LINKBENCH_SOURCE_DIR"), e), 2, "%s", out);
    cr_expect(strstr(out, "no-such-ref-xyz: not a commit"), "%s", out);
    /* params set by variant name would reach the candidate only: refused in variants mode */
    char scen[700];
    snprintf(scen, sizeof scen, "%s/vc.json", dir);
    FILE *vf = fopen(scen, "w");
    cr_assert_not_null(vf);
    fputs("{\"name\": \"vc\", \"links\": 2, \"variant_config\": {\"sleepy\": {\"x\": 1}}}", vf);
    fclose(vf);
    cr_expect_eq(lb_cli(out, sizeof out, "compare --base-variant '%s/fast/sleepy.so' '%s'", plug,
                        scen), 2, "%s", out);
    cr_expect(strstr(out, "variant_config or a variant instance sets params by"), "%s", out);
    /* a base module that is no variant (ABI check) is refused before anything runs */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/evloop.so", dir);
    FILE *f = fopen(bad, "w");
    cr_assert_not_null(f);
    fputs("not an ELF file", f);
    fclose(f);
    cr_expect_eq(lb_cli(out, sizeof out, "compare --base-variant '%s' --variant evloop --out '%s/r' '%s'",
                        bad, dir, e), 2, "%s", out);
}
