/* drv_phase.c — one driver thread's phases and timers (ramp, one load time for all threads, window, faults, churn, stop, drain) and the progress it shows. */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "drv_internal.h"

/* ---------------------------------------------------------------- the kernel's counts */

int drv_syscall_counter(void)
{
    static const char *const ids[] = {"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
                                      "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id"};
    long id = -1;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0] && id < 0; i++) {
        FILE *f = fopen(ids[i], "r");
        if (f) {
            if (fscanf(f, "%ld", &id) != 1)
                id = -1;
            fclose(f);
        }
    }
    if (id < 0)
        return -1;
    struct perf_event_attr a = {.type = PERF_TYPE_TRACEPOINT, .size = sizeof a, .config = (uint64_t)id,
                                .sample_period = 0};
    /* this thread only, on any CPU: every system call it enters, counted by the kernel */
    return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

int64_t drv_syscall_count(int fd)
{
    uint64_t v;
    return fd >= 0 && read(fd, &v, sizeof v) == sizeof v ? (int64_t)v : -1;
}

static void rusage_ns(int64_t *user, int64_t *sys, int64_t *vcsw)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) < 0) {
        *user = *sys = 0;
        if (vcsw) *vcsw = 0;
        return;
    }
    *user = (int64_t)ru.ru_utime.tv_sec * RT_S + ru.ru_utime.tv_usec * 1000;
    *sys = (int64_t)ru.ru_stime.tv_sec * RT_S + ru.ru_stime.tv_usec * 1000;
    if (vcsw) *vcsw = ru.ru_nvcsw;
}

/* The window's start and end marks of this thread's CPU and wake-ups. */
static void mark_measure0(struct drv_thr *t)
{
    t->sc_m0 = drv_syscall_count(t->scfd);
    t->cpu_meas0 = drv_thread_cpu();
    rusage_ns(&t->ut_m0, &t->st_m0, &t->vcsw_m0);
    t->wakeups_m0 = t->wakeups;
    t->cpu_meas0_set = true;
}

static void mark_measure1(struct drv_thr *t)
{
    t->sc_m1 = drv_syscall_count(t->scfd);
    t->cpu_meas1 = drv_thread_cpu();
    rusage_ns(&t->ut_m1, &t->st_m1, &t->vcsw_m1);
    t->wakeups_m1 = t->wakeups;
    t->cpu_meas1_set = true;
}

void drv_mark_start(struct drv_thr *t)
{
    t->scfd = drv_syscall_counter();
    t->sc0 = drv_syscall_count(t->scfd);
    t->cpu0 = drv_thread_cpu();
    rusage_ns(&t->ut0, &t->st0, &t->vcsw0);
}

void drv_mark_end(struct drv_thr *t)
{
    t->cpu_end = drv_thread_cpu();
    rusage_ns(&t->ut_end, &t->st_end, &t->vcsw_end);
    t->sc_end = drv_syscall_count(t->scfd);
    if (t->scfd >= 0)
        close(t->scfd);
    t->scfd = -1;
}

static void enter_measure(struct drv_thr *t, rt_ns now)
{
    t->phase = DRV_PHASE_MEASURE;
    t->t_phase = RT_NEVER;
    mark_measure0(t);
    t->r.window.backlog_start = drv_backlog(t, now);
}

/* Every thread's connects are resolved: load time 0, the same for all of them. */
static void begin_load(struct drv_thr *t)
{
    rt_ns l0 = atomic_load(&t->d->t_load0);
    if (!l0 || t->phase != DRV_PHASE_RAMP || !t->ramp_told)
        return;
    rt_ns now = rt_now();
    t->t_load0 = l0;
    t->t_meas0 = l0 + t->p.warmup_ns;
    if (t->p.duration_ns > 0)
        t->t_send_end = t->t_meas0 + t->p.duration_ns;
    t->phase = DRV_PHASE_WARMUP;
    t->t_phase = t->t_meas0;
    if (now >= t->t_meas0)
        enter_measure(t, now);
    if (t->n_faults)
        t->t_fault = t->t_load0 + t->faults[0].at_ns;
    for (int g = 0; g < t->p.n_groups; g++)
        if (t->p.groups[g].close_rate_per_s > 0) {
            double iv = 1e9 / t->p.groups[g].close_rate_per_s;
            t->t_churn[g] = now + (rt_ns)(iv < 1e6 ? 1e6 : iv);
        }
    if (t->links_open == 0)
        drv_stop_sending(t);   /* nothing connected: report the failures */
    else if (t->idx == 0)
        drv_progress_now(t);   /* the window's times, to the server at once */
}

void drv_ramp_progress(struct drv_thr *t)
{
    if (t->phase != DRV_PHASE_RAMP || t->ramp_told || t->next_connect < t->n_links || t->pending_connects > 0)
        return;
    t->ramp_told = true;
    if (t->r.links_established == t->n_links)
        t->r.establish_ns = t->t_last_open - t->d->t_start;
    if (atomic_fetch_sub(&t->d->ramps_left, 1) == 1) {
        atomic_store(&t->d->t_load0, rt_now());
        drv_wake_all(t->d);
    }
    begin_load(t);
}

void drv_stop_sending(struct drv_thr *t)
{
    if (!drv_sending(t))
        return;
    rt_ns now = rt_now();
    /* a planned end is the window's end to the nanosecond (the server takes its own
     * there); the loop may notice it a little later */
    t->t_stop = t->t_send_end != RT_NEVER && now >= t->t_send_end ? t->t_send_end : now;
    if (t->phase == DRV_PHASE_MEASURE) {
        mark_measure1(t);
        t->r.window.backlog_end = drv_backlog(t, t->t_stop);
    }
    t->phase = DRV_PHASE_DRAIN;
    for (uint32_t i = 0; i < t->n_links; i++)
        drv_wheel_del(&t->wheel, &t->links[i].wn);
    t->t_ramp = t->t_phase = RT_NEVER;
    for (int g = 0; g < DRV_MAX_GROUPS; g++)
        t->t_churn[g] = RT_NEVER;
    struct drv *d = t->d;
    int64_t m = atomic_load(&d->t_stop_max);
    while (t->t_stop > m && !atomic_compare_exchange_weak(&d->t_stop_max, &m, t->t_stop)) {}
    drv_publish(t);
    if (atomic_fetch_sub(&d->sending_left, 1) == 1 && t->idx != 0)
        drv_wake(&d->thr[0]);   /* its progress callback tells the phase change */
    if (t->idx == 0)
        drv_progress_now(t);
    t->t_drain = now + t->p.drain_max_ns;
    drv_check_drained(t);
}

void drv_check_drained(struct drv_thr *t)
{
    if (t->phase != DRV_PHASE_DRAIN || t->drain_told)
        return;
    if (t->outstanding > 0 && rt_now() < t->t_drain && t->stop_handled < 2)
        return;
    t->drain_told = true;
    t->t_drain = RT_NEVER;
    if (atomic_fetch_sub(&t->d->drains_left, 1) == 1)
        drv_wake_all(t->d);
}

void drv_take_stop(struct drv_thr *t)
{
    int req = atomic_load(&t->d->stop_req);
    if (req <= t->stop_handled)
        return;
    t->stop_handled = req;
    t->r.stopped = true;
    if (drv_sending(t) && req < 2) {
        if (t->phase == DRV_PHASE_RAMP)
            t->t_load0 = t->t_meas0 = rt_now();   /* no load time yet: the window is empty */
        drv_stop_sending(t);
    } else {
        drv_stop_sending(t);
        drv_check_drained(t);   /* a second request ends the drain at once */
    }
}

void drv_count_mode_check(struct drv_thr *t)
{
    if (t->phase == DRV_PHASE_RAMP || t->p.duration_ns != 0)
        return;
    for (uint32_t i = 0; i < t->n_links; i++) {
        const struct drv_link *L = &t->links[i];
        if (L->slots_left && t->p.groups[L->group].rate_per_s > 0 &&
            (L->state == L_OPEN || L->state == L_CONNECTING || L->state == L_HANDSHAKE))
            return;
    }
    drv_stop_sending(t);
}

/* ---------------------------------------------------------------- faults and timers */

int drv_fault(struct drv_thr *t, enum drv_fault_kind kind, uint32_t first, uint32_t count)
{
    int n = 0;
    for (uint64_t i = first; i < (uint64_t)first + count && i < t->n_links; i++) {
        struct drv_link *L = &t->links[i];
        switch (kind) {
        case DRV_FAULT_STOP_READING:
            L->stop_reading = true;
            if (L->state == L_OPEN) {
                drv_ep_set(t, L, L->wblocked ? EPOLLOUT : 0);
                n++;
            }
            break;
        case DRV_FAULT_RESUME_READING:
            L->stop_reading = false;
            L->t_reading_since = rt_now();
            if (L->state == L_OPEN) {
                drv_ep_set(t, L, EPOLLIN | (L->wblocked ? EPOLLOUT : 0));
                n++;
            }
            break;
        case DRV_FAULT_CLOSE:
        case DRV_FAULT_RESET:
            if (L->state == L_OPEN || L->state == L_CONNECTING || L->state == L_HANDSHAKE) {
                drv_conn_close(t, L, (int)kind);
                n++;
            }
            break;
        }
    }
    return n;
}

void drv_timers(struct drv_thr *t, rt_ns now)
{
    struct drv *d = t->d;
    if (atomic_load_explicit(&d->stop_req, memory_order_relaxed) > t->stop_handled)
        drv_take_stop(t);
    if (t->t_ramp <= now)
        drv_ramp(t, now);
    if (t->phase == DRV_PHASE_RAMP && t->ramp_told)
        begin_load(t);
    if (t->t_phase <= now && t->phase == DRV_PHASE_WARMUP)
        enter_measure(t, now);
    if (drv_sending(t) && now >= t->t_send_end) {
        /* the window's last slots, due within the tick before its end: late, but sent */
        if (t->phase != DRV_PHASE_RAMP)
            drv_send_pass(t, t->t_send_end - 1);
        drv_stop_sending(t);
    }
    while (t->t_fault <= now) {
        const struct drv_fault *f = &t->faults[t->fault_i++];
        drv_fault(t, f->kind, f->link_first, f->link_count);
        t->t_fault = t->fault_i < t->n_faults ? t->t_load0 + t->faults[t->fault_i].at_ns : RT_NEVER;
    }
    for (int g = 0; g < t->p.n_groups; g++)
        if (t->t_churn[g] <= now) {
            double iv = 1e9 / t->p.groups[g].close_rate_per_s;
            t->t_churn[g] = now + (rt_ns)(iv < 1e6 ? 1e6 : iv);
            drv_churn(t, g, now);
        }
    if (t->t_progress <= now) {
        t->t_progress = now + t->p.progress_interval_ns;
        drv_conn_check_timeouts(t, now);
        drv_publish(t);
        if (t->idx == 0)
            drv_progress_now(t);
    }
    if (t->t_drain <= now)
        drv_check_drained(t);
    if (t->idx == 0 && t->p.progress && atomic_load(&d->sending_left) == 0 &&
        t->last_global_phase < DRV_PHASE_DRAIN)
        drv_progress_now(t);
    if (atomic_load(&d->drains_left) == 0)
        t->done = true;
}

rt_ns drv_timers_next(const struct drv_thr *t)
{
    rt_ns m = t->t_progress;
    const rt_ns c[] = {t->t_ramp, t->t_fault, t->t_phase, t->t_drain,
                       drv_sending(t) ? t->t_send_end : RT_NEVER};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        if (c[i] < m)
            m = c[i];
    for (int g = 0; g < t->p.n_groups; g++)
        if (t->t_churn[g] < m)
            m = t->t_churn[g];
    return m;
}

/* ---------------------------------------------------------------- progress */

void drv_publish(struct drv_thr *t)
{
    struct drv_pub *p = &t->pub;
    rt_ns now = rt_now();
    int64_t backlog = 0;
    for (uint32_t i = 0; i < t->n_links; i++) {
        const struct drv_link *L = &t->links[i];
        backlog += L->state == L_OPEN && L->slots_left && L->next_t <= now && (L->wblocked || L->iblocked);
    }
    atomic_store_explicit(&p->links_open, t->links_open, memory_order_relaxed);
    atomic_store_explicit(&p->links_failed, t->r.fail_connect + t->r.fail_handshake + t->r.fail_timeout +
                                             t->r.fail_emfile + t->r.fail_addr, memory_order_relaxed);
    atomic_store_explicit(&p->sent, t->r.all.echo.sent, memory_order_relaxed);
    atomic_store_explicit(&p->delivered, t->r.all.echo.delivered, memory_order_relaxed);
    atomic_store_explicit(&p->pushes, t->r.all.push.delivered, memory_order_relaxed);
    atomic_store_explicit(&p->in_flight, t->outstanding, memory_order_relaxed);
    atomic_store_explicit(&p->backlog_links, backlog, memory_order_relaxed);
    atomic_store_explicit(&p->cpu_ns, drv_thread_cpu() - t->cpu0, memory_order_relaxed);
    int64_t m = atomic_load_explicit(&p->lag_max_ns, memory_order_relaxed);
    while (t->lag_max_tick > m &&
           !atomic_compare_exchange_weak_explicit(&p->lag_max_ns, &m, t->lag_max_tick, memory_order_relaxed,
                                                  memory_order_relaxed)) {}
    t->lag_max_tick = 0;
}

/* Thread 0 calls the progress callback with every thread's latest figures, and the
 * phase of them all: draining once the last one stopped sending. */
void drv_progress_now(struct drv_thr *t)
{
    struct drv *d = t->d;
    if (!t->p.progress || t->idx != 0)
        return;
    drv_publish(t);
    rt_ns now = rt_now();
    bool all_stopped = atomic_load(&d->sending_left) == 0;
    struct drv_progress pr = {.t_ns = now - d->t_start,
                              .phase = all_stopped && t->phase < DRV_PHASE_DRAIN ? DRV_PHASE_DRAIN
                                       : !all_stopped && t->phase == DRV_PHASE_DRAIN ? DRV_PHASE_MEASURE
                                                                                   : t->phase};
    for (int i = 0; i < d->n_thr; i++) {
        struct drv_pub *p = &d->thr[i].pub;
        pr.links_open += atomic_load_explicit(&p->links_open, memory_order_relaxed);
        pr.links_failed += atomic_load_explicit(&p->links_failed, memory_order_relaxed);
        pr.sent += atomic_load_explicit(&p->sent, memory_order_relaxed);
        pr.delivered += atomic_load_explicit(&p->delivered, memory_order_relaxed);
        pr.pushes_received += atomic_load_explicit(&p->pushes, memory_order_relaxed);
        pr.in_flight += atomic_load_explicit(&p->in_flight, memory_order_relaxed);
        pr.backlog_links += atomic_load_explicit(&p->backlog_links, memory_order_relaxed);
        pr.cpu_ns += atomic_load_explicit(&p->cpu_ns, memory_order_relaxed);
        int64_t lag = atomic_exchange_explicit(&p->lag_max_ns, 0, memory_order_relaxed);
        if (lag > pr.lag_max_ns)
            pr.lag_max_ns = lag;
    }
    pr.t_measure_start = t->phase != DRV_PHASE_RAMP && t->t_meas0 != RT_NEVER ? t->t_meas0 : 0;
    rt_ns stop_max = atomic_load(&d->t_stop_max);
    pr.t_measure_end = all_stopped ? stop_max : t->t_send_end != RT_NEVER ? t->t_send_end : 0;
    t->last_global_phase = (int)pr.phase;
    t->p.progress(d, &pr, t->p.progress_arg);
}
