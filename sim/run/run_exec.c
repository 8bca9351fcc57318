/* run_exec.c — one run: start the server child, drive it from this process, sample a time series, collect both sides into a run object. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "met_hist.h"
#include "met_machine.h"
#include "met_proc.h"
#include "met_series.h"
#include "run.h"
#include "run_child.h"
#include "run_drvs.h"
#include "run_plan.h"
#include "run_progress.h"
#include "run_scale.h"
#include "run_srvs.h"
#include "met_kern.h"
#include "run_watch.h"

volatile sig_atomic_t run_interrupted;
static struct drv *volatile cur_drv;   /* the driver running now, for the signal handler */
static run_drvs *volatile cur_drvs;    /* its helper processes (kill is async-signal-safe) */

static void on_signal(int sig)
{
    (void)sig;
    run_interrupted = 1;
    struct drv *d = cur_drv;
    if (d)
        drv_request_stop(d);   /* async-signal-safe (drv.h) */
    run_drvs *h = cur_drvs;
    if (h)
        run_drvs_request_stop(h);
}

void run_signals_install(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);   /* a dead server child shows as EPIPE on its pipe */
    signal(SIGXFSZ, SIG_IGN);   /* a file-size limit (a full disk's cousin) is an EFBIG to report, not a crash */
}

/* What the progress callback and the sampler thread share for one run. */
typedef struct one {
    const run_opts *o;
    const char *label;
    run_srvs srvs;                     /* the server processes (scenario key processes) */
    run_drvs drvs;                     /* driver helper processes beside this one */
    int dead;                          /* index of the first server seen dead; -1 */
    run_kmem k0, k1;                   /* kernel socket memory: before the servers, at window end */
    struct drv *d;
    run_watch *watch;                  /* the servers as the kernel sees them */
    bool measure_sent, window_sent, end_sent, server_gone, stop_requested;
    int64_t t_load0;                   /* progress t_ns when the ramp was seen done; -1 */
    run_xfault xf[SCN_FAULTS_MAX];     /* kill_server / pause_app: done here */
    int nxf;
    bool killed_by_fault;
    double total_s;                    /* expected warm-up + duration, for the progress line */
    double inflight_sum;
    int64_t inflight_n;
    int64_t prev_t, prev_delivered, prev_print;
    double rate;                       /* msg/s shown on the progress line */
    _Atomic int64_t sent, delivered, links_open, in_flight;
    /* sampler */
    met_series *series;
    rt_ctx *stop;
    rt_thread *sampler;
    /* the stall probe (the sampler's 10 ms sleeps): how late it woke at worst, and the
     * machine's steal while it ran */
    bool probed;
    cpu_set_t sampler_cpus;            /* where the sampler may run: off the driver's CPUs */
    bool sampler_pinned;
    rt_ns stall_max_ns;                /* the latest wake-up less its run-queue wait; -1 */
    rt_ns late_max_ns, late_max_wait_ns;   /* the latest wake-up, and its run-queue wait */
    int64_t steal0, steal1;
} one;

static const char *phase_name(enum drv_phase p)
{
    static const char *const n[] = {"ramp", "warm-up", "measure", "drain", "done"};
    return (unsigned)p < 5 ? n[p] : "?";
}

static void progress(struct drv *d, const struct drv_progress *p, void *arg)
{
    one *x = arg;
    atomic_store(&x->sent, p->sent);
    atomic_store(&x->delivered, p->delivered + p->pushes_received);
    atomic_store(&x->links_open, p->links_open);
    atomic_store(&x->in_flight, p->in_flight);
    if (!x->server_gone && (x->dead = run_srvs_exited(&x->srvs)) >= 0) {
        /* keep what the driver measured: stop sending, drain, report */
        x->server_gone = true;
        drv_request_stop(d);
        run_drvs_request_stop(&x->drvs);
    }
    if (p->phase != DRV_PHASE_RAMP && x->t_load0 < 0)
        x->t_load0 = p->t_ns;
    if (p->t_measure_start && !x->window_sent) {
        /* the driver's window to the nanosecond: the servers take theirs at the same
         * instants (srv_main.h "window"), so CPU and messages share one window */
        char cmd[96];
        snprintf(cmd, sizeof cmd, "window %lld %lld", (long long)p->t_measure_start,
                 (long long)p->t_measure_end);
        run_srvs_send(&x->srvs, cmd);
        /* and the kernel's readings of them at the same instants */
        run_watch_mark_at(x->watch, RUN_WATCH_START, p->t_measure_start);
        if (p->t_measure_end)
            run_watch_mark_at(x->watch, RUN_WATCH_END, p->t_measure_end);
        x->window_sent = x->measure_sent = true;
    }
    if (p->phase >= DRV_PHASE_MEASURE && !x->measure_sent) {
        run_srvs_send(&x->srvs, "measure");
        run_watch_mark_at(x->watch, RUN_WATCH_START, 0);
        x->measure_sent = true;
    }
    if (p->phase == DRV_PHASE_MEASURE) {
        x->inflight_sum += (double)p->in_flight;
        x->inflight_n++;
    }
    if (p->phase >= DRV_PHASE_DRAIN && !x->end_sent) {
        run_kmem_read(&x->k1);
        run_srvs_send(&x->srvs, "end");
        run_watch_mark_at(x->watch, RUN_WATCH_END, 0);
        x->end_sent = true;
    }
    for (int i = 0; x->t_load0 >= 0 && i < x->nxf; i++) {
        run_xfault *f = &x->xf[i];
        if (f->done || p->t_ns - x->t_load0 < f->at_ns)
            continue;
        f->done = true;
        if (f->kind == SCN_FAULT_KILL_SERVER) {
            x->killed_by_fault = true;
            run_srvs_kill(&x->srvs, SIGKILL);
        } else if (f->kind == SCN_FAULT_PAUSE_APP) {
            char cmd[64];
            snprintf(cmd, sizeof cmd, "pause %lld", (long long)f->duration_ns);
            run_srvs_send(&x->srvs, cmd);
        }
    }
    if (p->t_ns - x->prev_t >= 500 * RT_MS) {
        int64_t del = p->delivered + p->pushes_received;
        x->rate = (double)(del - x->prev_delivered) * 1e9 / (double)(p->t_ns - x->prev_t);
        x->prev_t = p->t_ns;
        x->prev_delivered = del;
    }
    if (x->o->progress && p->t_ns - x->prev_print >= 200 * RT_MS) {
        x->prev_print = p->t_ns;
        run_progress_show(stderr, phase_name(p->phase), p->t_ns / 1e9, x->total_s,
                          (long long)p->links_open, x->rate);
    }
}

/* This thread's time waiting on a run queue (schedstat's second field), or -1. */
static int64_t runq_wait_ns(int fd)
{
    char b[96];
    ssize_t n = fd >= 0 ? pread(fd, b, sizeof b - 1, 0) : -1;
    if (n <= 0)
        return -1;
    b[n] = 0;
    long long run, wait;
    return sscanf(b, "%lld %lld", &run, &wait) == 2 ? wait : -1;
}

/* The sampler samples the series every 250 ms and is the stall probe between: it sleeps
 * 10 ms at a time, at nice 0. A wake-up can be late for two reasons: the
 * thread was runnable and waited for a CPU (the kernel counts that wait: poll's 1 000
 * threads kept it waiting 107 ms in CI at nice -10: the design's load, a finding), or
 * it was not running and not waiting either: the machine did not run it (a VM
 * descheduled by its host), or the process was stopped. Only the second, the lateness
 * the run-queue wait does not explain, is a stall: neither the driver nor the servers
 * ran on their schedule, and the run's figures (an idle reaper's closes among them) are
 * not the design's. Such a run is flagged and measured again. */
static void sampler_main(void *arg)
{
    one *x = arg;
    if (x->sampler_pinned)
        sched_setaffinity(0, sizeof x->sampler_cpus, &x->sampler_cpus);
    /* Not at the driver's nice: a sample reads every server thread's schedstat (some
     * 200 files with dual's threads), and at nice -10 on the driver's CPU it held the
     * driver off its schedule (its own lag p99 1.0-2.7 ms beside dual, batch and hybrid
     * at 100 k/s, 42-63 ms of run-queue wait a 2 s window). The run-queue wait is taken
     * out of the probe's lateness anyway, so its priority does not decide what is a
     * stall. */
    int sfd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (runq_wait_ns(sfd) < 0)
        x->stall_max_ns = -1;   /* cannot tell a stall from a wait: not measured */
    rt_ns next_sample = 0;
    for (;;) {
        rt_ns now = rt_now();
        if (now >= next_sample) {
            int64_t c[4] = {atomic_load(&x->sent), atomic_load(&x->delivered),
                            atomic_load(&x->links_open), atomic_load(&x->in_flight)};
            met_series_sample(x->series, now, c);
            next_sample = now + 250 * RT_MS;
        }
        int64_t w0 = runq_wait_ns(sfd);
        rt_ns due = rt_now() + 10 * RT_MS;
        if (rt_sleep(10 * RT_MS, x->stop) == -ECANCELED)
            break;
        rt_ns late = rt_now() - due;
        int64_t w1 = runq_wait_ns(sfd);
        if (late > x->late_max_ns) {
            x->late_max_ns = late;
            x->late_max_wait_ns = w0 >= 0 && w1 >= w0 ? w1 - w0 : -1;
        }
        if (x->stall_max_ns >= 0 && w0 >= 0 && w1 >= w0 && late - (w1 - w0) > x->stall_max_ns)
            x->stall_max_ns = late - (w1 - w0);
    }
    if (sfd >= 0)
        close(sfd);
}

static const met_series_counter series_counters[] = {
    {"msgs_sent", MET_SERIES_RATE}, {"msgs_delivered", MET_SERIES_RATE},
    {"links", MET_SERIES_GAUGE}, {"in_flight", MET_SERIES_GAUGE}};

static void sampler_start(one *x)
{
    static const char *const groups[] = {"app", "acceptor"};
    met_series_cfg c;
    met_series_cfg_defaults(&c);
    c.pid = x->srvs.c[0].pid;   /* the first server process: one time series per run */
    c.label = "server";
    c.groups = groups;
    c.ngroups = 2;
    c.counters = series_counters;
    c.ncounters = 4;
    x->series = met_series_create(&c);
    x->stop = rt_ctx_create(NULL);
    x->stall_max_ns = x->late_max_ns = 0;
    x->late_max_wait_ns = -1;
    x->steal0 = met_steal_ticks();
    if (x->series && x->stop &&
        rt_thread_spawn(&x->sampler, RT_GROUP_OTHER, "sampler", sampler_main, x) < 0)
        x->sampler = NULL;
    x->probed = x->sampler != NULL;
}

static void sampler_stop(one *x)
{
    if (x->sampler) {
        rt_ctx_cancel(x->stop);
        rt_thread_join(x->sampler);
        x->sampler = NULL;
    }
    x->steal1 = met_steal_ticks();
    rt_ctx_destroy(x->stop);
    x->stop = NULL;
}

static met_hist *hist_copy(const met_hist *h)
{
    met_hist *c = met_hist_create();
    if (c && h)
        met_hist_merge(c, h);
    return c;
}

/* CPUs the servers' threads last ran on (placement, METHOD.md 10). */
static void server_cpus(const run_srvs *g, char *buf, size_t len)
{
    buf[0] = 0;
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int i = 0; i < g->n; i++) {
        met_proc *mp = met_proc_create(g->c[i].pid, NULL, 0);
        met_proc_reading r;
        if (mp && met_proc_read(mp, MET_PROC_THREADS, &r) == 0)
            CPU_OR(&all, &all, &r.cpus);
        met_proc_destroy(mp);
    }
    met_proc_cpu_list(&all, buf, len);
}

static void driver_cpus(char *buf, size_t len)
{
    cpu_set_t set;
    char aff[128] = "";
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        met_proc_cpu_list(&set, aff, sizeof aff);
    snprintf(buf, len, "affinity %s, last %d", aff, sched_getcpu());
}

/* A variant given by path (--variant ./x/mylink.so) names its files by the module's
 * base name: a path's slashes cannot go into a file name. */
static void file_label(const char *variant, char *out, size_t cap)
{
    const char *b = strrchr(variant, '/');
    b = b ? b + 1 : variant;
    size_t n = strlen(b);
    if (n > 3 && !strcmp(b + n - 3, ".so"))
        n -= 3;
    size_t i = 0;
    for (; i < n && i + 1 < cap; i++) {
        char c = b[i];
        out[i] = (char)((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '-' || c == '_' || c == '+' || c == '@' ? c : '_');
    }
    out[i] = 0;
}

/* The kernel's readings beside the run's metrics, where each figure comes from, and
 * what could not be measured on this machine (a metric absent, never a partial
 * count: no system-call count without the tracepoint). */
static void kernel_record(json_t *run, const json_t *kern)
{
    const json_t *sc = json_object_get(kern, "syscalls");
    const char *wk = json_string_value(json_object_get(json_object_get(kern, "sources"), "wakeups"));
    json_object_set_new(run, "sources", json_pack("{s:s+,s:s,s:s,s:s,s:s,s:s,s:o,s:s}",
        "wakeups_per_link_s", wk ? wk : "(not read)", ", every server thread, read by the parent at the "
                              "window's marks",
        "wakeups_per_link_s_self", "rt: returns from blocking waits of the link and loop groups",
        "threads_per_link", "proc:task: live threads at the window's end minus those before the links",
        "threads_peak", "proc:task: the most live threads at the run's marks",
        "cpu_link_s", "proc:task/*/schedstat by thread name, names to groups by rt's registry",
        "cpu_server_s", "CLOCK_PROCESS_CPUTIME_ID in the server: every thread, exited ones too",
        "syscalls_per_msg", json_is_integer(sc) ? json_string(MET_KERN_SYSCALLS_SOURCE) : json_null(),
        "syscalls_per_msg_self", "vsock: its own read, write and poll calls"));
    json_t *absent = run_absent_metrics(json_object_get(run, "metrics"));
    json_object_set_new(run, "absent_metrics", absent);
    if (!json_is_integer(sc))
        json_object_set_new(run, "absent_why", json_pack("{s:O?}", "syscalls_per_msg",
                            json_object_get(kern, "syscalls_why")));
    if (kern)
        json_object_set_new(run, "kernel", json_deep_copy(kern));
}

int run_one(const run_opts *o, const struct scn *s, int64_t links, const char *variant,
            int rep, const char *run_dir, const char *label, json_t *runs)
{
    /* static: the run's state holds the helpers' fault tables (tens of KB); one run at a time */
    static one x;
    memset(&x, 0, sizeof x);
    x.o = o;
    x.label = label;
    x.t_load0 = -1;
    x.dead = -1;
    int nproc = (int)(s->processes > 0 ? s->processes : 1);
    char err[1024] = "", failure[1200] = "", scpus[256] = "", dcpus[160] = "";
    char series_name[256] = "", sat_why[64] = "";
    struct drv_result r;
    memset(&r, 0, sizeof r);
    bool have_r = false;
    json_t *srv = NULL, *census = NULL;
    met_hist *hc[RUN_DRVS_NHIST] = {0};
    run_inputs in = {.variant = variant, .rep = rep, .links_wanted = links,
                     .sink = s->app.mode == SCN_APP_SINK};

    run_kmem_read(&x.k0);
    json_t *cfg = run_plan_server_config(s, variant, links);
    x.watch = run_watch_create(false);
    int src = cfg && x.watch ? run_srvs_start(&x.srvs, o->exe, cfg, nproc, rt_now() + 30 * RT_S,
                                              x.watch, err, sizeof err) : -1;
    json_decref(cfg);
    if (src < 0) {
        snprintf(failure, sizeof failure, "%s: %s", variant, err[0] ? err : "out of memory");
        goto out;
    }
    uint16_t port = x.srvs.port;
    /* the servers ready, no link yet: the threads a server has without links */
    run_watch_mark(x.watch, RUN_WATCH_BASE);

    struct drv_params dp;
    struct drv_fault faults[2 * SCN_FAULTS_MAX];
    run_plan_driver(s, links, port, &dp, faults, &x.nxf, x.xf);
    dp.progress = progress;
    dp.progress_arg = &x;
    dp.progress_interval_ns = 50 * RT_MS;   /* phase changes reach the server within 50 ms */
    x.total_s = s->warmup_s + s->duration_s;
    /* a client socket is an open file too: as many driver processes as servers */
    if (run_drvs_start(&x.drvs, &dp, nproc, err, sizeof err) < 0) {
        snprintf(failure, sizeof failure, "driver: %s", err);
        goto stop_server;
    }
    if (drv_create(&dp, &x.d, err, sizeof err) < 0) {
        snprintf(failure, sizeof failure, "driver: %s", err);
        goto stop_server;
    }
    in.planned_echo_per_s = 0;
    for (int g = 0; g < dp.n_groups; g++) {
        const struct drv_group *gr = &dp.groups[g];
        if (gr->rate_per_s > 0 && (gr->msgs_per_link || gr->close_rate_per_s > 0))
            in.planned_echo_per_s = -1;   /* links that go quiet or close on purpose */
        if (in.planned_echo_per_s >= 0)
            in.planned_echo_per_s += (double)gr->links * gr->rate_per_s;
    }
    /* a driver pinned to its CPUs has them to itself: the sampler runs elsewhere */
    x.sampler_pinned = false;
    if (s->n_pin_driver > 0 && sched_getaffinity(0, sizeof x.sampler_cpus, &x.sampler_cpus) == 0) {
        for (int i = 0; i < s->n_pin_driver; i++)
            CPU_CLR(s->pin_driver[i], &x.sampler_cpus);
        x.sampler_pinned = CPU_COUNT(&x.sampler_cpus) > 0;
    }
    sampler_start(&x);
    cur_drv = x.d;
    cur_drvs = &x.drvs;
    if (run_interrupted) {
        drv_request_stop(x.d);
        run_drvs_request_stop(&x.drvs);
    }
    drv_run(x.d, &r);
    cur_drv = NULL;
    have_r = true;
    driver_cpus(dcpus, sizeof dcpus);
    if (!x.end_sent) {
        run_kmem_read(&x.k1);
        run_srvs_send(&x.srvs, "end");
        run_watch_mark_at(x.watch, RUN_WATCH_END, 0);
    }
    sampler_stop(&x);
    /* keep the driver's histograms, then close its links before the server stops, so
     * the server's teardown does not wait on close handshakes nobody answers */
    {
        const met_hist **rh[RUN_DRVS_NHIST] = {&r.lat_rtt, &r.lat_rtt_uncorrected, &r.lat_out, &r.lag,
                                               &r.lag_own, &r.bp_wait, &r.rx_delay,
                                               &r.rtt_undelivered, &r.unsent_age};
        for (int k = 0; k < RUN_DRVS_NHIST; k++) {
            hc[k] = hist_copy(*rh[k]);
            *rh[k] = hc[k];
        }
    }
    /* the helpers' shares: they drain about when this one does (same schedule) */
    if (run_drvs_collect(&x.drvs, &r, hc, rt_now() + (int64_t)(x.total_s * 1e9) + 60 * RT_S,
                         err, sizeof err) > 0)
        snprintf(failure, sizeof failure, "%s: %s", variant, err);
    cur_drvs = NULL;
    /* Every driver has stopped. The servers stop their apps, let their links settle
     * and take their census (srv_main.h "acct"); the sync says it is done. Nothing
     * moves after that, so the drivers' census (their sockets) is of the same moment. */
    /* the window's last kernel reading done before anything moves on */
    run_watch_sync(x.watch);
    run_srvs_send(&x.srvs, "acct");
    run_srvs_sync(&x.srvs, rt_now() + 10 * RT_S);   /* "end" and "acct" taken before links close */
    /* a test widens the gap between the two censuses so that a held message's move
     * falls into it every time (tests/run/test_acct.c) */
    const char *gap = getenv("LINKBENCH_TEST_CENSUS_GAP_MS");
    if (gap && atoi(gap) > 0)
        rt_sleep((rt_ns)atoi(gap) * RT_MS, NULL);
    census = run_drvs_census(&x.drvs, rt_now() + 10 * RT_S);
    json_array_insert_new(census, 0, drv_census(x.d));
    /* The drivers' census and the servers' are of one moment only if nothing moved on
     * the servers between them (a variant's loop can sleep past the census's settling
     * rounds with a message in hand): each server takes its census again; where one
     * moved it keeps the newer, and the drivers take theirs again after it. A run still
     * moving after that is left to the census check, whose kernel figures then disagree. */
    for (int k = 0, moved = 1; k < 4 && moved; k++) {
        if (run_srvs_recheck(&x.srvs, rt_now() + 5 * RT_S, &moved) > 0 || !moved)
            break;
        json_decref(census);
        census = run_drvs_census(&x.drvs, rt_now() + 10 * RT_S);
        json_array_insert_new(census, 0, drv_census(x.d));
    }
    server_cpus(&x.srvs, scpus, sizeof scpus);
    /* the saturation reason's text may live in the driver (its threads' merge): kept here,
     * since the run's object is made after the driver is gone */
    if (r.saturated_why) {
        snprintf(sat_why, sizeof sat_why, "%s", r.saturated_why);
        r.saturated_why = sat_why;
    }
    drv_destroy(x.d);
    x.d = NULL;

stop_server:
    cur_drvs = NULL;
    /* helpers whose result was never asked for (the run failed first) are killed */
    run_drvs_release(&x.drvs, rt_now() + (have_r ? 10 * RT_S : 0));
    int missing = 0;
    err[0] = 0;
    srv = run_srvs_stop(&x.srvs, rt_now() + 120 * RT_S, &missing, err, sizeof err);
    /* a server that died, by a fault or not, fails the run: the driver's figures are
     * kept (partial), and the report names which server died and how */
    char died[768];
    if (!failure[0] && run_srvs_died(&x.srvs, died, sizeof died))
        snprintf(failure, sizeof failure, "%s: %s%s%s", variant, died,
                 x.server_gone ? " during the run" : srv ? "" : " before reporting",
                 x.killed_by_fault ? " (fault kill_server: SIGKILL)" : "");
    else if (!failure[0] && (!srv || missing))
        snprintf(failure, sizeof failure, "%s: %d of %d server processes sent no report%s%s",
                 variant, missing ? missing : x.srvs.n, x.srvs.n, err[0] ? ": " : "", err);
    if (x.series) {
        char fname[128];
        file_label(variant, fname, sizeof fname);
        snprintf(series_name, sizeof series_name, "series_%s_%d.csv", fname, rep);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", run_dir, series_name);
        if (met_series_save(x.series, path, err, sizeof err) < 0) {
            fprintf(stderr, "linkbench: %s\n", err);
            series_name[0] = 0;
        }
    }

out:
    if (o->progress)
        run_progress_clear(stderr);
    run_watch_sync(x.watch);
    json_t *kern = x.watch && srv ? run_watch_json(x.watch) : NULL;
    run_watch_destroy(x.watch);
    x.watch = NULL;
    in.dr = have_r ? &r : NULL;
    in.srv = srv;
    in.kern = kern;
    in.failure = failure[0] ? failure : NULL;
    in.partial = run_interrupted || (have_r && r.stopped && !x.server_gone);
    in.in_flight_mean = x.inflight_n ? x.inflight_sum / (double)x.inflight_n : 0;
    in.series_file = series_name[0] ? series_name : NULL;
    in.server_cpus = scpus;
    in.driver_cpus = dcpus;
    in.drv_census = census;
    in.stall_max_ns = x.probed ? x.stall_max_ns : -1;
    in.probe_late_ns = x.probed ? x.late_max_ns : -1;
    in.probe_late_wait_ns = x.probed ? x.late_max_wait_ns : -1;
    in.stall_limit_ns = (rt_ns)(s->driver_stall_ms * 1e6);
    in.steal_ms = x.steal0 >= 0 && x.steal1 >= x.steal0
                ? (double)(x.steal1 - x.steal0) * 1000.0 / (double)sysconf(_SC_CLK_TCK) : -1;
    json_t *run = run_object(&in);
    if (run)
        run_scale_add(run, in.dr, &x.k0, &x.k1, x.srvs.n, x.drvs.n + 1);
    if (run && srv)
        kernel_record(run, kern);
    if (run && x.killed_by_fault)
        json_object_set_new(json_object_get(run, "flags"), "server_killed_by_fault", json_true());
    if (run)
        json_array_append_new(runs, run);
    if (in.failure && !o->quiet)
        fprintf(stderr, "linkbench: %s\n", in.failure);
    drv_destroy(x.d);
    met_series_destroy(x.series);
    for (int k = 0; k < RUN_DRVS_NHIST; k++)
        met_hist_destroy(hc[k]);
    json_decref(census);
    json_decref(srv);
    json_decref(kern);
    return in.failure ? 1 : 0;
}
