/* cmd_run.c — `linkbench run`: options, then each scenario or suite file through run_file. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cmd.h"
#include "lb_install.h"
#include "run.h"
#include "run_ext.h"
#include "run_shard.h"
#include "srv_main.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: linkbench run [options] <scenario.json|suite.json|name>...\n"
        "\n"
        "Run each scenario against each of its variants over real loopback WebSocket\n"
        "connections (server in a child process, driver in this one), repetitions\n"
        "interleaved across variants, and write results/<scenario>/<timestamp>/report.json\n"
        "with one series_<variant>_<rep>.csv per run. Prints the comparison table and the\n"
        "report's path. A suite runs every scenario into results/<suite>/<timestamp>/.\n"
        "Every run ends with index.html beside its results (the headline table, one\n"
        "section per scenario), the verdict, and the page's path as the last line.\n"
        "A name that is no file is looked up among the shipped scenarios and suites\n"
        "(linkbench list --scenarios): linkbench run echo, linkbench run first.\n"
        "\n"
        "options:\n"
        "  --variant a,b    run these variants (names or paths of .so modules)\n"
        "  --out DIR        results root (default results/)\n"
        "  --repeat N       repetitions per variant\n"
        "  --remeasure N    measure a repetition whose driver was saturated again, up to N\n"
        "                   times (0..10; default: the scenario's driver.remeasure, 2); the\n"
        "                   runs set aside are kept in report.json's discarded_runs\n"
        "  --duration S     measured seconds per run\n"
        "  --links N        links (replaces the scenario's steps by one run)\n"
        "  --json           print report.json instead of the table\n"
        "  --quiet          no progress line, no table: only the report's path\n"
        "  --target ws://HOST:PORT/path\n"
        "                   drive an external WebSocket echo server instead of starting the\n"
        "                   built-in one (scenarios needing push, the idle reaper, a service\n"
        "                   time or a rate limit are refused); port 0 with --target-cmd: the\n"
        "                   port the command prints on its first line (HOST:PORT)\n"
        "  --target-pid PID read the target's CPU by thread, threads, RSS, context switches\n"
        "  --target-cmd CMD start CMD (/bin/sh) before each run and stop it after; as --target-pid\n"
        "  --shard I/N      drive shard I of N (0 <= I < N) of the scenario's links against\n"
        "                   --target: links, groups and faults split as the scenario plans them,\n"
        "                   the same on every host; the report's runs keep what `linkbench merge`\n"
        "                   joins into one report (docs/scale-out.md)\n"
        "  --start-at T     with --shard: start at UTC time T (2026-12-06T10:00:00Z, or @SECONDS\n"
        "                   since the epoch) by this host's clock, so that shards on several hosts\n"
        "                   begin together; later runs (repetitions, steps) at T plus the planned\n"
        "                   length of each run before them\n"
        "  --every S        with --start-at: S seconds from one run's start to the next's\n"
        "  -h, --help       this text\n"
        "\n"
        "exit codes: 0 ok; 1 a run failed (server died, messages lost, a variant could not\n"
        "run, interrupted, results not writable); 2 usage or scenario error\n");
}

static int parse_i64(const char *opt, const char *s, int64_t min, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min) {
        fprintf(stderr, "linkbench run: %s: must be an integer >= %lld (got \"%s\")\n", opt,
                (long long)min, s);
        return -1;
    }
    *out = v;
    return 0;
}

static void raise_nofile(void)
{
    /* the driver holds one descriptor per link */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* --shard, --start-at, --every: what a sharded run needs, or why not (printed). */
static int shard_options(run_shard *sh, const char *spec, const char *start_at, const char *every,
                         const run_target *tg, int nfiles)
{
    char err[256];
    if (!spec) {
        fprintf(stderr, "linkbench run: --start-at and --every go with --shard\n");
        return -1;
    }
    if (run_shard_parse(spec, sh, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench run: %s\n", err);
        return -1;
    }
    if (!tg->url || tg->cmd) {
        fprintf(stderr, "linkbench run: --shard drives one server shared by every shard: give it "
                "with --target ws://HOST:PORT/path%s\n", tg->cmd ? ", not --target-cmd (each shard "
                "would start its own)" : " (each shard would otherwise start its own built-in one)");
        return -1;
    }
    if (nfiles > 1) {
        fprintf(stderr, "linkbench run: --shard runs one scenario (got %d)\n", nfiles);
        return -1;
    }
    if (start_at && run_shard_parse_time(start_at, &sh->start_at_ns, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench run: %s\n", err);
        return -1;
    }
    if (every) {
        char *end;
        double s = strtod(every, &end);
        if (end == every || *end || !(s > 0) || s > 86400 || !start_at) {
            fprintf(stderr, "linkbench run: --every: %s (got \"%s\")\n", !start_at ? "goes with "
                    "--start-at" : "must be a number of seconds in (0, 86400]", every);
            return -1;
        }
        sh->every_ns = (int64_t)(s * 1e9);
    }
    return 0;
}

int cmd_run(int argc, char **argv)
{
    /* the hidden server side: started by this same command in a child process */
    if (argc == 2 && !strcmp(argv[1], "--server-child"))
        return srv_main(SRV_CTRL_FD, SRV_REPORT_FD);

    run_opts o;
    run_opts_default(&o);
    enum { O_VARIANT = 256, O_OUT, O_REPEAT, O_DURATION, O_LINKS, O_JSON, O_QUIET, O_TARGET,
           O_TARGET_PID, O_TARGET_CMD, O_SHARD, O_START_AT, O_EVERY, O_REMEASURE };
    static run_shard shard;
    const char *shard_spec = NULL, *start_at = NULL, *every = NULL;
    run_target tg = {0};
    int64_t tpid = 0;
    static const struct option lo[] = {
        {"variant", required_argument, 0, O_VARIANT}, {"out", required_argument, 0, O_OUT},
        {"repeat", required_argument, 0, O_REPEAT}, {"remeasure", required_argument, 0, O_REMEASURE}, {"duration", required_argument, 0, O_DURATION},
        {"links", required_argument, 0, O_LINKS}, {"json", no_argument, 0, O_JSON},
        {"quiet", no_argument, 0, O_QUIET}, {"target", required_argument, 0, O_TARGET},
        {"target-pid", required_argument, 0, O_TARGET_PID},
        {"target-cmd", required_argument, 0, O_TARGET_CMD}, {"shard", required_argument, 0, O_SHARD},
        {"start-at", required_argument, 0, O_START_AT}, {"every", required_argument, 0, O_EVERY},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return LB_EXIT_OK;
        case O_VARIANT:
            o.variants = optarg;
            break;
        case O_OUT:
            o.out_dir = optarg;
            break;
        case O_REPEAT:
            if (parse_i64("--repeat", optarg, 1, &o.repeat) < 0)
                return LB_EXIT_USAGE;
            break;
        case O_REMEASURE:
            if (parse_i64("--remeasure", optarg, 0, &o.remeasure) < 0)
                return LB_EXIT_USAGE;
            if (o.remeasure > 10) {
                fprintf(stderr, "linkbench run: --remeasure: must be 0..10 (got %s)\n", optarg);
                return LB_EXIT_USAGE;
            }
            o.remeasure_set = true;
            break;
        case O_LINKS:
            if (parse_i64("--links", optarg, 1, &o.links) < 0)
                return LB_EXIT_USAGE;
            break;
        case O_DURATION: {
            char *end;
            o.duration_s = strtod(optarg, &end);
            if (end == optarg || *end || !(o.duration_s > 0)) {
                fprintf(stderr, "linkbench run: --duration: must be a number of seconds > 0 "
                        "(got \"%s\")\n", optarg);
                return LB_EXIT_USAGE;
            }
            break;
        }
        case O_JSON:
            o.json = true;
            break;
        case O_QUIET:
            o.quiet = true;
            break;
        case O_TARGET:
            tg.url = optarg;
            break;
        case O_TARGET_PID:
            if (parse_i64("--target-pid", optarg, 1, &tpid) < 0)
                return LB_EXIT_USAGE;
            tg.pid = (pid_t)tpid;
            break;
        case O_TARGET_CMD:
            tg.cmd = optarg;
            break;
        case O_SHARD:
            shard_spec = optarg;
            break;
        case O_START_AT:
            start_at = optarg;
            break;
        case O_EVERY:
            every = optarg;
            break;
        default:
            fprintf(stderr, "linkbench run: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return LB_EXIT_USAGE;
        }
    }
    if ((tg.pid || tg.cmd) && !tg.url) {
        fprintf(stderr, "linkbench run: --target-pid and --target-cmd go with --target\n");
        return LB_EXIT_USAGE;
    }
    if (tg.url && (o.variants || (tg.pid && tg.cmd))) {
        fprintf(stderr, "linkbench run: --target %s\n", o.variants ? "runs no variant: drop --variant"
                : "takes --target-pid or --target-cmd, not both");
        return LB_EXIT_USAGE;
    }
    if (shard_spec || start_at || every) {
        if (shard_options(&shard, shard_spec, start_at, every, &tg, argc - optind) < 0)
            return LB_EXIT_USAGE;
        o.shard = &shard;
    }
    if (optind >= argc) {
        fprintf(stderr, "linkbench run: no scenario file given\n");
        usage(stderr);
        return LB_EXIT_USAGE;
    }
    static char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fprintf(stderr, "linkbench run: cannot find this executable: %s\n", strerror(errno));
        return LB_EXIT_FAIL;
    }
    exe[n] = 0;
    o.exe = exe;
    o.progress = !o.quiet && !o.json && isatty(STDERR_FILENO);
    raise_nofile();
    run_signals_install();

    int rc = LB_EXIT_OK;
    for (int i = optind; i < argc && !run_interrupted; i++) {
        /* a shipped scenario or suite by name ("echo", "first") from any directory */
        char file[PATH_MAX];
        lb_install_scenario(argv[i], file, sizeof file);
        int r = tg.url ? run_ext_file(&o, &tg, file) : run_file(&o, file);
        if (r == LB_EXIT_USAGE)
            return LB_EXIT_USAGE;
        if (r)
            rc = LB_EXIT_FAIL;
    }
    if (run_interrupted) {
        fprintf(stderr, "linkbench run: interrupted: the report written is marked partial\n");
        rc = LB_EXIT_FAIL;
    }
    return rc;
}
