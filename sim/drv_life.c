/* drv_life.c — the driver's life cycle: create (links, loop, timerfd), run (pinning, phases), result, destroy. */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "drv_internal.h"

/* Time this thread spent runnable but waiting for a CPU (ns): a driver that lags while
 * its own CPU is low was starved by other work on its core, not by the server. */
static int64_t runq_wait_ns(void)
{
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    unsigned long long run = 0, wait = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &run, &wait) != 2)
        wait = 0;
    fclose(f);
    return (int64_t)wait;
}

static int fault_order(const void *a, const void *b)
{
    const struct drv_fault *x = a, *y = b;
    return x->at_ns < y->at_ns ? -1 : x->at_ns > y->at_ns;
}

/* The caller's faults plus each group's stop_reading_at, in time order. */
static int build_faults(struct drv *d)
{
    int n = d->p.n_faults;
    for (int g = 0; g < d->p.n_groups; g++)
        n += d->p.groups[g].stop_reading_at_ns >= 0 && d->p.groups[g].links > 0;
    if (n == 0)
        return 0;
    d->faults = calloc((size_t)n, sizeof *d->faults);
    if (!d->faults)
        return -ENOMEM;
    if (d->p.n_faults)
        memcpy(d->faults, d->p.faults, (size_t)d->p.n_faults * sizeof *d->faults);
    int k = d->p.n_faults;
    uint32_t first = 0;
    for (int g = 0; g < d->p.n_groups; g++) {
        const struct drv_group *G = &d->p.groups[g];
        if (G->stop_reading_at_ns >= 0 && G->links > 0)
            d->faults[k++] = (struct drv_fault){.at_ns = G->stop_reading_at_ns, .kind = DRV_FAULT_STOP_READING,
                                                .link_first = first, .link_count = G->links};
        first += G->links;
    }
    /* stable enough: equal times keep no promised order */
    qsort(d->faults, (size_t)n, sizeof *d->faults, fault_order);
    d->n_faults = n;
    d->p.faults = NULL;   /* the caller's array is not needed after this */
    return 0;
}

int drv_create(const struct drv_params *p, struct drv **out, char *err, size_t errlen)
{
    *out = NULL;
    int rc = drv_params_check(p, err, errlen);
    if (rc)
        return rc;
    struct drv *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->p = *p;
    d->tfd = -1;
    for (int g = 0; g < p->n_groups; g++)
        d->n_links += p->groups[g].links;
    uint32_t need = (d->n_links + p->links_per_src_max - 1) / p->links_per_src_max;
    d->n_src = need > p->src_addrs_min ? need : p->src_addrs_min;
    inet_pton(AF_INET, p->host, &d->target_ip);
    snprintf(d->host_hdr, sizeof d->host_hdr, "%s:%u", p->host, p->port);

    d->links = calloc(d->n_links, sizeof *d->links);
    d->heap = calloc(d->n_links, sizeof *d->heap);
    uint32_t max_len = WIRE_HDR_BYTES;
    for (int g = 0; g < p->n_groups; g++) {
        const struct drv_group *G = &p->groups[g];
        uint32_t m = G->size_dist == DRV_SIZE_FIXED ? G->payload_min_bytes : G->payload_max_bytes;
        if (m > max_len)
            max_len = m;
    }
    d->scratch = malloc(max_len);
    d->scratch_len = max_len;
    d->h_rtt = met_hist_create();
    d->h_rtt_unc = met_hist_create();
    d->h_out = met_hist_create();
    d->h_lag = met_hist_create();
    d->h_lag_own = met_hist_create();
    d->h_bp = met_hist_create();
    d->h_rx = met_hist_create();
    d->h_rtt_undel = met_hist_create();
    d->h_unsent = met_hist_create();
    d->tsched = calloc((size_t)d->n_links * DRV_RING, sizeof *d->tsched);
    d->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
    d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (!d->links || !d->heap || !d->scratch || !d->h_rtt || !d->h_rtt_unc || !d->h_out || !d->h_lag ||
        !d->h_lag_own || !d->h_bp || !d->h_rx || !d->h_rtt_undel || !d->h_unsent || (d->n_links && !d->tsched) ||
        !d->loop || d->tfd < 0 || build_faults(d) < 0) {
        snprintf(err, errlen, "driver: out of memory or file descriptors");
        drv_destroy(d);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < max_len; i++)
        d->scratch[i] = (uint8_t)('a' + i % 26);

    uint32_t i = 0;
    for (int g = 0; g < p->n_groups; g++)
        for (uint32_t k = 0; k < p->groups[g].links; k++, i++) {
            struct drv_link *L = &d->links[i];
            L->id = i;
            L->group = (uint8_t)g;
            L->fd = -1;
            L->heap_pos = -1;
            L->src = i % d->n_src;   /* round robin: every address stays under the cap */
            L->seq_meas0 = UINT64_MAX;
            L->tsched = d->tsched + (size_t)i * DRV_RING;
            L->slots_left = p->groups[g].msgs_per_link ? p->groups[g].msgs_per_link : UINT64_MAX;
            L->rng = p->seed * 0x9e3779b97f4a7c15ull + i;
            drv_rng_next(&L->rng);
        }
    d->r.links_wanted = d->n_links;
    d->r.src_addrs_used = drv_target_loopback(d) ? d->n_src : 1;   /* else the kernel's one */
    d->r.establish_ns = -1;

    ev_set_userdata(d->loop, d);
    ev_io_init(&d->tfd_w, drv_tfd_cb, d->tfd, EV_READ);
    ev_prepare_init(&d->prep, drv_prepare_cb);
    ev_check_init(&d->chk, drv_check_cb);
    ev_async_init(&d->stop_w, drv_stop_cb);
    ev_async_start(d->loop, &d->stop_w);
    double ramp_s = p->connect_rate_per_s > 0 && p->connect_rate_per_s < 1000 ? 1.0 / p->connect_rate_per_s : 1e-3;
    ev_timer_init(&d->connect_t, drv_ramp_cb, 0., ramp_s);
    double prog_s = (double)p->progress_interval_ns / 1e9;
    ev_timer_init(&d->progress_t, drv_progress_cb, prog_s, prog_s);
    ev_timer_init(&d->fault_t, drv_fault_cb, 0., 0.);
    ev_timer_init(&d->drain_t, NULL, 0., 0.);
    for (int g = 0; g < DRV_MAX_GROUPS; g++) {
        ev_timer_init(&d->churn_t[g], drv_churn_cb, 1., 1.);
        d->churn_t[g].data = (void *)(intptr_t)g;
    }
    d->t_meas0 = d->t_send_end = d->t_stop = RT_NEVER;
    *out = d;
    return 0;
}

static void finish(struct drv *d, struct drv_result *r)
{
    rt_ns end = rt_now();
    d->t_end = end;
    if (d->t_stop == RT_NEVER)
        d->t_stop = end;
    for (uint32_t i = 0; i < d->n_links; i++) {
        struct drv_link *L = &d->links[i];
        if (L->state != L_OPEN)
            continue;
        d->r.links_open_at_end++;
        drv_echo_range(d, L, offsetof(struct drv_dir, in_flight), L->echo.next, L->tx_seq, 1);
        drv_count_unsent(d, L, d->t_stop, true);
    }
    drv_censor_rtt(d);
    d->r.all.echo.scheduled = d->r.all.echo.sent + d->r.all.echo.unsent;
    d->r.measured.echo.scheduled = d->r.measured.echo.sent + d->r.measured.echo.unsent;

    d->r.t_start = d->t_start;
    d->r.t_load0 = d->t_load0;
    d->r.t_end = end;
    d->r.t_measure_start = d->t_meas0 < d->t_stop ? d->t_meas0 : d->t_stop;
    d->r.t_measure_end = d->t_stop;
    d->r.measure_ns = d->r.t_measure_end - d->r.t_measure_start;
    /* one window: messages that arrived in it over its length */
    if (d->r.measure_ns > 0)
        d->r.throughput_msgs_s = (double)(d->r.window.echo_delivered + d->r.window.push_delivered) /
                                 ((double)d->r.measure_ns / 1e9);
    d->r.lat_rtt = d->h_rtt;
    d->r.lat_rtt_uncorrected = d->h_rtt_unc;
    d->r.lat_out = d->h_out;
    d->r.lag = d->h_lag;
    d->r.lag_own = d->h_lag_own;
    d->r.bp_wait = d->h_bp;
    d->r.rx_delay = d->h_rx;
    d->r.rtt_undelivered = d->h_rtt_undel;
    d->r.unsent_age = d->h_unsent;

    rt_ns cpu_end = drv_thread_cpu();
    if (d->cpu_meas0_set && d->r.measure_ns > 10 * RT_MS) {
        d->r.cpu_ns = (d->cpu_meas1_set ? d->cpu_meas1 : cpu_end) - d->cpu_meas0;
        d->r.wall_ns = d->r.measure_ns;
    } else {
        d->r.cpu_ns = cpu_end - d->cpu0;
        d->r.wall_ns = end - d->t_start;
    }
    d->r.cpu_util = d->r.wall_ns > 0 ? (double)d->r.cpu_ns / (double)d->r.wall_ns : 0;
    d->r.lag_max_ns = met_hist_max(d->h_lag);
    d->r.lag_p99_ns = met_hist_percentile(d->h_lag, 99);
    d->r.lag_own_p99_ns = met_hist_percentile(d->h_lag_own, 99);
    d->r.rx_delay_p99_ns = met_hist_percentile(d->h_rx, 99);
    d->r.runq_wait_ns = runq_wait_ns() - d->runq0;
    struct drv_sat_in si = {.cpu_util = d->r.cpu_util, .lag_p99_ns = d->r.lag_own_p99_ns,
                            .rx_delay_p99_ns = d->r.rx_delay_p99_ns,
                            .rtt_p99_ns = met_hist_count(d->h_rtt) > 0
                                              ? met_hist_percentile(d->h_rtt, 99) : 0};
    d->r.driver_saturated = drv_saturated(&d->p, &si, &d->r.saturated_why);
    /* one thread-clock read lands inside each timed interval: take its cost out */
    d->r.cpu_tx_ns = d->cpu_tx - d->n_tx_events * d->clock_cost_ns;
    d->r.cpu_rx_ns = d->cpu_rx - d->n_rx_events * d->clock_cost_ns;
    *r = d->r;
}

int drv_run(struct drv *d, struct drv_result *r)
{
    if (d->t_start)
        return -EALREADY;
    cpu_set_t old;
    bool pinned = false;
    if (d->p.cpu >= 0 && sched_getaffinity(0, sizeof old, &old) == 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(d->p.cpu, &one);
        pinned = sched_setaffinity(0, sizeof one, &one) == 0;
    }
    /* vsock gives a socket's output buffer back after each flush; when a sweep frees
     * many at once glibc trims the heap (brk), and in a process with more than one
     * thread each trim is a TLB shoot-down IPI to the other CPUs: measured at ~20 % of
     * the driver's CPU at 100 k msg/s. Keep freed memory instead (process-wide). */
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    if (d->p.cpu_split) {
        /* the thread CPU clock is a system call (~0.5 us on a VM): calibrate it */
        rt_ns c0 = drv_thread_cpu(), c1 = c0;
        for (int i = 0; i < 256; i++)
            c1 = drv_thread_cpu();
        d->clock_cost_ns = (c1 - c0) / 256;
    }
    d->cpu0 = drv_thread_cpu();
    d->runq0 = runq_wait_ns();
    d->t_start = rt_now();
    d->phase = DRV_PHASE_RAMP;
    ev_now_update(d->loop);
    ev_io_start(d->loop, &d->tfd_w);
    ev_prepare_start(d->loop, &d->prep);
    ev_check_start(d->loop, &d->chk);
    ev_timer_start(d->loop, &d->connect_t);
    ev_timer_start(d->loop, &d->progress_t);
    if (d->stop_req) {
        d->t_load0 = d->t_meas0 = d->t_start;
        d->r.stopped = true;
    } else {
        ev_run(d->loop, 0);
    }
    d->phase = DRV_PHASE_DONE;
    ev_timer_stop(d->loop, &d->connect_t);
    ev_timer_stop(d->loop, &d->progress_t);
    ev_timer_stop(d->loop, &d->fault_t);
    ev_timer_stop(d->loop, &d->drain_t);
    for (int g = 0; g < DRV_MAX_GROUPS; g++)
        ev_timer_stop(d->loop, &d->churn_t[g]);
    ev_prepare_stop(d->loop, &d->prep);
    finish(d, r);
    if (pinned)
        sched_setaffinity(0, sizeof old, &old);
    return 0;
}

void drv_destroy(struct drv *d)
{
    if (!d)
        return;
    for (uint32_t i = 0; d->links && i < d->n_links; i++) {
        struct drv_link *L = &d->links[i];
        if (L->fd >= 0 && d->loop) {
            ev_io_stop(d->loop, &L->rd);
            ev_io_stop(d->loop, &L->wr);
        }
        if (L->s) {
            if (L->state == L_OPEN) {
                vsock_close_nb(L->s, VSOCK_CLOSE_GOING_AWAY);
                vsock_flush(L->s);
            }
            vsock_destroy(L->s);   /* RST: SO_LINGER {1,0} */
        } else if (L->fd >= 0) {
            close(L->fd);
        }
    }
    if (d->loop) {
        ev_io_stop(d->loop, &d->tfd_w);
        ev_check_stop(d->loop, &d->chk);
        ev_async_stop(d->loop, &d->stop_w);
        ev_loop_destroy(d->loop);
    }
    if (d->tfd >= 0)
        close(d->tfd);
    met_hist_destroy(d->h_rtt);
    met_hist_destroy(d->h_rtt_unc);
    met_hist_destroy(d->h_out);
    met_hist_destroy(d->h_lag);
    met_hist_destroy(d->h_lag_own);
    met_hist_destroy(d->h_bp);
    met_hist_destroy(d->h_rx);
    met_hist_destroy(d->h_rtt_undel);
    met_hist_destroy(d->h_unsent);
    free(d->tsched);
    free(d->faults);
    free(d->scratch);
    free(d->heap);
    free(d->links);
    free(d);
}

/* ---------------------------------------------------------------- control, faults, progress */

void drv_request_stop(struct drv *d)
{
    d->stop_req++;
    ev_async_send(d->loop, &d->stop_w);   /* async-signal-safe (libev) */
}

int drv_fault(struct drv *d, enum drv_fault_kind kind, uint32_t first, uint32_t count)
{
    int n = 0;
    for (uint64_t i = first; i < (uint64_t)first + count && i < d->n_links; i++) {
        struct drv_link *L = &d->links[i];
        switch (kind) {
        case DRV_FAULT_STOP_READING:
            L->stop_reading = true;
            if (L->state == L_OPEN) { ev_io_stop(d->loop, &L->rd); n++; }
            break;
        case DRV_FAULT_RESUME_READING:
            L->stop_reading = false;
            if (L->state == L_OPEN) { ev_io_start(d->loop, &L->rd); n++; }
            break;
        case DRV_FAULT_CLOSE:
        case DRV_FAULT_RESET:
            if (L->state == L_OPEN || L->state == L_CONNECTING || L->state == L_HANDSHAKE) {
                drv_conn_close(d, L, (int)kind);
                n++;
            }
            break;
        }
    }
    return n;
}

void drv_progress_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w; (void)revents;
    struct drv *d = ev_userdata(loop);
    drv_conn_check_timeouts(d, rt_now());
    drv_progress_now(d);
}

void drv_progress_now(struct drv *d)
{
    rt_ns now = rt_now();
    if (!d->p.progress)
        return;
    struct drv_progress pr = {
        .t_ns = now - d->t_start, .phase = d->phase, .links_open = d->links_open,
        .links_failed = d->r.fail_connect + d->r.fail_handshake + d->r.fail_timeout +
                        d->r.fail_emfile + d->r.fail_addr,
        .sent = d->r.all.echo.sent, .delivered = d->r.all.echo.delivered,
        .pushes_received = d->r.all.push.delivered, .in_flight = d->outstanding,
        .cpu_ns = drv_thread_cpu() - d->cpu0, .lag_max_ns = d->lag_max_tick,
        .t_measure_start = d->phase != DRV_PHASE_RAMP && d->t_meas0 != RT_NEVER ? d->t_meas0 : 0,
        .t_measure_end = d->t_stop != RT_NEVER ? d->t_stop
                       : d->t_send_end != RT_NEVER ? d->t_send_end : 0};
    for (uint32_t i = 0; i < d->n_links; i++) {
        const struct drv_link *L = &d->links[i];
        pr.backlog_links += L->state == L_OPEN && L->slots_left && L->next_t <= now &&
                            (L->wblocked || L->iblocked);
    }
    d->lag_max_tick = 0;
    d->p.progress(d, &pr, d->p.progress_arg);
}

void drv_check_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    (void)w; (void)revents;
    struct drv *d = ev_userdata(loop);
    d->r.wakeups++;
    d->t_wake = rt_now();
}
