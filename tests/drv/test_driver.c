/* test_driver.c — the load generator against an in-test echo server: accounting, schedules, faults, spreading. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drv.h"
#include "drv_echo.h"
#include "drv_internal.h"

/* ---------------------------------------------------------------- helpers */

static struct drv_echo *echo_up(const struct drv_echo_params *ep, uint16_t *port)
{
    struct drv_echo_params def;
    drv_echo_params_default(&def);
    struct drv_echo *e = NULL;
    cr_assert_eq(drv_echo_start(ep ? ep : &def, &e, port), 0);
    return e;
}

/* One group of `links` links sending `msgs` 64-byte messages each at `rate` per link. */
static void count_params(struct drv_params *p, uint16_t port, uint32_t links, uint64_t msgs, double rate)
{
    drv_params_default(p);
    p->port = port;
    p->connect_rate_per_s = 0;
    p->groups[0].links = links;
    p->groups[0].rate_per_s = rate;
    p->groups[0].msgs_per_link = msgs;
    p->drain_max_ns = 2 * RT_S;
}

static void run(const struct drv_params *p, struct drv **out, struct drv_result *r)
{
    char err[256] = "";
    int rc = drv_create(p, out, err, sizeof err);
    cr_assert_eq(rc, 0, "drv_create: %s", err);
    cr_assert_eq(drv_run(*out, r), 0);
}

/* The identities every run must satisfy, whatever happened. */
static void assert_closes(const struct drv_dir *e)
{
    cr_expect_eq(e->scheduled, e->sent + e->unsent, "scheduled %ld != sent %ld + unsent %ld",
                 (long)e->scheduled, (long)e->sent, (long)e->unsent);
    cr_expect_eq(e->sent, e->delivered + e->gaps + e->in_flight + e->abandoned,
                 "sent %ld != delivered %ld + gaps %ld + in_flight %ld + abandoned %ld", (long)e->sent,
                 (long)e->delivered, (long)e->gaps, (long)e->in_flight, (long)e->abandoned);
}

/* ---------------------------------------------------------------- pure parts */

Test(driver, seq_tracking_tells_gap_late_dup_stale)
{
    struct drv_seqtrack t;
    uint64_t gap;
    drv_seq_reset(&t, 0);
    cr_expect_eq(drv_seq_rx(&t, 0, &gap), DRV_RX_NEW);
    cr_expect_eq(gap, 0);
    cr_expect_eq(drv_seq_rx(&t, 3, &gap), DRV_RX_NEW);
    cr_expect_eq(gap, 2);
    cr_expect_eq(drv_seq_rx(&t, 1, &gap), DRV_RX_LATE);
    cr_expect_eq(drv_seq_rx(&t, 1, &gap), DRV_RX_DUP);
    cr_expect_eq(drv_seq_rx(&t, 3, &gap), DRV_RX_DUP);
    cr_expect_eq(drv_seq_rx(&t, 2, &gap), DRV_RX_LATE);
    cr_expect_eq(drv_seq_rx(&t, 5000, &gap), DRV_RX_NEW);
    cr_expect_eq(gap, 5000 - 4);
    cr_expect_eq(drv_seq_rx(&t, 4999, &gap), DRV_RX_LATE);
    cr_expect_eq(drv_seq_rx(&t, 4, &gap), DRV_RX_STALE);
}

Test(driver, schedules_constant_exact_poisson_mean)
{
    struct drv_params p;
    drv_params_default(&p);
    struct drv_group g = p.groups[0];
    uint64_t rng = 42;
    g.rate_per_s = 1000;
    for (int i = 0; i < 100; i++)
        cr_assert_eq(drv_sched_interval(&g, &rng), RT_MS);
    g.pattern = DRV_POISSON;
    int64_t sum = 0;
    int distinct = 0, prev = -1;
    for (int i = 0; i < 20000; i++) {
        int64_t iv = drv_sched_interval(&g, &rng);
        cr_assert_geq(iv, 1);
        sum += iv;
        distinct += iv != prev;
        prev = (int)iv;
    }
    /* seeded, so deterministic: the mean of 20 000 exponential draws is within 3 % */
    cr_expect(sum / 20000 > RT_MS * 97 / 100 && sum / 20000 < RT_MS * 103 / 100, "mean %ld", (long)(sum / 20000));
    cr_expect_gt(distinct, 19000);
    g.size_dist = DRV_SIZE_EXPONENTIAL;
    g.payload_min_bytes = 48;
    g.payload_max_bytes = 1000;
    for (int i = 0; i < 1000; i++) {
        uint32_t s = drv_sched_size(&g, &rng);
        cr_assert(s >= 48 && s <= 1000);
    }
}

Test(driver, params_check_names_the_field)
{
    struct drv_params p;
    char err[256];
    drv_params_default(&p);
    cr_expect_eq(drv_params_check(&p, err, sizeof err), -EINVAL);
    cr_expect(strstr(err, "port") != NULL, "%s", err);
    p.port = 1;
    cr_expect_eq(drv_params_check(&p, err, sizeof err), 0, "%s", err);
    p.groups[0].payload_min_bytes = 47;
    cr_expect_eq(drv_params_check(&p, err, sizeof err), -EINVAL);
    cr_expect(strstr(err, "groups[0].payload_min_bytes") != NULL, "%s", err);
}

static bool sat(const struct drv_params *p, double cpu, int64_t lag, int64_t rx, int64_t rtt,
                const char **why)
{
    struct drv_sat_in in = {.cpu_util = cpu, .lag_p99_ns = lag, .rx_delay_p99_ns = rx, .rtt_p99_ns = rtt};
    return drv_saturated(p, &in, why);
}

/* driver_saturated means the driver, not the variant, limited the run: a busy core, or
 * lag that bent the schedule or made most of the latency; lag that did neither, on a
 * machine loaded by others, is no saturation. */
Test(driver, saturated_only_when_the_driver_distorted_the_run)
{
    struct drv_params p;
    count_params(&p, 1, 50, 0, 50);   /* 50 links at 50/s: 20 ms between a link's messages */
    const char *why = NULL;
    /* 20 % CPU, 4.7 ms lag p99, round trips of 300 ms (a rate-limited variant) */
    cr_expect(!sat(&p, 0.2, 4700 * RT_US, 0, 300 * RT_MS, &why));
    cr_expect_str_eq(why, "");
    /* the same lag with no round trips at all (sink) */
    cr_expect(!sat(&p, 0.2, 4700 * RT_US, 0, 0, &why));
    /* a busy core is saturation whatever the lag */
    cr_expect(sat(&p, 0.85, 0, 0, 300 * RT_MS, &why));
    cr_expect_str_eq(why, "cpu");
    /* lag of a whole interval: messages left in bunches */
    cr_expect(sat(&p, 0.2, 25 * RT_MS, 0, 300 * RT_MS, &why));
    cr_expect_str_eq(why, "lag");
    /* lag that is most of the round trip it is part of */
    cr_expect(sat(&p, 0.9, 4 * RT_MS, 0, 6 * RT_MS, &why));
    cr_expect_str_eq(why, "cpu+lag");
    /* under the 1 ms floor lag never counts, even against short round trips */
    cr_expect(!sat(&p, 0.2, 900 * RT_US, 0, 1 * RT_MS, &why));
    /* at 10 000/s per link the interval (100 us) is under the floor: the floor decides */
    p.groups[0].rate_per_s = 10000;
    cr_expect(sat(&p, 0.2, 2 * RT_MS, 0, 300 * RT_MS, &why));
    /* a group that sends nothing sets no interval */
    p.groups[0].rate_per_s = 0;
    cr_expect(!sat(&p, 0.2, 2 * RT_MS, 0, 300 * RT_MS, &why));
    /* reading late: the echoes waited in the driver for most of their round trip */
    p.groups[0].rate_per_s = 50;
    cr_expect(sat(&p, 0.2, 0, 4 * RT_MS, 6 * RT_MS, &why));
    cr_expect_str_eq(why, "rx");
    /* reading a little late against long round trips is not */
    cr_expect(!sat(&p, 0.2, 0, 4 * RT_MS, 300 * RT_MS, &why));
    /* all three */
    cr_expect(sat(&p, 0.9, 25 * RT_MS, 40 * RT_MS, 50 * RT_MS, &why));
    cr_expect_str_eq(why, "cpu+lag+rx");
}

/* ---------------------------------------------------------------- against the echo server */

Test(driver, all_echoes_come_back_and_accounting_closes)
{
    uint16_t port;
    struct drv_echo *e = echo_up(NULL, &port);
    struct drv_params p;
    count_params(&p, port, 20, 50, 2000);
    struct drv *d;
    struct drv_result r;
    run(&p, &d, &r);
    cr_expect_eq(r.links_established, 20);
    cr_expect_eq(r.all.echo.sent, 20 * 50);
    cr_expect_eq(r.all.echo.delivered, 20 * 50);
    cr_expect_eq(r.all.echo.in_flight, 0);
    cr_expect_eq(r.all.echo.gaps + r.all.echo.duplicates + r.all.echo.reordered + r.all.echo.bad, 0);
    cr_expect_eq(r.all.echo.unsent, 0);
    assert_closes(&r.all.echo);
    assert_closes(&r.measured.echo);
    /* no warm-up: every message is in the window, each with one latency sample */
    cr_expect_eq(r.measured.echo.delivered + (r.all.echo.delivered - r.measured.echo.delivered), 1000);
    cr_expect_eq(met_hist_count(r.lat_rtt), r.measured.echo.delivered);
    cr_expect_eq(met_hist_count(r.lat_rtt_uncorrected), r.measured.echo.delivered);
    cr_expect_eq(met_hist_count(r.lat_out), r.measured.echo.delivered);
    cr_expect_geq(met_hist_min(r.lat_rtt), met_hist_min(r.lat_rtt_uncorrected));
    drv_destroy(d);
    struct drv_echo_stats st;
    drv_echo_stop(e, &st);
    cr_expect_eq(st.msgs_in, 1000);
}

Test(driver, poisson_schedule_sends_exactly_its_slots)
{
    uint16_t port;
    struct drv_echo *e = echo_up(NULL, &port);
    struct drv_params p;
    count_params(&p, port, 30, 40, 4000);
    p.groups[0].pattern = DRV_POISSON;
    p.groups[0].size_dist = DRV_SIZE_UNIFORM;
    p.groups[0].payload_max_bytes = 2000;
    struct drv *d;
    struct drv_result r;
    run(&p, &d, &r);
    cr_expect_eq(r.all.echo.scheduled, 30 * 40);
    cr_expect_eq(r.all.echo.sent, 30 * 40);
    cr_expect_eq(r.all.echo.delivered, 30 * 40);
    assert_closes(&r.all.echo);
    drv_destroy(d);
    drv_echo_stop(e, NULL);
}

Test(driver, dropped_echoes_are_counted_as_gaps_exactly)
{
    struct drv_echo_params ep;
    drv_echo_params_default(&ep);
    ep.drop_every = 10;
    uint16_t port;
    struct drv_echo *e = echo_up(&ep, &port);
    struct drv_params p;
    count_params(&p, port, 10, 100, 2000);
    p.drain_max_ns = 300 * RT_MS;   /* the last echo of each link never comes */
    struct drv *d;
    struct drv_result r;
    run(&p, &d, &r);
    /* seqs 9, 19, ... 89 are gaps; 99 has nothing after it: in flight at the end */
    cr_expect_eq(r.all.echo.sent, 1000);
    cr_expect_eq(r.all.echo.delivered, 900);
    cr_expect_eq(r.all.echo.gaps, 10 * 9);
    cr_expect_eq(r.all.echo.in_flight, 10);
    cr_expect_eq(r.all.echo.duplicates + r.all.echo.reordered, 0);
    assert_closes(&r.all.echo);
    drv_destroy(d);
    struct drv_echo_stats st;
    drv_echo_stop(e, &st);
    cr_expect_eq(st.dropped, r.all.echo.gaps + r.all.echo.in_flight);
}

Test(driver, duplicated_echo_is_counted_once_as_duplicate)
{
    struct drv_echo_params ep;
    drv_echo_params_default(&ep);
    ep.dup_seq = 5;
    uint16_t port;
    struct drv_echo *e = echo_up(&ep, &port);
    struct drv_params p;
    count_params(&p, port, 4, 20, 2000);
    struct drv *d;
    struct drv_result r;
    run(&p, &d, &r);
    cr_expect_eq(r.all.echo.delivered, 80);
    cr_expect_eq(r.all.echo.duplicates, 4);
    cr_expect_eq(r.all.echo.gaps + r.all.echo.reordered + r.all.echo.in_flight, 0);
    assert_closes(&r.all.echo);
    drv_destroy(d);
    drv_echo_stop(e, NULL);
}

Test(driver, in_flight_max_one_is_a_closed_loop)
{
    uint16_t port;
    struct drv_echo *e = echo_up(NULL, &port);
    struct drv_params p;
    count_params(&p, port, 5, 30, 100000);   /* far above what one in flight allows */
    p.groups[0].in_flight_max = 1;
    struct drv *d;
    struct drv_result r;
    run(&p, &d, &r);
    cr_expect_eq(r.all.echo.sent, 150);
    cr_expect_eq(r.all.echo.delivered, 150);
    assert_closes(&r.all.echo);
    /* slots waited for the echo, so the corrected latency is never below the raw one */
    cr_expect_geq(met_hist_max(r.lat_rtt), met_hist_max(r.lat_rtt_uncorrected));
    /* that wait was the server's (in_flight_max): it is backpressure, not the driver's lag */
    cr_expect_gt(met_hist_count(r.bp_wait), 0);
    cr_expect_eq(met_hist_count(r.lag_own), met_hist_count(r.lag));
    cr_expect_leq(met_hist_max(r.lag_own), met_hist_max(r.lag));
    drv_destroy(d);
    drv_echo_stop(e, NULL);
}

Test(driver, stop_reading_backs_up_the_servers_writes)
{
    struct drv_echo_params ep;
    drv_echo_params_default(&ep);
    ep.pause_above_bytes = 256 * 1024;
    uint16_t port;
    struct drv_echo *e = echo_up(&ep, &port);
    struct drv_params p;
    drv_params_default(&p);
    p.port = port;
    p.connect_rate_per_s = 0;
    p.groups[0].links = 2;
    p.groups[0].rate_per_s = 20000;
    p.groups[0].payload_min_bytes = 16384;
    p.groups[0].stop_reading_at_ns = 0;
    p.duration_ns = 400 * RT_MS;
    p.drain_max_ns = 100 * RT_MS;
    struct drv *d;
    struct drv_result r;
    run(&p, &d, &r);
    /* every window message not delivered is in the censored latency at its age: the
     * unsent slots and the echoes not back (no link closed, the echo server drops none) */
    cr_expect_eq(met_hist_count(r.unsent_age), r.measured.echo.unsent);
    cr_expect_eq(met_hist_count(r.rtt_undelivered), r.measured.echo.sent - r.measured.echo.delivered);
    drv_destroy(d);
    struct drv_echo_stats st;
    drv_echo_stop(e, &st);
    cr_expect_gt(st.write_eagain, 0);
    cr_expect_gt(st.read_pauses, 0);
    cr_expect_lt(r.all.echo.delivered, r.all.echo.sent);
    cr_expect_gt(r.all.echo.unsent, 0, "the driver's own writes backed up too");
    assert_closes(&r.all.echo);
}

Test(driver, source_addresses_are_spread_under_the_cap)
{
    uint16_t port;
    struct drv_echo *e = echo_up(NULL, &port);
    struct drv_params p;
    count_params(&p, port, 6, 1, 1000);
    p.links_per_src_max = 2;
    struct drv *d;
    struct drv_result r;
    run(&p, &d, &r);
    cr_expect_eq(r.src_addrs_used, 3);
    int per[4] = {0};
    for (uint32_t i = 0; i < 6; i++) {
        uint32_t ip;
        uint16_t lport;
        cr_assert_eq(drv_link_local_addr(d, i, &ip, &lport), 0);
        cr_assert(ip >= 0x7f000001u && ip <= 0x7f000003u, "link %u from %08x", i, ip);
        per[ip - 0x7f000000u]++;
    }
    cr_expect(per[1] == 2 && per[2] == 2 && per[3] == 2, "%d %d %d", per[1], per[2], per[3]);
    drv_destroy(d);
    drv_echo_stop(e, NULL);
}

Test(driver, connect_failure_to_a_closed_port_is_counted_not_fatal)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);   /* bound, never listening: connects are refused */
    struct drv_params p;
    count_params(&p, ntohs(a.sin_port), 3, 10, 1000);
    struct drv *d;
    struct drv_result r;
    run(&p, &d, &r);
    cr_expect_eq(r.fail_connect, 3);
    cr_expect_eq(r.links_established, 0);
    cr_expect_eq(r.establish_ns, -1);
    cr_expect_eq(r.all.echo.sent, 0);
    drv_destroy(d);
}

static void stop_on_progress(struct drv *d, const struct drv_progress *pr, void *arg)
{
    int *calls = arg;
    (*calls)++;
    /* the callback also comes at once when the window starts: stop once the reset at
     * 10 ms is surely done */
    if (pr->phase == DRV_PHASE_MEASURE && rt_now() - pr->t_measure_start >= 30 * RT_MS)
        drv_request_stop(d);
}

Test(driver, stop_request_ends_an_unbounded_run_and_reset_is_accounted)
{
    uint16_t port;
    struct drv_echo *e = echo_up(NULL, &port);
    struct drv_params p;
    count_params(&p, port, 4, 0, 1000);   /* no slot limit, no duration: runs until stopped */
    int calls = 0;
    p.progress = stop_on_progress;
    p.progress_arg = &calls;
    p.progress_interval_ns = 50 * RT_MS;
    struct drv_fault f = {.at_ns = 10 * RT_MS, .kind = DRV_FAULT_RESET, .link_first = 1, .link_count = 1};
    p.faults = &f;
    p.n_faults = 1;
    struct drv *d;
    struct drv_result r;
    run(&p, &d, &r);
    cr_expect(r.stopped);
    cr_expect_geq(calls, 1);
    cr_expect_eq(r.closed_by_driver, 1);
    cr_expect_eq(r.links_open_at_end, 3);
    cr_expect_gt(r.all.echo.sent, 0);
    assert_closes(&r.all.echo);
    drv_destroy(d);
    drv_echo_stop(e, NULL);
}

Test(driver, warmup_is_excluded_but_still_accounted)
{
    uint16_t port;
    struct drv_echo *e = echo_up(NULL, &port);
    struct drv_params p;
    count_params(&p, port, 5, 0, 1000);
    p.warmup_ns = 100 * RT_MS;
    p.duration_ns = 200 * RT_MS;
    struct drv *d;
    struct drv_result r;
    run(&p, &d, &r);
    cr_expect_gt(r.measured.echo.sent, 0);
    cr_expect_lt(r.measured.echo.sent, r.all.echo.sent, "warm-up messages are outside the window");
    cr_expect_eq(met_hist_count(r.lat_rtt), r.measured.echo.delivered);
    cr_expect_eq(met_hist_count(r.lag), r.measured.echo.sent);
    cr_expect_eq(r.all.echo.delivered, r.all.echo.sent);
    assert_closes(&r.all.echo);
    assert_closes(&r.measured.echo);
    cr_expect_geq(r.t_measure_start - r.t_load0, p.warmup_ns);
    /* by arrival: what came in the window and after it, never more than all of it */
    cr_expect_gt(r.window.echo_delivered, 0);
    cr_expect_leq(r.window.echo_delivered + r.window.drain_echo_delivered, r.all.echo.delivered);
    cr_expect_lt(r.window.echo_delivered, r.all.echo.delivered, "warm-up arrivals are not the window's");
    /* the census: one entry per open link, each adding up with its socket's counts */
    json_t *c = drv_census(d);
    json_t *links = json_object_get(c, "links");
    cr_expect_eq(json_array_size(links), 5);
    int64_t sent = 0;
    size_t i;
    json_t *l;
    json_array_foreach(links, i, l) {
        json_t *sk = json_object_get(l, "sock");
        int64_t s0 = json_integer_value(json_object_get(l, "seq0"));
        int64_t tx = json_integer_value(json_object_get(l, "tx_seq"));
        cr_expect_eq(json_integer_value(json_object_get(sk, "msgs_out")), tx - s0);
        cr_expect_eq(json_integer_value(json_object_get(sk, "msgs_in")),
                     json_integer_value(json_object_get(l, "echo_delivered")) +
                     json_integer_value(json_object_get(l, "push_delivered")) +
                     json_integer_value(json_object_get(l, "other")));
        cr_expect_eq(json_integer_value(json_object_get(l, "unsent")), 0);
        sent += tx - s0;
    }
    cr_expect_eq(sent, r.all.echo.sent);
    json_decref(c);
    drv_destroy(d);
    drv_echo_stop(e, NULL);
}

Test(driver, churn_closes_and_reconnects_with_abandoned_accounted)
{
    uint16_t port;
    struct drv_echo *e = echo_up(NULL, &port);
    struct drv_params p;
    count_params(&p, port, 5, 0, 2000);
    p.groups[0].close_rate_per_s = 40;
    p.groups[0].reconnect = true;
    p.duration_ns = 300 * RT_MS;
    struct drv *d;
    struct drv_result r;
    run(&p, &d, &r);
    cr_expect_gt(r.closed_by_driver, 0);
    cr_expect_eq(r.reconnects, r.closed_by_driver);
    cr_expect_eq(r.links_established, 5, "a reopened link is not a new link");
    cr_expect_eq(r.closed_by_peer, 0);
    cr_expect_eq(r.all.echo.gaps + r.all.echo.duplicates, 0);
    assert_closes(&r.all.echo);
    drv_destroy(d);
    struct drv_echo_stats st;
    drv_echo_stop(e, &st);
    cr_expect_eq(st.accepted, 5 + r.reconnects);
}

Test(driver, server_pushes_are_tracked_per_connection)
{
    struct drv_echo_params ep;
    drv_echo_params_default(&ep);
    ep.push_per_echo = true;
    uint16_t port;
    struct drv_echo *e = echo_up(&ep, &port);
    struct drv_params p;
    count_params(&p, port, 3, 30, 2000);
    struct drv *d;
    struct drv_result r;
    run(&p, &d, &r);
    cr_expect_eq(r.all.echo.delivered, 90);
    cr_expect_eq(r.all.push.delivered, 90);
    cr_expect_eq(r.all.push.gaps + r.all.push.duplicates + r.all.push.reordered + r.all.push.bad, 0);
    cr_expect_eq(met_hist_count(r.lat_out), r.measured.echo.delivered + r.measured.push.delivered);
    drv_destroy(d);
    drv_echo_stop(e, NULL);
}

Test(driver, open_files_limit_is_counted_not_fatal)
{
    uint16_t port;
    struct drv_echo *e = echo_up(NULL, &port);
    struct drv_params p;
    count_params(&p, port, 40, 5, 1000);
    p.connect_timeout_ns = 300 * RT_MS;
    p.connect_rate_per_s = 200;   /* paced, so the echo thread's accepts get descriptors too */
    p.progress_interval_ns = 20 * RT_MS;   /* timeouts are checked on the progress tick */
    struct drv *d;
    char err[256];
    cr_assert_eq(drv_create(&p, &d, err, sizeof err), 0, "%s", err);
    /* room for about 10 more descriptors, shared with the echo thread's accepts */
    int probe = dup(0);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    struct rlimit low = {.rlim_cur = (rlim_t)probe + 10, .rlim_max = rl.rlim_max};
    close(probe);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct drv_result r;
    cr_assert_eq(drv_run(d, &r), 0);
    setrlimit(RLIMIT_NOFILE, &rl);
    cr_expect_gt(r.fail_emfile, 0);
    cr_expect_gt(r.links_established, 0);
    cr_expect_eq(r.links_established + r.fail_emfile + r.fail_connect + r.fail_handshake + r.fail_timeout, 40);
    assert_closes(&r.all.echo);
    drv_destroy(d);
    drv_echo_stop(e, NULL);
}
