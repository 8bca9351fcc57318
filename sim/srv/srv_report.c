/* srv_report.c — snapshots of the server child's counters and the report document it sends to the parent. */
#include "srv_report.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "link_registry.h"

/* VmRSS, VmHWM and Threads from /proc/self/status (one small read: cheap enough to
 * take at the three or four moments a run needs). */
static void read_status(srv_snap *s)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return;
    char line[256];
    long long v;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %lld kB", &v) == 1)
            s->rss_bytes = v * 1024;
        else if (sscanf(line, "VmHWM: %lld kB", &v) == 1)
            s->rss_peak_bytes = v * 1024;
        else if (sscanf(line, "Threads: %lld", &v) == 1)
            s->threads = (int)v;
    }
    fclose(f);
}

void srv_snap_take(srv_snap *s, app *a, link_host_impl *h, srv_acceptor *acc)
{
    memset(s, 0, sizeof *s);
    s->t = rt_now();
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
        s->cpu_process_ns = (int64_t)ts.tv_sec * RT_S + ts.tv_nsec;
    for (int g = 0; g < RT_GROUP_COUNT; g++)
        rt_group_get((rt_group)g, &s->g[g]);
    vsock_get_totals(&s->vs);
    if (h)
        link_host_snapshot_get(h, &s->host);
    if (a)
        app_stats_get(a, &s->app);
    if (acc)
        srv_acceptor_stats_get(acc, &s->acc);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        s->ctxsw_voluntary = ru.ru_nvcsw;
        s->ctxsw_involuntary = ru.ru_nivcsw;
    }
    read_status(s);
}

met_hist *srv_hist_sub(const met_hist *all, const met_hist *earlier)
{
    met_hist *out = met_hist_create();
    if (!out)
        return NULL;
    int ca = 0, ce = 0;
    int64_t va, na, ve = 0, ne = 0;
    bool more_e = earlier && met_hist_next(earlier, &ce, &ve, &ne);
    while (met_hist_next(all, &ca, &va, &na)) {
        /* both iterate the same bucket layout in ascending order */
        while (more_e && ve < va)
            more_e = met_hist_next(earlier, &ce, &ve, &ne);
        int64_t n = na;
        if (more_e && ve == va)
            n -= ne;
        if (n > 0)
            met_hist_record_n(out, va, n);
    }
    return out;
}

static json_t *vsock_json(const vsock_counters *a, const vsock_counters *b)
{
    /* b - a; a == NULL gives b */
    vsock_counters z = {0};
    if (!a)
        a = &z;
#define F(f) #f, json_integer(b->f - a->f)
    json_t *j = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
                     F(sys_read), F(sys_write), F(sys_poll), F(bytes_in), F(bytes_out),
                     F(frames_in), F(frames_out), F(msgs_in), F(msgs_out), F(read_timeouts),
                     F(write_timeouts), F(partial_resumed), F(pings_answered),
                     F(frames_broken_by_deadline), F(frames_cut_by_deadline), F(garbage_msgs));
    /* permessage-deflate: payload as the app sees it beside the bytes on the wire */
    json_object_update_new(j, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", F(payload_in),
                                        F(payload_out), F(zmsgs_in), F(zmsgs_out),
                                        F(zbytes_in), F(zbytes_out)));
    return j;
#undef F
}

/* b - a of the host's log counters; a == NULL gives b. */
static json_t *log_json(const link_host_snapshot *a, const link_host_snapshot *b)
{
    link_host_snapshot z = {0};
    if (!a)
        a = &z;
    return json_pack("{s:I,s:I,s:I,s:I}", "lines", (json_int_t)(b->log_lines - a->log_lines),
                     "bytes", (json_int_t)(b->log_bytes - a->log_bytes),
                     "writes", (json_int_t)(b->log_writes - a->log_writes),
                     "busy_ns", (json_int_t)(b->log_busy_ns - a->log_busy_ns));
}

static json_t *app_json(const app_stats *s)
{
#define F(f) #f, json_integer(s->f)
    json_t *j = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
                          F(links_attached), F(attach_failed), F(attach_thread_limit),
                          F(links_refused), F(links_closed), F(links_released),
                          F(closed_twice), F(recv_msgs), F(recv_bytes), F(recv_no_hdr),
                          F(seq_gaps), F(seq_backwards), F(sent), F(echoed), F(pushed),
                          F(sink_freed));
    json_t *k = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", F(seq_missing),
                          F(pushes_late), F(push_lag_max_ns),
                          F(seq_late), F(seq_dup),
                          F(send_eagain), F(held_peak),
                          F(variant_drops), F(idle_closed), F(reaper_runs), F(reaper_busy_ns),
                          F(lat_in_overflow),
                          "held_at_stop", json_integer(s->held_now),
                          F(idle_closed_active), F(idle_closed_active_silence_max_ns),
                          F(idle_closed_talking),
                          /* app_destroy counts what is still held as unsent at close */
                          "unsent_at_close", json_integer(s->unsent_at_close + s->held_now));
#undef F
    if (j && k)
        json_object_update(j, k);
    json_decref(k);
    return j;
}

json_t *srv_report_json(const srv_snap *base, const srv_snap *m0, const srv_snap *m1,
                        const srv_snap *acct, const srv_snap *fin, const met_hist *lat_in)
{
    json_t *r = json_object();
    if (!r)
        return NULL;
    json_object_set_new(r, "event", json_string("report"));
    json_object_set_new(r, "window_ns", json_integer(m1->t - m0->t));
    json_object_set_new(r, "cpu_process_ns", json_integer(m1->cpu_process_ns - m0->cpu_process_ns));

    json_t *groups = json_object();
    int64_t live = 0, peak = 0;
    for (int g = 0; g < RT_GROUP_COUNT; g++) {
        const rt_group_stats *a = &m0->g[g], *b = &m1->g[g];
        json_object_set_new(groups, rt_group_name((rt_group)g),
                            json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "live", (json_int_t)b->live,
                                      "peak", (json_int_t)b->peak, "spawned",
                                      (json_int_t)fin->g[g].spawned, "spawn_failed",
                                      (json_int_t)fin->g[g].spawn_failed, "cpu_ns",
                                      (json_int_t)(b->cpu_ns - a->cpu_ns), "wakeups",
                                      (json_int_t)(b->wakeups - a->wakeups)));
        live += b->live;
        peak += b->peak;
    }
    json_object_set_new(r, "groups", groups);
    /* +1: the main thread, which rt did not spawn; peaks of different groups may come
     * at different moments, so their sum is an upper bound of the process's peak */
    json_object_set_new(r, "threads_live", json_integer(m1->threads ? m1->threads : live + 1));
    json_object_set_new(r, "threads_peak", json_integer(peak + 1));
    json_object_set_new(r, "ctxsw", json_pack("{s:I,s:I}", "voluntary",
                                              (json_int_t)(m1->ctxsw_voluntary - m0->ctxsw_voluntary),
                                              "involuntary",
                                              (json_int_t)(m1->ctxsw_involuntary - m0->ctxsw_involuntary)));
    json_object_set_new(r, "vsock", vsock_json(&m0->vs, &m1->vs));
    /* the variants' log lines (the seed's elog): window, and the whole run */
    json_object_set_new(r, "log", log_json(&m0->host, &m1->host));
    json_object_set_new(r, "log_run", log_json(NULL, &fin->host));
    json_object_set_new(r, "vsock_run", vsock_json(NULL, &fin->vs));

    json_t *drops = json_object(), *closes = json_object(), *closes_run = json_object(),
           *counters = json_object(), *counters_end = json_object();
    for (int i = 0; i < LINK_DROP_COUNT; i++)
        json_object_set_new(drops, link_drop_reason_name((enum link_drop_reason)i),
                            json_integer(fin->host.drops[i]));
    for (int i = 0; i < LINK_CLOSE_COUNT; i++) {
        const char *n = link_close_cause_name((enum link_close_cause)i);
        json_object_set_new(closes, n, json_integer(m1->host.closes[i]));
        json_object_set_new(closes_run, n, json_integer(fin->host.closes[i]));
    }
    for (int i = 0; i < LINK_C_COUNT; i++) {
        json_object_set_new(counters, link_counter_name((enum link_counter)i),
                            json_integer(fin->host.counters[i]));
        json_object_set_new(counters_end, link_counter_name((enum link_counter)i),
                            json_integer(m1->host.counters[i]));
    }
    json_object_set_new(r, "drops", drops);
    /* what had been dropped or refused when the driver stopped: only these can explain
     * the holes the driver saw; later ones (teardown) were in its tail */
    json_object_set_new(r, "dropped_at_driver_end", json_integer(acct->host.drops_total));
    json_object_set_new(r, "refused_at_driver_end", json_integer(acct->app.unsent_at_close));
    /* the same by reason: a sink's inbound holes (seen by the app) and the pushes' holes
     * (seen by the driver) are explained by different reasons */
    json_t *drops_end = json_object();
    for (int i = 0; i < LINK_DROP_COUNT; i++)
        json_object_set_new(drops_end, link_drop_reason_name((enum link_drop_reason)i),
                            json_integer(acct->host.drops[i]));
    json_object_set_new(r, "drops_at_driver_end", drops_end);
    json_object_set_new(r, "closes", closes);
    json_object_set_new(r, "closes_run", closes_run);
    json_object_set_new(r, "counters", counters);
    /* the same at the window's end: a gauge (solo_threads) reads 0 after the teardown */
    json_object_set_new(r, "counters_window_end", counters_end);
    json_object_set_new(r, "app", app_json(&fin->app));
    /* what the app took in the window: a sink's throughput (nothing comes back to the
     * driver to count) */
    /* idle closes of links with traffic by the window's end: app.idle_closed_active counts
     * the teardown's too (the driver has stopped, and a drain longer than the idle timeout
     * leaves every active link silent long enough) */
    json_object_set_new(r, "app_window_end", json_pack("{s:I,s:I,s:I}", "idle_closed_active",
                        (json_int_t)m1->app.idle_closed_active, "idle_closed_active_silence_max_ns",
                        (json_int_t)m1->app.idle_closed_active_silence_max_ns, "idle_closed_talking",
                        (json_int_t)m1->app.idle_closed_talking));
    json_object_set_new(r, "app_window", json_pack("{s:I,s:I}", "recv_msgs",
                        (json_int_t)(m1->app.recv_msgs - m0->app.recv_msgs), "pushed",
                        (json_int_t)(m1->app.pushed - m0->app.pushed)));
    /* after the window, until the driver's end: a sink's drain */
    json_object_set_new(r, "app_drain", json_pack("{s:I}", "recv_msgs",
                        (json_int_t)(acct->app.recv_msgs - m1->app.recv_msgs)));

    /* Links held at the end of the window; the errno of the limit that stopped more. */
    const char *lim = NULL;
    if (fin->app.attach_thread_limit > 0 || fin->acc.attach_thread_limit > 0)
        lim = "EAGAIN";
    else if (fin->acc.fd_limit_pauses > 0)
        lim = "EMFILE";
    else if (fin->acc.refused > 0 || fin->app.links_refused > 0)
        lim = "ENOSPC";
    json_object_set_new(r, "links", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}",
        "held", (json_int_t)(m1->app.links_attached - m1->app.links_closed),
        "attached", (json_int_t)fin->app.links_attached,
        "attach_failed", (json_int_t)fin->app.attach_failed,
        "thread_limit", (json_int_t)fin->app.attach_thread_limit,
        "refused", (json_int_t)fin->app.links_refused,
        "fd_limit_pauses", (json_int_t)fin->acc.fd_limit_pauses,
        "handshakes_failed", (json_int_t)fin->acc.handshakes_failed,
        "accept_errors", (json_int_t)fin->acc.accept_errors,
        "limit_errno", lim ? json_string(lim) : json_null()));

    json_object_set_new(r, "rss_base_bytes", json_integer(base->rss_bytes));
    json_object_set_new(r, "rss_steady_bytes", json_integer(m1->rss_bytes));
    /* VmHWM at the window end: the teardown's own allocations are not the design's */
    json_object_set_new(r, "rss_peak_bytes", json_integer(m1->rss_peak_bytes));
    json_t *h = lat_in ? met_hist_to_json(lat_in) : json_null();
    json_object_set_new(r, "lat_in", h ? h : json_null());
    /* which thread names belong to which group: the parent reads the kernel's figures
     * per thread name (run_watch.h) and tells the groups by these */
    json_t *names = json_object();
    for (int g = 0; g < RT_GROUP_COUNT; g++) {
        char nm[16][16];
        int n = rt_group_names((rt_group)g, nm, 16);
        json_t *a = json_array();
        for (int i = 0; i < n && i < 16; i++)
            json_array_append_new(a, json_string(nm[i]));
        json_object_set_new(names, rt_group_name((rt_group)g), a);
    }
    json_object_set_new(r, "thread_names", names);
    return r;
}
