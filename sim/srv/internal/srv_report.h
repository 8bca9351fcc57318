/* srv_report.h — the server child's measurements: snapshots of its counters and the report document it sends to the parent. */
#ifndef LINKBENCH_SRV_REPORT_H
#define LINKBENCH_SRV_REPORT_H

#include <stdint.h>

#include <jansson.h>

#include "app.h"
#include "link_host_impl.h"
#include "met_hist.h"
#include "rt.h"
#include "srv_acceptor.h"
#include "vsock.h"

/* Everything the server counts, at one moment. Counters are cumulative since the
 * process started; the report subtracts two snapshots to get the measured window,
 * which is why no counter has to be reset (and no variant has to cooperate). */
typedef struct srv_snap {
    rt_ns t;                              /* rt_now() when taken */
    int64_t cpu_process_ns;               /* CLOCK_PROCESS_CPUTIME_ID: every thread, exited too */
    rt_group_stats g[RT_GROUP_COUNT];
    vsock_counters vs;                    /* process-wide totals */
    link_host_snapshot host;
    app_stats app;
    srv_acceptor_stats acc;
    int64_t ctxsw_voluntary, ctxsw_involuntary;   /* getrusage: all threads, exited too */
    int64_t rss_bytes, rss_peak_bytes;    /* VmRSS, VmHWM */
    int threads;                          /* /proc/self/status Threads */
} srv_snap;

/* Take a snapshot; a and acc may be NULL (before they exist: their parts stay 0). */
void srv_snap_take(srv_snap *s, app *a, link_host_impl *h, srv_acceptor *acc);

/* The report document ({"event": "report", ...}) from the snapshots at process start
 * (base), warm-up end (m0), window end (m1), the driver's end (acct: after its drain,
 * before its links close) and after the variant stopped (fin).
 *   window_ns, cpu_process_ns, groups.<group>.{live, peak, spawned, spawn_failed,
 *   cpu_ns, wakeups}, threads_live, threads_peak, ctxsw.{voluntary, involuntary},
 *   vsock.{...}: window; vsock_run.{...}: whole run;
 *   log.{lines, bytes, writes, busy_ns}: the variants' log lines, window; log_run: run;
 *   drops.<reason>, counters.<counter>, closes_run.<cause>: whole run;
 *   counters_window_end.<counter>: at the window's end (gauges);
 *   dropped_at_driver_end, refused_at_driver_end, drops_at_driver_end.<reason>: at acct;
 *   app_window.{recv_msgs, pushed}: messages the app took, pushes it made, in the window;
 *   app_drain.recv_msgs: taken after the window, until the driver's end;
 *   closes.<cause>: up to the window end (the teardown's closes are not the variant's);
 *   app.{...}: whole run (app_stats, with messages still held at stop added to
 *   unsent_at_close, as app_destroy would); seq anomalies in app.seq_gaps/seq_backwards;
 *   links.{held, attached, attach_failed, thread_limit, refused, fd_limit_pauses,
 *   handshakes_failed, limit_errno}; rss_peak_bytes, rss_steady_bytes, rss_base_bytes;
 *   lat_in: met_hist JSON of the window (ns);
 *   thread_names.<group>: the thread-name classes spawned in each rt group.
 * New reference, or NULL on ENOMEM. */
json_t *srv_report_json(const srv_snap *base, const srv_snap *m0, const srv_snap *m1,
                        const srv_snap *acct, const srv_snap *fin, const met_hist *lat_in);

/* all - earlier, bucket by bucket (earlier is a snapshot of the same histograms taken
 * before all): the window's histogram without a reset hook in the app. min/max become
 * bucket values. NULL on ENOMEM. */
met_hist *srv_hist_sub(const met_hist *all, const met_hist *earlier);

#endif
