/* rep_verdict_page.c — the verdict page (markdown): each claim of the seed one row (its words, the figures measured, the rules, the verdict the rules compute), then the seed's scale: links held at each size and what stopped each design. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chk.h"
#include "rep_plot.h"
#include "rep_verdict.h"

struct reps {
    char **paths;
    json_t **r;
    int n;
};

static int load(const struct rv_opts *o, struct reps *R, char *err, size_t errlen)
{
    memset(R, 0, sizeof *R);
    for (int i = 0; i < o->n_dirs; i++)
        if (rep_find_reports(o->dirs[i], &R->paths, &R->n, err, errlen) < 0)
            return -1;
    if (R->n == 0) {
        snprintf(err, errlen, "no report.json found under the directories given");
        return -1;
    }
    R->r = calloc((size_t)R->n, sizeof *R->r);
    if (!R->r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < R->n; i++)
        if (!(R->r[i] = chk_load_report(R->paths[i], err, errlen)))
            return -1;
    return 0;
}

static void unload(struct reps *R)
{
    for (int i = 0; R->r && i < R->n; i++)
        json_decref(R->r[i]);
    free(R->r);
    rep_reports_free(R->paths, R->n);
}

/* The report's report.md relative to the page's directory (both made absolute first). */
static void rel_link(const char *page, const char *report_json, char *out, size_t len)
{
    char pd[PATH_MAX], rd[PATH_MAX], tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", page);
    char *s = strrchr(tmp, '/');
    if (s)
        *s = 0;
    else
        snprintf(tmp, sizeof tmp, ".");
    if (!realpath(tmp, pd))
        snprintf(pd, sizeof pd, "%s", tmp);
    snprintf(tmp, sizeof tmp, "%s", report_json);
    s = strrchr(tmp, '/');
    if (s)
        *s = 0;
    if (!realpath(tmp, rd))
        snprintf(rd, sizeof rd, "%s", tmp);
    /* common prefix at a '/' boundary, then one "../" per remaining part of the page's */
    size_t i = 0, last = 0;
    while (pd[i] && pd[i] == rd[i]) {
        if (pd[i] == '/')
            last = i;
        i++;
    }
    if (!pd[i] && (rd[i] == '/' || !rd[i]))
        last = i;
    size_t o = 0;
    out[0] = 0;
    for (const char *p = pd + last; *p; p++)
        if (*p == '/' && o + 4 < len)
            o += (size_t)snprintf(out + o, len - o, "../");
    const char *rest = rd + last + (rd[last] == '/');
    snprintf(out + o, len - o, "%s%sreport.md", rest, *rest ? "/" : "");
}

/* ---------------------------------------------------------------- lines of code (proxy) */

/* Lines that are neither blank nor only a comment. -1 when the file cannot be read. */
static int loc(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[4096];
    int n = 0;
    bool block = false;
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (block) {
            char *e = strstr(p, "*/");
            if (!e)
                continue;
            block = false;
            p = e + 2;
            while (*p == ' ' || *p == '\t')
                p++;
        }
        if (*p == '\n' || !*p || !strncmp(p, "//", 2))
            continue;
        if (!strncmp(p, "/*", 2)) {
            if (!strstr(p + 2, "*/"))
                block = true;
            continue;
        }
        n++;
    }
    fclose(f);
    return n;
}

static void loc_proxy(FILE *f, const struct rv_opts *o, const char *design)
{
    static const struct { const char *d, *go; } files[] = {
        {"dual", "link_dual.go"}, {"batch", "link_v2.go"}, {"poll", "link_v3.go"},
        {"hybrid", "link_v4.go"}, {"pair", "link_v5.go"}};
    const char *go = NULL;
    for (int i = 0; i < 5; i++)
        if (!strcmp(files[i].d, design))
            go = files[i].go;
    char p[PATH_MAX];
    int ng = -1, nc = -1, nl = -1;
    if (o->source_dir && go) {
        snprintf(p, sizeof p, "%s/reference/go/%s", o->source_dir, go);
        ng = loc(p);
        snprintf(p, sizeof p, "%s/variants/%s.c", o->source_dir, design);
        nc = loc(p);
        snprintf(p, sizeof p, "%s/variants/lib/seed_link.c", o->source_dir);
        nl = loc(p);
    }
    if (ng < 0 && nc < 0) {
        fprintf(f, "proxy unavailable (no source tree found: give --source)");
        return;
    }
    fprintf(f, "proxy, lines of code (neither blank nor comment): the Go original `reference/go/%s` "
            "%d (with the harness's marked additions); the C port `variants/%s.c` %d, plus %d shared "
            "by every seed port (`variants/lib/seed_link.c`)", go, ng, design, nc, nl);
}

/* ---------------------------------------------------------------- one claim */

struct tested {
    enum rv_outcome out;
    int rep;                 /* index in reps, or -1 */
    char vals[1024];
};

static void cell_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputs("<br>", f);
        else
            fputc(*s, f);
    }
}

static void row(FILE *f, const struct rv_opts *o, const struct reps *R, const struct rv_claim *c,
                int *tally)
{
    fputs("| **", f);
    cell_text(f, c->zh);
    fputs("**<br>", f);
    cell_text(f, c->en);
    fputs(" | ", f);
    if (c->unmeasurable) {
        cell_text(f, c->unmeasurable);
        if (c->proxy) {
            fputs(". ", f);
            loc_proxy(f, o, c->proxy);
        }
        fputs(" | — | not measurable here |\n", f);
        tally[3]++;
        return;
    }
    struct tested t[RV_TESTS_MAX];
    int nt = 0;
    for (; nt < RV_TESTS_MAX && c->tests[nt].scenario; nt++) {
        const struct rv_test *x = &c->tests[nt];
        t[nt].vals[0] = 0;
        t[nt].rep = rv_find_report(R->r, R->paths, R->n, x->scenario);
        t[nt].out = t[nt].rep < 0 ? RV_MISSING : RV_HOLDS;
        for (int k = 0; t[nt].rep >= 0 && k < RV_LINES_MAX && x->lines[k]; k++) {
            enum rv_outcome e = rv_eval_rule(R->r[t[nt].rep], x->lines[k], t[nt].vals, sizeof t[nt].vals);
            if (e == RV_MISSING || t[nt].out == RV_MISSING)
                t[nt].out = RV_MISSING;
            else if (e == RV_FAILS)
                t[nt].out = RV_FAILS;
        }
        /* context: values printed, not judged */
        for (int k = 0; t[nt].rep >= 0 && k < RV_LINES_MAX && x->show[k]; k++) {
            char one[256] = "";
            char rule[160];
            snprintf(rule, sizeof rule, "%s >= 0", x->show[k]);
            rv_eval_rule(R->r[t[nt].rep], rule, one, sizeof one);
            size_t l = strlen(one);
            if (l >= 2 && !strcmp(one + l - 2, "; "))
                one[l - 2] = 0;
            size_t o2 = strlen(t[nt].vals);
            snprintf(t[nt].vals + o2, sizeof t[nt].vals - o2, "(%s); ", one);
        }
    }
    /* measured: each test's condition, its report and the values its rules read */
    for (int i = 0; i < nt; i++) {
        const struct rv_test *x = &c->tests[i];
        fprintf(f, "%s*", i ? "<br>" : "");
        cell_text(f, x->when);
        fputs("*: ", f);
        if (t[i].rep < 0) {
            fprintf(f, "no %s report here", x->scenario);
            continue;
        }
        char link[PATH_MAX];
        rel_link(o->out_path, R->paths[t[i].rep], link, sizeof link);
        fprintf(f, "[%s](%s) ", x->scenario, link);
        size_t l = strlen(t[i].vals);
        if (l >= 2)
            t[i].vals[l - 2] = 0;   /* the last "; " */
        cell_text(f, t[i].vals);
        fputs(t[i].out == RV_HOLDS ? " → holds" : t[i].out == RV_FAILS ? " → **fails**" : " → not measured", f);
    }
    fputs(" | ", f);
    for (int i = 0; i < nt; i++) {
        fputs(i ? "<br>" : "", f);
        for (int k = 0; k < RV_LINES_MAX && c->tests[i].lines[k]; k++)
            fprintf(f, "%s`%s`", k ? " and " : "", c->tests[i].lines[k]);
    }
    fputs(" | ", f);
    /* the verdict: every measured test holds, none does, or it depends on the condition */
    int held = 0, failed = 0, missing = 0;
    for (int i = 0; i < nt; i++)
        held += t[i].out == RV_HOLDS, failed += t[i].out == RV_FAILS, missing += t[i].out == RV_MISSING;
    if (held + failed == 0) {
        fputs("**not measured**: run ", f);
        for (int i = 0; i < nt; i++)
            fprintf(f, "%s`%s`", i ? ", " : "", c->tests[i].scenario);
        tally[4]++;
    } else if (!failed) {
        fputs("**holds**", f);
        tally[0]++;
    } else if (!held) {
        fputs("**refuted**", f);
        tally[1]++;
    } else {
        fputs("**holds only when** ", f);
        for (int i = 0, k = 0; i < nt; i++)
            if (t[i].out == RV_HOLDS) {
                fputs(k++ ? "; " : "", f);
                cell_text(f, c->tests[i].when);
            }
        fputs("; **refuted when** ", f);
        for (int i = 0, k = 0; i < nt; i++)
            if (t[i].out == RV_FAILS) {
                fputs(k++ ? "; " : "", f);
                cell_text(f, c->tests[i].when);
            }
        tally[2]++;
    }
    if (missing && held + failed)
        fprintf(f, " (%d condition%s not measured here)", missing, missing == 1 ? "" : "s");
    fputs(" |\n", f);
}

/* ---------------------------------------------------------------- the seed's scale */

static const char *const SCALE_SCEN[] = {"scale@10000", "seed_scale_10k", "seed_scale_50k", "seed_scale_100k"};

static void scale_section(FILE *f, const struct rv_opts *o, const struct reps *R)
{
    fputs("\n## At the seed's scale: links held, and what stopped each design\n\n"
          "Each size's report, every design it ran: links held at the end of the window (of "
          "those asked), threads, memory and CPU per link-second, and `flags.limit_reached` where "
          "a design stopped short (thread creation failing at the machine's ~32 000 threads, "
          "clients that could not connect to a server whose pollers took the CPUs, open files). "
          "A design a larger size leaves out is listed with the reason its smaller run gave.\n\n"
          "| size | design | links held | threads | RSS per link | CPU µs per link-second | "
          "wake-ups per link-second | what stopped it |\n"
          "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n", f);
    int prev = -1;
    for (int s = 0; s < 4; s++) {
        int i = rv_find_report(R->r, R->paths, R->n, SCALE_SCEN[s]);
        if (i < 0) {
            fprintf(f, "| %s | — | not run here | | | | | run `linkbench run %s` |\n", SCALE_SCEN[s],
                    SCALE_SCEN[s]);
            continue;
        }
        const json_t *rep = R->r[i];
        double want = json_number_value(json_object_get(json_object_get(rep, "scenario"), "links"));
        char link[PATH_MAX];
        rel_link(o->out_path, R->paths[i], link, sizeof link);
        const char *v;
        const json_t *sv;
        json_object_foreach(json_object_get(rep, "summary"), v, sv) {
            double links = NAN, thr = NAN, rss = NAN, cpu = NAN, wk = NAN;
            chk_summary_value(rep, v, "links", SCN_STAT_MEDIAN, &links);
            chk_summary_value(rep, v, "threads_peak", SCN_STAT_MEDIAN, &thr);
            chk_summary_value(rep, v, "rss_per_link_bytes", SCN_STAT_MEDIAN, &rss);
            chk_summary_value(rep, v, "cpu_per_link_s", SCN_STAT_MEDIAN, &cpu);
            chk_summary_value(rep, v, "wakeups_per_link_s", SCN_STAT_MEDIAN, &wk);
            const char *lim = json_string_value(json_object_get(json_object_get(json_object_get(
                json_object_get(rep, "flags"), "variants"), v), "limit_reached"));
            /* short without a limit: links the server closed on an error (torn frames
             * read as protocol errors), or none said */
            double cerr = NAN;
            chk_summary_value(rep, v, "links_closed_error", SCN_STAT_MEDIAN, &cerr);
            char why[96] = "-";
            if (cerr > 0)
                snprintf(why, sizeof why, "%.0f links closed on an error (links_closed_error)", cerr);
            fprintf(f, "| [%s](%s) | %s | %.0f of %.0f | %.0f | %.1f KiB | %.2f | %.3g | %s |\n",
                    SCALE_SCEN[s], link, v, links, want, thr, rss / 1024, cpu * 1e6, wk,
                    lim ? lim : links >= 0.99 * want ? "held all" : why);
        }
        /* designs the smaller size ran and this one left out: why, from that run */
        if (prev >= 0) {
            json_object_foreach(json_object_get(R->r[prev], "summary"), v, sv) {
                if (json_object_get(json_object_get(rep, "summary"), v))
                    continue;
                double links = NAN;
                chk_summary_value(R->r[prev], v, "links", SCN_STAT_MEDIAN, &links);
                double pw = json_number_value(json_object_get(json_object_get(R->r[prev], "scenario"), "links"));
                const char *lim = json_string_value(json_object_get(json_object_get(json_object_get(
                    json_object_get(R->r[prev], "flags"), "variants"), v), "limit_reached"));
                fprintf(f, "| [%s](%s) | %s | not run | | | | | at %.0f links it held %.0f%s%s |\n",
                        SCALE_SCEN[s], link, v, pw, links, lim ? ": " : "", lim ? lim : "");
            }
        }
        if (s > 0)   /* the seed_scale sizes chain; scale@10000 stands beside them */
            prev = i;
        else
            prev = -1;
    }
}

/* ---------------------------------------------------------------- the page */

int rv_page_write(FILE *f, const struct rv_opts *o, char *err, size_t errlen)
{
    struct reps R;
    if (load(o, &R, err, errlen) < 0) {
        unload(&R);
        return -1;
    }
    if (o->publish_dir) {
        /* what the page reads, copied where it can be committed; the page links there */
        bool *used = calloc((size_t)R.n, sizeof *used);
        if (!used) {
            unload(&R);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (const struct rv_claim *c = RV_CLAIMS; c->section; c++)
            for (int t = 0; t < RV_TESTS_MAX && c->tests[t].scenario; t++) {
                int i = rv_find_report(R.r, R.paths, R.n, c->tests[t].scenario);
                if (i >= 0)
                    used[i] = true;
            }
        for (int s = 0; s < 4; s++) {
            int i = rv_find_report(R.r, R.paths, R.n, SCALE_SCEN[s]);
            if (i >= 0)
                used[i] = true;
        }
        int rc = rv_publish(R.r, R.paths, R.n, used, o->publish_dir, err, errlen);
        free(used);
        if (rc < 0) {
            unload(&R);
            return -2;
        }
    }
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%d", &tm);
    const json_t *m = json_object_get(R.r[R.n - 1], "machine");
    fprintf(f, "# The seed's review, answered by measurement\n\n"
            "Every claim of the Go design review's comparison table (性能对比总结) and "
            "recommendations (推荐使用), one row each: the seed's words with a translation, the "
            "figures that test it (medians over repetitions, from the report linked), the rule "
            "and the verdict that rule computes. Nothing in the last column is written by hand: "
            "`linkbench verdicts` evaluates the rules (`sim/rep/rep_verdict_claims.c`) on the "
            "report.json files it is given, so the page is redone whenever the suite is "
            "(`linkbench run workloads/suites/verdicts.json`, then `linkbench verdicts OUT.md "
            "RESULTS_DIR`). Generated %s from %d reports. Machine: %lld CPUs, %s, %s.\n\n"
            "**Verdicts.** *holds*: every measured condition meets the rule. *refuted*: none "
            "does. *holds only when …; refuted when …*: the conditions split. *not measured*: no "
            "report of the scenario was given. *not measurable here*: no run can settle it, and "
            "the row says why (and what would). Variant names: `dual`, `batch`, `poll`, "
            "`hybrid`, `pair` are the seed's designs ported to C (threads), `go:<design>` the "
            "seed's own Go code, `evloop` ours (not in the seed); `poll+keep` and `pair+keep` "
            "keep a frame their 1 ms read deadline cuts (`read_keeps_partial`: the seed's Go "
            "tears it, docs/seed-fidelity.md), `batch+nb` is the seed's proposed non-blocking "
            "delivery, `poll@50ms`, `hybrid@b128`, `pair@g16` … are sweep points "
            "(workloads/seed/). A level of the table (低 < 中-偏低 < 中 < 中-偏高 < 极高) is "
            "tested as a rank among the five (`rank D K METRIC LIST`: D is K-th lowest, values "
            "within 10 %% tie). Latencies marked `censored` count undelivered messages at their "
            "age at the end (a lower bound). Absolute figures come from a shared 2-vCPU VM: the "
            "rules compare designs measured in the same run.\n",
            ts, R.n, (long long)json_integer_value(json_object_get(m, "cpus")),
            json_string_value(json_object_get(m, "model")) ?: "?",
            json_string_value(json_object_get(m, "kernel")) ?: "?");
    int tally[5] = {0};   /* holds, refuted, split, not measurable, not measured */
    char *body = NULL;
    size_t blen = 0;
    FILE *b = open_memstream(&body, &blen);
    if (!b) {
        unload(&R);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *sec = NULL;
    for (const struct rv_claim *c = RV_CLAIMS; c->section; c++) {
        if (!sec || strcmp(sec, c->section)) {
            sec = c->section;
            fprintf(b, "\n## %s\n\n| the seed says | measured | rule | verdict |\n| --- | --- | --- | --- |\n", sec);
        }
        row(b, o, &R, c, tally);
    }
    scale_section(b, o, &R);
    fclose(b);
    fprintf(f, "\n**Tally.** %d claims hold, %d are refuted, %d hold only under some of the "
            "conditions measured, %d are not measurable here, %d were not measured in these "
            "results.\n", tally[0], tally[1], tally[2], tally[3], tally[4]);
    fwrite(body, 1, blen, f);
    free(body);
    unload(&R);
    return 0;
}
