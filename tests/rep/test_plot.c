/* test_plot.c — chart data, report.md, the HTML page and `linkbench plot`/`report` on crafted reports: what files hold, and exit codes. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "met_hist.h"
#include "met_hlog.h"
#include "rep_page.h"
#include "rep_md.h"
#include "rep_plot.h"
#include "lb_tmpdir.h"

static char dir[512];
static char out[1 << 16];

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_plot"); }

static void teardown(void) { lb_tmpdir_remove(dir); }

TestSuite(plot, .init = setup, .fini = teardown, .timeout = 120);

static const char *path(const char *name)
{
    static char p[4][800];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static int sh(const char *fmt, ...)
{
    char cmd[3000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *bin(void)
{
    const char *b = getenv("LINKBENCH_BIN");
    cr_assert_not_null(b, "LINKBENCH_BIN is not set (run through ctest)");
    return b;
}

static int lines(const char *name)
{
    FILE *f = fopen(path(name), "r");
    if (!f)
        return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* A run object with histograms of n values 1..n µs in each direction. */
static json_t *run(const char *variant, int rep, int n)
{
    met_hist *h = met_hist_create();
    for (int i = 1; i <= n; i++)
        met_hist_record(h, (int64_t)i * 1000);
    char *b64 = met_hlog_encode(h);
    met_hist_destroy(h);
    json_t *r = json_pack("{s:s,s:i,s:{},s:{s:s,s:s,s:s}}", "variant", variant, "rep", rep,
                          "metrics", "histograms", "lat_in", b64, "lat_out", b64, "lat_rtt", b64);
    free(b64);
    return r;
}

static json_t *summary_v(double dropped, double wake, double links, double cpu)
{
    return json_pack("{s:{s:f},s:{s:f},s:{s:f},s:{s:f},s:{s:f},s:{s:f},s:{s:f},s:{s:f},s:{s:f},"
                     "s:{s:{s:f},s:{s:f}},s:{s:{s:f},s:{s:f}},s:{}}",
                     "links", "median", links, "msgs_sent", "median", 1000.0, "msgs_dropped",
                     "median", dropped, "msgs_lost", "median", 0.0, "msgs_delivered", "median",
                     1000.0 - dropped, "wakeups_per_link_s", "median", wake, "threads_per_link",
                     "median", 1.0, "cpu_server_s", "median", cpu, "threads_peak", "median",
                     links + 3, "lat_out_us", "p50", "median", 100.0, "p99", "median", 200.0,
                     "lat_rtt_us", "p50", "median", 150.0, "p99", "median", 300.0,
                     "drops_by_reason");
}

/* A report of two variants, written to <rel>/report.json; poll drops and polls. */
static json_t *report(const char *rel, const char *name, int links, bool with_hist)
{
    json_t *runs = json_array();
    if (with_hist)
        for (int rep = 0; rep < 2; rep++) {
            json_array_append_new(runs, run("poll", rep, 1000));
            json_array_append_new(runs, run("evloop", rep, 1000));
        }
    json_t *r = json_pack("{s:i,s:{s:s,s:i,s:s},s:{s:i,s:s,s:s,s:f},s:{s:f,s:f,s:[s]},s:b,"
                          "s:o,s:{s:o,s:o}}",
                          "format", 1, "scenario", "name", name, "links", links, "description",
                          "a crafted scenario", "machine", "cpus", 2, "model", "test cpu",
                          "kernel", "Linux test", "steal_ms", 0.0, "config", "duration_s", 2.0,
                          "repetitions", 2.0, "expect", "*.msgs_lost == 0", "valid", 1, "runs",
                          runs, "summary", "poll", summary_v(25, 900, links, 0.4), "evloop",
                          summary_v(0, 3, links, 0.1));
    char cmd[1000];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", dir, rel);
    cr_assert_eq(system(cmd), 0);
    char p[900];
    snprintf(p, sizeof p, "%s/%s/report.json", dir, rel);
    cr_assert_eq(json_dump_file(r, p, JSON_INDENT(1) | JSON_PRESERVE_ORDER), 0);
    return r;
}

Test(plot, latency_spectrum_csv_and_hlog_from_histograms)
{
    json_t *r = report("a", "echo", 100, true);
    char err[512];
    cr_assert_eq(rep_data_write(r, path("a"), err, sizeof err), 0, "%s", err);
    /* the spectrum: header, the start point, then percentiles rising to 100 */
    FILE *f = fopen(path("a/lat_rtt_evloop.csv"), "r");
    cr_assert_not_null(f);
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_expect_str_eq(line, "percentile,inv_tail,value_us\n");
    double p = -1, inv = 0, v = 0, lp = -1, lv = -1;
    int n = 0;
    while (fscanf(f, "%lf,%lf,%lf\n", &p, &inv, &v) == 3) {
        cr_expect_geq(p, lp);
        cr_expect_geq(v, lv);
        lp = p, lv = v, n++;
    }
    fclose(f);
    cr_expect_gt(n, 10);
    cr_expect_float_eq(p, 100.0, 1e-9);
    cr_expect_float_eq(inv, 2000.0, 1e-9, "last point at 1/(1-(n-1)/n) = n = 2000 values");
    cr_expect_float_eq(v, 1000.0, 1.0, "the max, 1000 µs, within bucket precision");
    /* the .hlog: header and one interval per repetition, each decoding to 1000 values */
    f = fopen(path("a/lat_in_poll.hlog"), "r");
    cr_assert_not_null(f);
    int intervals = 0;
    static char big[1 << 16];
    while (fgets(big, sizeof big, f)) {
        if (big[0] == '#' || big[0] == '"')
            continue;
        char *b64 = strrchr(big, ',');
        cr_assert_not_null(b64);
        b64[strcspn(b64, "\n")] = 0;
        met_hist *h = met_hlog_decode(b64 + 1);
        cr_assert_not_null(h);
        cr_expect_eq(met_hist_count(h), 1000);
        met_hist_destroy(h);
        intervals++;
    }
    fclose(f);
    cr_expect_eq(intervals, 2);
    /* drops.csv: one row per variant with the medians */
    cr_expect_eq(lines("a/drops.csv"), 3);
    json_decref(r);
}

Test(plot, spectrum_falls_back_to_summary_percentiles)
{
    json_t *r = report("b", "echo", 100, false);
    char err[512];
    cr_assert_eq(rep_data_write(r, path("b"), err, sizeof err), 0, "%s", err);
    cr_expect_eq(lines("b/lat_rtt_poll.csv"), 3, "header, p50 and p99");
    cr_expect_eq(lines("b/lat_in_poll.csv"), 1, "no in-latency: header only");
    cr_expect_eq(access(path("b/lat_rtt_poll.hlog"), F_OK), -1, "no histogram, no .hlog");
    json_decref(r);
}

Test(plot, report_md_table_and_paragraph_follow_the_numbers)
{
    json_t *r = report("c", "slow", 100, false);
    char *md = rep_md_string(r);
    cr_assert_not_null(md);
    cr_expect(strstr(md, "| poll | 1 |"), "%s", md);
    cr_expect(strstr(md, "| evloop | 1 |"), "%s", md);
    cr_expect(strstr(md, "poll dropped 25 messages (2.50 % of 1000 sent)"), "%s", md);
    cr_expect(strstr(md, "evloop dropped none"), "%s", md);
    cr_expect(strstr(md, "poll woke up 900 times per link-second"), "%s", md);
    cr_expect(strstr(md, "300× evloop's"), "%s", md);
    cr_expect(!strstr(md, "evloop woke up"), "evloop does not poll: %s", md);
    cr_expect(strstr(md, "No message was lost"), "%s", md);
    cr_expect(strstr(md, "**Machine.** 2 CPUs, test cpu, Linux test"), "%s", md);
    cr_expect(strstr(md, "2 held, 0 failed"), "%s", md);
    free(md);
    json_decref(r);
}

Test(plot, scale_steps_and_overview_aggregate)
{
    json_t *a = report("scale/t1/links_20", "scale", 20, false);
    json_t *b = report("scale/t1/links_10", "scale", 10, false);
    json_t *c = report("echo/t1", "echo", 100, false);
    char *paths[] = {(char *)path("echo/t1/report.json"), (char *)path("scale/t1/links_10/report.json"),
                     (char *)path("scale/t1/links_20/report.json")};
    char p0[800], p1[800], p2[800];
    snprintf(p0, sizeof p0, "%s", paths[0]);
    snprintf(p1, sizeof p1, "%s", paths[1]);
    snprintf(p2, sizeof p2, "%s", paths[2]);
    char *ps[] = {p0, p1, p2};
    json_t *rs[] = {c, b, a};
    char err[512];
    cr_assert_eq(rep_data_aggregate(dir, ps, rs, 3, err, sizeof err), 0, "%s", err);
    FILE *f = fopen(path("scale/t1/scale_evloop.csv"), "r");
    cr_assert_not_null(f);
    char l[256];
    cr_assert_not_null(fgets(l, sizeof l, f));
    cr_assert_not_null(fgets(l, sizeof l, f));
    cr_expect_str_eq(l, "10,10,13,1,5000,3,NaN\n", "rows sorted by links; 0.1 s CPU / (10 links × 2 s) = 5000 µs");
    fclose(f);
    cr_expect_eq(lines("overview_dropped.csv"), 4, "header + 3 scenario@links rows");
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

Test(plot, finds_reports_below_a_directory)
{
    json_decref(report("x/1", "echo", 100, false));
    json_decref(report("x/2/links_5", "scale", 5, false));
    char **paths = NULL, err[512];
    int n = 0;
    cr_expect_eq(rep_find_reports(path("x"), &paths, &n, err, sizeof err), 2);
    cr_expect(strstr(paths[0], "x/1/report.json"));
    cr_expect_lt(rep_find_reports(path("nothing"), &paths, &n, err, sizeof err), 0);
    rep_reports_free(paths, n);
}

Test(plot, plot_command_exit_codes)
{
    cr_expect_eq(sh("'%s' plot 2>&1", bin()), 2, "%s", out);
    cr_expect_eq(sh("'%s' plot '%s' 2>&1", bin(), dir), 2, "no report: %s", out);
    json_decref(report("p", "echo", 100, true));
    /* without gnuplot on PATH: the data is written, the charts are said to be missing */
    cr_expect_eq(sh("PATH=/nonexistent '%s' plot '%s' 2>&1", bin(), dir), 1, "%s", out);
    cr_expect(strstr(out, "gnuplot not found"), "%s", out);
    cr_expect_eq(access(path("p/lat_rtt_poll.csv"), F_OK), 0);
    cr_expect_eq(access(path("p/report.md"), F_OK), 0);
    if (!rep_plot_have_gnuplot())
        return;
    setenv("LINKBENCH_PLOTS_DIR", "", 1);
    char plots[900];
    snprintf(plots, sizeof plots, "%s/plots", getenv("LINKBENCH_SOURCE_DIR") ?: ".");
    cr_expect_eq(sh("LINKBENCH_PLOTS_DIR='%s' '%s' plot '%s' 2>&1", plots, bin(), dir), 0, "%s", out);
    static const char *const charts[] = {"lat_in", "lat_out", "lat_rtt", "drops"};
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "p/%s.png", charts[i]);
        cr_expect_eq(access(path(name), F_OK), 0, "%s", name);
        snprintf(name, sizeof name, "p/%s.svg", charts[i]);
        cr_expect_eq(access(path(name), F_OK), 0, "%s", name);
    }
    /* the page: charts linked relative to it, or embedded with --embed */
    cr_expect_eq(sh("LINKBENCH_PLOTS_DIR='%s' '%s' report -o '%s' '%s' 2>&1", plots, bin(),
                    path("page.html"), dir), 0, "%s", out);
    FILE *f = fopen(path("page.html"), "r");
    cr_assert_not_null(f);
    static char html[1 << 20];
    html[fread(html, 1, sizeof html - 1, f)] = 0;
    fclose(f);
    cr_expect(strstr(html, "<table class=\"headline\">"), "the headline table");
    cr_expect(strstr(html, "src=\"p/lat_rtt.png\""), "the chart linked relative to the page");
    cr_expect(strstr(html, "href=\"p/report.json\""), "report.json linked");
    cr_expect(strstr(html, "<a href=\"#echo\">echo</a>"), "navigation by scenario name");
    cr_expect_eq(sh("LINKBENCH_PLOTS_DIR='%s' '%s' report --embed -o '%s' '%s' 2>&1", plots, bin(),
                    path("page.html"), dir), 0, "%s", out);
    f = fopen(path("page.html"), "r");
    cr_assert_not_null(f);
    html[fread(html, 1, sizeof html - 1, f)] = 0;
    fclose(f);
    cr_expect(strstr(html, "src=\"data:image/png;base64,iVBORw0KGgo"), "PNG embedded");
}

static char *page_of(char *const *dirs, int n, const char *page, rep_verdict *v)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    rep_page_opts o = {.page_path = page, .err = stderr};
    cr_assert_eq(rep_page_write(f, dirs, n, &o, v), 0);
    fclose(f);
    return buf;
}

static void touch(const char *name)
{
    FILE *f = fopen(path(name), "w");
    cr_assert_not_null(f);
    fputs("not really a png", f);
    fclose(f);
}

/* The page: verdict, the headline's rows and marks, sections in the suite's order,
 * charts only with data, links relative to the page wherever it is written. */
Test(plot, page_headline_sections_charts_and_links)
{
    json_t *a = report("s/echo", "echo", 100, false);          /* poll drops 25 */
    json_t *b = report("s/calm", "calm", 10, false);
    /* calm: nobody drops, and most metrics are absent (an older or external report) */
    json_t *sum = json_object_get(b, "summary");
    json_object_set_new(json_object_get(json_object_get(sum, "poll"), "msgs_dropped"), "median",
                        json_real(0));
    json_object_del(json_object_get(sum, "poll"), "threads_per_link");
    json_object_del(json_object_get(sum, "evloop"), "threads_per_link");
    cr_assert_eq(json_dump_file(b, path("s/calm/report.json"), JSON_INDENT(1)), 0);
    touch("s/calm/drops.png");     /* a stale chart of zeros must not be shown */
    touch("s/calm/lat_rtt.png");
    touch("s/echo/drops.png");
    /* suite.json lists calm before echo: the page follows it, not the alphabet */
    FILE *f = fopen(path("s/suite.json"), "w");
    cr_assert_not_null(f);
    fputs("{\"name\": \"mine\", \"description\": \"two\", \"scenarios\": [\"calm\", \"echo\"]}", f);
    fclose(f);
    char *dirs[] = {(char *)path("s")};
    rep_verdict v;
    char *html = page_of(dirs, 1, path("s/index.html"), &v);
    cr_expect_eq(v.scenarios, 2);
    cr_expect_eq(v.reports, 2);
    cr_expect_eq(v.held, 4, "*.msgs_lost == 0 for two variants in two reports: %d", v.held);
    cr_expect(rep_verdict_ok(&v));
    cr_expect(strstr(html, "linkbench: suite mine"), "the suite names the page");
    cr_expect(strstr(html, "性能对比总结"), "the Chinese beside the English heading");
    char *calm = strstr(html, "<section id=\"calm\">"), *echo = strstr(html, "<section id=\"echo\">");
    cr_assert(calm && echo, "a section per scenario, by name");
    cr_expect_lt(calm, echo, "sections in the suite's order");
    cr_expect(strstr(html, "<a href=\"#calm\">calm</a>"), "navigation by scenario name");
    /* the headline: drops row from echo with poll the worst and evloop the best */
    char *drow = strstr(html, "dropped<br><small><a href=\"#echo\">echo, 100 links");
    cr_assert_not_null(drow, "a dropped row for the scenario that dropped");
    char *worst = strstr(drow, "class=\"num worst\">25<"), *best = strstr(drow, "class=\"num best\">0<");
    cr_expect(worst && best, "poll 25 worst, evloop 0 best");
    cr_expect_null(strstr(html, "dropped<br><small><a href=\"#calm\">"), "no row of zeros for calm");
    cr_expect(strstr(html, "lost (all scenarios)"), "lost is summed over every report");
    /* threads per link: absent in calm, read from echo (the first with the figure) */
    cr_expect(strstr(html, "threads per link<br><small><a href=\"#echo\">"), "%s", html);
    /* charts: calm's drops.png exists but holds zeros: not shown; echo's is */
    cr_expect_null(strstr(html, "src=\"calm/drops.png\""), "no chart of zeros");
    cr_expect(strstr(html, "src=\"calm/lat_rtt.png\""), "calm leads with its latency");
    cr_expect(strstr(html, "src=\"echo/drops.png\""), "echo leads with its drops");
    cr_expect(strstr(html, "href=\"echo/report.json\""), "every file linked");
    free(html);
    /* written elsewhere, the same files are reached through ../ */
    char cmd[1000];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path("pages/deep"));
    cr_assert_eq(system(cmd), 0);
    html = page_of(dirs, 1, path("pages/deep/p.html"), NULL);
    cr_expect(strstr(html, "href=\"../../s/echo/report.json\""), "relative to the page");
    free(html);
    json_decref(a);
    json_decref(b);
}
