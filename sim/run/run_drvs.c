/* run_drvs.c — split a run's links over several driver processes (fork), run sim/drv in each, merge their results exactly. */
#include "run_drvs.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "met_hlog.h"

void run_drvs_share_range(const struct drv_params *p, int g, int k, int n, int64_t *first,
                          int64_t *count)
{
    /* drv_share's split (drv_sched.c): a group's extra links go round the circle after
     * the previous group's */
    int64_t global = 0, off = 0;
    for (int i = 0; i < g; i++) {
        global += p->groups[i].links;
        off = (off + p->groups[i].links % n) % n;
    }
    int64_t L = p->groups[g].links, base = L / n, extra = L % n, before = 0;
    for (int j = 0; j < k; j++)
        before += (j - off + n) % n < extra;
    *count = base + ((k - off + n) % n < extra);
    *first = global + k * base + before;
}

int run_drvs_share(const struct drv_params *p, int k, int n, struct drv_params *out,
                   struct drv_fault *faults, int cap)
{
    if (drv_share(p, k, n, out, faults, cap, NULL) < 0)
        return -EINVAL;
    out->seed = p->seed + (uint64_t)k * 0x9E3779B97F4A7C15ull;
    /* the shares share the source addresses: together they stay under the cap */
    out->links_per_src_max = (p->links_per_src_max + (uint32_t)n - 1) / (uint32_t)n;
    if (out->links_per_src_max < 1)
        out->links_per_src_max = 1;
    /* the threads too: share k takes its part of them, and the CPUs that follow */
    int th = p->threads / n + (k < p->threads % n);
    out->threads = th > 0 ? th : 1;
    if (p->n_cpus > 0) {
        int first = k * (p->threads / n) + (k < p->threads % n ? k : p->threads % n);
        for (int i = 0; i < p->n_cpus; i++)
            out->cpus[i] = p->cpus[(first + i) % p->n_cpus];
    }
    return 0;
}

/* What a helper sends back: fixed part, then the histograms' encodings (in the order
 * of result_hists). Later, on the parent's 'c', its census (length, then JSON). */
#define NHIST RUN_DRVS_NHIST
struct frame {
    int32_t ok;
    char err[256];
    char why[32];
    struct drv_result r;      /* pointers cleared */
    uint32_t len[NHIST];
};

static void result_hists(const struct drv_result *r, const met_hist **h)
{
    const met_hist *x[NHIST] = {r->lat_rtt, r->lat_rtt_uncorrected, r->lat_out, r->lag, r->lag_own,
                                r->bp_wait, r->rx_delay, r->rtt_undelivered, r->unsent_age};
    memcpy(h, x, sizeof x);
}

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t n, rt_ns deadline)
{
    char *p = buf;
    while (n > 0) {
        rt_ns left = deadline - rt_now();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd q = {.fd = fd, .events = POLLIN};
        int k = poll(&q, 1, (int)(left / RT_MS) + 1);
        if (k < 0 && errno != EINTR)
            return -errno;
        if (k <= 0)
            continue;
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -EPIPE;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static struct drv *volatile helper_drv;

static void helper_signal(int sig)
{
    (void)sig;
    struct drv *d = helper_drv;
    if (d)
        drv_request_stop(d);   /* async-signal-safe (drv.h) */
}

static void helper_main(int fd, pid_t parent, const struct drv_params *p)
{
    /* the run killed must not leave thousands of client sockets behind */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    /* drop the servers' pipes and everything else inherited: a server must see EOF on
     * its control pipe when the parent goes, not wait for us */
    if (fd > 3)
        close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0u, 0);
    struct sigaction sa = {.sa_handler = helper_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct frame f;
    memset(&f, 0, sizeof f);
    struct drv *d = NULL;
    char *enc[NHIST] = {0};
    if (drv_create(p, &d, f.err, sizeof f.err) == 0) {
        helper_drv = d;
        drv_run(d, &f.r);
        const met_hist *h[NHIST];
        result_hists(&f.r, h);
        for (int i = 0; i < NHIST; i++) {
            enc[i] = h[i] && met_hist_count(h[i]) > 0 ? met_hlog_encode(h[i]) : NULL;
            f.len[i] = enc[i] ? (uint32_t)strlen(enc[i]) : 0;
        }
        snprintf(f.why, sizeof f.why, "%s", f.r.saturated_why ? f.r.saturated_why : "");
        f.r.lat_rtt = f.r.lat_rtt_uncorrected = f.r.lat_out = f.r.lag = NULL;
        f.r.lag_own = f.r.bp_wait = f.r.rx_delay = f.r.rtt_undelivered = f.r.unsent_age = NULL;
        f.r.saturated_why = NULL;
        f.ok = 1;
    }
    int rc = write_all(fd, &f, sizeof f);
    for (int i = 0; i < NHIST && rc == 0; i++)
        if (f.len[i])
            rc = write_all(fd, enc[i], f.len[i]);
    /* hold the links until the parent has taken the servers' figures; on 'c' send the
     * census (the servers' has been taken: nothing moves) */
    for (;;) {
        char c;
        ssize_t n = rc == 0 ? read(fd, &c, 1) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || c != 'c')
            break;
        json_t *cj = d ? drv_census(d) : json_object();
        char *txt = cj ? json_dumps(cj, JSON_COMPACT) : NULL;
        json_decref(cj);
        uint32_t len = txt ? (uint32_t)strlen(txt) : 0;
        rc = write_all(fd, &len, sizeof len);
        if (rc == 0 && len)
            rc = write_all(fd, txt, len);
        free(txt);
    }
    helper_drv = NULL;
    drv_destroy(d);
    _exit(f.ok && rc == 0 ? 0 : 1);
}

int run_drvs_start(run_drvs *h, struct drv_params *p, int n, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < RUN_DRVS_MAX; i++)
        h->fd[i] = -1;
    if (n < 1 || n > RUN_DRVS_MAX) {
        snprintf(err, errlen, "driver processes: must be 1..%d (got %d)", RUN_DRVS_MAX, n);
        return -1;
    }
    if (n == 1)
        return 0;
    struct drv_params share;
    static struct drv_fault faults[RUN_DRVS_FAULTS_MAX];
    fflush(NULL);   /* no buffered output written twice by a helper */
    for (int k = 1; k < n; k++) {
        if (run_drvs_share(p, k, n, &share, faults, RUN_DRVS_FAULTS_MAX) < 0)
            continue;   /* fewer links than processes: this share is empty */
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
            snprintf(err, errlen, "driver %d/%d: socketpair: %s", k + 1, n, strerror(errno));
            goto fail;
        }
        pid_t parent = getpid();
        share.progress = NULL;
        share.progress_arg = NULL;
        pid_t pid = fork();
        if (pid < 0) {
            snprintf(err, errlen, "driver %d/%d: fork: %s", k + 1, n, strerror(errno));
            close(sv[0]);
            close(sv[1]);
            goto fail;
        }
        if (pid == 0) {
            close(sv[0]);
            helper_main(sv[1], parent, &share);
        }
        close(sv[1]);
        h->pid[h->n] = pid;
        h->fd[h->n] = sv[0];
        h->n++;
    }
    struct drv_params mine;
    run_drvs_share(p, 0, n, &mine, h->f0, RUN_DRVS_FAULTS_MAX);
    *p = mine;
    return 0;
fail:
    run_drvs_release(h, rt_now());
    return -1;
}

void run_drvs_request_stop(run_drvs *h)
{
    for (int i = 0; i < h->n; i++)
        if (h->pid[i] > 0)
            kill(h->pid[i], SIGTERM);
}

/* A shard's result into the run's: drv_result_merge with the helper's reason (sent as
 * text beside the result). */
void run_drvs_merge(struct drv_result *r, const struct drv_result *b, const char *b_why, char *why,
                    size_t whylen)
{
    struct drv_result c = *b;
    c.saturated_why = b_why;
    drv_result_merge(r, &c, why, whylen);
}

int run_drvs_collect(run_drvs *h, struct drv_result *r, met_hist *const *dst, rt_ns deadline,
                     char *err, size_t errlen)
{
    int missing = 0;
    for (int i = 0; i < h->n; i++) {
        struct frame f;
        int rc = read_all(h->fd[i], &f, sizeof f, deadline);
        if (rc == 0 && !f.ok) {
            if (!missing++)
                snprintf(err, errlen, "driver %d/%d: %s", i + 2, h->n + 1, f.err);
            continue;
        }
        for (int k = 0; k < NHIST && rc == 0; k++) {
            if (!f.len[k])
                continue;
            char *s = malloc((size_t)f.len[k] + 1);
            rc = s ? read_all(h->fd[i], s, f.len[k], deadline) : -ENOMEM;
            if (rc == 0) {
                s[f.len[k]] = 0;
                met_hist *x = met_hlog_decode(s);
                if (x && dst[k])
                    met_hist_merge(dst[k], x);
                met_hist_destroy(x);
            }
            free(s);
        }
        if (rc < 0) {
            if (!missing++)
                snprintf(err, errlen, "driver %d/%d (pid %d): no result: %s", i + 2, h->n + 1,
                         (int)h->pid[i], rc == -ETIMEDOUT ? "no answer in time" : "it died");
            continue;
        }
        f.r.saturated_why = f.why;   /* the helper's reason, sent as text */
        drv_result_merge(r, &f.r, h->why, sizeof h->why);
    }
    return missing;
}

json_t *run_drvs_census(run_drvs *h, rt_ns deadline)
{
    json_t *all = json_array();
    for (int i = 0; i < h->n; i++) {
        uint32_t len = 0;
        if (h->fd[i] < 0 || write_all(h->fd[i], "c", 1) < 0 ||
            read_all(h->fd[i], &len, sizeof len, deadline) < 0 || len == 0)
            continue;
        char *txt = malloc((size_t)len + 1);
        if (txt && read_all(h->fd[i], txt, len, deadline) == 0) {
            txt[len] = 0;
            json_t *j = json_loads(txt, 0, NULL);
            if (j)
                json_array_append_new(all, j);
        }
        free(txt);
    }
    return all;
}

void run_drvs_release(run_drvs *h, rt_ns deadline)
{
    for (int i = 0; i < h->n; i++)
        if (h->fd[i] >= 0) {
            close(h->fd[i]);   /* EOF: the helper closes its links and exits */
            h->fd[i] = -1;
        }
    for (int i = 0; i < h->n; i++) {
        if (h->pid[i] <= 0)
            continue;
        int st;
        while (waitpid(h->pid[i], &st, WNOHANG) == 0) {
            if (rt_now() >= deadline) {
                kill(h->pid[i], SIGKILL);
                waitpid(h->pid[i], &st, 0);
                break;
            }
            rt_sleep(5 * RT_MS, NULL);
        }
        h->pid[i] = 0;
    }
}
