/* drv_bench.c — `linkbench bench driver`: the driver's own CPU per message against an in-process echo thread. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv.h"
#include "drv_echo.h"
#include "rt.h"

/* Knobs of the bench, tcpkali style: units in the names, defaults in one place. */
struct bench_params {
    uint32_t links;                 /* default 100 */
    uint32_t size_bytes;            /* default 64 */
    double rates_per_s[32];         /* offered totals, in increasing order */
    int n_rates;
    double seconds, warmup_s;       /* measured window and warm-up per rate (2 s, 0.5 s) */
    int driver_cpu, server_cpu;     /* 0 and 1; -1 = no pinning */
    uint32_t in_flight_max;         /* per link; 0 = open loop */
    bool split;                     /* a second run timing send and receive apart (default on) */
    int64_t wake_grid_ns;           /* drv_params.wake_grid_ns (default 0: exact wake-ups) */
};

static void bench_defaults(struct bench_params *b)
{
    static const double rates[] = {20e3, 50e3, 100e3, 200e3, 400e3, 800e3, 1.6e6, 2.4e6};
    memset(b, 0, sizeof *b);
    b->links = 100;
    b->size_bytes = 64;
    b->n_rates = (int)(sizeof rates / sizeof rates[0]);
    memcpy(b->rates_per_s, rates, sizeof rates);
    b->seconds = 2;
    b->warmup_s = 0.5;
    b->driver_cpu = 0;
    b->server_cpu = 1;
    b->split = true;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: linkbench bench driver [options]\n"
            "  The driver's CPU per message (sends and receives apart) at increasing offered\n"
            "  rates, against a plain libev + vsock echo thread on another core.\n"
            "  --links N          links (default 100)\n"
            "  --size BYTES       payload bytes, >= 48 (default 64)\n"
            "  --rates R,R,...    offered msg/s, total over links (default 20k..2.4M)\n"
            "  --seconds S        measured seconds per rate (default 2)\n"
            "  --warmup S         warm-up seconds per rate (default 0.5)\n"
            "  --driver-cpu N     pin the driver (default 0; -1 none)\n"
            "  --server-cpu N     pin the echo thread (default 1; -1 none)\n"
            "  --in-flight N      echoes outstanding per link (default 0 = open loop)\n"
            "  --grid-us N        round the driver's wake-ups to an N us grid (default 0: exact)\n"
            "  --no-split         skip the second run that times send and receive apart\n");
}

static int parse_rates(const char *s, struct bench_params *b)
{
    b->n_rates = 0;
    char *end;
    while (*s && b->n_rates < 32) {
        double v = strtod(s, &end);
        if (end == s || v <= 0)
            return -1;
        if (*end == 'k' || *end == 'K') { v *= 1e3; end++; }
        else if (*end == 'm' || *end == 'M') { v *= 1e6; end++; }
        b->rates_per_s[b->n_rates++] = v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return b->n_rates ? 0 : -1;
}

static int parse(int argc, char **argv, struct bench_params *b)
{
    static const struct option opts[] = {
        {"links", 1, 0, 'l'}, {"size", 1, 0, 's'}, {"rates", 1, 0, 'r'}, {"seconds", 1, 0, 't'},
        {"warmup", 1, 0, 'w'}, {"driver-cpu", 1, 0, 'd'}, {"server-cpu", 1, 0, 'c'},
        {"in-flight", 1, 0, 'i'}, {"no-split", 0, 0, 'n'}, {"grid-us", 1, 0, 'g'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': b->links = (uint32_t)atoi(optarg); break;
        case 's': b->size_bytes = (uint32_t)atoi(optarg); break;
        case 'r':
            if (parse_rates(optarg, b) < 0) {
                fprintf(stderr, "bench driver: --rates: a list of positive numbers like 100k,1M (got '%s')\n", optarg);
                return 2;
            }
            break;
        case 't': b->seconds = atof(optarg); break;
        case 'w': b->warmup_s = atof(optarg); break;
        case 'd': b->driver_cpu = atoi(optarg); break;
        case 'c': b->server_cpu = atoi(optarg); break;
        case 'i': b->in_flight_max = (uint32_t)atoi(optarg); break;
        case 'n': b->split = false; break;
        case 'g': b->wake_grid_ns = (int64_t)(atof(optarg) * 1e3); break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (b->links < 1 || b->size_bytes < 48 || b->seconds <= 0 || b->warmup_s < 0) {
        fprintf(stderr, "bench driver: --links >= 1, --size >= 48, --seconds > 0, --warmup >= 0\n");
        return 2;
    }
    return 0;
}

/* One run at one offered rate: fresh echo thread, fresh driver, one measured window. */
static int run_once(const struct bench_params *b, double rate, bool split, struct drv_result *r,
                    double *srv_util, struct drv **out)
{
    struct drv_echo_params ep;
    drv_echo_params_default(&ep);
    ep.cpu = b->server_cpu;
    struct drv_echo *e;
    uint16_t port;
    int rc = drv_echo_start(&ep, &e, &port);
    if (rc) {
        fprintf(stderr, "bench driver: echo server: %s\n", strerror(-rc));
        return rc;
    }
    struct drv_params p;
    drv_params_default(&p);
    p.port = port;
    p.connect_rate_per_s = 0;
    p.cpu = b->driver_cpu;
    p.cpu_split = split;
    p.wake_grid_ns = b->wake_grid_ns;
    p.groups[0].links = b->links;
    p.groups[0].rate_per_s = rate / b->links;
    p.groups[0].payload_min_bytes = p.groups[0].payload_max_bytes = b->size_bytes;
    p.groups[0].in_flight_max = b->in_flight_max;
    p.warmup_ns = (int64_t)(b->warmup_s * 1e9);
    p.duration_ns = (int64_t)(b->seconds * 1e9);
    p.drain_max_ns = RT_S;
    char err[256];
    if ((rc = drv_create(&p, out, err, sizeof err)) < 0) {
        fprintf(stderr, "bench driver: %s\n", err);
        drv_echo_stop(e, NULL);
        return rc;
    }
    int64_t scpu0 = drv_echo_cpu_ns(e);
    drv_run(*out, r);
    *srv_util = (double)(drv_echo_cpu_ns(e) - scpu0) / (double)(r->t_end - r->t_start);
    drv_echo_stop(e, NULL);
    return 0;
}

/* Two runs per rate: a plain one for throughput, CPU and latency, and one with the
 * send and receive paths timed apart (that timing costs system calls of its own). */
static int bench_rate(const struct bench_params *b, double rate)
{
    struct drv_result r, rs;
    struct drv *d, *ds = NULL;
    double srv, srv_s;
    int rc = run_once(b, rate, false, &r, &srv, &d);
    if (rc)
        return rc;
    if (b->split && (rc = run_once(b, rate, true, &rs, &srv_s, &ds)) != 0) {
        drv_destroy(d);
        return rc;
    }
    double secs = (double)r.measure_ns / 1e9;
    const struct drv_dir *m = &r.measured.echo, *a = &r.all.echo;
    double per_msg = (m->sent + m->delivered) ? (double)r.cpu_ns / (double)(m->sent + m->delivered) : 0;
    double tx = 0, rx = 0;
    if (b->split) {
        tx = rs.all.echo.sent ? (double)rs.cpu_tx_ns / (double)rs.all.echo.sent : 0;
        rx = rs.all.echo.delivered ? (double)rs.cpu_rx_ns / (double)rs.all.echo.delivered : 0;
    }
    printf("%9.0f %9.0f %9.0f %5.0f%% %7.0f %7.0f %7.0f %5.0f%% %8.1f %8.1f %8.1f %8.1f %6.1f %s%s\n",
           rate, (double)m->sent / secs, (double)m->delivered / secs, 100 * r.cpu_util, per_msg, tx, rx,
           100.0 * srv, (double)met_hist_percentile(r.lat_rtt, 50) / 1e3,
           (double)met_hist_percentile(r.lat_rtt, 99) / 1e3,
           (double)met_hist_percentile(r.lat_rtt_uncorrected, 99) / 1e3, (double)r.lag_p99_ns / 1e3,
           (double)r.runq_wait_ns / 1e6, r.driver_saturated ? "SATURATED:" : "", r.saturated_why);
    fflush(stdout);
    if (a->sent != a->delivered + a->gaps + a->in_flight + a->abandoned || a->gaps || a->duplicates)
        printf("          accounting: sent %lld delivered %lld gaps %lld in_flight %lld dup %lld unsent %lld\n",
               (long long)a->sent, (long long)a->delivered, (long long)a->gaps, (long long)a->in_flight,
               (long long)a->duplicates, (long long)a->unsent);
    drv_destroy(d);
    drv_destroy(ds);
    return 0;
}

int drv_bench(int argc, char **argv)
{
    struct bench_params b;
    bench_defaults(&b);
    int rc = parse(argc, argv, &b);
    if (rc)
        return rc == 1 ? 0 : 2;
    printf("bench driver: %u links, %u B, %.1f s (+%.1f s warm-up) per rate, driver cpu %d, echo cpu %d, %s, grid %lld us\n",
           b.links, b.size_bytes, b.seconds, b.warmup_s, b.driver_cpu, b.server_cpu,
           b.in_flight_max ? "in-flight capped" : "open loop", (long long)(b.wake_grid_ns / 1000));
    printf("  ns/msg: driver CPU per message (sends + receives in the window); tx_ns, rx_ns: per send\n"
           "  and per receive, from a second run timing the paths apart (clock cost taken out);\n"
           "  srv: the echo thread's CPU share;\n"
           "  runqms: ms the driver waited for its CPU (another process on the core).\n");
    printf("%9s %9s %9s %6s %7s %7s %7s %6s %8s %8s %8s %8s %6s\n", "offered", "sent/s", "recv/s", "drvcpu",
           "ns/msg", "tx_ns", "rx_ns", "srv", "rtt50us", "rtt99us", "raw99us", "lag99us", "runqms");
    for (int i = 0; i < b.n_rates; i++)
        if (bench_rate(&b, b.rates_per_s[i]) < 0)
            return 1;
    return 0;
}
