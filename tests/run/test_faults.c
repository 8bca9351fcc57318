/* test_faults.c — faults in the middle of `linkbench run` (built binary, LINKBENCH_BIN): a killed server, a killed driver, Ctrl-C to the group, a full disk; the accounting closes or the run says why not. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include "lb_tmpdir.h"

extern char **environ;

static char dir[512];

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_faults"); }

static void teardown(void) { lb_tmpdir_remove(dir); }

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 300);

static void write_scenario(const char *name, const char *text)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s.json", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *name)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    if (!f)
        return strdup("");
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return strdup(buf);
}

/* Start `linkbench run --out DIR/res DIR/<scenario>.json` with stdout/stderr in files.
 * own_group: in a process group of its own (so the test can signal the group, as a
 * terminal's Ctrl-C does). fsize > 0: RLIMIT_FSIZE in the child (a disk that is full
 * after fsize bytes per file: no tmpfs can be mounted here). Returns its pid. */
static pid_t start_run(const char *scenario, bool own_group, rlim_t fsize)
{
    const char *bin = getenv("LINKBENCH_BIN");
    cr_assert_not_null(bin, "LINKBENCH_BIN is not set (run through ctest)");
    char res[700], scn[700], po[700], pe[700];
    snprintf(res, sizeof res, "%s/res", dir);
    snprintf(scn, sizeof scn, "%s/%s.json", dir, scenario);
    snprintf(po, sizeof po, "%s/stdout.txt", dir);
    snprintf(pe, sizeof pe, "%s/stderr.txt", dir);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int o = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        if (own_group)
            setpgid(0, 0);
        if (fsize > 0) {
            struct rlimit rl = {fsize, fsize};
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        execl(bin, bin, "run", "--out", res, scn, (char *)NULL);
        _exit(127);
    }
    if (own_group)
        setpgid(pid, pid);   /* both sides: no race with the first kill(-pid) */
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "linkbench must exit, not die (status 0x%x)", st);
    return WEXITSTATUS(st);
}

/* The newest report.json under res/<name>/, loaded, or NULL. */
static json_t *load_report(const char *name)
{
    char pat[800];
    snprintf(pat, sizeof pat, "%s/res/%s/*/report.json", dir, name);
    glob_t g;
    if (glob(pat, 0, NULL, &g) != 0)
        return NULL;
    json_t *r = json_load_file(g.gl_pathv[g.gl_pathc - 1], 0, NULL);
    globfree(&g);
    return r;
}

/* Nothing lost: every run's accounting closes, or the run says why it does not count. */
static void assert_accounted(const json_t *rep)
{
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(rep, "runs"), i, run) {
        const json_t *m = json_object_get(run, "metrics");
        const json_t *lost = json_object_get(m, "msgs_lost");
        const json_t *why = json_object_get(json_object_get(run, "flags"), "invalid_reasons");
        cr_assert((json_is_integer(lost) && json_integer_value(lost) == 0) ||
                  json_array_size(why) > 0, "run %zu: msgs_lost %lld and no reason given", i,
                  (long long)json_integer_value(lost));
    }
    if (!json_is_true(json_object_get(rep, "valid")))
        cr_assert_gt(json_array_size(json_object_get(json_object_get(rep, "flags"), "reasons")), 0,
                     "an invalid report names its reasons");
}

/* Children of pid (scanning /proc: their parent is pid), at most max; returns count. */
static int children_of(pid_t pid, pid_t *out, int max)
{
    DIR *d = opendir("/proc");
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        pid_t p = (pid_t)atoi(e->d_name);
        if (p <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = 0;
        char *rp = strrchr(buf, ')');   /* comm may hold spaces: fields follow the last ')' */
        char state;
        int ppid;
        if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == pid)
            out[n++] = p;
    }
    closedir(d);
    return n;
}

/* Gone, or a zombie nobody reaps yet (it holds no socket, thread or memory any more). */
static bool gone(pid_t p)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[k] = 0;
    char *rp = strrchr(buf, ')');
    return !rp || rp[2] == 'Z' || rp[2] == 'X';
}

static const char *idle_long =
    "{ \"name\": \"%s\", \"links\": 6, \"duration_s\": 60, \"warmup_s\": 0.2, \"repetitions\": 1,"
    "  \"processes\": %d, \"variants\": [\"evloop\"], \"client\": { \"rate_per_s\": 20 } }\n";

/* The run's directory exists once its first run started; then a little longer so the
 * servers are up (bounded: 10 s). */
static void wait_started(const char *name)
{
    char pat[800];
    snprintf(pat, sizeof pat, "%s/res/%s/*", dir, name);
    glob_t g;
    int i = 0;
    for (; i < 500 && glob(pat, 0, NULL, &g) != 0; i++)
        usleep(20000);
    if (i < 500)
        globfree(&g);
    cr_assert_lt(i, 500, "the run never started");
}

Test(faults, kill_server_keeps_the_drivers_figures_and_fails)
{
    write_scenario("kill",
        "{ \"name\": \"kill\", \"links\": 4, \"duration_s\": 1.5, \"warmup_s\": 0.2,"
        "  \"repetitions\": 1, \"variants\": [\"evloop\"],"
        "  \"client\": { \"rate_per_s\": 50 },"
        "  \"faults\": [ { \"at_s\": 0.3, \"kind\": \"kill_server\" } ] }\n");
    int rc = wait_exit(start_run("kill", false, 0));
    char *err = slurp("stderr.txt");
    cr_assert_eq(rc, 1, "a killed server fails the run\n%s", err);
    /* which server died, and how */
    cr_assert(strstr(err, "server 1/1 (pid ") && strstr(err, "killed by signal 9"), "%s", err);
    json_t *rep = load_report("kill");
    cr_assert_not_null(rep, "the partial results are kept in report.json");
    cr_assert(!json_is_true(json_object_get(rep, "valid")));
    json_t *run = json_array_get(json_object_get(rep, "runs"), 0);
    cr_assert(json_is_true(json_object_get(json_object_get(run, "flags"), "server_killed_by_fault")));
    const char *why = json_string_value(json_array_get(
        json_object_get(json_object_get(run, "flags"), "invalid_reasons"), 0));
    cr_assert(why && strstr(why, "fault kill_server"), "%s", why ? why : "(none)");
    /* the driver's side survived: it had sent messages before the kill */
    json_t *echo = json_object_get(json_object_get(run, "metrics"), "echo");
    cr_assert_gt(json_integer_value(json_object_get(echo, "sent")), 0);
    assert_accounted(rep);
    json_decref(rep);
    free(err);
}

Test(faults, two_server_processes_share_the_port_and_merge)
{
    write_scenario("two",
        "{ \"name\": \"two\", \"links\": 12, \"duration_s\": 0.8, \"warmup_s\": 0.2,"
        "  \"repetitions\": 1, \"processes\": 2, \"variants\": [\"evloop\"],"
        "  \"client\": { \"rate_per_s\": 20 } }\n");
    int rc = wait_exit(start_run("two", false, 0));
    char *err = slurp("stderr.txt");
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_null(strstr(err, "not supported"), "%s", err);
    json_t *rep = load_report("two");
    cr_assert_not_null(rep);
    json_t *run = json_array_get(json_object_get(rep, "runs"), 0);
    json_t *m = json_object_get(run, "metrics");
    cr_assert_eq(json_integer_value(json_object_get(m, "server_processes")), 2);
    cr_assert_eq(json_integer_value(json_object_get(m, "driver_processes")), 2);
    /* each server reported; together they attached every link the drivers opened */
    json_t *srv = json_object_get(run, "server");
    json_t *servers = json_object_get(srv, "servers");
    cr_assert_eq(json_array_size(servers), 2);
    json_int_t pid0 = json_integer_value(json_object_get(json_array_get(servers, 0), "pid"));
    json_int_t pid1 = json_integer_value(json_object_get(json_array_get(servers, 1), "pid"));
    cr_assert_neq(pid0, pid1);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(srv, "links"), "attached")), 12);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "driver"), "links_established")), 12);
    /* merged exactly: every echo the drivers got back was counted by one of the servers */
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "dir_in"), "received_by_app")),
                 json_integer_value(json_object_get(json_object_get(m, "echo"), "sent")) -
                 json_integer_value(json_object_get(json_object_get(m, "echo"), "unsent")) * 0 -
                 0 * 0 - (json_integer_value(json_object_get(json_object_get(m, "echo"), "sent")) -
                 json_integer_value(json_object_get(json_object_get(m, "dir_in"), "received_by_app"))));
    cr_assert_eq(json_integer_value(json_object_get(m, "msgs_lost")), 0);
    cr_assert(json_is_true(json_object_get(rep, "valid")));
    assert_accounted(rep);
    json_decref(rep);
    free(err);
}

Test(faults, killed_driver_leaves_no_server_or_helper)
{
    char text[600];
    snprintf(text, sizeof text, idle_long, "orphan", 2);
    write_scenario("orphan", text);
    pid_t pid = start_run("orphan", false, 0);
    wait_started("orphan");
    /* two servers and one driver helper: wait until all three exist (bounded) */
    pid_t kids[16];
    int n = 0;
    for (int i = 0; i < 500 && (n = children_of(pid, kids, 16)) < 3; i++)
        usleep(20000);
    cr_assert_geq(n, 3, "expected 2 servers and a driver helper, saw %d children", n);
    usleep(300000);
    n = children_of(pid, kids, 16);
    cr_assert_eq(kill(pid, SIGKILL), 0);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    /* PR_SET_PDEATHSIG: every child dies with the run, within 10 s of polls */
    for (int k = 0; k < n; k++) {
        int i = 0;
        for (; i < 500 && !gone(kids[k]); i++)
            usleep(20000);
        cr_assert_lt(i, 500, "child %d outlived the killed run", (int)kids[k]);
    }
}

Test(faults, ctrl_c_to_the_group_stops_cleanly_with_a_partial_report)
{
    char text[600];
    snprintf(text, sizeof text, idle_long, "intr", 2);
    write_scenario("intr", text);
    pid_t pid = start_run("intr", true, 0);
    wait_started("intr");
    pid_t kids[16];
    int n = 0;
    for (int i = 0; i < 500 && (n = children_of(pid, kids, 16)) < 3; i++)
        usleep(20000);
    usleep(1000000);
    n = children_of(pid, kids, 16);
    /* a terminal's Ctrl-C: SIGINT to every process of the group */
    cr_assert_eq(kill(-pid, SIGINT), 0);
    int rc = wait_exit(pid);
    char *err = slurp("stderr.txt");
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert(strstr(err, "interrupted"), "%s", err);
    json_t *rep = load_report("intr");
    cr_assert_not_null(rep, "%s", err);
    cr_assert(json_is_true(json_object_get(rep, "partial")));
    cr_assert(json_is_true(json_object_get(json_object_get(rep, "flags"), "partial")));
    json_t *run = json_array_get(json_object_get(rep, "runs"), 0);
    /* both driver processes' links were counted, both servers reported */
    json_t *m = json_object_get(run, "metrics");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "driver"), "links_established")), 6);
    cr_assert_eq(json_array_size(json_object_get(json_object_get(run, "server"), "servers")), 2);
    assert_accounted(rep);
    json_decref(rep);
    free(err);
    /* and nothing is left running */
    for (int k = 0; k < n; k++) {
        int i = 0;
        for (; i < 500 && !gone(kids[k]); i++)
            usleep(20000);
        cr_assert_lt(i, 500, "child %d outlived the run", (int)kids[k]);
    }
}

Test(faults, full_disk_is_a_clear_error)
{
    write_scenario("full",
        "{ \"name\": \"full\", \"links\": 2, \"duration_s\": 0.3, \"warmup_s\": 0.1,"
        "  \"repetitions\": 1, \"variants\": [\"evloop\"], \"client\": { \"rate_per_s\": 10 } }\n");
    /* RLIMIT_FSIZE of 1 KiB: every results file passes it, as on a full disk; the run
     * must get EFBIG (not die of SIGXFSZ) and say which file it could not write */
    int rc = wait_exit(start_run("full", false, 1024));
    char *err = slurp("stderr.txt");
    cr_assert_eq(rc, 1, "%s", err);
    cr_assert(strstr(err, "cannot write") && strstr(err, "File too large"), "%s", err);
    free(err);
}
