/* bench_peers.c — `linkbench bench peers`: built-in variants (through `linkbench serve`) and reference WebSocket servers side by side, alternating, with one driver: messages per server CPU-second at offered rates, and server RSS per idle link. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "drv.h"
#include "met_hist.h"
#include "met_machine.h"
#include "run_ext.h"

/* Method (printed with the results, README "evloop"):
 * - every server runs alone, pinned to server_cpu, started fresh for each run; the
 *   driver thread is pinned to driver_cpu; servers alternate within one invocation
 *   (order rotated each alternation), so a ratio compares runs minutes apart at most;
 * - the window is cut by the driver's progress ticks (every 10 ms): at the first tick of
 *   the measured phase and at the last tick before it ends (20-30 ms short of the
 *   driver's window, so that it never reaches into the drain), the driver's own counters
 *   (echoes received, messages sent) and the server's /proc readings (per-thread
 *   schedstat CPU of the process and its descendants) are taken back to back on the
 *   driver thread, so messages and CPU come from the same window; the kernel's share of
 *   that CPU comes from utime/stime of the same tree at the same two ticks (10 ms
 *   resolution);
 * - msgs per CPU-s = echoes received in the window / server CPU in the window: each echo
 *   is one message in and one out, counted once, as uWebSockets' benchmarks count;
 * - kept up: echoes received in the window >= 98 % of messages sent in it, and the
 *   driver sent >= 98 % of what it scheduled (otherwise the driver limited the run,
 *   which then says nothing of the server: left out of the medians, as is a run whose
 *   window the driver's ticks missed);
 * - every run's accounting is checked: an echo lost, corrupted or duplicated makes the
 *   run invalid (printed, and left out of the medians);
 * - memory: idle_links links opened by the same driver, no traffic, held through the
 *   warm-up (longer than evloop's trim_after_ms); RSS of the server process tree from
 *   /proc before the first link and at the end of the window, divided by links held. */

#define MAX_SERVERS 8
#define MAX_RATES 8
#define MAX_ALT 16

typedef struct server {
    char label[32];
    char cmd[1024];   /* long enough for two paths of 400 */
    uint16_t port;        /* 0: the command prints HOST:PORT on its first line */
    bool builtin;         /* `linkbench serve`: its app and variant settings are ours */
    bool skip;
    char why[256];
} server;

typedef struct bparams {
    uint32_t links, size_bytes, idle_links;
    double rates[MAX_RATES];
    int n_rates, alternations;
    double seconds, warmup_s, idle_hold_s;
    int server_cpu, driver_cpu;
    const char *out_dir;
    server srv[MAX_SERVERS];
    int n_srv;
    int ref;              /* index of the reference for the ratio, -1 = none */
} bparams;

typedef struct result {
    bool ok, valid, kept_up;
    char note[160];
    double msgs_per_cpu_s, cpu_util, rtt_p99_us, rx_per_s;
    double sys_share;     /* kernel share of the server's CPU (utime/stime) */
    int64_t links, rss_per_link, rss_peak;
} result;

/* ---------------------------------------------------------------- one run */

typedef struct window {
    run_tproc *tp;
    pid_t root;           /* the server command's process */
    int64_t len_ns;       /* the driver's measured window */
    bool m1, m2;
    int64_t t1, t2, rx1, rx2, tx1, tx2;
    int64_t user1, sys1, user2, sys2;   /* ticks, the process tree */
} window;

/* User and system CPU of pid and its descendants (/proc/PID/stat utime, stime: clock
 * ticks): where the server's CPU goes, beside the schedstat total run_tproc reads. */
static void tree_times(pid_t pid, int depth, int64_t *user, int64_t *sys)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        char *p = strrchr(buf, ')');   /* comm may hold spaces: fields count after it */
        unsigned long long ut = 0, st = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
            *user += (int64_t)ut;
            *sys += (int64_t)st;
        }
    }
    if (depth > 4)
        return;
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    for (char *s = buf, *e; *s; s = e) {
        long c = strtol(s, &e, 10);
        if (e == s)
            break;
        if (c > 0)
            tree_times((pid_t)c, depth + 1, user, sys);
    }
}

static void on_progress(struct drv *d, const struct drv_progress *p, void *arg)
{
    (void)d;
    window *w = arg;
    if (p->phase >= DRV_PHASE_MEASURE && !w->m1) {
        w->m1 = true;
        w->t1 = p->t_ns;
        w->rx1 = p->delivered;
        w->tx1 = p->sent;
        run_tproc_mark(w->tp, 1);
        tree_times(w->root, 0, &w->user1, &w->sys1);
    }
    /* The window closes at the last tick that is surely inside the sending period: the
     * drain may end before any tick of its own (every echo back at once). */
    if (w->m1 && !w->m2 && (p->phase >= DRV_PHASE_DRAIN || p->t_ns >= w->t1 + w->len_ns - 30 * RT_MS)) {
        w->m2 = true;
        w->t2 = p->t_ns;
        w->rx2 = p->delivered;
        w->tx2 = p->sent;
        run_tproc_mark(w->tp, 2);
        tree_times(w->root, 0, &w->user2, &w->sys2);
    }
}

/* Wait until something accepts on 127.0.0.1:port (a server that does not print its
 * address). 0, or -1 after timeout. */
static int wait_port(uint16_t port, rt_ns timeout)
{
    rt_ns end = rt_now() + timeout;
    while (rt_now() < end) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
        if (rc == 0)
            return 0;
        rt_sleep(20 * RT_MS, NULL);
    }
    return -1;
}

static bool port_taken(uint16_t port)
{
    return port && wait_port(port, 1) == 0;
}

static double jnum(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* One server, one load: rate 0 = the idle-memory run with idle_links links. */
static void peer_run(const bparams *b, const server *sv, double rate, int tag, result *res)
{
    memset(res, 0, sizeof *res);
    bool idle = rate <= 0;
    uint32_t links = idle ? b->idle_links : b->links;
    char out[PATH_MAX + 64], err[1024] = "";
    snprintf(out, sizeof out, "%s/%s_%d.out", b->out_dir, sv->label, tag);
    if (port_taken(sv->port)) {
        snprintf(res->note, sizeof res->note, "port %u is taken before the start", sv->port);
        return;
    }
    run_target t = {.url = "", .cmd = sv->cmd};
    uint16_t port = sv->port;
    run_tproc *tp = NULL;
    int cpus[1] = {b->server_cpu};
    if (run_tproc_start(&t, out, cpus, b->server_cpu >= 0, sv->port == 0, &port, &tp, err,
                        sizeof err) < 0 || !tp) {
        snprintf(res->note, sizeof res->note, "start: %.140s", err);
        return;
    }
    if (sv->port && wait_port(sv->port, 10 * RT_S) < 0) {
        snprintf(res->note, sizeof res->note, "nothing listens on port %u after 10 s", sv->port);
        run_tproc_stop(tp, NULL, 0);
        return;
    }
    run_tproc_mark(tp, 0);
    struct drv_params p;
    drv_params_default(&p);
    p.port = port;
    p.connect_rate_per_s = idle ? 10000 : 0;
    p.cpu = b->driver_cpu;
    p.groups[0].links = links;
    p.groups[0].rate_per_s = idle ? 0 : rate / links;
    p.groups[0].pattern = DRV_POISSON;
    p.groups[0].payload_min_bytes = p.groups[0].payload_max_bytes = b->size_bytes;
    p.warmup_ns = (int64_t)((idle ? b->idle_hold_s : b->warmup_s) * 1e9);
    p.duration_ns = (int64_t)((idle ? 1.0 : b->seconds) * 1e9);
    p.drain_max_ns = 5 * RT_S;
    p.progress_interval_ns = 10 * RT_MS;
    window w = {.tp = tp, .root = run_tproc_pid(tp), .len_ns = p.duration_ns};
    p.progress = on_progress;
    p.progress_arg = &w;
    struct drv *d = NULL;
    struct drv_result r;
    if (drv_create(&p, &d, err, sizeof err) < 0) {
        snprintf(res->note, sizeof res->note, "driver: %.140s", err);
        run_tproc_stop(tp, NULL, 0);
        return;
    }
    drv_run(d, &r);
    if (!w.m2)
        run_tproc_mark(tp, 2);
    bool gone = run_tproc_exited(tp);
    json_t *m = json_object();
    char where[128];
    json_t *kernel = json_object();   /* the readings themselves: not printed here */
    run_tproc_metrics(tp, m, kernel, r.links_established, where, sizeof where);
    json_decref(kernel);
    char how[128];
    run_tproc_stop(tp, how, sizeof how);
    const struct drv_dir *e = &r.all.echo;
    res->links = r.links_established;
    res->ok = !gone && r.links_established == links &&
              (idle || (w.m2 && w.t2 - w.t1 >= p.duration_ns / 2));
    res->valid = e->gaps == 0 && e->corrupted == 0 && e->duplicates == 0 && e->in_flight == 0 &&
                 e->abandoned == 0;
    if (gone)
        snprintf(res->note, sizeof res->note, "the server ended during the run (%.100s)", how);
    else if (r.links_established < links)
        snprintf(res->note, sizeof res->note, "held %lld of %u links", (long long)r.links_established, links);
    else if (!idle && (!w.m2 || w.t2 - w.t1 < p.duration_ns / 2))
        snprintf(res->note, sizeof res->note, "the driver's progress ticks missed the window (a starved "
                 "driver): not counted");
    else if (!res->valid)
        snprintf(res->note, sizeof res->note, "accounting: %lld lost, %lld corrupted, %lld dup, %lld in flight",
                 (long long)e->gaps, (long long)e->corrupted, (long long)e->duplicates,
                 (long long)(e->in_flight + e->abandoned));
    double win_s = (double)(w.t2 - w.t1) / 1e9, cpu = jnum(m, "cpu_server_s");
    int64_t rx = w.rx2 - w.rx1, tx = w.tx2 - w.tx1;
    res->cpu_util = win_s > 0 ? cpu / win_s : 0;
    res->msgs_per_cpu_s = cpu > 0 ? (double)rx / cpu : 0;
    res->rx_per_s = win_s > 0 ? (double)rx / win_s : 0;
    res->rtt_p99_us = (double)met_hist_percentile(r.lat_rtt, 99) / 1e3;
    const struct drv_dir *ms = &r.measured.echo;
    res->kept_up = rx >= 0.98 * (double)tx && ms->sent >= 0.98 * (double)ms->scheduled;
    if (!idle && res->ok && ms->sent < 0.98 * (double)ms->scheduled) {
        /* the driver, not the server, limited the run: it says nothing of the server */
        res->ok = false;
        snprintf(res->note, sizeof res->note, "the driver sent %.1f %% of its schedule%s%s: not counted",
                 100.0 * (double)ms->sent / (double)(ms->scheduled ? ms->scheduled : 1),
                 r.driver_saturated ? ", saturated: " : "", r.driver_saturated ? r.saturated_why : "");
    }
    int64_t ut = w.user2 - w.user1, st = w.sys2 - w.sys1;
    res->sys_share = ut + st > 0 ? (double)st / (double)(ut + st) : 0;
    res->rss_per_link = (int64_t)jnum(m, "rss_per_link_bytes");
    res->rss_peak = (int64_t)jnum(m, "rss_peak_bytes");
    json_decref(m);
    if (idle)
        printf("  %-14s idle %6lld links  RSS +%7.1f KiB per link  peak %6.1f MiB  %s\n", sv->label,
               (long long)res->links, (double)res->rss_per_link / 1024, (double)res->rss_peak / 1048576,
               res->note);
    else
        printf("  %-14s %8.0f/s  %9.0f msgs/CPU-s  cpu %5.1f %% (kernel %3.0f %%)  echoed %9.0f/s  rtt p99 "
               "%9.1f us  %s%s%s\n", sv->label, rate, res->msgs_per_cpu_s, 100 * res->cpu_util,
               100 * res->sys_share, res->rx_per_s, res->rtt_p99_us,
               !res->ok ? "–" : res->kept_up ? "kept up" : "FELL BEHIND", res->note[0] ? "  " : "",
               res->note);
    fflush(stdout);
    drv_destroy(d);
}

/* ---------------------------------------------------------------- servers */

/* The command's program (its first word) can be run: a reference that is not installed
 * is skipped, not failed. */
static bool installed(const char *cmd, char *why, size_t len)
{
    char prog[PATH_MAX];
    size_t n = strcspn(cmd, " \t");
    if (n == 0 || n >= sizeof prog) {
        snprintf(why, len, "empty command");
        return false;
    }
    memcpy(prog, cmd, n);
    prog[n] = 0;
    if (strchr(prog, '/')) {
        if (access(prog, X_OK) == 0)
            return true;
        snprintf(why, len, "%.180s: not installed (%.40s)", prog, strerror(errno));
        return false;
    }
    const char *path = getenv("PATH");
    for (const char *s = path ? path : "/usr/bin:/bin"; *s;) {
        size_t k = strcspn(s, ":");
        char full[PATH_MAX * 2];
        snprintf(full, sizeof full, "%.*s/%s", (int)k, s, prog);
        if (access(full, X_OK) == 0)
            return true;
        s += k + (s[k] == ':');
    }
    snprintf(why, len, "%.200s: not found in PATH", prog);
    return false;
}

/* --peer LABEL=CMD or LABEL@PORT=CMD */
static int add_peer(bparams *b, const char *spec)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || b->n_srv >= MAX_SERVERS)
        return -1;
    server *s = &b->srv[b->n_srv];
    memset(s, 0, sizeof *s);
    const char *at = memchr(spec, '@', (size_t)(eq - spec));
    size_t ln = (size_t)((at ? at : eq) - spec);
    if (ln >= sizeof s->label)
        return -1;
    memcpy(s->label, spec, ln);
    if (at) {
        char *end;
        long port = strtol(at + 1, &end, 10);
        if (end != eq || port <= 0 || port > 65535)
            return -1;
        s->port = (uint16_t)port;
    }
    if (snprintf(s->cmd, sizeof s->cmd, "%s", eq + 1) >= (int)sizeof s->cmd)
        return -1;
    b->n_srv++;
    return 0;
}

/* --variant NAME or NAME+inline: `linkbench serve` with one loop and one app worker. */
static int add_variant(bparams *b, const char *name, const char *self)
{
    if (b->n_srv >= MAX_SERVERS || strlen(name) >= sizeof b->srv[0].label)
        return -1;
    server *s = &b->srv[b->n_srv];
    memset(s, 0, sizeof *s);
    snprintf(s->label, sizeof s->label, "%s", name);
    char *plus = strchr(s->label, '+');
    bool inl = plus && !strcmp(plus, "+inline");
    if (plus && !inl)
        return -1;
    if (plus)
        *plus = 0;
    char scen[PATH_MAX + 64];
    snprintf(scen, sizeof scen, "%s/serve_%s%s.json", b->out_dir, s->label, inl ? "_inline" : "");
    FILE *f = fopen(scen, "w");
    if (!f)
        return -2;
    fprintf(f, "{\"name\": \"bench_peers\", \"description\": \"linkbench bench peers: the built-in "
            "server, one loop, one app worker%s\",\n \"app\": {\"mode\": \"echo\", \"workers\": 1%s},\n"
            " \"variant_config\": {\"evloop\": {\"loops\": 1}}}\n", inl ? ", handlers inline" : "",
            inl ? ", \"inline\": true" : "");
    fclose(f);
    char variant[sizeof s->label];
    memcpy(variant, s->label, sizeof variant);
    if (snprintf(s->cmd, sizeof s->cmd, "%.400s serve --variant %s --listen 127.0.0.1:0 %.400s", self,
                 variant, scen) >= (int)sizeof s->cmd)
        return -1;
    if (inl)
        strcat(s->label, "+inline");
    s->builtin = true;
    b->n_srv++;
    return 0;
}

/* ---------------------------------------------------------------- summary */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fmt_count(double v, char *out, size_t len)
{
    if (v >= 1e6)
        snprintf(out, len, "%.2f M", v / 1e6);
    else if (v >= 1e3)
        snprintf(out, len, "%.1f k", v / 1e3);
    else
        snprintf(out, len, "%.0f", v);
}

static void fmt_us(double us, char *out, size_t len)
{
    if (us >= 1e6)
        snprintf(out, len, "%.2f s", us / 1e6);
    else if (us >= 1e3)
        snprintf(out, len, "%.2f ms", us / 1e3);
    else
        snprintf(out, len, "%.0f µs", us);
}

typedef struct agg { double med, lo, hi, cpu, sys, rtt; int n, kept, runs; } agg;

static agg aggregate(const result *rs, int n)
{
    agg a = {0};
    double v[MAX_ALT], c[MAX_ALT], t[MAX_ALT], k[MAX_ALT];
    a.runs = n;
    for (int i = 0; i < n; i++) {
        if (!rs[i].ok || !rs[i].valid)
            continue;
        v[a.n] = rs[i].msgs_per_cpu_s;
        c[a.n] = rs[i].cpu_util;
        t[a.n] = rs[i].rtt_p99_us;
        k[a.n] = rs[i].sys_share;
        a.kept += rs[i].kept_up;
        a.n++;
    }
    if (!a.n)
        return a;
    a.med = median(v, a.n);
    a.lo = v[0];
    a.hi = v[a.n - 1];
    a.cpu = median(c, a.n);
    a.rtt = median(t, a.n);
    a.sys = median(k, a.n);
    return a;
}

static void print_summary(const bparams *b, result (*res)[MAX_SERVERS][MAX_ALT], const result *mem)
{
    printf("\n| offered | server | msgs per server CPU-s (range) | ÷ %s | server CPU (kernel share) | rtt p99 | kept up |\n"
           "| ---: | --- | ---: | ---: | ---: | ---: | --- |\n", b->ref >= 0 ? b->srv[b->ref].label : "ref");
    for (int i = 0; i < b->n_rates; i++) {
        agg ref = b->ref >= 0 ? aggregate(res[i][b->ref], b->alternations) : (agg){0};
        for (int s = 0; s < b->n_srv; s++) {
            if (b->srv[s].skip)
                continue;
            agg a = aggregate(res[i][s], b->alternations);
            char off[32], med[32], lo[32], hi[32], rtt[32], ratio[32] = "–";
            fmt_count(b->rates[i], off, sizeof off);
            if (!a.n) {
                printf("| %s/s | %s | no valid run | – | – | – | – |\n", off, b->srv[s].label);
                continue;
            }
            fmt_count(a.med, med, sizeof med);
            fmt_count(a.lo, lo, sizeof lo);
            fmt_count(a.hi, hi, sizeof hi);
            fmt_us(a.rtt, rtt, sizeof rtt);
            if (ref.n && ref.med > 0)
                snprintf(ratio, sizeof ratio, "%.2f", a.med / ref.med);
            printf("| %s/s | %s | %s (%s–%s) | %s | %.0f %% (%.0f %%) | %s | %s |\n", off, b->srv[s].label,
                   med, lo, hi, ratio, 100 * a.cpu, 100 * a.sys, rtt,
                   a.kept == a.runs ? "yes" : a.kept == 0 ? "no" : "partly");
        }
    }
    if (!b->idle_links)
        return;
    printf("\n| server | idle links held | server RSS per idle link | peak RSS |\n| --- | ---: | ---: | ---: |\n");
    for (int s = 0; s < b->n_srv; s++) {
        if (b->srv[s].skip)
            continue;
        const result *r = &mem[s];
        if (!r->ok)
            printf("| %s | %lld | – (%s) | – |\n", b->srv[s].label, (long long)r->links, r->note);
        else
            printf("| %s | %lld | %lld B | %.1f MiB |\n", b->srv[s].label, (long long)r->links,
                   (long long)r->rss_per_link, (double)r->rss_peak / 1048576);
    }
}

/* ---------------------------------------------------------------- command */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: linkbench bench peers [options]\n"
        "  Built-in variants (through `linkbench serve`, one loop, one app worker) and reference\n"
        "  WebSocket echo servers side by side: each server alone on --server-cpu, the same\n"
        "  driver on --driver-cpu, servers alternating; messages and server CPU (/proc) from\n"
        "  one window; then server RSS per idle link. Prints the runs and a markdown table.\n"
        "  --variant NAME[+inline]  a built-in server (default: evloop); +inline runs the app's\n"
        "                     handlers on the variant's own threads (app.inline); repeatable\n"
        "  --peer LABEL=CMD   a reference server started with /bin/sh -c CMD; it prints HOST:PORT\n"
        "                     on its first line, or give LABEL@PORT=CMD; skipped when CMD's\n"
        "                     program is not installed; repeatable\n"
        "  --ref LABEL        the server ratios are taken against (default: the first --peer)\n"
        "  --rates R,R,...    offered msg/s in total (default 10k,100k,1M; none: memory only)\n"
        "  --links N          links under load (default 100)\n"
        "  --size BYTES       payload, >= 48 (default 64)\n"
        "  --seconds S        measured window (default 5)\n"
        "  --warmup S         warm-up (default 1)\n"
        "  --alternations N   runs per server and rate (default 2)\n"
        "  --idle-links N     links for the memory run (default 10000; 0 skips it)\n"
        "  --idle-hold S      idle time before RSS is read (default 3: past trim_after_ms)\n"
        "  --server-cpu N     (default 0)   --driver-cpu N  (default 1); -1 = no pinning\n"
        "  --out DIR          server outputs and serve scenarios (default results/bench_peers/STAMP)\n");
}

static int parse_rates(const char *s, bparams *b)
{
    b->n_rates = 0;
    if (!strcmp(s, "none"))
        return 0;   /* the memory run only */
    while (*s && b->n_rates < MAX_RATES) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || v <= 0)
            return -1;
        if (*end == 'k' || *end == 'K') { v *= 1e3; end++; }
        else if (*end == 'm' || *end == 'M') { v *= 1e6; end++; }
        if (*end && *end != ',')
            return -1;
        b->rates[b->n_rates++] = v;
        s = *end ? end + 1 : end;
    }
    return b->n_rates || !strcmp(s, "none") ? 0 : -1;
}

static int mkdirs(const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = 0;
            if (mkdir(p, 0777) < 0 && errno != EEXIST)
                return -1;
            *c = '/';
        }
    return mkdir(p, 0777) < 0 && errno != EEXIST ? -1 : 0;
}

/* The 1, 5 and 15 minute load averages: the record a shared machine needs. */
static void loadavg(char *out, size_t len)
{
    double a = -1, b = -1, c = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
            a = b = c = -1;
        fclose(f);
    }
    snprintf(out, len, "%.2f %.2f %.2f", a, b, c);
}

int bench_peers_main(int argc, char **argv)
{
    static bparams b;
    static result res[MAX_RATES][MAX_SERVERS][MAX_ALT], mem[MAX_SERVERS];
    memset(&b, 0, sizeof b);
    b.links = 100;
    b.size_bytes = 64;
    b.idle_links = 10000;
    b.alternations = 2;
    b.seconds = 5;
    b.warmup_s = 1;
    b.idle_hold_s = 3;
    b.server_cpu = 0;
    b.driver_cpu = 1;
    b.ref = -1;
    parse_rates("10k,100k,1M", &b);
    const char *variants[MAX_SERVERS], *peers[MAX_SERVERS], *ref = NULL;
    int nv = 0, np = 0;
    static char outbuf[PATH_MAX];
    static const struct option opts[] = {
        {"variant", 1, 0, 'v'}, {"peer", 1, 0, 'p'}, {"ref", 1, 0, 'R'}, {"rates", 1, 0, 'r'},
        {"links", 1, 0, 'l'}, {"size", 1, 0, 's'}, {"seconds", 1, 0, 't'}, {"warmup", 1, 0, 'w'},
        {"alternations", 1, 0, 'a'}, {"idle-links", 1, 0, 'i'}, {"idle-hold", 1, 0, 'H'},
        {"server-cpu", 1, 0, 'c'}, {"driver-cpu", 1, 0, 'd'}, {"out", 1, 0, 'o'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'v': if (nv < MAX_SERVERS) variants[nv++] = optarg; break;
        case 'p': if (np < MAX_SERVERS) peers[np++] = optarg; break;
        case 'R': ref = optarg; break;
        case 'r':
            if (parse_rates(optarg, &b) < 0) {
                fprintf(stderr, "bench peers: --rates: positive numbers like 10k,1M (got '%s')\n", optarg);
                return 2;
            }
            break;
        case 'l': b.links = (uint32_t)atoi(optarg); break;
        case 's': b.size_bytes = (uint32_t)atoi(optarg); break;
        case 't': b.seconds = atof(optarg); break;
        case 'w': b.warmup_s = atof(optarg); break;
        case 'a': b.alternations = atoi(optarg); break;
        case 'i': b.idle_links = (uint32_t)atoi(optarg); break;
        case 'H': b.idle_hold_s = atof(optarg); break;
        case 'c': b.server_cpu = atoi(optarg); break;
        case 'd': b.driver_cpu = atoi(optarg); break;
        case 'o': b.out_dir = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || b.links < 1 || b.size_bytes < 48 || b.seconds <= 0 || b.warmup_s < 0 ||
        b.alternations < 1 || b.alternations > MAX_ALT || b.idle_links > 19000 || b.idle_hold_s < 0) {
        fprintf(stderr, "bench peers: --links >= 1, --size >= 48, --seconds > 0, --warmup >= 0, "
                "--alternations 1..%d, --idle-links <= 19000 (one process's open files)\n", MAX_ALT);
        return 2;
    }
    if (!b.out_dir) {
        char ts[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(outbuf, sizeof outbuf, "results/bench_peers/%s", ts);
        b.out_dir = outbuf;
    }
    if (mkdirs(b.out_dir) < 0) {
        fprintf(stderr, "bench peers: cannot create %s: %s\n", b.out_dir, strerror(errno));
        return 1;
    }
    char self[PATH_MAX];
    ssize_t sn = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sn <= 0) {
        fprintf(stderr, "bench peers: cannot find the linkbench executable\n");
        return 1;
    }
    self[sn] = 0;
    if (nv == 0)
        variants[nv++] = "evloop";
    for (int i = 0; i < nv; i++)
        if (add_variant(&b, variants[i], self) < 0) {
            fprintf(stderr, "bench peers: --variant %s: NAME or NAME+inline, at most %d servers\n",
                    variants[i], MAX_SERVERS);
            return 2;
        }
    for (int i = 0; i < np; i++)
        if (add_peer(&b, peers[i]) < 0) {
            fprintf(stderr, "bench peers: --peer: LABEL=CMD or LABEL@PORT=CMD, a label under 32 "
                    "characters, at most %d servers (got '%s')\n", MAX_SERVERS, peers[i]);
            return 2;
        }
    for (int s = 0; s < b.n_srv; s++) {
        server *sv = &b.srv[s];
        if (!installed(sv->cmd, sv->why, sizeof sv->why)) {
            sv->skip = true;
            printf("skipped: %s: %s\n", sv->label, sv->why);
        }
        if (!sv->skip && (ref ? !strcmp(ref, sv->label) : (b.ref < 0 && !sv->builtin)))
            b.ref = s;
    }
    met_machine mm;
    met_machine_begin(&mm);
    char la0[64], la1[64];
    loadavg(la0, sizeof la0);
    printf("bench peers: %u links, %u B Poisson echo, %.1f s windows (+%.1f s warm-up), server on CPU %d, "
           "driver on CPU %d, %d alternations; load average %s\n", b.links, b.size_bytes, b.seconds,
           b.warmup_s, b.server_cpu, b.driver_cpu, b.alternations, la0);
    for (int s = 0; s < b.n_srv; s++)
        if (!b.srv[s].skip)
            printf("  %-14s %s\n", b.srv[s].label, b.srv[s].cmd);
    int tag = 0;
    for (int i = 0; i < b.n_rates; i++)
        for (int a = 0; a < b.alternations; a++)
            for (int k = 0; k < b.n_srv; k++) {
                int s = (k + a) % b.n_srv;   /* rotate: nobody always runs first */
                if (!b.srv[s].skip)
                    peer_run(&b, &b.srv[s], b.rates[i], tag++, &res[i][s][a]);
            }
    for (int s = 0; b.idle_links && s < b.n_srv; s++)
        if (!b.srv[s].skip)
            peer_run(&b, &b.srv[s], 0, tag++, &mem[s]);
    met_machine_end(&mm);
    loadavg(la1, sizeof la1);
    print_summary(&b, res, mem);
    printf("\nload average %s at the start, %s at the end; ", la0, la1);
    met_machine_print(&mm, stdout);
    printf("server outputs: %s\n", b.out_dir);
    return 0;
}
