/* test_acct.c — the accounting end to end over tcp: plug-ins that lose on purpose are caught to the message, a lossless one shows what it holds, one window for messages and CPU, censored latency. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_run.h"
#include "lb_tmpdir.h"

static char dir[512];

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_acct"); }
static void teardown(void) { lb_tmpdir_remove(dir); }

TestSuite(acct, .init = setup, .fini = teardown, .timeout = 300);

static void write_scn(const char *name, const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

/* 6 echo links at 200 msg/s each for 1 s: enough messages that every flavour loses some */
static const char *echo6 =
    "{ \"name\": \"echo6\", \"links\": 6, \"duration_s\": 1, \"warmup_s\": 0.2, \"repetitions\": 1,"
    "  \"client\": { \"rate_per_s\": 200, \"pattern\": \"poisson\", \"payload_bytes\": 64 },"
    "  \"app\": { \"mode\": \"echo\" } }\n";

/* What the plug-in wrote: discarded and dropped, summed over its lines. */
static void lossy_log(const char *path, int64_t *discarded, int64_t *dropped)
{
    *discarded = *dropped = 0;
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "the plug-in wrote no %s", path);
    long long a, b;
    int lines = 0;
    while (fscanf(f, "discarded %lld dropped %lld\n", &a, &b) == 2) {
        *discarded += a;
        *dropped += b;
        lines++;
    }
    fclose(f);
    cr_assert_eq(lines, 1, "one server process, one line (got %d)", lines);
}

/* Run flavour on scn; the run must fail (exit 1) and report exactly what the plug-in says
 * it discarded as msgs_lost, and what it dropped with a reason as msgs_dropped. */
static void caught(const char *flavour, const char *scn_text, bool expect_drops)
{
    const char *pdir = getenv("LINKBENCH_TEST_PLUGINS");
    cr_assert_not_null(pdir, "LINKBENCH_TEST_PLUGINS must be set (ctest sets it)");
    char mod[700], scn[700], res[700], log[700], envlog[760], pat[800];
    snprintf(mod, sizeof mod, "%s/lossy_%s.so", pdir, flavour);
    write_scn("s.json", scn_text, scn, sizeof scn);
    snprintf(res, sizeof res, "%s/res", dir);
    snprintf(log, sizeof log, "%s/lossy.log", dir);
    snprintf(envlog, sizeof envlog, "LINKBENCH_LOSSY_LOG=%s", log);
    char *out, *err;
    int rc = lb_run(dir, &out, &err, (const char *const[]){"run", "--variant", mod, "--out", res,
                                                          scn, NULL},
                    (const char *const[]){envlog, NULL});
    cr_expect_eq(rc, 1, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    int64_t discarded, dropped;
    lossy_log(log, &discarded, &dropped);
    cr_assert_gt(discarded, 0, "the plug-in lost nothing: the test proves nothing");
    snprintf(pat, sizeof pat, "%s/*/*/report.json", res);
    json_t *rep = lb_report(pat);
    json_t *m = lb_metrics(rep, 0);
    cr_expect_eq(lb_int(m, "msgs_lost"), discarded, "msgs_lost %lld, the plug-in discarded %lld\n%s",
                 (long long)lb_int(m, "msgs_lost"), (long long)discarded,
                 json_dumps(json_object_get(m, "census_check"), JSON_COMPACT));
    cr_expect_eq(lb_int(m, "msgs_dropped"), dropped);
    if (expect_drops)
        cr_expect_gt(dropped, 0);
    /* and the identity still closes, with in flight observed */
    cr_expect_eq(lb_int(m, "msgs_sent"), lb_int(m, "msgs_delivered") + lb_int(m, "msgs_dropped") +
                 lb_int(m, "msgs_refused") + lb_int(m, "msgs_in_flight") + lb_int(m, "msgs_lost") +
                 lb_int(m, "msgs_abandoned"));
    cr_expect(json_is_false(json_object_get(rep, "valid")));
    json_decref(rep);
    free(out);
    free(err);
}

/* 1 in 7 of every link's messages, mid-stream: holes below later seqs */
Test(acct, one_in_n_mid_stream_is_lost_to_the_message)
{
    caught("every", echo6, false);
}

/* link 0 swallows everything after its 20th message: no later seq shows the hole, only
 * the census does (nothing of it is held anywhere) */
Test(acct, a_swallowed_tail_is_lost_not_in_flight)
{
    caught("tail", echo6, false);
}

/* link 0 loses 1 in 5 silently while link 1 drops 1 in 3 with a reason: the drops of
 * link 1 must not explain the losses of link 0 */
Test(acct, drops_on_one_link_do_not_hide_losses_on_another)
{
    caught("mixed", echo6, true);
}

/* A lossless design whose clients stop reading: pushes pile up in its send queues and
 * then in the app's held FIFO. Nothing is lost, and what is held is observed. */
Test(acct, lossless_design_shows_what_it_holds_at_the_end)
{
    char scn[700], res[700], pat[800];
    write_scn("held.json",
              "{ \"name\": \"held\", \"links\": 4, \"duration_s\": 1, \"warmup_s\": 0.2,"
              "  \"repetitions\": 1, \"variants\": [\"dual\"],"
              "  \"client\": { \"rate_per_s\": 0 },"
              "  \"groups\": [ { \"name\": \"deaf\", \"fraction\": 1, \"stop_reading_at_s\": 0 } ],"
              "  \"app\": { \"mode\": \"sink\", \"push\": { \"rate_per_s\": 2000, \"payload_bytes\": 4096 } },"
              "  \"variant_config\": { \"dual\": { \"send_queue_len\": 8 } } }\n",
              scn, sizeof scn);
    snprintf(res, sizeof res, "%s/res", dir);
    char *out, *err;
    int rc = lb_run(dir, &out, &err, (const char *const[]){"run", "--out", res, scn, NULL}, NULL);
    cr_assert_eq(rc, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    snprintf(pat, sizeof pat, "%s/held/*/report.json", res);
    json_t *rep = lb_report(pat);
    json_t *m = lb_metrics(rep, 0);
    json_t *d = json_object_get(m, "in_flight_detail");
    cr_expect_eq(lb_int(m, "msgs_lost"), 0);
    cr_expect_gt(lb_int(d, "app_held"), 0, "%s", json_dumps(d, JSON_COMPACT));
    cr_expect_gt(lb_int(d, "variant_out"), 0, "%s", json_dumps(d, JSON_COMPACT));
    /* in flight is the sum of where the messages were seen */
    cr_expect_eq(lb_int(m, "msgs_in_flight"),
                 lb_int(d, "driver_unsent") + lb_int(d, "to_server") + lb_int(d, "server_socket") +
                 lb_int(d, "variant_in") + lb_int(d, "app") + lb_int(d, "app_held") +
                 lb_int(d, "variant_out") + lb_int(d, "to_client"));
    /* the kernel holds the bytes the sockets say */
    json_t *c = json_object_get(m, "census_check");
    cr_expect(json_is_true(json_object_get(c, "settled")));
    cr_expect_eq(lb_int(c, "kernel_bytes_disagree"), 0);
    cr_expect_gt(lb_int(d, "kernel_bytes_to_client"), 0);
    /* undelivered pushes are in the latency report, censored */
    json_t *lc = json_object_get(m, "lat_out_censored_us");
    cr_expect_gt(lb_int(lc, "undelivered"), 0);
    json_decref(rep);
    free(out);
    free(err);
}

/* The servers' census settles when two rounds 10 ms apart agree; poll at a 300 ms read
 * poll holds its queued pushes longer than that and writes them after it. With the
 * drivers' census taken 400 ms later, that move falls between the two every time: the
 * servers' recheck must see it (moved_after_census) and the census stay exact (no link
 * whose kernel bytes disagree). Without the recheck every link disagreed. */
Test(acct, a_move_after_the_servers_census_is_rechecked)
{
    char scn[700], res[700], pat[800];
    write_scn("pollmove.json",
              "{ \"name\": \"pollmove\", \"links\": 10, \"duration_s\": 1, \"warmup_s\": 0.3,"
              "  \"repetitions\": 1, \"variants\": [\"poll\"],"
              "  \"client\": { \"rate_per_s\": 0 },"
              "  \"app\": { \"mode\": \"sink\", \"push\": { \"rate_per_s\": 20, \"payload_bytes\": 64 } },"
              "  \"variant_config\": { \"poll\": { \"poll_read_ms\": 300 } } }\n",
              scn, sizeof scn);
    snprintf(res, sizeof res, "%s/res", dir);
    char *out, *err;
    int rc = lb_run(dir, &out, &err, (const char *const[]){"run", "--out", res, scn, NULL},
                    (const char *const[]){"LINKBENCH_TEST_CENSUS_GAP_MS=400", NULL});
    cr_assert_eq(rc, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    snprintf(pat, sizeof pat, "%s/pollmove/*/report.json", res);
    json_t *rep = lb_report(pat);
    json_t *m = lb_metrics(rep, 0);
    json_t *c = json_object_get(m, "census_check");
    cr_expect_eq(lb_int(c, "kernel_bytes_disagree"), 0, "%s", json_dumps(c, JSON_COMPACT));
    const json_t *sc = json_object_get(json_object_get(json_array_get(json_object_get(rep, "runs"), 0),
                                                       "server"), "census");
    cr_expect_geq(lb_int(sc, "moved_after_census"), 1, "the move was not seen: rechecks %lld",
                  (long long)lb_int(sc, "rechecks"));
    json_decref(rep);
    free(out);
    free(err);
}

/* Messages and CPU of one window: msgs_per_cpu_s is exactly window_msgs_delivered over
 * window_cpu_server_s, both in report.json, and throughput is those messages over the
 * window's length. The drain is apart. */
Test(acct, msgs_per_cpu_s_is_the_windows_messages_over_the_windows_cpu)
{
    char scn[700], res[700], pat[800];
    write_scn("w.json", echo6, scn, sizeof scn);
    snprintf(res, sizeof res, "%s/res", dir);
    char *out, *err;
    int rc = lb_run(dir, &out, &err, (const char *const[]){"run", "--variant", "evloop,dual", "--out",
                                                          res, scn, NULL}, NULL);
    cr_assert_eq(rc, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    snprintf(pat, sizeof pat, "%s/echo6/*/report.json", res);
    json_t *rep = lb_report(pat);
    for (size_t i = 0; i < 2; i++) {
        json_t *m = lb_metrics(rep, i);
        double del = (double)lb_int(m, "window_msgs_delivered");
        double cpu = json_number_value(json_object_get(m, "window_cpu_server_s"));
        double win = json_number_value(json_object_get(m, "window_s"));
        cr_assert_gt(del, 0);
        cr_assert_gt(cpu, 0);
        cr_expect_float_eq(json_number_value(json_object_get(m, "msgs_per_cpu_s")), del / cpu, 1e-6 * del / cpu);
        cr_expect_float_eq(json_number_value(json_object_get(m, "cpu_ms_per_1k_msgs")), cpu * 1e6 / del,
                           1e-6 * cpu * 1e6 / del);
        cr_expect_float_eq(json_number_value(json_object_get(m, "throughput_msgs_s")), del / win, 1e-6 * del / win);
        /* the window's messages are not the run's: the warm-up's and the drain's are not in it */
        cr_expect_lt(del, (double)lb_int(m, "msgs_delivered"));
        cr_expect_eq(lb_int(m, "window_msgs_delivered") + lb_int(m, "drain_msgs_delivered") <=
                     lb_int(m, "msgs_delivered"), 1);
        /* the server's window is the driver's: same length within the snapshot's cost */
        json_t *srv = json_object_get(json_array_get(json_object_get(rep, "runs"), i), "server");
        double srv_win = (double)json_integer_value(json_object_get(srv, "window_ns")) / 1e9;
        cr_expect(fabs(srv_win - win) < 0.05 * win, "server window %g s, driver's %g s", srv_win, win);
        /* a light load is kept up with, and says so */
        cr_expect_eq(lb_int(m, "kept_up"), 1);
    }
    json_decref(rep);
    free(out);
    free(err);
}

/* hybrid writes only when its 30 s read wakes: with quiet clients none of its pushes
 * arrive, and the latency report says so as a censored figure instead of nothing. */
Test(acct, undelivered_pushes_enter_latency_at_their_age)
{
    char scn[700], res[700], pat[800];
    write_scn("p.json",
              "{ \"name\": \"p\", \"links\": 4, \"duration_s\": 1, \"warmup_s\": 0.2, \"repetitions\": 1,"
              "  \"variants\": [\"hybrid\"], \"client\": { \"rate_per_s\": 0 },"
              "  \"app\": { \"mode\": \"sink\", \"push\": { \"rate_per_s\": 20, \"payload_bytes\": 256 } } }\n",
              scn, sizeof scn);
    snprintf(res, sizeof res, "%s/res", dir);
    char *out, *err;
    int rc = lb_run(dir, &out, &err, (const char *const[]){"run", "--out", res, scn, NULL}, NULL);
    cr_assert_eq(rc, 0, "exit %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    snprintf(pat, sizeof pat, "%s/p/*/report.json", res);
    json_t *rep = lb_report(pat);
    json_t *m = lb_metrics(rep, 0);
    cr_expect_eq(lb_int(m, "msgs_delivered"), 0);
    cr_expect_null(json_object_get(m, "lat_out_us"));
    json_t *c = json_object_get(m, "lat_out_censored_us");
    cr_assert_not_null(c);
    /* every push made in the window is undelivered, and the first of them is as old as
     * the window (less one push interval) at the end */
    cr_expect_eq(lb_int(c, "undelivered"), lb_int(m, "window_msgs_offered"));
    double win_us = json_number_value(json_object_get(m, "window_s")) * 1e6;
    cr_expect_geq(json_number_value(json_object_get(c, "max")), win_us - 50e3);
    cr_expect_eq(lb_int(m, "kept_up"), 0);
    cr_expect_eq(lb_int(m, "msgs_lost"), 0);
    json_decref(rep);
    free(out);
    free(err);
}

/* What was offered counts the open links' schedules only: poll reads with a 1 ms deadline
 * and, as the seed does, tears a 32 KiB frame that has not all arrived by then, and the
 * link dies. Every link gone, nothing offered, nothing delivered: that is not keeping up.
 * evloop, beside it, delivers and keeps up. */
Test(acct, a_design_that_closes_the_links_it_cannot_serve_did_not_keep_up)
{
    char scn[700], res[700], pat[800], *out, *err;
    write_scn("torn.json",
              "{ \"name\": \"torn\", \"links\": 4, \"duration_s\": 0.6, \"warmup_s\": 0.3, \"repetitions\": 1,"
              "  \"client\": { \"rate_per_s\": 100, \"payload_bytes\": 32768 },"
              "  \"app\": { \"mode\": \"echo\" } }\n", scn, sizeof scn);
    snprintf(res, sizeof res, "%s/res_torn", dir);
    int rc = lb_run(dir, &out, &err, (const char *const[]){"run", "--variant", "poll,evloop", "--out", res,
                                                          scn, NULL}, NULL);
    cr_assert_leq(rc, 1, "exit %d\n%s", rc, err);
    snprintf(pat, sizeof pat, "%s/torn/*/report.json", res);
    json_t *rep = lb_report(pat);
    for (size_t i = 0; i < 2; i++) {
        json_t *run = json_array_get(json_object_get(rep, "runs"), i);
        const char *v = json_string_value(json_object_get(run, "variant"));
        json_t *m = json_object_get(run, "metrics"), *fl = json_object_get(run, "flags");
        cr_assert_eq(lb_int(m, "window_msgs_planned"), 4 * 100 * 0.6, "%s", v);
        if (!strcmp(v, "poll")) {
            cr_assert_gt(lb_int(m, "links_closed_error"), 0, "poll tore no frame: nothing to show");
            cr_assert_lt(lb_int(m, "window_msgs_offered"), 0.98 * 240);
            cr_assert(json_is_false(json_object_get(fl, "kept_up")));
            const char *why = json_string_value(json_object_get(fl, "kept_up_why"));
            cr_assert(why && strstr(why, "the server closed"), "%s", why ? why : "(none)");
        } else {
            cr_assert(json_is_true(json_object_get(fl, "kept_up")), "%s",
                      json_string_value(json_object_get(fl, "kept_up_why")));
        }
    }
    json_decref(rep);
    free(out);
    free(err);
}

/* The idle reaper's check: of 20 links, 10 never send and 10 send 5 a second. evloop's
 * reaper closes exactly the 10 quiet ones and none still talking; a wrong reaper (the
 * eager/ test plug-in: evloop taking a link as idle after an eighth of the timeout)
 * closes links the app heard from 200 ms before, and links_closed_idle_talking says so. */
static json_t *idle_run(const char *module, const char *tag)
{
    const char *pdir = getenv("LINKBENCH_TEST_PLUGINS");
    cr_assert_not_null(pdir, "LINKBENCH_TEST_PLUGINS must be set (ctest sets it)");
    char scn[700], res[700], mod[700], pat[800], *out, *err;
    write_scn("idle.json",
              "{ \"name\": \"idle\", \"links\": 20, \"duration_s\": 1.5, \"warmup_s\": 0.3, \"repetitions\": 1,"
              "  \"client\": { \"rate_per_s\": 5, \"pattern\": \"constant\", \"payload_bytes\": 64 },"
              "  \"groups\": [ { \"name\": \"idle\", \"fraction\": 0.5, \"rate_per_s\": 0 } ],"
              "  \"app\": { \"mode\": \"echo\", \"idle\": { \"timeout_ms\": 1000, \"period_ms\": 100 },"
              "             \"auto_close\": true } }\n", scn, sizeof scn);
    snprintf(mod, sizeof mod, "%s/%s/sleepy.so", pdir, module);
    snprintf(res, sizeof res, "%s/res_%s", dir, tag);
    int rc = lb_run(dir, &out, &err, (const char *const[]){"run", "--variant", mod, "--out", res, scn, NULL},
                    NULL);
    cr_assert_leq(rc, 1, "exit %d\n%s", rc, err);
    snprintf(pat, sizeof pat, "%s/idle/*/report.json", res);
    free(out);
    free(err);
    return lb_report(pat);
}

Test(acct, a_reaper_that_closes_links_still_talking_is_counted)
{
    json_t *ok = idle_run("fast", "fast");
    json_t *m = lb_metrics(ok, 0);
    cr_assert_eq(lb_int(m, "links_closed_idle_quiet"), 10);
    cr_assert_eq(lb_int(m, "links_closed_idle_talking"), 0);
    cr_assert_eq(lb_int(m, "links_closed_idle_after_traffic"), 0);
    json_decref(ok);
    json_t *bad = idle_run("eager", "eager");
    m = lb_metrics(bad, 0);
    cr_assert_eq(lb_int(m, "links_closed_idle_quiet"), 10);
    cr_assert_gt(lb_int(m, "links_closed_idle_talking"), 0, "the eager reaper closed no talking link");
    cr_assert_geq(lb_int(m, "links_closed_idle_after_traffic"), lb_int(m, "links_closed_idle_talking"));
    json_decref(bad);
}
