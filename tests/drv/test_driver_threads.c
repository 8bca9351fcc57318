/* test_driver_threads.c — the driver on several threads sharing one core: the links split, one load time, accounting and histograms merged exactly, and the census of a real run still joining link by link. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv.h"
#include "drv_echo.h"
#include "drv_internal.h"
#include "lb_run.h"
#include "lb_tmpdir.h"

static void assert_closes(const struct drv_dir *e)
{
    cr_expect_eq(e->scheduled, e->sent + e->unsent);
    cr_expect_eq(e->sent, e->delivered + e->gaps + e->in_flight + e->abandoned,
                 "sent %ld != delivered %ld + gaps %ld + in_flight %ld + abandoned %ld", (long)e->sent,
                 (long)e->delivered, (long)e->gaps, (long)e->in_flight, (long)e->abandoned);
}

/* Two groups (Poisson and constant, different sizes) over three threads pinned to one
 * CPU: the per-thread parts add up to the merged result exactly. */
Test(driver_threads, three_threads_on_one_core_merge_exactly, .timeout = 120)
{
    struct drv_echo_params ep;
    drv_echo_params_default(&ep);
    ep.push_per_echo = true;
    struct drv_echo *e;
    uint16_t port;
    cr_assert_eq(drv_echo_start(&ep, &e, &port), 0);
    struct drv_params p;
    drv_params_default(&p);
    p.port = port;
    p.connect_rate_per_s = 0;
    p.threads = 3;
    p.cpu = 0;   /* all three share CPU 0 */
    p.n_groups = 2;
    p.groups[0].links = 7;
    p.groups[0].rate_per_s = 400;
    p.groups[0].pattern = DRV_POISSON;
    p.groups[1] = p.groups[0];
    p.groups[1].links = 5;
    p.groups[1].rate_per_s = 250;
    p.groups[1].pattern = DRV_CONSTANT;
    p.groups[1].payload_min_bytes = p.groups[1].payload_max_bytes = 200;
    p.warmup_ns = 100 * RT_MS;
    p.duration_ns = 400 * RT_MS;
    p.drain_max_ns = 2 * RT_S;
    struct drv *d;
    char err[256];
    cr_assert_eq(drv_create(&p, &d, err, sizeof err), 0, "%s", err);
    struct drv_result r;
    cr_assert_eq(drv_run(d, &r), 0);
    cr_expect_eq(r.threads, 3);
    cr_expect_eq(r.links_established, 12);
    cr_expect_eq(r.links_open_at_end, 12);
    assert_closes(&r.all.echo);
    assert_closes(&r.measured.echo);
    cr_expect_eq(r.all.echo.delivered, r.all.echo.sent, "the echo thread loses nothing");
    cr_expect_gt(r.measured.echo.sent, 0);
    cr_expect_eq(r.all.push.delivered, r.all.echo.delivered, "a push after every echo");

    /* each thread holds a share of each group; together every link, once */
    int64_t sent = 0, links = 0;
    for (int k = 0; k < 3; k++) {
        const struct drv_thr *t = &d->thr[k];
        cr_expect_eq(t->n_links, 4, "thread %d: 12 links over 3 threads", k);
        cr_expect_eq(t->t_load0, d->thr[0].t_load0, "one load time for all threads");
        cr_expect_eq(t->r.t_measure_start, d->thr[0].r.t_measure_start);
        cr_expect_eq(t->r.t_measure_end, d->thr[0].r.t_measure_end, "a planned end is the same instant");
        sent += t->r.all.echo.sent;
        links += t->r.links_established;
        cr_expect_gt(t->r.all.echo.sent, 0, "thread %d sent", k);
    }
    cr_expect_eq(sent, r.all.echo.sent);
    cr_expect_eq(links, 12);
    /* the merged histograms hold exactly what the threads recorded */
    const met_hist *merged[DRV_NHIST] = {r.lat_rtt, r.lat_rtt_uncorrected, r.lat_out, r.lag, r.lag_own,
                                         r.bp_wait, r.rx_delay, r.rtt_undelivered, r.unsent_age};
    for (int h = 0; h < DRV_NHIST; h++) {
        int64_t sum = 0, max = 0;
        for (int k = 0; k < 3; k++) {
            sum += met_hist_count(d->thr[k].h[h]);
            if (met_hist_max(d->thr[k].h[h]) > max)
                max = met_hist_max(d->thr[k].h[h]);
        }
        cr_expect_eq(met_hist_count(merged[h]), sum, "histogram %d", h);
        cr_expect_eq(met_hist_max(merged[h]), max, "histogram %d", h);
    }
    cr_expect_eq(met_hist_count(r.lat_rtt), r.measured.echo.delivered);
    cr_expect_eq(met_hist_count(r.lag), r.measured.echo.sent);

    /* the census: every link once, ids 0..11, each adding up with its socket's counts */
    json_t *c = drv_census(d);
    json_t *cl = json_object_get(c, "links");
    cr_assert_eq(json_array_size(cl), 12);
    bool seen[12] = {0};
    int64_t out = 0;
    size_t i;
    json_t *l;
    json_array_foreach(cl, i, l) {
        int64_t id = json_integer_value(json_object_get(l, "link"));
        cr_assert(id >= 0 && id < 12 && !seen[id], "link %ld", (long)id);
        seen[id] = true;
        json_t *sk = json_object_get(l, "sock");
        int64_t mo = json_integer_value(json_object_get(sk, "msgs_out"));
        cr_expect_eq(mo, json_integer_value(json_object_get(l, "tx_seq")) -
                             json_integer_value(json_object_get(l, "seq0")));
        cr_expect_eq(json_integer_value(json_object_get(sk, "msgs_in")),
                     json_integer_value(json_object_get(l, "echo_delivered")) +
                         json_integer_value(json_object_get(l, "push_delivered")) +
                         json_integer_value(json_object_get(l, "other")));
        out += mo;
    }
    cr_expect_eq(out, r.all.echo.sent);
    cr_expect_eq(json_integer_value(json_object_get(c, "t_end")), r.t_end);
    json_decref(c);
    drv_destroy(d);
    struct drv_echo_stats st;
    drv_echo_stop(e, &st);
    cr_expect_eq(st.msgs_in, r.all.echo.sent);
}

/* The schedule belongs to the link, not to the thread: a count-limited run sends the
 * same messages, and the same number, on one thread as on two. */
Test(driver_threads, a_count_run_is_the_same_on_one_thread_or_two, .timeout = 120)
{
    int64_t sent[2];
    for (int k = 0; k < 2; k++) {
        struct drv_echo *e;
        uint16_t port;
        struct drv_echo_params ep;
        drv_echo_params_default(&ep);
        cr_assert_eq(drv_echo_start(&ep, &e, &port), 0);
        struct drv_params p;
        drv_params_default(&p);
        p.port = port;
        p.connect_rate_per_s = 0;
        p.threads = k + 1;
        p.cpu = 0;
        p.groups[0].links = 9;
        p.groups[0].rate_per_s = 2000;
        p.groups[0].pattern = DRV_POISSON;
        p.groups[0].msgs_per_link = 37;
        p.groups[0].size_dist = DRV_SIZE_UNIFORM;
        p.groups[0].payload_max_bytes = 500;
        struct drv *d;
        char err[256];
        cr_assert_eq(drv_create(&p, &d, err, sizeof err), 0, "%s", err);
        struct drv_result r;
        cr_assert_eq(drv_run(d, &r), 0);
        cr_expect_eq(r.all.echo.delivered, 9 * 37);
        assert_closes(&r.all.echo);
        sent[k] = r.all.echo.sent;
        drv_destroy(d);
        struct drv_echo_stats st;
        drv_echo_stop(e, &st);
        cr_expect_eq(st.msgs_in, 9 * 37);
    }
    cr_expect_eq(sent[0], sent[1]);
}

/* A stop request reaches every thread: each stops sending, drains, and the run ends. */
static void stop_soon(struct drv *d, const struct drv_progress *pr, void *arg)
{
    (void)arg;
    if (pr->phase == DRV_PHASE_MEASURE && rt_now() - pr->t_measure_start >= 50 * RT_MS)
        drv_request_stop(d);
}

Test(driver_threads, a_stop_request_stops_every_thread, .timeout = 120)
{
    struct drv_echo *e;
    uint16_t port;
    struct drv_echo_params ep;
    drv_echo_params_default(&ep);
    cr_assert_eq(drv_echo_start(&ep, &e, &port), 0);
    struct drv_params p;
    drv_params_default(&p);
    p.port = port;
    p.connect_rate_per_s = 0;
    p.threads = 2;
    p.cpu = 0;
    p.groups[0].links = 6;
    p.groups[0].rate_per_s = 500;
    p.progress = stop_soon;
    p.progress_interval_ns = 10 * RT_MS;
    struct drv *d;
    char err[256];
    cr_assert_eq(drv_create(&p, &d, err, sizeof err), 0, "%s", err);
    struct drv_result r;
    cr_assert_eq(drv_run(d, &r), 0);
    cr_expect(r.stopped);
    for (int k = 0; k < 2; k++) {
        cr_expect(d->thr[k].r.stopped, "thread %d", k);
        cr_expect_gt(d->thr[k].r.all.echo.sent, 0, "thread %d", k);
    }
    assert_closes(&r.all.echo);
    cr_expect_eq(r.all.echo.in_flight + r.all.echo.gaps, 0, "drained");
    drv_destroy(d);
    drv_echo_stop(e, NULL);
}

/* ---------------------------------------------------------------- a real run */

static char dir[512];

Test(driver_threads, a_run_with_two_driver_threads_on_one_core_joins_its_census, .timeout = 300)
{
    lb_tmpdir_make(dir, sizeof dir, "lb_drvthr");
    char scn[700], res[700];
    snprintf(scn, sizeof scn, "%s/thr.json", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    FILE *f = fopen(scn, "w");
    cr_assert_not_null(f);
    fputs("{ \"name\": \"thr\", \"links\": 20, \"duration_s\": 1, \"warmup_s\": 0.3, \"repetitions\": 1,\n"
          "  \"variants\": [\"evloop\"],\n"
          "  \"client\": { \"rate_per_s\": 100, \"pattern\": \"poisson\", \"payload_bytes\": 64 },\n"
          "  \"pin\": { \"server\": [1], \"driver\": [0] },\n"
          "  \"driver\": { \"threads\": 2, \"tick_us\": 100 } }\n", f);
    fclose(f);
    char *out, *err;
    int rc = lb_run(dir, &out, &err, (const char *const[]){"run", "--quiet", "--out", res, scn, NULL}, NULL);
    cr_assert_eq(rc, 0, "exit %d\n%s\n%s", rc, out, err);
    char pat[800];
    snprintf(pat, sizeof pat, "%s/thr/*/report.json", res);
    json_t *rep = lb_report(pat);
    json_t *m = lb_metrics(rep, 0);
    json_t *drv = json_object_get(m, "driver");
    cr_expect_eq(lb_int(drv, "threads"), 2);
    cr_expect_eq(lb_int(drv, "tick_ns"), 100000);
    json_t *cc = json_object_get(m, "census_check");
    cr_expect_eq(lb_int(cc, "links_joined"), 20, "%s", json_dumps(cc, JSON_COMPACT));
    cr_expect_eq(lb_int(cc, "links_lost"), 0);
    cr_expect_eq(lb_int(cc, "kernel_bytes_disagree"), 0);
    cr_expect_eq(lb_int(cc, "counts_disagree"), 0);
    cr_expect_eq(lb_int(m, "msgs_lost"), 0);
    cr_expect_gt(lb_int(m, "msgs_delivered"), 0);
    json_decref(rep);
    free(out);
    free(err);
    lb_tmpdir_remove(dir);
}
