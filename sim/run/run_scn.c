/* run_scn.c — a scenario or suite file end to end: load and check, interleave variants over repetitions, write report.json, print the table. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "link_registry.h"
#include "met_machine.h"
#include "run_plan.h"
#include "rep_plot.h"
#include "rep_report.h"
#include "rep_table.h"
#include "run.h"
#include "run_go.h"
#include "run_progress.h"
#include "run_remeasure.h"
#include "run_scale.h"
#include "run_suite.h"

void run_opts_default(run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->out_dir = "results";
}

/* mkdir -p; 0 or -errno with "path: reason" in err. */
static int mkdirs(const char *path, char *err, size_t errlen)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1;; s++) {
        bool end = *s == 0;
        if (*s == '/' || end) {
            *s = 0;
            if (mkdir(p, 0777) < 0 && errno != EEXIST) {
                int e = errno;
                snprintf(err, errlen, "cannot create results directory %s: %s", p, strerror(e));
                return -e;
            }
            if (end)
                break;
            *s = '/';
        }
    }
    /* EEXIST of a file that is no directory, or a directory we cannot write into */
    if (access(path, W_OK | X_OK) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot write into results directory %s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}

/* out/<name>/<timestamp>[-n]: a fresh directory per invocation. */
int run_make_dir(const char *out, const char *name, char *dir, size_t len, char *err,
                 size_t errlen)
{
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
    char parent[4096];
    snprintf(parent, sizeof parent, "%s/%s", out, name);
    int rc = mkdirs(parent, err, errlen);
    if (rc < 0)
        return rc;
    for (int n = 1; n < 100; n++) {
        int w = n == 1 ? snprintf(dir, len, "%s/%s", parent, ts)
                       : snprintf(dir, len, "%s/%s-%d", parent, ts, n);
        if (w >= (int)len) {
            snprintf(err, errlen, "%s: path too long", parent);
            return -ENAMETOOLONG;
        }
        if (mkdir(dir, 0777) == 0)
            return 0;
        if (errno != EEXIST) {
            int e = errno;
            snprintf(err, errlen, "cannot create results directory %s: %s", dir, strerror(e));
            return -e;
        }
    }
    snprintf(err, errlen, "%s: too many runs in one second", parent);
    return -EEXIST;
}

/* Parse one scenario, then the suite's scaling and the command line's overrides, in that
 * order (a --links given by hand wins over a suite's links_factor). The parser's error
 * count (0: parsed). Shared by built-in and --target runs. */
int run_parse_overridden(const run_opts *o, const char *file, const struct scn_scaling *sc,
                         struct scn *s, struct scn_diag *d)
{
    int errs = scn_parse_file(file, s, d);
    if (!errs && sc)
        scn_apply_scaling(s, sc);
    if (!errs && o->links > 0)
        scn_override_links(s, o->links);
    if (!errs && o->duration_s > 0)
        scn_override_duration(s, o->duration_s);
    if (!errs && o->repeat > 0)
        scn_override_repetitions(s, o->repeat);
    if (!errs && o->remeasure_set)
        s->driver_remeasure = o->remeasure;
    return errs;
}

/* Load, override and validate one scenario with the variants' real param tables (the
 * modules are loaded here only to read them: the server child loads its own). Errors
 * are printed as the loader words them. 0 or -1. */
int run_load_scenario(const run_opts *o, const char *file, const struct scn_scaling *sc,
                      struct scn *s)
{
    struct scn_diag d;
    scn_diag_init(&d);
    int errs = run_parse_overridden(o, file, sc, s, &d);
    char vlist[1024];
    if (!errs && o->variants && run_go_expand(o->variants, vlist, sizeof vlist) < 0) {
        scn_diag_add(&d, "--variant: list too long (got \"%s\")", o->variants);
        errs++;
    }
    if (!errs && o->variants && scn_override_variants(s, vlist, &d) < 0)
        errs++;
    /* the catalog holds modules: an instance is checked against its variant's table */
    link_module *mods[SCN_VARIANTS_MAX] = {0};
    struct scn_variant_info info[SCN_VARIANTS_MAX];
    int n = 0;
    if (!errs) {
        for (int i = 0; i < s->n_variants; i++) {
            char err[1024];
            const char *name = scn_variant_module(s, s->variants[i]);
            bool seen = false;
            for (int j = 0; j < n; j++) seen |= !strcmp(info[j].name, name);
            if (seen || scn_instance_find(s, name))
                continue;   /* loaded already; an instance of an instance is the validator's */
            /* go:<design>: the Go server takes its C port's params (run_go.h) */
            const char *twin = run_go_design(name);
            char gopath[4096];
            if (twin && run_go_server_path(gopath, sizeof gopath, err, sizeof err) < 0) {
                scn_diag_add(&d, "%s: variants: %s: %s", file, name, err), errs++;
                continue;
            }
            int rc = link_module_load(twin ? twin : name, &mods[n], err, sizeof err);
            if (rc == 0) {
                info[n] = (struct scn_variant_info){.name = name, .v = mods[n]->v};
                n++;
            } else if (rc != -ENOENT || strchr(name, '/')) {
                scn_diag_add(&d, "%s: variants: %s", file, err), errs++;
            }
            /* an unknown plain name is left to the validator ("did you mean ...") */
        }
    }
    if (!errs) {
        struct scn_catalog cat = {.variants = info, .n = n};
        errs = scn_validate(s, &cat, file, &d);
    }
    for (int i = 0; i < SCN_VARIANTS_MAX; i++)
        link_module_unload(mods[i]);
    if (errs && d.text)
        fputs(d.text, stderr);
    if (errs && d.text && d.len && d.text[d.len - 1] != '\n')
        fputc('\n', stderr);
    scn_diag_deinit(&d);
    return errs ? -1 : 0;
}

static json_t *machine_json(const met_machine *m, const struct scn *s)
{
    json_t *j = met_machine_json(m);
    if (!j)
        return json_object();
    json_t *ps = json_array(), *pd = json_array();
    for (int i = 0; i < s->n_pin_server; i++)
        json_array_append_new(ps, json_integer(s->pin_server[i]));
    for (int i = 0; i < s->n_pin_driver; i++)
        json_array_append_new(pd, json_integer(s->pin_driver[i]));
    /* per-run placement (the CPUs each process ran on) is in runs[].placement */
    json_object_set_new(j, "pinning", json_pack("{s:o,s:o}", "server", ps, "driver", pd));
    return j;
}

static double med(const json_t *sum, const char *metric, const char *key)
{
    const json_t *m = json_object_get(sum, metric);
    if (key)
        m = json_object_get(m, key);
    const json_t *v = json_object_get(m, "median");
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* What the table has no column for but a reader must not miss: the open-loop latency
 * beside the one a closed-loop tool would report (METHOD.md, 1), and Little's law. */
static void print_notes(const json_t *rep)
{
    const char *v;
    const json_t *sum;
    json_object_foreach(json_object_get(rep, "summary"), v, sum) {
        double c = med(sum, "lat_rtt_us", "p99"), u = med(sum, "lat_rtt_uncorrected_us", "p99");
        if (c > 1.5 * u)
            printf("note: %s: round trip p99 %.0f µs from the schedule, %.0f µs from the actual "
                   "send (a closed-loop tool would report the latter)\n", v, c, u);
        double pred = med(sum, "little", "predicted"), meas = med(sum, "little", "measured");
        if (pred > 1 && fabs(meas - pred) > 0.5 * pred)
            printf("note: %s: Little's law: %.1f echoes in flight measured, %.1f predicted "
                   "(throughput x mean round trip)\n", v, meas, pred);
    }
}

/* Every (variant, repetition) of one link count, interleaved and rotated:
 * A B C, B C A, C A B (run_plan_order). */
static int run_links(const run_opts *o, const char *file, const struct scn *s, int64_t links,
                     const char *dir)
{
    met_machine mm;
    met_machine_begin(&mm);
    json_t *runs = json_array(), *discarded = json_array();
    int failed = 0, total = (int)s->repetitions * s->n_variants, k = 0;
    for (int rep = 0; rep < s->repetitions && !run_interrupted; rep++)
        for (int i = 0; i < s->n_variants && !run_interrupted; i++) {
            int v = run_plan_order(rep, i, s->n_variants);
            char label[256];
            snprintf(label, sizeof label, "%s  %s  rep %d/%d  (run %d/%d)", s->name,
                     s->variants[v], rep + 1, (int)s->repetitions, ++k, total);
            run_progress_run_start(s->variants[v], rep, (int)s->repetitions, links,
                                   run_progress_estimate(s, links));
            int rc = run_one(o, s, links, s->variants[v], rep, dir, label, runs);
            run_progress_run_end();
            /* the instrument, not the variant, was the bottleneck: measure this one again
             * (bounded); the run set aside stays in the report */
            for (int a = 0; !rc && !run_interrupted &&
                            run_remeasure_take(runs, discarded, a, (int)s->driver_remeasure, dir); a++) {
                if (o->progress)
                    fprintf(stderr, "linkbench: %s  %s  rep %d: the driver was saturated: measured again (%d of at most %d)\n",
                            s->name, s->variants[v], rep + 1, a + 1, (int)s->driver_remeasure);
                run_progress_run_start(s->variants[v], rep, (int)s->repetitions, links,
                                       run_progress_estimate(s, links));
                rc = run_one(o, s, links, s->variants[v], rep, dir, label, runs);
                run_progress_run_end();
            }
            failed |= rc;
        }
    met_machine_end(&mm);

    json_t *scen = json_pack("{s:s,s:s,s:s,s:I}", "name", s->name, "file", file, "description",
                             s->description, "links", (json_int_t)links);
    json_t *mach = machine_json(&mm, s);
    json_t *conf = scn_to_json(s);
    json_t *rep = run_report_emit(o, dir, scen, mach, conf, runs, discarded);
    if (!rep)
        return 1;
    if (!o->json && !o->quiet) {
        rep_table_title(stdout, rep);
        rep_table_print_width(stdout, rep, REP_TABLE_TEXT, run_progress_columns(STDOUT_FILENO));
        const json_t *fl = json_object_get(rep, "flags");
        if (json_is_true(json_object_get(fl, "driver_saturated")))
            printf("note: the driver was saturated in some runs (see notes): those figures "
                   "measure the load generator, not the variant\n");
        print_notes(rep);
        json_int_t nre = json_integer_value(json_object_get(fl, "remeasured"));
        if (nre > 0)
            printf("note: %lld run%s set aside, the driver saturated, and measured again "
                   "(report.md \"Measured again\")\n", (long long)nre, nre > 1 ? "s" : "");
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(fl, "reasons"), i, r)
            printf("invalid: %s\n", json_string_value(r));
    }
    if (!o->json)
        printf("report: %s/report.json\n", dir);
    fflush(stdout);
    bool valid = json_is_true(json_object_get(rep, "valid"));
    json_decref(rep);
    return failed || !valid || run_interrupted ? 1 : 0;
}

int run_scenario_in(const run_opts *o, const char *file, const struct scn *s, const char *dir)
{
    char err[4600];
    int rc = 0;
    if (!s->n_steps)
        rc = run_links(o, file, s, s->links, dir);
    for (int i = 0; i < s->n_steps && !run_interrupted; i++) {
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/links_%lld", dir, (long long)s->steps[i]);
        if (mkdirs(sub, err, sizeof err) < 0) {
            fprintf(stderr, "linkbench: %s\n", err);
            return LB_RUN_FAIL;
        }
        rc |= run_links(o, file, s, s->steps[i], sub);
    }
    /* the steps side by side: steps.json and scale.csv (run_scale.h) */
    if (s->n_steps && run_scale_write(dir, s->steps, s->n_steps, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench: cannot write the step summary: %s\n", err);
        rc |= 1;
    }
    /* beside each report.json: report.md, chart data, charts; then the expect lines */
    rc |= rep_run_outputs(dir, o->json ? stderr : stdout, o->quiet || o->json);
    return rc;
}

json_t *run_report_emit(const run_opts *o, const char *dir, json_t *scen, json_t *mach,
                        json_t *conf, json_t *runs, json_t *discarded)
{
    char err[1024];
    json_t *rep = rep_report_build(scen, mach, conf, runs, err, sizeof err);
    run_remeasure_attach(rep, discarded);
    json_decref(scen);
    json_decref(mach);
    json_decref(conf);
    json_decref(runs);
    if (!rep) {
        fprintf(stderr, "linkbench: report: %s\n", err);
        return NULL;
    }
    if (run_interrupted) {
        /* Ctrl-C: what was measured is kept, marked so nobody mistakes it for a result */
        json_object_set_new(rep, "partial", json_true());
        json_object_set_new(json_object_get(rep, "flags"), "partial", json_true());
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/report.json", dir);
    if (rep_report_write(rep, path, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench: cannot write the report: %s\n", err);
        json_decref(rep);
        return NULL;
    }
    if (o->json) {
        json_dumpf(rep, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    }
    return rep;
}

int run_file(const run_opts *o, const char *file)
{
    if (run_is_suite(file))
        return run_suite_file(o, file);
    struct scn s;
    if (run_load_scenario(o, file, NULL, &s) < 0)
        return LB_RUN_USAGE;
    int runs = 0;
    double est = 0;
    run_progress_count(&s, &runs, &est);
    run_progress_plan(1, runs, est);
    run_progress_scenario(1, s.name);
    char dir[4096], err[4600];
    if (run_make_dir(o->out_dir, s.name, dir, sizeof dir, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench: %s\n", err);
        return LB_RUN_FAIL;
    }
    int rc = run_scenario_in(o, file, &s, dir);
    return run_finish(o, dir, rc);
}
