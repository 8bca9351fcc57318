/* test_remeasure.c — a repetition whose driver was saturated is measured again, up to driver.remeasure times; the runs set aside are kept in report.json and report.md with why, and the report is flagged only when saturation persists. */
#include <criterion/criterion.h>
#include <glob.h>
#include <sched.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lb_run.h"
#include "lb_tmpdir.h"

static char dir[512];

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_remeasure"); }

static void teardown(void) { lb_tmpdir_remove(dir); }

TestSuite(remeasure, .init = setup, .fini = teardown, .timeout = 300);

/* driver.saturated_cpu forced far below any driver's CPU: every run is saturated (cpu),
 * so every repetition is measured again as often as allowed and stays saturated. */
static void write_scenario(const char *name, const char *driver)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fprintf(f, "{\"name\": \"sat\", \"links\": 4, \"duration_s\": 0.3, \"warmup_s\": 0.1,\n"
               " \"repetitions\": 2, \"variants\": [\"evloop\"],\n"
               " \"client\": {\"rate_per_s\": 50, \"payload_bytes\": 64},\n"
               " \"driver\": %s}\n", driver);
    fclose(f);
}

/* Run it; the report (caller frees) and the directory it is in (into rdir). */
static json_t *run(const char *scn, const char *const *extra, char *rdir, size_t rlen)
{
    char res[700], sp[700];
    snprintf(res, sizeof res, "%s/res", dir);
    snprintf(sp, sizeof sp, "%s/%s", dir, scn);
    const char *args[12] = {"run", "--quiet", "--out", res};
    int n = 4;
    for (; extra && *extra; extra++)
        args[n++] = *extra;
    args[n++] = sp;
    args[n] = NULL;
    char *out, *err;
    int rc = lb_run(dir, &out, &err, args, NULL);
    cr_assert_eq(rc, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    char pat[800];
    snprintf(pat, sizeof pat, "%s/sat/*/report.json", res);
    glob_t g;
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no report under %s", res);
    cr_assert_eq(g.gl_pathc, 1);
    json_error_t je;
    json_t *rep = json_load_file(g.gl_pathv[0], 0, &je);
    cr_assert_not_null(rep, "%s", je.text);
    snprintf(rdir, rlen, "%s", g.gl_pathv[0]);
    *strrchr(rdir, '/') = 0;
    globfree(&g);
    free(out);
    free(err);
    return rep;
}

Test(remeasure, a_saturated_repetition_is_measured_again_and_the_set_aside_runs_are_kept)
{
    write_scenario("sat.json", "{\"saturated_cpu\": 0.000001, \"remeasure\": 2}");
    char rdir[800];
    json_t *rep = run("sat.json", NULL, rdir, sizeof rdir);
    /* two repetitions kept, each measured three times: four runs set aside, in order */
    json_t *runs = json_object_get(rep, "runs"), *d = json_object_get(rep, "discarded_runs");
    cr_assert_eq(json_array_size(runs), 2);
    cr_assert_eq(json_array_size(d), 4, "%s", json_dumps(d, 0));
    for (size_t i = 0; i < 4; i++) {
        json_t *x = json_array_get(d, i);
        cr_assert_eq(json_integer_value(json_object_get(x, "rep")), (json_int_t)(i / 2));
        json_t *why = json_object_get(x, "discarded");
        cr_assert_eq(json_integer_value(json_object_get(why, "attempt")), (json_int_t)(i % 2 + 1));
        cr_assert(strstr(json_string_value(json_object_get(why, "why")), "saturated (cpu"),
                  "%s", json_string_value(json_object_get(why, "why")));
        cr_assert(json_is_true(json_object_get(json_object_get(x, "flags"), "driver_saturated")));
        /* what it measured stays; its series file is its own */
        cr_assert_gt(json_integer_value(json_object_get(json_object_get(json_object_get(x, "metrics"),
                     "driver"), "links_established")), 0);
        char want[64], p[1000];
        snprintf(want, sizeof want, "series_evloop_%zu_discarded%zu.csv", i / 2, i % 2 + 1);
        cr_assert_str_eq(json_string_value(json_object_get(x, "series")), want);
        snprintf(p, sizeof p, "%s/%s", rdir, want);
        cr_assert_eq(access(p, R_OK), 0, "%s missing", p);
        cr_assert_null(json_object_get(x, "histograms"));
    }
    /* saturation persisted: the report is flagged and check refuses it */
    json_t *fl = json_object_get(rep, "flags");
    cr_assert(json_is_true(json_object_get(fl, "driver_saturated")));
    cr_assert_eq(json_integer_value(json_object_get(fl, "remeasured")), 4);
    char md[900];
    snprintf(md, sizeof md, "%s/report.md", rdir);
    char *text = lb_slurp(md);
    cr_assert(strstr(text, "## Measured again") && strstr(text, "| evloop | 2 | 2 | the driver was saturated (cpu"),
              "%s", text);
    free(text);
    char rj[900], *out, *err;
    snprintf(rj, sizeof rj, "%s/report.json", rdir);
    cr_assert_eq(lb_run(dir, &out, &err, (const char *const[]){"check", rj, NULL}, NULL), 1, "%s", out);
    cr_assert(strstr(out, "the driver was saturated"), "%s", out);
    free(out);
    free(err);
    json_decref(rep);
}

/* --remeasure 0: each saturated run is kept as measured, nothing set aside. */
Test(remeasure, the_command_line_overrides_the_scenario)
{
    write_scenario("sat.json", "{\"saturated_cpu\": 0.000001, \"remeasure\": 3}");
    char rdir[800];
    json_t *rep = run("sat.json", (const char *const[]){"--remeasure", "0", NULL}, rdir, sizeof rdir);
    cr_assert_eq(json_array_size(json_object_get(rep, "runs")), 2);
    cr_assert_eq(json_array_size(json_object_get(rep, "discarded_runs")), 0);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(rep, "flags"), "remeasured")), 0);
    cr_assert(json_is_true(json_object_get(json_object_get(rep, "flags"), "driver_saturated")));
    json_decref(rep);
}

/* A driver that is not saturated is measured once: nothing set aside. */
Test(remeasure, an_unsaturated_run_is_measured_once)
{
    write_scenario("ok.json", "{\"saturated_cpu\": 1, \"saturated_lag_us\": 10000000, \"remeasure\": 2}");
    char rdir[800];
    json_t *rep = run("ok.json", NULL, rdir, sizeof rdir);
    cr_assert_eq(json_array_size(json_object_get(rep, "runs")), 2);
    cr_assert_eq(json_array_size(json_object_get(rep, "discarded_runs")), 0);
    cr_assert(json_is_false(json_object_get(json_object_get(rep, "flags"), "driver_saturated")));
    json_decref(rep);
}

/* The stall probe's tests: one evloop run with 2.6 s of load, the cpu and lag rules out
 * of reach, measured again at most once; started, and its report once it has exited. */
static pid_t probe_run_start(void)
{
    char p[700], res[700];
    snprintf(p, sizeof p, "%s/probe.json", dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fprintf(f, "{\"name\": \"sat\", \"links\": 4, \"duration_s\": 2.5, \"warmup_s\": 0.1,\n"
               " \"repetitions\": 1, \"variants\": [\"evloop\"],\n"
               " \"client\": {\"rate_per_s\": 50, \"payload_bytes\": 64},\n"
               " \"driver\": {\"saturated_cpu\": 1, \"saturated_lag_us\": 10000000, \"remeasure\": 1}}\n");
    fclose(f);
    snprintf(res, sizeof res, "%s/res", dir);
    return lb_start(dir, (const char *const[]){"run", "--quiet", "--out", res, p, NULL}, NULL);
}

static json_t *probe_run_report(pid_t pid)
{
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    char pat[800];
    snprintf(pat, sizeof pat, "%s/res/sat/*/report.json", dir);
    return lb_report(pat);
}

/* The machine stalls (here: this test stops the whole run with SIGSTOP for 400 ms, as a
 * VM descheduled by its host would be): the parent's stall probe sees it, the run is
 * flagged ("stall", even with the cpu and lag rules out of reach) and measured again. */
Test(remeasure, a_stalled_machine_flags_the_run_and_it_is_measured_again)
{
    pid_t pid = probe_run_start();
    usleep(900 * 1000);   /* inside the first run's 2.6 s of load */
    cr_assert_eq(kill(pid, SIGSTOP), 0);
    usleep(400 * 1000);
    cr_assert_eq(kill(pid, SIGCONT), 0);
    json_t *rep = probe_run_report(pid);
    json_t *d = json_object_get(rep, "discarded_runs");
    cr_assert_eq(json_array_size(d), 1, "%s", json_dumps(d, 0));
    json_t *x = json_array_get(d, 0);
    const char *why = json_string_value(json_object_get(json_object_get(x, "discarded"), "why"));
    cr_assert(why && strstr(why, "stall"), "%s", why ? why : "(no why)");
    double stall = json_number_value(json_object_get(json_object_get(x, "metrics"), "machine_stall_ms"));
    cr_assert_geq(stall, 300, "the probe saw %.1f ms", stall);
    /* the run measured again was not stopped: its probe says how late it woke, unflagged */
    json_t *kept = json_array_get(json_object_get(rep, "runs"), 0);
    cr_assert(json_is_number(json_object_get(json_object_get(kept, "metrics"), "machine_stall_ms")));
    json_decref(rep);
}

/* The probe kept waiting for a CPU is no stall: real-time busy loops on every CPU for
 * 400 ms (this test's children) keep it runnable and unscheduled; the kernel counts that
 * wait, the lateness is explained, and the run is measured once, unflagged. */
Test(remeasure, a_probe_kept_waiting_for_a_cpu_is_not_a_stall)
{
    pid_t pid = probe_run_start();
    usleep(900 * 1000);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pid_t hog[64];
    int nh = 0;
    for (long c = 0; c < ncpu && c < 64; c++) {
        int go[2];
        cr_assert_eq(pipe(go), 0);
        pid_t h = fork();
        if (h == 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET((int)c, &set);
            struct sched_param sp = {.sched_priority = 1};
            char ok = sched_setaffinity(0, sizeof set, &set) == 0 &&
                      sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
            if (write(go[1], &ok, 1) != 1 || !ok)
                _exit(1);
            struct timespec t0, t;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            do clock_gettime(CLOCK_MONOTONIC, &t);
            while ((t.tv_sec - t0.tv_sec) * 1000000000LL + (t.tv_nsec - t0.tv_nsec) < 400000000LL);
            _exit(0);
        }
        char ok = 0;
        cr_assert_eq(read(go[0], &ok, 1), 1);
        close(go[0]);
        close(go[1]);
        hog[nh++] = h;
        if (!ok) {   /* no real-time scheduling here (no CAP_SYS_NICE): nothing to show */
            for (int i = 0; i < nh; i++) waitpid(hog[i], NULL, 0);
            waitpid(pid, NULL, 0);
            cr_skip_test("SCHED_FIFO refused: the probe cannot be kept waiting on purpose");
        }
    }
    for (int i = 0; i < nh; i++)
        waitpid(hog[i], NULL, 0);
    json_t *rep = probe_run_report(pid);
    cr_assert_eq(json_array_size(json_object_get(rep, "discarded_runs")), 0, "%s",
                 json_dumps(json_object_get(rep, "discarded_runs"), 0));
    json_t *m = json_object_get(json_array_get(json_object_get(rep, "runs"), 0), "metrics");
    double late = json_number_value(json_object_get(m, "probe_late_ms"));
    double wait = json_number_value(json_object_get(m, "probe_late_runq_ms"));
    double stall = json_number_value(json_object_get(m, "machine_stall_ms"));
    /* kept off its CPU for most of the 400 ms, and the kernel saw it waiting */
    cr_assert_geq(late, 200, "the probe woke %.1f ms late", late);
    cr_assert_geq(wait, late - 100, "late %.1f ms, run-queue wait %.1f ms", late, wait);
    cr_assert_lt(stall, 100, "stall %.1f ms", stall);
    json_decref(rep);
}

/* Out-of-range keys are the loader's errors, naming key, rule and value. */
Test(remeasure, bad_keys_are_named)
{
    write_scenario("bad.json", "{\"remeasure\": 11, \"nice\": -21, \"stall_ms\": 0}");
    char sp[700], *out, *err;
    snprintf(sp, sizeof sp, "%s/bad.json", dir);
    cr_assert_eq(lb_run(dir, &out, &err, (const char *const[]){"run", sp, NULL}, NULL), 2, "%s", err);
    cr_assert(strstr(err, "driver.remeasure") && strstr(err, "11"), "%s", err);
    cr_assert(strstr(err, "driver.nice") && strstr(err, "-21"), "%s", err);
    cr_assert(strstr(err, "driver.stall_ms"), "%s", err);
    free(out);
    free(err);
    cr_assert_eq(lb_run(dir, &out, &err, (const char *const[]){"run", "--remeasure", "11", sp, NULL}, NULL), 2,
                 "%s", err);
    cr_assert(strstr(err, "--remeasure"), "%s", err);
    free(out);
    free(err);
}
