/* rep_md.c — report.md from report.json: machine record, the measured comparison table, a paragraph computed from the summary, the expect lines. */
#include "rep_md.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chk.h"
#include "lb_file.h"
#include "link_registry.h"
#include "rep_report.h"

/* The variant every ratio is taken against: ours, when it was run. */
#define REF_VARIANT "evloop"

static double med(const json_t *sv, const char *metric)
{
    char buf[96];
    snprintf(buf, sizeof buf, "%s", metric);
    char *dot = strchr(buf, '.');
    if (dot)
        *dot = 0;
    const json_t *m = json_object_get(sv, buf);
    if (dot)
        m = json_object_get(m, dot + 1);
    const json_t *x = json_object_get(m, "median");
    return json_is_number(x) ? json_number_value(x) : NAN;
}

/* Three significant digits (the histograms' precision); counts whole, with thin groups. */
static const char *n3(char *b, size_t len, double x)
{
    double a = fabs(x);
    if (!isfinite(x))
        snprintf(b, len, "-");
    else if (x == floor(x) && a >= 10000)
        snprintf(b, len, "%.0f", x);   /* counts: exact */
    else if (x == floor(x) || a >= 100)
        snprintf(b, len, "%.0f", x);
    else if (a >= 10)
        snprintf(b, len, "%.1f", x);
    else if (a >= 1)
        snprintf(b, len, "%.2f", x);
    else
        snprintf(b, len, "%.3g", x);
    return b;
}

void rep_md_lat(char *out, size_t len, double us)
{
    char b[32];
    if (!isfinite(us))
        snprintf(out, len, "-");
    else if (us >= 1e6)
        snprintf(out, len, "%s s", n3(b, sizeof b, us / 1e6));
    else if (us >= 1e3)
        snprintf(out, len, "%s ms", n3(b, sizeof b, us / 1e3));
    else
        snprintf(out, len, "%s µs", n3(b, sizeof b, us));
}

/* Declared loss policy, from the variant's own module ("?" when it cannot be loaded
 * here, e.g. a report from another machine). */
static const char *declared_policy(const char *variant)
{
    link_module *m = NULL;
    char err[512];
    if (link_module_load(variant, &m, err, sizeof err) < 0)
        return "?";
    const char *p = link_loss_policy_name(m->v->loss_policy);
    link_module_unload(m);
    return p;
}

static const char *cfg_str(const json_t *r, const char *a, const char *b)
{
    const json_t *x = json_object_get(json_object_get(r, "config"), a);
    return json_string_value(b ? json_object_get(x, b) : x);
}

static double cfg_num(const json_t *r, const char *a, const char *b, const char *c)
{
    const json_t *x = json_object_get(json_object_get(r, "config"), a);
    if (b)
        x = json_object_get(x, b);
    if (c)
        x = json_object_get(x, c);
    return json_is_number(x) ? json_number_value(x) : NAN;
}

/* app.inline: where the handlers ran (each run's server says whether it was in effect). */
static void app_inline(FILE *f, const json_t *r)
{
    if (!json_is_true(json_object_get(json_object_get(json_object_get(r, "config"), "app"), "inline")))
        return;
    char on[256] = "";
    size_t i;
    const json_t *run;
    json_array_foreach(json_object_get(r, "runs"), i, run) {
        const char *v = json_string_value(json_object_get(run, "variant"));
        if (!v || !json_is_true(json_object_get(json_object_get(run, "server"), "app_inline")))
            continue;
        bool seen = false;   /* one name per variant, matched whole */
        for (const char *p = on; *p && !seen; p += strcspn(p, ",") + (p[strcspn(p, ",")] ? 2 : 0))
            seen = strlen(v) == strcspn(p, ",") && !strncmp(p, v, strlen(v));
        if (seen)
            continue;
        snprintf(on + strlen(on), sizeof on - strlen(on), "%s%s", on[0] ? ", " : "", v);
    }
    fprintf(f, ", handlers inline (app.inline) on the variants' own threads where supported: %s; "
            "on the app's workers elsewhere", on[0] ? on : "none");
}

static void machine(FILE *f, const json_t *r)
{
    const json_t *m = json_object_get(r, "machine");
    const json_t *pin = json_object_get(m, "pinning");
    char ps[64] = "", pd[64] = "";
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(pin, "server"), i, x)
        snprintf(ps + strlen(ps), sizeof ps - strlen(ps), "%s%lld", i ? "," : "", (long long)json_integer_value(x));
    json_array_foreach(json_object_get(pin, "driver"), i, x)
        snprintf(pd + strlen(pd), sizeof pd - strlen(pd), "%s%lld", i ? "," : "", (long long)json_integer_value(x));
    fprintf(f, "**Machine.** %lld CPUs, %s, %s. Steal during the runs: %.0f ms. Pinning: "
            "server %s, driver %s.",
            (long long)json_integer_value(json_object_get(m, "cpus")),
            json_string_value(json_object_get(m, "model")) ?: "?",
            json_string_value(json_object_get(m, "kernel")) ?: "?",
            json_number_value(json_object_get(m, "steal_ms")), ps[0] ? ps : "none",
            pd[0] ? pd : "none");
    /* where each process actually ran (METHOD.md 10): distinct values over all runs */
    char seen[8][160];
    int ns = 0;
    const json_t *run;
    json_array_foreach(json_object_get(r, "runs"), i, run) {
        const json_t *pl = json_object_get(run, "placement");
        char one[160];
        snprintf(one, sizeof one, "server on CPU %s, driver %s",
                 json_string_value(json_object_get(pl, "server_cpus")) ?: "?",
                 json_string_value(json_object_get(pl, "driver_cpus")) ?: "?");
        bool dup = false;
        for (int k = 0; k < ns && !dup; k++)
            dup = !strcmp(seen[k], one);
        if (!dup && ns < 8)
            snprintf(seen[ns++], sizeof seen[0], "%s", one);
    }
    fprintf(f, " Placement observed:");
    for (int k = 0; k < ns; k++)
        fprintf(f, "%s %s", k ? ";" : "", seen[k]);
    fprintf(f, "%s\n\n", ns ? "." : " not recorded.");
}

static void table(FILE *f, const json_t *r, double dur)
{
    fprintf(f, "| variant | threads/link | CPU per 1k msgs | CPU per link-s | in p50 | in p99 "
            "| out p50 | out p99 | drops | in flight | lost | kept up | RSS/link "
            "| loss policy: declared → observed |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- "
            "| ---: | --- |\n");
    const char *v;
    const json_t *s;
    json_object_foreach(json_object_get(r, "summary"), v, s) {
        char a[8][48];
        double links = med(s, "links"), cpu = med(s, "cpu_server_s");
        double per_link_s = links > 0 && dur > 0 ? cpu * 1e6 / (links * dur) : NAN;
        double drops = med(s, "msgs_dropped");
        double cpk = med(s, "cpu_ms_per_1k_msgs"), rss = med(s, "rss_per_link_bytes");
        fprintf(f, "| %s | %s | %s%s | %s%s | ", v, n3(a[0], 48, med(s, "threads_per_link")),
                n3(a[1], 48, cpk), isfinite(cpk) ? " ms" : "", n3(a[2], 48, per_link_s),
                isfinite(per_link_s) ? " µs" : "");
        static const char *const lat[] = {"lat_in_us.p50", "lat_in_us.p99", "lat_out_us.p50",
                                          "lat_out_us.p99"};
        /* a p99 with undelivered messages: the censored one, a lower bound */
        static const char *const cz[] = {NULL, "lat_in_censored_us", NULL, "lat_out_censored_us"};
        for (int k = 0; k < 4; k++) {
            char und[96];
            snprintf(und, sizeof und, "%s.undelivered", cz[k] ? cz[k] : "");
            if (cz[k] && med(s, und) > 0) {
                snprintf(und, sizeof und, "%s.p99", cz[k]);
                rep_md_lat(a[k], 48, med(s, und));
                fprintf(f, "≥ %s | ", a[k]);
                continue;
            }
            rep_md_lat(a[k], 48, med(s, lat[k]));
            fprintf(f, "%s | ", a[k]);
        }
        const json_t *ku = json_object_get(s, "kept_up");
        double ku_lo = json_number_value(json_object_get(ku, "min"));
        double ku_hi = json_number_value(json_object_get(ku, "max"));
        fprintf(f, "%s | %s | %s | %s | %s%s | ", n3(a[4], 48, drops),
                n3(a[7], 48, med(s, "msgs_in_flight")), n3(a[5], 48, med(s, "msgs_lost")),
                !json_is_number(json_object_get(ku, "min")) ? "-" : ku_lo >= 1 ? "yes"
                : ku_hi <= 0 ? "**no**" : "some reps",
                n3(a[6], 48, rss / 1024), isfinite(rss) ? " KiB" : "");
        /* an instance runs its module with other params: the declaration is the module's,
         * which its config may change (batch's nonblocking_delivery makes it drop) */
        const char *module = rep_variant_module(r, v);
        const char *decl = declared_policy(module);
        bool inst = strcmp(module, v) != 0;
        char declw[96];
        snprintf(declw, sizeof declw, "%s%s%s", inst ? module : "", inst ? "'s: " : "", decl);
        if (!isfinite(drops))
            fprintf(f, "%s → not measured |\n", declw);
        else if (drops > 0)
            fprintf(f, "%s → **dropped %s**%s |\n", declw, n3(a[7], 48, drops),
                    strcmp(decl, "drops") && strcmp(decl, "?")
                        ? inst ? " (its config changes the module's policy)" : " (contradicts the declaration)"
                        : "");
        else
            fprintf(f, "%s → none dropped%s |\n", declw,
                    !strcmp(decl, "drops") ? " (no drop was needed here)" : "");
    }
    fprintf(f, "\nMedians over repetitions; CPU is the whole server process (variant, app "
            "model, acceptor); CPU per link-s = server CPU / (links × measured seconds); in = "
            "client→app, out = app→client, latency from the scheduled send time; ≥ x: some "
            "messages were not delivered by the end and count at their age then (censored, a "
            "lower bound); in flight: observed at the driver's end where each message was; kept "
            "up: delivered in the window ≥ 98 %% of what was offered in it, backlog not "
            "growing; RSS/link = (steady RSS − RSS before links) / links. Ranges are in "
            "report.json.\n\n");
}

/* A list "a, b and c" of names. */
static void names(FILE *f, const char **v, int n)
{
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%s", i == 0 ? "" : i == n - 1 ? " and " : ", ", v[i]);
}

static void reasons(FILE *f, const json_t *s)
{
    const char *k;
    const json_t *x;
    int i = 0;
    char b[48];
    json_object_foreach(json_object_get(s, "drops_by_reason"), k, x) {
        double m = json_number_value(json_object_get(x, "median"));
        if (m > 0)
            fprintf(f, "%s%s %s", i++ ? ", " : ": ", k, n3(b, sizeof b, m));
    }
}

static void paragraph(FILE *f, const json_t *r, double dur)
{
    const json_t *sum = json_object_get(r, "summary");
    const json_t *ref = json_object_get(sum, REF_VARIANT);
    const char *v, *clean[32], *cheap = NULL;
    const json_t *s;
    int nclean = 0;
    char a[48], b[48], c[48];
    double best = INFINITY;
    json_object_foreach((json_t *)sum, v, s) {
        double x = med(s, "cpu_ms_per_1k_msgs");
        if (x < best)
            best = x, cheap = v;
    }
    const char *refname = ref ? REF_VARIANT : cheap;
    if (!ref && cheap)
        ref = json_object_get(sum, cheap);

    /* drops and loss */
    json_object_foreach((json_t *)sum, v, s) {
        double d = med(s, "msgs_dropped"), sent = med(s, "msgs_sent");
        if (d > 0) {
            fprintf(f, "%s dropped %s messages (%s %% of %s sent", v, n3(a, 48, d),
                    n3(b, 48, sent > 0 ? 100 * d / sent : NAN), n3(c, 48, sent));
            reasons(f, s);
            fprintf(f, ")%s. ", med(s, "msgs_delivered") == 0 ? ": it delivered none" : "");
        } else if (nclean < 32)
            clean[nclean++] = v;
    }
    if (nclean == (int)json_object_size(sum))
        fprintf(f, "No variant dropped a message. ");
    else if (nclean) {
        names(f, clean, nclean);
        fprintf(f, " dropped none. ");
    }
    /* what was still on its way when the measurement ended: a design that holds
     * messages back (a blocked loop, a long read deadline) shows here, not as drops */
    json_object_foreach((json_t *)sum, v, s) {
        double fl = med(s, "msgs_in_flight"), sent = med(s, "msgs_sent");
        double td = med(s, "msgs_discarded_at_teardown");
        if (!(sent > 0 && fl > 0.05 * sent))
            continue;
        fprintf(f, "%s still had %s messages (%s %% of those sent) in flight when the "
                "measurement ended", v, n3(a, 48, fl), n3(b, 48, 100 * fl / sent));
        if (td > 0)
            fprintf(f, ", %s of them discarded when its links closed", n3(c, 48, td));
        fprintf(f, ". ");
    }
    /* where a design stopped keeping up with the offered load */
    json_object_foreach((json_t *)sum, v, s) {
        double ku = med(s, "kept_up"), off = med(s, "window_msgs_offered"),
               del = med(s, "window_msgs_delivered");
        if (!(ku < 1) || !(off > 0))
            continue;
        fprintf(f, "%s did not keep up: it delivered %s of the %s messages offered in the "
                "measured window (%s %%)", v, n3(a, 48, del), n3(b, 48, off),
                n3(c, 48, 100 * del / off));
        double cens = med(s, "lat_out_censored_us.undelivered");
        if (cens > 0) {
            rep_md_lat(a, 48, med(s, "lat_out_censored_us.p99"));
            fprintf(f, "; %s app→client messages were still undelivered at the end, app→client "
                    "p99 counting them at their age ≥ %s", n3(b, 48, cens), a);
        }
        fprintf(f, ". ");
    }
    int nlost = 0;
    json_object_foreach((json_t *)sum, v, s) {
        double l = med(s, "msgs_lost");
        if (l > 0)
            fprintf(f, "%s lost %s messages unaccounted for: its runs are invalid. ", v, n3(a, 48, l)), nlost++;
    }
    if (!nlost)
        fprintf(f, "No message was lost (every one delivered, dropped with a reason, refused "
                "or in flight at the end). ");

    /* polling: wake-ups beyond what the messages explain */
    json_object_foreach((json_t *)sum, v, s) {
        double w = med(s, "wakeups_per_link_s"), links = med(s, "links");
        double m = links > 0 && dur > 0 ? med(s, "msgs_delivered") / (links * dur) : NAN;
        if (!(w > 2 * (isfinite(m) ? m : 0) + 50))
            continue;
        fprintf(f, "%s woke up %s times per link-second for %s messages per link-second", v,
                n3(a, 48, w), n3(b, 48, m));
        double rw = ref && ref != s ? med(ref, "wakeups_per_link_s") : NAN;
        if (isfinite(rw))
            fprintf(f, " (%s: %s%s)", refname, n3(c, 48, rw),
                    rw > 0 ? "" : ", it waits without waking");
        if (rw > 0)
            fprintf(f, ", %s× %s's", n3(a, 48, w / rw), refname);
        /* the kernel counts every server thread's switches (hand-offs to app workers,
         * a second thread per link): only far beyond its messages (10 per message and
         * 20 a second more) is it polling */
        if (isfinite(m) && w > 10 * m + 20)
            fprintf(f, ": it wakes whether or not a message is there (it polls). ");
        else if (isfinite(m) && m > 0)
            fprintf(f, ": %s wake-ups per message. ", n3(a, 48, w / m));
        else
            fprintf(f, ". ");
    }

    /* delayed server->client messages, against the reference */
    double ro = ref ? med(ref, "lat_out_us.p99") : NAN;
    int slow = 0;
    json_object_foreach((json_t *)sum, v, s) {
        double o = med(s, "lat_out_us.p99"), o50 = med(s, "lat_out_us.p50");
        if (!isfinite(ro) || s == ref || !(o >= 2 * ro && o >= ro + 1000))
            continue;
        char x[48];
        rep_md_lat(a, 48, o);
        rep_md_lat(b, 48, ro);
        rep_md_lat(c, 48, o50);
        fprintf(f, "%s delayed app→client messages: p99 %s (p50 %s) against %s's %s, %s×. ", v, a,
                c, refname, b, n3(x, sizeof x, o / ro));
        slow++;
    }
    if (isfinite(ro) && !slow && json_object_size(sum) > 1) {
        rep_md_lat(a, 48, ro);
        fprintf(f, "No variant's app→client p99 was more than twice %s's (%s). ", refname, a);
    }

    /* CPU and threads against the reference */
    double rc = ref ? med(ref, "cpu_ms_per_1k_msgs") : NAN;
    if (isfinite(rc) && rc > 0 && json_object_size(sum) > 1) {
        fprintf(f, "CPU per 1000 messages, as a multiple of %s's %s ms:", refname, n3(a, 48, rc));
        int i = 0;
        json_object_foreach((json_t *)sum, v, s) {
            double x = med(s, "cpu_ms_per_1k_msgs");
            if (s != ref && isfinite(x))
                fprintf(f, "%s %s %s×", i++ ? "," : "", v, n3(a, 48, x / rc));
        }
        fprintf(f, ". ");
    }
    fprintf(f, "Threads per link measured:");
    int i = 0;
    json_object_foreach((json_t *)sum, v, s)
        fprintf(f, "%s %s %s", i++ ? "," : "", v, n3(a, 48, med(s, "threads_per_link")));
    fprintf(f, ".");

    /* caveats: a number is never read without them */
    const json_t *vf = json_object_get(json_object_get(r, "flags"), "variants");
    const char *sat[32];
    int nsat = 0;
    json_object_foreach((json_t *)vf, v, s)
        if (json_is_true(json_object_get(s, "driver_saturated")) && nsat < 32)
            sat[nsat++] = v;
    if (nsat) {
        fprintf(f, " In the runs of ");
        names(f, sat, nsat);
        fprintf(f, " the driver was saturated: those latencies include the load generator's "
                "own delay.");
    }
    json_object_foreach((json_t *)vf, v, s) {
        const char *lim = json_string_value(json_object_get(s, "limit_reached"));
        if (lim)
            fprintf(f, " Limit: %s.", lim);
        if (json_is_false(json_object_get(s, "valid")))
            fprintf(f, " %s's runs are INVALID (see report.json flags).", v);
    }
    fprintf(f, "\n\n");
}

/* The runs set aside because the driver was saturated, each with what it measured: a
 * reader sees how often the instrument failed and that nothing was dropped quietly. */
static void discarded(FILE *f, const json_t *r)
{
    const json_t *d = json_object_get(r, "discarded_runs");
    if (!json_array_size(d))
        return;
    fprintf(f, "## Measured again\n\nThese runs were set aside and their repetition measured "
            "again (`driver.remeasure`); they stay in `report.json` (`discarded_runs`).\n\n"
            "| variant | rep | attempt | why | driver CPU | driver lag p99 | driver run-queue wait |\n"
            "| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
    size_t i;
    const json_t *x;
    json_array_foreach(d, i, x) {
        const json_t *m = json_object_get(x, "metrics"), *dr = json_object_get(m, "driver");
        char lag[48];
        rep_md_lat(lag, sizeof lag, json_number_value(json_object_get(dr, "lag_p99_ns")) / 1e3);
        fprintf(f, "| %s | %lld | %lld | %s | %.1f %% | %s | %.0f ms |\n",
                json_string_value(json_object_get(x, "variant")) ?: "?",
                (long long)json_integer_value(json_object_get(x, "rep")) + 1,
                (long long)json_integer_value(json_object_get(json_object_get(x, "discarded"), "attempt")),
                json_string_value(json_object_get(json_object_get(x, "discarded"), "why")) ?: "?",
                100 * json_number_value(json_object_get(m, "cpu_driver_util")), lag,
                json_number_value(json_object_get(dr, "runq_wait_ns")) / 1e6);
    }
    fprintf(f, "\n");
}

static void expectations(FILE *f, const json_t *r)
{
    char *buf = NULL, err[512];
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return;
    chk_out o = {.f = m, .verbose = true};
    chk_counts c = {0};
    int rc = chk_expect_report(r, &o, &c, err, sizeof err);
    fclose(m);
    if (rc < 0)
        fprintf(f, "## Expectations\n\nnot evaluated: %s\n\n", err);
    else if (c.held + c.failed + c.skipped > 0) {
        fprintf(f, "## Expectations\n\n%d held, %d failed, %d skipped (`linkbench check`).\n\n",
                c.held, c.failed, c.skipped);
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
            fprintf(f, "- `%s`\n", line);
        fprintf(f, "\n");
    }
    free(buf);
}

char *rep_md_string(const json_t *r)
{
    if (!json_is_object(json_object_get(r, "summary")))
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    const json_t *sc = json_object_get(r, "scenario");
    double dur = cfg_num(r, "duration_s", NULL, NULL), warm = cfg_num(r, "warmup_s", NULL, NULL);
    fprintf(f, "# %s — %.0f links\n\n", json_string_value(json_object_get(sc, "name")) ?: "?",
            json_number_value(json_object_get(sc, "links")));
    const char *d = json_string_value(json_object_get(sc, "description"));
    if (d && *d)
        fprintf(f, "%s\n\n", d);
    fprintf(f, "**Runs.** %.0f repetitions per variant, interleaved; %g s measured",
            cfg_num(r, "repetitions", NULL, NULL), dur);
    if (isfinite(warm))
        fprintf(f, " after %g s of warm-up", warm);
    double rate = cfg_num(r, "client", "rate_per_s", NULL), push = cfg_num(r, "app", "push", "rate_per_s");
    if (isfinite(rate))
        fprintf(f, "; clients send %g msg/s per link (%s)", rate, cfg_str(r, "client", "pattern") ?: "?");
    if (cfg_str(r, "app", "mode"))
        fprintf(f, "; app %s", cfg_str(r, "app", "mode"));
    app_inline(f, r);
    if (push > 0)
        fprintf(f, ", %g pushes/s per link", push);
    fprintf(f, ". Report %s%s.\n\n", json_is_true(json_object_get(r, "valid")) ? "valid" : "**INVALID**",
            json_is_true(json_object_get(r, "partial")) ? ", **partial** (interrupted)" : "");
    machine(f, r);
    fprintf(f, "## Measured comparison (性能对比总结)\n\n");
    table(f, r, dur);
    fprintf(f, "## What the numbers show\n\n");
    paragraph(f, r, dur);
    discarded(f, r);
    expectations(f, r);
    fprintf(f, "## Files\n\nBeside this file: `report.json` (everything, with ranges), "
            "`series_<variant>_<rep>.csv` (time series), `lat_<in|out|rtt>_<variant>.csv` "
            "(percentile spectra) and `.hlog` (HdrHistogram interval logs, one interval per "
            "repetition), `drops.csv`, and the charts drawn from them (`linkbench plot`): "
            "`lat_*.png`, `drops.png`, `series.png` (and `.svg`).\n");
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int rep_md_write(const json_t *report, const char *path, char *err, size_t errlen)
{
    char *s = rep_md_string(report);
    if (!s) {
        snprintf(err, errlen, "%s: not a report with a summary (or out of memory)", path);
        return -EINVAL;
    }
    int rc = lb_write_atomic(path, s, strlen(s), err, errlen);
    free(s);
    return rc;
}
