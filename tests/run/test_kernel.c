/* test_kernel.c — the report's kernel figures against the kernel read independently: wake-ups and threads of a running server from /proc, system calls a plug-in makes behind the harness's back. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lb_run.h"
#include "lb_tmpdir.h"

static char dir[512];

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_kernel"); }
static void teardown(void) { lb_tmpdir_remove(dir); }

TestSuite(kernel, .init = setup, .fini = teardown, .timeout = 300);

static void write_file(const char *name, const char *text) { lb_tmpdir_write(dir, name, text); }

static int finish(pid_t pid)
{
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static json_t *load_report(const char *scenario)
{
    char pat[800];
    snprintf(pat, sizeof pat, "%s/res/%s/*/report.json", dir, scenario);
    return lb_report(pat);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The independent reading: this test's own walk of /proc/PID/task, not met_proc's. */
typedef struct sample {
    int64_t t, switches;
    int threads;
} sample;

static bool read_proc(pid_t pid, sample *s)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return false;
    s->switches = 0;
    s->threads = 0;
    s->t = now_ns();
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[320], line[256];
        snprintf(p, sizeof p, "/proc/%d/task/%s/status", (int)pid, e->d_name);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        long long v;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1 ||
                sscanf(line, "nonvoluntary_ctxt_switches: %lld", &v) == 1)
                s->switches += v;
        fclose(f);
        s->threads++;
    }
    closedir(d);
    return true;
}

/* The server child of a `linkbench run` (its command line says --server-child). */
static pid_t server_of(pid_t run)
{
    for (int tries = 0; tries < 500; tries++) {
        char p[64], buf[256];
        snprintf(p, sizeof p, "/proc/%d/task/%d/children", (int)run, (int)run);
        FILE *f = fopen(p, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = 0;
        for (char *s = buf, *end; *s; s = end) {
            long c = strtol(s, &end, 10);
            if (end == s)
                break;
            char cp[64], cmd[256];
            snprintf(cp, sizeof cp, "/proc/%ld/cmdline", c);
            FILE *g = fopen(cp, "r");
            size_t m = g ? fread(cmd, 1, sizeof cmd - 1, g) : 0;
            if (g)
                fclose(g);
            for (size_t i = 0; i < m; i++)
                if (!cmd[i])
                    cmd[i] = ' ';
            cmd[m] = 0;
            if (strstr(cmd, "--server-child"))
                return (pid_t)c;
        }
        usleep(10000);
    }
    return -1;
}

/* The first sample at or after t0 and the last at or before t1 with `threads` live
 * (the samples at the edges may catch threads starting or ending). */
static bool bracket(const sample *s, int n, int64_t t0, int64_t t1, int threads, int *i0, int *i1)
{
    *i0 = *i1 = -1;
    for (int i = 0; i < n; i++) {
        if (s[i].threads != threads || s[i].t < t0 || s[i].t > t1)
            continue;
        if (*i0 < 0)
            *i0 = i;
        *i1 = i;
    }
    return *i0 >= 0 && *i1 > *i0;
}

static double num(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* poll wakes every 1 ms per link thread: the report's wake-ups per link-second and its
 * live threads are what this test reads itself from /proc over the same window (its
 * samples 50 ms apart within the report's marks: a steady rate, so the rates agree).
 * Its frames kept across read deadlines (read_keeps_partial): with the seed's Go reads
 * a torn frame kills a link, and the count of live threads would move. Never measured
 * again (driver.remeasure 0): the test samples the first server, and a repetition
 * measured again runs in another. */
Test(kernel, wakeups_and_threads_match_an_independent_proc_read)
{
    write_file("k.json", "{ \"name\": \"k\", \"links\": 4, \"duration_s\": 2, \"warmup_s\": 0.5,"
                         " \"repetitions\": 1, \"variants\": [\"poll\"],"
                         " \"variant_config\": { \"poll\": { \"read_keeps_partial\": 1 } },"
                         " \"client\": { \"rate_per_s\": 20, \"payload_bytes\": 64 },"
                         " \"driver\": { \"remeasure\": 0 } }\n");
    char scn[700], res[700];
    snprintf(scn, sizeof scn, "%s/k.json", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    pid_t run = lb_start(dir, (const char *const[]){"run", "--quiet", "--out", res, scn, NULL}, NULL);
    pid_t srv = server_of(run);
    cr_assert_gt(srv, 0, "no server child found");
    static sample s[400];
    int n = 0, threads_steady = -1;
    while (n < 400 && read_proc(srv, &s[n])) {
        if (n > 0 && s[n].threads == s[n - 1].threads)
            threads_steady = s[n].threads > threads_steady ? s[n].threads : threads_steady;
        n++;
        usleep(50000);
    }
    cr_assert_eq(finish(run), 0);
    json_t *rep = load_report("k");
    json_t *r = json_array_get(json_object_get(rep, "runs"), 0);
    json_t *m = json_object_get(r, "metrics"), *k = json_object_get(r, "kernel");
    cr_assert_not_null(k, "no kernel readings in the run");
    int64_t t0 = json_integer_value(json_object_get(k, "t_start_ns"));
    int64_t t1 = json_integer_value(json_object_get(k, "t_end_ns"));
    int i0, i1;
    cr_assert(bracket(s, n, t0, t1, threads_steady, &i0, &i1), "the samples (%d, %.3f to %.3f s) do not "
              "cover the window (%.3f to %.3f s)", n, s[0].t / 1e9, s[n - 1].t / 1e9, t0 / 1e9, t1 / 1e9);
    cr_assert_gt(s[i1].t - s[i0].t, (t1 - t0) / 2, "the samples cover too little of the window");
    double mine = (double)(s[i1].switches - s[i0].switches) / 4.0 / ((double)(s[i1].t - s[i0].t) / 1e9);
    double theirs = num(m, "wakeups_per_link_s");
    cr_log_info("wake-ups per link-second: report %.0f, independent %.0f (self-count %.0f)", theirs,
                mine, num(m, "wakeups_per_link_s_self"));
    cr_expect(theirs > 0.85 * mine && theirs < 1.15 * mine, "report %.0f vs /proc %.0f", theirs, mine);
    cr_expect_eq(num(m, "threads_live"), threads_steady, "report %g live threads, /proc %d",
                 num(m, "threads_live"), threads_steady);
    cr_expect_eq(num(m, "threads_per_link"), 1, "poll: one thread per link");
    json_t *src = json_object_get(r, "sources");
    const char *ws = json_string_value(json_object_get(src, "wakeups_per_link_s"));
    cr_expect(ws && (!strncmp(ws, "perf:context-switches", 21) || !strncmp(ws, "proc:task", 9)),
              "the report names where wake-ups come from: %s", ws ? ws : "(none)");
    json_decref(rep);
}

/* A plug-in making 20 raw system calls per send (tests/plugins/sleepy.c built as noisy/:
 * evloop plus getppid): vsock's count does not move, the kernel's rises by about 10 per
 * message (one send per two messages: echo in, echo out). */
Test(kernel, syscalls_a_plugin_hides_are_counted)
{
    const char *pdir = getenv("LINKBENCH_TEST_PLUGINS");
    cr_assert_not_null(pdir);
    char mod[700], vars[800], scn[700], res[700];
    snprintf(mod, sizeof mod, "%s/noisy/sleepy.so", pdir);
    snprintf(vars, sizeof vars, "evloop,%s", mod);
    write_file("n.json", "{ \"name\": \"n\", \"links\": 4, \"duration_s\": 1, \"warmup_s\": 0.3,"
                         " \"repetitions\": 1, \"variants\": [\"evloop\"],"
                         " \"client\": { \"rate_per_s\": 200, \"payload_bytes\": 64 } }\n");
    snprintf(scn, sizeof scn, "%s/n.json", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    cr_assert_eq(finish(lb_start(dir, (const char *const[]){"run", "--quiet", "--variant", vars, "--out",
                                                              res, scn, NULL}, NULL)), 0);
    json_t *rep = load_report("n");
    json_t *runs = json_object_get(rep, "runs");
    json_t *ev = json_array_get(runs, 0), *no = json_array_get(runs, 1);
    json_t *me = json_object_get(ev, "metrics"), *mn = json_object_get(no, "metrics");
    if (json_is_null(json_object_get(me, "syscalls_per_msg"))) {
        json_t *why = json_object_get(json_object_get(ev, "absent_why"), "syscalls_per_msg");
        cr_expect(strstr(json_dumps(json_object_get(ev, "absent_metrics"), 0), "syscalls_per_msg"),
                  "a missing count is listed as absent");
        cr_skip_test("no system-call count on this machine: %s", json_string_value(why));
    }
    double k_ev = num(me, "syscalls_per_msg"), k_no = num(mn, "syscalls_per_msg");
    double s_ev = num(me, "syscalls_per_msg_self"), s_no = num(mn, "syscalls_per_msg_self");
    cr_log_info("system calls per message: evloop %.2f (self %.2f), noisy %.2f (self %.2f)", k_ev, s_ev,
                k_no, s_no);
    cr_expect_gt(k_no - k_ev, 8, "the kernel counts the plug-in's 10 extra calls per message: %.2f vs %.2f",
                 k_no, k_ev);
    cr_expect_lt(s_no - s_ev, 1, "vsock's own count cannot see them: %.2f vs %.2f", s_no, s_ev);
    cr_expect_gt(k_ev, s_ev, "evloop's libev calls (epoll_wait, eventfd) and futexes are counted too");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(ev, "sources"), "syscalls_per_msg")),
                     "perf:raw_syscalls:sys_enter");
    json_decref(rep);
}
