/* rep_page.c — index.html from report.json files: verdict, headline, then per scenario its deciding chart, the numbers in a few sentences, its table, other charts and its files. */
#include "rep_page.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chk.h"
#include "rep_page_internal.h"
#include "rep_plot.h"
#include "rep_table.h"

/* ---------------------------------------------------------------- loading */

static void dir_of(const char *path, char *out, size_t len)
{
    snprintf(out, len, "%s", path);
    char *s = strrchr(out, '/');
    if (s)
        *s = 0;
    else
        snprintf(out, len, ".");
}

static const char *scen_name(const json_t *r)
{
    return json_string_value(json_object_get(json_object_get(r, "scenario"), "name")) ?: "?";
}

static bool is_step_dir(const char *dir)
{
    const char *b = strrchr(dir, '/');
    return !strncmp(b ? b + 1 : dir, "links_", 6);
}

/* A suite run's directory lists its scenario directories in suite.json: those first,
 * in that order; everything else found after them, by path. */
static int collect(char *const *dirs, int ndirs, char ***paths, int *n, json_t **suite,
                   char *suite_dir, FILE *err)
{
    char e[4600];
    *suite = NULL;
    for (int i = 0; i < ndirs; i++) {
        char sp[PG_PATH + 16];
        snprintf(sp, sizeof sp, "%s/suite.json", dirs[i]);
        json_t *s = *suite ? NULL : json_load_file(sp, 0, NULL);
        const json_t *order = json_object_get(s, "scenarios");
        if (json_is_array(order)) {
            *suite = s;
            snprintf(suite_dir, PG_PATH, "%s", dirs[i]);
            size_t k;
            const json_t *d;
            json_array_foreach(order, k, d) {
                char p[PG_PATH + 256];
                snprintf(p, sizeof p, "%s/%s", dirs[i], json_string_value(d) ?: "");
                if (json_is_string(d) && rep_find_reports(p, paths, n, e, sizeof e) < 0)
                    fprintf(err, "linkbench: %s\n", e);
            }
        } else
            json_decref(s);
        int before = *n;
        if (rep_find_reports(dirs[i], paths, n, e, sizeof e) < 0)
            fprintf(err, "linkbench: %s\n", e);
        /* a report found twice (listed by the suite, then in the walk) is kept once */
        for (int j = before; j < *n; j++) {
            bool dup = false;
            char a[PATH_MAX], b[PATH_MAX];
            if (!realpath((*paths)[j], a))
                snprintf(a, sizeof a, "%s", (*paths)[j]);
            for (int k = 0; k < before && !dup; k++)
                dup = !strcmp((*paths)[k], (*paths)[j]) ||
                      (realpath((*paths)[k], b) && !strcmp(a, b));
            if (dup) {
                free((*paths)[j]);
                memmove(&(*paths)[j], &(*paths)[j + 1], (size_t)(*n - j - 1) * sizeof **paths);
                (*n)--;
                j--;
            }
        }
    }
    return *n;
}

static int cmp_links(const void *a, const void *b)
{
    const pg_report *x = a, *y = b;
    return (x->links > y->links) - (x->links < y->links);
}

static void add_variants(rep_pg *pg, const json_t *r)
{
    const char *v;
    const json_t *x;
    json_object_foreach(json_object_get((json_t *)r, "summary"), v, x) {
        bool have = false;
        for (int j = 0; j < pg->nvar && !have; j++)
            have = !strcmp(pg->vars[j], v);
        if (!have && pg->nvar < PG_VARIANTS)
            pg->vars[pg->nvar++] = v;
    }
}

static void pg_free(rep_pg *pg)
{
    for (int i = 0; i < pg->nrep; i++)
        json_decref(pg->reps[i].r);
    free(pg->reps);
    free(pg->scen);
    json_decref(pg->suite);
    memset(pg, 0, sizeof *pg);
}

/* Reports loaded and grouped: the steps of one stepped run (links_<N> directories with
 * one parent) form one scenario, ascending by links. 0 or -ENOENT. */
static int pg_load(rep_pg *pg, char *const *dirs, int ndirs, FILE *err)
{
    char **paths = NULL, e[4600];
    int n = 0;
    memset(pg, 0, sizeof *pg);
    collect(dirs, ndirs, &paths, &n, &pg->suite, pg->suite_dir, err);
    pg->reps = calloc((size_t)n + 1, sizeof *pg->reps);
    pg->scen = calloc((size_t)n + 1, sizeof *pg->scen);
    if (!pg->reps || !pg->scen) {
        rep_reports_free(paths, n);
        pg_free(pg);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        json_t *r = chk_load_report(paths[i], e, sizeof e);
        if (!r) {
            fprintf(err, "linkbench: %s (left out of the page)\n", e);
            continue;
        }
        pg_report *p = &pg->reps[pg->nrep];
        dir_of(paths[i], p->dir, sizeof p->dir);
        p->r = r;
        p->links = json_number_value(json_object_get(json_object_get(r, "scenario"), "links"));
        char parent[PG_PATH];
        dir_of(p->dir, parent, sizeof parent);
        pg_scen *last = pg->nscen ? &pg->scen[pg->nscen - 1] : NULL;
        if (is_step_dir(p->dir) && last && last->stepped && !strcmp(last->dir, parent) &&
            !strcmp(last->name, scen_name(r)))
            last->n++;
        else {
            pg_scen *s = &pg->scen[pg->nscen++];
            snprintf(s->name, sizeof s->name, "%s", scen_name(r));
            s->stepped = is_step_dir(p->dir);
            snprintf(s->dir, sizeof s->dir, "%s", s->stepped ? parent : p->dir);
            s->first = pg->nrep;
            s->n = 1;
        }
        pg->nrep++;
    }
    rep_reports_free(paths, n);
    for (int i = 0; i < pg->nscen; i++) {
        pg_scen *s = &pg->scen[i];
        qsort(&pg->reps[s->first], (size_t)s->n, sizeof *pg->reps, cmp_links);
        /* the same scenario twice (two runs given): the second anchor gets a suffix */
        int same = 0;
        for (int j = 0; j < i; j++)
            same += !strcmp(pg->scen[j].name, s->name);
        if (same)
            snprintf(s->anchor, sizeof s->anchor, "%s-%d", s->name, same + 1);
        else
            snprintf(s->anchor, sizeof s->anchor, "%s", s->name);
    }
    for (int i = 0; i < pg->nrep; i++)
        add_variants(pg, pg->reps[i].r);
    if (pg->nrep == 0) {
        fprintf(err, "linkbench: no report.json found\n");
        pg_free(pg);
        return -ENOENT;
    }
    return 0;
}

/* ---------------------------------------------------------------- verdict */

static void verdict_of(const rep_pg *pg, rep_verdict *v, char **fails, size_t *fails_len)
{
    memset(v, 0, sizeof *v);
    v->scenarios = pg->nscen;
    FILE *m = fails ? open_memstream(fails, fails_len) : NULL;
    FILE *sink = m ? m : fopen("/dev/null", "w");
    for (int i = 0; i < pg->nrep; i++) {
        const json_t *r = pg->reps[i].r;
        v->reports++;
        v->reports_valid += json_is_true(json_object_get(r, "valid"));
        size_t k;
        const json_t *run;
        json_array_foreach(json_object_get(r, "runs"), k, run) {
            v->runs++;
            const json_t *why = json_object_get(json_object_get(run, "flags"), "invalid_reasons");
            v->runs_failed += json_array_size(why) > 0;
        }
        chk_out co = {.f = sink, .verbose = false};
        chk_counts c = {0};
        char e[512];
        if (sink && chk_expect_report(r, &co, &c, e, sizeof e) < 0)
            c.failed++;
        v->held += c.held;
        v->failed += c.failed;
        v->skipped += c.skipped;
    }
    if (sink)
        fclose(sink);
}

bool rep_verdict_ok(const rep_verdict *v)
{
    return v->reports > 0 && v->reports_valid == v->reports && v->runs_failed == 0 && v->failed == 0;
}

void rep_verdict_print(FILE *f, const rep_verdict *v)
{
    fprintf(f, "verdict: %s: %d scenario%s, %d report%s (%d valid), %d runs (%d failed); "
            "expectations %d held, %d failed, %d skipped\n",
            rep_verdict_ok(v) ? "PASS" : "FAIL", v->scenarios, v->scenarios == 1 ? "" : "s",
            v->reports, v->reports == 1 ? "" : "s", v->reports_valid, v->runs, v->runs_failed,
            v->held, v->failed, v->skipped);
}

int rep_page_verdict(char *const *dirs, int n, rep_verdict *v, FILE *err)
{
    rep_pg pg;
    int rc = pg_load(&pg, dirs, n, err);
    if (rc < 0)
        return rc;
    verdict_of(&pg, v, NULL, NULL);
    pg_free(&pg);
    return 0;
}

/* ---------------------------------------------------------------- sections */

/* "from A (v1) to B (v2)"; "A for every design"; false when fewer than one value. */
static bool spread(FILE *f, const rep_pg *pg, const json_t *r, const char *metric, enum pg_unit u)
{
    int lo = -1, hi = -1;
    for (int v = 0; v < pg->nvar; v++) {
        double x = pg_med(r, pg->vars[v], metric);
        if (!isfinite(x))
            continue;
        if (lo < 0 || x < pg_med(r, pg->vars[lo], metric))
            lo = v;
        if (hi < 0 || x > pg_med(r, pg->vars[hi], metric))
            hi = v;
    }
    if (lo < 0)
        return false;
    char a[64], b[64];
    double xl = pg_med(r, pg->vars[lo], metric), xh = pg_med(r, pg->vars[hi], metric);
    pg_num(a, sizeof a, xl, u);
    pg_num(b, sizeof b, xh, u);
    if (xl == xh)
        fprintf(f, "%s for every design", a);
    else {
        fprintf(f, "from %s (%s) to %s (%s", a, pg->vars[lo], b, pg->vars[hi]);
        if (xl > 0 && xh / xl >= 2)
            fprintf(f, ", %.*f×", xh / xl >= 10 ? 0 : 1, xh / xl);
        fputs(")", f);
    }
    return true;
}

static bool has_traffic(const json_t *r, const rep_pg *pg)
{
    for (int v = 0; v < pg->nvar; v++)
        if (pg_med(r, pg->vars[v], "msgs_delivered") > 0)
            return true;
    return false;
}

static bool any_nonzero(const rep_pg *pg, const json_t *r, const char *metric)
{
    for (int v = 0; v < pg->nvar; v++) {
        double x = pg_med(r, pg->vars[v], metric);
        if (isfinite(x) && x != 0)
            return true;
    }
    return false;
}

/* "pair 65 (recv_queue_full 65), poll 3 (...)" for one count; false when all are 0. */
static bool who(FILE *f, const rep_pg *pg, const json_t *r, const char *metric, bool reasons)
{
    int k = 0;
    for (int v = 0; v < pg->nvar; v++) {
        double x = pg_med(r, pg->vars[v], metric);
        if (!isfinite(x) || x == 0)
            continue;
        char b[64];
        pg_num(b, sizeof b, x, PG_COUNT);
        fprintf(f, "%s%s %s", k++ ? ", " : "", pg->vars[v], b);
        const json_t *dr = json_object_get(json_object_get(json_object_get(r, "summary"),
                                                           pg->vars[v]), "drops_by_reason");
        if (reasons && json_object_size(dr)) {
            const char *why;
            const json_t *y;
            int j = 0;
            fputs(" (", f);
            json_object_foreach((json_t *)dr, why, y) {
                double c = json_number_value(json_object_get(y, "median"));
                if (c > 0) {
                    pg_num(b, sizeof b, c, PG_COUNT);
                    fprintf(f, "%s%s %s", j++ ? ", " : "", why, b);
                }
            }
            fputs(")", f);
        }
    }
    return k > 0;
}

/* The numbers in a few sentences: loss and drops, cost, latency, flags. */
static void says(FILE *f, const rep_pg *pg, const pg_scen *s, const char *latkey)
{
    const json_t *r = pg_top(pg, s);
    fputs("<p class=\"says\">", f);
    if (any_nonzero(pg, r, "msgs_lost")) {
        fputs("<strong class=\"bad\">Lost (unaccounted for): ", f);
        who(f, pg, r, "msgs_lost", false);
        fputs(".</strong> ", f);
    }
    bool traffic = has_traffic(r, pg);
    if (any_nonzero(pg, r, "msgs_dropped")) {
        fputs("Dropped: ", f);
        who(f, pg, r, "msgs_dropped", true);
        fputs(". ", f);
    }
    if (any_nonzero(pg, r, "msgs_refused")) {
        fputs("Refused by send: ", f);
        who(f, pg, r, "msgs_refused", false);
        fputs(". ", f);
    }
    if (traffic && !any_nonzero(pg, r, "msgs_dropped") && !any_nonzero(pg, r, "msgs_refused"))
        fputs("Nothing dropped or refused. ", f);
    if (s->stepped) {
        fprintf(f, "At %.0f links, threads per link ", pg->reps[s->first + s->n - 1].links);
        spread(f, pg, r, "threads_per_link", PG_RATIO);
        fputs("; memory per link ", f);
        spread(f, pg, r, "rss_per_link_bytes", PG_BYTES);
        fputs("; wake-ups per link-second ", f);
        spread(f, pg, r, "wakeups_per_link_s", PG_RATE);
        fputs(". ", f);
    }
    if (traffic) {
        fputs("CPU per message ", f);
        if (spread(f, pg, r, "cpu_ms_per_1k_msgs", PG_CPU_US))
            fputs(". ", f);
        char m[64];
        snprintf(m, sizeof m, "lat_%s_us.p99", latkey);
        fprintf(f, "p99 %s ", !strcmp(latkey, "rtt") ? "round trip" : !strcmp(latkey, "in")
                ? "client → app" : "app → client");
        if (!spread(f, pg, r, m, PG_US))
            fputs("not measured", f);
        fputs(". ", f);
    } else if (!s->stepped)
        fputs("No messages were exchanged. ", f);
    const json_t *vf = json_object_get(json_object_get(r, "flags"), "variants");
    int k = 0;
    for (int v = 0; v < pg->nvar; v++)
        if (json_is_true(json_object_get(json_object_get(vf, pg->vars[v]), "driver_saturated")))
            fprintf(f, "%s%s", k++ ? ", " : "The load generator was saturated in the runs of ",
                    pg->vars[v]);
    if (k)
        fputs(" (marked *): their figures measure it too. ", f);
    fputs("</p>\n", f);
    size_t i;
    const json_t *why;
    json_array_foreach(json_object_get(json_object_get(r, "flags"), "reasons"), i, why) {
        fputs("<p class=\"bad\">Invalid: ", f);
        pg_esc(f, json_string_value(why));
        fputs("</p>\n", f);
    }
}

static void expectations(FILE *f, const json_t *r)
{
    char *buf = NULL, e[512];
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return;
    chk_out co = {.f = m, .verbose = false};
    chk_counts c = {0};
    int rc = chk_expect_report(r, &co, &c, e, sizeof e);
    fclose(m);
    if (rc < 0)
        fprintf(f, "<p class=\"bad\">Expectations could not be read: %s</p>\n", e);
    else if (c.held + c.failed + c.skipped) {
        fprintf(f, "<p class=\"%s\">Expectations: %d held, %d failed, %d skipped.</p>\n",
                c.failed ? "bad" : "ok", c.held, c.failed, c.skipped);
        if (c.failed || c.skipped) {
            fputs("<pre>", f);
            pg_esc(f, buf);
            fputs("</pre>\n", f);
        }
    }
    free(buf);
}

static int sel_visible(const struct dirent *d)
{
    return d->d_name[0] != '.' && strcmp(d->d_name, "gnuplot.log");
}

/* Every file of dir, linked; subdirectories (steps) are listed by their own entry. */
static void files(FILE *f, const rep_pg *pg, const char *dir, const char *label)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, sel_visible, alphasort);
    if (n < 0)
        return;
    fputs("<p class=\"files\"><b>", f);
    pg_esc(f, label);
    fputs("</b> ", f);
    for (int i = 0; i < n; i++) {
        char p[PG_PATH + 300];
        snprintf(p, sizeof p, "%s/%s", dir, ents[i]->d_name);
        if (ents[i]->d_type != DT_DIR) {
            fputs("<a href=\"", f);
            pg_href(f, pg, p);
            fputs("\">", f);
            pg_esc(f, ents[i]->d_name);
            fputs("</a> ", f);
        }
        free(ents[i]);
    }
    free(ents);
    fputs("</p>\n", f);
}

/* A chart with data: the drops chart only when something was dropped, refused or lost. */
static bool chart_has_data(const rep_pg *pg, const pg_report *p, const char *name)
{
    if (!strcmp(name, "drops.png"))
        return any_nonzero(pg, p->r, "msgs_dropped") || any_nonzero(pg, p->r, "msgs_refused") ||
               any_nonzero(pg, p->r, "msgs_lost");
    return pg_exists(p->dir, name);
}

static const char *caption_of(const char *name)
{
    if (!strcmp(name, "lat_rtt.png"))
        return "round-trip latency by percentile (x: 1/(1−p), log scale)";
    if (!strcmp(name, "lat_in.png"))
        return "client → app latency by percentile";
    if (!strcmp(name, "lat_out.png"))
        return "app → client latency by percentile";
    if (!strcmp(name, "drops.png"))
        return "messages dropped, refused and lost per design";
    if (!strcmp(name, "series.png"))
        return "one run per design over time: throughput, threads, memory, CPU";
    return name;
}

/* A sweep's chart (rep_sweep.h: instances of one design spanning a param) speaks first
 * for its scenario: each one listed in the report's sweeps.txt. How many were shown. */
static int sweep_figures(FILE *f, const rep_pg *pg, const char *dir)
{
    char p[PG_PATH + 32], line[512];
    snprintf(p, sizeof p, "%s/sweeps.txt", dir);
    FILE *in = fopen(p, "r");
    int n = 0;
    while (in && fgets(line, sizeof line, in)) {
        char stem[256], param[128], mod[128], png[300], cap[512];
        if (sscanf(line, "%255s %127s %127s", stem, param, mod) < 3)
            continue;
        snprintf(png, sizeof png, "%s.png", stem);
        snprintf(cap, sizeof cap, "%s swept over %s: CPU and wake-ups per link-second and the "
                 "latency each way, versus %s (one point per instance)", mod, param, param);
        n += pg_figure(f, pg, dir, png, cap);
    }
    if (in)
        fclose(in);
    return n;
}

static void section(FILE *f, const rep_pg *pg, const pg_scen *s)
{
    const pg_report *top = &pg->reps[s->first + s->n - 1];
    const json_t *r = top->r, *cfg = json_object_get(r, "config");
    fprintf(f, "<section id=\"");
    pg_esc(f, s->anchor);
    fputs("\">\n<h2>", f);
    pg_esc(f, s->name);
    fputs(" <small>", f);
    if (s->stepped) {
        fputs("steps of ", f);
        for (int i = 0; i < s->n; i++)
            fprintf(f, "%s%.0f", i ? ", " : "", pg->reps[s->first + i].links);
        fputs(" links", f);
    } else
        fprintf(f, "%.0f links", top->links);
    json_int_t reps = json_integer_value(json_object_get(cfg, "repetitions"));
    fprintf(f, " · %d design%s · %lld repetition%s</small></h2>\n", pg->nvar,
            pg->nvar == 1 ? "" : "s", (long long)reps, reps == 1 ? "" : "s");
    /* the description's first sentence: what the scenario asks */
    const char *desc = json_string_value(json_object_get(json_object_get(r, "scenario"), "description"));
    if (desc && *desc) {
        const char *dot = strstr(desc, ". ");
        fputs("<p class=\"desc\">", f);
        char one[1024];
        snprintf(one, sizeof one, "%.*s", dot ? (int)(dot - desc + 1) : (int)strlen(desc), desc);
        pg_esc(f, one);
        fputs("</p>\n", f);
    }
    /* which latency speaks for it: the round trip, or the one direction that exists */
    const char *latkey = "rtt";
    bool rtt = any_nonzero(pg, r, "lat_rtt_us.p99");
    if (!rtt)
        latkey = any_nonzero(pg, r, "lat_out_us.p99") && !any_nonzero(pg, r, "lat_in_us.p99")
                 ? "out" : "in";
    says(f, pg, s, latkey);
    /* the chart that matters first */
    char lead[32];
    snprintf(lead, sizeof lead, "lat_%s.png", latkey);
    const char *charts[] = {"drops.png", "lat_rtt.png", "lat_in.png", "lat_out.png", "series.png"};
    bool shown[5] = {false};
    bool lead_shown = s->stepped && pg_figure(f, pg, s->dir, "scale.png",
        "cost of holding links, by links held: CPU, threads, wake-ups, memory");
    lead_shown = sweep_figures(f, pg, top->dir) > 0 || lead_shown;
    if (lead_shown)
        ;   /* the steps' chart speaks first */
    else if (chart_has_data(pg, top, "drops.png"))
        shown[0] = pg_figure(f, pg, top->dir, "drops.png", caption_of("drops.png"));
    else
        for (int i = 1; i < 4; i++)
            if (!strcmp(charts[i], lead))
                shown[i] = pg_figure(f, pg, top->dir, lead, caption_of(lead));
    char *table = rep_table_string(r, REP_TABLE_HTML);
    if (table) {
        if (s->stepped)
            fprintf(f, "<p class=\"cap\">Medians at %.0f links:</p>\n", top->links);
        fprintf(f, "<div class=\"scroll\">%s</div>\n", table);
    }
    free(table);
    expectations(f, r);
    int more = 0;
    for (int i = 0; i < 5; i++)
        more += !shown[i] && chart_has_data(pg, top, charts[i]);
    if (more) {
        fprintf(f, "<details><summary>%d more chart%s%s</summary>\n", more, more == 1 ? "" : "s",
                s->stepped ? " (largest step)" : "");
        for (int i = 0; i < 5; i++)
            if (!shown[i] && chart_has_data(pg, top, charts[i]))
                pg_figure(f, pg, top->dir, charts[i], caption_of(charts[i]));
        fputs("</details>\n", f);
    }
    fputs("<details><summary>files: data, charts, report.md</summary>\n", f);
    if (s->stepped)
        files(f, pg, s->dir, "steps:");
    for (int i = 0; i < s->n; i++) {
        char label[64];
        snprintf(label, sizeof label, "%.0f links:", pg->reps[s->first + i].links);
        files(f, pg, pg->reps[s->first + i].dir, s->stepped ? label : "");
    }
    fputs("</details>\n</section>\n", f);
}

/* ---------------------------------------------------------------- the page */

static const char style[] =
    ":root{--fg:#1d1d1f;--mute:#5a5a5f;--line:#d6d6db;--best:#d7f2dc;--worst:#fbe0dd}"
    "*{box-sizing:border-box}"
    "body{font-family:'DejaVu Sans','Noto Sans','WenQuanYi Micro Hei','Noto Sans CJK SC',"
    "Arial,sans-serif;color:var(--fg);max-width:1200px;margin:0 auto;padding:0 16px 48px;"
    "line-height:1.45;font-size:15px}"
    "header{border-bottom:2px solid var(--fg);margin-bottom:8px}"
    "h1{font-size:1.5em;margin:16px 0 4px}h2{font-size:1.25em;margin:0 0 4px}"
    "h2 small{font-weight:normal;color:var(--mute);font-size:0.7em}"
    "nav{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid var(--line);"
    "display:flex;flex-wrap:wrap;gap:4px 14px;font-size:0.9em;z-index:2}"
    "nav a{white-space:nowrap}"
    "section{margin-top:28px;padding-top:8px;border-top:1px solid var(--line);scroll-margin-top:48px}"
    ".verdict{font-size:1.1em;font-weight:bold;padding:6px 10px;border-radius:4px;display:inline-block}"
    ".pass{background:var(--best)}.fail{background:var(--worst)}"
    ".machine,.desc,.cap,figcaption,.files,.legend{color:var(--mute);font-size:0.88em}"
    ".says{margin:6px 0}.bad{color:#a40000}.ok{color:#185e20}"
    ".scroll{overflow-x:auto;max-width:100%;margin:8px 0}"
    "table{border-collapse:collapse;font-size:0.88em}"
    "th,td{border:1px solid var(--line);padding:3px 8px;vertical-align:top}"
    "thead th{background:#f2f2f5;position:sticky;top:0}"
    "th[scope=row]{text-align:left;font-weight:normal;background:#fafafa;position:sticky;left:0}"
    "th small{color:var(--mute)}td.num{text-align:right;white-space:nowrap}"
    "td.best{background:var(--best);font-weight:bold}td.worst{background:var(--worst)}"
    "td.na{color:#aaa}abbr.flag{color:#a40000;text-decoration:none;margin-left:2px}"
    "figure{margin:10px 0}figure img{max-width:100%;height:auto;border:1px solid var(--line)}"
    "details{margin:8px 0}summary{cursor:pointer;color:#0645ad}"
    ".files a{margin-right:8px;white-space:nowrap;display:inline-block}"
    "pre{white-space:pre-wrap;font-size:0.85em;background:#f6f6f8;padding:6px}"
    "@media (max-width:700px){body{font-size:14px;padding:0 10px 32px}"
    "th,td{padding:2px 5px}h1{font-size:1.25em}"
    /* a chart shrunk to a phone's width has unreadable labels: keep it wide enough to
     * read and let it scroll in its own box (a tap opens the SVG) */
    "figure{overflow-x:auto}figure img{max-width:none;width:640px}}";

static void machine(FILE *f, const json_t *r)
{
    const json_t *m = json_object_get(r, "machine");
    if (!m)
        return;
    fprintf(f, "<p class=\"machine\">Machine: %lld CPUs, ",
            (long long)json_integer_value(json_object_get(m, "cpus")));
    pg_esc(f, json_string_value(json_object_get(m, "model")) ?: "?");
    fputs("; ", f);
    pg_esc(f, json_string_value(json_object_get(m, "kernel")) ?: "?");
    fprintf(f, "; steal %.0f ms during the first report's runs. Absolute figures from a shared "
            "machine move between runs; compare designs within one row, measured in the same run.</p>\n",
            json_number_value(json_object_get(m, "steal_ms")));
}

int rep_page_write(FILE *out, char *const *dirs, int ndirs, const rep_page_opts *o, rep_verdict *vout)
{
    FILE *err = o->err ? o->err : stderr;
    rep_pg pg;
    int rc = pg_load(&pg, dirs, ndirs, err);
    if (rc < 0)
        return rc;
    pg.embed = o->embed;
    char pd[PG_PATH];
    dir_of(o->page_path ? o->page_path : "./index.html", pd, sizeof pd);
    if (!realpath(pd, pg.page_dir))
        snprintf(pg.page_dir, sizeof pg.page_dir, "%s", pd);
    rep_verdict v;
    verdict_of(&pg, &v, NULL, NULL);
    if (vout)
        *vout = v;

    const char *suite = json_string_value(json_object_get(pg.suite, "name"));
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>linkbench: ", out);
    pg_esc(out, suite ? suite : pg.nscen == 1 ? pg.scen[0].name : "results");
    fprintf(out, "</title>\n<style>%s</style></head>\n<body>\n<header>\n<h1>linkbench: ", style);
    if (suite) {
        fputs("suite ", out);
        pg_esc(out, suite);
    } else
        pg_esc(out, pg.nscen == 1 ? pg.scen[0].name : "results");
    fputs("</h1>\n", out);
    const char *sdesc = json_string_value(json_object_get(pg.suite, "description"));
    if (sdesc) {
        fputs("<p class=\"desc\">", out);
        pg_esc(out, sdesc);
        fputs("</p>\n", out);
    }
    fprintf(out, "<p><span class=\"verdict %s\">%s</span> %d scenario%s, %d of %d reports valid, "
            "%d runs (%d failed); expectations: %d held, %d failed, %d skipped.",
            rep_verdict_ok(&v) ? "pass" : "fail", rep_verdict_ok(&v) ? "PASS" : "FAIL",
            v.scenarios, v.scenarios == 1 ? "" : "s", v.reports_valid, v.reports, v.runs,
            v.runs_failed, v.held, v.failed, v.skipped);
    const json_t *dur = json_object_get(pg.suite, "duration_s");
    if (json_is_number(dur)) {
        long t = lround(json_number_value(dur));
        if (t >= 60)
            fprintf(out, " The suite ran for %ld min %02ld s.", t / 60, t % 60);
        else
            fprintf(out, " The suite ran for %ld s.", t);
    }
    fputs("</p>\n", out);
    machine(out, pg.reps[0].r);
    fputs("</header>\n<nav><a href=\"#headline\"><b>headline</b></a>", out);
    for (int i = 0; i < pg.nscen; i++) {
        fputs("<a href=\"#", out);
        pg_esc(out, pg.scen[i].anchor);
        fputs("\">", out);
        pg_esc(out, pg.scen[i].name);
        fputs("</a>", out);
    }
    fputs("</nav>\n<section id=\"headline\">\n"
          "<h2>Headline: measured comparison <span lang=\"zh\">（性能对比总结）</span></h2>\n"
          "<p class=\"legend\">Medians over repetitions; lower is better in every row. "
          "<span class=\"best-key\" style=\"background:var(--best)\">&nbsp;best&nbsp;</span> "
          "<span style=\"background:var(--worst)\">&nbsp;worst&nbsp;</span> in the row; "
          "– not measured there; * the load generator was saturated in that run. "
          "Each row names the scenario it is read from: follow it for the charts.</p>\n", out);
    pg_headline(out, &pg);
    fputs("</section>\n", out);
    for (int i = 0; i < pg.nscen; i++)
        section(out, &pg, &pg.scen[i]);
    if (pg.suite_dir[0]) {   /* the suite's own files (suite.json, this page) */
        fputs("<section id=\"files\">\n", out);
        files(out, &pg, pg.suite_dir, "the suite's files:");
        fputs("</section>\n", out);
    }
    char when[64] = "";
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    fprintf(out, "<footer><p class=\"legend\">Written by <code>linkbench</code> on %s from the "
            "report.json files linked above; <code>linkbench report</code> rebuilds it. Every "
            "number is measured in these runs.</p></footer>\n</body></html>\n", when);
    pg_free(&pg);
    return ferror(out) ? -EIO : 0;
}
