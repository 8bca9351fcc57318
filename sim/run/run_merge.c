/* run_merge.c — join a sharded run's shard reports: check that they belong together, then per repetition merge the hosts' driver results and histograms exactly and build the run object as a single host's. */
#include "run_merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "met_hist.h"
#include "rep_report.h"
#include "run_acct.h"
#include "run_drvs.h"
#include "run_ext.h"
#include "run_shard.h"

#define SAY(...) snprintf(err, errlen, __VA_ARGS__)

bool run_merge_is_shard(const json_t *report)
{
    return json_is_object(json_object_get(json_object_get(report, "scenario"), "shard"));
}

/* ---------------------------------------------------------------- JSON diff */

static void text_of(const json_t *v, char *buf, size_t len)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(buf, len, "%.60s%s", s ? s : "(absent)", s && strlen(s) > 60 ? "..." : "");
    free(s);
}

static bool diff_at(const json_t *a, const json_t *b, char *path, size_t plen, char *buf, size_t len)
{
    size_t at = strlen(path);
    if (!a && !b)
        return false;
    if (a && b && json_typeof(a) == json_typeof(b) && json_is_object(a)) {
        const char *k;
        const json_t *v;
        for (int side = 0; side < 2; side++) {
            json_object_foreach((json_t *)(side ? b : a), k, v) {
                const json_t *other = json_object_get(side ? a : b, k);
                if (side && other)
                    continue;   /* compared on the first side */
                snprintf(path + at, plen - at, "%s%s", at ? "." : "", k);
                if (side ? diff_at(NULL, v, path, plen, buf, len) : diff_at(v, other, path, plen, buf, len))
                    return true;
                path[at] = 0;
            }
        }
        return false;
    }
    if (a && b && json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(path + at, plen - at, "[%zu]", i);
            if (diff_at(json_array_get(a, i), json_array_get(b, i), path, plen, buf, len))
                return true;
            path[at] = 0;
        }
        return false;
    }
    if (a && b && json_equal(a, b))
        return false;
    char ta[80], tb[80];
    text_of(a, ta, sizeof ta);
    text_of(b, tb, sizeof tb);
    snprintf(buf, len, "%s: %s vs %s", at ? path : "(the whole value)", ta, tb);
    return true;
}

bool run_merge_json_diff(const json_t *a, const json_t *b, char *buf, size_t len)
{
    char path[512] = "";
    buf[0] = 0;
    return diff_at(a, b, path, sizeof path, buf, len);
}

/* ---------------------------------------------------------------- do they belong together */

typedef struct shard_in {
    const json_t *rep;
    const char *path;
    int index, count;
} shard_in;

static int by_index(const void *a, const void *b)
{
    return ((const shard_in *)a)->index - ((const shard_in *)b)->index;
}

static const json_t *scen(const json_t *rep, const char *key)
{
    return json_object_get(json_object_get(rep, "scenario"), key);
}

/* "0,1,2" of the reps a report holds, for comparing and for messages */
static void reps_of(const json_t *rep, char *buf, size_t len)
{
    size_t at = 0, i;
    const json_t *run;
    buf[0] = 0;
    json_array_foreach(json_object_get(rep, "runs"), i, run)
        if (at < len)
            at += (size_t)snprintf(buf + at, len - at, "%s%lld", at ? "," : "",
                                   (long long)json_integer_value(json_object_get(run, "rep")));
}

static int check_set(shard_in *s, int n, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        const json_t *sj = scen(s[i].rep, "shard");
        const json_t *ji = json_object_get(sj, "index"), *jc = json_object_get(sj, "count");
        if (!json_is_integer(ji) || !json_is_integer(jc) || json_integer_value(jc) < 1 ||
            json_integer_value(ji) < 0 || json_integer_value(ji) >= json_integer_value(jc))
            return SAY("%s: scenario.shard: must hold index and count, 0 <= index < count", s[i].path), -1;
        s[i].index = (int)json_integer_value(ji);
        s[i].count = (int)json_integer_value(jc);
    }
    const shard_in *r = &s[0];
    char d[600], ra[256], rb[256];
    for (int i = 1; i < n; i++) {
        const char *what = NULL;
        if (s[i].count != r->count)
            what = "shard count", snprintf(d, sizeof d, "%d vs %d", s[i].count, r->count);
        else if (run_merge_json_diff(scen(s[i].rep, "name"), scen(r->rep, "name"), d, sizeof d))
            what = "scenario";
        else if (run_merge_json_diff(scen(s[i].rep, "links"), scen(r->rep, "links"), d, sizeof d))
            what = "links";
        else if (run_merge_json_diff(json_object_get(scen(s[i].rep, "shard"), "start_at"),
                                     json_object_get(scen(r->rep, "shard"), "start_at"), d, sizeof d))
            what = "start time (--start-at: another launch)";
        else if (run_merge_json_diff(json_object_get(scen(s[i].rep, "target"), "url"),
                                     json_object_get(scen(r->rep, "target"), "url"), d, sizeof d))
            what = "target";
        else if (run_merge_json_diff(json_object_get(s[i].rep, "config"), json_object_get(r->rep, "config"),
                                     d, sizeof d))
            what = "config";
        else if (reps_of(s[i].rep, ra, sizeof ra), reps_of(r->rep, rb, sizeof rb), strcmp(ra, rb))
            what = "repetitions", snprintf(d, sizeof d, "[%s] vs [%s] (a shard that stopped early?)", ra, rb);
        if (what)
            return SAY("%s (shard %d/%d) and %s (shard %d/%d): not shards of one run: %s differs: %s",
                       s[i].path, s[i].index, s[i].count, r->path, r->index, r->count, what, d), -1;
    }
    qsort(s, (size_t)n, sizeof *s, by_index);
    for (int i = 1; i < n; i++)
        if (s[i].index == s[i - 1].index)
            return SAY("shard %d/%d given twice: %s and %s", s[i].index, s[i].count, s[i - 1].path,
                       s[i].path), -1;
    if (n != s[0].count) {
        /* the indices had and missing, as lists cut at some length */
        char have[200] = "", miss[200] = "";
        for (int k = 0, j = 0; k < s[0].count; k++) {
            bool got = j < n && s[j].index == k;
            j += got;
            char *b = got ? have : miss;
            size_t l = strlen(b);
            if (l < sizeof have - 16)
                snprintf(b + l, sizeof have - l, "%s%d", l ? ", " : "", k);
            else if (!strstr(b, "..."))
                snprintf(b + l, sizeof have - l, ", ...");
        }
        return SAY("shard%s %s of %d missing (have %s)", strchr(miss, ',') ? "s" : "", miss, s[0].count,
                   have), -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- one repetition */

static const json_t *run_of(const json_t *rep, int64_t k)
{
    size_t i;
    const json_t *run;
    json_array_foreach(json_object_get(rep, "runs"), i, run)
        if (json_integer_value(json_object_get(run, "rep")) == k)
            return run;
    return NULL;
}

static void appendf(char *buf, size_t len, const char *fmt, const char *a, int b, int c, const char *d,
                    const char *e)
{
    size_t at = strlen(buf);
    if (at < len)
        snprintf(buf + at, len - at, fmt, at ? "; " : "", a, b, c, d, e);
}

/* The /proc figures of a local target (--target-pid) from the first shard that took
 * them: one process, read by every shard over its own (overlapping) window. */
static void server_figures(json_t *run, const shard_in *s, int n, int64_t rep)
{
    static const char *const keys[] = {"cpu_server_s", "cpu_by_thread_s", "cpu_server_util",
        "threads_peak", "threads_live", "rss_peak_bytes", "ctxsw_voluntary", "ctxsw_involuntary",
        "server_processes", NULL};
    json_t *m = json_object_get(run, "metrics");
    for (int k = 0; k < n; k++) {
        const json_t *r = run_of(s[k].rep, rep), *sm = json_object_get(r, "metrics");
        if (!json_is_number(json_object_get(sm, "cpu_server_s")))
            continue;
        for (int i = 0; keys[i]; i++)
            if (json_object_get(sm, keys[i]))
                json_object_set_new(m, keys[i], json_deep_copy(json_object_get(sm, keys[i])));
        /* A shard's rss_per_link_bytes times its links is the growth it saw, from its
         * reading before its start to its window's end. All links made that growth, but
         * a reading taken after another shard's first connections misses part of it: the
         * largest growth any shard saw is the best lower bound, over all links. */
        double grow = -1, ml = json_number_value(json_object_get(m, "links"));
        for (int j = 0; j < n; j++) {
            const json_t *jm = json_object_get(run_of(s[j].rep, rep), "metrics");
            if (!json_is_number(json_object_get(jm, "rss_per_link_bytes")))
                continue;
            double g = json_number_value(json_object_get(jm, "rss_per_link_bytes")) *
                       json_number_value(json_object_get(jm, "links"));
            grow = g > grow ? g : grow;
        }
        if (grow >= 0 && ml > 0)
            json_object_set_new(m, "rss_per_link_bytes", json_real(grow / ml));
        json_t *pl = json_object_get(run, "placement");
        json_object_set(pl, "server_cpus", json_object_get(json_object_get(r, "placement"), "server_cpus"));
        json_object_set_new(run, "server_figures_from", json_pack("{s:i,s:s}", "shard", s[k].index, "why",
            "the target's /proc figures (--target-pid) as this shard read them over its window: every "
            "shard reads the same process, so they are taken once; rss_per_link_bytes is the largest "
            "growth any shard saw (from its reading before its start) over all links, a lower bound"));
        return;
    }
}

/* How the hosts' windows lined up: in the target's clock's frame when every host has an
 * offset estimate, else by each host's own clock (their errors then unseen). */
static void windows(json_t *run, json_t *shards, json_t *why)
{
    size_t n = json_array_size(shards), i;
    const json_t *sh;
    bool all_off = n > 0;
    int64_t s_min = INT64_MAX, s_max = INT64_MIN, e_min = INT64_MAX, e_max = INT64_MIN;
    double unc = 0;
    int have = 0;
    json_array_foreach(shards, i, sh)
        all_off = all_off && json_is_number(json_object_get(json_object_get(sh, "clock"), "offset_ms"));
    json_t *offs = json_array();
    json_array_foreach(shards, i, sh) {
        const json_t *w = json_object_get(sh, "window"), *c = json_object_get(sh, "clock");
        if (!json_is_integer(json_object_get(w, "start_ns")))
            continue;
        int64_t off = all_off ? (int64_t)(json_number_value(json_object_get(c, "offset_ms")) * 1e6) : 0;
        if (all_off) {
            double u = json_number_value(json_object_get(c, "uncertainty_ms"));
            unc = u > unc ? u : unc;
            json_array_append_new(offs, json_real(off / 1e6));
        }
        int64_t a = json_integer_value(json_object_get(w, "start_ns")) + off;
        int64_t b = json_integer_value(json_object_get(w, "end_ns")) + off;
        s_min = a < s_min ? a : s_min, s_max = a > s_max ? a : s_max;
        e_min = b < e_min ? b : e_min, e_max = b > e_max ? b : e_max;
        have++;
    }
    if (have == 0) {
        json_decref(offs);
        return;
    }
    double overlap = (double)(e_min - s_max) / 1e9;
    json_t *o = json_pack("{s:s,s:f,s:f,s:f}", "frame", all_off
        ? "the target's clock: each host's window moved by its offset (HTTP Date)"
        : "each host's own wall clock: not every host has an offset estimate, so errors of the "
          "hosts' clocks are not seen here", "start_spread_ms", (double)(s_max - s_min) / 1e6,
        "end_spread_ms", (double)(e_max - e_min) / 1e6, "overlap_s", overlap);
    if (all_off) {
        json_object_set_new(o, "uncertainty_ms", json_real(unc * 2));
        json_object_set_new(o, "clock_offsets_ms", offs);
    } else {
        json_decref(offs);
    }
    /* a rate over hosts that were not loading the target at the same time is no rate */
    if (overlap * 1e3 + (all_off ? 2 * unc : 0) < 0)
        json_array_append_new(why, json_sprintf("the shards' windows did not overlap (%.3f s apart, %s): "
                              "the merged figures are not of one load", -overlap,
                              all_off ? "by the target's clock" : "by the hosts' clocks"));
    json_object_set_new(run, "shard_windows", o);
}

static json_t *shard_entry(const shard_in *s, const json_t *run, const json_t *so)
{
    const json_t *m = json_object_get(run, "metrics"), *d = json_object_get(so, "driver");
    json_t *e = json_pack("{s:i,s:O,s:O,s:O}", "index", s->index, "host", json_object_get(so, "host"),
                          "links", json_object_get(so, "links"), "link_ranges",
                          json_object_get(so, "link_ranges"));
    static const char *const mk[] = {"msgs_sent", "msgs_delivered", "msgs_lost", "cpu_driver_util", NULL};
    for (int i = 0; mk[i]; i++)
        if (json_object_get(m, mk[i]))
            json_object_set(e, mk[i], json_object_get(m, mk[i]));
    if (d) {
        json_object_set_new(e, "links_established", json_integer(run_jpath(d, "links_established")));
        json_object_set_new(e, "cpu_driver_s", json_real((double)run_jpath(d, "cpu_ns") / 1e9));
        json_object_set_new(e, "runq_wait_s", json_real((double)run_jpath(d, "runq_wait_ns") / 1e9));
        json_object_set(e, "driver_saturated", json_object_get(d, "driver_saturated"));
        json_object_set(e, "driver_saturated_why", json_object_get(d, "saturated_why"));
    }
    json_object_set(e, "driver_cpus", json_object_get(json_object_get(run, "placement"), "driver_cpus"));
    static const char *const sk[] = {"start", "window", "clock", "failure", NULL};
    for (int i = 0; sk[i]; i++)
        if (json_object_get(so, sk[i]))
            json_object_set(e, sk[i], json_object_get(so, sk[i]));
    json_object_set_new(e, "valid", json_boolean(json_array_size(json_object_get(json_object_get(run,
                        "flags"), "invalid_reasons")) == 0));
    return e;
}

static json_t *merge_rep(const shard_in *s, int n, int64_t rep, char *err, size_t errlen)
{
    struct drv_result m, b;
    memset(&m, 0, sizeof m);
    char mwhy[160] = "", bwhy[64], note[160], failure[2048] = "", dcpus[2048] = "";
    met_hist *hm[RUN_DRVS_NHIST];
    for (int i = 0; i < RUN_DRVS_NHIST; i++)
        hm[i] = met_hist_create();
    json_t *docs = json_array(), *shards = json_array(), *run = NULL;
    int64_t links_wanted = 0, links_open = 0, drain = 0;
    bool est = false, partial = false, have = false;
    const char *variant = "external";
    for (int k = 0; k < n; k++) {
        const json_t *r = run_of(s[k].rep, rep), *so = json_object_get(r, "shard");
        const char *host = json_string_value(json_object_get(so, "host"));
        if (!json_is_object(so)) {
            SAY("%s: runs (rep %lld): no shard object (not written by run --shard)", s[k].path, (long long)rep);
            goto fail;
        }
        variant = json_string_value(json_object_get(r, "variant")) ? json_string_value(json_object_get(r, "variant")) : variant;
        links_wanted += run_jpath(so, "links");
        partial |= json_is_true(json_object_get(json_object_get(r, "flags"), "partial"));
        const char *placed = json_string_value(json_object_get(json_object_get(r, "placement"), "driver_cpus"));
        appendf(dcpus, sizeof dcpus, "%sshard %s%d/%d: %s%s", host ? host : "?", s[k].index, s[k].count,
                placed ? placed : "", "");
        const char *f = json_string_value(json_object_get(so, "failure"));
        const json_t *dj = json_object_get(so, "driver");
        if (f || !dj)
            appendf(failure, sizeof failure, "%sshard %s%d/%d on %s: %s", "", s[k].index, s[k].count,
                    host ? host : "?", f ? f : "no driver result");
        json_array_append_new(shards, shard_entry(&s[k], r, so));
        if (!dj)
            continue;
        memset(&b, 0, sizeof b);
        char e2[256];
        if (run_shard_dr_from_json(dj, &b, bwhy, sizeof bwhy, e2, sizeof e2) < 0) {
            SAY("%s: runs (rep %lld): shard.%s", s[k].path, (long long)rep, e2);
            goto fail;
        }
        for (int i = 0; i < RUN_DRVS_NHIST; i++) {
            const json_t *hj = json_object_get(json_object_get(so, "histograms"), RUN_SHARD_HIST_NAMES[i]);
            if (!hj)
                continue;
            met_hist *h = run_shard_hist_from_json(hj);
            if (!h) {
                SAY("%s: runs (rep %lld): shard.histograms.%s: malformed", s[k].path, (long long)rep,
                    RUN_SHARD_HIST_NAMES[i]);
                goto fail;
            }
            met_hist_merge(hm[i], h);
            met_hist_destroy(h);
        }
        /* the worst driver decides saturation: say which host it was */
        snprintf(note, sizeof note, "%s (shard %d/%d on %s)", bwhy, s[k].index, s[k].count, host ? host : "?");
        int64_t dr_k = b.t_end - b.t_measure_end;
        if (!have) {
            m = b;
            m.saturated_why = NULL;
            if (b.driver_saturated) {
                snprintf(mwhy, sizeof mwhy, "%s", note);
                m.saturated_why = mwhy;
            }
            have = true;
        } else {
            int64_t w = b.measure_ns > m.measure_ns ? b.measure_ns : m.measure_ns;
            run_drvs_merge(&m, &b, note, mwhy, sizeof mwhy);
            m.measure_ns = w;
        }
        drain = dr_k > drain ? dr_k : drain;
        json_array_append_new(docs, json_pack("{s:I,s:O}", "t_end", (json_int_t)b.t_end, "links",
                              json_object_get(json_object_get(so, "census"), "links")));
        links_open += run_jpath(json_object_get(so, "census"), "links_open");
        est |= json_is_true(json_object_get(json_object_get(r, "metrics"), "in_flight_estimated"));
    }
    /* the hosts' clocks are their own: the merged window is the longest one, its drain
     * the longest, on a time line of its own */
    m.t_start = m.t_load0 = m.t_measure_start = 0;
    m.t_measure_end = m.measure_ns;
    m.t_end = m.measure_ns + drain;
    run_shard_set_hists(&m, hm);
    run_inputs in = {.variant = variant, .rep = (int)rep, .links_wanted = links_wanted,
                     .dr = have ? &m : NULL, .failure = failure[0] ? failure : NULL,
                     .partial = partial, .drv_census = docs, .driver_cpus = dcpus};
    run = run_ext_run_object(&in);
    json_t *mm = json_object_get(run, "metrics");
    /* the reduced censuses leave out links that held nothing: count them all */
    json_t *cc = json_object_get(mm, "census_check");
    if (cc)
        json_object_set_new(cc, "driver_links_open", json_integer(links_open));
    if (est)
        json_object_set_new(mm, "in_flight_estimated", json_true());
    server_figures(run, s, n, rep);
    run_ext_set_absent(run);
    const json_t *tg = json_object_get(run_of(s[0].rep, rep), "target");
    if (tg)
        json_object_set_new(run, "target", json_deep_copy(tg));
    windows(run, shards, json_object_get(json_object_get(run, "flags"), "invalid_reasons"));
    json_object_set_new(run, "shards", shards);
    shards = NULL;
fail:
    json_decref(shards);
    json_decref(docs);
    for (int i = 0; i < RUN_DRVS_NHIST; i++)
        met_hist_destroy(hm[i]);
    return run;
}

/* ---------------------------------------------------------------- the report */

json_t *run_merge_reports(json_t *const *reports, const char *const *paths, int n, char *err,
                          size_t errlen)
{
    if (n < 1)
        return SAY("no shard report given"), NULL;
    shard_in *s = calloc((size_t)n, sizeof *s);
    if (!s)
        return SAY("out of memory"), NULL;
    for (int i = 0; i < n; i++) {
        s[i].rep = reports[i];
        s[i].path = paths[i];
        if (!run_merge_is_shard(reports[i])) {
            SAY("%s: not a shard result (no scenario.shard: written without run --shard)", paths[i]);
            free(s);
            return NULL;
        }
    }
    json_t *out = NULL, *runs = json_array();
    if (check_set(s, n, err, errlen) < 0)
        goto done;
    size_t i;
    const json_t *r0;
    json_array_foreach(json_object_get(s[0].rep, "runs"), i, r0) {
        json_t *run = merge_rep(s, n, json_integer_value(json_object_get(r0, "rep")), err, errlen);
        if (!run)
            goto done;
        json_array_append_new(runs, run);
    }
    json_t *sc = json_deep_copy(json_object_get(s[0].rep, "scenario"));
    json_t *sj = json_object_get(sc, "shard");
    json_t *files = json_array();
    for (int k = 0; k < n; k++)
        json_array_append_new(files, json_string(s[k].path));
    json_t *shards = json_pack("{s:i,s:o}", "count", s[0].count, "reports", files);
    if (json_object_get(sj, "start_at"))
        json_object_set(shards, "start_at", json_object_get(sj, "start_at"));
    json_object_del(sc, "shard");
    json_object_set_new(sc, "shards", shards);
    json_t *mach = json_deep_copy(json_object_get(s[0].rep, "machine"));
    if (!json_is_object(mach)) {
        json_decref(mach);
        mach = json_object();
    }
    json_t *hosts = json_array();
    for (int k = 0; k < n; k++) {
        const json_t *so = json_object_get(json_array_get(json_object_get(s[k].rep, "runs"), 0), "shard");
        json_array_append_new(hosts, json_pack("{s:i,s:O,s:O}", "shard", s[k].index, "host",
                              json_object_get(so, "host") ? json_object_get(so, "host") : json_null(),
                              "machine", json_object_get(s[k].rep, "machine")));
    }
    json_object_set_new(mach, "hosts", hosts);
    json_object_set_new(mach, "note", json_sprintf("%d hosts: the fields above are shard 0's host's; "
                        "each host's record is in hosts", s[0].count));
    out = rep_report_build(sc, mach, json_object_get(s[0].rep, "config"), runs, err, errlen);
    json_decref(sc);
    json_decref(mach);
done:
    json_decref(runs);
    free(s);
    return out;
}
