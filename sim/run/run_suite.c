/* run_suite.c — a suite run under one directory (suite.json, one subdirectory per scenario), and the end of every run: index.html, the verdict, the page's path last. */
#include "run_suite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lb_file.h"
#include "rep_page.h"
#include "rep_report.h"
#include "run_progress.h"

bool run_is_suite(const char *file)
{
    json_t *j = json_load_file(file, 0, NULL);
    bool suite = json_is_object(j) && json_object_get(j, "scenarios");
    json_decref(j);
    return suite;
}

static int write_json(const json_t *j, const char *dir, const char *name)
{
    char path[4200], err[4600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int rc = text ? lb_write_atomic(path, text, strlen(text), err, sizeof err) : -ENOMEM;
    if (rc < 0)
        fprintf(stderr, "linkbench: %s\n", text ? err : "out of memory");
    free(text);
    return rc;
}

static void duration(char *out, size_t len, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 60)
        snprintf(out, len, "%ld min %02ld s", t / 60, t % 60);
    else
        snprintf(out, len, "%ld s", t);
}

int run_finish(const run_opts *o, const char *dir, int rc)
{
    char page[4200], err[4600];
    snprintf(page, sizeof page, "%s/index.html", dir);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    rep_verdict v;
    memset(&v, 0, sizeof v);
    rep_page_opts po = {.page_path = page, .err = stderr};
    char *dirs[] = {(char *)dir};
    int prc = m ? rep_page_write(m, dirs, 1, &po, &v) : -ENOMEM;
    if (m)
        fclose(m);
    if (prc == 0 && lb_write_atomic(page, buf, len, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench: cannot write the page: %s\n", err);
        prc = -EIO;
    }
    free(buf);
    FILE *out = o->json ? stderr : stdout;
    if (!o->quiet && v.reports > 0) {
        rep_verdict_print(out, &v);
        char d[64];
        duration(d, sizeof d, run_progress_elapsed());
        fprintf(out, "took %s; results in %s/\n", d, dir);
    }
    if (prc == 0)
        fprintf(out, "page: %s\n", page);
    else if (prc != -ENOENT)
        rc |= 1;
    fflush(out);
    return rc;
}

int run_scenario_dir(const char *suite_dir, const char *name, char *out, size_t len)
{
    for (int n = 1; n < 100; n++) {
        int w = n == 1 ? snprintf(out, len, "%s/%s", suite_dir, name)
                       : snprintf(out, len, "%s/%s-%d", suite_dir, name, n);
        if (w >= (int)len)
            return -ENAMETOOLONG;
        if (mkdir(out, 0777) == 0)
            return 0;
        if (errno != EEXIST) {
            int e = errno;
            fprintf(stderr, "linkbench: cannot create results directory %s: %s\n", out, strerror(e));
            return -e;
        }
    }
    return -EEXIST;
}

int run_suite_file(const run_opts *o, const char *file)
{
    struct scn_suite suite;
    struct scn_diag d;
    scn_diag_init(&d);
    if (scn_suite_load(file, &suite, &d) > 0) {
        if (d.text)
            fputs(d.text, stderr);
        scn_diag_deinit(&d);
        return LB_RUN_USAGE;
    }
    scn_diag_deinit(&d);
    /* check every scenario before running any: a typo in the last must not cost an hour */
    struct scn *all = calloc((size_t)suite.n, sizeof *all);
    int rc = all ? 0 : LB_RUN_FAIL, runs = 0;
    double est = 0;
    for (int i = 0; all && i < suite.n; i++) {
        if (run_load_scenario(o, suite.entries[i].path, &suite.entries[i].scaling, &all[i]) < 0)
            rc = LB_RUN_USAGE;
        else
            run_progress_count(&all[i], &runs, &est);
    }
    char dir[4096], err[4600];
    if (rc == 0 && run_make_dir(o->out_dir, suite.name, dir, sizeof dir, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench: %s\n", err);
        rc = LB_RUN_FAIL;
    }
    if (rc) {
        free(all);
        scn_suite_deinit(&suite);
        return rc;
    }
    run_progress_plan(suite.n, runs, est);
    if (!o->quiet && !o->json) {
        printf("suite %s: %d scenarios, %d runs, about %.0f min expected; results in %s/\n",
               suite.name, suite.n, runs, est / 60 < 1 ? 1 : est / 60 + 0.5, dir);
        fflush(stdout);
    }
    time_t t0 = time(NULL);
    char started[32];
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t0));
    json_t *sj = json_pack("{s:s,s:s,s:s,s:s,s:[],s:b}", "name", suite.name, "description",
                           suite.description, "file", file, "started", started, "scenarios",
                           "complete", 0);
    int fails = 0;
    for (int i = 0; i < suite.n && !run_interrupted; i++) {
        char sd[4300];
        if (run_scenario_dir(dir, all[i].name, sd, sizeof sd) < 0) {
            fails = 1;
            break;
        }
        json_array_append_new(json_object_get(sj, "scenarios"), json_string(strrchr(sd, '/') + 1));
        write_json(sj, dir, "suite.json");
        run_progress_scenario(i + 1, all[i].name);
        fails |= run_scenario_in(o, suite.entries[i].path, &all[i], sd);
    }
    json_object_set_new(sj, "complete", json_boolean(!run_interrupted));
    json_object_set_new(sj, "duration_s", json_real(run_progress_elapsed()));
    write_json(sj, dir, "suite.json");
    json_decref(sj);
    free(all);
    scn_suite_deinit(&suite);
    return run_finish(o, dir, fails ? LB_RUN_FAIL : 0);
}
