/* cmd_check.c — `linkbench check`: the CI gate: a report's expect lines, and optionally a baseline comparison, with exit codes 0/1/2. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chk.h"
#include "cmd.h"
#include "rep_plot.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: linkbench check [--baseline FILE] [-v] <report.json|results dir>...\n"
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
        "  --baseline FILE  compare with this baseline (e.g. results/baseline.json)\n"
        "  -v, --verbose    print the lines that hold too\n"
        "  -h, --help       this text\n"
        "\n"
        "Each failure prints: FAIL <scenario>@<links>: <line or metric> expected .., measured ..\n"
        "\n"
        "exit codes: 0 every line and comparison holds; 1 one falls short (or a report is\n"
        "invalid); 2 usage or input error (unreadable report or baseline, bad expect line)\n");
}

int cmd_check(int argc, char **argv)
{
    const char *baseline_path = NULL;
    chk_out o = {.f = stdout, .verbose = false};
    static const struct option lo[] = {{"baseline", required_argument, 0, 'b'},
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
            o.verbose = true;
            break;
        case 'b':
            baseline_path = optarg;
            break;
        default:
            fprintf(stderr, "linkbench check: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return LB_EXIT_USAGE;
        }
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
    chk_counts cnt = {0};
    for (int i = 0; rc == LB_EXIT_OK && reps && i < n; i++) {
        if (chk_expect_report(reps[i], &o, &cnt, err, sizeof err) < 0 ||
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
            cnt.failed++;
            printf("FAIL  %s: the report is invalid:", key);
            json_array_foreach(json_object_get(json_object_get(reps[i], "flags"), "reasons"), j, why)
                printf("%s %s", j ? ";" : "", json_string_value(why));
            printf("\n");
        }
    }
    if (rc == LB_EXIT_OK) {
        printf("check: %d held, %d failed, %d skipped (%d report%s%s)\n", cnt.held, cnt.failed,
               cnt.skipped, n, n == 1 ? "" : "s", baseline ? ", with baseline" : "");
        rc = cnt.failed ? LB_EXIT_FAIL : LB_EXIT_OK;
    }
    for (int i = 0; reps && i < n; i++)
        json_decref(reps[i]);
    free(reps);
    rep_reports_free(paths, n);
    json_decref(baseline);
    return rc;
}
