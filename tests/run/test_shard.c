/* test_shard.c — sharded runs in one process: the shard options, the driver's result through JSON and back, the clock bounds, and merge on synthetic shard reports (exact histograms, summed accounting, every refusal). */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "met_hist.h"
#include "met_hlog.h"
#include "rep_report.h"
#include "run.h"
#include "run_ext.h"
#include "run_merge.h"
#include "run_shard.h"

/* ---------------------------------------------------------------- options */

Test(shard, spec_parses_and_refuses)
{
    run_shard sh;
    char err[256];
    cr_assert_eq(run_shard_parse("2/5", &sh, err, sizeof err), 0);
    cr_assert_eq(sh.index, 2);
    cr_assert_eq(sh.count, 5);
    cr_assert_eq(run_shard_parse("0/1", &sh, err, sizeof err), 0);
    static const char *const bad[] = {"5/5", "-1/3", "3", "a/3", "1/0", "1/3x", "/3", "1/", NULL};
    for (int i = 0; bad[i]; i++) {
        cr_assert_lt(run_shard_parse(bad[i], &sh, err, sizeof err), 0, "%s accepted", bad[i]);
        cr_assert(strstr(err, "--shard") && strstr(err, bad[i]), "%s", err);
    }
}

Test(shard, start_time_parses_utc_and_epoch)
{
    int64_t t;
    char err[256], back[48];
    cr_assert_eq(run_shard_parse_time("2026-12-06T10:00:00Z", &t, err, sizeof err), 0);
    cr_assert_eq(t, 1796551200LL * 1000000000);
    cr_assert_eq(run_shard_parse_time("2026-12-06T10:00:00.250Z", &t, err, sizeof err), 0);
    cr_assert_eq(t, 1796551200LL * 1000000000 + 250000000);
    run_shard_format_time(t, back, sizeof back);
    cr_assert_str_eq(back, "2026-12-06T10:00:00.250Z");
    cr_assert_eq(run_shard_parse_time("@1796551200.5", &t, err, sizeof err), 0);
    cr_assert_eq(t, 1796551200500000000LL);
    /* a time without its zone would be read in some local zone: refused */
    static const char *const bad[] = {"2026-12-06T10:00:00", "2026-12-06 10:00:00Z", "tomorrow", "@-3",
                                      "@", "2026-12-06T10:00:00+01:00", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_lt(run_shard_parse_time(bad[i], &t, err, sizeof err), 0, "%s accepted", bad[i]);
}

Test(shard, split_covers_every_link_once)
{
    /* the plan's groups split over 3 shards: ranges tile each group, faults follow */
    struct scn s;
    scn_defaults(&s);
    s.links = 10;
    struct drv_params p0;
    struct drv_fault f[2] = {{.at_ns = 5, .kind = DRV_FAULT_CLOSE, .link_first = 2, .link_count = 6},
                             {.at_ns = 9, .kind = DRV_FAULT_RESET, .link_first = 0, .link_count = 10}};
    drv_params_default(&p0);
    p0.port = 1;
    p0.n_groups = 1;
    p0.groups[0].links = 10;
    p0.groups[0].rate_per_s = 1;
    p0.faults = f;
    p0.n_faults = 2;
    int seen[10] = {0};
    int64_t faulted = 0, total = 0;
    for (int k = 0; k < 3; k++) {
        run_shard sh = {.index = k, .count = 3};
        run_shard_run x;
        struct drv_params p = p0;
        char err[128];
        cr_assert_eq(run_shard_apply(&sh, &s, 10, &p, &x, err, sizeof err), 0, "%s", err);
        cr_assert_eq(x.links, k == 0 ? 4 : 3);
        cr_assert_eq(p.groups[0].links, (uint32_t)x.links);
        const json_t *r = json_array_get(x.ranges, 0);
        cr_assert_str_eq(json_string_value(json_object_get(r, "group")), "default");
        int64_t first = json_integer_value(json_object_get(r, "first"));
        for (int64_t i = first; i < first + json_integer_value(json_object_get(r, "count")); i++)
            seen[i]++;
        for (int i = 0; i < p.n_faults; i++)
            if (p.faults[i].kind == DRV_FAULT_CLOSE)
                faulted += p.faults[i].link_count;
        total += x.links;
        run_shard_run_deinit(&x);
    }
    cr_assert_eq(total, 10);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(seen[i], 1, "link %d in %d shards", i, seen[i]);
    cr_assert_eq(faulted, 6, "the close fault reaches its 6 links once in all (got %lld)", (long long)faulted);
    /* more shards than links: a shard with nothing is refused by name */
    run_shard sh = {.index = 10, .count = 11};
    run_shard_run x;
    struct drv_params p = p0;
    char err[128];
    cr_assert_lt(run_shard_apply(&sh, &s, 10, &p, &x, err, sizeof err), 0);
    cr_assert(strstr(err, "shard 10/11 holds no link"), "%s", err);
    run_shard_run_deinit(&x);
}

/* ---------------------------------------------------------------- the driver's result */

Test(shard, driver_result_round_trips_every_field)
{
    /* Every byte of a result given a value, then through JSON into a result that started
     * as other bytes: a field the JSON table misses keeps the other bytes and shows. The
     * bytes between a bool and the next field are padding, left out. */
    struct drv_result a, b;
    unsigned char *pa = (unsigned char *)&a, *pb = (unsigned char *)&b;
    for (size_t i = 0; i < sizeof a; i++)
        pa[i] = (unsigned char)(i * 7 + 1), pb[i] = (unsigned char)(i * 13 + 5);
    a.stopped = true;
    a.driver_saturated = true;
    a.throughput_msgs_s = 1234.5;
    a.cpu_util = 0.25;
    a.saturated_why = "cpu+lag";
    a.lat_rtt = a.lat_rtt_uncorrected = a.lat_out = a.lag = a.lag_own = NULL;
    a.bp_wait = a.rx_delay = a.rtt_undelivered = a.unsent_age = NULL;
    json_t *j = run_shard_dr_to_json(&a);
    char why[64], err[256];
    cr_assert_eq(run_shard_dr_from_json(j, &b, why, sizeof why, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(b.saturated_why, "cpu+lag");
    b.saturated_why = a.saturated_why;
    size_t pad[2][2] = {{offsetof(struct drv_result, stopped) + 1, offsetof(struct drv_result, all)},
                        {offsetof(struct drv_result, driver_saturated) + 1,
                         offsetof(struct drv_result, saturated_why)}};
    for (size_t i = 0; i < sizeof a; i++) {
        bool padding = (i >= pad[0][0] && i < pad[0][1]) || (i >= pad[1][0] && i < pad[1][1]);
        cr_assert(padding || pa[i] == pb[i], "byte %zu of struct drv_result did not come back: a field "
                  "missing from run_shard.c's table?", i);
    }
    /* a damaged document names the field */
    json_object_set_new(json_object_get(json_object_get(j, "all"), "echo"), "sent", json_string("x"));
    cr_assert_lt(run_shard_dr_from_json(j, &b, why, sizeof why, err, sizeof err), 0);
    cr_assert_str_eq(err, "driver.all.echo.sent: must be an integer");
    json_decref(j);
}

Test(shard, histogram_round_trips_exactly)
{
    met_hist *h = met_hist_create();
    for (int64_t v = 1; v < 5000000000LL; v = v * 3 + 7)
        met_hist_record(h, v);
    met_hist_record(h, 123456789);
    met_hist_record(h, -5);   /* out of range: overflow */
    json_t *j = run_shard_hist_json(h);
    met_hist *b = run_shard_hist_from_json(j);
    cr_assert_not_null(b);
    cr_assert_eq(met_hist_count(b), met_hist_count(h));
    cr_assert_eq(met_hist_overflow(b), 1);
    cr_assert_eq(met_hist_min(b), met_hist_min(h));
    cr_assert_eq(met_hist_max(b), met_hist_max(h), "max %lld, recorded %lld", (long long)met_hist_max(b),
                 (long long)met_hist_max(h));
    int ca = 0, cb = 0;
    int64_t va, na, vb, nb;
    while (met_hist_next(h, &ca, &va, &na)) {
        cr_assert(met_hist_next(b, &cb, &vb, &nb));
        cr_assert_eq(va, vb);
        cr_assert_eq(na, nb);
    }
    cr_assert_not(met_hist_next(b, &cb, &vb, &nb));
    /* a max outside the highest bucket is refused, not repaired */
    json_object_set_new(j, "max", json_integer(met_hist_max(h) * 2));
    cr_assert_null(run_shard_hist_from_json(j));
    json_decref(j);
    met_hist_destroy(h);
    met_hist_destroy(b);
}

/* ---------------------------------------------------------------- the clock */

Test(shard, clock_bounds_intersect_and_refuse_disagreement)
{
    const int64_t S = 1000000000LL, ms = 1000000;
    /* the target is 300 ms ahead; samples 1 ms long at .1, .5, .75 s past our second 100 */
    int64_t off = 300 * ms, d[3], ts[3], tr[3];
    int64_t at[3] = {100 * S + 100 * ms, 100 * S + 500 * ms, 100 * S + 750 * ms};
    for (int i = 0; i < 3; i++) {
        ts[i] = at[i];
        tr[i] = at[i] + ms;
        d[i] = (at[i] + off) / S * S;   /* truncated to its second, as Date is */
    }
    int64_t lo, hi;
    cr_assert(run_shard_clock_bounds(d, ts, tr, 3, &lo, &hi));
    cr_assert(lo <= off && off <= hi, "the true offset %lld is not in [%lld, %lld]", (long long)off,
              (long long)lo, (long long)hi);
    cr_assert_lt(hi - lo, 400 * ms, "three samples across a second narrow it well below 1 s");
    /* one sample alone: a whole second wide, and its round trip */
    cr_assert(run_shard_clock_bounds(d, ts, tr, 1, &lo, &hi));
    cr_assert_eq(hi - lo, S + ms);
    /* a Date one second off from the others: the bounds do not meet */
    d[2] += 2 * S;
    cr_assert_not(run_shard_clock_bounds(d, ts, tr, 3, &lo, &hi));
}

Test(shard, http_date_parses_imf_fixdate_only)
{
    int64_t t;
    const char *ok = " Sun, 06 Nov 1994 08:49:37 GMT";
    cr_assert_eq(run_shard_http_date(ok, strlen(ok), &t), 0);
    cr_assert_eq(t, 784111777LL * 1000000000);
    static const char *const bad[] = {"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
                                      "Sun, 06 Nov 1994 08:49:37 CET", "", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_lt(run_shard_http_date(bad[i], strlen(bad[i]), &t), 0, "%s", bad[i]);
}

/* ---------------------------------------------------------------- merge, synthetic shards */

#define NSH 3

/* What each synthetic shard recorded, and every value all of them did (the reference). */
static met_hist *ref_rtt;

/* A shard report as run --shard writes it: the run object built by the same code, the
 * shard object beside it; shard k holds links 4 + k, sends 100 + k echoes per link,
 * k + 1 of them still unsent at the end (observed in the census). */
static json_t *synthetic_shard(int k, int n, const char *start_at, double rate, int reps)
{
    json_t *runs = json_array();
    for (int rep = 0; rep < reps; rep++) {
        struct drv_result r;
        memset(&r, 0, sizeof r);
        int64_t links = 4 + k, sent = links * (100 + k), unsent = k + 1;
        r.links_wanted = r.links_established = r.links_open_at_end = links;
        r.all.echo.scheduled = sent + unsent;
        r.all.echo.sent = r.all.echo.delivered = sent;
        r.all.echo.unsent = unsent;
        r.measured.echo = r.all.echo;
        r.window.echo_delivered = sent;
        r.t_start = 1000, r.t_load0 = 2000, r.t_measure_start = 3000;
        r.measure_ns = 1000000000LL + k;   /* the longest window is shard 2's */
        r.t_measure_end = r.t_measure_start + r.measure_ns;
        r.t_end = r.t_measure_end + 1000 * (k + 1);
        r.cpu_ns = 100000000LL * (k + 1);
        r.wall_ns = 2000000000LL;
        r.cpu_util = 0.1 * (k + 1);
        r.driver_saturated = k == 1;
        r.saturated_why = k == 1 ? "lag" : "";
        r.lag_p99_ns = 1000 * (k + 1);
        met_hist *h[RUN_DRVS_NHIST];
        for (int i = 0; i < RUN_DRVS_NHIST; i++)
            h[i] = met_hist_create();
        /* values from ns to seconds, a different spread per shard */
        uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(k + 1) + (uint64_t)rep;
        for (int i = 0; i < 5000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int64_t v = (int64_t)(x % 1000000) * (k + 1) * (int64_t)(1 + (x >> 60));
            met_hist_record(h[0], v);
            if (rep == 0)
                met_hist_record(ref_rtt, v);
            met_hist_record(h[2], v / 2);
        }
        met_hist_record(h[0], INT64_MAX / 2);   /* out of range: counted in overflow */
        run_shard_set_hists(&r, h);
        json_t *census = json_pack("[{s:I,s:[{s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I}}]}]", "t_end",
            (json_int_t)r.t_end, "links", "unsent", (json_int_t)unsent, "payload_min", 64, "payload_max",
            64, "sock", "out_bytes", 0, "k_out", 0, "k_in", 0, "partial_bytes", 0);
        run_inputs in = {.variant = "external", .rep = rep, .links_wanted = links, .dr = &r,
                         .drv_census = census, .driver_cpus = "affinity 0"};
        json_t *run = run_ext_run_object(&in);
        run_ext_set_absent(run);
        run_shard sh = {.index = k, .count = n};
        run_shard_run xr = {.links = links, .requested_ns = 1796551200LL * 1000000000,
                            .started_ns = 1796551200LL * 1000000000 + k * 1000000, .mono_at_start = 0};
        xr.ranges = json_pack("[{s:s,s:I,s:I}]", "group", "default", "first", (json_int_t)(k * 4),
                              "count", (json_int_t)links);
        json_object_set_new(run, "shard", run_shard_object(&sh, &xr, &r, census, NULL));
        run_shard_run_deinit(&xr);
        json_decref(census);
        for (int i = 0; i < RUN_DRVS_NHIST; i++)
            met_hist_destroy(h[i]);
        json_array_append_new(runs, run);
    }
    json_t *shard = json_pack("{s:i,s:i}", "index", k, "count", n);
    if (start_at)
        json_object_set_new(shard, "start_at", json_string(start_at));
    json_t *scen = json_pack("{s:s,s:i,s:o,s:{s:s}}", "name", "syn", "links", 15, "shard", shard,
                             "target", "url", "ws://127.0.0.1:9/");
    json_t *conf = json_pack("{s:s,s:{s:f}}", "name", "syn", "client", "rate_per_s", rate);
    json_t *mach = json_pack("{s:i}", "cpus", 2);
    char err[256];
    json_t *rep = rep_report_build(scen, mach, conf, runs, err, sizeof err);
    cr_assert_not_null(rep, "%s", err);
    json_decref(scen), json_decref(conf), json_decref(mach), json_decref(runs);
    return rep;
}

static json_t *merge_of(json_t **reps, int n, char *err, size_t errlen)
{
    const char *paths[8] = {"s0.json", "s1.json", "s2.json", "s3.json", "s4.json", "s5.json"};
    return run_merge_reports(reps, paths, n, err, errlen);
}

static double metric(const json_t *rep, const char *k)
{
    return json_number_value(json_object_get(json_object_get(json_array_get(json_object_get(rep,
                             "runs"), 0), "metrics"), k));
}

Test(merge, exact_on_synthetic_histograms_and_sums_accounting)
{
    ref_rtt = met_hist_create();
    json_t *s[NSH];
    for (int k = NSH - 1; k >= 0; k--)   /* given in any order */
        s[NSH - 1 - k] = synthetic_shard(k, NSH, "2026-12-06T10:00:00.000Z", 10, 2);
    char err[512];
    json_t *m = merge_of(s, NSH, err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    /* counts summed; in flight observed in every shard's census (1 + 2 + 3 unsent) */
    cr_assert_eq(metric(m, "links"), 4 + 5 + 6);
    cr_assert_eq(metric(m, "msgs_sent"), 4 * 100 + 5 * 101 + 6 * 102 + 6);
    cr_assert_eq(metric(m, "msgs_delivered"), 4 * 100 + 5 * 101 + 6 * 102);
    cr_assert_eq(metric(m, "msgs_in_flight"), 6);
    cr_assert_eq(metric(m, "msgs_lost"), 0);
    cr_assert(json_is_true(json_object_get(m, "valid")), "%s",
              json_dumps(json_object_get(json_object_get(m, "flags"), "reasons"), 0));
    const json_t *run = json_array_get(json_object_get(m, "runs"), 0);
    const json_t *cc = json_object_get(json_object_get(run, "metrics"), "census_check");
    cr_assert_eq(json_integer_value(json_object_get(cc, "driver_links_open")), 3);
    /* the worst driver: its CPU, and the one saturated, named */
    cr_assert_float_eq(metric(m, "cpu_driver_util"), 0.3, 1e-9);
    const json_t *fl = json_object_get(run, "flags");
    cr_assert(json_is_true(json_object_get(fl, "driver_saturated")));
    cr_assert(strstr(json_string_value(json_object_get(fl, "driver_saturated_why")), "lag (shard 1/3"),
              "%s", json_string_value(json_object_get(fl, "driver_saturated_why")));
    cr_assert_float_eq(metric(m, "window_s"), 1.000000002, 1e-12);
    /* the histogram bucket by bucket: the merged V2 encoding holds what the three
     * recorded, as one histogram of every value would */
    met_hist *got = met_hlog_decode(json_string_value(json_object_get(json_object_get(run, "histograms"),
                                                                      "lat_rtt")));
    cr_assert_not_null(got);
    cr_assert_eq(met_hist_count(got), 3 * 5000);
    int ca = 0, cb = 0;
    int64_t va, na, vb, nb;
    bool a, b;
    do {
        a = met_hist_next(got, &ca, &va, &na);
        b = met_hist_next(ref_rtt, &cb, &vb, &nb);
        cr_assert_eq(a, b);
        if (a) {
            cr_assert_eq(va, vb);
            cr_assert_eq(na, nb, "bucket %lld: %lld merged, %lld recorded", (long long)va, (long long)na,
                         (long long)nb);
        }
    } while (a);
    /* the exact max (not at bucket precision) and p99 of the reference */
    const json_t *lat = json_object_get(json_object_get(run, "metrics"), "lat_rtt_us");
    cr_assert_float_eq(json_number_value(json_object_get(lat, "max")), met_hist_max(ref_rtt) / 1e3, 1e-6);
    cr_assert_float_eq(json_number_value(json_object_get(lat, "p99")),
                       met_hist_percentile(ref_rtt, 99) / 1e3, 1e-6);
    /* per host: three entries, in index order, with their links */
    const json_t *sh = json_object_get(run, "shards");
    cr_assert_eq(json_array_size(sh), 3);
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(json_integer_value(json_object_get(json_array_get(sh, (size_t)k), "index")), k);
        cr_assert_eq(json_integer_value(json_object_get(json_array_get(sh, (size_t)k), "links")), 4 + k);
    }
    cr_assert_eq(json_array_size(json_object_get(json_object_get(m, "machine"), "hosts")), 3);
    cr_assert_eq(json_array_size(json_object_get(m, "runs")), 2);
    /* the format of a single host's: every contract metric where a target run has it */
    cr_assert(json_is_array(json_object_get(run, "absent_metrics")));
    cr_assert_null(json_object_get(json_object_get(m, "scenario"), "shard"));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(json_object_get(m, "scenario"),
                 "shards"), "count")), 3);
    json_decref(m);
    for (int k = 0; k < NSH; k++)
        json_decref(s[k]);
    met_hist_destroy(ref_rtt);
}

Test(merge, refuses_shards_that_do_not_belong_together)
{
    ref_rtt = met_hist_create();
    char err[512];
    json_t *s[4];
    /* a missing shard */
    s[0] = synthetic_shard(0, 3, NULL, 10, 1);
    s[1] = synthetic_shard(2, 3, NULL, 10, 1);
    cr_assert_null(merge_of(s, 2, err, sizeof err));
    cr_assert_str_eq(err, "shard 1 of 3 missing (have 0, 2)");
    /* a duplicate */
    s[2] = synthetic_shard(2, 3, NULL, 10, 1);
    s[3] = synthetic_shard(1, 3, NULL, 10, 1);
    json_t *dup[4] = {s[0], s[1], s[2], s[3]};
    cr_assert_null(merge_of(dup, 4, err, sizeof err));
    cr_assert(strstr(err, "shard 2/3 given twice: s1.json and s2.json"), "%s", err);
    /* another config (the key named, both values) */
    json_t *other = synthetic_shard(1, 3, NULL, 20, 1);
    json_t *cf[3] = {s[0], other, s[1]};
    cr_assert_null(merge_of(cf, 3, err, sizeof err));
    cr_assert(strstr(err, "config differs: client.rate_per_s: 20.0 vs 10.0"), "%s", err);
    json_decref(other);
    /* another launch */
    other = synthetic_shard(1, 3, "2026-12-06T11:00:00.000Z", 10, 1);
    json_t *st[3] = {s[0], other, s[1]};
    cr_assert_null(merge_of(st, 3, err, sizeof err));
    cr_assert(strstr(err, "start time"), "%s", err);
    json_decref(other);
    /* another shard count */
    other = synthetic_shard(1, 4, NULL, 10, 1);
    json_t *ct[3] = {s[0], other, s[1]};
    cr_assert_null(merge_of(ct, 3, err, sizeof err));
    cr_assert(strstr(err, "shard count differs: 4 vs 3"), "%s", err);
    json_decref(other);
    /* a shard that stopped after fewer repetitions */
    other = synthetic_shard(1, 3, NULL, 10, 2);
    json_t *rp[3] = {s[0], other, s[1]};
    cr_assert_null(merge_of(rp, 3, err, sizeof err));
    cr_assert(strstr(err, "repetitions differs: [0,1] vs [0]"), "%s", err);
    json_decref(other);
    /* a report written without --shard */
    other = json_deep_copy(s[3]);
    json_object_del(json_object_get(other, "scenario"), "shard");
    json_t *ns[3] = {s[0], other, s[1]};
    cr_assert_null(merge_of(ns, 3, err, sizeof err));
    cr_assert(strstr(err, "s1.json: not a shard result"), "%s", err);
    json_decref(other);
    /* and the three that belong together do merge */
    json_t *ok[3] = {s[1], s[3], s[0]};
    json_t *m = merge_of(ok, 3, err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    json_decref(m);
    for (int k = 0; k < 4; k++)
        json_decref(s[k]);
    met_hist_destroy(ref_rtt);
}

Test(merge, json_diff_names_the_first_difference)
{
    char buf[256];
    json_t *a = json_pack("{s:i,s:{s:[i,i]}}", "x", 1, "y", "z", 1, 2);
    json_t *b = json_pack("{s:i,s:{s:[i,i]}}", "x", 1, "y", "z", 1, 3);
    cr_assert(run_merge_json_diff(a, b, buf, sizeof buf));
    cr_assert_str_eq(buf, "y.z[1]: 2 vs 3");
    json_object_set_new(b, "w", json_true());
    json_array_set_new(json_object_get(json_object_get(b, "y"), "z"), 1, json_integer(2));
    cr_assert(run_merge_json_diff(a, b, buf, sizeof buf));
    cr_assert_str_eq(buf, "w: (absent) vs true");
    json_object_del(b, "w");
    cr_assert_not(run_merge_json_diff(a, b, buf, sizeof buf));
    json_decref(a);
    json_decref(b);
}
