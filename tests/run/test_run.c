/* test_run.c — `linkbench run` end to end: the built binary on tiny scenarios, its report, its exit codes and messages. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "met_names.h"
#include "rep_report.h"
#include "lb_run.h"
#include "lb_tmpdir.h"

static char dir[512];

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_run"); }

static void teardown(void) { lb_tmpdir_remove(dir); }

TestSuite(run, .init = setup, .fini = teardown, .timeout = 300);

static void write_file(const char *name, const char *text) { lb_tmpdir_write(dir, name, text); }

static char *slurp(const char *path) { return lb_slurp(path); }

/* Start linkbench without waiting (stdout/stderr into files); returns its pid. */
static pid_t linkbench_start(const char *const *args) { return lb_start(dir, args, NULL); }

/* Run the built linkbench with args (NULL-terminated), stdout and stderr into files in
 * dir. Returns the exit status (-1 when it did not exit normally). */
static int linkbench(char **out, char **err, const char *const *args)
{
    return lb_run(dir, out, err, args, NULL);
}

static const char *tiny =
    "{\n"
    "  \"name\": \"tiny\",\n"
    "  \"links\": 4,\n"
    "  \"duration_s\": 1,\n"
    "  \"warmup_s\": 0.2,\n"
    "  \"repetitions\": 1,\n"
    "  \"variants\": [\"dual\", \"evloop\"],\n"
    "  \"client\": { \"rate_per_s\": 50, \"payload_bytes\": 64 }\n"
    "}\n";

Test(run, two_variants_write_a_complete_report)
{
    write_file("tiny.json", tiny);
    char res[700], scn[700];
    snprintf(res, sizeof res, "%s/res", dir);
    snprintf(scn, sizeof scn, "%s/tiny.json", dir);
    char *out, *err;
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--out", res, scn, NULL});
    cr_assert_eq(rc, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    /* the table names both variants, then the report's path */
    cr_assert(strstr(out, "dual") && strstr(out, "evloop"), "%s", out);
    cr_assert(strstr(out, "report: "), "%s", out);
    /* not on a terminal: no progress line, nothing but the table on stdout */
    cr_assert_eq(err[0], 0, "stderr: %s", err);

    char pat[800];
    snprintf(pat, sizeof pat, "%s/tiny/*/report.json", res);
    glob_t g;
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no report.json under %s", res);
    cr_assert_eq(g.gl_pathc, 1);
    json_error_t je;
    json_t *rep = json_load_file(g.gl_pathv[0], 0, &je);
    cr_assert_not_null(rep, "%s", je.text);
    cr_assert(json_is_true(json_object_get(rep, "valid")), "report invalid: %s",
              json_dumps(json_object_get(rep, "flags"), 0));
    json_t *sum = json_object_get(rep, "summary");
    const char *variants[] = {"dual", "evloop"};
    for (int v = 0; v < 2; v++) {
        json_t *s = json_object_get(sum, variants[v]);
        cr_assert_not_null(s, "no summary for %s", variants[v]);
        for (const char *const *k = MET_SCALAR_METRICS; *k; k++)
            cr_assert(json_is_number(json_object_get(json_object_get(s, *k), "median")),
                      "%s: %s has no median", variants[v], *k);
        for (const char *const *k = MET_LATENCY_METRICS; *k; k++)
            for (const char *const *p = MET_LATENCY_KEYS; *p; p++)
                cr_assert(json_is_number(json_object_get(
                              json_object_get(json_object_get(s, *k), *p), "median")),
                          "%s: %s.%s has no median", variants[v], *k, *p);
        cr_assert(json_is_object(json_object_get(s, "drops_by_reason")));
        cr_assert_eq(json_number_value(json_object_get(json_object_get(s, "msgs_lost"), "median")), 0);
        cr_assert_eq(json_number_value(json_object_get(json_object_get(s, "links"), "median")), 4);
        /* every message accounted for: something was actually delivered */
        cr_assert_gt(json_number_value(json_object_get(json_object_get(s, "msgs_delivered"), "median")), 0);
    }
    /* dual spends two threads per link, evloop none */
    cr_assert_eq(json_number_value(json_object_get(json_object_get(json_object_get(sum, "dual"),
                 "threads_per_link"), "median")), 2);
    cr_assert_eq(json_number_value(json_object_get(json_object_get(json_object_get(sum, "evloop"),
                 "threads_per_link"), "median")), 0);

    /* one series CSV per run, with a header and rows */
    char *slash = strrchr(g.gl_pathv[0], '/');
    *slash = 0;
    for (int v = 0; v < 2; v++) {
        char p[1000];
        snprintf(p, sizeof p, "%s/series_%s_0.csv", g.gl_pathv[0], variants[v]);
        char *csv = slurp(p);
        cr_assert(strncmp(csv, "t_s,", 4) == 0, "%s: %.80s", p, csv);
        cr_assert(strchr(csv, '\n') && strchr(strchr(csv, '\n') + 1, '\n'), "%s has no rows", p);
        free(csv);
    }
    globfree(&g);
    json_decref(rep);
    free(out);
    free(err);
}

static double metric(json_t *run, const char *k)
{
    return json_number_value(json_object_get(json_object_get(run, "metrics"), k));
}

/* app.mode sink: nothing comes back to the driver, so a client message is delivered when
 * the app takes it. Over a rate limit below the offered rate, poll throws messages away
 * (holes in the app's sequence, each explained by a rate_limited drop) and evloop delays
 * them: both runs account for every message, and what was delivered is counted. */
Test(run, sink_mode_counts_what_the_app_took)
{
    /* poll keeps partial reads: with the seed's 1 ms read deadlines its links can die
     * of a torn frame before the limiter acts (docs/seed-fidelity.md) */
    write_file("sink.json",
               "{ \"name\": \"sink\", \"links\": 4, \"duration_s\": 1, \"warmup_s\": 0.2,"
               " \"repetitions\": 1, \"variants\": [\"evloop\", \"poll\"],"
               " \"variant_config\": { \"poll\": { \"read_keeps_partial\": 1 } },"
               " \"client\": { \"rate_per_s\": 50, \"payload_bytes\": 64 },"
               " \"app\": { \"mode\": \"sink\" }, \"limits\": { \"rate_limit_per_s\": 20 } }\n");
    char scn[700], res[700];
    snprintf(scn, sizeof scn, "%s/sink.json", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    char *out, *err;
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--out", res, scn, NULL});
    cr_assert_eq(rc, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    char pat[800];
    snprintf(pat, sizeof pat, "%s/sink/*/report.json", res);
    glob_t g;
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no report.json under %s", res);
    json_t *rep = json_load_file(g.gl_pathv[0], 0, NULL);
    cr_assert_not_null(rep);
    cr_assert(json_is_true(json_object_get(rep, "valid")), "report invalid: %s",
              json_dumps(json_object_get(rep, "flags"), 0));
    json_t *runs = json_object_get(rep, "runs");
    cr_assert_eq(json_array_size(runs), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *run = json_array_get(runs, i);
        const char *v = json_string_value(json_object_get(run, "variant"));
        double sent = metric(run, "msgs_sent"), delivered = metric(run, "msgs_delivered"),
               dropped = metric(run, "msgs_dropped"), refused = metric(run, "msgs_refused"),
               in_flight = metric(run, "msgs_in_flight"), lost = metric(run, "msgs_lost");
        cr_assert_gt(sent, 0, "%s", v);
        cr_expect_eq(sent, delivered + dropped + refused + in_flight + lost, "%s", v);
        cr_expect_eq(lost, 0, "%s", v);
        cr_expect_geq(in_flight, 0, "%s", v);
        /* delivered = taken by the app, not "everything in flight" */
        cr_expect_gt(delivered, 0, "%s", v);
        cr_expect_lt(in_flight, delivered, "%s: %.0f in flight, %.0f delivered", v, in_flight,
                     delivered);
        json_t *din = json_object_get(json_object_get(run, "metrics"), "dir_in");
        cr_expect_eq(json_integer_value(json_object_get(din, "received_by_app")), delivered, "%s", v);
        cr_expect_gt(metric(run, "throughput_msgs_s"), 0, "%s", v);
        json_t *why = json_object_get(json_object_get(run, "metrics"), "drops_by_reason");
        json_int_t rate_drops = json_integer_value(json_object_get(why, "rate_limited"));
        if (!strcmp(v, "poll")) {
            /* LinkV3 `continue`s past a refused message: holes the drops explain */
            cr_expect_gt(rate_drops, 0);
            cr_expect_gt(json_integer_value(json_object_get(din, "missing_at_app")), 0);
        } else {
            cr_expect_eq(rate_drops, 0, "evloop delays, never drops");
        }
    }
    globfree(&g);
    json_decref(rep);
    free(out);
    free(err);
}

Test(run, bad_scenario_exits_2_with_the_loaders_message)
{
    write_file("bad.json", "{ \"name\": \"bad\", \"links\": -3, \"variants\": [\"dual\"] }\n");
    char scn[700], res[700];
    snprintf(scn, sizeof scn, "%s/bad.json", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    char *out, *err;
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--out", res, scn, NULL});
    cr_assert_eq(rc, 2, "exit %d, stderr: %s", rc, err);
    /* file: key: rule (got value) */
    cr_assert(strstr(err, "bad.json") && strstr(err, "links") && strstr(err, "-3"), "%s", err);
    cr_assert_eq(out[0], 0, "nothing on stdout: %s", out);
    struct stat st;
    cr_assert_neq(stat(res, &st), 0, "no results directory for a scenario that did not load");
    free(out);
    free(err);
}

Test(run, unknown_variant_is_a_usage_error)
{
    write_file("tiny.json", tiny);
    char scn[700], res[700];
    snprintf(scn, sizeof scn, "%s/tiny.json", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    char *out, *err;
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--variant", "dula", "--out", res, scn, NULL});
    cr_assert_eq(rc, 2, "exit %d, stderr: %s", rc, err);
    cr_assert(strstr(err, "dula"), "%s", err);
    free(out);
    free(err);
}

Test(run, unwritable_results_directory_fails_clearly)
{
    write_file("tiny.json", tiny);
    /* a regular file where the results root should be: mkdir fails even for root */
    write_file("not_a_dir", "x\n");
    char scn[700], res[700];
    snprintf(scn, sizeof scn, "%s/tiny.json", dir);
    snprintf(res, sizeof res, "%s/not_a_dir/results", dir);
    char *out, *err;
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--out", res, scn, NULL});
    cr_assert_neq(rc, 0);
    cr_assert_neq(rc, -1, "it must exit, not crash");
    cr_assert(strstr(err, "results directory") && strstr(err, "not_a_dir"), "%s", err);
    free(out);
    free(err);
}

Test(run, usage_errors_exit_2)
{
    char *out, *err;
    cr_assert_eq(linkbench(&out, &err, (const char *const[]){"run", NULL}), 2);
    free(out);
    free(err);
    cr_assert_eq(linkbench(&out, &err, (const char *const[]){"run", "--repeat", "0", "x.json", NULL}), 2);
    cr_assert(strstr(err, "--repeat"), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(linkbench(&out, &err, (const char *const[]){"run", "--help", NULL}), 0);
    cr_assert(strstr(out, "usage: linkbench run"), "%s", out);
    free(out);
    free(err);
}

Test(run, interrupt_writes_a_partial_report_and_fails)
{
    write_file("long.json",
               "{ \"name\": \"long\", \"links\": 4, \"duration_s\": 30, \"warmup_s\": 0.2,"
               " \"repetitions\": 1, \"variants\": [\"evloop\", \"dual\"],"
               " \"client\": { \"rate_per_s\": 50, \"payload_bytes\": 64 } }\n");
    char scn[700], res[700];
    snprintf(scn, sizeof scn, "%s/long.json", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    pid_t pid = linkbench_start((const char *const[]){"run", "--out", res, scn, NULL});
    /* wait until the first run is measuring: its series CSV does not exist yet, but the
     * run directory does; then Ctrl-C (SIGINT to the parent, as a terminal would send) */
    char pat[800];
    snprintf(pat, sizeof pat, "%s/long/*", res);
    glob_t g;
    for (int i = 0; i < 200 && glob(pat, 0, NULL, &g) != 0; i++)
        usleep(20000);
    globfree(&g);
    usleep(1500000);
    cr_assert_eq(kill(pid, SIGINT), 0);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "it must exit cleanly, not die of the signal");
    cr_assert_eq(WEXITSTATUS(st), 1);

    snprintf(pat, sizeof pat, "%s/long/*/report.json", res);
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no partial report.json");
    json_t *rep = json_load_file(g.gl_pathv[0], 0, NULL);
    cr_assert_not_null(rep);
    cr_assert(json_is_true(json_object_get(json_object_get(rep, "flags"), "partial")));
    /* the interrupted run is kept; the variant that never ran is not invented */
    json_t *runs = json_object_get(rep, "runs");
    cr_assert_eq(json_array_size(runs), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(runs, 0), "variant")), "evloop");
    char pe[700];
    snprintf(pe, sizeof pe, "%s/stderr.txt", dir);
    char *err = slurp(pe);
    cr_assert(strstr(err, "interrupted"), "%s", err);
    free(err);
    json_decref(rep);
    globfree(&g);
}

Test(run, serve_listens_then_reports_on_sigterm)
{
    pid_t pid = linkbench_start((const char *const[]){"serve", "--variant", "evloop", NULL});
    char po[700];
    snprintf(po, sizeof po, "%s/stdout.txt", dir);
    char *out = NULL;
    for (int i = 0; i < 500; i++) {
        free(out);
        out = slurp(po);
        if (strchr(out, '\n'))
            break;
        usleep(20000);
    }
    cr_assert(strncmp(out, "127.0.0.1:", 10) == 0, "first line: %s", out);
    free(out);
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
    out = slurp(po);
    json_t *rep = json_loads(strchr(out, '\n') + 1, 0, NULL);
    cr_assert_not_null(rep, "%s", out);
    cr_assert_str_eq(json_string_value(json_object_get(rep, "variant")), "evloop");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(rep, "links"), "attached")), 0);
    cr_assert(json_is_object(json_object_get(rep, "groups")));
    json_decref(rep);
    free(out);
}

/* Run tiny.json with --variant mod (a path to evloop.so or a copy): it runs like a
 * built-in, its files named by the module's base name. */
static void run_module_by_path(const char *mod)
{
    char res[700], scn[700], pat[800];
    write_file("tiny.json", tiny);
    snprintf(res, sizeof res, "%s/res", dir);
    snprintf(scn, sizeof scn, "%s/tiny.json", dir);
    char *out, *err;
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--variant", mod, "--out", res, scn, NULL});
    cr_assert_eq(rc, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    snprintf(pat, sizeof pat, "%s/tiny/*/series_evloop_0.csv", res);
    glob_t g;
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no %s\nstderr:\n%s", pat, err);
    globfree(&g);
    free(out);
    free(err);
}

/* A user's module given by absolute path runs like a built-in: its files are named by the
 * module's base name (a path's slashes cannot go into a file name). */
Test(run, variant_by_absolute_path_names_its_files_by_base_name)
{
    const char *vdir = getenv("LINKBENCH_VARIANT_DIR");
    cr_assert_not_null(vdir);
    char mod[700];
    snprintf(mod, sizeof mod, "%s/evloop.so", vdir);
    cr_assert_eq(mod[0], '/', "LINKBENCH_VARIANT_DIR is not absolute: %s", vdir);
    run_module_by_path(mod);
}

/* A module path is as long as the file system allows (a clone deep in a home directory):
 * here a copy of evloop.so at a path of more than 300 characters. */
Test(run, variant_by_a_long_path_runs)
{
    const char *vdir = getenv("LINKBENCH_VARIANT_DIR");
    cr_assert_not_null(vdir);
    char src[700], mod[1200];
    snprintf(src, sizeof src, "%s/evloop.so", vdir);
    int off = snprintf(mod, sizeof mod, "%s", dir);
    for (int i = 0; i < 6; i++) {
        off += snprintf(mod + off, sizeof mod - (size_t)off,
                        "/a-directory-name-of-fifty-characters-%02d-xxxxxxxxx", i);
        cr_assert(mkdir(mod, 0700) == 0 || errno == EEXIST, "mkdir %s", mod);
    }
    snprintf(mod + off, sizeof mod - (size_t)off, "/evloop.so");
    cr_assert_gt(strlen(mod), 300);
    FILE *in = fopen(src, "rb"), *out_f = fopen(mod, "wb");
    cr_assert(in && out_f, "copy %s to %s", src, mod);
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        cr_assert_eq(fwrite(buf, 1, n, out_f), n);
    fclose(in);
    fclose(out_f);
    run_module_by_path(mod);
}

/* A variant instance: the same module twice in one run under two names, each with its
 * params. While the app is paused, batch blocks (nothing dropped) and its instance with
 * the seed's proposed non-blocking delivery drops what finds its queue full; the report,
 * its files, its charts' data and the expect lines know both by name. */
Test(run, an_instance_runs_beside_its_module_under_its_own_name)
{
    write_file("inst.json",
               "{\"name\": \"inst\", \"links\": 4, \"duration_s\": 1, \"warmup_s\": 0.2,"
               " \"repetitions\": 1,"
               " \"variants\": [\"batch\", {\"name\": \"batch+nb\", \"variant\": \"batch\","
               " \"config\": {\"nonblocking_delivery\": 1}}],"
               " \"variant_config\": {\"batch\": {\"recv_queue_len\": 2}},"
               " \"client\": {\"rate_per_s\": 100},"
               " \"faults\": [{\"at_s\": 0, \"kind\": \"pause_app\", \"duration_s\": 0.8}],"
               " \"expect\": [\"*.msgs_lost == 0\", \"batch.msgs_dropped == 0\","
               " \"batch+nb.drops_by_reason.recv_queue_full > 0\"]}\n");
    char res[700], scn[700], pat[800];
    snprintf(res, sizeof res, "%s/res", dir);
    snprintf(scn, sizeof scn, "%s/inst.json", dir);
    char *out, *err;
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--out", res, scn, NULL});
    cr_assert_eq(rc, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    cr_expect(strstr(out, "expect: 4 held, 0 failed"), "%s", out);   /* the * line twice */
    snprintf(pat, sizeof pat, "%s/inst/*/report.json", res);
    glob_t g;
    cr_assert_eq(glob(pat, 0, NULL, &g), 0);
    json_t *rep = json_load_file(g.gl_pathv[0], 0, NULL);
    cr_assert_not_null(rep);
    json_t *sum = json_object_get(rep, "summary");
    cr_expect_not_null(json_object_get(sum, "batch"));
    cr_expect_not_null(json_object_get(sum, "batch+nb"));
    json_t *inst = json_array_get(json_object_get(json_object_get(rep, "config"), "variants"), 1);
    cr_expect_str_eq(json_string_value(json_object_get(inst, "variant")), "batch");
    cr_expect_str_eq(rep_variant_module(rep, "batch+nb"), "batch");
    cr_expect_eq(json_integer_value(json_object_get(rep_variant_config(rep, "batch+nb"),
                                                    "nonblocking_delivery")), 1);
    /* the server ran batch's module for both */
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(rep, "runs"), i, run)
        cr_expect_str_eq(json_string_value(json_object_get(json_object_get(run, "server"), "variant")),
                         "batch");
    char *slash = strrchr(g.gl_pathv[0], '/');
    *slash = 0;
    static const char *const files[] = {"series_batch+nb_0.csv", "lat_in_batch+nb.csv", "report.md"};
    for (int k = 0; k < 3; k++) {
        char p[1000];
        snprintf(p, sizeof p, "%s/%s", g.gl_pathv[0], files[k]);
        cr_expect_eq(access(p, R_OK), 0, "%s", p);
    }
    char p[1000];
    snprintf(p, sizeof p, "%s/report.md", g.gl_pathv[0]);
    char *md = slurp(p);
    cr_expect(strstr(md, "| batch+nb |") && strstr(md, "batch's: blocks"), "%s", md);
    free(md);
    globfree(&g);
    json_decref(rep);
    free(out);
    free(err);
}

/* A lossless design under an app slower than the offered load still holds a backlog
 * when the measurement ends; the teardown discards it. That backlog is in flight at the
 * end, not dropped: msgs_dropped counts only what the server threw away while the
 * driver ran, and the identity still closes. */
Test(run, teardown_discards_are_in_flight_not_drops)
{
    write_file("slow.json",
               "{ \"name\": \"slow\", \"links\": 4, \"duration_s\": 1, \"warmup_s\": 0.2,"
               " \"repetitions\": 1, \"variants\": [\"evloop\"],"
               " \"client\": { \"rate_per_s\": 400, \"payload_bytes\": 64 },"
               " \"app\": { \"mode\": \"echo\", \"workers\": 1, \"service_time_us\": 5000 } }\n");
    char scn[700], res[700], pat[800];
    snprintf(scn, sizeof scn, "%s/slow.json", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    char *out, *err;
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--out", res, scn, NULL});
    cr_assert_eq(rc, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    snprintf(pat, sizeof pat, "%s/slow/*/report.json", res);
    glob_t g;
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no report.json under %s", res);
    json_t *rep = json_load_file(g.gl_pathv[0], 0, NULL);
    cr_assert_not_null(rep);
    json_t *run = json_array_get(json_object_get(rep, "runs"), 0);
    double sent = metric(run, "msgs_sent"), delivered = metric(run, "msgs_delivered"),
           dropped = metric(run, "msgs_dropped"), refused = metric(run, "msgs_refused"),
           in_flight = metric(run, "msgs_in_flight"), lost = metric(run, "msgs_lost"),
           teardown = metric(run, "msgs_discarded_at_teardown");
    /* 1 600 msg/s offered against at most 200/s served: a backlog is certain */
    cr_expect_gt(in_flight, 0);
    cr_expect_eq(dropped, 0, "evloop is lossless: %.0f dropped", dropped);
    cr_expect_eq(lost, 0);
    cr_expect_leq(teardown, in_flight, "what the teardown discarded is part of in flight");
    cr_expect_eq(sent, delivered + dropped + refused + in_flight + lost);
    json_decref(rep);
    globfree(&g);
    free(out);
    free(err);
}

/* Repetitions are interleaved and the order rotates by one each repetition: A B C,
 * B C A, C A B. The report's runs are in the order they ran. */
Test(run, variant_order_rotates_each_repetition)
{
    write_file("order.json",
               "{ \"name\": \"order\", \"links\": 2, \"duration_s\": 0.3, \"warmup_s\": 0.1,"
               " \"repetitions\": 3, \"variants\": [\"dual\", \"batch\", \"evloop\"],"
               " \"client\": { \"rate_per_s\": 20, \"payload_bytes\": 64 } }\n");
    char scn[700], res[700], pat[800];
    snprintf(scn, sizeof scn, "%s/order.json", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    char *out, *err;
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--out", res, scn, NULL});
    cr_assert_eq(rc, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    snprintf(pat, sizeof pat, "%s/order/*/report.json", res);
    glob_t g;
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no report.json under %s", res);
    json_t *rep = json_load_file(g.gl_pathv[0], 0, NULL);
    cr_assert_not_null(rep);
    json_t *runs = json_object_get(rep, "runs");
    static const char *const want[9][2] = {
        {"dual", "0"}, {"batch", "0"}, {"evloop", "0"},
        {"batch", "1"}, {"evloop", "1"}, {"dual", "1"},
        {"evloop", "2"}, {"dual", "2"}, {"batch", "2"}};
    cr_assert_eq(json_array_size(runs), 9);
    for (int i = 0; i < 9; i++) {
        json_t *r = json_array_get(runs, (size_t)i);
        const char *v = json_string_value(json_object_get(r, "variant"));
        int rp = (int)json_integer_value(json_object_get(r, "rep"));
        cr_expect_str_eq(v, want[i][0], "run %d: %s rep %d", i, v, rp);
        cr_expect_eq(rp, atoi(want[i][1]), "run %d: %s rep %d", i, v, rp);
    }
    json_decref(rep);
    globfree(&g);
    free(out);
    free(err);
}
