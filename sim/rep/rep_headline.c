/* rep_headline.c — the page's headline: the figures that decide the argument (CPU per message, p99 each way, drops, lost, threads and memory per link, idle wake-ups), one row each, variants as columns, best and worst marked. */
#include <math.h>
#include <string.h>

#include "rep_page_internal.h"

/* How a figure picks its rows among the scenarios on the page. */
enum how {
    ONE,        /* one row: the first preferred scenario present, else the first with data */
    EACH,       /* a row per scenario where some variant's value is not 0 */
    SUM,        /* one row: the sum over every report (steps included) */
};

typedef struct figure {
    const char *label;
    const char *metric;           /* summary name, dotted for a percentile */
    enum pg_unit unit;
    enum how how;
    const char *prefer[3];        /* scenarios that decide it, in order (ONE) */
    const char *why;              /* what the row answers (title text) */
} figure;

/* Lower is better for every one of them. The scenario a row comes from is printed
 * beside it, so a figure read from a fallback scenario is never mistaken. */
static const figure figures[] = {
    {"CPU per message", "cpu_ms_per_1k_msgs", PG_CPU_US, ONE, {"echo"},
     "server CPU time per delivered message (the whole process: link threads, app, helpers)"},
    {"p99 client → app", "lat_in_us.p99", PG_US, ONE, {"echo"},
     "99th percentile latency from the scheduled send to the app taking the message"},
    {"p99 app → client", "lat_out_us.p99", PG_US, ONE, {"server_push", "echo"},
     "99th percentile latency from the app's send to the client reading it"},
    {"dropped", "msgs_dropped", PG_COUNT, EACH, {0},
     "messages dropped with a named reason (the design's own loss policy)"},
    {"refused by send", "msgs_refused", PG_COUNT, EACH, {0},
     "messages the variant's send refused with an error"},
    {"lost (all scenarios)", "msgs_lost", PG_COUNT, SUM, {0},
     "messages unaccounted for: must be 0 everywhere, else the run is invalid"},
    {"threads per link", "threads_per_link", PG_RATIO, ONE, {"scale", "scale_light"},
     "server threads of the variant's own groups per link held"},
    {"memory per link", "rss_per_link_bytes", PG_BYTES, ONE, {"scale", "scale_light"},
     "server resident memory per link held, above the process's base"},
    {"idle wake-ups per link-second", "wakeups_per_link_s", PG_RATE, ONE, {"scale", "idle_timeout"},
     "thread or loop wake-ups per link per second with no traffic"},
};
#define NFIG (sizeof figures / sizeof figures[0])

/* Whether any variant has a finite value (have) and a non-zero one (nonzero). */
static void probe(const rep_pg *pg, const json_t *r, const char *metric, bool *have, bool *nonzero)
{
    *have = *nonzero = false;
    for (int v = 0; v < pg->nvar; v++) {
        double x = pg_med(r, pg->vars[v], metric);
        if (isfinite(x)) {
            *have = true;
            *nonzero |= x != 0;
        }
    }
}

static int find_scen(const rep_pg *pg, const char *name)
{
    for (int i = 0; i < pg->nscen; i++)
        if (!strcmp(pg->scen[i].name, name))
            return i;
    return -1;
}

/* Cells of one row: values[v] (NAN: not run there). Best and worst are marked when
 * the values differ; counts that are all 0 mark nothing. */
static void cells(FILE *f, const rep_pg *pg, const double *val, enum pg_unit u,
                  const json_t *flags_report)
{
    double lo = INFINITY, hi = -INFINITY;
    int n = 0;
    for (int v = 0; v < pg->nvar; v++)
        if (isfinite(val[v])) {
            lo = val[v] < lo ? val[v] : lo;
            hi = val[v] > hi ? val[v] : hi;
            n++;
        }
    bool mark = n >= 2 && hi > lo;
    for (int v = 0; v < pg->nvar; v++) {
        char b[64];
        pg_num(b, sizeof b, val[v], u);
        const char *cls = !isfinite(val[v]) ? "na" : mark && val[v] == lo ? "best"
                        : mark && val[v] == hi ? "worst" : "";
        fprintf(f, "<td class=\"num %s\">", cls);
        pg_esc(f, b);
        /* a figure from an invalid or driver-saturated run carries its caveat */
        const json_t *vf = json_object_get(json_object_get(json_object_get(flags_report, "flags"),
                                                           "variants"), pg->vars[v]);
        if (vf && isfinite(val[v])) {
            if (json_is_false(json_object_get(vf, "valid")))
                fputs(" <abbr class=\"flag\" title=\"this variant's report is invalid\">invalid</abbr>", f);
            else if (json_is_true(json_object_get(vf, "driver_saturated")))
                fputs("<abbr class=\"flag\" title=\"the load generator was saturated in this run: "
                      "the figure measures it too\">*</abbr>", f);
        }
        fputs("</td>", f);
    }
    fputs("</tr>\n", f);
}

static void row_head(FILE *f, const figure *fg, const char *where, const char *anchor)
{
    fputs("<tr><th scope=\"row\" title=\"", f);
    pg_esc(f, fg->why);
    fputs("\">", f);
    pg_esc(f, fg->label);
    fputs("<br><small>", f);
    if (anchor) {
        fputs("<a href=\"#", f);
        pg_esc(f, anchor);
        fputs("\">", f);
    }
    pg_esc(f, where);
    if (anchor)
        fputs("</a>", f);
    fputs("</small></th>", f);
}

static void where_of(const rep_pg *pg, const pg_scen *s, char *out, size_t len)
{
    double links = pg->reps[s->first + s->n - 1].links;
    snprintf(out, len, "%s, %.0f links", s->name, links);
}

static void one_row(FILE *f, const rep_pg *pg, const figure *fg, int si)
{
    const pg_scen *s = &pg->scen[si];
    const json_t *r = pg_top(pg, s);
    double val[PG_VARIANTS];
    for (int v = 0; v < pg->nvar; v++)
        val[v] = pg_med(r, pg->vars[v], fg->metric);
    char where[256];
    where_of(pg, s, where, sizeof where);
    row_head(f, fg, where, s->anchor);
    cells(f, pg, val, fg->unit, r);
}

static void figure_rows(FILE *f, const rep_pg *pg, const figure *fg)
{
    bool have, nz;
    if (fg->how == ONE) {
        int si = -1;
        for (int k = 0; k < 3 && fg->prefer[k] && si < 0; k++) {
            int c = find_scen(pg, fg->prefer[k]);
            if (c >= 0) {
                probe(pg, pg_top(pg, &pg->scen[c]), fg->metric, &have, &nz);
                si = have ? c : -1;
            }
        }
        for (int c = 0; c < pg->nscen && si < 0; c++) {
            probe(pg, pg_top(pg, &pg->scen[c]), fg->metric, &have, &nz);
            si = have ? c : -1;
        }
        if (si >= 0)
            one_row(f, pg, fg, si);
        return;
    }
    if (fg->how == EACH) {
        int rows = 0;
        for (int c = 0; c < pg->nscen; c++) {
            probe(pg, pg_top(pg, &pg->scen[c]), fg->metric, &have, &nz);
            if (nz)
                one_row(f, pg, fg, c), rows++;
        }
        if (rows > 0 || strcmp(fg->metric, "msgs_dropped"))
            return;
        /* nothing dropped anywhere is itself a headline: one row of zeros */
    }
    double val[PG_VARIANTS];
    for (int v = 0; v < pg->nvar; v++) {
        val[v] = NAN;
        for (int i = 0; i < pg->nrep; i++) {
            double x = pg_med(pg->reps[i].r, pg->vars[v], fg->metric);
            if (isfinite(x))
                val[v] = (isfinite(val[v]) ? val[v] : 0) + x;
        }
    }
    char where[64];
    snprintf(where, sizeof where, "%d report%s", pg->nrep, pg->nrep == 1 ? "" : "s");
    figure one = *fg;
    if (fg->how == EACH)
        one.label = "dropped (all scenarios)";
    row_head(f, &one, where, NULL);
    cells(f, pg, val, fg->unit, NULL);
}

void pg_headline(FILE *f, const rep_pg *pg)
{
    fputs("<div class=\"scroll\"><table class=\"headline\">\n<thead><tr><th scope=\"col\">figure"
          "<br><small>scenario it is read from</small></th>", f);
    for (int v = 0; v < pg->nvar; v++) {
        fputs("<th scope=\"col\">", f);
        pg_esc(f, pg->vars[v]);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (size_t i = 0; i < NFIG; i++)
        figure_rows(f, pg, &figures[i]);
    fputs("</tbody></table></div>\n", f);
}
