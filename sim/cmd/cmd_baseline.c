/* cmd_baseline.c — `linkbench baseline update`: rewrite the baseline from reports, on purpose, never as a side effect of a check. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chk.h"
#include "cmd.h"
#include "lb_file.h"
#include "rep_plot.h"
#include "rep_report.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: linkbench baseline update [--baseline FILE] [--from-runs N] [--allow-saturated]\n"
        "                                 <report.json|results dir>...\n"
        "\n"
        "Store each report's medians of the gated metrics (docs/reports.md lists them with\n"
        "their tolerances) as the baseline entry for <scenario>@<links>, replacing that\n"
        "entry and keeping every other. Commit the file with a message saying why the\n"
        "numbers moved.\n"
        "\n"
        "With --from-runs N, the reports are N runs of the same suite on this machine\n"
        "(scripts/baseline_spread.sh makes them): each scenario@links must appear exactly N\n"
        "times, and its entry keeps per metric the median, min and max of the N runs'\n"
        "medians. check then bands each metric by that measured spread instead of the\n"
        "table's factors.\n"
        "\n"
        "options:\n"
        "  --baseline FILE  the file to rewrite (default results/baseline.json)\n"
        "  --from-runs N    the reports are N repeated runs: store their spread\n"
        "  --allow-saturated  take a report whose driver was saturated anyway (by default\n"
        "                   it is refused: its figures measure the load generator)\n"
        "  -h, --help       this text\n"
        "\n"
        "exit codes: 0 written; 1 the file could not be written, or a report's driver was\n"
        "saturated (nothing is written then); 2 usage or input error\n");
}

int cmd_baseline(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "update")) {
        if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
            usage(stdout);
            return LB_EXIT_OK;
        }
        fprintf(stderr, "linkbench baseline: expected the action 'update'\n");
        usage(stderr);
        return LB_EXIT_USAGE;
    }
    argc--, argv++;
    const char *path = "results/baseline.json";
    long runs = 0;
    bool allow_saturated = false;
    static const struct option lo[] = {{"baseline", required_argument, 0, 'b'},
                                       {"from-runs", required_argument, 0, 'r'},
                                       {"allow-saturated", no_argument, 0, 'S'},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "hb:", lo, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return LB_EXIT_OK;
        case 'b':
            path = optarg;
            break;
        case 'S':
            allow_saturated = true;
            break;
        case 'r': {
            char *end;
            runs = strtol(optarg, &end, 10);
            if (end == optarg || *end || runs < 2 || runs > 1000) {
                fprintf(stderr, "linkbench baseline: --from-runs: must be an integer in [2, 1000] "
                        "(got \"%s\")\n", optarg);
                return LB_EXIT_USAGE;
            }
            break;
        }
        default:
            fprintf(stderr, "linkbench baseline: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return LB_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "linkbench baseline update: no report given\n");
        return LB_EXIT_USAGE;
    }
    char err[4600];
    json_error_t je;
    json_t *base = json_load_file(path, 0, &je);
    if (!base) {
        FILE *t = fopen(path, "r");
        if (t) {   /* exists but does not parse: never overwrite what we cannot read */
            fclose(t);
            fprintf(stderr, "linkbench baseline: %s: %s\n", path, je.text);
            return LB_EXIT_USAGE;
        }
        base = json_object();
    }
    char **paths = NULL;
    int n = 0, rc = LB_EXIT_OK;
    for (int i = optind; i < argc && rc == LB_EXIT_OK; i++) {
        int k = rep_find_reports(argv[i], &paths, &n, err, sizeof err);
        if (k <= 0) {
            fprintf(stderr, "linkbench baseline: %s%s\n", k < 0 ? err : argv[i],
                    k < 0 ? "" : ": no report.json found");
            rc = LB_EXIT_USAGE;
        }
    }
    json_t **reps = calloc((size_t)n + 1, sizeof *reps);
    if (!reps)
        rc = LB_EXIT_FAIL;
    for (int i = 0; i < n && rc == LB_EXIT_OK; i++)
        if (!(reps[i] = chk_load_report(paths[i], err, sizeof err))) {
            fprintf(stderr, "linkbench baseline: %s\n", err);
            rc = LB_EXIT_USAGE;
        }
    /* a baseline taken from a saturated driver would gate every later run on the load
     * generator's limits: refused, and nothing written, unless asked for */
    for (int i = 0; i < n && rc == LB_EXIT_OK && !allow_saturated; i++) {
        char sat[1024];
        if (cmd_report_saturated(reps[i], sat, sizeof sat)) {
            fprintf(stderr, "linkbench baseline: %s: the driver was saturated (%s): its figures "
                    "measure the load generator, not the variants; nothing written "
                    "(--allow-saturated takes it anyway)\n", paths[i], sat);
            rc = LB_EXIT_FAIL;
        }
    }
    if (rc == LB_EXIT_OK && runs > 0) {
        if (chk_baseline_update_runs(base, reps, n, (int)runs, err, sizeof err) < 0) {
            fprintf(stderr, "linkbench baseline: %s\n", err);
            rc = LB_EXIT_USAGE;
        } else
            printf("baseline: %d reports from %ld runs: the spread of each metric stored\n", n, runs);
    }
    for (int i = 0; i < n && rc == LB_EXIT_OK && runs == 0; i++) {
        if (chk_baseline_update(base, reps[i], err, sizeof err) < 0) {
            fprintf(stderr, "linkbench baseline: %s: %s\n", paths[i], err);
            rc = LB_EXIT_USAGE;
        } else {
            char key[160];
            chk_report_key(reps[i], key, sizeof key);
            printf("baseline: %s from %s\n", key, paths[i]);
        }
    }
    for (int i = 0; reps && i < n; i++)
        json_decref(reps[i]);
    free(reps);
    if (rc == LB_EXIT_OK) {
        char *s = json_dumps(base, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        size_t len = s ? strlen(s) : 0;
        char *t = s ? realloc(s, len + 2) : NULL;
        if (t) {
            t[len++] = '\n';
            t[len] = 0;
        } else
            free(s);
        s = t;
        if (!s || lb_write_atomic(path, s, len, err, sizeof err) < 0) {
            fprintf(stderr, "linkbench baseline: %s\n", s ? err : "out of memory");
            rc = LB_EXIT_FAIL;
        } else
            printf("baseline: wrote %s\n", path);
        free(s);
    }
    rep_reports_free(paths, n);
    json_decref(base);
    return rc;
}
