/* drv_life.c — the driver's life cycle: create (threads and their shares), run (threads, pinning, one window), results merged, destroy. */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
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

static int thr_init(struct drv *d, int k, struct drv_fault *tmp, int cap)
{
    struct drv_thr *t = &d->thr[k];
    t->d = d;
    t->idx = k;
    t->epfd = t->evfd = t->scfd = -1;
    uint32_t first_id[DRV_MAX_GROUPS];
    if (drv_share(&d->p, k, d->n_thr, &t->p, tmp, cap, first_id) < 0)
        return -EINVAL;
    /* its faults: the share's, then each group's stop_reading_at, in time order */
    int nf = t->p.n_faults;
    for (int g = 0; g < t->p.n_groups; g++)
        nf += t->p.groups[g].stop_reading_at_ns >= 0;
    if (nf) {
        t->faults = calloc((size_t)nf, sizeof *t->faults);
        if (!t->faults)
            return -ENOMEM;
        if (t->p.n_faults)
            memcpy(t->faults, t->p.faults, (size_t)t->p.n_faults * sizeof *t->faults);
        int j = t->p.n_faults;
        uint32_t first = 0;
        for (int g = 0; g < t->p.n_groups; g++) {
            const struct drv_group *G = &t->p.groups[g];
            if (G->stop_reading_at_ns >= 0)
                t->faults[j++] = (struct drv_fault){.at_ns = G->stop_reading_at_ns,
                    .kind = DRV_FAULT_STOP_READING, .link_first = first, .link_count = G->links};
            first += G->links;
        }
        /* stable enough: equal times keep no promised order */
        qsort(t->faults, (size_t)nf, sizeof *t->faults, fault_order);
    }
    t->n_faults = nf;
    t->p.faults = NULL;
    t->p.n_faults = 0;
    t->p.progress = k == 0 ? d->p.progress : NULL;

    uint32_t max_len = WIRE_HDR_BYTES;
    for (int g = 0; g < t->p.n_groups; g++) {
        const struct drv_group *G = &t->p.groups[g];
        t->n_links += G->links;
        uint32_t m = G->size_dist == DRV_SIZE_FIXED ? G->payload_min_bytes : G->payload_max_bytes;
        if (m > max_len)
            max_len = m;
    }
    t->links = calloc(t->n_links, sizeof *t->links);
    t->tsched = calloc((size_t)t->n_links * DRV_RING, sizeof *t->tsched);
    /* two frames at least, compressed ones included (drv_pmd_room) */
    size_t two = 2 * (drv_pmd_room(max_len) + 14);
    t->tx_cap = d->p.pending_out_max_bytes > two ? d->p.pending_out_max_bytes : two;
    t->tx = malloc(t->tx_cap);
    t->rx_cap = d->p.read_budget_bytes;
    t->rx = malloc(t->rx_cap);
    t->fill = malloc(max_len);
    t->fill_len = max_len;
    for (int h = 0; h < DRV_NHIST; h++)
        if (!(t->h[h] = met_hist_create()))
            return -ENOMEM;
    if (!t->links || !t->tsched || !t->tx || !t->rx || !t->fill)
        return -ENOMEM;
    int rc = drv_loop_init(t);
    if (rc)
        return rc;
    /* the payload after the header: a-z over and over (compresses to almost nothing), or
     * random bytes from the run's seed (deflate cannot shrink them: drv_fill) */
    for (uint32_t i = 0; i < max_len; i++)
        t->fill[i] = (uint8_t)('a' + i % 26);
    if (d->p.fill_random) {
        size_t n = (size_t)DRV_RAND_SPAN + max_len;
        if (!(t->rand = malloc(n)))
            return -ENOMEM;
        uint64_t x = d->p.seed * 0x9E3779B97F4A7C15ULL | 1;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            t->rand[i] = (uint8_t)(x >> 24);
        }
    }
    uint32_t n_src = (d->n_links + d->p.links_per_src_max - 1) / d->p.links_per_src_max;
    if (n_src < d->p.src_addrs_min)
        n_src = d->p.src_addrs_min;
    uint32_t i = 0;
    for (int g = 0; g < t->p.n_groups; g++)
        for (uint32_t j = 0; j < t->p.groups[g].links; j++, i++) {
            struct drv_link *L = &t->links[i];
            L->id = first_id[g] + j;
            L->local = i;
            L->group = (uint8_t)g;
            L->fd = -1;
            L->src = L->id % n_src;   /* round robin: every address stays under the cap */
            L->seq_meas0 = UINT64_MAX;
            L->tsched = t->tsched + (size_t)i * DRV_RING;
            L->slots_left = t->p.groups[g].msgs_per_link ? t->p.groups[g].msgs_per_link : UINT64_MAX;
            L->rng = drv_link_seed(d->p.seed, L->id);   /* the same schedule whatever the threads */
            d->by_id[L->id] = L;
        }
    t->n_src = n_src;
    t->cpu = d->p.n_cpus > 0 ? d->p.cpus[k % d->p.n_cpus] : d->p.cpu;
    t->mask_rng = d->p.seed ^ ((uint64_t)(k + 1) * 0xd1b54a32d192ed03ull);
    t->r.links_wanted = t->n_links;
    t->r.src_addrs_used = drv_target_loopback(d) ? n_src : 1;   /* else the kernel's one */
    t->r.establish_ns = -1;
    t->t_ramp = t->t_progress = t->t_fault = t->t_phase = t->t_drain = RT_NEVER;
    for (int g = 0; g < DRV_MAX_GROUPS; g++)
        t->t_churn[g] = RT_NEVER;
    t->t_meas0 = t->t_send_end = t->t_stop = RT_NEVER;
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
    for (int g = 0; g < p->n_groups; g++)
        d->n_links += p->groups[g].links;
    d->n_thr = p->threads < (int)d->n_links ? p->threads : (int)d->n_links;
    inet_pton(AF_INET, p->host, &d->target_ip);
    snprintf(d->host_hdr, sizeof d->host_hdr, "%s:%u", p->host, p->port);
    d->thr = calloc((size_t)d->n_thr, sizeof *d->thr);
    d->by_id = calloc(d->n_links, sizeof *d->by_id);
    struct drv_fault *tmp = calloc((size_t)p->n_faults * DRV_MAX_GROUPS + 1, sizeof *tmp);
    rc = d->thr && d->by_id && tmp ? 0 : -ENOMEM;
    for (int k = 0; rc == 0 && k < d->n_thr; k++)
        rc = thr_init(d, k, tmp, p->n_faults * DRV_MAX_GROUPS);
    for (int h = 0; rc == 0 && h < DRV_NHIST; h++)
        if (!(d->h[h] = met_hist_create()))
            rc = -ENOMEM;
    free(tmp);
    if (rc) {
        snprintf(err, errlen, "driver: out of memory or file descriptors");
        drv_destroy(d);
        return -ENOMEM;
    }
    *out = d;
    return 0;
}

/* ---------------------------------------------------------------- run */

static void *thread_main(void *arg)
{
    struct drv_thr *t = arg;
    char name[16];
    snprintf(name, sizeof name, "drv%d", t->idx);
    if (t->idx > 0)
        pthread_setname_np(pthread_self(), name);
    if (t->cpu >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(t->cpu, &one);
        sched_setaffinity(0, sizeof one, &one);
    }
    /* the loop's sleeps end when asked: without this the kernel may let them run 50 us
     * over (the default timer slack), a whole tick */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    /* the instrument before the threads it measures: a driver thread that sleeps out its
     * tick wakes behind hundreds of runnable server threads otherwise (poll's 1 ms
     * sleepers), and its lag is the run queue's, not its own. On Linux this thread only.
     * Without CAP_SYS_NICE the request fails and the nice it kept is reported. */
    if (t->p.nice)
        setpriority(PRIO_PROCESS, 0, t->p.nice);
    errno = 0;
    int nv = getpriority(PRIO_PROCESS, 0);
    t->nice = errno ? 0 : nv;
    t->runq0 = runq_wait_ns();
    drv_mark_start(t);
    rt_ns now = rt_now();
    drv_wheel_init(&t->wheel, t->p.tick_ns, now);
    t->phase = DRV_PHASE_RAMP;
    t->t_ramp = now;
    t->t_progress = now + t->p.progress_interval_ns;
    drv_loop_run(t);
    drv_mark_end(t);
    t->runq_end = runq_wait_ns();
    t->phase = DRV_PHASE_DONE;
    return NULL;
}

static int64_t span_of(bool window, int64_t m0, int64_t m1, bool m1_set, int64_t end, int64_t start)
{
    return window ? (m1_set ? m1 : end) - m0 : end - start;
}

/* This thread's result at the common end. */
static void finish(struct drv_thr *t)
{
    struct drv *d = t->d;
    struct drv_result *r = &t->r;
    if (t->t_stop == RT_NEVER)
        t->t_stop = d->t_end;
    for (uint32_t i = 0; i < t->n_links; i++) {
        struct drv_link *L = &t->links[i];
        if (L->state != L_OPEN)
            continue;
        r->links_open_at_end++;
        drv_echo_range(t, L, offsetof(struct drv_dir, in_flight), L->echo.next, L->tx_seq, 1);
        drv_count_unsent(t, L, t->t_stop, true);
    }
    drv_censor_rtt(t, d->t_end);
    r->all.echo.scheduled = r->all.echo.sent + r->all.echo.unsent;
    r->measured.echo.scheduled = r->measured.echo.sent + r->measured.echo.unsent;
    r->t_start = d->t_start;
    r->t_load0 = t->t_load0;
    r->t_end = d->t_end;
    r->t_measure_start = t->t_meas0 < t->t_stop ? t->t_meas0 : t->t_stop;
    r->t_measure_end = t->t_stop;
    r->measure_ns = r->t_measure_end - r->t_measure_start;
    bool w = t->cpu_meas0_set && r->measure_ns > 10 * RT_MS;
    r->cpu_ns = span_of(w, t->cpu_meas0, t->cpu_meas1, t->cpu_meas1_set, t->cpu_end, t->cpu0);
    r->cpu_user_ns = span_of(w, t->ut_m0, t->ut_m1, t->cpu_meas1_set, t->ut_end, t->ut0);
    r->cpu_sys_ns = span_of(w, t->st_m0, t->st_m1, t->cpu_meas1_set, t->st_end, t->st0);
    r->wakeups = span_of(w, t->wakeups_m0, t->wakeups_m1, t->cpu_meas1_set, t->wakeups, 0);
    r->wakeups_kernel = span_of(w, t->vcsw_m0, t->vcsw_m1, t->cpu_meas1_set, t->vcsw_end, t->vcsw0);
    r->syscalls = t->sc0 < 0 || t->sc_end < 0 || (w && t->sc_m0 < 0) ? -1
                : span_of(w, t->sc_m0, t->sc_m1, t->cpu_meas1_set, t->sc_end, t->sc0);
    r->wall_ns = w ? r->measure_ns : d->t_end - d->t_start;
    r->cpu_util = r->wall_ns > 0 ? (double)r->cpu_ns / (double)r->wall_ns : 0;
    r->lag_max_ns = met_hist_max(t->h[H_LAG]);
    r->lag_p99_ns = met_hist_percentile(t->h[H_LAG], 99);
    r->lag_own_p99_ns = met_hist_percentile(t->h[H_LAG_OWN], 99);
    r->rx_delay_p99_ns = met_hist_percentile(t->h[H_RX], 99);
    r->runq_wait_ns = t->runq_end - t->runq0;
    r->tick_ns = t->p.tick_ns;
    r->nice = t->nice;
    r->threads = 1;
    r->rx_reads = t->reads;
    r->rx_stamped = t->stamped;
    struct drv_sat_in si = {.cpu_util = r->cpu_util, .lag_p99_ns = r->lag_own_p99_ns,
                            .rx_delay_p99_ns = r->rx_delay_p99_ns,
                            .rtt_p99_ns = met_hist_count(t->h[H_RTT]) > 0
                                              ? met_hist_percentile(t->h[H_RTT], 99) : 0};
    r->driver_saturated = drv_saturated(&t->p, &si, &r->saturated_why);
}

#define MAX_INTO(a, b) ((a) = (a) > (b) ? (a) : (b))

static void add_dir(struct drv_dir *a, const struct drv_dir *b)
{
    _Static_assert(sizeof(struct drv_dir) % sizeof(int64_t) == 0, "drv_dir holds int64_t only");
    int64_t *x = (int64_t *)a;
    const int64_t *y = (const int64_t *)b;
    for (size_t i = 0; i < sizeof *a / sizeof *x; i++)
        x[i] += y[i];
}

void drv_result_merge(struct drv_result *r, const struct drv_result *b, char *why, size_t why_len)
{
    r->links_wanted += b->links_wanted;
    r->links_established += b->links_established;
    r->links_open_at_end += b->links_open_at_end;
    r->fail_connect += b->fail_connect;
    r->fail_handshake += b->fail_handshake;
    r->fail_timeout += b->fail_timeout;
    r->fail_emfile += b->fail_emfile;
    r->fail_addr += b->fail_addr;
    r->closed_by_driver += b->closed_by_driver;
    r->closed_by_peer += b->closed_by_peer;
    r->reconnects += b->reconnects;
    /* every link open only when every share opened all of its own */
    r->establish_ns = r->establish_ns < 0 || b->establish_ns < 0 ? -1
                    : r->establish_ns > b->establish_ns ? r->establish_ns : b->establish_ns;
    MAX_INTO(r->src_addrs_used, b->src_addrs_used);
    r->stopped |= b->stopped;
    add_dir(&r->all.echo, &b->all.echo);
    add_dir(&r->all.push, &b->all.push);
    add_dir(&r->measured.echo, &b->measured.echo);
    add_dir(&r->measured.push, &b->measured.push);
    r->throughput_msgs_s += b->throughput_msgs_s;
    r->cpu_ns += b->cpu_ns;
    r->cpu_user_ns += b->cpu_user_ns;
    r->cpu_sys_ns += b->cpu_sys_ns;
    MAX_INTO(r->wall_ns, b->wall_ns);
    /* saturation is per thread (per process): the worst one decides */
    MAX_INTO(r->cpu_util, b->cpu_util);
    MAX_INTO(r->lag_max_ns, b->lag_max_ns);
    MAX_INTO(r->lag_p99_ns, b->lag_p99_ns);
    MAX_INTO(r->lag_own_p99_ns, b->lag_own_p99_ns);
    MAX_INTO(r->rx_delay_p99_ns, b->rx_delay_p99_ns);
    _Static_assert(sizeof(struct drv_window) == 6 * sizeof(int64_t), "drv_window: six counts");
    const int64_t *wy = (const int64_t *)&b->window;
    int64_t *wx = (int64_t *)&r->window;
    for (int k = 0; k < 6; k++)
        wx[k] += wy[k];
    if (b->driver_saturated && !r->driver_saturated) {
        snprintf(why, why_len, "%s", b->saturated_why ? b->saturated_why : "");
        r->saturated_why = why;
    }
    r->driver_saturated |= b->driver_saturated;
    r->runq_wait_ns += b->runq_wait_ns;
    r->wakeups += b->wakeups;
    r->wakeups_kernel += b->wakeups_kernel;
    MAX_INTO(r->tick_ns, b->tick_ns);
    MAX_INTO(r->nice, b->nice);
    r->threads += b->threads;
    r->syscalls = r->syscalls < 0 || b->syscalls < 0 ? -1 : r->syscalls + b->syscalls;
    r->rx_reads += b->rx_reads;
    r->rx_stamped += b->rx_stamped;
}

int drv_run(struct drv *d, struct drv_result *r)
{
    if (d->ran)
        return -EALREADY;
    d->ran = true;
    /* a sweep that gives many buffers back at once makes glibc trim the heap (brk), and
     * in a process with more than one thread each trim is a TLB shoot-down IPI to the
     * other CPUs: measured at ~20 % of the driver's CPU at 100 k msg/s. Keep freed
     * memory instead (process-wide). */
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    atomic_store(&d->ramps_left, d->n_thr);
    atomic_store(&d->sending_left, d->n_thr);
    atomic_store(&d->drains_left, d->n_thr);
    d->t_start = rt_now();
    int rc = 0;
    if (atomic_load(&d->stop_req)) {
        for (int k = 0; k < d->n_thr; k++) {
            struct drv_thr *t = &d->thr[k];
            t->t_load0 = t->t_meas0 = d->t_start;
            t->r.stopped = true;
            drv_mark_start(t);
            drv_mark_end(t);
        }
    } else {
        cpu_set_t old;
        bool restore = d->thr[0].cpu >= 0 && sched_getaffinity(0, sizeof old, &old) == 0;
        int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
        errno = 0;
        int nice0 = getpriority(PRIO_PROCESS, 0);   /* thread 0 is the caller's: given back */
        bool renice = errno == 0 && d->p.nice;
        int started = 1;
        for (int k = 1; k < d->n_thr; k++, started++)
            if (pthread_create(&d->thr[k].th, NULL, thread_main, &d->thr[k]) != 0) {
                rc = -EAGAIN;
                drv_request_stop(d);
                drv_request_stop(d);
                break;
            }
        if (rc) {
            /* the threads that did start end at once; the missing ones count as drained */
            atomic_fetch_sub(&d->drains_left, d->n_thr - started);
            atomic_fetch_sub(&d->sending_left, d->n_thr - started);
        }
        thread_main(&d->thr[0]);
        for (int k = 1; k < started; k++)
            pthread_join(d->thr[k].th, NULL);
        if (slack > 0)
            prctl(PR_SET_TIMERSLACK, (unsigned long)slack, 0, 0, 0);
        if (renice)
            setpriority(PRIO_PROCESS, 0, nice0);
        if (restore)
            sched_setaffinity(0, sizeof old, &old);
    }
    d->t_end = rt_now();
    for (int k = 0; k < d->n_thr; k++)
        finish(&d->thr[k]);
    d->r = d->thr[0].r;
    for (int k = 1; k < d->n_thr; k++)
        drv_result_merge(&d->r, &d->thr[k].r, d->why, sizeof d->why);
    /* one window over the threads: from the first start to the last end */
    for (int k = 1; k < d->n_thr; k++) {
        const struct drv_result *b = &d->thr[k].r;
        if (b->t_measure_start < d->r.t_measure_start)
            d->r.t_measure_start = b->t_measure_start;
        MAX_INTO(d->r.t_measure_end, b->t_measure_end);
    }
    d->r.measure_ns = d->r.t_measure_end - d->r.t_measure_start;
    d->r.throughput_msgs_s = d->r.measure_ns > 0 ? (double)(d->r.window.echo_delivered + d->r.window.push_delivered) /
                                                       ((double)d->r.measure_ns / 1e9) : 0;
    for (int h = 0; h < DRV_NHIST; h++)
        for (int k = 0; k < d->n_thr; k++)
            met_hist_merge(d->h[h], d->thr[k].h[h]);
    d->r.lat_rtt = d->h[H_RTT];
    d->r.lat_rtt_uncorrected = d->h[H_RTT_UNC];
    d->r.lat_out = d->h[H_OUT];
    d->r.lag = d->h[H_LAG];
    d->r.lag_own = d->h[H_LAG_OWN];
    d->r.bp_wait = d->h[H_BP];
    d->r.rx_delay = d->h[H_RX];
    d->r.rtt_undelivered = d->h[H_RTT_UNDEL];
    d->r.unsent_age = d->h[H_UNSENT];
    *r = d->r;
    return rc;
}

void drv_destroy(struct drv *d)
{
    if (!d)
        return;
    for (int k = 0; d->thr && k < d->n_thr; k++) {
        struct drv_thr *t = &d->thr[k];
        for (uint32_t i = 0; t->links && i < t->n_links; i++) {
            struct drv_link *L = &t->links[i];
            if (L->fd >= 0 && L->state == L_OPEN)
                drv_ws_close_frame(L, 1001);
            drv_conn_free(t, L, false);   /* RST: SO_LINGER {1,0} */
        }
        drv_loop_fini(t);
        for (int h = 0; h < DRV_NHIST; h++)
            met_hist_destroy(t->h[h]);
        free(t->faults);
        free(t->links);
        free(t->tsched);
        free(t->tx);
        free(t->rx);
        free(t->fill);
        free(t->rand);
        free(t->zbuf);
    }
    for (int h = 0; h < DRV_NHIST; h++)
        met_hist_destroy(d->h[h]);
    free(d->thr);
    free(d->by_id);
    free(d);
}

/* ---------------------------------------------------------------- control */

void drv_request_stop(struct drv *d)
{
    atomic_fetch_add(&d->stop_req, 1);
    drv_wake_all(d);   /* write(2) to eventfds: async-signal-safe */
}

int drv_link_local_addr(const struct drv *d, uint32_t i, uint32_t *ip_host_order, uint16_t *port)
{
    if (i >= d->n_links || !d->by_id[i] || d->by_id[i]->state != L_OPEN)
        return -ENOTCONN;
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (getsockname(d->by_id[i]->fd, (struct sockaddr *)&a, &len) < 0)
        return -errno;
    *ip_host_order = ntohl(a.sin_addr.s_addr);
    *port = ntohs(a.sin_port);
    return 0;
}

json_t *drv_census(struct drv *d)
{
    json_t *links = json_array();
    for (int k = 0; k < d->n_thr; k++)
        drv_census_links(&d->thr[k], d->t_end, links);
    return json_pack("{s:I,s:I,s:I,s:o}", "t_end", (json_int_t)d->t_end, "t_measure_start",
                     (json_int_t)d->r.t_measure_start, "t_measure_end", (json_int_t)d->r.t_measure_end,
                     "links", links);
}
