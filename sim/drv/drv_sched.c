/* drv_sched.c — the driver's pure parts: params, shares, arrival intervals, sizes, sequence tracking. */
#include <errno.h>
#include <sched.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "drv_internal.h"

void drv_params_default(struct drv_params *p)
{
    memset(p, 0, sizeof *p);
    p->host = "127.0.0.1";
    p->path = "/";
    p->connect_rate_per_s = 5000;   /* 10 000 links in 2 s; connect() is cheap on loopback */
    p->connect_timeout_ns = 10 * RT_S;
    p->n_groups = 1;
    for (int i = 0; i < DRV_MAX_GROUPS; i++) {
        struct drv_group *g = &p->groups[i];
        g->links = i == 0 ? 1 : 0;
        g->rate_per_s = 10;
        g->pattern = DRV_CONSTANT;
        g->payload_min_bytes = g->payload_max_bytes = 64;
        g->size_dist = DRV_SIZE_FIXED;
        g->stop_reading_at_ns = -1;
    }
    p->drain_max_ns = RT_S;
    p->src_addrs_min = 1;
    p->links_per_src_max = 10000;   /* METHOD: connect() slows sharply past ~14 000 per address */
    p->pending_out_max_bytes = 256 * 1024;
    p->read_budget_bytes = 256 * 1024;
    p->tick_ns = 50 * RT_US;        /* 20 000 wake-ups a second at most; lag about a tick */
    p->threads = 1;
    p->cpu = -1;
    p->seed = 1;
    p->saturated_cpu_frac = 0.8;    /* k6 asks for >= 20 % idle on the generator */
    p->saturated_lag_ns = RT_MS;
    p->progress_interval_ns = 250 * RT_MS;
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

/* lag must also have distorted what was measured: a few ms of lag on a loaded machine,
 * with 20 ms between a link's messages and 100 ms round trips, changed neither the
 * load's shape nor the latency reported (which runs from t_sched and so includes it). */
bool drv_saturated(const struct drv_params *p, const struct drv_sat_in *in, const char **why)
{
    bool cpu = in->cpu_util > p->saturated_cpu_frac;
    int64_t interval = INT64_MAX;   /* the shortest mean interval of a sending link */
    for (int g = 0; g < p->n_groups; g++)
        if (p->groups[g].links > 0 && p->groups[g].rate_per_s > 0 &&
            1e9 / p->groups[g].rate_per_s < (double)interval)
            interval = (int64_t)(1e9 / p->groups[g].rate_per_s);
    bool lag = in->lag_p99_ns > p->saturated_lag_ns &&
               (in->lag_p99_ns >= interval || (in->rtt_p99_ns > 0 && in->lag_p99_ns * 2 > in->rtt_p99_ns));
    bool rx = in->rx_delay_p99_ns > p->saturated_lag_ns && in->rtt_p99_ns > 0 &&
              in->rx_delay_p99_ns * 2 > in->rtt_p99_ns;
    static const char *const names[8] = {"", "cpu", "lag", "cpu+lag", "rx", "cpu+rx", "lag+rx",
                                         "cpu+lag+rx"};
    if (why)
        *why = names[cpu | lag << 1 | rx << 2];
    return cpu || lag || rx;
}

int drv_params_check(const struct drv_params *p, char *err, size_t errlen)
{
    struct in_addr_probe { unsigned a, b, c, e; } ip;
    char tail;
    if (!p->host || sscanf(p->host, "%u.%u.%u.%u%c", &ip.a, &ip.b, &ip.c, &ip.e, &tail) != 4 ||
        ip.a > 255 || ip.b > 255 || ip.c > 255 || ip.e > 255)
        FAIL("host: must be an IPv4 address (got '%s')", p->host ? p->host : "(null)");
    if (p->port == 0) FAIL("port: must be set (got 0)");
    if (!p->path || p->path[0] != '/') FAIL("path: must start with '/' (got '%s')", p->path ? p->path : "(null)");
    if (p->connect_rate_per_s < 0) FAIL("connect_rate_per_s: must be >= 0 (got %g)", p->connect_rate_per_s);
    if (p->connect_timeout_ns <= 0) FAIL("connect_timeout_ns: must be > 0 (got %lld)", (long long)p->connect_timeout_ns);
    if (p->n_groups < 1 || p->n_groups > DRV_MAX_GROUPS)
        FAIL("n_groups: must be 1..%d (got %d)", DRV_MAX_GROUPS, p->n_groups);
    uint64_t links = 0;
    for (int i = 0; i < p->n_groups; i++) {
        const struct drv_group *g = &p->groups[i];
        links += g->links;
        if (g->rate_per_s < 0 || g->rate_per_s > 1e8)
            FAIL("groups[%d].rate_per_s: must be 0..1e8 (got %g)", i, g->rate_per_s);
        if (g->pattern != DRV_CONSTANT && g->pattern != DRV_POISSON)
            FAIL("groups[%d].pattern: must be constant or poisson (got %d)", i, (int)g->pattern);
        if (g->payload_min_bytes < WIRE_HDR_BYTES)
            FAIL("groups[%d].payload_min_bytes: must be >= %u, the wire header (got %u)", i,
                 WIRE_HDR_BYTES, g->payload_min_bytes);
        if (g->size_dist != DRV_SIZE_FIXED && g->payload_max_bytes < g->payload_min_bytes)
            FAIL("groups[%d].payload_max_bytes: must be >= payload_min_bytes (got %u)", i, g->payload_max_bytes);
        if ((g->size_dist == DRV_SIZE_FIXED ? g->payload_min_bytes : g->payload_max_bytes) > 16u << 20)
            FAIL("groups[%d].payload_max_bytes: must be <= 16 MiB", i);
        if (g->size_dist > DRV_SIZE_EXPONENTIAL)
            FAIL("groups[%d].size_dist: must be fixed, uniform or exponential (got %d)", i, (int)g->size_dist);
        if (g->close_rate_per_s < 0) FAIL("groups[%d].close_rate_per_s: must be >= 0 (got %g)", i, g->close_rate_per_s);
    }
    if (links == 0) FAIL("groups: at least one link is needed (got 0)");
    if (links > 1000000) FAIL("groups: at most 1 000 000 links (got %llu)", (unsigned long long)links);
    if (p->warmup_ns < 0) FAIL("warmup_ns: must be >= 0 (got %lld)", (long long)p->warmup_ns);
    if (p->duration_ns < 0) FAIL("duration_ns: must be >= 0 (got %lld)", (long long)p->duration_ns);
    if (p->drain_max_ns < 0) FAIL("drain_max_ns: must be >= 0 (got %lld)", (long long)p->drain_max_ns);
    if (p->links_per_src_max < 1) FAIL("links_per_src_max: must be >= 1 (got 0)");
    if (p->src_addrs_min < 1 || p->src_addrs_min > 254) FAIL("src_addrs_min: must be 1..254 (got %u)", p->src_addrs_min);
    if ((links + p->links_per_src_max - 1) / p->links_per_src_max > 254)
        FAIL("links_per_src_max: %llu links need more than 254 source addresses (got %u)",
             (unsigned long long)links, p->links_per_src_max);
    if (p->tick_ns < RT_US || p->tick_ns > 10 * RT_MS)
        FAIL("tick_ns: must be 1 us .. 10 ms (got %lld)", (long long)p->tick_ns);
    if (p->threads < 1 || p->threads > DRV_THREADS_MAX)
        FAIL("threads: must be 1..%d (got %d)", DRV_THREADS_MAX, p->threads);
    if (p->n_cpus < 0 || p->n_cpus > DRV_THREADS_MAX)
        FAIL("n_cpus: must be 0..%d (got %d)", DRV_THREADS_MAX, p->n_cpus);
    for (int i = 0; i < p->n_cpus; i++)
        if (p->cpus[i] < 0 || p->cpus[i] >= CPU_SETSIZE)
            FAIL("cpus[%d]: must be 0..%d (got %d)", i, CPU_SETSIZE - 1, p->cpus[i]);
    if (p->read_budget_bytes < 4096) FAIL("read_budget_bytes: must be >= 4096 (got %zu)", p->read_budget_bytes);
    if (p->nice < -20 || p->nice > 19) FAIL("nice: must be -20..19 (got %d)", p->nice);
    if (p->saturated_cpu_frac <= 0) FAIL("saturated_cpu_frac: must be > 0 (got %g)", p->saturated_cpu_frac);
    if (p->progress_interval_ns < RT_MS) FAIL("progress_interval_ns: must be >= 1 ms (got %lld)", (long long)p->progress_interval_ns);
    for (int i = 0; i < p->n_faults; i++) {
        const struct drv_fault *f = &p->faults[i];
        if (f->kind > DRV_FAULT_RESET) FAIL("faults[%d].kind: unknown (got %d)", i, (int)f->kind);
        if ((uint64_t)f->link_first + f->link_count > links)
            FAIL("faults[%d].link_first: links %u..%u beyond the %llu links", i, f->link_first,
                 f->link_first + f->link_count, (unsigned long long)links);
    }
    if (p->n_faults > 0 && !p->faults) FAIL("faults: NULL with n_faults %d", p->n_faults);
    return 0;
}

uint64_t drv_link_seed(uint64_t seed, uint32_t i)
{
    uint64_t r = seed * 0x9e3779b97f4a7c15ull + i;
    drv_rng_next(&r);
    return r;
}

int drv_share(const struct drv_params *p, int k, int n, struct drv_params *out, struct drv_fault *faults,
              int cap, uint32_t *first_id)
{
    *out = *p;
    /* per group: where this share's part of it starts (among all links), how many links
     * it takes, and where they start among the share's own */
    int64_t s_first[DRV_MAX_GROUPS], s_count[DRV_MAX_GROUPS], l_first[DRV_MAX_GROUPS];
    int64_t global = 0, local = 0, off = 0;
    int ng = 0;
    for (int g = 0; g < p->n_groups; g++) {
        /* a group's extra links (links % n) go to the shares after the previous group's,
         * round the circle: the shares' totals differ by one link at most */
        int64_t L = p->groups[g].links, base = L / n, extra = L % n, before = 0;
        for (int j = 0; j < k; j++)
            before += (j - off + n) % n < extra;
        s_count[g] = base + ((k - off + n) % n < extra);
        s_first[g] = global + k * base + before;
        off = (off + extra) % n;
        l_first[g] = local;
        if (s_count[g] > 0) {
            out->groups[ng] = p->groups[g];
            out->groups[ng].links = (uint32_t)s_count[g];
            /* churn closes the group's links at a total rate: each share its part */
            out->groups[ng].close_rate_per_s = p->groups[g].close_rate_per_s * (double)s_count[g] / (double)L;
            if (first_id)
                first_id[ng] = (uint32_t)s_first[g];
            ng++;
        }
        global += L;
        local += s_count[g];
    }
    if (local == 0)
        return -EINVAL;
    out->n_groups = ng;
    int nf = 0;
    for (int i = 0; i < p->n_faults; i++) {
        const struct drv_fault *f = &p->faults[i];
        int64_t lo0 = f->link_first, hi0 = lo0 + f->link_count;
        for (int g = 0; g < p->n_groups && nf < cap; g++) {
            int64_t lo = lo0 > s_first[g] ? lo0 : s_first[g];
            int64_t hi = hi0 < s_first[g] + s_count[g] ? hi0 : s_first[g] + s_count[g];
            if (hi <= lo)
                continue;
            faults[nf++] = (struct drv_fault){.at_ns = f->at_ns, .kind = f->kind,
                .link_first = (uint32_t)(l_first[g] + lo - s_first[g]),
                .link_count = (uint32_t)(hi - lo)};
        }
    }
    out->faults = nf ? faults : NULL;
    out->n_faults = nf;
    out->connect_rate_per_s = p->connect_rate_per_s / n;
    return 0;
}

int64_t drv_sched_interval(const struct drv_group *g, uint64_t *rng)
{
    double mean_ns = 1e9 / g->rate_per_s;
    double v = g->pattern == DRV_POISSON ? -log(drv_rng_unit(rng)) * mean_ns : mean_ns;
    return v < 1 ? 1 : v > 1e18 ? (int64_t)1e18 : (int64_t)(v + 0.5);
}

uint32_t drv_sched_size(const struct drv_group *g, uint64_t *rng)
{
    uint32_t lo = g->payload_min_bytes, hi = g->payload_max_bytes;
    switch (g->size_dist) {
    case DRV_SIZE_UNIFORM:
        return lo + (uint32_t)(drv_rng_next(rng) % ((uint64_t)hi - lo + 1));
    case DRV_SIZE_EXPONENTIAL: {
        /* mean (hi-lo)/4 keeps the clip at hi rare (e^-4 ~ 2 %) */
        double v = lo - log(drv_rng_unit(rng)) * (hi - lo) / 4.0;
        return v >= hi ? hi : (uint32_t)v;
    }
    default:
        return lo;
    }
}

/* ---------------------------------------------------------------- sequence tracking */

#define BIT(t, s) ((t)->bits[((s) % DRV_WIN_BITS) / 64])
#define MASK(s) (1ull << ((s) % 64))

void drv_seq_reset(struct drv_seqtrack *t, uint64_t next)
{
    t->next = next;
    /* everything below `next` counts as seen: a straggler from before is a duplicate */
    memset(t->bits, next ? 0xff : 0, sizeof t->bits);
}

enum drv_rx drv_seq_rx(struct drv_seqtrack *t, uint64_t s, uint64_t *gap)
{
    *gap = 0;
    if (s >= t->next) {
        uint64_t skip = s - t->next;
        if (skip >= DRV_WIN_BITS)
            memset(t->bits, 0, sizeof t->bits);
        else
            for (uint64_t k = t->next; k < s; k++)
                BIT(t, k) &= ~MASK(k);
        BIT(t, s) |= MASK(s);
        t->next = s + 1;
        *gap = skip;
        return DRV_RX_NEW;
    }
    if (t->next - s > DRV_WIN_BITS)
        return DRV_RX_STALE;
    if (BIT(t, s) & MASK(s))
        return DRV_RX_DUP;
    BIT(t, s) |= MASK(s);
    return DRV_RX_LATE;
}

