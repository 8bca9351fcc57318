/* test_external.c — `linkbench run --target`: the driver against external servers (the built-in one run by `linkbench serve`, python3-websockets), refusals, absent figures, corrupted echoes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "run_ext.h"
#include "lb_tmpdir.h"

extern char **environ;

static char dir[512];
static const char PY[] = "/usr/bin/python3";   /* the Debian package imports only here */

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_ext"); }

static void teardown(void) { lb_tmpdir_remove(dir); }

TestSuite(external, .init = setup, .fini = teardown, .timeout = 300);

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return strdup(buf);
}

static const char *bin(void)
{
    const char *b = getenv("LINKBENCH_BIN");
    cr_assert_not_null(b, "LINKBENCH_BIN is not set (run through ctest)");
    return b;
}

static void src_path(char *out, size_t cap, const char *rel)
{
    const char *src = getenv("LINKBENCH_SOURCE_DIR");
    cr_assert_not_null(src, "LINKBENCH_SOURCE_DIR is set by ctest");
    snprintf(out, cap, "%s/%s", src, rel);
}

/* Start argv with stdout and stderr into dir/<tag>.out and .err; its pid. */
static pid_t start(const char *tag, char *const *argv)
{
    char po[700], pe[700];
    snprintf(po, sizeof po, "%s/%s.out", dir, tag);
    snprintf(pe, sizeof pe, "%s/%s.err", dir, tag);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, po, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

/* Run `linkbench ARGS` to the end; exit status, its stdout and stderr. */
static int linkbench(char **out, char **err, const char *const *args)
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)bin();
    for (; *args && n < 31; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    pid_t pid = start("lb", argv);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    char p[700];
    snprintf(p, sizeof p, "%s/lb.out", dir);
    *out = slurp(p);
    snprintf(p, sizeof p, "%s/lb.err", dir);
    *err = slurp(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void need_websockets(void)
{
    char *argv[] = {(char *)PY, "-c", "import websockets.server", NULL};
    pid_t p = start("py_check", argv);
    int st = 0;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        cr_skip_test("%s cannot import websockets (Debian python3-websockets): not tested", PY);
}

/* A small echo scenario: 8 links, 100 msg/s each, short windows. */
static void scenario(char *path, size_t cap)
{
    snprintf(path, cap, "%s/small.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"name\": \"small\", \"links\": 8, \"duration_s\": 0.6, \"warmup_s\": 0.2,"
          " \"repetitions\": 1, \"client\": {\"rate_per_s\": 100, \"payload_bytes\": 64},"
          " \"app\": {\"mode\": \"echo\"}, \"expect\": [\"*.msgs_lost == 0\", \"dual.threads_per_link > 1.5\"]}",
          f);
    fclose(f);
}

/* The one run object of the report under dir/res. */
static json_t *load_report(json_t **run)
{
    char pat[800];
    snprintf(pat, sizeof pat, "%s/res/small_external/*/report.json", dir);
    glob_t g;
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no report.json under %s", pat);
    json_t *rep = json_load_file(g.gl_pathv[0], 0, NULL);
    globfree(&g);
    cr_assert_not_null(rep);
    *run = json_array_get(json_object_get(rep, "runs"), 0);
    cr_assert_not_null(*run);
    return rep;
}

static int64_t metric(const json_t *run, const char *k)
{
    const json_t *v = json_object_get(json_object_get(run, "metrics"), k);
    cr_assert(json_is_number(v), "metric %s is not a number", k);
    return (int64_t)json_number_value(v);
}

static bool absent(const json_t *run, const char *k)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(run, "absent_metrics"), i, v)
        if (!strcmp(json_string_value(v), k))
            return true;
    return false;
}

Test(external, url_parse)
{
    run_url u;
    char err[256];
    cr_assert_eq(run_url_parse("ws://127.0.0.1:8080/chat", &u, err, sizeof err), 0);
    cr_assert_str_eq(u.host, "127.0.0.1");
    cr_assert_eq(u.port, 8080);
    cr_assert_str_eq(u.path, "/chat");
    cr_assert_eq(run_url_parse("ws://localhost:0", &u, err, sizeof err), 0);
    cr_assert_str_eq(u.host, "127.0.0.1");
    cr_assert_eq(u.port, 0);
    cr_assert_str_eq(u.path, "/");
    cr_assert_eq(run_url_parse("wss://127.0.0.1:1/", &u, err, sizeof err), -EINVAL);
    cr_assert_eq(run_url_parse("ws://127.0.0.1:70000/", &u, err, sizeof err), -EINVAL);
    cr_assert_eq(run_url_parse("ws://:80/", &u, err, sizeof err), -EINVAL);
    cr_assert(strstr(err, "no host"), "%s", err);
}

/* Which shipped scenarios an echo server can answer, and what the others miss. */
Test(external, refusals_name_what_the_server_must_do)
{
    static const struct { const char *file; int refused; const char *says; } cases[] = {
        {"workloads/echo.json", 0, NULL},
        {"workloads/slow_reader.json", 0, "ignored"},   /* its push is dropped, the clients run */
        {"workloads/churn.json", 0, NULL},
        {"workloads/large_messages.json", 0, NULL},
        {"workloads/scale.json", 0, NULL},
        {"workloads/server_push.json", 2, "app.push.rate_per_s"},   /* push and sink */
        {"workloads/idle_timeout.json", 1, "idle"},
        {"workloads/slow_consumer.json", 1, "service_time_us"},
        {"workloads/rate_limit.json", 1, "rate_limit_per_s"},
        {"workloads/write_flood.json", 1, "sink"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[700], msg[2048], note[512];
        src_path(path, sizeof path, cases[i].file);
        struct scn s;
        struct scn_diag d;
        scn_diag_init(&d);
        cr_assert_eq(scn_load_file(path, NULL, &s, &d), 0, "%s", d.text);
        scn_diag_deinit(&d);
        int n = run_ext_refusals(&s, msg, sizeof msg, note, sizeof note);
        /* at least the named feature: the shipped files may gain others */
        cr_expect(cases[i].refused ? n >= cases[i].refused : n == 0, "%s: %d refusals: %s",
                  cases[i].file, n, msg);
        if (cases[i].says)
            cr_expect(strstr(n ? msg : note, cases[i].says), "%s: %s|%s", cases[i].file, msg, note);
    }
}

Test(external, refused_scenario_exits_2_naming_what_is_missing)
{
    char scn[700], *out, *err;
    src_path(scn, sizeof scn, "workloads/idle_timeout.json");
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--target", "ws://127.0.0.1:9/", scn, NULL});
    cr_assert_eq(rc, 2, "exit %d: %s", rc, err);
    cr_assert(strstr(err, "idle.timeout_ms") && strstr(err, "external"), "%s", err);
    free(out);
    free(err);
    rc = linkbench(&out, &err, (const char *const[]){"run", "--target-pid", "1", scn, NULL});
    cr_assert_eq(rc, 2, "--target-pid alone: exit %d", rc);
    free(out);
    free(err);
    rc = linkbench(&out, &err, (const char *const[]){"run", "--target", "http://x/", scn, NULL});
    cr_assert_eq(rc, 2);
    cr_assert(strstr(err, "ws://"), "%s", err);
    free(out);
    free(err);
}

/* The built-in server as an external process, started and stopped by the run. */
Test(external, builtin_server_via_target_cmd)
{
    char scn[700], res[700], cmd[1200], *out, *err;
    scenario(scn, sizeof scn);
    snprintf(res, sizeof res, "%s/res", dir);
    snprintf(cmd, sizeof cmd, "'%s' serve --variant evloop --listen 127.0.0.1:0", bin());
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--out", res, "--target",
                       "ws://127.0.0.1:0/", "--target-cmd", cmd, "--quiet", scn, NULL});
    cr_assert_eq(rc, 0, "exit %d\n%s\n%s", rc, out, err);
    json_t *run, *rep = load_report(&run);
    cr_assert_eq(metric(run, "msgs_lost"), 0);
    cr_assert_eq(metric(run, "msgs_corrupted"), 0);
    cr_assert_gt(metric(run, "msgs_delivered"), 0);
    cr_assert_eq(metric(run, "msgs_sent"), metric(run, "msgs_delivered") + metric(run, "msgs_in_flight"));
    /* /proc figures of serve and its server child; the app model's are absent */
    cr_assert_gt(metric(run, "threads_peak"), 1);
    cr_assert(json_is_object(json_object_get(json_object_get(run, "metrics"), "cpu_by_thread_s")));
    cr_assert_eq(metric(run, "server_processes"), 2);
    cr_assert(!absent(run, "cpu_server_s"));
    cr_assert(absent(run, "msgs_dropped") && absent(run, "lat_in_us") && absent(run, "drops_by_reason"));
    /* absent is null in the summary, never 0 */
    json_t *sum = json_object_get(json_object_get(rep, "summary"), "external");
    cr_assert(json_is_null(json_object_get(json_object_get(sum, "msgs_dropped"), "median")));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(run, "target"), "exit")),
                     "exited with status 0");
    json_decref(rep);
    /* like a built-in run, it ends with its page, whose path is the last line */
    char pat[800];
    snprintf(pat, sizeof pat, "%s/res/small_external/*/index.html", dir);
    glob_t g;
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no index.html under %s\n%s", pat, out);
    cr_assert(strstr(out, "page: ") && strstr(out, g.gl_pathv[0]), "%s", out);
    globfree(&g);
    free(out);
    free(err);
}

/* A suite against a target: what the target cannot answer is refused and said, the rest
 * runs into one directory with one page and one verdict, as a built-in suite does. */
Test(external, suite_has_one_page_and_verdict)
{
    char scn[700], suite[700], res[700], cmd[1200], push[700], *out, *err;
    scenario(scn, sizeof scn);
    src_path(push, sizeof push, "workloads/server_push.json");
    snprintf(suite, sizeof suite, "%s/two.json", dir);
    FILE *f = fopen(suite, "w");
    cr_assert_not_null(f);
    fprintf(f, "{\"name\": \"two\", \"description\": \"a target suite\", "
               "\"scenarios\": [\"%s\", \"%s\"]}", scn, push);
    fclose(f);
    snprintf(res, sizeof res, "%s/res", dir);
    snprintf(cmd, sizeof cmd, "'%s' serve --variant evloop --listen 127.0.0.1:0", bin());
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--out", res, "--target",
                       "ws://127.0.0.1:0/", "--target-cmd", cmd, suite, NULL});
    cr_assert_eq(rc, 0, "exit %d\n%s\n%s", rc, out, err);
    cr_assert(strstr(err, "server_push") && strstr(err, "cannot run against an external target"),
              "the refused scenario is not named: %s", err);
    cr_assert(strstr(out, "verdict: PASS: 1 scenario, 1 report (1 valid)"), "%s", out);
    char pat[800];
    snprintf(pat, sizeof pat, "%s/res/two_external/*/small/report.json", dir);
    glob_t g;
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no %s\n%s", pat, out);
    cr_assert_eq(g.gl_pathc, 1);
    globfree(&g);
    snprintf(pat, sizeof pat, "%s/res/two_external/*/index.html", dir);
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no suite page %s\n%s", pat, out);
    /* the last line: "page: <that path>" */
    size_t n = strlen(out);
    while (n && out[n - 1] == '\n')
        out[--n] = 0;
    const char *last = strrchr(out, '\n');
    last = last ? last + 1 : out;
    cr_assert(!strncmp(last, "page: ", 6) && !strcmp(last + 6, g.gl_pathv[0]),
              "the last line is not the page's path: %s", last);
    globfree(&g);
    free(out);
    free(err);
}

/* serve on its own; the run watches it by pid; its measurements land in --out. */
Test(external, serve_listen_and_target_pid)
{
    char scn[700], res[700], url[128], meas[700], po[700], *out, *err;
    scenario(scn, sizeof scn);
    snprintf(res, sizeof res, "%s/res", dir);
    snprintf(meas, sizeof meas, "%s/serve.json", dir);
    char *argv[] = {(char *)bin(), "serve", "--variant", "evloop", "--listen", "127.0.0.1:0", "--out", meas, NULL};
    pid_t srv = start("serve", argv);
    snprintf(po, sizeof po, "%s/serve.out", dir);
    char *line = NULL;
    for (int i = 0; i < 1500; i++) {
        free(line);
        line = slurp(po);
        if (strchr(line, '\n'))
            break;
        usleep(20000);
    }
    cr_assert(strncmp(line, "127.0.0.1:", 10) == 0, "first line: %s", line);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", atoi(line + 10));
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)srv);
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--out", res, "--target", url,
                       "--target-pid", pid, "--quiet", scn, NULL});
    cr_assert_eq(rc, 0, "exit %d\n%s\n%s", rc, out, err);
    json_t *run, *rep = load_report(&run);
    cr_assert_eq(metric(run, "msgs_lost"), 0);
    cr_assert_gt(metric(run, "threads_peak"), 1);
    /* the kernel's figures of the target and its server child, as for a built-in run:
     * wake-ups of every thread, threads the links added (evloop: none) */
    json_t *mm = json_object_get(run, "metrics");
    char *kj = json_dumps(json_object_get(run, "kernel"), JSON_COMPACT);
    cr_expect_gt(json_number_value(json_object_get(mm, "wakeups_per_link_s")), 0, "kernel: %s", kj);
    cr_expect_eq(json_number_value(json_object_get(mm, "threads_per_link")), 0, "kernel: %s", kj);
    free(kj);
    json_t *src = json_object_get(run, "sources");
    cr_expect(json_is_string(json_object_get(src, "wakeups")), "sources name the wake-ups' source");
    if (json_is_string(json_object_get(src, "syscalls")))
        cr_expect_gt(json_number_value(json_object_get(mm, "syscalls_per_msg")), 1,
                     "epoll_wait and futexes beside each read and write");
    else
        cr_expect(absent(run, "syscalls_per_msg"), "no count: absent, not partial");
    json_decref(rep);
    cr_assert_eq(kill(srv, SIGTERM), 0);
    int st;
    cr_assert_eq(waitpid(srv, &st, 0), srv);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "serve status 0x%x", st);
    json_t *m = json_load_file(meas, 0, NULL);
    cr_assert_not_null(m, "serve --out wrote no JSON");
    /* the server saw the run's links */
    cr_assert_geq(json_integer_value(json_object_get(json_object_get(m, "links"), "attached")), 8);
    json_decref(m);
    free(line);
    free(out);
    free(err);
}

Test(external, python_websockets_echo_without_pid)
{
    need_websockets();
    char scn[700], res[700], py[700], cmd[1600], *out, *err;
    scenario(scn, sizeof scn);
    snprintf(res, sizeof res, "%s/res", dir);
    src_path(py, sizeof py, "tests/interop/ws_echo.py");
    snprintf(cmd, sizeof cmd, "%s '%s'", PY, py);
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--out", res, "--target",
                       "ws://127.0.0.1:0/echo", "--target-cmd", cmd, "--quiet", scn, NULL});
    cr_assert_eq(rc, 0, "exit %d\n%s\n%s", rc, out, err);
    json_t *run, *rep = load_report(&run);
    cr_assert_eq(metric(run, "msgs_lost"), 0);
    cr_assert_eq(metric(run, "msgs_corrupted"), 0);
    cr_assert_gt(metric(run, "msgs_delivered"), 0);
    cr_assert_eq(metric(run, "threads_peak"), 1);   /* asyncio: one thread */
    cr_assert(absent(run, "lat_out_us"), "a foreign echo sets no app timestamp");
    cr_assert_not_null(json_object_get(json_object_get(run, "metrics"), "lat_rtt_us"));
    json_decref(rep);
    free(out);
    free(err);
}

/* A server that alters and drops echoes: counted, the run invalid, the driver fine. */
Test(external, altered_and_dropped_echoes_are_counted)
{
    need_websockets();
    char scn[700], res[700], py[700], cmd[1600], *out, *err;
    scenario(scn, sizeof scn);
    snprintf(res, sizeof res, "%s/res", dir);
    src_path(py, sizeof py, "tests/interop/ws_echo.py");
    snprintf(cmd, sizeof cmd, "%s '%s' --corrupt-every 20 --drop-every 30", PY, py);
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--out", res, "--target",
                       "ws://127.0.0.1:0/", "--target-cmd", cmd, "--quiet", scn, NULL});
    cr_assert_eq(rc, 1, "exit %d\n%s\n%s", rc, out, err);
    json_t *run, *rep = load_report(&run);
    int64_t sent = metric(run, "msgs_sent"), corrupted = metric(run, "msgs_corrupted");
    cr_assert_gt(corrupted, 0);
    cr_assert_geq(metric(run, "msgs_lost"), corrupted);   /* a corrupted echo is a lost one */
    cr_assert_eq(sent, metric(run, "msgs_delivered") + metric(run, "msgs_lost") + metric(run, "msgs_in_flight"));
    cr_assert(json_is_false(json_object_get(rep, "valid")));
    json_decref(rep);
    free(out);
    free(err);
}

/* Without a pid the server's /proc figures are absent (null), not zero. */
Test(external, no_pid_server_figures_absent)
{
    need_websockets();
    char py[700], po[700], url[128], scn[700], res[700], *out, *err;
    src_path(py, sizeof py, "tests/interop/ws_echo.py");
    char *argv[] = {(char *)PY, py, NULL};
    pid_t srv = start("py", argv);
    snprintf(po, sizeof po, "%s/py.out", dir);
    char *line = NULL;
    for (int i = 0; i < 1500; i++) {
        free(line);
        line = slurp(po);
        if (strchr(line, '\n'))
            break;
        usleep(20000);
    }
    cr_assert(strchr(line, ':'), "first line: %s", line);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", atoi(strrchr(line, ':') + 1));
    scenario(scn, sizeof scn);
    snprintf(res, sizeof res, "%s/res", dir);
    int rc = linkbench(&out, &err, (const char *const[]){"run", "--out", res, "--target", url, "--quiet", scn, NULL});
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
    cr_assert_eq(rc, 0, "exit %d\n%s\n%s", rc, out, err);
    json_t *run, *rep = load_report(&run);
    cr_assert(absent(run, "cpu_server_s") && absent(run, "threads_peak") && absent(run, "rss_peak_bytes"));
    json_t *sum = json_object_get(json_object_get(rep, "summary"), "external");
    cr_assert(json_is_null(json_object_get(json_object_get(sum, "cpu_server_s"), "median")));
    cr_assert_eq(metric(run, "msgs_lost"), 0);
    json_decref(rep);
    free(line);
    free(out);
    free(err);
}
