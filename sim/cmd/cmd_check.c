/* cmd_check.c — `linkbench check`: the CI gate: a report's expect lines, and optionally a baseline comparison; JUnit and summary files; exit codes 0/99/1/2. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chk.h"
#include "chk_junit.h"
#include "cmd.h"
#include "rep_plot.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: linkbench check [--baseline FILE] [--junit FILE] [--summary-export FILE]\n"
        "                       [--allow-saturated | --skip-saturated [--max-saturated N]] [-v]\n"
        "                       <report.json|results dir>...\n"
        "\n"
        "Evaluate each report's expect lines (the scenario's, kept in report.config) on\n"
        "its summary (medians over repetitions unless a line names min or max). A line\n"
        "naming a variant the report does not hold is skipped: relative lines compare\n"
        "only variants measured in the same run. With --baseline, also compare each\n"
        "variant's medians with the baseline's entry for <scenario>@<links>, within the\n"
        "per-metric tolerances of docs/reports.md. A directory stands for every\n"
        "report.json below it.\n"
        "\n"
        "options:\n"
        "  --baseline FILE        compare with this baseline (e.g. results/baseline.json)\n"
        "  --junit FILE           also write the results as JUnit XML (one testsuite per\n"
        "                         report, one testcase per line or baseline metric)\n"
        "  --allow-saturated      check a report whose driver was saturated anyway (by\n"
        "                         default it counts as invalid: its figures measure the\n"
        "                         load generator, not the variants)\n"
        "  --skip-saturated       leave such a report's lines and baseline comparisons\n"
        "                         unchecked, each reported as skipped, the report's\n"
        "                         validity still checked (a gate on a shared machine:\n"
        "                         a late driver says nothing either way)\n"
        "  --max-saturated N      with --skip-saturated: more than N saturated reports\n"
        "                         fail the check (exit 1): a gate that skipped everything\n"
        "                         would pass on a machine that measured nothing\n"        "  --summary-export FILE  also write a compact JSON summary (verdict, exit code,\n"
        "                         counts, every result; no histograms)\n"
        "  -v, --verbose          print the lines that hold too\n"
        "  -h, --help             this text\n"
        "\n"
        "Each failure prints: FAIL <scenario>@<links>: <line or metric> expected .., measured ..\n"
        "\n"
        "exit codes: 0 every line and comparison holds; 99 one falls short; 1 a report is\n"
        "invalid (the run itself failed: lost messages, a server died) or its driver was\n"
        "saturated (or more than --max-saturated were); 2 usage or input error (unreadable report or baseline, bad expect line)\n");
}

/* One printed result line, "<ok  |FAIL|skip>  <key>[ baseline]: <rest>", as a JUnit
 * case and a summary entry. The case's name leaves out the measured numbers so a CI's
 * history of a case stays one series: an expect line is named by its text, a baseline
 * comparison by its metric. */
static void record(const char *line, bool invalid, chk_junit *ju, json_t *results)
{
    const char *st = line, *head = line + 6, *colon = strstr(head, ": ");
    if (strlen(line) < 7 || !colon)
        return;
    char suite[200], name[600], msg[1200];
    snprintf(suite, sizeof suite, "%.*s", (int)(colon - head), head);
    const char *rest = colon + 2;
    size_t sl = strlen(suite), nl;
    bool base = sl > 9 && !strcmp(suite + sl - 9, " baseline");
    if (base) {
        const char *e = strstr(rest, " expected");
        nl = e ? (size_t)(e - rest) : strlen(rest);
    } else {
        const char *e = strstr(rest, ": ");
        nl = e ? (size_t)(e - rest) : strlen(rest);
    }
    snprintf(name, sizeof name, "%.*s", (int)nl, rest);
    /* a '*' line is one evaluation per variant: the variant makes each case's name unique */
    if (!base && strchr(name, '*') && rest[nl] == ':') {
        const char *v = rest + nl + 2, *dot = strchr(v, '.');
        size_t k = strlen(name);
        if (dot && k < sizeof name)
            snprintf(name + k, sizeof name - k, " [%.*s]", (int)(dot - v), v);
    }
    snprintf(msg, sizeof msg, "%s", rest);
    enum chk_case c = invalid ? CHK_CASE_ERROR
                    : !strncmp(st, "FAIL", 4) ? CHK_CASE_FAIL
                    : !strncmp(st, "skip", 4) ? CHK_CASE_SKIP : CHK_CASE_PASS;
    static const char *const words[] = {"ok", "failed", "invalid", "skipped"};
    char cls[240];
    snprintf(cls, sizeof cls, "linkbench.check.%s", suite);
    if (ju)
        chk_junit_add(ju, suite, cls, name, c, c == CHK_CASE_PASS ? NULL : msg,
                      c == CHK_CASE_PASS ? msg : NULL);
    if (results)
        json_array_append_new(results, json_pack("{s:s,s:s,s:s,s:s}", "report", suite, "name",
                                                 name, "status", words[c], "message", msg));
}

/* The lines a check printed into buf: shown (FAIL and skip, or all with -v), recorded. */
static void emit(const char *buf, bool verbose, chk_junit *ju, json_t *results)
{
    const char *p = buf;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[4096];
        snprintf(line, sizeof line, "%.*s", (int)len, p);
        bool invalid = strncmp(line, "skip", 4) &&
                       (strstr(line, ": the report is invalid") != NULL ||
                        strstr(line, ": the driver was saturated") != NULL);
        if (verbose || strncmp(line, "ok  ", 4))
            printf("%s\n", line);
        record(line, invalid, ju, results);
        p = nl ? nl + 1 : NULL;
    }
}

bool cmd_report_saturated(const json_t *rep, char *why, size_t len)
{
    size_t at = 0, i;
    bool any = false;
    json_t *run;
    if (len)
        why[0] = 0;
    json_array_foreach(json_object_get(rep, "runs"), i, run) {
        const json_t *f = json_object_get(run, "flags");
        if (!json_is_true(json_object_get(f, "driver_saturated")))
            continue;
        const char *r = json_string_value(json_object_get(f, "driver_saturated_why"));
        if (at < len)
            at += (size_t)snprintf(why + at, len - at, "%s%s rep %lld%s%s%s", any ? ", " : "",
                                   json_string_value(json_object_get(run, "variant")),
                                   (long long)json_integer_value(json_object_get(run, "rep")),
                                   r && *r ? " (" : "", r && *r ? r : "", r && *r ? ")" : "");
        any = true;
    }
    /* a report made by hand may carry only the report-wide flag */
    if (!any && json_is_true(json_object_get(json_object_get(rep, "flags"), "driver_saturated"))) {
        any = true;
        if (len)
            snprintf(why, len, "flags.driver_saturated");
    }
    return any;
}

int cmd_check(int argc, char **argv)
{
    const char *baseline_path = NULL, *junit_path = NULL, *summary_path = NULL;
    bool verbose = false, allow_saturated = false, skip_saturated = false;
    long max_saturated = -1;
    enum { O_JUNIT = 256, O_SUMMARY, O_ALLOW_SAT, O_SKIP_SAT, O_MAX_SAT };
    static const struct option lo[] = {{"baseline", required_argument, 0, 'b'},
                                       {"junit", required_argument, 0, O_JUNIT},
                                       {"summary-export", required_argument, 0, O_SUMMARY},
                                       {"allow-saturated", no_argument, 0, O_ALLOW_SAT},
                                       {"skip-saturated", no_argument, 0, O_SKIP_SAT},
                                       {"max-saturated", required_argument, 0, O_MAX_SAT},
                                       {"verbose", no_argument, 0, 'v'},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "hvb:", lo, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return LB_EXIT_OK;
        case 'v':
            verbose = true;
            break;
        case 'b':
            baseline_path = optarg;
            break;
        case O_JUNIT:
            junit_path = optarg;
            break;
        case O_SUMMARY:
            summary_path = optarg;
            break;
        case O_ALLOW_SAT:
            allow_saturated = true;
            break;
        case O_SKIP_SAT:
            skip_saturated = true;
            break;
        case O_MAX_SAT: {
            char *end;
            errno = 0;
            max_saturated = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || max_saturated < 0) {
                fprintf(stderr, "linkbench check: --max-saturated: expected a count >= 0, got '%s'\n", optarg);
                return LB_EXIT_USAGE;
            }
            break;
        }
        default:
            fprintf(stderr, "linkbench check: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return LB_EXIT_USAGE;
        }
    }
    if (allow_saturated && skip_saturated) {
        fprintf(stderr, "linkbench check: --allow-saturated and --skip-saturated exclude each other\n");
        return LB_EXIT_USAGE;
    }
    if (max_saturated >= 0 && !skip_saturated) {
        fprintf(stderr, "linkbench check: --max-saturated needs --skip-saturated\n");
        return LB_EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "linkbench check: no report given\n");
        usage(stderr);
        return LB_EXIT_USAGE;
    }
    char err[4600];
    json_t *baseline = NULL;
    if (baseline_path) {
        json_error_t je;
        baseline = json_load_file(baseline_path, 0, &je);
        if (!baseline) {
            fprintf(stderr, "linkbench check: %s: %s\n", baseline_path, je.text);
            return LB_EXIT_USAGE;
        }
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* load everything first: an input error must not look like a half-passed gate */
    char **paths = NULL;
    int n = 0, rc = LB_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        int k = rep_find_reports(argv[i], &paths, &n, err, sizeof err);
        if (k < 0)
            fprintf(stderr, "linkbench check: %s\n", err);
        else if (k == 0)
            fprintf(stderr, "linkbench check: %s: no report.json found\n", argv[i]);
        if (k <= 0)
            rc = LB_EXIT_USAGE;
    }
    json_t **reps = calloc((size_t)n + 1, sizeof *reps);
    for (int i = 0; rc == LB_EXIT_OK && reps && i < n; i++)
        if (!(reps[i] = chk_load_report(paths[i], err, sizeof err))) {
            fprintf(stderr, "linkbench check: %s\n", err);
            rc = LB_EXIT_USAGE;
        }
    /* every evaluation prints one line (verbose) into a buffer; emit() shows them and
     * turns each into a JUnit case and a summary entry */
    char *buf = NULL;
    size_t len = 0;
    chk_out o = {.f = open_memstream(&buf, &len), .verbose = true};
    if (!o.f) {
        fprintf(stderr, "linkbench check: out of memory\n");
        rc = LB_EXIT_FAIL;
    }
    chk_counts cnt = {0};
    int invalid = 0, n_saturated = 0;
    for (int i = 0; rc == LB_EXIT_OK && reps && i < n; i++) {
        char sat[1024];
        bool saturated = cmd_report_saturated(reps[i], sat, sizeof sat);
        if (saturated && skip_saturated) {
            /* its lines are neither held nor failed: one skipped line says why */
            char key[160];
            chk_report_key(reps[i], key, sizeof key);
            n_saturated++;
            cnt.skipped++;
            fprintf(o.f, "skip  %s: the driver was saturated (%s): its lines and baseline "
                    "comparisons not checked (--skip-saturated)\n", key, sat);
        } else if (chk_expect_report(reps[i], &o, &cnt, err, sizeof err) < 0 ||
            (baseline && chk_baseline_compare(baseline, reps[i], &o, &cnt, err, sizeof err) < 0)) {
            fprintf(stderr, "linkbench check: %s: %s\n", paths[i], err);
            rc = LB_EXIT_USAGE;
            break;
        }
        if (json_is_false(json_object_get(reps[i], "valid"))) {
            char key[160];
            chk_report_key(reps[i], key, sizeof key);
            size_t j;
            json_t *why;
            invalid++;
            fprintf(o.f, "FAIL  %s: the report is invalid:", key);
            json_array_foreach(json_object_get(json_object_get(reps[i], "flags"), "reasons"), j, why)
                fprintf(o.f, "%s %s", j ? ";" : "", json_string_value(why));
            fprintf(o.f, "\n");
        }
        /* a saturated driver measured itself: like an invalid report, nothing it
         * measured of the variants can be trusted */
        if (saturated && !allow_saturated && !skip_saturated) {
            char key[160];
            chk_report_key(reps[i], key, sizeof key);
            invalid++;
            fprintf(o.f, "FAIL  %s: the driver was saturated (%s): these figures measure the "
                    "load generator, not the variants (--allow-saturated checks them anyway)\n",
                    key, sat);
        }
    }
    if (rc == LB_EXIT_OK && max_saturated >= 0 && n_saturated > max_saturated) {
        invalid++;
        fprintf(o.f, "FAIL  check: the driver was saturated in %d reports, more than --max-saturated %ld: "
                "too little of what was run was measured\n", n_saturated, max_saturated);
    }
    if (o.f)
        fclose(o.f);
    chk_junit *ju = junit_path ? chk_junit_create("linkbench check") : NULL;
    json_t *results = summary_path ? json_array() : NULL;
    if (rc == LB_EXIT_OK) {
        emit(buf, verbose, ju, results);
        printf("check: %d held, %d failed, %d skipped, %d invalid report%s (%d report%s%s)\n",
               cnt.held, cnt.failed, cnt.skipped, invalid, invalid == 1 ? "" : "s", n,
               n == 1 ? "" : "s", baseline ? ", with baseline" : "");
        /* a report whose run failed outranks a line that fell short: nothing it
         * measured can be trusted */
        rc = invalid ? LB_EXIT_FAIL : cnt.failed ? LB_EXIT_REGRESSION : LB_EXIT_OK;
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (ju) {
            chk_junit_set_time(ju, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
            if (chk_junit_write(ju, junit_path, err, sizeof err) < 0) {
                fprintf(stderr, "linkbench check: %s\n", err);
                rc = LB_EXIT_FAIL;
            }
        }
        if (results) {
            static const char *const verdicts[] = {[LB_EXIT_OK] = "pass", [LB_EXIT_FAIL] = "invalid"};
            json_t *sum = json_pack("{s:i,s:s,s:s,s:i,s:{s:i,s:i,s:i,s:i},s:i,s:s?,s:O}",
                                    "format", 1, "tool", "linkbench check", "verdict",
                                    rc == LB_EXIT_REGRESSION ? "fail" : verdicts[rc], "exit_code", rc,
                                    "counts", "held", cnt.held, "failed", cnt.failed, "skipped",
                                    cnt.skipped, "invalid", invalid, "reports", n, "baseline",
                                    baseline_path, "results", results);
            if (!sum || chk_json_write(sum, summary_path, err, sizeof err) < 0) {
                fprintf(stderr, "linkbench check: %s\n", sum ? err : "out of memory");
                rc = LB_EXIT_FAIL;
            }
            json_decref(sum);
        }
    }
    json_decref(results);
    chk_junit_destroy(ju);
    free(buf);
    for (int i = 0; reps && i < n; i++)
        json_decref(reps[i]);
    free(reps);
    rep_reports_free(paths, n);
    json_decref(baseline);
    return rc;
}
