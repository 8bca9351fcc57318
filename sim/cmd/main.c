/* main.c — linkbench's front end: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const struct lb_cmd cmds[] = {
    {"list", "print every variant with its summary, threads per link and loss policy", cmd_list},
    {"run", "run scenarios against variants over loopback WebSockets; write report.json", cmd_run},
    {"serve", "serve one variant with the app model on an address until Ctrl-C; print its measurements", cmd_serve},
    {"merge", "join a sharded run's shard reports (run --shard I/N on several hosts) into one report", cmd_merge},
    {"bench", "micro-benchmarks of the harness itself (vsock, driver)", cmd_bench},
    {"plot", "draw every chart of a results directory (gnuplot) from its CSVs", cmd_plot},
    {"report", "one static HTML page (tables, charts, machine) from results directories", cmd_report},
    {"verdicts", "the seed's claims against the measurements: one markdown page of computed verdicts", cmd_verdicts},
    {"check", "the CI gate: expect lines and an optional baseline; exit 0, 99, 1 or 2", cmd_check},
    {"compare", "A/B gate: a git ref's (or build's) variants against this build's, interleaved in one run", cmd_compare},
    {"diff", "two result sets on disk side by side: medians, spreads, changes, p-values", cmd_diff},
    {"baseline", "baseline update: rewrite results/baseline.json from reports, on purpose", cmd_baseline},
};
#define N_CMDS (sizeof cmds / sizeof cmds[0])

#ifndef LB_VERSION
#define LB_VERSION "unknown"
#endif

static void usage(FILE *f)
{
    fprintf(f, "usage: linkbench <command> [options]   (linkbench <command> --help)\n"
               "       linkbench --version\n\n"
               "Measure, instead of argue, how a WebSocket gateway should run its connections:\n"
               "link designs side by side over real loopback WebSocket connections.\n"
               "First run: linkbench run first (every shipped scenario, reduced, about 3 min).\n\n"
               "commands:\n");
    for (size_t i = 0; i < N_CMDS; i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\nexit codes: 0 ok; 99 a threshold, expect line or regression failed (check,\n"
               "compare, diff --fail-on-regression); 1 a run failed; 2 usage or input error\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return LB_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return LB_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("linkbench %s\n", LB_VERSION);
        return LB_EXIT_OK;
    }
    for (size_t i = 0; i < N_CMDS; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "linkbench: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return LB_EXIT_USAGE;
}
