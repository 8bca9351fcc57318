/* drv_bench.c — `linkbench bench driver`: the driver's CPU per message over a matrix of schedules, beside the floor's, against an echo process on the other core. */
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drv.h"
#include "drv_echo.h"
#include "drv_floor.h"
#include "rt.h"

#define MAXV 8

/* Knobs of the bench, units in the names, defaults in one place. */
struct bench_params {
    enum drv_pattern patterns[2];
    int n_patterns;
    double links[MAXV], rates[MAXV];   /* rates: offered totals over the links */
    int n_links, n_rates;
    uint32_t size_bytes;            /* default 64 */
    double seconds, warmup_s;       /* measured window and warm-up per run (2 s, 0.5 s) */
    int driver_cpu, server_cpu;     /* 0 and 1; -1 = no pinning */
    int64_t tick_ns;                /* drv_params.tick_ns */
    int threads;                    /* driver threads (all on driver_cpu) */
    int repeat;                     /* driver and floor runs per row, alternating (default 1) */
    bool driver, floor;             /* which rows run (both by default) */
    bool echo_only;                 /* only serve echoes (for a driver counted elsewhere) */
    uint16_t echo_port;             /* echo server already running there (0: start one per run) */
};

static void bench_defaults(struct bench_params *b)
{
    memset(b, 0, sizeof *b);
    b->patterns[0] = DRV_CONSTANT;
    b->patterns[1] = DRV_POISSON;
    b->n_patterns = 2;
    b->links[0] = 100;
    b->links[1] = 10000;
    b->n_links = 2;
    b->rates[0] = 10e3;
    b->rates[1] = 100e3;
    b->rates[2] = 1e6;
    b->n_rates = 3;
    b->size_bytes = 64;
    b->seconds = 2;
    b->warmup_s = 0.5;
    b->driver_cpu = 0;
    b->server_cpu = 1;
    b->tick_ns = 50 * RT_US;
    b->threads = 1;
    b->repeat = 1;
    b->driver = b->floor = true;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: linkbench bench driver [options]\n"
            "  The driver's CPU per message (sent + received; user and system apart) over a\n"
            "  matrix of patterns x links x offered rates, beside the floor's: a minimal client\n"
            "  with the same schedule, connections and pacing that makes only the system calls\n"
            "  they require (no header, accounting or histograms). Each run against a plain\n"
            "  libev + vsock echo process on the other core.\n"
            "  --patterns P,P     constant, poisson (default both)\n"
            "  --links N,N        links (default 100,10000)\n"
            "  --rates R,R        offered msg/s over all links (default 10k,100k,1M)\n"
            "  --size BYTES       payload bytes, 48..65535 (default 64)\n"
            "  --seconds S        measured seconds per run (default 2)\n"
            "  --warmup S         warm-up seconds per run (default 0.5)\n"
            "  --tick-us N        the pacing tick (default 50)\n"
            "  --threads N        driver threads, all on the driver's CPU (default 1)\n"
            "  --repeat N         runs of each per row, driver and floor alternating; the row\n"
            "                     gives medians, x the median of the paired ratios (default 1)\n"
            "  --driver-cpu N     pin the driver (default 0; -1 none)\n"
            "  --server-cpu N     pin the echo process (default 1; -1 none)\n"
            "  --floor            the floor only;  --no-floor  the driver only\n"
            "  --echo-only        only run the echo server (pinned to --server-cpu), print its\n"
            "                     port, serve until stdin closes: for a driver run under a tool\n"
            "  --echo-port N      drive that echo server instead of starting one per run\n");
}

static int parse_list(const char *s, double *v, int *n)
{
    *n = 0;
    char *end;
    while (*s && *n < MAXV) {
        double x = strtod(s, &end);
        if (end == s || x <= 0)
            return -1;
        if (*end == 'k' || *end == 'K') { x *= 1e3; end++; }
        else if (*end == 'm' || *end == 'M') { x *= 1e6; end++; }
        v[(*n)++] = x;
        if (*end && *end != ',')
            return -1;
        s = *end ? end + 1 : end;
    }
    return *n ? 0 : -1;
}

static int parse(int argc, char **argv, struct bench_params *b)
{
    static const struct option opts[] = {
        {"patterns", 1, 0, 'p'}, {"links", 1, 0, 'l'}, {"rates", 1, 0, 'r'}, {"size", 1, 0, 's'},
        {"seconds", 1, 0, 't'}, {"warmup", 1, 0, 'w'}, {"tick-us", 1, 0, 'k'}, {"threads", 1, 0, 'T'}, {"repeat", 1, 0, 'R'},
        {"driver-cpu", 1, 0, 'd'}, {"server-cpu", 1, 0, 'c'}, {"floor", 0, 0, 'f'},
        {"no-floor", 0, 0, 'F'}, {"echo-only", 0, 0, 'E'}, {"echo-port", 1, 0, 'P'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            b->n_patterns = 0;
            for (char *s = optarg; *s;) {
                size_t n = strcspn(s, ",");
                if (n == 8 && !strncmp(s, "constant", 8)) b->patterns[b->n_patterns++] = DRV_CONSTANT;
                else if (n == 7 && !strncmp(s, "poisson", 7)) b->patterns[b->n_patterns++] = DRV_POISSON;
                else {
                    fprintf(stderr, "bench driver: --patterns: constant or poisson (got '%s')\n", optarg);
                    return 2;
                }
                s += n + (s[n] == ',');
                if (b->n_patterns == 2)
                    break;
            }
            break;
        case 'l':
        case 'r':
            if (parse_list(optarg, c == 'l' ? b->links : b->rates, c == 'l' ? &b->n_links : &b->n_rates) < 0) {
                fprintf(stderr, "bench driver: --%s: a list of positive numbers like 100,10k (got '%s')\n",
                        c == 'l' ? "links" : "rates", optarg);
                return 2;
            }
            break;
        case 's': b->size_bytes = (uint32_t)atoi(optarg); break;
        case 't': b->seconds = atof(optarg); break;
        case 'w': b->warmup_s = atof(optarg); break;
        case 'k': b->tick_ns = (int64_t)(atof(optarg) * 1e3); break;
        case 'T': b->threads = atoi(optarg); break;
        case 'R': b->repeat = atoi(optarg); break;
        case 'd': b->driver_cpu = atoi(optarg); break;
        case 'c': b->server_cpu = atoi(optarg); break;
        case 'f': b->driver = false; break;
        case 'F': b->floor = false; break;
        case 'E': b->echo_only = true; break;
        case 'P': b->echo_port = (uint16_t)atoi(optarg); break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (b->size_bytes < 48 || b->size_bytes > 65535 || b->seconds <= 0 || b->warmup_s < 0 ||
        b->tick_ns < RT_US || b->threads < 1 || b->threads > DRV_THREADS_MAX || b->n_patterns == 0 ||
        b->repeat < 1 || b->repeat > 99 ||
        (!b->driver && !b->floor)) {
        fprintf(stderr, "bench driver: --size 48..65535, --seconds > 0, --warmup >= 0, --tick-us >= 1,\n"
                        "  --threads 1..%d, --repeat 1..99, a pattern, and not both --floor and --no-floor\n",
                DRV_THREADS_MAX);
        return 2;
    }
    return 0;
}

/* ---------------------------------------------------------------- the echo process */

/* An echo server in a child process of its own (its sockets are not the driver's open
 * files: 10 000 links on each side fit the limit), pinned to the server's CPU. */
struct echo_proc {
    pid_t pid;
    int fd;
    uint16_t port;
};

static int echo_start(const struct bench_params *b, struct echo_proc *e)
{
    if (b->echo_port) {
        e->pid = 0;
        e->fd = -1;
        e->port = b->echo_port;
        return 0;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return -errno;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(sv[0]);
        struct drv_echo_params ep;
        drv_echo_params_default(&ep);
        ep.cpu = b->server_cpu;
        struct drv_echo *s;
        uint16_t port = 0;
        if (drv_echo_start(&ep, &s, &port) != 0)
            _exit(1);
        if (write(sv[1], &port, sizeof port) != sizeof port)
            _exit(1);
        char c;
        while (read(sv[1], &c, 1) == 1 && c == 'c') {
            int64_t ns = drv_echo_cpu_ns(s);
            if (write(sv[1], &ns, sizeof ns) != sizeof ns)
                break;
        }
        drv_echo_stop(s, NULL);
        _exit(0);
    }
    close(sv[1]);
    e->pid = pid;
    e->fd = sv[0];
    if (read(e->fd, &e->port, sizeof e->port) != sizeof e->port) {
        close(e->fd);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -EPIPE;
    }
    return 0;
}

static int64_t echo_cpu(struct echo_proc *e)
{
    int64_t ns = 0;
    if (e->fd < 0)
        return 0;
    if (write(e->fd, "c", 1) != 1 || read(e->fd, &ns, sizeof ns) != sizeof ns)
        return 0;
    return ns;
}

static void echo_stop(struct echo_proc *e)
{
    if (e->fd < 0)
        return;
    close(e->fd);   /* EOF: it stops and exits */
    waitpid(e->pid, NULL, 0);
}

/* ---------------------------------------------------------------- one row */

struct figures {
    bool ok;
    double sent_s, recv_s, ns_msg, usr_msg, sys_msg, wake_s, loop_s, lag50_us, lag99_us, echo_util, sc_msg;
    double util, runq_ms;
    bool kept_up;
    char note[300];
};

static void per_msg(struct figures *f, int64_t msgs, int64_t cpu, int64_t usr, int64_t sys)
{
    double n = msgs > 0 ? (double)msgs : 1;
    f->ns_msg = (double)cpu / n;
    f->usr_msg = (double)usr / n;
    f->sys_msg = (double)sys / n;
}

static void run_driver(const struct bench_params *b, enum drv_pattern pat, double links, double rate,
                       struct figures *f)
{
    struct echo_proc e;
    memset(f, 0, sizeof *f);
    if (echo_start(b, &e) < 0) {
        snprintf(f->note, sizeof f->note, "echo process did not start");
        return;
    }
    struct drv_params p;
    drv_params_default(&p);
    p.port = e.port;
    p.connect_rate_per_s = 20000;
    p.cpu = b->driver_cpu;
    p.tick_ns = b->tick_ns;
    p.threads = b->threads;
    p.groups[0].links = (uint32_t)links;
    p.groups[0].rate_per_s = rate / links;
    p.groups[0].pattern = pat;
    p.groups[0].payload_min_bytes = p.groups[0].payload_max_bytes = b->size_bytes;
    p.warmup_ns = (int64_t)(b->warmup_s * 1e9);
    p.duration_ns = (int64_t)(b->seconds * 1e9);
    p.drain_max_ns = RT_S;
    char err[256];
    struct drv *d;
    if (drv_create(&p, &d, err, sizeof err) < 0) {
        snprintf(f->note, sizeof f->note, "%s", err);
        echo_stop(&e);
        return;
    }
    struct drv_result r;
    int64_t c0 = echo_cpu(&e);
    drv_run(d, &r);
    int64_t c1 = echo_cpu(&e);
    double secs = (double)r.measure_ns / 1e9;
    const struct drv_dir *m = &r.measured.echo, *a = &r.all.echo;
    f->ok = r.links_established == (int64_t)links && secs > 0;
    f->sent_s = (double)m->sent / secs;
    f->recv_s = (double)r.window.echo_delivered / secs;
    per_msg(f, m->sent + r.window.echo_delivered, r.cpu_ns, r.cpu_user_ns, r.cpu_sys_ns);
    f->sc_msg = r.syscalls < 0 ? -1 : (double)r.syscalls / (double)(m->sent + r.window.echo_delivered + 1);
    f->wake_s = (double)r.wakeups_kernel / secs;
    f->loop_s = (double)r.wakeups / secs;
    f->lag50_us = (double)met_hist_percentile(r.lag, 50) / 1e3;
    f->lag99_us = (double)met_hist_percentile(r.lag, 99) / 1e3;
    f->echo_util = (double)(c1 - c0) / (double)(r.t_end - r.t_start);
    f->util = r.cpu_util;
    f->runq_ms = (double)r.runq_wait_ns / 1e6;
    int64_t offered = m->scheduled;
    f->kept_up = r.window.echo_delivered >= 0.98 * (double)offered &&
                 r.window.backlog_end - r.window.backlog_start <= 0.02 * (double)offered;
    if (!f->ok)
        snprintf(f->note, sizeof f->note, "%lld of %.0f links open", (long long)r.links_established, links);
    else if (a->sent != a->delivered + a->gaps + a->in_flight + a->abandoned || a->gaps || a->duplicates)
        snprintf(f->note, sizeof f->note, "accounting: sent %lld delivered %lld gaps %lld in_flight %lld dup %lld",
                 (long long)a->sent, (long long)a->delivered, (long long)a->gaps, (long long)a->in_flight,
                 (long long)a->duplicates);
    else if (r.driver_saturated)
        snprintf(f->note, sizeof f->note, "driver_saturated: %s", r.saturated_why);
    drv_destroy(d);
    echo_stop(&e);
}

static void run_floor(const struct bench_params *b, enum drv_pattern pat, double links, double rate,
                      struct figures *f)
{
    struct echo_proc e;
    memset(f, 0, sizeof *f);
    if (echo_start(b, &e) < 0) {
        snprintf(f->note, sizeof f->note, "echo process did not start");
        return;
    }
    struct drv_floor_params p;
    drv_floor_params_default(&p);
    p.port = e.port;
    p.links = (uint32_t)links;
    p.rate_per_s = rate / links;
    p.pattern = pat;
    p.payload_bytes = b->size_bytes;
    p.tick_ns = b->tick_ns;
    p.warmup_ns = (int64_t)(b->warmup_s * 1e9);
    p.duration_ns = (int64_t)(b->seconds * 1e9);
    p.cpu = b->driver_cpu;
    struct drv_floor_result r;
    char err[256] = "";
    rt_ns t0 = rt_now();
    int64_t c0 = echo_cpu(&e);
    int rc = drv_floor_run(&p, &r, err, sizeof err);
    int64_t c1 = echo_cpu(&e);
    rt_ns t1 = rt_now();
    echo_stop(&e);
    if (rc < 0) {
        snprintf(f->note, sizeof f->note, "%s", err);
        return;
    }
    double secs = (double)r.wall_ns / 1e9;
    f->ok = secs > 0;
    f->sent_s = (double)r.sent / secs;
    f->recv_s = (double)r.received / secs;
    per_msg(f, r.sent + r.received, r.cpu_ns, r.cpu_user_ns, r.cpu_sys_ns);
    f->sc_msg = r.syscalls < 0 ? -1 : (double)r.syscalls / (double)(r.sent + r.received + 1);
    f->wake_s = (double)r.wakeups_kernel / secs;
    f->loop_s = (double)r.wakeups / secs;
    f->echo_util = (double)(c1 - c0) / (double)(t1 - t0);
    f->kept_up = r.received >= 0.98 * (double)r.scheduled;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double med(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Every field's median over n runs into *dm and *fm; kept_up when most runs kept up;
 * the first run's note. Returns the median of the paired driver / floor ratios. */
static double median_of(const struct figures *d, const struct figures *f, int n, struct figures *dm,
                        struct figures *fm)
{
    const struct figures *src[2] = {d, f};
    struct figures *dst[2] = {dm, fm};
    for (int s = 0; s < 2; s++) {
        *dst[s] = src[s][0];
        static const size_t off[] = {offsetof(struct figures, sent_s), offsetof(struct figures, recv_s),
            offsetof(struct figures, ns_msg), offsetof(struct figures, usr_msg), offsetof(struct figures, sys_msg),
            offsetof(struct figures, wake_s), offsetof(struct figures, loop_s), offsetof(struct figures, lag50_us),
            offsetof(struct figures, lag99_us), offsetof(struct figures, echo_util), offsetof(struct figures, sc_msg),
            offsetof(struct figures, util), offsetof(struct figures, runq_ms)};
        for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
            double v[99];
            for (int k = 0; k < n; k++)
                v[k] = *(const double *)((const char *)&src[s][k] + off[i]);
            *(double *)((char *)dst[s] + off[i]) = med(v, n);
        }
        int kept = 0;
        for (int k = 0; k < n; k++) {
            kept += src[s][k].kept_up;
            if (!dst[s]->note[0] && src[s][k].note[0])
                memcpy(dst[s]->note, src[s][k].note, sizeof dst[s]->note);
        }
        dst[s]->kept_up = 2 * kept > n;
    }
    double r[99];
    for (int k = 0; k < n; k++)
        r[k] = f[k].ns_msg > 0 ? d[k].ns_msg / f[k].ns_msg : 0;
    return med(r, n);
}

static void loadavg(char *buf, size_t n)
{
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = 0;
    if (f) {
        if (!fgets(buf, (int)n, f))
            buf[0] = 0;
        fclose(f);
    }
    buf[strcspn(buf, " ")] = 0;
}

int drv_bench(int argc, char **argv)
{
    struct bench_params b;
    bench_defaults(&b);
    int rc = parse(argc, argv, &b);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (b.echo_only) {
        struct drv_echo_params ep;
        drv_echo_params_default(&ep);
        ep.cpu = b.server_cpu;
        struct drv_echo *e;
        uint16_t port;
        if (drv_echo_start(&ep, &e, &port) != 0)
            return 1;
        printf("%u\n", port);
        fflush(stdout);
        char buf[64];
        while (fread(buf, 1, sizeof buf, stdin) > 0) {}
        drv_echo_stop(e, NULL);
        return 0;
    }
    struct utsname u;
    uname(&u);
    char la[64];
    loadavg(la, sizeof la);
    printf("bench driver: %ld CPUs, %s %s; driver on CPU %d (%d thread%s), echo process on CPU %d;\n"
           "  %u-byte echoes, open loop, tick %lld us, %.1f s window after %.1f s warm-up; load %s\n",
           sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, b.driver_cpu, b.threads, b.threads > 1 ? "s" : "",
           b.server_cpu, b.size_bytes, (long long)(b.tick_ns / 1000), b.seconds, b.warmup_s, la);
    printf("  ns/msg: CPU per message (sent + received in the window), usr + sys; x: driver / floor;\n"
           "  sc: system calls per message (the kernel's count); +usr: the driver's user time per message\n"
           "  over the floor's; wake/s, flwk/s: the kernel's count of the driver's and the floor's sleeps\n"
           "  (voluntary switches); lag: t_sent - t_sched; cpu: the driver's busiest thread's share of its\n"
           "  core; runqms: ms it waited for its core (others ran there); echo: the echo process's CPU\n");
    printf("%-8s %6s %8s | %9s %9s | %6s %5s %5s %4s | %6s %5s %5s %4s | %5s %5s | %7s %7s | %7s %7s | %4s %4s | %4s %5s | %4s\n",
           "pattern", "links", "offered", "sent/s", "recv/s", "drv", "usr", "sys", "sc", "floor", "usr", "sys", "sc",
           "x", "+usr", "wake/s", "flwk/s", "lag50us", "lag99us", "kept", "flkp", "cpu", "runqms", "echo");
    for (int pi = 0; pi < b.n_patterns; pi++)
        for (int li = 0; li < b.n_links; li++)
            for (int ri = 0; ri < b.n_rates; ri++) {
                enum drv_pattern pat = b.patterns[pi];
                struct figures dv[99], fv[99];
                memset(dv, 0, sizeof dv);
                memset(fv, 0, sizeof fv);
                for (int k = 0; k < b.repeat; k++) {
                    /* alternate which goes first: a drift in the machine's load falls on both */
                    for (int w = 0; w < 2; w++) {
                        bool drv_turn = (w == 0) == (k % 2 == 0);
                        if (drv_turn && b.driver)
                            run_driver(&b, pat, b.links[li], b.rates[ri], &dv[k]);
                        if (!drv_turn && b.floor)
                            run_floor(&b, pat, b.links[li], b.rates[ri], &fv[k]);
                    }
                }
                struct figures dr, fl;
                double x = b.driver && b.floor ? median_of(dv, fv, b.repeat, &dr, &fl) : 0;
                if (!b.driver)
                    median_of(fv, fv, b.repeat, &fl, &fl);
                if (!b.floor)
                    median_of(dv, dv, b.repeat, &dr, &dr);
                const struct figures *o = b.driver ? &dr : &fl;
                printf("%-8s %6.0f %8.0f | %9.0f %9.0f | %6.0f %5.0f %5.0f %4.2f | %6.0f %5.0f %5.0f %4.2f | %5.2f %5.0f | %7.0f %7.0f "
                       "| %7.1f %7.1f | %4s %4s | %3.0f%% %5.0f | %3.0f%%%s%s\n",
                       pat == DRV_POISSON ? "poisson" : "constant", b.links[li], b.rates[ri], o->sent_s, o->recv_s,
                       dr.ns_msg, dr.usr_msg, dr.sys_msg, dr.sc_msg, fl.ns_msg, fl.usr_msg, fl.sys_msg, fl.sc_msg,
                       x, b.driver && b.floor ? dr.usr_msg - fl.usr_msg : 0, dr.wake_s, fl.wake_s, dr.lag50_us,
                       dr.lag99_us, !b.driver ? "-" : dr.kept_up ? "yes" : "no",
                       !b.floor ? "-" : fl.kept_up ? "yes" : "no", 100 * dr.util, dr.runq_ms, 100 * o->echo_util,
                       dr.note[0] || fl.note[0] ? "  " : "", dr.note[0] ? dr.note : fl.note);
                if (b.repeat > 1 && b.driver && b.floor) {
                    printf("%35s x per run:", "");
                    for (int k = 0; k < b.repeat; k++)
                        printf(" %.2f", fv[k].ns_msg > 0 ? dv[k].ns_msg / fv[k].ns_msg : 0);
                    printf("\n");
                }
                fflush(stdout);
            }
    loadavg(la, sizeof la);
    printf("load at the end: %s\n", la);
    return 0;
}
