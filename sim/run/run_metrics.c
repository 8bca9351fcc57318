/* run_metrics.c — combine the driver's result and the server's report into one run object with the report contract's metric names. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "met_hist.h"
#include "met_hlog.h"
#include "met_names.h"
#include "met_stats.h"
#include "run.h"
#include "run_acct.h"

#define jget run_jpath

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

/* Per-direction detail beside the totals (the server's counters, whole run). */
static void dir_detail(json_t *m, const json_t *srv)
{
    int64_t in_drop = run_inbound_drops(srv, "drops_at_driver_end");
    json_object_set_new(m, "dir_in", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}",
        "sent", (json_int_t)jget(srv, "vsock_run.msgs_in"), "received_by_app", (json_int_t)jget(srv, "app.recv_msgs"),
        "missing_at_app", (json_int_t)jget(srv, "app.seq_missing"),
        "dropped", (json_int_t)in_drop, "seq_gaps_at_app", (json_int_t)jget(srv, "app.seq_gaps"),
        "seq_backwards_at_app", (json_int_t)jget(srv, "app.seq_backwards")));
    json_object_set_new(m, "dir_out", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}",
        "sent_by_app", (json_int_t)jget(srv, "app.sent"), "echoed", (json_int_t)jget(srv, "app.echoed"),
        "pushed", (json_int_t)jget(srv, "app.pushed"),
        "dropped", (json_int_t)(jget(srv, "dropped_at_driver_end") - in_drop),
        "refused", (json_int_t)jget(srv, "refused_at_driver_end"),
        "held_peak", (json_int_t)jget(srv, "app.held_peak")));
}

/* One window for every ratio (docs/reports.md, "The window"): messages counted by the
 * time they arrived, in the driver's measured window, whose instants the servers took
 * as their own (srv_main.h "window"): their CPU, wake-ups and system calls are of the
 * same interval. The drain after it is reported apart. */
static void window_metrics(json_t *m, json_t *flags, const struct drv_result *dr, const json_t *srv,
                           bool sink, double planned_per_s)
{
    double win_s = dr->measure_ns / 1e9;
    int64_t offered = dr->measured.echo.scheduled + (srv ? jget(srv, "app_window.pushed") : 0);
    int64_t delivered = (sink ? jget(srv, "app_window.recv_msgs") : dr->window.echo_delivered) +
                        dr->window.push_delivered;
    int64_t drain = (sink ? jget(srv, "app_drain.recv_msgs") : dr->window.drain_echo_delivered) +
                    dr->window.drain_push_delivered;
    set_num(m, "window_s", win_s);
    json_object_set_new(m, "window_msgs_offered", json_integer(offered));
    json_object_set_new(m, "window_msgs_delivered", json_integer(delivered));
    if (win_s > 0)
        set_num(m, "throughput_msgs_s", delivered / win_s);
    const json_t *cpu = json_object_get(m, "cpu_server_s");
    if (json_is_number(cpu)) {
        double c = json_number_value(cpu);
        set_num(m, "window_cpu_server_s", c);
        if (c > 0)
            set_num(m, "msgs_per_cpu_s", delivered / c);
        if (delivered > 0)
            set_num(m, "cpu_ms_per_1k_msgs", c * 1e6 / (double)delivered);
    }
    set_num(m, "drain_s", (dr->t_end - dr->t_measure_end) / 1e9);
    json_object_set_new(m, "drain_msgs_delivered", json_integer(drain));
    /* kept up: delivered in the window at least 98 % of what was offered in it, and the
     * echoes due and not back at its end no more than at its start plus 2 % of it */
    int64_t growth = dr->window.backlog_end - dr->window.backlog_start;
    bool rate_ok = offered == 0 || delivered >= 0.98 * (double)offered;
    bool backlog_ok = sink || offered == 0 || growth <= 0.02 * (double)offered;
    /* a server report without the window's pushes leaves what was offered unknown: the
     * Go reference server once had none, and every push design "kept up" delivering 0 */
    bool pushes_known = !srv || json_is_integer(json_object_get(json_object_get(srv, "app_window"), "pushed"));
    /* What was offered counts the open links' schedules only: a design that closes the
     * links it cannot serve (poll tearing frames at 100 k/s: all 100 links gone before the
     * window, 0 offered, 0 delivered) kept up with nothing. Links the server closed by
     * failure (not the idle reaper's nor the app's closes) while the window's echoes fell
     * short of the schedule's plan: not kept up. */
    int64_t lost_links = srv ? jget(srv, "closes.error") + jget(srv, "closes.stall") +
                               jget(srv, "closes.overflow") + jget(srv, "closes.retry_spent") : 0;
    double planned = planned_per_s > 0 ? planned_per_s * win_s : 0;
    bool plan_ok = planned <= 0 || lost_links == 0 ||
                   (double)dr->measured.echo.scheduled >= 0.98 * planned;
    if (planned > 0)
        json_object_set_new(m, "window_msgs_planned", json_integer((json_int_t)llround(planned)));
    bool kept = rate_ok && backlog_ok && win_s > 0 && pushes_known && plan_ok;
    json_object_set_new(m, "kept_up", json_integer(kept));
    json_object_set_new(m, "backlog_growth", json_integer(sink ? 0 : growth));
    json_object_set_new(flags, "kept_up", json_boolean(kept));
    if (!kept) {
        char why[256];
        if (win_s <= 0)
            snprintf(why, sizeof why, "no measured window");
        else if (!plan_ok)
            snprintf(why, sizeof why, "the server closed %lld links (error, stall, overflow or retries "
                     "spent) and %lld of the %.0f echoes the schedule planned were offered in the window",
                     (long long)lost_links, (long long)dr->measured.echo.scheduled, planned);
        else if (!pushes_known)
            snprintf(why, sizeof why, "the server did not report its pushes in the window (app_window.pushed): "
                     "what was offered is unknown");
        else if (!rate_ok)
            snprintf(why, sizeof why, "delivered %.1f %% of the %lld offered in the window (rule: >= 98 %%)",
                     offered ? 100.0 * (double)delivered / (double)offered : 0.0, (long long)offered);
        else
            snprintf(why, sizeof why, "the backlog grew by %lld in the window (rule: <= 2 %% of %lld offered)",
                     (long long)growth, (long long)offered);
        json_object_set_new(flags, "kept_up_why", json_string(why));
    }
}

/* The rt group a thread-name class belongs to, by the server's report of the names it
 * spawned in each group (srv_report.h thread_names); "other" for threads rt did not
 * spawn (the main thread, a library's own). */
static const char *group_of_class(const json_t *srv, const char *cls)
{
    const char *g;
    json_t *names;
    json_object_foreach(json_object_get(srv, "thread_names"), g, names) {
        size_t i;
        json_t *n;
        json_array_foreach(names, i, n)
            if (json_is_string(n) && !strcmp(json_string_value(n), cls))
                return g;
    }
    return "other";
}

static int64_t kget(const json_t *k, const char *key)
{
    return json_integer_value(json_object_get(k, key));
}

/* CPU and wake-ups by group: each thread-name class to the group that spawned it. */
static void group_metrics(json_t *m, const json_t *srv, const json_t *kern, int64_t links, double kwin_s)
{
    static const char *const gs[] = {"link", "loop", "app", "driver", "other"};
    double cpu[5] = {0}, wake[5] = {0};
    const char *cls;
    json_t *v;
    json_object_foreach(json_object_get(kern, "by_name"), cls, v) {
        const char *g = group_of_class(srv, cls);
        for (int i = 0; i < 5; i++)
            if (!strcmp(g, gs[i])) {
                cpu[i] += (double)kget(v, "cpu_ns") / 1e9;
                wake[i] += (double)kget(v, "ctxsw");
            }
    }
    set_num(m, "cpu_link_s", cpu[0] + cpu[1]);
    set_num(m, "cpu_app_s", cpu[2]);
    set_num(m, "cpu_other_s", cpu[3] + cpu[4]);
    json_t *bg = json_object(), *bw = json_object();
    for (int i = 0; i < 5; i++) {
        json_object_set_new(bg, gs[i], json_real(cpu[i]));
        if (links > 0 && kwin_s > 0)
            json_object_set_new(bw, gs[i], json_real(wake[i] / (double)links / kwin_s));
    }
    json_object_set_new(m, "cpu_by_group_s", bg);
    json_object_set_new(m, "wakeups_by_group_per_link_s", bw);
}

/* Threads, wake-ups, CPU by group and system calls from the kernel (kern: run_watch.h,
 * read from outside the server at the window's marks), each beside the server's own
 * count as a cross-check (*_self). A figure the kernel cannot give here is left out
 * (run_exec lists it in absent_metrics), never replaced by the self-count. */
static void kernel_metrics(json_t *m, const json_t *srv, const json_t *kern, int64_t links)
{
    double kwin_s = (double)kget(kern, "window_ns") / 1e9;
    int64_t base = kget(kern, "threads_base"), end = kget(kern, "threads_end");
    json_object_set_new(m, "threads_peak", json_integer(kget(kern, "threads_max")));
    json_object_set_new(m, "threads_live", json_integer(end));
    json_object_set_new(m, "threads_base", json_integer(base));
    if (links > 0)
        set_num(m, "threads_per_link", (double)(end - base) / (double)links);
    if (links > 0 && kwin_s > 0)
        set_num(m, "wakeups_per_link_s", (double)kget(kern, "wakeups") / (double)links / kwin_s);

    /* A server that does not say which thread names are whose (the Go reference server:
     * its goroutines move between threads) gets no split, rather than all of it as "other" */
    if (json_object_size(json_object_get(srv, "thread_names")))
        group_metrics(m, srv, kern, links, kwin_s);

    /* every system call of every server thread over the messages the servers read and
     * wrote in the window */
    const json_t *sc = json_object_get(kern, "syscalls");
    int64_t msgs = jget(srv, "vsock.msgs_in") + jget(srv, "vsock.msgs_out");
    if (json_is_integer(sc) && msgs > 0)
        set_num(m, "syscalls_per_msg", (double)json_integer_value(sc) / (double)msgs);
    else if (!json_is_integer(sc))
        json_object_set_new(m, "syscalls_per_msg", json_null());   /* absent: no partial count */
}

static void server_metrics(json_t *m, const struct drv_result *dr, const json_t *srv,
                           const json_t *kern, int64_t links)
{
    double win_s = (double)jget(srv, "window_ns") / 1e9;
    /* the server's window starts and ends on the driver's progress ticks; scale its CPU
     * to the driver's measured window so CPU per message divides like by like */
    double scale = (dr && win_s > 0 && dr->measure_ns > 0) ? (dr->measure_ns / 1e9) / win_s : 1.0;
    int64_t link_cpu = jget(srv, "groups.link.cpu_ns") + jget(srv, "groups.loop.cpu_ns");
    int64_t link_wake = jget(srv, "groups.link.wakeups") + jget(srv, "groups.loop.wakeups");
    json_object_set_new(m, "links", json_integer(links));
    set_num(m, "cpu_server_s", jget(srv, "cpu_process_ns") * scale / 1e9);
    if (kern)
        kernel_metrics(m, srv, kern, links);
    /* the server's own counts: rt's thread registry and wake-ups, vsock's system calls */
    json_object_set_new(m, "threads_peak_self", json_integer(jget(srv, "threads_peak")));
    set_num(m, "threads_per_link_self", links > 0 ? (double)jget(srv, "groups.link.live") / links : 0);
    if (json_object_get(json_object_get(json_object_get(srv, "groups"), "link"), "cpu_ns")) {
        set_num(m, "cpu_link_s_self", link_cpu * scale / 1e9);
        set_num(m, "cpu_app_s_self", jget(srv, "groups.app.cpu_ns") * scale / 1e9);
    }
    if (links > 0 && win_s > 0)
        set_num(m, "wakeups_per_link_s_self", link_wake / (double)links / win_s);
    int64_t sys = jget(srv, "vsock.sys_read") + jget(srv, "vsock.sys_write") + jget(srv, "vsock.sys_poll");
    int64_t msgs = jget(srv, "vsock.msgs_in") + jget(srv, "vsock.msgs_out");
    if (msgs > 0)
        set_num(m, "syscalls_per_msg_self", (double)sys / (double)msgs);
    json_object_set_new(m, "rss_peak_bytes", json_integer(jget(srv, "rss_peak_bytes")));
    if (links > 0)
        set_num(m, "rss_per_link_bytes",
                (double)(jget(srv, "rss_steady_bytes") - jget(srv, "rss_base_bytes")) / links);
    json_object_set_new(m, "ctxsw_voluntary", json_integer(jget(srv, "ctxsw.voluntary")));
    json_object_set_new(m, "ctxsw_involuntary", json_integer(jget(srv, "ctxsw.involuntary")));
    json_object_set_new(m, "links_closed_idle", json_integer(jget(srv, "closes.idle")));
    /* of them, by the window's end: links that had sent something (a link a design broke,
     * silent since, is reaped as any quiet one), and links still talking when closed
     * (heard from within the idle timeout: what a wrong reaper does) */
    json_object_set_new(m, "links_closed_idle_after_traffic",
                        json_integer(jget(srv, "app_window_end.idle_closed_active")));
    json_object_set_new(m, "links_closed_idle_quiet",
                        json_integer(jget(srv, "closes.idle") - jget(srv, "app_window_end.idle_closed_active")));
    json_object_set_new(m, "links_closed_idle_talking",
                        json_integer(jget(srv, "app_window_end.idle_closed_talking")));
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
    /* the seed's Go semantics at work (docs/seed-fidelity.md): frames a read deadline
     * broke, frames a write deadline cut short, in the window */
    json_object_set_new(m, "frames_broken_by_deadline",
                        json_integer(jget(srv, "vsock.frames_broken_by_deadline")));
    json_object_set_new(m, "frames_cut_by_deadline",
                        json_integer(jget(srv, "vsock.frames_cut_by_deadline")));
    json_object_set_new(m, "msgs_garbage", json_integer(jget(srv, "vsock.garbage_msgs")));
    /* bytes on the wire (the server's sockets, frames and control frames included: the
     * kernel-side identity of run_acct.c checks the same counters) against the payload of
     * the data messages they carried, both directions; with permessage-deflate the ratio
     * falls below 1 for compressible payloads */
    int64_t wire = jget(srv, "vsock.bytes_in") + jget(srv, "vsock.bytes_out");
    int64_t payload = jget(srv, "vsock.payload_in") + jget(srv, "vsock.payload_out");
    json_object_set_new(m, "wire_bytes", json_integer(wire));
    json_object_set_new(m, "payload_bytes", json_integer(payload));
    if (payload > 0)
        set_num(m, "wire_per_payload", (double)wire / (double)payload);
    json_object_set_new(m, "msgs_compressed",
                        json_integer(jget(srv, "vsock.zmsgs_in") + jget(srv, "vsock.zmsgs_out")));
    /* the idle reaper's sweeps, whole run: Close runs in its thread */
    set_num(m, "reaper_busy_s", jget(srv, "app.reaper_busy_ns") / 1e9);
    /* threads of a multi-link design (pair) serving one link alone at the window's end */
    json_object_set_new(m, "solo_threads", json_integer(jget(srv, "counters_window_end.solo_threads")));
    /* the seed's logging (elog): lines in the window, and the time threads spent in the
     * logger (formatting, its lock, copying, writing) over the server's CPU time: an
     * upper bound of its CPU share, since waiting for the lock counts too */
    json_object_set_new(m, "log_lines", json_integer(jget(srv, "log.lines")));
    json_object_set_new(m, "log_bytes", json_integer(jget(srv, "log.bytes")));
    set_num(m, "log_busy_s", jget(srv, "log.busy_ns") * scale / 1e9);
    if (jget(srv, "cpu_process_ns") > 0)
        set_num(m, "log_busy_share", (double)jget(srv, "log.busy_ns") / (double)jget(srv, "cpu_process_ns"));
    json_t *lat = NULL;
    met_hist *h = met_hist_from_json(json_object_get(srv, "lat_in"));
    if (h && (lat = run_lat_json(h)))
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
        server_metrics(m, dr, srv, in->kern, links);
    else
        json_object_set_new(m, "links", json_integer(links));
    if (dr) {
        set_num(m, "cpu_driver_util", dr->cpu_util);
        window_metrics(m, flags, dr, srv, in->sink, in->planned_echo_per_s);
        json_t *l;
        if ((l = run_lat_json(dr->lat_out)))
            json_object_set_new(m, "lat_out_us", l);
        if ((l = run_lat_json(dr->lat_rtt)))
            json_object_set_new(m, "lat_rtt_us", l);
        /* wrk2-style: beside the corrected latency, the one a closed-loop tool would show */
        if ((l = run_lat_json(dr->lat_rtt_uncorrected)))
            json_object_set_new(m, "lat_rtt_uncorrected_us", l);
        if ((l = run_lat_json(dr->lag)))
            json_object_set_new(m, "driver_lag_us", l);
        if ((l = run_lat_json(dr->lag_own)))
            json_object_set_new(m, "driver_lag_own_us", l);
        if ((l = run_lat_json(dr->bp_wait)))
            json_object_set_new(m, "driver_backpressure_wait_us", l);
        if ((l = run_lat_json(dr->rx_delay)))
            json_object_set_new(m, "driver_rx_delay_us", l);
        met_hist *hin = srv ? met_hist_from_json(json_object_get(srv, "lat_in")) : NULL;
        run_acct_in ai = {.srv = srv, .drv_census = in->drv_census, .dr = dr, .sink = in->sink,
                          .lat_in = hin};
        run_acct(&ai, m, reasons, why);
        met_hist_destroy(hin);
        if (srv)
            dir_detail(m, srv);
        /* the latency objects say how many messages they leave out */
        json_t *lo;
        if ((lo = json_object_get(m, "lat_rtt_us")) && json_object_get(m, "lat_rtt_censored_us"))
            json_object_set(lo, "undelivered", json_object_get(json_object_get(m, "lat_rtt_censored_us"), "undelivered"));
        if ((lo = json_object_get(m, "lat_out_us")) && json_object_get(m, "lat_out_censored_us"))
            json_object_set(lo, "undelivered", json_object_get(json_object_get(m, "lat_out_censored_us"), "undelivered"));
        if ((lo = json_object_get(m, "lat_in_us")) && json_object_get(m, "lat_in_censored_us"))
            json_object_set(lo, "undelivered", json_object_get(json_object_get(m, "lat_in_censored_us"), "undelivered"));
        /* messages the driver received altered (the seed's re-sent partial writes, a
         * server that changes payloads): a finding, counted; never delivered */
        json_object_set_new(m, "msgs_corrupted",
                            json_integer(dr->all.echo.corrupted + dr->all.push.corrupted));
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
        json_object_set_new(m, "driver", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
                            "runq_wait_ns", (json_int_t)dr->runq_wait_ns, "links_established",
                            (json_int_t)dr->links_established, "fail_timeout",
                            (json_int_t)dr->fail_timeout, "fail_connect",
                            (json_int_t)dr->fail_connect, "fail_handshake",
                            (json_int_t)dr->fail_handshake, "fail_emfile", (json_int_t)dr->fail_emfile,
                            "closed_by_peer", (json_int_t)dr->closed_by_peer, "lag_p99_ns",
                            (json_int_t)dr->lag_p99_ns, "lag_own_p99_ns", (json_int_t)dr->lag_own_p99_ns,
                            "rx_delay_p99_ns", (json_int_t)dr->rx_delay_p99_ns));
        /* how it drove: its pacing tick and threads, and what its window cost it (CPU
         * apart, wake-ups, the kernel's count of its system calls; -1: not counted) */
        json_t *dj = json_object_get(m, "driver");
        json_object_set_new(dj, "tick_ns", json_integer(dr->tick_ns));
        json_object_set_new(dj, "nice", json_integer(dr->nice));
        json_object_set_new(dj, "threads", json_integer(dr->threads));
        json_object_set_new(dj, "cpu_user_ns", json_integer(dr->cpu_user_ns));
        json_object_set_new(dj, "cpu_sys_ns", json_integer(dr->cpu_sys_ns));
        json_object_set_new(dj, "wakeups", json_integer(dr->wakeups));
        json_object_set_new(dj, "wakeups_kernel", json_integer(dr->wakeups_kernel));
        json_object_set_new(dj, "syscalls", json_integer(dr->syscalls));
        json_object_set_new(dj, "rx_reads", json_integer(dr->rx_reads));
        json_object_set_new(dj, "rx_stamped", json_integer(dr->rx_stamped));
        json_object_set_new(flags, "driver_saturated", json_boolean(dr->driver_saturated));
        if (dr->driver_saturated)
            json_object_set_new(flags, "driver_saturated_why", json_string(dr->saturated_why));
        /* The machine stalled (the parent's probe woke that late; run_exec.c): the driver
         * did not run on its schedule and the servers did not either, so nothing in the
         * run is the design's. Flagged like a saturated driver ("stall"): measured again. */
        json_object_set_new(m, "machine_stall_ms", in->stall_max_ns >= 0
                            ? json_real((double)in->stall_max_ns / 1e6) : json_null());
        json_object_set_new(m, "steal_ms", in->steal_ms >= 0 ? json_real(in->steal_ms) : json_null());
        json_object_set_new(m, "probe_late_ms", in->probe_late_ns >= 0
                            ? json_real((double)in->probe_late_ns / 1e6) : json_null());
        json_object_set_new(m, "probe_late_runq_ms", in->probe_late_wait_ns >= 0
                            ? json_real((double)in->probe_late_wait_ns / 1e6) : json_null());
        if (in->stall_max_ns >= 0 && in->stall_limit_ns > 0 && in->stall_max_ns > in->stall_limit_ns) {
            char why[64];
            snprintf(why, sizeof why, "%s%sstall", dr->driver_saturated ? dr->saturated_why : "",
                     dr->driver_saturated ? "+" : "");
            json_object_set_new(flags, "driver_saturated", json_true());
            json_object_set_new(flags, "driver_saturated_why", json_string(why));
        }
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
        json_array_insert_new(why, 0, json_string(in->failure));
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
        /* the census's per-link lists are in census_check where they matter (the links
         * that did not add up); a run of 10 000 links would carry megabytes of them */
        json_t *cen = json_object_get(raw, "census");
        if (cen) {
            json_object_set_new(cen, "links_open", json_integer((json_int_t)json_array_size(json_object_get(cen, "links"))));
            json_object_del(cen, "links");
        }
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

json_t *run_absent_metrics(const json_t *m)
{
    json_t *a = json_array();
    for (int i = 0; MET_SCALAR_METRICS[i]; i++)
        if (!json_is_number(json_object_get(m, MET_SCALAR_METRICS[i])))
            json_array_append_new(a, json_string(MET_SCALAR_METRICS[i]));
    for (int i = 0; MET_LATENCY_METRICS[i]; i++)
        if (!json_object_get(m, MET_LATENCY_METRICS[i]))
            json_array_append_new(a, json_string(MET_LATENCY_METRICS[i]));
    if (!json_object_get(m, "drops_by_reason"))
        json_array_append_new(a, json_string("drops_by_reason"));
    return a;
}
