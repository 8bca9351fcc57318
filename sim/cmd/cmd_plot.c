/* cmd_plot.c — `linkbench plot`: regenerate every chart of a results directory from its CSVs (writing missing data from report.json first). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "rep_plot.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: linkbench plot [--data-only] [--quiet] <results dir>...\n"
        "\n"
        "For every report.json below each directory: write its data files when missing\n"
        "(report.md, lat_<in|out|rtt>_<variant>.csv and .hlog, drops.csv), the scale data\n"
        "of stepped scenarios and, at the top, the overview of several scenarios; then draw\n"
        "every chart from the CSVs with gnuplot (plots/*.gp), each as PNG and SVG:\n"
        "  lat_in, lat_out, lat_rtt  latency by percentile, one line per variant\n"
        "  drops                     dropped, refused and lost per variant\n"
        "  series                    throughput, threads, RSS and CPU over a run\n"
        "  scale                     CPU per link-second, threads, wake-ups, RSS vs links\n"
        "  overview                  drops and lost per scenario and variant\n"
        "The scripts are found in $LINKBENCH_PLOTS_DIR, beside the executable (../plots,\n"
        "../share/linkbench/plots), or ./plots.\n"
        "\n"
        "options:\n"
        "  --data-only   write the data files, draw nothing\n"
        "  --quiet       print only problems\n"
        "  -h, --help    this text\n"
        "\n"
        "exit codes: 0 ok; 1 a chart failed or gnuplot is missing; 2 usage error, no\n"
        "report found, or a report that does not load\n");
}

int cmd_plot(int argc, char **argv)
{
    rep_plot_opts o = {.log = stderr, .quiet = false, .charts = true};
    static const struct option lo[] = {{"data-only", no_argument, 0, 'd'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "hq", lo, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return LB_EXIT_OK;
        case 'd':
            o.charts = false;
            break;
        case 'q':
            o.quiet = true;
            break;
        default:
            fprintf(stderr, "linkbench plot: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return LB_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "linkbench plot: no results directory given\n");
        usage(stderr);
        return LB_EXIT_USAGE;
    }
    int rc = LB_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        int r = rep_plot_dir(argv[i], &o);
        if (r > rc)
            rc = r;
    }
    return rc;
}
