/* rep_report.c — report.json: per-variant median/min/max over repetitions, validity flags, written atomically (lb_file.h). */
#include "rep_report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lb_file.h"
#include "met_names.h"
#include "met_stats.h"

#define DRIVER_SATURATED_UTIL 0.8   /* METHOD.md, 9: a driver above ~80 % of a core */

static void say(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int validate_run(const json_t *run, size_t i, char *err, size_t errlen)
{
    const json_t *v = json_object_get(run, "variant");
    const json_t *r = json_object_get(run, "rep");
    const json_t *f = json_object_get(run, "flags");
    if (!json_is_object(run))
        return say(err, errlen, "runs[%zu]: must be an object", i), -EINVAL;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return say(err, errlen, "runs[%zu].variant: must be a non-empty string", i), -EINVAL;
    if (!json_is_integer(r) || json_integer_value(r) < 0)
        return say(err, errlen, "runs[%zu].rep: must be an integer >= 0", i), -EINVAL;
    if (!json_is_object(json_object_get(run, "metrics")))
        return say(err, errlen, "runs[%zu].metrics: must be an object", i), -EINVAL;
    if (f && !json_is_object(f))
        return say(err, errlen, "runs[%zu].flags: must be an object", i), -EINVAL;
    return 0;
}

static bool metric(const json_t *metrics, const char *key, double *out)
{
    const json_t *v = json_object_get(metrics, key);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

/* Per-run derived ratios: a ratio of medians is not the median of ratios, so they are
 * computed per run and summarised like any other metric. */
static void add_derived(json_t *metrics)
{
    double cpu, delivered;
    if (!metric(metrics, "cpu_server_s", &cpu) || !metric(metrics, "msgs_delivered", &delivered))
        return;
    if (delivered > 0 && !json_object_get(metrics, "cpu_ms_per_1k_msgs"))
        json_object_set_new(metrics, "cpu_ms_per_1k_msgs", json_real(cpu * 1e6 / delivered));
    if (cpu > 0 && !json_object_get(metrics, "msgs_per_cpu_s"))
        json_object_set_new(metrics, "msgs_per_cpu_s", json_real(delivered / cpu));
}

static void add_reason(json_t *reasons, const json_t *run, const char *fmt, ...)
{
    char text[512];
    int n = snprintf(text, sizeof text, "%s rep %lld: ",
                     json_string_value(json_object_get(run, "variant")),
                     (long long)json_integer_value(json_object_get(run, "rep")));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + n, sizeof text - (size_t)n, fmt, ap);
    va_end(ap);
    json_array_append_new(reasons, json_string(text));
}

typedef struct vflags {
    bool valid, saturated, partial;
} vflags;

/* The checks of one run; reasons go to the report-wide list. */
static void check_run(const json_t *run, json_t *reasons, vflags *vf, json_t *limits)
{
    const json_t *m = json_object_get(run, "metrics");
    const json_t *f = json_object_get(run, "flags");
    double lost, util, sent, parts[5];
    if (!metric(m, "msgs_lost", &lost)) {
        add_reason(reasons, run, "msgs_lost not reported (loss cannot be ruled out)");
        vf->valid = false;
    } else if (lost != 0) {
        add_reason(reasons, run, "msgs_lost = %.0f (must be 0: every message delivered, "
                   "dropped with a reason, refused, or in flight)", lost);
        vf->valid = false;
    }
    static const char *const accounted[] = {"msgs_delivered", "msgs_dropped", "msgs_refused",
                                            "msgs_in_flight", "msgs_lost"};
    bool all = metric(m, "msgs_sent", &sent);
    double sum = 0, abandoned = 0;
    for (int k = 0; all && k < 5; k++) {
        all = metric(m, accounted[k], &parts[k]);
        sum += all ? parts[k] : 0;
    }
    /* messages on connections that closed during the run, when the run reports them */
    if (metric(m, "msgs_abandoned", &abandoned))
        sum += abandoned;
    if (all && fabs(sent - sum) > 0.5) {
        add_reason(reasons, run, "accounting does not add up: msgs_sent %.0f != delivered %.0f "
                   "+ dropped %.0f + refused %.0f + in_flight %.0f + lost %.0f + abandoned %.0f",
                   sent, parts[0], parts[1], parts[2], parts[3], parts[4], abandoned);
        vf->valid = false;
    }
    size_t k;
    const json_t *r;
    json_array_foreach(json_object_get(f, "invalid_reasons"), k, r) {
        if (json_is_string(r)) {
            add_reason(reasons, run, "%s", json_string_value(r));
            vf->valid = false;
        }
    }
    if (json_is_true(json_object_get(f, "driver_saturated")) ||
        (metric(m, "cpu_driver_util", &util) && util > DRIVER_SATURATED_UTIL))
        vf->saturated = true;
    if (json_is_true(json_object_get(f, "partial")))
        vf->partial = true;
    const json_t *lim = json_object_get(f, "limit_reached");
    if (json_is_string(lim) && json_string_length(lim) > 0) {
        bool dup = false;
        json_array_foreach(limits, k, r) dup = dup || json_equal(r, lim);
        if (!dup)
            json_array_append(limits, (json_t *)lim);
    }
}

static json_t *null_mmm(void)
{
    return json_pack("{s:n,s:n,s:n}", "median", "min", "max");
}

/* median/min/max of metrics.<key> (or metrics.<key>.<sub> when sub is set) over runs. */
static json_t *summarise(const json_t *runs, const char *key, const char *sub, bool missing_is_zero,
                         double *buf)
{
    int n = 0;
    size_t i;
    const json_t *run;
    json_array_foreach(runs, i, run) {
        const json_t *v = json_object_get(json_object_get(run, "metrics"), key);
        if (sub)
            v = json_object_get(v, sub);
        if (json_is_number(v))
            buf[n++] = json_number_value(v);
        else if (missing_is_zero)
            buf[n++] = 0;
    }
    return n ? met_mmm_to_json(met_stats_mmm(buf, n)) : NULL;
}

static json_t *summarise_object(const json_t *runs, const char *key, const char *const *forced,
                                bool missing_is_zero, double *buf, bool *any)
{
    json_t *out = json_object();
    for (const char *const *f = forced; f && *f; f++)
        json_object_set_new(out, *f, json_null());   /* reserve the order */
    size_t i;
    const json_t *run, *v;
    const char *sub;
    json_array_foreach(runs, i, run) {
        json_object_foreach(json_object_get(json_object_get(run, "metrics"), key), sub, v) {
            if (json_is_number(v) && !json_object_get(out, sub))
                json_object_set_new(out, sub, json_null());
        }
    }
    *any = false;
    json_t *tmp;
    json_object_foreach_safe(out, tmp, sub, v) {
        json_t *s = summarise(runs, key, sub, missing_is_zero, buf);
        *any = *any || s;
        json_object_set_new(out, sub, s ? s : null_mmm());
    }
    return out;
}

static json_t *summarise_variant(const json_t *runs, json_t *missing, double *buf)
{
    json_t *sum = json_object();
    bool any;
    for (const char *const *k = MET_SCALAR_METRICS; *k; k++) {
        json_t *s = summarise(runs, *k, NULL, false, buf);
        if (!s)
            json_array_append_new(missing, json_string(*k));
        json_object_set_new(sum, *k, s ? s : null_mmm());
    }
    for (const char *const *k = MET_LATENCY_METRICS; *k; k++) {
        json_object_set_new(sum, *k, summarise_object(runs, *k, MET_LATENCY_KEYS, false, buf, &any));
        if (!any)
            json_array_append_new(missing, json_string(*k));
    }
    json_object_set_new(sum, "drops_by_reason",
                        summarise_object(runs, "drops_by_reason", NULL, true, buf, &any));
    /* every other metric a run reported, in order of first appearance */
    size_t i;
    const json_t *run, *v;
    const char *key;
    json_array_foreach(runs, i, run) {
        json_object_foreach(json_object_get(run, "metrics"), key, v) {
            if (json_object_get(sum, key))
                continue;
            if (json_is_number(v))
                json_object_set_new(sum, key, summarise(runs, key, NULL, false, buf));
            else if (json_is_object(v))
                json_object_set_new(sum, key, summarise_object(runs, key, NULL, false, buf, &any));
        }
    }
    return sum;
}

static json_t *copy_or_empty(const json_t *j)
{
    return j ? json_deep_copy(j) : json_object();
}

json_t *rep_report_build(const json_t *scenario, const json_t *machine, const json_t *config,
                         const json_t *runs, char *err, size_t errlen)
{
    if (!json_is_array(runs))
        return say(err, errlen, "runs: must be an array"), NULL;
    size_t i;
    const json_t *run;
    json_array_foreach(runs, i, run) {
        if (validate_run(run, i, err, errlen) < 0)
            return NULL;
    }
    double *buf = malloc((json_array_size(runs) + 1) * sizeof *buf);
    json_t *rep = json_object(), *copies = json_array(), *by_variant = json_object();
    json_t *reasons = json_array(), *fvariants = json_object(), *summary = json_object();
    if (!buf || !rep || !copies || !by_variant || !reasons || !fvariants || !summary) {
        say(err, errlen, "out of memory building the report");
        free(buf);
        json_decref(rep), json_decref(copies), json_decref(by_variant);
        json_decref(reasons), json_decref(fvariants), json_decref(summary);
        return NULL;
    }
    json_array_foreach(runs, i, run) {
        json_t *c = json_deep_copy(run);
        add_derived(json_object_get(c, "metrics"));
        json_array_append_new(copies, c);
        const char *v = json_string_value(json_object_get(c, "variant"));
        json_t *list = json_object_get(by_variant, v);
        if (!list)
            json_object_set_new(by_variant, v, list = json_array());
        json_array_append(list, c);
    }
    bool valid = true, saturated = false, partial = false;
    size_t max_reps = 0, min_reps = SIZE_MAX;
    const char *name;
    json_t *list;
    json_object_foreach(by_variant, name, list) {
        vflags vf = {true, false, false};
        json_t *limits = json_array(), *missing = json_array();
        json_array_foreach(list, i, run) check_run(run, reasons, &vf, limits);
        json_object_set_new(summary, name, summarise_variant(list, missing, buf));
        size_t nl = json_array_size(limits);
        json_t *limit = nl == 0 ? json_null() : nl == 1 ? json_incref(json_array_get(limits, 0))
                                                        : json_incref(limits);
        json_object_set_new(fvariants, name,
                            json_pack("{s:I,s:b,s:b,s:b,s:o,s:o}", "reps",
                                      (json_int_t)json_array_size(list), "valid", vf.valid,
                                      "driver_saturated", vf.saturated, "partial", vf.partial,
                                      "limit_reached", limit, "missing_metrics", missing));
        json_decref(limits);
        valid = valid && vf.valid;
        saturated = saturated || vf.saturated;
        partial = partial || vf.partial;
        max_reps = json_array_size(list) > max_reps ? json_array_size(list) : max_reps;
        min_reps = json_array_size(list) < min_reps ? json_array_size(list) : min_reps;
    }
    if (json_object_size(by_variant) > 0 && min_reps != max_reps)
        partial = true;   /* interleaved repetitions stopped part-way through a round */
    free(buf);
    json_decref(by_variant);
    json_object_set_new(rep, "format", json_integer(1));
    json_object_set_new(rep, "scenario", copy_or_empty(scenario));
    json_object_set_new(rep, "machine", copy_or_empty(machine));
    json_object_set_new(rep, "config", copy_or_empty(config));
    json_object_set_new(rep, "valid", json_boolean(valid));
    json_object_set_new(rep, "flags",
                        json_pack("{s:b,s:o,s:b,s:b,s:o}", "valid", valid, "reasons", reasons,
                                  "driver_saturated", saturated, "partial", partial,
                                  "variants", fvariants));
    json_object_set_new(rep, "runs", copies);
    json_object_set_new(rep, "summary", summary);
    return rep;
}

int rep_report_write(const json_t *report, const char *path, char *err, size_t errlen)
{
    /* 12 significant digits: exact for every count, and no 41.200000000000003 noise */
    char *text = json_dumps(report, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
    if (!text)
        return say(err, errlen, "%s: %s", path, strerror(ENOMEM)), -ENOMEM;
    size_t len = strlen(text);
    text[len] = '\n';   /* json_dumps leaves room: len + 1 bytes, the NUL becomes '\n' */
    int rc = lb_write_atomic(path, text, len + 1, err, errlen);
    free(text);
    return rc;
}

static const json_t *instance_of(const json_t *report, const char *name)
{
    size_t i;
    const json_t *x;
    json_array_foreach(json_object_get(json_object_get(report, "config"), "variants"), i, x) {
        const char *n = json_string_value(json_object_get(x, "name"));
        if (json_is_object(x) && n && !strcmp(n, name))
            return x;
    }
    return NULL;
}

const char *rep_variant_module(const json_t *report, const char *name)
{
    const char *m = json_string_value(json_object_get(instance_of(report, name), "variant"));
    return m ? m : name;
}

const json_t *rep_variant_config(const json_t *report, const char *name)
{
    return json_object_get(instance_of(report, name), "config");
}
