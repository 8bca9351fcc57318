/* run_metrics.c — combine the driver's result and the server's report into one run object with the report contract's metric names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "met_hist.h"
#include "met_hlog.h"
#include "met_stats.h"
#include "run.h"

static int64_t jget(const json_t *o, const char *path)
{
    /* dotted path into nested objects; 0 when absent */
    char key[128];
    const char *p = path;
    const json_t *cur = o;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key)
            return 0;
        memcpy(key, p, n);
        key[n] = 0;
        cur = json_object_get(cur, key);
        p = dot ? dot + 1 : p + n;
    }
    return json_is_number(cur) ? (int64_t)json_number_value(cur) : 0;
}

static json_t *lat_json(const met_hist *h)
{
    /* ns histogram -> {p50, p90, p99, p999, max} in µs */
    if (!h || met_hist_count(h) == 0)
        return NULL;
    return json_pack("{s:f,s:f,s:f,s:f,s:f}", "p50", met_hist_percentile(h, 50) / 1e3, "p90",
                     met_hist_percentile(h, 90) / 1e3, "p99", met_hist_percentile(h, 99) / 1e3,
                     "p999", met_hist_percentile(h, 99.9) / 1e3, "max", met_hist_max(h) / 1e3);
}

static void set_num(json_t *m, const char *k, double v)
{
    if (isfinite(v))
        json_object_set_new(m, k, json_real(v));
}

static json_t *dir_json(const struct drv_dir *d)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "scheduled",
                     (json_int_t)d->scheduled, "sent", (json_int_t)d->sent, "unsent",
                     (json_int_t)d->unsent, "delivered", (json_int_t)d->delivered, "duplicates",
                     (json_int_t)d->duplicates, "reordered", (json_int_t)d->reordered, "gaps",
                     (json_int_t)d->gaps, "in_flight", (json_int_t)d->in_flight, "abandoned",
                     (json_int_t)d->abandoned, "stale", (json_int_t)d->stale, "bad",
                     (json_int_t)d->bad, "corrupted", (json_int_t)d->corrupted);
}

/* Accounting, both directions summed (METHOD.md, 7). The driver sees holes (gaps: a
 * higher seq arrived) and a tail (after the last seq received: in flight, abandoned on a
 * closed link, or pushes never seen); the server names what it dropped or refused.
 * Holes that the drops and refusals made before the driver stopped cannot explain are
 * lost. A named drop that is no hole was in the driver's tail (the teardown's drops
 * all are): it moves from in flight to dropped, so the identity
 * sent = delivered + dropped + refused + in_flight + lost holds exactly, and a negative
 * in flight (more named than missing) marks the run invalid.
 *
 * In sink mode nothing comes back: a client message is delivered when the app takes it
 * (app.recv_msgs, whole run like the driver's sent), and the holes on the way in are
 * the ones the app saw in each link's sequence (app.seq_missing, whole run), which only
 * the inbound drops (recv_queue_full, rate_limited, whole run) can explain. Pushes keep
 * the driver's holes, explained by what else was dropped or refused by the driver's end. */
static void accounting(json_t *m, json_t *reasons, const struct drv_result *dr, const json_t *srv,
                       bool sink)
{
    const struct drv_dir *e = &dr->all.echo, *p = &dr->all.push;
    int64_t pushed = jget(srv, "app.pushed");
    int64_t sent = e->sent + pushed;
    int64_t delivered = (sink ? jget(srv, "app.recv_msgs") : e->delivered) + p->delivered;
    /* Dropped and refused count what the server threw away or gave up while the driver
     * ran. What the teardown discarded after the driver's end (messages still queued in
     * a variant or held by the app when the links closed) was in flight when the
     * measurement ended: counting it as dropped would charge a lossless design with
     * the harness's own shutdown. It stays in in_flight and is reported beside it. */
    int64_t dropped = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(srv, "drops_at_driver_end"), k, v) {
        dropped += json_integer_value(v);
        if (json_integer_value(v) > 0)
            json_object_set_new(reasons, k, json_integer(json_integer_value(v)));
    }
    int64_t refused = jget(srv, "refused_at_driver_end");
    int64_t teardown = jget(srv, "app.unsent_at_close") - refused;
    json_object_foreach(json_object_get(srv, "drops"), k, v)
        teardown += json_integer_value(v);
    teardown -= dropped;
    int64_t in_drop = jget(srv, "drops.recv_queue_full") + jget(srv, "drops.rate_limited");
    int64_t lost;
    if (sink) {
        int64_t in_end = jget(srv, "drops_at_driver_end.recv_queue_full") +
                         jget(srv, "drops_at_driver_end.rate_limited");
        int64_t lost_in = jget(srv, "app.seq_missing") - in_drop;
        int64_t lost_push = p->gaps - (jget(srv, "dropped_at_driver_end") - in_end) -
                            jget(srv, "refused_at_driver_end");
        lost = (lost_in > 0 ? lost_in : 0) + (lost_push > 0 ? lost_push : 0);
    } else {
        int64_t holes = e->gaps + p->gaps;
        lost = holes - jget(srv, "dropped_at_driver_end") - jget(srv, "refused_at_driver_end");
        if (lost < 0)
            lost = 0;
    }
    int64_t in_flight = sent - delivered - dropped - refused - lost;
    json_object_set_new(m, "msgs_sent", json_integer(sent));
    json_object_set_new(m, "msgs_delivered", json_integer(delivered));
    json_object_set_new(m, "msgs_dropped", json_integer(dropped));
    json_object_set_new(m, "msgs_refused", json_integer(refused));
    json_object_set_new(m, "msgs_in_flight", json_integer(in_flight));
    json_object_set_new(m, "msgs_discarded_at_teardown", json_integer(teardown > 0 ? teardown : 0));
    json_object_set_new(m, "msgs_lost", json_integer(lost));
    json_object_set_new(m, "msgs_duplicated", json_integer(e->duplicates + p->duplicates +
                                                           (sink ? jget(srv, "app.seq_dup") : 0)));

    json_object_set_new(m, "dir_in", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}",
        "sent", (json_int_t)e->sent, "received_by_app", (json_int_t)jget(srv, "app.recv_msgs"),
        "missing_at_app", (json_int_t)jget(srv, "app.seq_missing"),
        "dropped", (json_int_t)in_drop, "seq_gaps_at_app", (json_int_t)jget(srv, "app.seq_gaps"),
        "seq_backwards_at_app", (json_int_t)jget(srv, "app.seq_backwards")));
    json_object_set_new(m, "dir_out", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
        "sent_by_app", (json_int_t)jget(srv, "app.sent"), "echoed", (json_int_t)jget(srv, "app.echoed"),
        "pushed", (json_int_t)pushed, "delivered", (json_int_t)delivered,
        "dropped", (json_int_t)(dropped - jget(srv, "drops_at_driver_end.recv_queue_full") -
                                jget(srv, "drops_at_driver_end.rate_limited")),
        "refused", (json_int_t)refused,
        "held_peak", (json_int_t)jget(srv, "app.held_peak")));
}

static void server_metrics(json_t *m, const struct drv_result *dr, const json_t *srv, int64_t links)
{
    double win_s = (double)jget(srv, "window_ns") / 1e9;
    /* the server's window starts and ends on the driver's progress ticks; scale its CPU
     * to the driver's measured window so CPU per message divides like by like */
    double scale = (dr && win_s > 0 && dr->measure_ns > 0) ? (dr->measure_ns / 1e9) / win_s : 1.0;
    int64_t link_cpu = jget(srv, "groups.link.cpu_ns") + jget(srv, "groups.loop.cpu_ns");
    int64_t link_wake = jget(srv, "groups.link.wakeups") + jget(srv, "groups.loop.wakeups");
    json_object_set_new(m, "links", json_integer(links));
    json_object_set_new(m, "threads_peak", json_integer(jget(srv, "threads_peak")));
    json_object_set_new(m, "threads_live", json_integer(jget(srv, "threads_live")));
    set_num(m, "threads_per_link", links > 0 ? (double)jget(srv, "groups.link.live") / links : 0);
    set_num(m, "cpu_server_s", jget(srv, "cpu_process_ns") * scale / 1e9);
    /* a server that cannot split its CPU by thread group (the Go reference server: its
     * goroutines move between threads) leaves cpu_ns out, and so do these */
    if (json_object_get(json_object_get(json_object_get(srv, "groups"), "link"), "cpu_ns")) {
        set_num(m, "cpu_link_s", link_cpu * scale / 1e9);
        set_num(m, "cpu_app_s", jget(srv, "groups.app.cpu_ns") * scale / 1e9);
        set_num(m, "cpu_other_s", jget(srv, "groups.other.cpu_ns") * scale / 1e9);
    }
    if (links > 0 && win_s > 0)
        set_num(m, "wakeups_per_link_s", link_wake / (double)links / win_s);
    int64_t sys = jget(srv, "vsock.sys_read") + jget(srv, "vsock.sys_write") + jget(srv, "vsock.sys_poll");
    int64_t msgs = jget(srv, "vsock.msgs_in") + jget(srv, "vsock.msgs_out");
    if (msgs > 0)
        set_num(m, "syscalls_per_msg", (double)sys / (double)msgs);
    json_object_set_new(m, "rss_peak_bytes", json_integer(jget(srv, "rss_peak_bytes")));
    if (links > 0)
        set_num(m, "rss_per_link_bytes",
                (double)(jget(srv, "rss_steady_bytes") - jget(srv, "rss_base_bytes")) / links);
    json_object_set_new(m, "ctxsw_voluntary", json_integer(jget(srv, "ctxsw.voluntary")));
    json_object_set_new(m, "ctxsw_involuntary", json_integer(jget(srv, "ctxsw.involuntary")));
    json_object_set_new(m, "links_closed_idle", json_integer(jget(srv, "closes.idle")));
    json_object_set_new(m, "links_closed_error",
                        json_integer(jget(srv, "closes.error") + jget(srv, "closes.retry_spent") +
                                     jget(srv, "closes.stall") + jget(srv, "closes.overflow")));
    json_t *closes = json_object_get(srv, "closes");
    if (closes)
        json_object_set(m, "closes_by_cause", closes);
    json_t *vs = json_object_get(srv, "vsock");
    if (vs)
        json_object_set_new(m, "syscalls", json_pack("{s:O,s:O,s:O,s:O}", "read",
                        json_object_get(vs, "sys_read"), "write", json_object_get(vs, "sys_write"),
                        "poll", json_object_get(vs, "sys_poll"), "partial_resumed",
                        json_object_get(vs, "partial_resumed")));
    json_t *lat = NULL;
    met_hist *h = met_hist_from_json(json_object_get(srv, "lat_in"));
    if (h && (lat = lat_json(h)))
        json_object_set_new(m, "lat_in_us", lat);
    met_hist_destroy(h);
}

json_t *run_object(const run_inputs *in)
{
    json_t *run = json_object(), *m = json_object(), *flags = json_object(),
           *why = json_array(), *reasons = json_object();
    if (!run || !m || !flags || !why || !reasons)
        return NULL;
    const struct drv_result *dr = in->dr;
    const json_t *srv = in->srv;
    int64_t links = srv ? jget(srv, "links.held") : dr ? dr->links_established : 0;

    if (srv)
        server_metrics(m, dr, srv, links);
    else
        json_object_set_new(m, "links", json_integer(links));
    if (dr) {
        set_num(m, "cpu_driver_util", dr->cpu_util);
        /* a sink's deliveries are the app's: what it took in the server's window, plus
         * the pushes the driver received in its own */
        double win_s = srv ? (double)jget(srv, "window_ns") / 1e9 : 0;
        if (in->sink && win_s > 0 && dr->measure_ns > 0)
            set_num(m, "throughput_msgs_s",
                    (double)jget(srv, "app_window.recv_msgs") / win_s +
                    (double)dr->measured.push.delivered / (dr->measure_ns / 1e9));
        else
            set_num(m, "throughput_msgs_s", dr->throughput_msgs_s);
        json_t *l;
        if ((l = lat_json(dr->lat_out)))
            json_object_set_new(m, "lat_out_us", l);
        if ((l = lat_json(dr->lat_rtt)))
            json_object_set_new(m, "lat_rtt_us", l);
        /* wrk2-style: beside the corrected latency, the one a closed-loop tool would show */
        if ((l = lat_json(dr->lat_rtt_uncorrected)))
            json_object_set_new(m, "lat_rtt_uncorrected_us", l);
        if ((l = lat_json(dr->lag)))
            json_object_set_new(m, "driver_lag_us", l);
        if (srv)
            accounting(m, reasons, dr, srv, in->sink);
        json_object_set_new(m, "echo", dir_json(&dr->all.echo));
        json_object_set_new(m, "push", dir_json(&dr->all.push));
        json_object_set_new(m, "echo_measured", dir_json(&dr->measured.echo));
        /* Little's law: echoes in flight ≈ echo throughput × mean round trip */
        double thr = dr->measure_ns > 0 ? dr->measured.echo.delivered / (dr->measure_ns / 1e9) : 0;
        double w = dr->lat_rtt ? met_hist_mean(dr->lat_rtt) / 1e9 : 0;
        met_little lt = met_stats_little(thr, w, in->in_flight_mean, 0.5);
        json_object_set_new(m, "little", json_pack("{s:f,s:f,s:f,s:b}", "predicted", lt.predicted,
                            "measured", lt.measured, "ratio", isfinite(lt.ratio) ? lt.ratio : -1.0,
                            "ok", lt.ok));
        json_object_set_new(m, "driver", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
                            "runq_wait_ns", (json_int_t)dr->runq_wait_ns, "links_established",
                            (json_int_t)dr->links_established, "fail_timeout",
                            (json_int_t)dr->fail_timeout, "fail_connect",
                            (json_int_t)dr->fail_connect, "fail_handshake",
                            (json_int_t)dr->fail_handshake, "fail_emfile", (json_int_t)dr->fail_emfile,
                            "closed_by_peer", (json_int_t)dr->closed_by_peer, "lag_p99_ns",
                            (json_int_t)dr->lag_p99_ns));
        json_object_set_new(flags, "driver_saturated", json_boolean(dr->driver_saturated));
        if (dr->driver_saturated)
            json_object_set_new(flags, "driver_saturated_why", json_string(dr->saturated_why));
    }
    json_object_set_new(m, "drops_by_reason", reasons);

    /* A limit reached is a readable result, not a crash. Links closed on purpose (idle
     * reaper, churn) are no limit: only attaches the server refused or failed, and
     * connections the driver could not make, are. */
    int64_t refused_links = srv ? jget(srv, "links.attach_failed") + jget(srv, "links.refused") : 0;
    int64_t no_conn = dr ? dr->fail_connect + dr->fail_handshake + dr->fail_timeout +
                           dr->fail_emfile + dr->fail_addr : 0;
    int64_t held = srv ? jget(srv, "links.attached") : dr ? dr->links_established : 0;
    if (dr && dr->links_established < held)
        held = dr->links_established;
    if (!in->failure && held < in->links_wanted && (refused_links > 0 || no_conn > 0)) {
        char lim[256], conn[160];
        const char *e = srv ? json_string_value(json_object_get(json_object_get(srv, "links"), "limit_errno")) : NULL;
        snprintf(conn, sizeof conn, "clients could not connect (%lld connect, %lld handshake, "
                 "%lld timeout, %lld EMFILE failures)", (long long)(dr ? dr->fail_connect : 0),
                 (long long)(dr ? dr->fail_handshake : 0), (long long)(dr ? dr->fail_timeout : 0),
                 (long long)(dr ? dr->fail_emfile : 0));
        const char *what = refused_links == 0 ? conn
                         : e && !strcmp(e, "EAGAIN") ? "thread creation failed (EAGAIN)"
                         : e && !strcmp(e, "EMFILE") ? "out of open files (EMFILE)"
                         : e && !strcmp(e, "ENOSPC") ? "link table full"
                                                     : "the variant's attach failed";
        snprintf(lim, sizeof lim, "%s: held %lld of %lld links: %s", in->variant, (long long)held,
                 (long long)in->links_wanted, what);
        json_object_set_new(flags, "limit_reached", json_string(lim));
    }
    if (in->failure)
        json_array_append_new(why, json_string(in->failure));
    int64_t lost = json_integer_value(json_object_get(m, "msgs_lost"));
    if (lost > 0)
        json_array_append_new(why, json_sprintf("msgs_lost = %lld: sent - delivered - dropped - "
                              "refused - in flight > 0", (long long)lost));
    int64_t infl = json_integer_value(json_object_get(m, "msgs_in_flight"));
    if (infl < 0)
        json_array_append_new(why, json_sprintf("accounting: %lld more messages dropped or refused "
                              "than missing (a drop counted twice?)", (long long)-infl));
    int64_t dup = json_integer_value(json_object_get(m, "msgs_duplicated"));
    if (dup > 0)
        json_array_append_new(why, json_sprintf("%lld messages delivered twice", (long long)dup));
    if (srv && jget(srv, "app.closed_twice") > 0)
        json_array_append_new(why, json_string("a link was reported closed twice (contract breach)"));
    json_object_set_new(flags, "partial", json_boolean(in->partial));
    json_object_set_new(flags, "invalid_reasons", why);

    json_object_set_new(run, "variant", json_string(in->variant));
    json_object_set_new(run, "rep", json_integer(in->rep));
    json_object_set_new(run, "metrics", m);
    json_object_set_new(run, "flags", flags);
    json_object_set_new(run, "placement", json_pack("{s:s,s:s}", "server_cpus",
                        in->server_cpus ? in->server_cpus : "", "driver_cpus",
                        in->driver_cpus ? in->driver_cpus : ""));
    if (in->series_file)
        json_object_set_new(run, "series", json_string(in->series_file));
    if (srv) {
        /* the server's raw figures, for whoever wants more than the contract */
        json_t *raw = json_deep_copy(srv);
        json_object_del(raw, "lat_in");
        json_object_del(raw, "event");
        json_object_set_new(run, "server", raw);
    }
    /* the histograms themselves, so the .hlog files and the percentile charts
     * (rep_plot.h) can be made again from report.json alone: HdrHistogram's compressed
     * V2 encoding in ns (met_hlog.h), a few KB each where the sparse JSON took 100+ */
    json_t *hs = json_object();
    met_hist *hin = srv ? met_hist_from_json(json_object_get(srv, "lat_in")) : NULL;
    const met_hist *hl[3] = {hin, dr ? dr->lat_out : NULL, dr ? dr->lat_rtt : NULL};
    static const char *const hk[3] = {"lat_in", "lat_out", "lat_rtt"};
    for (int i = 0; i < 3; i++) {
        char *b64 = hl[i] && met_hist_count(hl[i]) > 0 ? met_hlog_encode(hl[i]) : NULL;
        if (b64)
            json_object_set_new(hs, hk[i], json_string(b64));
        free(b64);
    }
    met_hist_destroy(hin);
    json_object_set_new(run, "histograms", hs);
    return run;
}
