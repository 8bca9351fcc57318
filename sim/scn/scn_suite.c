/* scn_suite.c — suites (lists of scenario files with scaling), scaling itself, and command-line overrides. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scn_internal.h"

/* ---------------------------------------------------------------- overrides */

void scn_override_links(struct scn *s, int64_t links)
{
    s->links = links;
    s->n_steps = 0;   /* "--links N" asks for one run of N links, not the scenario's steps */
}

void scn_override_duration(struct scn *s, double duration_s)
{
    s->duration_s = duration_s;
}

void scn_override_repetitions(struct scn *s, int64_t repetitions)
{
    s->repetitions = repetitions;
}

int scn_override_variants(struct scn *s, const char *names, struct scn_diag *d)
{
    char got[300];
    snprintf(got, sizeof got, "\"%.280s%s\"", names, strlen(names) > 280 ? "..." : "");
    /* check every name first: on an error s keeps its own list */
    int n = 0;
    for (const char *p = names;; n++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) {
            scn_diag_add(d, "--variant: empty variant name (got %s)", got);
            return -1;
        }
        if (len >= SCN_VARIANT_BYTES || n == SCN_VARIANTS_MAX) {
            scn_diag_add(d, "--variant: at most %d names or module paths of at most %d characters "
                         "(got %s)", SCN_VARIANTS_MAX, SCN_VARIANT_BYTES - 1, got);
            return -1;
        }
        if (!comma) break;
        p = comma + 1;
    }
    s->n_variants = 0;
    for (const char *p = names;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        memcpy(s->variants[s->n_variants], p, len);
        s->variants[s->n_variants++][len] = '\0';
        if (!comma) break;
        p = comma + 1;
    }
    for (int i = 0; i < s->n_variants; i++) s->variants_at[i] = i;
    /* instance definitions stay: the list may name them, expect lines may name the ones
     * it leaves out (such lines are skipped, as for any variant not run), and the
     * effective config (scn_to_json) holds only those that run */
    return 0;
}

/* ---------------------------------------------------------------- scaling */

void scn_scaling_defaults(struct scn_scaling *sc)
{
    *sc = (struct scn_scaling){.links_factor = 1.0, .links_max = 0, .time_factor = 1.0, .repetitions = 0};
}

static int64_t scale_links(int64_t l, const struct scn_scaling *sc, int64_t min)
{
    int64_t x = llround((double)l * sc->links_factor);
    if (x < min) x = min;
    if (sc->links_max > 0 && x > sc->links_max) x = sc->links_max;
    return x;
}

void scn_apply_scaling(struct scn *s, const struct scn_scaling *sc)
{
    s->links = scale_links(s->links, sc, 1);
    int n = 0;
    for (int i = 0; i < s->n_steps; i++) {
        int64_t l = scale_links(s->steps[i], sc, 1);
        if (n == 0 || s->steps[n - 1] != l) s->steps[n++] = l;   /* capped steps collapse */
    }
    s->n_steps = n;
    for (int i = 0; i < s->n_groups; i++)
        if (s->groups[i].links >= 0) s->groups[i].links = scale_links(s->groups[i].links, sc, 0);
    for (int i = 0; i < s->n_faults; i++)
        if (s->faults[i].links >= 0) s->faults[i].links = scale_links(s->faults[i].links, sc, 0);

    /* Times shrink together, so a fault or a stop keeps its place in the run. */
    double t = sc->time_factor;
    s->duration_s *= t;
    s->warmup_s *= t;
    if (s->client.stop_reading_at_s >= 0) s->client.stop_reading_at_s *= t;
    for (int i = 0; i < s->n_groups; i++)
        if (s->groups[i].client.stop_reading_at_s >= 0) s->groups[i].client.stop_reading_at_s *= t;
    for (int i = 0; i < s->n_faults; i++) {
        s->faults[i].at_s *= t;
        s->faults[i].duration_s *= t;
    }
    s->app.idle_timeout_ms = llround((double)s->app.idle_timeout_ms * t);
    s->app.idle_period_ms = llround((double)s->app.idle_period_ms * t);
    if (s->app.idle_period_ms < 1) s->app.idle_period_ms = 1;
    if (sc->repetitions > 0) s->repetitions = sc->repetitions;
}

/* ---------------------------------------------------------------- suites */

#define PATH_BYTES 256

static int suite_err(struct scn_diag *d, const char *file, const char *path, const json_t *got,
                     const char *rule)
{
    char g[96];
    scn__err(d, file, path, got ? scn__json_text(got, g, sizeof g) : NULL, "%s", rule);
    return 1;
}

static const char *const scaling_keys[] = {"links_factor", "links_max", "time_factor", "repetitions"};

static int parse_scaling(const char *file, const char *path, const json_t *v, struct scn_scaling *sc,
                         struct scn_diag *d)
{
    char p[PATH_BYTES];
    if (!json_is_object(v)) return suite_err(d, file, path, v, "must be an object");
    int errs = 0;
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        snprintf(p, sizeof p, "%s.%s", path, k);
        bool is_int = !strcmp(k, "links_max") || !strcmp(k, "repetitions");
        if (!strcmp(k, "links_factor") || !strcmp(k, "time_factor")) {
            if (!json_is_number(x)) { errs += suite_err(d, file, p, x, "must be a number"); continue; }
            double f = json_number_value(x);
            if (f <= 0 || f > 100) { errs += suite_err(d, file, p, x, "must be in (0, 100]"); continue; }
            if (k[0] == 'l') sc->links_factor = f;
            else sc->time_factor = f;
        } else if (is_int) {
            if (!json_is_integer(x)) { errs += suite_err(d, file, p, x, "must be an integer"); continue; }
            int64_t n = json_integer_value(x);
            int64_t hi = k[0] == 'r' ? 100 : 1000000;
            if (n < 0 || n > hi) {
                errs += suite_err(d, file, p, x, k[0] == 'r' ? "must be in [0, 100] (0 = keep)"
                                                             : "must be in [0, 1000000] (0 = no cap)");
                continue;
            }
            if (k[0] == 'r') sc->repetitions = n;
            else sc->links_max = n;
        } else {
            const char *near = scn_closest(k, scaling_keys, 4);
            char rule[128];
            if (near) snprintf(rule, sizeof rule, "unknown key (did you mean \"%s\"?)", near);
            else snprintf(rule, sizeof rule, "unknown key (known here: links_factor links_max time_factor repetitions)");
            errs += suite_err(d, file, p, NULL, rule);
        }
    }
    return errs;
}

/* dir(file)/rel, with "." and ".." removed lexically, so errors show short paths. */
static char *resolve(const char *file, const char *rel)
{
    char buf[4096];
    const char *slash = strrchr(file, '/');
    if (rel[0] == '/' || !slash)
        snprintf(buf, sizeof buf, "%s", rel);
    else
        snprintf(buf, sizeof buf, "%.*s/%s", (int)(slash - file), file, rel);
    char *seg[512];
    int n = 0, lead_up = 0;
    bool abs = buf[0] == '/';
    for (char *p = buf, *save = NULL; (p = strtok_r(p, "/", &save)); p = NULL) {
        if (!strcmp(p, ".")) continue;
        if (!strcmp(p, "..")) {
            if (n > 0) n--;
            else if (!abs) lead_up++;
            continue;
        }
        if (n < 512) seg[n++] = p;
    }
    char out[4096];
    size_t o = 0;
    out[0] = '\0';
    if (abs) o += (size_t)snprintf(out + o, sizeof out - o, "/");
    for (int i = 0; i < lead_up && o < sizeof out; i++) o += (size_t)snprintf(out + o, sizeof out - o, "../");
    for (int i = 0; i < n && o < sizeof out; i++)
        o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", i ? "/" : "", seg[i]);
    return strdup(o ? out : ".");
}

static const char *const suite_keys[] = {"name", "description", "scaling", "scenarios"};

int scn_suite_load(const char *file, struct scn_suite *suite, struct scn_diag *d)
{
    memset(suite, 0, sizeof *suite);
    FILE *f = fopen(file, "rb");
    if (!f) {
        scn_diag_add(d, "%s: cannot read: %s", file, strerror(errno));
        return 1;
    }
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!root) {
        scn_diag_add(d, "%s:%d:%d: invalid JSON: %s", file, je.line, je.column, je.text);
        return 1;
    }
    int errs = 0;
    struct scn_scaling base;
    scn_scaling_defaults(&base);
    if (!json_is_object(root)) {
        errs += suite_err(d, file, "(top)", root, "must be a JSON object");
        goto out;
    }
    const char *k;
    json_t *x;
    json_object_foreach(root, k, x) {
        if (!strcmp(k, "name") || !strcmp(k, "description")) {
            if (!json_is_string(x)) { errs += suite_err(d, file, k, x, "must be a string"); continue; }
            if (k[0] == 'n') snprintf(suite->name, sizeof suite->name, "%s", json_string_value(x));
            else snprintf(suite->description, sizeof suite->description, "%s", json_string_value(x));
        } else if (!strcmp(k, "scaling")) {
            errs += parse_scaling(file, "scaling", x, &base, d);
        } else if (strcmp(k, "scenarios")) {
            const char *near = scn_closest(k, suite_keys, 4);
            char rule[128];
            if (near) snprintf(rule, sizeof rule, "unknown key (did you mean \"%s\"?)", near);
            else snprintf(rule, sizeof rule, "unknown key (known here: name description scaling scenarios)");
            errs += suite_err(d, file, k, NULL, rule);
        }
    }
    json_t *list = json_object_get(root, "scenarios");
    if (!list) {
        errs += suite_err(d, file, "scenarios", NULL, "required key missing");
        goto out;
    }
    if (!json_is_array(list) || json_array_size(list) == 0) {
        errs += suite_err(d, file, "scenarios", list, "must be a non-empty array of scenario files");
        goto out;
    }
    suite->entries = calloc(json_array_size(list), sizeof *suite->entries);
    size_t i;
    json_array_foreach(list, i, x) {
        char p[64], p2[PATH_BYTES];
        snprintf(p, sizeof p, "scenarios[%zu]", i);
        struct scn_suite_entry *e = &suite->entries[suite->n];
        e->scaling = base;
        const json_t *fv = x;
        if (json_is_object(x)) {
            fv = json_object_get(x, "file");
            json_t *y;
            json_object_foreach(x, k, y) {
                snprintf(p2, sizeof p2, "%s.%s", p, k);
                if (!strcmp(k, "scaling")) errs += parse_scaling(file, p2, y, &e->scaling, d);
                else if (strcmp(k, "file")) errs += suite_err(d, file, p2, NULL, "unknown key (known here: file scaling)");
            }
            snprintf(p2, sizeof p2, "%s.file", p);
            if (!fv) { errs += suite_err(d, file, p2, NULL, "required key missing"); continue; }
        } else {
            snprintf(p2, sizeof p2, "%s", p);
        }
        if (!json_is_string(fv)) {
            errs += suite_err(d, file, p2, fv, "must be a scenario file name (relative to the suite)");
            continue;
        }
        e->path = resolve(file, json_string_value(fv));
        if (access(e->path, R_OK) != 0) {
            char rule[300];
            snprintf(rule, sizeof rule, "cannot read %s: %s", e->path, strerror(errno));
            errs += suite_err(d, file, p2, fv, rule);
            free(e->path);
            e->path = NULL;
            continue;
        }
        suite->n++;
    }
    if (!suite->name[0]) {
        const char *b = strrchr(file, '/');
        b = b ? b + 1 : file;
        size_t len = strcspn(b, ".");
        snprintf(suite->name, sizeof suite->name, "%.*s", (int)len, b);
    }
out:
    json_decref(root);
    return errs;
}

void scn_suite_deinit(struct scn_suite *suite)
{
    if (!suite) return;
    for (int i = 0; i < suite->n; i++) free(suite->entries[i].path);
    free(suite->entries);
    memset(suite, 0, sizeof *suite);
}
