/* run_ext.c — `linkbench run --target`: a scenario's driver side against an external WebSocket server, its report with the server figures /proc can give and the absent ones named. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "met_hist.h"
#include "met_machine.h"
#include "met_proc.h"
#include "rep_plot.h"
#include "rep_report.h"
#include "rep_table.h"
#include "run_ext.h"
#include "run_plan.h"
#include "run_progress.h"
#include "run_remeasure.h"
#include "run_shard.h"
#include "run_suite.h"

#define VARIANT "external"   /* the report's variant name for the target */

int run_url_parse(const char *url, run_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    if (strncmp(url, "ws://", 5) != 0) {
        snprintf(err, errlen, "--target: must be ws://HOST:PORT/path (wss:// is not supported) (got \"%s\")", url);
        return -EINVAL;
    }
    const char *h = url + 5, *slash = strchr(h, '/'), *end = slash ? slash : h + strlen(h);
    const char *colon = memchr(h, ':', (size_t)(end - h));
    const char *hend = colon ? colon : end;
    char host[256];
    if (hend == h || (size_t)(hend - h) >= sizeof host) {
        snprintf(err, errlen, "--target: no host (got \"%s\")", url);
        return -EINVAL;
    }
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = 0;
    long port = 80;
    if (colon) {
        char *pe;
        port = strtol(colon + 1, &pe, 10);
        if (pe == colon + 1 || pe != end || port < 0 || port > 65535) {
            snprintf(err, errlen, "--target: port must be in [0, 65535] (got \"%s\")", url);
            return -EINVAL;
        }
    }
    u->port = (uint16_t)port;
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1) {
        /* the driver speaks IPv4: resolve a name once, here */
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
        if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) {
            snprintf(err, errlen, "--target: cannot resolve \"%s\" to an IPv4 address", host);
            return -EINVAL;
        }
        a = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
        freeaddrinfo(res);
    }
    inet_ntop(AF_INET, &a, u->host, sizeof u->host);
    if (strlen(slash ? slash : "/") >= sizeof u->path) {
        snprintf(err, errlen, "--target: path longer than %zu bytes", sizeof u->path - 1);
        return -EINVAL;
    }
    snprintf(u->path, sizeof u->path, "%s", slash ? slash : "/");
    return 0;
}

static bool any_client_sends(const struct scn *s)
{
    if (s->client.rate_per_s > 0 && scn_group_links(s, s->n_groups, s->links) > 0)
        return true;
    for (int i = 0; i < s->n_groups; i++)
        if (s->groups[i].client.rate_per_s > 0)
            return true;
    return false;
}

int run_ext_refusals(const struct scn *s, char *msg, size_t len, char *note, size_t notelen)
{
    int n = 0;
    size_t at = 0, nat = 0;
    msg[0] = note[0] = 0;
#define REFUSE(...) do { n++; if (at < len) at += (size_t)snprintf(msg + at, len - at, __VA_ARGS__); } while (0)
    if (s->app.mode == SCN_APP_SINK)
        REFUSE("  app.mode = sink: the scenario measures a server that consumes without answering; "
               "an external target is driven as an echo server\n");
    if (s->app.push_rate_per_s > 0 && !any_client_sends(s))
        REFUSE("  app.push.rate_per_s = %g: the clients send nothing, so the run measures server "
               "push, which needs the built-in app model's push generator\n", s->app.push_rate_per_s);
    else if (s->app.push_rate_per_s > 0 && notelen)
        nat += (size_t)snprintf(note + nat, notelen - nat, "app.push.rate_per_s = %g is ignored: an "
                                "external echo server does not push; the client side runs as written",
                                s->app.push_rate_per_s);
    if (s->app.idle_timeout_ms > 0)
        REFUSE("  app.idle.timeout_ms = %lld: the idle reaper is the built-in app model's "
               "(links_closed_idle cannot be told from the outside)\n", (long long)s->app.idle_timeout_ms);
    if (s->app.service_time_us > 0)
        REFUSE("  app.service_time_us = %lld: the app's service rate is set in the built-in app "
               "model\n", (long long)s->app.service_time_us);
    if (s->limits.rate_limit_per_s > 0)
        REFUSE("  limits.rate_limit_per_s = %lld: the server's inbound rate limit is a built-in "
               "server setting\n", (long long)s->limits.rate_limit_per_s);
    for (int i = 0; i < s->n_faults; i++)
        if (s->faults[i].kind == SCN_FAULT_KILL_SERVER || s->faults[i].kind == SCN_FAULT_PAUSE_APP)
            REFUSE("  faults[%d].kind = %s: a fault inside the server process\n", i,
                   s->faults[i].kind == SCN_FAULT_KILL_SERVER ? "kill_server" : "pause_app");
#undef REFUSE
    return n;
}

/* ---------------------------------------------------------------- one run */

typedef struct xrun {
    const run_opts *o;
    run_tproc *tp;
    bool marked1, marked2, target_gone, stop_asked;
    const char *label;
    int64_t prev_print;
} xrun;

static void progress(struct drv *d, const struct drv_progress *p, void *arg)
{
    xrun *x = arg;
    if (run_interrupted && !x->stop_asked) {
        /* the SIGINT handler knows only the built-in run's driver; once, since a second
         * request would cut the drain short */
        x->stop_asked = true;
        drv_request_stop(d);
    }
    if (!x->target_gone && run_tproc_exited(x->tp)) {
        x->target_gone = true;
        drv_request_stop(d);
    }
    /* the target's readings at the driver's window instants, as a built-in server
     * takes its own; a run that stops before its planned end ends them then */
    if (p->t_measure_start && !x->marked1) {
        run_tproc_mark_async(x->tp, 1, p->t_measure_start);
        if (p->t_measure_end)
            run_tproc_mark_async(x->tp, 2, p->t_measure_end);
        x->marked1 = true;
    }
    if (p->phase >= DRV_PHASE_MEASURE && !x->marked1) {
        run_tproc_mark_async(x->tp, 1, 0);
        x->marked1 = true;
    }
    if (p->phase >= DRV_PHASE_DRAIN && !x->marked2) {
        run_tproc_mark_async(x->tp, 2, 0);
        x->marked2 = true;
    }
    if (x->o->progress && p->t_ns - x->prev_print >= 200 * RT_MS) {
        x->prev_print = p->t_ns;
        fprintf(stderr, "\r\033[K%s  %5.1f s  %lld links  %lld sent  %lld back", x->label, p->t_ns / 1e9,
                (long long)p->links_open, (long long)p->sent, (long long)p->delivered);
        fflush(stderr);
    }
}

/* Accounting without a server report is run_acct's driver-side rule (what is not back
 * and not in the driver's own queues after the drain is lost); beside it what only the
 * driver's sequence numbers tell. */
static void accounting(json_t *m, json_t *why, const struct drv_result *dr)
{
    const struct drv_dir *e = &dr->all.echo;
    json_object_set_new(m, "msgs_corrupted", json_integer(e->corrupted));
    json_object_set_new(m, "msgs_reordered", json_integer(e->reordered));
    if (e->corrupted > 0)
        json_array_append_new(why, json_sprintf("%lld echoes corrupted (header or fill pattern "
                              "differs from what was sent)", (long long)e->corrupted));
}

json_t *run_ext_run_object(const run_inputs *in)
{
    json_t *run = run_object(in);
    if (!run)
        return NULL;
    json_t *m = json_object_get(run, "metrics");
    /* nothing the server dropped is known: absent, never zero */
    json_object_del(m, "drops_by_reason");
    if (in->dr)
        accounting(m, json_object_get(json_object_get(run, "flags"), "invalid_reasons"), in->dr);
    return run;
}

void run_ext_set_absent(json_t *run)
{
    json_object_set_new(run, "absent_metrics", run_absent_metrics(json_object_get(run, "metrics")));
}

static int ext_one(const run_opts *o, const run_target *t, const run_url *u, const struct scn *s,
                   int64_t links, int rep, const char *dir, const char *label, json_t *runs)
{
    xrun x = {.o = o, .label = label};
    run_shard_run *sx = o->shard ? calloc(1, sizeof *sx) : NULL;
    char err[1024] = "", failure[1400] = "", how[160] = "", out_file[4200], scpus[256] = "";
    snprintf(out_file, sizeof out_file, "%s/target_%d.out", dir, rep);
    uint16_t port = u->port;
    struct drv_result r;
    bool have_r = false;
    struct drv *d = NULL;
    if (run_tproc_start(t, out_file, s->pin_server, s->n_pin_server, u->port == 0, &port, &x.tp,
                        err, sizeof err) < 0) {
        snprintf(failure, sizeof failure, "%s", err);
        goto out;
    }
    run_tproc_mark(x.tp, 0);
    struct drv_params dp;
    struct drv_fault faults[2 * SCN_FAULTS_MAX];
    run_xfault xf[SCN_FAULTS_MAX];
    int nxf = 0;
    run_plan_driver(s, links, port, &dp, faults, &nxf, xf);
    /* a tail still missing after the drain counts as lost (no server report explains it):
     * give a slow server on a busy machine time; a drain ends as soon as all are back */
    if (dp.drain_max_ns < 5 * RT_S)
        dp.drain_max_ns = 5 * RT_S;
    dp.host = u->host;
    dp.path = u->path;
    dp.progress = progress;
    dp.progress_arg = &x;
    dp.progress_interval_ns = 50 * RT_MS;
    /* a shard drives its part of the plan (run_shard.h) */
    if (o->shard && (!sx || run_shard_apply(o->shard, s, links, &dp, sx, err, sizeof err) < 0)) {
        snprintf(failure, sizeof failure, "%s", sx ? err : "out of memory");
        goto out;
    }
    if (drv_create(&dp, &d, err, sizeof err) < 0) {
        snprintf(failure, sizeof failure, "driver: %s", err);
        goto out;
    }
    if (o->shard && !run_shard_start(o->shard, sx, s, u->host, port, u->path, o->quiet || o->json)) {
        snprintf(failure, sizeof failure, "interrupted before the shard's start");
        goto out;
    }
    drv_run(d, &r);
    have_r = true;
    if (!x.marked2)
        run_tproc_mark_async(x.tp, 2, 0);
    run_tproc_sync(x.tp);
    if (x.target_gone)
        snprintf(failure, sizeof failure, "the target process ended during the run");
    else if (r.links_established == 0)
        snprintf(failure, sizeof failure, "no link to %s:%u%s could be opened (%lld connect, %lld "
                 "handshake, %lld timeout failures)", u->host, port, u->path, (long long)r.fail_connect,
                 (long long)r.fail_handshake, (long long)r.fail_timeout);
out:
    if (o->progress)
        fprintf(stderr, "\r\033[K");
    char dcpus[160] = "", aff[128] = "";
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        met_proc_cpu_list(&set, aff, sizeof aff);
    snprintf(dcpus, sizeof dcpus, "affinity %s, last %d", aff, sched_getcpu());
    /* the driver's census: its unsent slots and its sockets' queues, after the drain */
    json_t *census = json_array();
    if (have_r && d)
        json_array_append_new(census, drv_census(d));
    run_inputs in = {.driver_cpus = dcpus, .variant = VARIANT, .rep = rep, .links_wanted = links, .dr = have_r ? &r : NULL,
                     .failure = failure[0] ? failure : NULL, .drv_census = census,
                     .partial = run_interrupted || (have_r && r.stopped && !x.target_gone)};
    json_t *run = run_ext_run_object(&in);
    json_t *m = json_object_get(run, "metrics");
    if (x.tp) {
        run_tproc_metrics(x.tp, m, run, have_r ? r.links_established : 0, scpus, sizeof scpus);
        /* every system call of the target over what it read and wrote in the window */
        json_t *sc = json_object_get(m, "syscalls_window");
        int64_t msgs = have_r ? r.measured.echo.sent + r.measured.echo.delivered + r.measured.push.delivered : 0;
        if (json_is_integer(sc) && msgs > 0)
            json_object_set_new(m, "syscalls_per_msg", json_real((double)json_integer_value(sc) / (double)msgs));
        json_object_del(m, "syscalls_window");
        json_t *kern = json_object_get(run, "kernel");
        if (kern)
            json_object_set(run, "sources", json_object_get(kern, "sources"));
    }
    run_ext_set_absent(run);
    if (sx && sx->ranges)
        json_object_set_new(run, "shard", run_shard_object(o->shard, sx, have_r ? &r : NULL, census,
                                                            failure[0] ? failure : NULL));
    json_decref(census);
    json_object_set_new(run, "target", json_pack("{s:s,s:i}", "host", u->host, "port", port));
    if (scpus[0])
        json_object_set_new(json_object_get(run, "placement"), "server_cpus", json_string(scpus));
    run_tproc_stop(x.tp, how, sizeof how);
    if (t->cmd && how[0]) {
        json_object_set_new(json_object_get(run, "target"), "exit", json_string(how));
        json_object_set_new(json_object_get(run, "target"), "output", json_sprintf("target_%d.out", rep));
    }
    json_array_append_new(runs, run);
    if (failure[0] && !o->quiet)
        fprintf(stderr, "linkbench: %s\n", failure);
    drv_destroy(d);
    if (sx)
        run_shard_run_deinit(sx);
    free(sx);
    return failure[0] ? 1 : 0;
}

/* ---------------------------------------------------------------- scenario, report */

/* Expect lines the target can answer: every variant ("*") and metrics it reports. A
 * line naming a built-in variant or a server-only metric is dropped, and said so. */
static void keep_answerable_expects(struct scn *s, bool have_pid, const char *file, bool quiet)
{
    static const char *const driver_side[] = {"msgs_sent", "msgs_delivered", "msgs_in_flight",
        "msgs_lost", "throughput_msgs_s", "lat_rtt_us", "cpu_driver_util", "links", NULL};
    static const char *const proc_side[] = {"cpu_server_s", "threads_peak", "threads_per_link",
        "wakeups_per_link_s", "syscalls_per_msg", "rss_peak_bytes", "rss_per_link_bytes", NULL};
    int k = 0;
    for (int i = 0; i < s->n_expect; i++) {
        const struct scn_expect *e = &s->expect[i];
        bool ok = !strcmp(e->lhs.variant, "*") && (!e->rhs_is_ref || !strcmp(e->rhs.variant, "*"));
        for (int side = 0; ok && side < 1 + e->rhs_is_ref; side++) {
            const char *met = side ? e->rhs.metric : e->lhs.metric;
            size_t n = strcspn(met, ".");
            bool found = false;
            for (int j = 0; driver_side[j] && !found; j++)
                found = strlen(driver_side[j]) == n && !strncmp(met, driver_side[j], n);
            for (int j = 0; have_pid && proc_side[j] && !found; j++)
                found = strlen(proc_side[j]) == n && !strncmp(met, proc_side[j], n);
            ok = found;
        }
        if (ok)
            s->expect[k++] = *e;
    }
    if (k < s->n_expect && !quiet)
        fprintf(stderr, "linkbench: %s: %d of %d expect lines skipped: they name a built-in variant "
                "or a figure only the built-in server reports\n", file, s->n_expect - k, s->n_expect);
    s->n_expect = k;
}

int run_mkdir_p(const char *path)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = 0;
            if (mkdir(p, 0777) < 0 && errno != EEXIST)
                return -errno;
            *c = '/';
        }
    return mkdir(p, 0777) < 0 && errno != EEXIST ? -errno : 0;
}

static int ext_links(const run_opts *o, const run_target *t, const run_url *u, const char *file,
                     const struct scn *s, int64_t links, const char *dir)
{
    met_machine mm;
    met_machine_begin(&mm);
    json_t *runs = json_array(), *discarded = json_array();
    int failed = 0;
    for (int rep = 0; rep < s->repetitions && !run_interrupted; rep++) {
        char label[256];
        snprintf(label, sizeof label, "%s  %s  rep %d/%d", s->name, VARIANT, rep + 1, (int)s->repetitions);
        int rc = ext_one(o, t, u, s, links, rep, dir, label, runs);
        /* a shard runs at the launch's common start: measured again alone, its window
         * would no longer be the other shards' (merge judges the shards together) */
        int most = o->shard ? 0 : (int)s->driver_remeasure;
        for (int a = 0; !rc && !run_interrupted && run_remeasure_take(runs, discarded, a, most, dir); a++) {
            if (o->progress)
                fprintf(stderr, "linkbench: %s rep %d: the driver was saturated: measured again (%d of at most %d)\n",
                        s->name, rep + 1, a + 1, (int)s->driver_remeasure);
            rc = ext_one(o, t, u, s, links, rep, dir, label, runs);
        }
        failed |= rc;
    }
    met_machine_end(&mm);
    json_t *scen = json_pack("{s:s,s:s,s:s,s:I}", "name", s->name, "file", file, "description",
                             s->description, "links", (json_int_t)links);
    json_t *tg = json_pack("{s:s,s:s,s:s}", "url", t->url, "host", u->host, "path", u->path);
    if (t->cmd)
        json_object_set_new(tg, "cmd", json_string(t->cmd));
    if (t->pid > 0)
        json_object_set_new(tg, "pid", json_integer(t->pid));
    json_object_set_new(tg, "server_figures", json_string(t->cmd || t->pid > 0
        ? "from /proc of the target and its descendants: CPU (by thread name), threads, RSS, "
          "context switches; the app-model figures (drops, lat_in, wake-ups, system calls) are absent"
        : "none: give --target-pid or --target-cmd for CPU, threads, RSS, context switches"));
    json_object_set_new(scen, "target", tg);
    if (o->shard) {
        /* what merge checks: every shard of one launch holds the same count and start */
        json_t *sj = json_pack("{s:i,s:i}", "index", o->shard->index, "count", o->shard->count);
        if (o->shard->start_at_ns > 0) {
            char at[48];
            run_shard_format_time(o->shard->start_at_ns, at, sizeof at);
            json_object_set_new(sj, "start_at", json_string(at));
        }
        json_object_set_new(scen, "shard", sj);
    }
    json_t *mach = met_machine_json(&mm);
    json_t *conf = scn_to_json(s);
    json_t *rep = run_report_emit(o, dir, scen, mach, conf, runs, discarded);
    if (!rep)
        return 1;
    if (!o->json && !o->quiet) {
        rep_table_print(stdout, rep, REP_TABLE_TEXT);
        const json_t *miss = json_object_get(json_object_get(json_object_get(json_object_get(rep,
                             "flags"), "variants"), VARIANT), "missing_metrics");
        char *ms = json_dumps(miss, JSON_COMPACT);
        printf("absent (not measurable from outside the target): %s\n", ms ? ms : "[]");
        free(ms);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(json_object_get(rep, "flags"), "reasons"), i, r)
            printf("invalid: %s\n", json_string_value(r));
    }
    if (!o->json)
        printf("report: %s/report.json\n", dir);
    fflush(stdout);
    bool valid = json_is_true(json_object_get(rep, "valid"));
    json_decref(rep);
    return failed || !valid || run_interrupted ? 1 : 0;
}

/* A shard holds links only it can open: one driver process, under this host's
 * open-files limit; and every shard holds at least one. */
static int shard_fits(const run_shard *sh, const char *file, const struct scn *s, int64_t most)
{
    int64_t least = s->links;
    for (int i = 0; i < s->n_steps; i++)
        least = i == 0 || s->steps[i] < least ? s->steps[i] : least;
    if (least < sh->count) {
        fprintf(stderr, "linkbench: %s: links: %lld links cannot be split over %d shards (each "
                "needs one at least)\n", file, (long long)least, sh->count);
        return -1;
    }
    struct rlimit rl;
    int64_t per = (most + sh->count - 1) / sh->count;
    /* the driver's own descriptors (loop, timer, files) beside one per link */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        per > (int64_t)rl.rlim_cur - 64) {
        int64_t cap = (int64_t)rl.rlim_cur - 64;
        fprintf(stderr, "linkbench: %s: links: %lld links over %d shards is %lld per shard, more than "
                "one driver process opens here (open files: %lld per process): use --shard I/N with "
                "N >= %lld\n", file, (long long)most, sh->count, (long long)per,
                (long long)rl.rlim_cur, cap > 0 ? (long long)((most + cap - 1) / cap) : -1LL);
        return -1;
    }
    return 0;
}

static int load(const run_opts *o, const char *file, const struct scn_scaling *sc, struct scn *s)
{
    struct scn_diag d;
    scn_diag_init(&d);
    int errs = run_parse_overridden(o, file, sc, s, &d);
    int64_t most = s->links;
    for (int i = 0; i < s->n_steps; i++)
        most = s->steps[i] > most ? s->steps[i] : most;
    if (!errs) {
        /* "processes" is the built-in server's: how many links one server process holds
         * does not bound a target's, so the copy validated has as many as they need */
        static struct scn v;
        v = *s;
        int64_t need = (most + SCN_LINKS_PER_PROCESS_MAX - 1) / SCN_LINKS_PER_PROCESS_MAX;
        if (v.processes < need)
            v.processes = need;
        errs = scn_validate(&v, NULL, file, &d);
    }
    if (errs && d.text)
        fputs(d.text, stderr);
    scn_diag_deinit(&d);
    if (!errs && o->shard && shard_fits(o->shard, file, s, most) < 0)
        errs = 1;
    return errs ? -1 : 0;
}

/* <out>/<name>_external[_shard_I_of_N]/<UTC timestamp>[-n], created fresh: a lone
 * scenario's results, or a suite's (its scenarios in subdirectories). */
static int ext_make_dir(const run_opts *o, const char *name, char *dir, size_t len)
{
    char kind[160], err[4600];
    if (o->shard)
        snprintf(kind, sizeof kind, "%.100s_external_shard_%d_of_%d", name, o->shard->index, o->shard->count);
    else
        snprintf(kind, sizeof kind, "%.100s_external", name);
    if (run_make_dir(o->out_dir, kind, dir, len, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench: %s\n", err);
        return -1;
    }
    return 0;
}

/* One scenario against the target, its results in dir (created). */
static int ext_scenario(const run_opts *o, const run_target *t, const run_url *u, const char *file,
                        struct scn *s, const char *dir)
{
    int rc = 0;
    keep_answerable_expects(s, t->cmd || t->pid > 0, file, o->quiet || o->json);
    if (!s->n_steps)
        rc = ext_links(o, t, u, file, s, s->links, dir);
    for (int i = 0; i < s->n_steps && !run_interrupted; i++) {
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/links_%lld", dir, (long long)s->steps[i]);
        if (run_mkdir_p(sub) < 0) {
            fprintf(stderr, "linkbench: cannot create %s: %s\n", sub, strerror(errno));
            return LB_RUN_FAIL;
        }
        rc |= ext_links(o, t, u, file, s, s->steps[i], sub);
    }
    if (o->shard) {
        /* a shard's report is a part: its expect lines are judged on the merged report
         * (a count of links or messages holds only for all shards together) */
        rep_plot_opts po = {.log = stderr, .info = o->json ? stderr : stdout,
                            .quiet = o->quiet || o->json, .charts = true};
        rep_plot_dir(dir, &po);
        if (!o->quiet && !o->json && s->n_expect)
            printf("expect: not judged on shard %d/%d's part: linkbench merge judges the merged "
                   "report\n", o->shard->index, o->shard->count);
        return rc;
    }
    rc |= rep_run_outputs(dir, o->json ? stderr : stdout, o->quiet || o->json);
    return rc;
}

/* Refused scenarios print what is missing; 0 when s can run. */
static int check(const char *file, const struct scn *s, bool quiet)
{
    char msg[2048], note[512];
    if (run_ext_refusals(s, msg, sizeof msg, note, sizeof note) > 0) {
        fprintf(stderr, "linkbench: %s: cannot run against an external target; it needs from the "
                "server more than an echo:\n%s", file, msg);
        return -1;
    }
    if (note[0] && !quiet)
        fprintf(stderr, "linkbench: %s: %s\n", file, note);
    return 0;
}

int run_ext_file(const run_opts *o, const run_target *t, const char *file)
{
    run_url u;
    char err[512];
    if (run_url_parse(t->url, &u, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench run: %s\n", err);
        return LB_RUN_USAGE;
    }
    if (u.port == 0 && !t->cmd) {
        fprintf(stderr, "linkbench run: --target: port 0 means \"the port --target-cmd prints\": "
                "give --target-cmd or a port\n");
        return LB_RUN_USAGE;
    }
    json_t *j = json_load_file(file, 0, NULL);
    bool suite = json_is_object(j) && json_object_get(j, "scenarios");
    json_decref(j);
    if (suite && o->shard) {
        fprintf(stderr, "linkbench run: %s: a suite: --shard runs one scenario (give each scenario its "
                "own launch and start time)\n", file);
        return LB_RUN_USAGE;
    }
    if (!suite) {
        struct scn s;
        if (load(o, file, NULL, &s) < 0 || check(file, &s, o->quiet || o->json) < 0)
            return LB_RUN_USAGE;
        char dir[4096];
        if (ext_make_dir(o, s.name, dir, sizeof dir) < 0)
            return LB_RUN_FAIL;
        run_progress_plan(1, 0, 0);
        int rc = ext_scenario(o, t, &u, file, &s, dir);
        /* a shard's part gets its page with the merged report (linkbench merge) */
        return o->shard ? rc : run_finish(o, dir, rc);
    }
    struct scn_suite st;
    struct scn_diag d;
    scn_diag_init(&d);
    if (scn_suite_load(file, &st, &d) > 0) {
        fputs(d.text ? d.text : "", stderr);
        scn_diag_deinit(&d);
        return LB_RUN_USAGE;
    }
    scn_diag_deinit(&d);
    /* a suite runs what the target can answer and says what it skipped; its scenarios'
     * results go under one directory with one page and one verdict, as a built-in
     * suite's do */
    char dir[4096];
    if (ext_make_dir(o, st.name, dir, sizeof dir) < 0) {
        scn_suite_deinit(&st);
        return LB_RUN_FAIL;
    }
    run_progress_plan(st.n, 0, 0);
    int rc = 0;
    for (int i = 0; i < st.n && !run_interrupted; i++) {
        struct scn s;
        if (load(o, st.entries[i].path, &st.entries[i].scaling, &s) < 0) {
            rc = LB_RUN_USAGE;
            break;
        }
        if (check(st.entries[i].path, &s, o->quiet || o->json) < 0)
            continue;
        char sd[4300];
        if (run_scenario_dir(dir, s.name, sd, sizeof sd) < 0) {
            rc |= LB_RUN_FAIL;
            break;
        }
        rc |= ext_scenario(o, t, &u, st.entries[i].path, &s, sd);
    }
    scn_suite_deinit(&st);
    return rc == LB_RUN_USAGE ? rc : run_finish(o, dir, rc);
}
