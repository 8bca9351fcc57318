/* cmd_verdicts.c — `linkbench verdicts`: the seed's claims against the measurements, one markdown page computed from results directories. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "lb_file.h"
#include "lb_install.h"
#include "rep_report.h"
#include "rep_verdict.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: linkbench verdicts [--source DIR] [--publish DIR] [--check] OUT.md <results dir>...\n"
        "\n"
        "Write the verdict page: every claim of the seed's comparison table (性能对比总结)\n"
        "and recommendations (推荐使用), one row each, with the seed's words and a\n"
        "translation, the figures measured (from the newest report of each scenario the\n"
        "claim's rules read, linked relative to the page), the rules, and the verdict they\n"
        "compute: holds, refuted, holds only when ..., not measured (no report of that\n"
        "scenario given), or not measurable here (and why). Then the seed's scale: links\n"
        "held at 10 000, 50 000 and 100 000 and what stopped each design.\n"
        "The reports: linkbench run workloads/suites/verdicts.json, plus\n"
        "workloads/seed/seed_scale_50k.json and seed_scale_100k.json (minutes each, the\n"
        "whole machine).\n"
        "\n"
        "options:\n"
        "  --source DIR  the source tree, for the lines-of-code proxy of the complexity rows\n"
        "                (default: the data directory when it holds reference/go and variants/)\n"
        "  --publish DIR copy what the page reads into DIR first (replaced whole): per report\n"
        "                DIR/<scenario>[/links_<N>]/ with report.md, its PNG charts and\n"
        "                report.json without its runs; the page then links there (what\n"
        "                results/published/verdicts.md is made with)\n"
        "  --check       also check that every claim's rules parse (exit 2 when one does not)\n"
        "  -h, --help    this text\n"
        "\n"
        "exit codes: 0 written; 1 it could not be written; 2 usage error, no report found,\n"
        "a report that does not load\n");
}

static bool is_dir(const char *d, const char *sub)
{
    char p[PATH_MAX + 64];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", d, sub);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Every rule of every claim parses, and names a place its list has. */
static int check_rules(void)
{
    int bad = 0;
    for (const struct rv_claim *c = RV_CLAIMS; c->section; c++)
        for (int t = 0; t < RV_TESTS_MAX && c->tests[t].scenario; t++)
            for (int k = 0; k < RV_LINES_MAX && c->tests[t].lines[k]; k++) {
                char err[256];
                if (!rv_rule_parses(c->tests[t].lines[k], err, sizeof err)) {
                    fprintf(stderr, "linkbench verdicts: %s: %s\n", c->zh, err);
                    bad++;
                }
            }
    return bad;
}

int cmd_verdicts(int argc, char **argv)
{
    const char *source = NULL;
    bool check = false;
    const char *publish = NULL;
    static const struct option lo[] = {{"source", required_argument, 0, 's'},
                                       {"publish", required_argument, 0, 'p'},
                                       {"check", no_argument, 0, 'c'},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return LB_EXIT_OK;
        case 's':
            source = optarg;
            break;
        case 'c':
            check = true;
            break;
        case 'p':
            publish = optarg;
            break;
        default:
            fprintf(stderr, "linkbench verdicts: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return LB_EXIT_USAGE;
        }
    }
    if (check && check_rules())
        return LB_EXIT_USAGE;
    if (check && optind == argc)
        return LB_EXIT_OK;   /* the rules alone */
    if (argc - optind < 2) {
        fprintf(stderr, "linkbench verdicts: %s\n", optind >= argc ? "no output file given"
                                                                  : "no results directory given");
        usage(stderr);
        return LB_EXIT_USAGE;
    }
    char data[PATH_MAX];
    if (!source && lb_install_data_dir(data, sizeof data) == 0 && is_dir(data, "reference/go") &&
        is_dir(data, "variants"))
        source = data;
    struct rv_opts o = {.out_path = argv[optind], .source_dir = source,
                        .dirs = (const char *const *)argv + optind + 1, .n_dirs = argc - optind - 1,
                        .publish_dir = publish};
    char *buf = NULL, err[4600];
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        fprintf(stderr, "linkbench verdicts: out of memory\n");
        return LB_EXIT_FAIL;
    }
    int rc = rv_page_write(m, &o, err, sizeof err);
    fclose(m);
    if (rc < 0) {
        fprintf(stderr, "linkbench verdicts: %s\n", err);
        free(buf);
        return rc == -2 ? LB_EXIT_FAIL : LB_EXIT_USAGE;   /* -2: publishing failed */
    }
    if (lb_write_atomic(o.out_path, buf, len, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench verdicts: %s\n", err);
        free(buf);
        return LB_EXIT_FAIL;
    }
    free(buf);
    printf("verdicts: %s\n", o.out_path);
    return LB_EXIT_OK;
}
