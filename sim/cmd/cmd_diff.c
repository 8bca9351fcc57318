/* cmd_diff.c — `linkbench diff A B`: two result sets already on disk side by side, the A/B gate's table with spreads and p-values, no verdict unless asked. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chk.h"
#include "chk_gate.h"
#include "chk_junit.h"
#include "cmd.h"
#include "rep_plot.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: linkbench diff [options] A B\n"
        "\n"
        "A and B are report.json files or results directories (every report.json below).\n"
        "Reports are matched by <scenario>@<links> and variants by name (a module given by\n"
        "path counts by its file's base name). For each metric of the gate's table\n"
        "(docs/reports.md) prints A's and B's median over repetitions with the spread of\n"
        "the repetitions (± the farthest from the median), the change of the medians, and\n"
        "the Mann–Whitney p-value over the repetitions:\n"
        "  evloop.lat_rtt_us.p99   412 µs ± 6 %%  →  530 µs ± 5 %%   +29 %% (p=0.008 n=7+7)\n"
        "A and B were measured at different times, perhaps on different machines: a change\n"
        "here may be the machine's. `linkbench compare` measures both in the same run.\n"
        "\n"
        "options:\n"
        "  --fail-on-regression   judge as compare does (worse beyond the metric's threshold\n"
        "                         and significant, or an exact rule broken): exit 99 then\n"
        "  --alpha P              significance level (default 0.01)\n"
        "  --changes-only         leave out the rows without a significant change\n"
        "  --summary-export FILE  the rows as JSON (medians, spreads, n, change, p)\n"
        "  --junit FILE           the rows as JUnit XML (with --fail-on-regression)\n"
        "  -h, --help             this text\n"
        "\n"
        "exit codes: 0 shown (or no regression); 99 a regression with --fail-on-regression;\n"
        "2 usage or input error (unreadable report, nothing in common)\n");
}

/* Every report under arg, added to side; 0, or -1 after printing why. */
static int load_side(const char *arg, int side, struct chk_set *set, json_t **machine)
{
    char **paths = NULL, err[4600];
    int n = 0, rc = 0;
    int k = rep_find_reports(arg, &paths, &n, err, sizeof err);
    if (k <= 0) {
        fprintf(stderr, "linkbench diff: %s%s\n", k < 0 ? err : arg,
                k < 0 ? "" : ": no report.json found");
        rep_reports_free(paths, n);
        return -1;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        json_t *r = chk_load_report(paths[i], err, sizeof err);
        if (!r || chk_set_add_report(set, r, side, err, sizeof err) < 0) {
            fprintf(stderr, "linkbench diff: %s%s%s\n", r ? paths[i] : "", r ? ": " : "", err);
            rc = -1;
        } else if (!*machine)
            *machine = json_incref(json_object_get(r, "machine"));
        json_decref(r);
    }
    rep_reports_free(paths, n);
    return rc;
}

static bool same_machine(const json_t *a, const json_t *b)
{
    return json_equal(json_object_get(a, "model"), json_object_get(b, "model")) &&
           json_equal(json_object_get(a, "cpus"), json_object_get(b, "cpus")) &&
           json_equal(json_object_get(a, "kernel"), json_object_get(b, "kernel"));
}

int cmd_diff(int argc, char **argv)
{
    bool judge = false, changes = false;
    double alpha = 0.01;
    const char *summary_path = NULL, *junit_path = NULL;
    enum { O_FAIL = 256, O_ALPHA, O_CHANGES, O_SUMMARY, O_JUNIT };
    static const struct option lo[] = {{"fail-on-regression", no_argument, 0, O_FAIL},
                                       {"alpha", required_argument, 0, O_ALPHA},
                                       {"changes-only", no_argument, 0, O_CHANGES},
                                       {"summary-export", required_argument, 0, O_SUMMARY},
                                       {"junit", required_argument, 0, O_JUNIT},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return LB_EXIT_OK;
        case O_FAIL:
            judge = true;
            break;
        case O_ALPHA: {
            char *end;
            alpha = strtod(optarg, &end);
            if (end == optarg || *end || !(alpha > 0 && alpha < 1)) {
                fprintf(stderr, "linkbench diff: --alpha: must be in (0, 1) (got \"%s\")\n", optarg);
                return LB_EXIT_USAGE;
            }
            break;
        }
        case O_CHANGES:
            changes = true;
            break;
        case O_SUMMARY:
            summary_path = optarg;
            break;
        case O_JUNIT:
            junit_path = optarg;
            break;
        default:
            fprintf(stderr, "linkbench diff: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return LB_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "linkbench diff: expected two result sets, A and B (got %d)\n", argc - optind);
        usage(stderr);
        return LB_EXIT_USAGE;
    }
    if (junit_path && !judge) {
        fprintf(stderr, "linkbench diff: --junit needs --fail-on-regression (a JUnit file "
                "without a verdict would pass everything)\n");
        return LB_EXIT_USAGE;
    }
    struct chk_set set = {0};
    json_t *ma = NULL, *mb = NULL;
    struct chk_row *rows = NULL;
    int n = 0, lone = 0, rc = LB_EXIT_OK;
    if (load_side(argv[optind], 0, &set, &ma) < 0 || load_side(argv[optind + 1], 1, &set, &mb) < 0)
        rc = LB_EXIT_USAGE;
    else if (chk_gate_eval(&set, alpha, &rows, &n, &lone) < 0) {
        fprintf(stderr, "linkbench diff: out of memory\n");
        rc = LB_EXIT_FAIL;
    } else if (n == 0) {
        fprintf(stderr, "linkbench diff: A and B have no scenario@links and variant in common\n");
        rc = LB_EXIT_USAGE;
    }
    if (rc == LB_EXIT_OK) {
        printf("diff: A = %s, B = %s\n", argv[optind], argv[optind + 1]);
        if (!same_machine(ma, mb))
            printf("note: A and B were measured on different machines (model, cpus or kernel "
                   "differ)\n");
        printf("note: A and B were not measured in the same run: a change may be the machine's "
               "(linkbench compare interleaves both sides)\n");
        struct chk_labels lb = {{"%s (A)", "%s (B)"}};
        chk_gate_print(stdout, rows, n, &lb, judge, !changes);
        struct chk_tally t;
        chk_gate_tally(rows, n, &t);
        if (lone)
            printf("\n%d variant%s measured on one side only (not compared)\n", lone,
                   lone == 1 ? "" : "s");
        printf("\ndiff: %d metrics: %d regression%s, %d improvement%s, %d unclear, %d unchanged, "
               "%d without data (alpha %g)\n", n, t.regression, t.regression == 1 ? "" : "s",
               t.better, t.better == 1 ? "" : "s", t.unclear, t.same, t.nodata, alpha);
        if (judge && t.regression)
            rc = LB_EXIT_REGRESSION;
        char err[4600] = "out of memory";
        if (summary_path) {
            json_t *s = json_pack("{s:i,s:s,s:s,s:s,s:b,s:f,s:s,s:i,s:{s:i,s:i,s:i,s:i,s:i},s:o}",
                                  "format", 1, "tool", "linkbench diff", "a", argv[optind], "b",
                                  argv[optind + 1], "judged", judge, "alpha", alpha, "verdict",
                                  !judge ? "not_judged" : t.regression ? "regression" : "pass",
                                  "exit_code", rc, "counts", "regressions", t.regression,
                                  "improvements", t.better, "unclear", t.unclear, "unchanged",
                                  t.same, "no_data", t.nodata, "rows", chk_gate_rows_json(rows, n));
            if (!s || chk_json_write(s, summary_path, err, sizeof err) < 0) {
                fprintf(stderr, "linkbench diff: %s\n", s ? err : "out of memory");
                rc = LB_EXIT_FAIL;
            }
            json_decref(s);
        }
        if (junit_path) {
            chk_junit *j = chk_junit_create("linkbench diff");
            if (!j || chk_gate_junit(j, "diff", rows, n) < 0 ||
                chk_junit_write(j, junit_path, err, sizeof err) < 0) {
                fprintf(stderr, "linkbench diff: %s\n", j ? err : "out of memory");
                rc = LB_EXIT_FAIL;
            }
            chk_junit_destroy(j);
        }
    }
    free(rows);
    chk_set_deinit(&set);
    json_decref(ma);
    json_decref(mb);
    return rc;
}
