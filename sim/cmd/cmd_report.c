/* cmd_report.c — `linkbench report`: one static HTML page from results directories, charts embedded, opening from disk. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "lb_file.h"
#include "rep_page.h"
#include "rep_plot.h"
#include "rep_report.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: linkbench report [-o FILE] [--embed] <results dir>...\n"
        "\n"
        "Build one static HTML page from every report.json below the directories (what\n"
        "`linkbench run` writes as index.html at the end of a run): the verdict, a\n"
        "headline table of the figures that decide between the designs, then one section\n"
        "per scenario with its deciding chart, its numbers, its table and every file,\n"
        "linked relative to the page. Missing data and charts are made first, as by\n"
        "linkbench plot (without gnuplot the page has tables only).\n"
        "\n"
        "options:\n"
        "  -o, --output FILE  the page (default <first dir>/index.html)\n"
        "  --embed            charts inside the page as data: URIs (one file to send)\n"
        "  -h, --help         this text\n"
        "\n"
        "exit codes: 0 written; 1 it could not be written; 2 usage error or no report\n");
}

int cmd_report(int argc, char **argv)
{
    const char *outp = NULL;
    bool embed = false;
    static const struct option lo[] = {{"output", required_argument, 0, 'o'},
                                       {"embed", no_argument, 0, 'e'},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return LB_EXIT_OK;
        case 'o':
            outp = optarg;
            break;
        case 'e':
            embed = true;
            break;
        default:
            fprintf(stderr, "linkbench report: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return LB_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "linkbench report: no results directory given\n");
        usage(stderr);
        return LB_EXIT_USAGE;
    }
    rep_plot_opts po = {.log = stderr, .quiet = true, .charts = rep_plot_have_gnuplot()};
    for (int i = optind; i < argc; i++)
        if (rep_plot_dir(argv[i], &po) == 2)
            return LB_EXIT_USAGE;
    char def[4096];
    if (!outp) {
        size_t l = strlen(argv[optind]);
        while (l > 1 && argv[optind][l - 1] == '/')
            l--;
        snprintf(def, sizeof def, "%.*s/index.html", (int)l, argv[optind]);
        outp = def;
    }
    char *buf = NULL, err[4600];
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        fprintf(stderr, "linkbench report: out of memory\n");
        return LB_EXIT_FAIL;
    }
    rep_page_opts ro = {.page_path = outp, .embed = embed, .err = stderr};
    int rc = rep_page_write(m, argv + optind, argc - optind, &ro, NULL);
    fclose(m);
    if (rc == 0 && lb_write_atomic(outp, buf, len, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench report: %s\n", err);
        rc = -1;
    }
    free(buf);
    if (rc == 0)
        printf("report: %s\n", outp);
    return rc == 0 ? LB_EXIT_OK : rc == -2 ? LB_EXIT_USAGE : LB_EXIT_FAIL;
}
