/* run_shard.c — `linkbench run --shard I/N`: this host's part of the plan, the common start by the wall clock, and the shard object a merge joins exactly. */
#include "run_shard.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "met_hist.h"
#include "met_hlog.h"
#include "run.h"
#include "run_acct.h"

/* ---------------------------------------------------------------- options */

int run_shard_parse(const char *spec, run_shard *sh, char *err, size_t errlen)
{
    memset(sh, 0, sizeof *sh);
    char *end;
    errno = 0;
    long i = strtol(spec, &end, 10);
    if (errno || end == spec || *end != '/') {
        snprintf(err, errlen, "--shard: must be I/N, shard I of N counted from 0 (got \"%s\")", spec);
        return -EINVAL;
    }
    const char *q = end + 1;
    long n = strtol(q, &end, 10);
    if (errno || end == q || *end || n < 1 || n > 100000 || i < 0 || i >= n) {
        snprintf(err, errlen, "--shard: must be I/N with 0 <= I < N <= 100000 (got \"%s\")", spec);
        return -EINVAL;
    }
    sh->index = (int)i;
    sh->count = (int)n;
    return 0;
}

int run_shard_parse_time(const char *s, int64_t *utc_ns, char *err, size_t errlen)
{
    char *end;
    if (s[0] == '@') {
        errno = 0;
        double v = strtod(s + 1, &end);
        if (errno || end == s + 1 || *end || !(v > 0) || v > 9e9) {
            snprintf(err, errlen, "--start-at: @SECONDS must be a positive number of seconds since "
                     "the epoch (got \"%s\")", s);
            return -EINVAL;
        }
        *utc_ns = (int64_t)llround(v * 1e9);
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    double frac = 0;
    if (p && *p == '.') {
        errno = 0;
        frac = strtod(p, &end);   /* ".123" */
        p = errno || end == p ? NULL : end;
    }
    if (!p || strcmp(p, "Z") != 0) {
        snprintf(err, errlen, "--start-at: must be a UTC time YYYY-MM-DDTHH:MM:SS[.fff]Z or "
                 "@SECONDS (got \"%s\")", s);
        return -EINVAL;
    }
    time_t t = timegm(&tm);
    *utc_ns = (int64_t)t * 1000000000 + (int64_t)llround(frac * 1e9);
    return 0;
}

void run_shard_format_time(int64_t utc_ns, char *buf, size_t len)
{
    time_t t = (time_t)(utc_ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[32];
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", s, (int)(utc_ns % 1000000000 / 1000000));
}

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double run_shard_slot(const struct scn *s, int64_t links, int count)
{
    double ramp = s->connect_rate_per_s > 0 ? (double)links / s->connect_rate_per_s : 0;
    double per_shard = (double)links / (count > 0 ? count : 1);
    return ceil(ramp + s->warmup_s + s->duration_s + 5.0 + per_shard * 0.0025 + 5.0);
}

/* ---------------------------------------------------------------- the split */

int run_shard_apply(const run_shard *sh, const struct scn *s, int64_t links, struct drv_params *p,
                    run_shard_run *x, char *err, size_t errlen)
{
    memset(x, 0, sizeof *x);
    /* the plan's groups are the scenario's non-empty groups in order, "default" last
     * (run_plan_driver): their names, for the report */
    const char *names[DRV_MAX_GROUPS];
    int ng = 0;
    for (int i = 0; i <= s->n_groups && ng < DRV_MAX_GROUPS; i++)
        if (scn_group_links(s, i, links) > 0)
            names[ng++] = i < s->n_groups ? s->groups[i].name : "default";
    x->ranges = json_array();
    for (int g = 0; g < p->n_groups; g++) {
        int64_t first, count;
        run_drvs_share_range(p, g, sh->index, sh->count, &first, &count);
        x->links += count;
        if (count > 0)
            json_array_append_new(x->ranges, json_pack("{s:s,s:I,s:I}", "group",
                                  g < ng ? names[g] : "?", "first", (json_int_t)first,
                                  "count", (json_int_t)count));
    }
    struct drv_params mine;
    if (run_drvs_share(p, sh->index, sh->count, &mine, x->faults, RUN_DRVS_FAULTS_MAX) < 0) {
        snprintf(err, errlen, "shard %d/%d holds no link: the scenario has %lld links for %d shards",
                 sh->index, sh->count, (long long)links, sh->count);
        return -EINVAL;
    }
    *p = mine;
    return 0;
}

void run_shard_run_deinit(run_shard_run *x)
{
    json_decref(x->ranges);
    x->ranges = NULL;
}

/* ---------------------------------------------------------------- the start */

bool run_shard_start(run_shard *sh, run_shard_run *x, const struct scn *s, const char *host,
                     uint16_t port, const char *path, bool quiet)
{
    int64_t at = sh->runs == 0 ? sh->start_at_ns : sh->next_start_ns;
    /* before the wait, and never past the start: 8 samples take about a second */
    if (!sh->clock)
        sh->clock = run_shard_clock_probe(host, port, path, 8, at > 0 ? at - 200 * 1000000LL : 0);
    x->requested_ns = at;
    if (at > 0 && !quiet) {
        char t[48];
        run_shard_format_time(at, t, sizeof t);
        double in = (double)(at - realtime_ns()) / 1e9;
        fprintf(stderr, "linkbench: shard %d/%d: run %d starts at %s (%s %.1f s)\n", sh->index,
                sh->count, sh->runs + 1, t, in >= 0 ? "in" : "late by", fabs(in));
    }
    /* in steps, so that Ctrl-C is seen; CLOCK_REALTIME: the hosts share the wall clock,
     * not their monotonic clocks */
    while (at > 0 && !run_interrupted) {
        int64_t left = at - realtime_ns();
        if (left <= 0)
            break;
        if (left > 200 * 1000000LL) {
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        struct timespec ts = {(time_t)(at / 1000000000), (long)(at % 1000000000)};
        clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL);
    }
    x->started_ns = realtime_ns();
    x->mono_at_start = rt_now();
    int64_t base = at > 0 ? at : x->started_ns;
    double slot = sh->every_ns > 0 ? (double)sh->every_ns / 1e9 : run_shard_slot(s, x->links * sh->count, sh->count);
    sh->next_start_ns = at > 0 ? base + (int64_t)llround(slot * 1e9) : 0;
    sh->runs++;
    return !run_interrupted;
}

/* ---------------------------------------------------------------- the driver's result as JSON */

enum ftype { F_I64, F_DBL, F_BOOL };
struct field {
    const char *name;
    size_t off;
    enum ftype t;
};
#define I(f) {#f, offsetof(struct drv_result, f), F_I64}
static const struct field FIELDS[] = {
    I(links_wanted), I(links_established), I(links_open_at_end), I(fail_connect), I(fail_handshake),
    I(fail_timeout), I(fail_emfile), I(fail_addr), I(closed_by_driver), I(closed_by_peer),
    I(reconnects), I(establish_ns), I(src_addrs_used), I(t_start), I(t_load0), I(t_measure_start),
    I(t_measure_end), I(t_end), I(measure_ns), {"stopped", offsetof(struct drv_result, stopped), F_BOOL},
    {"throughput_msgs_s", offsetof(struct drv_result, throughput_msgs_s), F_DBL},
    I(cpu_ns), I(wall_ns), {"cpu_util", offsetof(struct drv_result, cpu_util), F_DBL},
    I(lag_max_ns), I(lag_p99_ns), I(lag_own_p99_ns), I(rx_delay_p99_ns),
    {"driver_saturated", offsetof(struct drv_result, driver_saturated), F_BOOL},
    I(runq_wait_ns), I(wakeups), I(cpu_user_ns), I(cpu_sys_ns), I(wakeups_kernel), I(syscalls),
    I(tick_ns), I(nice), I(threads), I(rx_reads), I(rx_stamped),
};
#undef I
#define D(f) {#f, offsetof(struct drv_dir, f), F_I64}
static const struct field DIR_FIELDS[] = {
    D(scheduled), D(sent), D(unsent), D(delivered), D(duplicates), D(reordered), D(gaps),
    D(in_flight), D(abandoned), D(stale), D(bad), D(corrupted),
};
#undef D
#define W(f) {#f, offsetof(struct drv_window, f), F_I64}
static const struct field WIN_FIELDS[] = {
    W(echo_delivered), W(push_delivered), W(drain_echo_delivered), W(drain_push_delivered),
    W(backlog_start), W(backlog_end),
};
#undef W
#define NF(a) (sizeof(a) / sizeof(a[0]))

static json_t *fields_json(const void *base, const struct field *f, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *p = (const char *)base + f[i].off;
        json_t *v = f[i].t == F_I64 ? json_integer(*(const int64_t *)p)
                  : f[i].t == F_DBL ? json_real(*(const double *)p)
                                    : json_boolean(*(const bool *)p);
        json_object_set_new(o, f[i].name, v ? v : json_null());
    }
    return o;
}

static int fields_from(const json_t *o, void *base, const struct field *f, size_t n, const char *at,
                       char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(o, f[i].name);
        char *p = (char *)base + f[i].off;
        bool ok = f[i].t == F_I64 ? json_is_integer(v) : f[i].t == F_DBL ? json_is_number(v)
                                                                         : json_is_boolean(v);
        if (!ok) {
            snprintf(err, errlen, "%s%s: must be %s", at, f[i].name, f[i].t == F_I64 ? "an integer"
                     : f[i].t == F_DBL ? "a number" : "true or false");
            return -EINVAL;
        }
        if (f[i].t == F_I64)
            *(int64_t *)p = json_integer_value(v);
        else if (f[i].t == F_DBL)
            *(double *)p = json_number_value(v);
        else
            *(bool *)p = json_is_true(v);
    }
    return 0;
}

static json_t *acct_json(const struct drv_acct *a)
{
    return json_pack("{s:o,s:o}", "echo", fields_json(&a->echo, DIR_FIELDS, NF(DIR_FIELDS)), "push",
                     fields_json(&a->push, DIR_FIELDS, NF(DIR_FIELDS)));
}

json_t *run_shard_dr_to_json(const struct drv_result *r)
{
    json_t *o = fields_json(r, FIELDS, NF(FIELDS));
    json_object_set_new(o, "saturated_why", json_string(r->saturated_why ? r->saturated_why : ""));
    json_object_set_new(o, "all", acct_json(&r->all));
    json_object_set_new(o, "measured", acct_json(&r->measured));
    json_object_set_new(o, "window", fields_json(&r->window, WIN_FIELDS, NF(WIN_FIELDS)));
    return o;
}

int run_shard_dr_from_json(const json_t *j, struct drv_result *r, char *why, size_t whylen,
                           char *err, size_t errlen)
{
    if (!json_is_object(j))
        return snprintf(err, errlen, "driver: must be an object"), -EINVAL;
    if (fields_from(j, r, FIELDS, NF(FIELDS), "driver.", err, errlen) < 0 ||
        fields_from(json_object_get(j, "window"), &r->window, WIN_FIELDS, NF(WIN_FIELDS),
                    "driver.window.", err, errlen) < 0)
        return -EINVAL;
    static const char *const an[2] = {"all", "measured"}, *const dn[2] = {"echo", "push"};
    struct drv_acct *acc[2] = {&r->all, &r->measured};
    for (int a = 0; a < 2; a++)
        for (int d = 0; d < 2; d++) {
            char at[48];
            snprintf(at, sizeof at, "driver.%s.%s.", an[a], dn[d]);
            if (fields_from(json_object_get(json_object_get(j, an[a]), dn[d]),
                            d ? &acc[a]->push : &acc[a]->echo, DIR_FIELDS, NF(DIR_FIELDS), at, err,
                            errlen) < 0)
                return -EINVAL;
        }
    const char *w = json_string_value(json_object_get(j, "saturated_why"));
    snprintf(why, whylen, "%s", w ? w : "");
    r->saturated_why = why;
    r->lat_rtt = r->lat_rtt_uncorrected = r->lat_out = r->lag = r->lag_own = NULL;
    r->bp_wait = r->rx_delay = r->rtt_undelivered = r->unsent_age = NULL;
    return 0;
}

json_t *run_shard_hist_json(const met_hist *h)
{
    char *v2 = met_hlog_encode(h);
    json_t *o = v2 ? json_pack("{s:s,s:I,s:I,s:I}", "v2", v2, "min", (json_int_t)met_hist_min(h), "max",
                               (json_int_t)met_hist_max(h), "overflow", (json_int_t)met_hist_overflow(h))
                   : NULL;
    free(v2);
    return o;
}

met_hist *run_shard_hist_from_json(const json_t *j)
{
    const json_t *v2 = json_object_get(j, "v2"), *mn = json_object_get(j, "min"),
                 *mx = json_object_get(j, "max"), *ov = json_object_get(j, "overflow");
    if (!json_is_string(v2) || !json_is_integer(mn) || !json_is_integer(mx) || !json_is_integer(ov))
        return NULL;
    /* V2 carries the counts; its min and max are at bucket precision: the exact ones go
     * back through the sparse form, whose reader checks they fit the buckets */
    met_hist *b = met_hlog_decode(json_string_value(v2));
    json_t *sp = b ? met_hist_to_json(b) : NULL;
    met_hist_destroy(b);
    if (!sp)
        return NULL;
    json_object_set(sp, "min", (json_t *)mn);
    json_object_set(sp, "max", (json_t *)mx);
    json_object_set(sp, "overflow", (json_t *)ov);
    met_hist *h = met_hist_from_json(sp);
    json_decref(sp);
    return h;
}

const char *const RUN_SHARD_HIST_NAMES[RUN_DRVS_NHIST] = {
    "lat_rtt", "lat_rtt_uncorrected", "lat_out", "lag", "lag_own", "bp_wait", "rx_delay",
    "rtt_undelivered", "unsent_age"};

void run_shard_hists(const struct drv_result *r, const met_hist *h[RUN_DRVS_NHIST])
{
    const met_hist *x[RUN_DRVS_NHIST] = {r->lat_rtt, r->lat_rtt_uncorrected, r->lat_out, r->lag,
                                         r->lag_own, r->bp_wait, r->rx_delay, r->rtt_undelivered,
                                         r->unsent_age};
    memcpy(h, x, sizeof x);
}

void run_shard_set_hists(struct drv_result *r, met_hist *const h[RUN_DRVS_NHIST])
{
    r->lat_rtt = h[0], r->lat_rtt_uncorrected = h[1], r->lat_out = h[2], r->lag = h[3];
    r->lag_own = h[4], r->bp_wait = h[5], r->rx_delay = h[6], r->rtt_undelivered = h[7];
    r->unsent_age = h[8];
}

/* ---------------------------------------------------------------- the shard object */

/* What the driver-side accounting (run_acct, no server census) reads of a link: its
 * unsent slots, its sizes, its socket's queued bytes. A link holding nothing adds
 * nothing, so only the others are kept (a million links' census would not fit a
 * report); links_open says how many there were. */
static json_t *reduced_census(const json_t *census)
{
    json_t *links = json_array();
    int64_t open = 0;
    size_t i, j;
    json_t *doc, *d;
    json_array_foreach(census, i, doc) {
        json_array_foreach(json_object_get(doc, "links"), j, d) {
            open++;
            const json_t *s = json_object_get(d, "sock");
            int64_t u = run_jpath(d, "unsent"), ob = run_jpath(s, "out_bytes"), ko = run_jpath(s, "k_out");
            int64_t ki = run_jpath(s, "k_in"), pb = run_jpath(s, "partial_bytes");
            if (u == 0 && ob == 0 && ko == 0 && ki == 0 && pb == 0)
                continue;
            json_array_append_new(links, json_pack("{s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I}}", "unsent",
                (json_int_t)u, "payload_min", (json_int_t)run_jpath(d, "payload_min"), "payload_max",
                (json_int_t)run_jpath(d, "payload_max"), "sock", "out_bytes", (json_int_t)ob,
                "k_out", (json_int_t)ko, "k_in", (json_int_t)ki, "partial_bytes", (json_int_t)pb));
        }
    }
    return json_pack("{s:I,s:o}", "links_open", (json_int_t)open, "links", links);
}

json_t *run_shard_object(const run_shard *sh, const run_shard_run *x, const struct drv_result *r,
                         const json_t *census, const char *failure)
{
    char host[256] = "", req[48] = "", st[48] = "", w0[48] = "", w1[48] = "";
    gethostname(host, sizeof host - 1);
    json_t *o = json_pack("{s:i,s:i,s:s,s:I,s:O}", "index", sh->index, "count", sh->count, "host",
                          host, "links", (json_int_t)x->links, "link_ranges", x->ranges);
    run_shard_format_time(x->started_ns, st, sizeof st);
    json_t *start = json_pack("{s:s,s:I}", "started", st, "started_ns", (json_int_t)x->started_ns);
    if (x->requested_ns > 0) {
        run_shard_format_time(x->requested_ns, req, sizeof req);
        json_object_set_new(start, "requested", json_string(req));
        json_object_set_new(start, "requested_ns", json_integer(x->requested_ns));
        json_object_set_new(start, "late_ms", json_real((double)(x->started_ns - x->requested_ns) / 1e6));
    }
    json_object_set_new(o, "start", start);
    if (r && r->measure_ns >= 0 && r->t_measure_start > 0) {
        /* the window's edges by this host's wall clock: its monotonic instants moved by
         * the (wall, monotonic) pair taken at the start */
        int64_t a = x->started_ns + (r->t_measure_start - x->mono_at_start);
        int64_t b = x->started_ns + (r->t_measure_end - x->mono_at_start);
        run_shard_format_time(a, w0, sizeof w0);
        run_shard_format_time(b, w1, sizeof w1);
        json_object_set_new(o, "window", json_pack("{s:s,s:s,s:I,s:I}", "start", w0, "end", w1,
                            "start_ns", (json_int_t)a, "end_ns", (json_int_t)b));
    }
    json_object_set_new(o, "clock", sh->clock ? json_deep_copy(sh->clock) : json_null());
    if (failure)
        json_object_set_new(o, "failure", json_string(failure));
    if (r) {
        json_object_set_new(o, "driver", run_shard_dr_to_json(r));
        const met_hist *h[RUN_DRVS_NHIST];
        run_shard_hists(r, h);
        json_t *hs = json_object();
        for (int i = 0; i < RUN_DRVS_NHIST; i++)
            if (h[i])
                json_object_set_new(hs, RUN_SHARD_HIST_NAMES[i], run_shard_hist_json(h[i]));
        json_object_set_new(o, "histograms", hs);
        json_object_set_new(o, "census", reduced_census(census));
    }
    return o;
}
