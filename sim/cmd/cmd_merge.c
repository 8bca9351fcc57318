/* cmd_merge.c — `linkbench merge OUT shard-results...`: the shard reports of a sharded run joined into one report, as a single host's run would have written it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "rep_plot.h"
#include "rep_report.h"
#include "rep_table.h"
#include "run_ext.h"
#include "run_merge.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: linkbench merge [options] OUT <shard report.json|directory>...\n"
        "\n"
        "Join the reports of a sharded run (linkbench run --shard I/N, one per host) into one\n"
        "report in OUT: counts summed, histograms merged bucket by bucket, the accounting\n"
        "taken over all links as on one host, CPU and saturation per host and the worst\n"
        "driver's, the hosts' starts, windows and clock offsets beside. OUT then holds what\n"
        "`linkbench run` writes (report.json, report.md, CSVs, charts): check, diff, plot and\n"
        "report read it as any other. A directory is searched for shard reports; a stepped\n"
        "scenario's steps go to OUT/links_<N>/. Shards of different scenarios, configs,\n"
        "targets or launches (--start-at), and a missing or repeated shard, are refused.\n"
        "\n"
        "options:\n"
        "  --json           print the merged report.json instead of the table\n"
        "  --quiet          only the report's path\n"
        "  -h, --help       this text\n"
        "\n"
        "exit codes: 0 merged (and valid); 1 merged, but the merged run is invalid or an\n"
        "expect line fell short, or OUT could not be written; 2 usage, or shard reports that\n"
        "do not belong together\n");
}

/* The shard reports under the arguments: a file named is one (or an error when it is
 * not a shard result); a directory's non-shard reports are skipped, and counted. */
static int gather(char **args, int nargs, char ***paths, json_t ***reps, int *n, int *skipped)
{
    char err[1024];
    *n = 0;
    *skipped = 0;
    for (int a = 0; a < nargs; a++) {
        char **found = NULL;
        int nf = 0;
        struct stat st;
        bool is_file = stat(args[a], &st) == 0 && S_ISREG(st.st_mode);
        int rc = rep_find_reports(args[a], &found, &nf, err, sizeof err);
        if (rc < 0 || nf == 0) {
            fprintf(stderr, "linkbench merge: %s\n", rc < 0 ? err : "no report.json found");
            if (rc == 0)
                fprintf(stderr, "linkbench merge: (in %s)\n", args[a]);
            rep_reports_free(found, nf);
            return -1;
        }
        for (int i = 0; i < nf; i++) {
            json_error_t je;
            json_t *r = json_load_file(found[i], 0, &je);
            if (!r) {
                fprintf(stderr, "linkbench merge: %s: line %d: %s\n", found[i], je.line, je.text);
                rep_reports_free(found, nf);
                return -1;
            }
            if (!run_merge_is_shard(r)) {
                json_decref(r);
                if (is_file) {
                    fprintf(stderr, "linkbench merge: %s: not a shard result (no scenario.shard: "
                            "written without run --shard)\n", found[i]);
                    rep_reports_free(found, nf);
                    return -1;
                }
                (*skipped)++;
                continue;
            }
            *paths = realloc(*paths, (size_t)(*n + 1) * sizeof **paths);
            *reps = realloc(*reps, (size_t)(*n + 1) * sizeof **reps);
            (*paths)[*n] = strdup(found[i]);
            (*reps)[*n] = r;
            (*n)++;
        }
        rep_reports_free(found, nf);
    }
    return 0;
}

/* One step's shards into dir: report.json. 0, 1 (written, invalid), 2 (refused), -1
 * (not written). */
static int merge_step(json_t **reps, char **paths, int n, const char *dir, bool json, json_t **out)
{
    char err[2048];
    json_t *rep = run_merge_reports(reps, (const char *const *)paths, n, err, sizeof err);
    if (!rep) {
        fprintf(stderr, "linkbench merge: %s\n", err);
        return 2;
    }
    char path[4400];
    int rc = run_mkdir_p(dir);
    snprintf(path, sizeof path, "%s/report.json", dir);
    if (rc < 0 || rep_report_write(rep, path, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench merge: cannot write %s: %s\n", path, rc < 0 ? strerror(-rc) : err);
        json_decref(rep);
        return -1;
    }
    if (json) {
        json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    }
    *out = rep;
    return json_is_true(json_object_get(rep, "valid")) ? 0 : 1;
}

int cmd_merge(int argc, char **argv)
{
    bool json = false, quiet = false;
    static const struct option lo[] = {{"json", no_argument, 0, 'j'}, {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return LB_EXIT_OK;
        case 'j':
            json = true;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            fprintf(stderr, "linkbench merge: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return LB_EXIT_USAGE;
        }
    }
    if (argc - optind < 2) {
        fprintf(stderr, "linkbench merge: give OUT and at least one shard report or directory\n");
        usage(stderr);
        return LB_EXIT_USAGE;
    }
    const char *out_dir = argv[optind];
    char **paths = NULL;
    json_t **reps = NULL;
    int n = 0, skipped = 0, rc = LB_EXIT_OK;
    if (gather(argv + optind + 1, argc - optind - 1, &paths, &reps, &n, &skipped) < 0) {
        rc = LB_EXIT_USAGE;
        goto done;
    }
    if (n == 0) {
        fprintf(stderr, "linkbench merge: no shard result among the reports found (%d skipped: "
                "written without run --shard)\n", skipped);
        rc = LB_EXIT_USAGE;
        goto done;
    }
    if (skipped && !quiet)
        fprintf(stderr, "linkbench merge: %d report(s) that are no shard results skipped\n", skipped);
    /* steps: one merged report per link count, in links_<N>/ when there are several */
    int64_t steps[64];
    int ns = 0;
    for (int i = 0; i < n; i++) {
        int64_t l = json_integer_value(json_object_get(json_object_get(reps[i], "scenario"), "links"));
        bool seen = false;
        for (int k = 0; k < ns; k++)
            seen |= steps[k] == l;
        if (!seen && ns < 64)
            steps[ns++] = l;
    }
    for (int k = 0; k < ns && rc != LB_EXIT_USAGE; k++) {
        json_t **sr = malloc((size_t)n * sizeof *sr);
        char **sp = malloc((size_t)n * sizeof *sp);
        int m = 0;
        for (int i = 0; i < n; i++)
            if (json_integer_value(json_object_get(json_object_get(reps[i], "scenario"), "links")) == steps[k])
                sr[m] = reps[i], sp[m++] = paths[i];
        char dir[4200];
        if (ns > 1)
            snprintf(dir, sizeof dir, "%s/links_%lld", out_dir, (long long)steps[k]);
        else
            snprintf(dir, sizeof dir, "%s", out_dir);
        json_t *rep = NULL;
        int r = merge_step(sr, sp, m, dir, json, &rep);
        free(sr);
        free(sp);
        if (r == 2)
            rc = LB_EXIT_USAGE;
        else if (r != 0)
            rc = LB_EXIT_FAIL;
        if (rep && !json && !quiet) {
            rep_table_print(stdout, rep, REP_TABLE_TEXT);
            size_t i;
            json_t *why;
            json_array_foreach(json_object_get(json_object_get(rep, "flags"), "reasons"), i, why)
                printf("invalid: %s\n", json_string_value(why));
        }
        if (rep && !json)
            printf("report: %s/report.json\n", dir);
        json_decref(rep);
    }
    /* report.md, the CSVs and charts, and the expect lines, as run ends */
    if (rc != LB_EXIT_USAGE && rep_run_outputs(out_dir, json ? stderr : stdout, quiet || json))
        rc = rc ? rc : LB_EXIT_FAIL;
done:
    for (int i = 0; i < n; i++) {
        free(paths[i]);
        json_decref(reps[i]);
    }
    free(paths);
    free(reps);
    return rc;
}
