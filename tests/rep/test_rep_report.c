/* test_rep_report.c — report.json: summaries over repetitions, validity flags, atomic writes and their errors; the comparison table. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lb_file.h"
#include "met_names.h"
#include "met_stats.h"
#include "rep_report.h"
#include "rep_table.h"

/* One run whose values are derived from k, so medians are known: k = 1, 2, 3. */
static json_t *fake_run(const char *variant, int rep, double k, double lost)
{
    double sent = 1000 * k, dropped = 10 * k, refused = 1, in_flight = 4;
    double delivered = sent - dropped - refused - in_flight - lost;
    return json_pack(
        "{s:s,s:i,s:{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,"
        "s:{s:f,s:f,s:f,s:f,s:f},s:{s:f,s:f,s:f,s:f,s:f},s:{s:f,s:f,s:f,s:f,s:f},"
        "s:{s:f},s:f},s:{s:b}}",
        "variant", variant, "rep", rep, "metrics",
        "links", 100.0, "threads_peak", 200 + k, "threads_per_link", 2.0,
        "cpu_server_s", 0.5 * k, "cpu_link_s", 0.4 * k, "cpu_app_s", 0.1 * k,
        "cpu_driver_util", 0.2, "wakeups_per_link_s", 1000.0 / k, "syscalls_per_msg", 2.5,
        "rss_peak_bytes", 1e6 * k, "rss_per_link_bytes", 1e4 * k,
        "msgs_sent", sent, "msgs_delivered", delivered, "msgs_dropped", dropped,
        "msgs_refused", refused, "msgs_in_flight", in_flight, "msgs_lost", lost,
        "throughput_msgs_s", 100 * k, "links_closed_idle", 0.0, "links_closed_error", k - 1,
        "lat_in_us", "p50", 40 * k, "p90", 60 * k, "p99", 90 * k, "p999", 120 * k, "max", 500 * k,
        "lat_out_us", "p50", 30 * k, "p90", 50 * k, "p99", 80 * k, "p999", 100 * k, "max", 400 * k,
        "lat_rtt_us", "p50", 70 * k, "p90", 110 * k, "p99", 170 * k, "p999", 220 * k, "max", 900 * k,
        "drops_by_reason", "queue_full", dropped, "extra_gauge", 7 * k,
        "flags", "partial", 0);
}

static double num(const json_t *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *at = j;
    for (char *save, *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save))
        at = json_object_get(at, tok);
    cr_assert(json_is_number(at), "%s is not a number", path);
    return json_number_value(at);
}

static json_t *three_reps(double lost_in_rep2)
{
    json_t *runs = json_array();
    /* interleaved and out of order on purpose: the summary must not care */
    json_array_append_new(runs, fake_run("dual", 0, 3, 0));
    json_array_append_new(runs, fake_run("evloop", 0, 1, 0));
    json_array_append_new(runs, fake_run("dual", 1, 1, 0));
    json_array_append_new(runs, fake_run("evloop", 1, 1, 0));
    json_array_append_new(runs, fake_run("dual", 2, 2, lost_in_rep2));
    json_array_append_new(runs, fake_run("evloop", 2, 1, 0));
    return runs;
}

Test(rep_report, summary_is_median_min_max_over_repetitions)
{
    json_t *runs = three_reps(0);
    char err[256] = "";
    json_t *r = rep_report_build(NULL, NULL, NULL, runs, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_assert(json_is_true(json_object_get(r, "valid")));
    cr_assert_eq(json_array_size(json_object_get(r, "runs")), 6);
    cr_assert_eq(num(r, "summary.dual.cpu_server_s.median"), 1.0);
    cr_assert_eq(num(r, "summary.dual.cpu_server_s.min"), 0.5);
    cr_assert_eq(num(r, "summary.dual.cpu_server_s.max"), 1.5);
    cr_assert_eq(num(r, "summary.dual.threads_peak.median"), 202);
    cr_assert_eq(num(r, "summary.dual.wakeups_per_link_s.median"), 500);
    cr_assert_eq(num(r, "summary.dual.lat_in_us.p99.median"), 180);
    cr_assert_eq(num(r, "summary.dual.lat_in_us.p99.min"), 90);
    cr_assert_eq(num(r, "summary.dual.lat_rtt_us.max.max"), 2700);
    cr_assert_eq(num(r, "summary.dual.drops_by_reason.queue_full.median"), 20);
    cr_assert_eq(num(r, "summary.dual.msgs_delivered.median"), 2000 - 20 - 5);
    cr_assert_eq(num(r, "summary.dual.extra_gauge.max"), 21);
    cr_assert_eq(num(r, "summary.evloop.links.median"), 100);
    /* derived per run, then summarised: 0.5 s / 985 msgs */
    cr_assert_float_eq(num(r, "summary.evloop.cpu_ms_per_1k_msgs.median"), 0.5e6 / 985, 1e-9);
    /* counts stay JSON integers */
    json_t *sent = json_object_get(json_object_get(json_object_get(json_object_get(r, "summary"),
                                                                   "dual"), "msgs_sent"), "median");
    cr_assert(json_is_integer(sent));
    /* every contract metric is present for every variant */
    for (const char *const *k = MET_SCALAR_METRICS; *k; k++)
        cr_assert_not_null(json_object_get(json_object_get(json_object_get(r, "summary"), "evloop"), *k),
                           "%s missing", *k);
    cr_assert_eq(num(r, "flags.variants.dual.reps"), 3);
    cr_assert(json_is_false(json_object_get(json_object_get(r, "flags"), "partial")));
    json_decref(r);
    json_decref(runs);
}

Test(rep_report, lost_messages_make_the_report_invalid_with_a_reason)
{
    json_t *runs = three_reps(2);
    char err[256];
    json_t *r = rep_report_build(NULL, NULL, NULL, runs, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    cr_assert(json_is_false(json_object_get(r, "valid")));
    const json_t *reasons = json_object_get(json_object_get(r, "flags"), "reasons");
    cr_assert_eq(json_array_size(reasons), 1);
    const char *why = json_string_value(json_array_get(reasons, 0));
    cr_assert(strstr(why, "dual rep 2") && strstr(why, "msgs_lost = 2"), "reason: %s", why);
    cr_assert(json_is_false(json_object_get(
        json_object_get(json_object_get(json_object_get(r, "flags"), "variants"), "dual"), "valid")));
    cr_assert(json_is_true(json_object_get(
        json_object_get(json_object_get(json_object_get(r, "flags"), "variants"), "evloop"), "valid")));
    json_decref(r);
    json_decref(runs);
}

Test(rep_report, accounting_that_does_not_add_up_is_invalid)
{
    json_t *runs = json_array();
    json_t *run = fake_run("poll", 0, 1, 0);
    json_object_set_new(json_object_get(run, "metrics"), "msgs_sent", json_integer(5000));
    json_array_append_new(runs, run);
    json_t *r = rep_report_build(NULL, NULL, NULL, runs, NULL, 0);
    cr_assert(json_is_false(json_object_get(r, "valid")));
    const char *why = json_string_value(json_array_get(json_object_get(json_object_get(r, "flags"), "reasons"), 0));
    cr_assert(strstr(why, "accounting does not add up"), "reason: %s", why);
    json_decref(r);
    json_decref(runs);
}

Test(rep_report, flags_saturation_partial_limits_and_missing_metrics)
{
    json_t *runs = json_array();
    json_t *a = fake_run("dual", 0, 1, 0), *b = fake_run("dual", 1, 1, 0), *c = fake_run("pair", 0, 1, 0);
    json_object_set_new(json_object_get(a, "metrics"), "cpu_driver_util", json_real(0.93));
    json_object_set_new(json_object_get(a, "flags"), "limit_reached",
                        json_string("dual could hold 9800 links: thread limit"));
    json_object_del(json_object_get(c, "metrics"), "lat_out_us");
    json_object_del(json_object_get(c, "metrics"), "syscalls_per_msg");
    json_array_append_new(runs, a);
    json_array_append_new(runs, b);
    json_array_append_new(runs, c);   /* pair has one repetition, dual two: partial */
    json_t *r = rep_report_build(NULL, NULL, NULL, runs, NULL, 0);
    const json_t *flags = json_object_get(r, "flags");
    const json_t *dual = json_object_get(json_object_get(flags, "variants"), "dual");
    const json_t *pair = json_object_get(json_object_get(flags, "variants"), "pair");
    cr_assert(json_is_true(json_object_get(flags, "driver_saturated")));
    cr_assert(json_is_true(json_object_get(dual, "driver_saturated")));
    cr_assert(json_is_false(json_object_get(pair, "driver_saturated")));
    cr_assert(json_is_true(json_object_get(flags, "partial")));
    cr_assert_str_eq(json_string_value(json_object_get(dual, "limit_reached")),
                     "dual could hold 9800 links: thread limit");
    cr_assert(json_is_null(json_object_get(pair, "limit_reached")));
    const json_t *missing = json_object_get(pair, "missing_metrics");
    cr_assert_eq(json_array_size(missing), 2);
    const json_t *s = json_object_get(json_object_get(r, "summary"), "pair");
    cr_assert(json_is_null(json_object_get(json_object_get(s, "syscalls_per_msg"), "median")));
    cr_assert(json_is_null(json_object_get(json_object_get(json_object_get(s, "lat_out_us"), "p99"), "max")));
    json_decref(r);
    json_decref(runs);
}

Test(rep_report, malformed_run_is_refused_with_its_index)
{
    json_t *runs = json_array();
    json_array_append_new(runs, fake_run("dual", 0, 1, 0));
    json_array_append_new(runs, json_pack("{s:i,s:i,s:{}}", "variant", 3, "rep", 0, "metrics"));
    char err[256] = "";
    cr_assert_null(rep_report_build(NULL, NULL, NULL, runs, err, sizeof err));
    cr_assert_str_eq(err, "runs[1].variant: must be a non-empty string");
    json_decref(runs);
}

static char *scratch_dir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir;
    cr_assert_neq(asprintf(&dir, "%s/lbrep.XXXXXX", base && *base ? base : "/tmp"), -1);
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

Test(rep_report, report_is_written_and_reads_back)
{
    json_t *runs = three_reps(0);
    json_t *scenario = json_pack("{s:s}", "name", "t");
    json_t *r = rep_report_build(scenario, NULL, NULL, runs, NULL, 0);
    json_decref(scenario);
    char *dir = scratch_dir(), *path;
    cr_assert_neq(asprintf(&path, "%s/report.json", dir), -1);
    char err[512];
    cr_assert_eq(rep_report_write(r, path, err, sizeof err), 0, "%s", err);
    json_t *back = json_load_file(path, 0, NULL);
    cr_assert_not_null(back);
    cr_assert_eq(num(back, "summary.dual.cpu_server_s.median"), 1.0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dir);
    json_decref(back);
    json_decref(r);
    json_decref(runs);
}

Test(rep_report, unwritable_directory_gives_an_error_naming_the_path)
{
    char *dir = scratch_dir(), *path, *blocker;
    /* a directory that does not exist, and one that is a regular file: both fail for
     * root too, unlike permission bits */
    cr_assert_neq(asprintf(&path, "%s/no/such/dir/report.json", dir), -1);
    char err[512] = "";
    int rc = lb_write_atomic(path, "{}", 2, err, sizeof err);
    cr_assert_eq(rc, -ENOENT);
    cr_assert(strstr(err, path) && strstr(err, strerror(ENOENT)), "err: %s", err);
    free(path);
    cr_assert_neq(asprintf(&blocker, "%s/file", dir), -1);
    fclose(fopen(blocker, "w"));
    cr_assert_neq(asprintf(&path, "%s/report.json", blocker), -1);
    rc = lb_write_atomic(path, "{}", 2, err, sizeof err);
    cr_assert_eq(rc, -ENOTDIR);
    cr_assert(strstr(err, path) && strstr(err, strerror(ENOTDIR)), "err: %s", err);
    free(path);
    if (geteuid() != 0) {
        cr_assert_eq(chmod(dir, 0555), 0);
        cr_assert_neq(asprintf(&path, "%s/report.json", dir), -1);
        cr_assert_eq(lb_write_atomic(path, "{}", 2, err, sizeof err), -EACCES);
        cr_assert(strstr(err, path), "err: %s", err);
        free(path);
        chmod(dir, 0755);
    }
    unlink(blocker);
    rmdir(dir);
    free(blocker);
    free(dir);
}

Test(rep_report, a_full_disk_leaves_the_old_file_and_no_temporary)
{
    char *dir = scratch_dir(), *path;
    cr_assert_neq(asprintf(&path, "%s/report.json", dir), -1);
    char err[512];
    cr_assert_eq(lb_write_atomic(path, "old", 3, err, sizeof err), 0, "%s", err);
    /* RLIMIT_FSIZE makes write fail (EFBIG) the way a full disk does (ENOSPC) */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {16, 16};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    static char big[4096];
    memset(big, 'x', sizeof big);
    int rc = lb_write_atomic(path, big, sizeof big, err, sizeof err);
    cr_assert_eq(rc, -EFBIG);
    cr_assert(strstr(err, path) && strstr(err, strerror(EFBIG)), "err: %s", err);
    FILE *f = fopen(path, "r");
    char got[8] = "";
    cr_assert_not_null(fgets(got, sizeof got, f));
    fclose(f);
    cr_assert_str_eq(got, "old");
    char *cmd;
    cr_assert_neq(asprintf(&cmd, "ls %s | wc -l", dir), -1);
    FILE *ls = popen(cmd, "r");
    int files = 0;
    cr_assert_eq(fscanf(ls, "%d", &files), 1);
    pclose(ls);
    cr_assert_eq(files, 1, "a temporary file was left behind");
    unlink(path);
    rmdir(dir);
    free(cmd);
    free(path);
    free(dir);
}

Test(rep_report, stats_median_of_even_count_and_littles_law)
{
    double v[] = {4, 1, 3, 2};
    met_mmm m = met_stats_mmm(v, 4);
    cr_assert_eq(m.median, 2.5);
    cr_assert_eq(m.min, 1);
    cr_assert_eq(m.max, 4);
    met_little l = met_stats_little(10000, 0.002, 21, 0.1);   /* predicted 20 */
    cr_assert_float_eq(l.predicted, 20, 1e-9);
    cr_assert(l.ok);
    cr_assert_not(met_stats_little(10000, 0.002, 40, 0.1).ok);
    cr_assert(met_stats_little(0, 0, 0, 0.1).ok);
}

Test(rep_report, table_lists_variants_with_units)
{
    json_t *runs = three_reps(0);
    json_t *r = rep_report_build(NULL, NULL, NULL, runs, NULL, 0);
    char *text = rep_table_string(r, REP_TABLE_TEXT);
    char *md = rep_table_string(r, REP_TABLE_MARKDOWN);
    cr_assert_not_null(text);
    cr_assert_not_null(md);
    cr_assert(strstr(text, "variant") && strstr(text, "(µs)") && strstr(text, "dual") &&
              strstr(text, "evloop"), "%s", text);
    /* dual: p99 in median 180; evloop throughput 100 */
    cr_assert(strstr(text, "180"), "%s", text);
    cr_assert(strstr(md, "| variant |") || strstr(md, "| variant "), "%s", md);
    cr_assert(strstr(md, "|---") || strstr(md, "| ---") || strstr(md, ":--") || strstr(md, "--:"), "%s", md);
    /* every text line has the same width: aligned columns */
    size_t width = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t n = 0;   /* display width: UTF-8 code points ("µ" is two bytes) */
        for (char *c = line; *c && c != nl; c++)
            n += ((unsigned char)*c & 0xC0) != 0x80;
        if (n && !width)
            width = n;
        if (n)
            cr_assert_eq(n, width, "ragged table:\n%s", text);
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(text);
    free(md);
    json_decref(r);
    json_decref(runs);
}

/* Display width of one line (UTF-8 code points). */
static size_t line_width(const char *line, const char *nl)
{
    size_t n = 0;
    for (const char *c = line; *c && c != nl; c++)
        n += ((unsigned char)*c & 0xC0) != 0x80;
    return n;
}

Test(rep_report, table_fits_a_narrow_terminal_and_never_cuts_a_note)
{
    json_t *runs = three_reps(0);
    json_t *r = rep_report_build(NULL, NULL, NULL, runs, NULL, 0);
    /* a long caveat, as a variant that met a limit says it */
    static const char *lim = "dual could hold 9800 links: thread limit reached (pthread_create: "
                             "EAGAIN) after 19600 threads";
    json_object_set_new(json_object_get(json_object_get(json_object_get(r, "flags"), "variants"),
                                        "dual"), "limit_reached", json_string(lim));
    for (int cols = 80; cols <= 220; cols += 70) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        cr_assert_eq(rep_table_print_width(f, r, REP_TABLE_TEXT, cols), 0);
        fclose(f);
        /* every line fits; the note's words all appear, in order, none cut */
        for (char *line = buf; *line;) {
            char *nl = strchr(line, '\n');
            cr_expect_leq(line_width(line, nl), (size_t)cols, "line wider than %d:\n%s", cols, buf);
            line = nl ? nl + 1 : line + strlen(line);
        }
        char words[512];
        snprintf(words, sizeof words, "%s", lim);
        const char *at = buf;
        for (char *save, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            const char *hit = strstr(at, w);
            cr_expect_not_null(hit, "at %d columns the note lost '%s':\n%s", cols, w, buf);
            if (hit)
                at = hit + strlen(w);
        }
        cr_expect(strstr(buf, "evloop") && strstr(buf, "180"), "%s", buf);
        free(buf);
    }
    /* the title line names the scenario, links, variants and repetitions */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    rep_table_title(f, r);
    fclose(f);
    cr_expect(strstr(buf, "2 variants x"), "%s", buf);
    free(buf);
    char *html = rep_table_string(r, REP_TABLE_HTML);
    cr_assert_not_null(html);
    cr_expect(strstr(html, "<th scope=\"row\">dual</th>"), "%s", html);
    cr_expect(strstr(html, "thread limit reached"), "the whole note in HTML");
    free(html);
    json_decref(r);
    json_decref(runs);
}
