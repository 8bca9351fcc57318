/* test_run_multi.c — several processes per run: the driver's shares (groups and faults split exactly), the servers' reports merged, and the per-step files of a stepped run. */
#include <criterion/criterion.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "met_hist.h"
#include "run_drvs.h"
#include "run_srvs.h"

TestSuite(run_multi, .timeout = 300);

static void two_groups(struct drv_params *p, struct drv_fault *f)
{
    drv_params_default(p);
    p->port = 1;
    p->n_groups = 2;
    p->groups[0] = p->groups[1] = p->groups[0];
    p->groups[0].links = 7;     /* links 0..6 */
    p->groups[1].links = 5;     /* links 7..11 */
    p->groups[1].rate_per_s = 3;
    p->connect_rate_per_s = 900;
    /* one fault across both groups: links 5..8 */
    f[0] = (struct drv_fault){.at_ns = 10, .kind = DRV_FAULT_RESET, .link_first = 5, .link_count = 4};
    p->faults = f;
    p->n_faults = 1;
}

Test(run_multi, shares_split_every_group_and_cover_every_link_once)
{
    struct drv_params p, s;
    struct drv_fault f[1], sf[16];
    two_groups(&p, f);
    int links[2] = {0, 0}, faulted = 0;
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(run_drvs_share(&p, k, 3, &s, sf, 16), 0);
        cr_expect_float_eq(s.connect_rate_per_s, 300, 1e-9);
        cr_expect_eq(s.links_per_src_max, (p.links_per_src_max + 2) / 3);
        if (k)
            cr_expect_neq(s.seed, p.seed, "shares draw different schedules");
        for (int g = 0; g < s.n_groups; g++)
            links[s.groups[g].rate_per_s == 3] += (int)s.groups[g].links;
        for (int i = 0; i < s.n_faults; i++) {
            uint32_t total = 0;
            for (int g = 0; g < s.n_groups; g++)
                total += s.groups[g].links;
            cr_assert_leq(s.faults[i].link_first + s.faults[i].link_count, total);
            faulted += (int)s.faults[i].link_count;
        }
    }
    /* 7 = 3 + 2 + 2 and 5 = 1 + 2 + 2 (a group's extra links go to the shares after the
     * previous group's: 4 + 4 + 4): every link in exactly one share */
    cr_expect_eq(links[0], 7);
    cr_expect_eq(links[1], 5);
    cr_expect_eq(faulted, 4, "the fault reaches its 4 links, no more, no fewer");
}

Test(run_multi, share_maps_faults_onto_local_indices)
{
    struct drv_params p, s;
    struct drv_fault f[1], sf[16];
    two_groups(&p, f);
    /* share 0 of 2: group 0 links 0..3 (local 0..3), group 1 links 7..8 (local 4..5:
     * group 0's extra link went to share 0, group 1's goes to share 1); the fault 5..8
     * hits none of group 0's share (5, 6 are share 1's) and 7..8 of group 1: local 4..5 */
    cr_assert_eq(run_drvs_share(&p, 0, 2, &s, sf, 16), 0);
    cr_assert_eq(s.n_groups, 2);
    cr_expect_eq(s.groups[0].links, 4);
    cr_expect_eq(s.groups[1].links, 2);
    cr_assert_eq(s.n_faults, 1);
    cr_expect_eq(s.faults[0].link_first, 4);
    cr_expect_eq(s.faults[0].link_count, 2);
    /* share 1: group 0 links 4..6 (local 0..2), group 1 links 9..11 (local 3..5):
     * the fault hits 5..6, local 1..2 */
    cr_assert_eq(run_drvs_share(&p, 1, 2, &s, sf, 16), 0);
    cr_assert_eq(s.n_faults, 1);
    cr_expect_eq(s.faults[0].link_first, 1);
    cr_expect_eq(s.faults[0].link_count, 2);
    /* more shares than links: the empty share says so */
    p.groups[0].links = 1;
    p.n_groups = 1;
    p.n_faults = 0;
    cr_expect_eq(run_drvs_share(&p, 1, 2, &s, sf, 16), -EINVAL);
}

Test(run_multi, server_reports_merge_counts_and_histograms)
{
    met_hist *h1 = met_hist_create(), *h2 = met_hist_create();
    met_hist_record_n(h1, 1000, 3);
    met_hist_record_n(h2, 5000000, 2);
    json_t *a = json_pack("{s:s,s:i,s:I,s:I,s:{s:I,s:I,s:n},s:{s:I},s:o,s:[i]}", "event", "report",
                          "pid", 10, "window_ns", (json_int_t)900, "cpu_process_ns", (json_int_t)5,
                          "links", "held", (json_int_t)3, "attached", (json_int_t)4,
                          "limit_errno", "drops", "recv_queue_full", (json_int_t)1, "lat_in",
                          met_hist_to_json(h1), "first", 1);
    json_t *b = json_pack("{s:s,s:i,s:I,s:I,s:{s:I,s:I,s:s},s:{s:I},s:o,s:[i]}", "event", "report",
                          "pid", 11, "window_ns", (json_int_t)1000, "cpu_process_ns", (json_int_t)7,
                          "links", "held", (json_int_t)5, "attached", (json_int_t)6,
                          "limit_errno", "EMFILE", "drops", "recv_queue_full", (json_int_t)2,
                          "lat_in", met_hist_to_json(h2), "first", 2);
    run_srvs_merge(a, b);
    cr_expect_eq(json_integer_value(json_object_get(a, "pid")), 10, "the first one's pid");
    cr_expect_eq(json_integer_value(json_object_get(a, "window_ns")), 1000, "the longest window");
    cr_expect_eq(json_integer_value(json_object_get(a, "cpu_process_ns")), 12);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(a, "links"), "held")), 8);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(a, "links"), "attached")), 10);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(a, "links"), "limit_errno")),
                     "EMFILE", "a limit one process met is kept");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(a, "drops"), "recv_queue_full")), 3);
    cr_expect_eq(json_array_size(json_object_get(a, "first")), 2);
    met_hist *m = met_hist_from_json(json_object_get(a, "lat_in"));
    cr_assert_not_null(m);
    cr_expect_eq(met_hist_count(m), 5, "histograms merged bucket by bucket");
    cr_expect_eq(met_hist_max(m), met_hist_max(h2));
    cr_expect_eq(met_hist_min(m), met_hist_min(h1));
    met_hist_destroy(m);
    met_hist_destroy(h1);
    met_hist_destroy(h2);
    json_decref(a);
    json_decref(b);
}

Test(run_multi, stepped_run_writes_steps_json_and_scale_csv)
{
    const char *bin = getenv("LINKBENCH_BIN");
    cr_assert_not_null(bin, "LINKBENCH_BIN is not set (run through ctest)");
    char dir[512];
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/lb_multi_XXXXXX", t && *t ? t : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    char scn[700], res[700], cmd[2400];
    snprintf(scn, sizeof scn, "%s/st.json", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    FILE *f = fopen(scn, "w");
    cr_assert_not_null(f);
    fputs("{ \"name\": \"st\", \"steps\": [2, 5], \"duration_s\": 0.3, \"warmup_s\": 0.1,"
          "  \"repetitions\": 1, \"variants\": [\"evloop\", \"dual\"],"
          "  \"client\": { \"rate_per_s\": 0 } }\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' run --quiet --out '%s' '%s' >/dev/null 2>&1", bin, res, scn);
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "linkbench run: status 0x%x", st);

    char pat[800];
    snprintf(pat, sizeof pat, "%s/st/*/steps.json", res);
    glob_t g;
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no steps.json");
    json_t *doc = json_load_file(g.gl_pathv[0], 0, NULL);
    json_t *steps = json_object_get(doc, "steps");
    cr_assert_eq(json_array_size(steps), 2);
    json_t *s1 = json_array_get(steps, 1);
    cr_expect_eq(json_integer_value(json_object_get(s1, "links")), 5);
    json_t *dual = json_object_get(json_object_get(s1, "summary"), "dual");
    cr_assert_not_null(dual);
    cr_expect_float_eq(json_number_value(json_object_get(json_object_get(dual, "links"), "median")), 5, 1e-9);
    cr_expect_geq(json_number_value(json_object_get(json_object_get(dual, "threads_peak"), "median")), 10);
    cr_expect_not_null(json_object_get(dual, "cpu_per_link_s"));
    cr_expect_not_null(json_object_get(dual, "establish_s"));
    cr_expect(json_is_null(json_object_get(dual, "limit_reached")));
    json_decref(doc);
    globfree(&g);

    snprintf(pat, sizeof pat, "%s/st/*/scale.csv", res);
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no scale.csv");
    f = fopen(g.gl_pathv[0], "r");
    cr_assert_not_null(f);
    char line[512];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_expect_str_eq(line, "variant,links,threads,rss_per_link_bytes,sock_mem_per_link_bytes,"
                           "cpu_per_link_s,establish_s,held,limit_reason\n");
    int rows = 0;
    while (fgets(line, sizeof line, f))
        rows++;
    fclose(f);
    cr_expect_eq(rows, 4, "two variants x two steps");
    globfree(&g);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}
