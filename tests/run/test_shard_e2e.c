/* test_shard_e2e.c — sharded runs as a user makes them on one machine: N shard processes started together against one `linkbench serve`, merged, equal one unsharded run in every count; the command line's refusals. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lb_run.h"
#include "lb_tmpdir.h"
#include "met_hist.h"
#include "met_hlog.h"

static char dir[512];

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_shard"); }

/* the server a test started, stopped after it however it ended (a failed assertion
 * returns from the test at once) */
static pid_t srv_pid;

static void teardown(void)
{
    if (srv_pid > 0) {
        kill(srv_pid, SIGTERM);
        waitpid(srv_pid, NULL, 0);
        srv_pid = 0;
    }
    lb_tmpdir_remove(dir);
}

TestSuite(shard_e2e, .init = setup, .fini = teardown, .timeout = 300);

#define LINKS 25            /* 9 + 8 + 8 over three shards: an uneven split */
#define MSGS 20             /* messages per link: a total every run must reach exactly */

static void write_scenario(char *path, size_t cap)
{
    snprintf(path, cap, "%s/sharded.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "{\"name\": \"sharded\", \"links\": %d, \"duration_s\": 1.5, \"warmup_s\": 0.2,\n"
               " \"repetitions\": 1, \"connect_rate_per_s\": 0,\n"
               " \"client\": {\"rate_per_s\": 40, \"messages_per_link\": %d, \"payload_bytes\": 64},\n"
               " \"expect\": [\"*.msgs_lost == 0\", \"*.links == %d\"]}\n", LINKS, MSGS, LINKS);
    fclose(f);
}

/* `linkbench serve` on a free port: its pid, and ws://127.0.0.1:PORT/ in url. */
static pid_t serve(char *url, size_t cap)
{
    char sub[600];
    snprintf(sub, sizeof sub, "%s/serve", dir);
    return srv_pid = lb_serve(sub, url, cap);
}

static void stop(pid_t pid)
{
    srv_pid = 0;
    cr_assert_eq(kill(pid, SIGTERM), 0);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
}

static int64_t m_int(const json_t *m, const char *path)
{
    const json_t *v = m;
    char k[64];
    for (const char *p = path; v && *p;) {
        size_t n = strcspn(p, ".");
        snprintf(k, sizeof k, "%.*s", (int)n, p);
        v = json_object_get(v, k);
        p += n + (p[n] == '.');
    }
    cr_assert(json_is_number(v), "%s missing", path);
    return (int64_t)json_number_value(v);
}

static int64_t hist_count(const json_t *run, const char *name)
{
    met_hist *h = met_hlog_decode(json_string_value(json_object_get(json_object_get(run, "histograms"), name)));
    cr_assert_not_null(h, "histograms.%s", name);
    int64_t n = met_hist_count(h);
    met_hist_destroy(h);
    return n;
}

Test(shard_e2e, three_shards_merged_equal_one_run)
{
    char scn[600], url[64], pid[16], at[40], *out, *err;
    write_scenario(scn, sizeof scn);
    pid_t srv = serve(url, sizeof url);
    snprintf(pid, sizeof pid, "%d", (int)srv);
    /* a common start 3 s ahead, by this host's clock */
    time_t t0 = time(NULL) + 3;
    struct tm tm;
    gmtime_r(&t0, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    pid_t sh[3];
    char sd[3][600], res[600];
    snprintf(res, sizeof res, "%s/res", dir);
    for (int k = 0; k < 3; k++) {
        char spec[8];
        snprintf(spec, sizeof spec, "%d/3", k);
        snprintf(sd[k], sizeof sd[k], "%s/shard%d", dir, k);
        cr_assert_eq(mkdir(sd[k], 0777), 0);
        sh[k] = lb_start(sd[k], (const char *const[]){"run", scn, "--target", url, "--target-pid", pid,
                         "--shard", spec, "--start-at", at, "--out", res, "--quiet", NULL}, NULL);
    }
    for (int k = 0; k < 3; k++) {
        int st;
        cr_assert_eq(waitpid(sh[k], &st, 0), sh[k]);
        char pe[1900];
        snprintf(pe, sizeof pe, "%s/stderr.txt", sd[k]);
        char *e = lb_slurp(pe);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "shard %d: status 0x%x\n%s", k, st, e);
        free(e);
    }
    /* the merge, then one unsharded run against the same server */
    char merged[600], one[600];
    snprintf(merged, sizeof merged, "%s/merged", dir);
    snprintf(one, sizeof one, "%s/one", dir);
    int rc = lb_run(dir, &out, &err, (const char *const[]){"merge", merged, res, NULL}, NULL);
    cr_assert_eq(rc, 0, "merge: exit %d\n%s\n%s", rc, out, err);
    free(out), free(err);
    rc = lb_run(dir, &out, &err, (const char *const[]){"run", scn, "--target", url, "--target-pid", pid,
                "--out", one, "--quiet", NULL}, NULL);
    cr_assert_eq(rc, 0, "unsharded run: exit %d\n%s\n%s", rc, out, err);
    free(out), free(err);
    stop(srv);

    char pat[700];
    snprintf(pat, sizeof pat, "%s/report.json", merged);
    json_t *a = lb_report(pat);
    snprintf(pat, sizeof pat, "%s/sharded_external/*/report.json", one);
    json_t *b = lb_report(pat);
    const json_t *ra = json_array_get(json_object_get(a, "runs"), 0), *rb = json_array_get(json_object_get(b, "runs"), 0);
    const json_t *ma = json_object_get(ra, "metrics"), *mb = json_object_get(rb, "metrics");
    cr_assert(json_is_true(json_object_get(a, "valid")), "merged report invalid: %s",
              json_dumps(json_object_get(json_object_get(a, "flags"), "reasons"), 0));
    /* every count the scenario fixes: equal, and what it fixes */
    static const char *const same[] = {"links", "msgs_sent", "msgs_delivered", "msgs_lost",
        "msgs_in_flight", "echo.scheduled", "echo.sent", "echo.delivered", "echo.gaps",
        "driver.links_established", NULL};
    for (int i = 0; same[i]; i++)
        cr_assert_eq(m_int(ma, same[i]), m_int(mb, same[i]), "%s: merged %lld, one run %lld", same[i],
                     (long long)m_int(ma, same[i]), (long long)m_int(mb, same[i]));
    cr_assert_eq(m_int(ma, "links"), LINKS);
    cr_assert_eq(m_int(ma, "msgs_sent"), LINKS * MSGS);
    cr_assert_eq(m_int(ma, "msgs_delivered"), LINKS * MSGS);
    /* histograms: each holds the window's echoes, and with those before the window every
     * message once, in both (which slots fall in the window depends on timing) */
    const json_t *rr[2] = {ra, rb};
    for (int i = 0; i < 2; i++) {
        const json_t *m = json_object_get(rr[i], "metrics");
        int64_t hc = hist_count(rr[i], "lat_rtt");
        cr_assert_eq(hc, m_int(m, "echo_measured.delivered"), "%s: lat_rtt holds %lld, window echoes %lld",
                     i ? "one run" : "merged", (long long)hc, (long long)m_int(m, "echo_measured.delivered"));
        cr_assert_eq(hc + m_int(m, "echo.delivered") - m_int(m, "echo_measured.delivered"), LINKS * MSGS);
    }
    /* the same server figures, read once; per host what each drove */
    cr_assert(json_is_number(json_object_get(ma, "cpu_server_s")), "cpu_server_s from --target-pid");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(ra, "server_figures_from"), "shard")), 0);
    const json_t *hosts = json_object_get(ra, "shards");
    cr_assert_eq(json_array_size(hosts), 3);
    int64_t sum = 0;
    for (size_t k = 0; k < 3; k++) {
        const json_t *h = json_array_get(hosts, k);
        cr_assert_eq(m_int(h, "links"), k == 0 ? 9 : 8);
        sum += m_int(h, "msgs_delivered");
        /* started at the time asked, never before it */
        cr_assert_geq(json_number_value(json_object_get(json_object_get(h, "start"), "late_ms")), 0);
        /* one host, one clock: the target's Date bounds hold 0 */
        const json_t *c = json_object_get(h, "clock");
        cr_assert(json_is_number(json_object_get(c, "lo_ms")), "clock: %s", json_dumps(c, 0));
        cr_assert_leq(json_number_value(json_object_get(c, "lo_ms")), 0);
        cr_assert_geq(json_number_value(json_object_get(c, "hi_ms")), 0);
    }
    cr_assert_eq(sum, LINKS * MSGS);
    cr_assert(json_is_true(json_object_get(json_object_get(ra, "flags"), "kept_up")) ||
              json_object_get(json_object_get(ra, "flags"), "kept_up_why"));
    cr_assert(json_object_get(ra, "shard_windows"));
    json_decref(a);
    json_decref(b);
    /* the merged directory is an ordinary result: check reads it */
    rc = lb_run(dir, &out, &err, (const char *const[]){"check", "--allow-saturated", merged, NULL}, NULL);
    cr_assert_eq(rc, 0, "check: exit %d\n%s\n%s", rc, out, err);
    cr_assert(strstr(out, "2 held"), "%s", out);
    free(out), free(err);
    /* one shard alone is refused, naming the missing ones */
    char one_shard[700];
    snprintf(one_shard, sizeof one_shard, "%s/sharded_external_shard_1_of_3", res);
    rc = lb_run(dir, &out, &err, (const char *const[]){"merge", merged, one_shard, NULL}, NULL);
    cr_assert_eq(rc, 2, "exit %d\n%s", rc, err);
    cr_assert(strstr(err, "shards 0, 2 of 3 missing (have 1)"), "%s", err);
    free(out), free(err);
}

/* ---------------------------------------------------------------- two network stacks */

/* A driver host and a gateway host: two network namespaces joined by a veth pair
 * (10.213.0.1 and 10.213.0.2), made here and removed after. The target is then not on
 * the driver's own stack, as a remote gateway is not: a client bound to 127.0.0.x could
 * not reach it (connect fails with EINVAL). */
static char ns_a[32], ns_b[32];

static void netns_cleanup(void)
{
    teardown();   /* the server first: it lives in one of them */
    char cmd[200];
    snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", ns_a, ns_b);
    if (system(cmd) != 0) {}
}

static pid_t spawn_in(const char *ns, const char *sub, const char *const *args)
{
    char *argv[40];
    int n = 0;
    argv[n++] = "ip", argv[n++] = "netns", argv[n++] = "exec", argv[n++] = (char *)ns;
    argv[n++] = getenv("LINKBENCH_BIN");
    for (; *args && n < 39; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    char po[700], pe[700];
    snprintf(po, sizeof po, "%s/stdout.txt", sub);
    snprintf(pe, sizeof pe, "%s/stderr.txt", sub);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, po, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    cr_assert_eq(posix_spawnp(&pid, "ip", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

Test(shard_e2e, shards_reach_a_target_on_another_network_stack, .init = setup, .fini = netns_cleanup)
{
    snprintf(ns_a, sizeof ns_a, "lbsa%d", (int)getpid());
    snprintf(ns_b, sizeof ns_b, "lbsb%d", (int)getpid());
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "set -e; ip netns add %1$s; ip netns add %2$s; "
             "ip link add va%3$d type veth peer name vb%3$d; "
             "ip link set va%3$d netns %1$s; ip link set vb%3$d netns %2$s; "
             "ip -n %1$s addr add 10.213.0.1/24 dev va%3$d; ip -n %2$s addr add 10.213.0.2/24 dev vb%3$d; "
             "ip -n %1$s link set va%3$d up; ip -n %2$s link set vb%3$d up; "
             "ip -n %1$s link set lo up; ip -n %2$s link set lo up", ns_a, ns_b, (int)getpid() % 100000);
    if (geteuid() != 0 || system(cmd) != 0)
        cr_skip_test("network namespaces need root and iproute2 (scripts/packages.txt)");
    char scn[600], sd[600], po[700], url[64], at[40], *out, *err;
    write_scenario(scn, sizeof scn);
    snprintf(sd, sizeof sd, "%s/serve", dir);
    cr_assert_eq(mkdir(sd, 0777), 0);
    pid_t srv = srv_pid = spawn_in(ns_b, sd, (const char *const[]){"serve", "--variant", "evloop",
                                   "--listen", "10.213.0.2:0", NULL});
    snprintf(po, sizeof po, "%s/stdout.txt", sd);
    char *line = NULL;
    for (int i = 0; i < 1500; i++) {
        free(line);
        line = lb_slurp(po);
        if (strchr(line, '\n'))
            break;
        usleep(20000);
    }
    cr_assert(strncmp(line, "10.213.0.2:", 11) == 0, "serve's first line: %s", line);
    snprintf(url, sizeof url, "ws://10.213.0.2:%d/", atoi(line + 11));
    free(line);
    time_t t0 = time(NULL) + 3;
    struct tm tm;
    gmtime_r(&t0, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char res[600], sub[2][700];
    snprintf(res, sizeof res, "%s/res", dir);
    pid_t sh[2];
    for (int k = 0; k < 2; k++) {
        snprintf(sub[k], sizeof sub[k], "%s/shard%d", dir, k);
        cr_assert_eq(mkdir(sub[k], 0777), 0);
        sh[k] = spawn_in(ns_a, sub[k], (const char *const[]){"run", scn, "--target", url, "--shard",
                         k ? "1/2" : "0/2", "--start-at", at, "--out", res, "--quiet", NULL});
    }
    for (int k = 0; k < 2; k++) {
        int st;
        cr_assert_eq(waitpid(sh[k], &st, 0), sh[k]);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "shard %d: status 0x%x", k, st);
    }
    stop(srv);
    char merged[700];
    snprintf(merged, sizeof merged, "%s/merged", dir);
    int rc = lb_run(dir, &out, &err, (const char *const[]){"merge", merged, res, NULL}, NULL);
    cr_assert_eq(rc, 0, "merge: exit %d\n%s\n%s", rc, out, err);
    free(out), free(err);
    char pat[800];
    snprintf(pat, sizeof pat, "%s/report.json", merged);
    json_t *rep = lb_report(pat);
    json_t *m = lb_metrics(rep, 0);
    /* every link made from the driver's stack to the gateway's, every message back */
    cr_assert_eq(m_int(m, "driver.links_established"), LINKS);
    cr_assert_eq(m_int(m, "driver.fail_connect"), 0);
    cr_assert_eq(m_int(m, "msgs_delivered"), LINKS * MSGS);
    cr_assert(json_is_true(json_object_get(rep, "valid")));
    json_decref(rep);
}

Test(shard_e2e, command_line_refusals)
{
    char scn[600], *out, *err;
    write_scenario(scn, sizeof scn);
    struct { const char *const args[12]; const char *says; } cases[] = {
        {{"run", scn, "--shard", "0/2", NULL}, "give it with --target"},
        {{"run", scn, "--shard", "0/2", "--target", "ws://127.0.0.1:9/", "--target-cmd", "true", NULL},
         "not --target-cmd"},
        {{"run", scn, "--shard", "2/2", "--target", "ws://127.0.0.1:9/", NULL}, "0 <= I < N"},
        {{"run", scn, "--start-at", "2026-12-06T10:00:00Z", NULL}, "go with --shard"},
        {{"run", scn, "--shard", "0/2", "--target", "ws://127.0.0.1:9/", "--start-at", "10:00", NULL},
         "UTC time"},
        {{"run", scn, "--shard", "0/2", "--target", "ws://127.0.0.1:9/", "--every", "5", NULL},
         "goes with --start-at"},
        {{"run", scn, "--shard", "0/30", "--target", "ws://127.0.0.1:9/", NULL},
         "25 links cannot be split over 30 shards"},
        {{"merge", dir, NULL}, "give OUT and at least one"},
        {{"merge", "out", scn, NULL}, "not a shard result"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = lb_run(dir, &out, &err, cases[i].args, NULL);
        cr_assert_eq(rc, 2, "case %zu: exit %d\n%s", i, rc, err);
        cr_assert(strstr(err, cases[i].says), "case %zu: expected \"%s\" in:\n%s", i, cases[i].says, err);
        free(out), free(err);
    }
}
