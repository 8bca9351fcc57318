/* test_rep_sweep.c — sweeps found in crafted reports (instances of one design spanning one param) and the chart data written for them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lb_tmpdir.h"
#include "rep_sweep.h"

static char dir[512];

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_sweep"); }

static void teardown(void) { lb_tmpdir_remove(dir); }

TestSuite(rep_sweep, .init = setup, .fini = teardown);

/* hybrid with two sweeps (its read deadline, its send batch) around the plain module,
 * poll with read_keeps_partial in every instance, a switch on and off (no sweep), and
 * evloop alone. Each variant's summary: its CPU per link-second and p99 out. */
static json_t *crafted(void)
{
    json_error_t je;
    json_t *r = json_loads(
        "{\"config\": {\"variants\": ["
        " \"hybrid\","
        " {\"name\": \"hybrid@rt5\", \"variant\": \"hybrid\", \"config\": {\"read_timeout_ms\": 5}},"
        " {\"name\": \"hybrid@rt500\", \"variant\": \"hybrid\", \"config\": {\"read_timeout_ms\": 500}},"
        " {\"name\": \"hybrid@b1\", \"variant\": \"hybrid\", \"config\": {\"send_batch\": 1}},"
        " {\"name\": \"hybrid@b64\", \"variant\": \"hybrid\", \"config\": {\"send_batch\": 64}},"
        " {\"name\": \"poll+keep\", \"variant\": \"poll\", \"config\": {\"read_keeps_partial\": 1}},"
        " {\"name\": \"poll+keep@5\", \"variant\": \"poll\", \"config\": {\"read_keeps_partial\": 1, \"poll_read_ms\": 5}},"
        " {\"name\": \"poll+keep@50\", \"variant\": \"poll\", \"config\": {\"read_keeps_partial\": 1, \"poll_read_ms\": 50}},"
        " {\"name\": \"poll@5\", \"variant\": \"poll\", \"config\": {\"poll_read_ms\": 5}},"
        " \"evloop\"]},"
        " \"summary\": {}}", 0, &je);
    cr_assert_not_null(r, "%s", je.text);
    const char *names[] = {"hybrid", "hybrid@rt5", "hybrid@rt500", "hybrid@b1", "hybrid@b64",
                           "poll+keep", "poll+keep@5", "poll+keep@50", "poll@5", "evloop"};
    json_t *sum = json_object_get(r, "summary");
    for (int i = 0; i < 10; i++)
        json_object_set_new(sum, names[i],
                            json_pack("{s:{s:f},s:{s:{s:f}},s:{s:f}}", "cpu_per_link_s", "median",
                                      0.001 * (i + 1), "lat_out_us", "p99", "median", 100.0 * (i + 1),
                                      "wakeups_per_link_s", "median", 10.0 * (i + 1)));
    return r;
}

static const struct rep_sweep *find(const struct rep_sweep *s, int n, const char *mod, const char *param)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s[i].module, mod) && !strcmp(s[i].param, param))
            return &s[i];
    return NULL;
}

Test(rep_sweep, instances_differing_in_one_param_make_a_sweep_the_plain_module_at_its_default)
{
    json_t *r = crafted();
    struct rep_sweep s[REP_SWEEPS_MAX];
    int n = rep_sweep_find(r, s, REP_SWEEPS_MAX);
    cr_assert_eq(n, 3, "hybrid's two and poll's one (got %d)", n);
    const struct rep_sweep *rt = find(s, n, "hybrid", "read_timeout_ms");
    cr_assert_not_null(rt);
    cr_assert_eq(rt->n, 3);
    /* sorted by value; the plain hybrid at LinkV4's 30 s, read from the module */
    cr_expect_float_eq(rt->pts[0].value, 5, 0);
    cr_expect_str_eq(rt->pts[0].variant, "hybrid@rt5");
    cr_expect_float_eq(rt->pts[1].value, 500, 0);
    cr_expect_float_eq(rt->pts[2].value, 30000, 0);
    cr_expect_str_eq(rt->pts[2].variant, "hybrid");
    const struct rep_sweep *b = find(s, n, "hybrid", "send_batch");
    cr_assert_not_null(b);
    cr_assert_eq(b->n, 3);
    cr_expect_float_eq(b->pts[1].value, 8, 0);
    /* poll's points share read_keeps_partial 1; poll@5 (without it) is not one of them,
     * and the switch on and off (two values) is no sweep */
    const struct rep_sweep *p = find(s, n, "poll", "poll_read_ms");
    cr_assert_not_null(p);
    cr_assert_eq(p->n, 3);
    cr_expect_str_eq(p->pts[0].variant, "poll+keep");
    cr_expect_float_eq(p->pts[0].value, 1, 0);
    cr_expect_str_eq(p->pts[2].variant, "poll+keep@50");
    cr_expect_null(find(s, n, "poll", "read_keeps_partial"));
    json_decref(r);
}

Test(rep_sweep, chart_data_holds_one_row_per_point_and_the_panels_with_data)
{
    json_t *r = crafted();
    char err[512];
    cr_assert_eq(rep_sweep_write(r, dir, err, sizeof err), 0, "%s", err);
    char p[700], line[1024];
    snprintf(p, sizeof p, "%s/sweeps.txt", dir);
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f);
    int lines = 0;
    bool rt = false;
    while (fgets(line, sizeof line, f)) {
        lines++;
        if (!strncmp(line, "sweep_hybrid_read_timeout_ms read_timeout_ms hybrid ", 52)) {
            rt = true;
            /* CPU, wake-ups and the one latency measured; nothing else moved */
            cr_expect(strstr(line, " cpu wakeups lat_out\n"), "%s", line);
        }
    }
    fclose(f);
    cr_expect_eq(lines, 3);
    cr_expect(rt);
    snprintf(p, sizeof p, "%s/sweep_hybrid_read_timeout_ms.csv", dir);
    f = fopen(p, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_expect(!strncmp(line, "value,variant,cpu_us_per_link_s,", 32), "%s", line);
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_expect(!strncmp(line, "5,hybrid@rt5,2000,", 18), "CPU in µs per link-second: %s", line);
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_expect(!strncmp(line, "30000,hybrid,1000,", 18), "%s", line);
    cr_expect_null(fgets(line, sizeof line, f));
    fclose(f);
    /* a report without sweeps removes the list of an earlier drawing */
    json_t *plain = json_pack("{s:{s:[s,s]},s:{}}", "config", "variants", "dual", "evloop", "summary");
    cr_assert_eq(rep_sweep_write(plain, dir, err, sizeof err), 0, "%s", err);
    snprintf(p, sizeof p, "%s/sweeps.txt", dir);
    cr_expect_null(fopen(p, "r"));
    json_decref(plain);
    json_decref(r);
}
