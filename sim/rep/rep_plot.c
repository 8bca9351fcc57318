/* rep_plot.c — draw the charts (gnuplot, the scripts in plots/) from the CSVs beside each report, and write everything a run leaves beside its report.json. */
#include "rep_plot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chk.h"
#include "rep_md.h"

#define PATH_BYTES 4096

/* dir/name into out; a path too long to hold is refused, never silently cut. */
static int join(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len) {
        out[0] = 0;
        return -ENAMETOOLONG;
    }
    return 0;
}

static bool exists(const char *dir, const char *name)
{
    char p[PATH_BYTES];
    join(p, sizeof p, dir, name);
    return access(p, F_OK) == 0;
}

int rep_plot_scripts_dir(char *out, size_t len)
{
    const char *env = getenv("LINKBENCH_PLOTS_DIR");
    if (env && *env && exists(env, "latency.gp")) {
        snprintf(out, len, "%s", env);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        const char *d = dirname(exe);
        static const char *const rel[] = {"../plots", "../share/linkbench/plots"};
        for (int i = 0; i < 2; i++) {
            char p[PATH_BYTES];
            join(p, sizeof p, d, rel[i]);
            if (exists(p, "latency.gp")) {
                snprintf(out, len, "%s", p);
                return 0;
            }
        }
    }
    if (exists("plots", "latency.gp")) {
        snprintf(out, len, "plots");
        return 0;
    }
    return -ENOENT;
}

bool rep_plot_have_gnuplot(void)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char buf[PATH_BYTES];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = NULL, *d = strtok_r(buf, ":", &s); d; d = strtok_r(NULL, ":", &s)) {
        char p[PATH_BYTES];
        join(p, sizeof p, d, "gnuplot");
        if (access(p, X_OK) == 0)
            return true;
    }
    return false;
}

/* gnuplot -c <script> <args...>, its messages into <dir>/gnuplot.log so a run's output
 * stays readable. 0, or -1 after saying on the log where to look. */
static int gnuplot5(const rep_plot_opts *o, const char *scripts, const char *script,
                    const char *dir, const char *a2, const char *a3, const char *a4,
                    const char *a5)
{
    char sp[PATH_BYTES], lp[PATH_BYTES];
    join(sp, sizeof sp, scripts, script);
    join(lp, sizeof lp, dir, "gnuplot.log");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(lp, O_WRONLY | O_CREAT | O_APPEND, 0666);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
        execlp("gnuplot", "gnuplot", "-c", sp, dir, a2 ? a2 : "", a3 ? a3 : "", a4 ? a4 : "",
               a5 ? a5 : "", (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    fprintf(o->log, "linkbench plot: %s failed for %s (see %s)\n", script, dir, lp);
    return -1;
}

static int gnuplot(const rep_plot_opts *o, const char *scripts, const char *script,
                   const char *dir, const char *a2, const char *a3, const char *a4)
{
    return gnuplot5(o, scripts, script, dir, a2, a3, a4, NULL);
}

/* The sweeps rep_sweep_write listed in dir/sweeps.txt: sweep.gp draws each one's
 * figures versus its param. Returns the number that failed. */
static int sweep_charts(const rep_plot_opts *o, const char *scripts, const char *dir,
                        const char *title)
{
    char p[PATH_BYTES], line[512];
    join(p, sizeof p, dir, "sweeps.txt");
    FILE *f = fopen(p, "r");
    int bad = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char stem[256], param[128], mod[128];
        int used = 0;
        if (sscanf(line, "%255s %127s %127s %n", stem, param, mod, &used) < 3)
            continue;
        char t[1024];
        snprintf(t, sizeof t, "%s — %s swept over %s", title, mod, param);
        bad += gnuplot5(o, scripts, "sweep.gp", dir, stem, param, line + used, t) < 0;
    }
    if (f)
        fclose(f);
    return bad;
}

/* A file with at least one line of data after its header. */
static bool has_rows(const char *dir, const char *name)
{
    char p[PATH_BYTES], line[256];
    join(p, sizeof p, dir, name);
    FILE *f = fopen(p, "r");
    int n = 0;
    while (f && n < 2 && fgets(line, sizeof line, f))
        n++;
    if (f)
        fclose(f);
    return n >= 2;
}

/* variants.txt as one space-separated word list (what the .gp scripts loop over);
 * with need, only those whose file need%s (series_%s_0.csv) holds data. */
static void variant_words(const char *dir, const char *need, char *out, size_t len)
{
    char p[PATH_BYTES], line[256];
    join(p, sizeof p, dir, "variants.txt");
    out[0] = 0;
    FILE *f = fopen(p, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        char want[400];
        snprintf(want, sizeof want, need ? need : "%s", line);
        if (!line[0] || (need && !has_rows(dir, want)))
            continue;
        size_t o = strlen(out);
        snprintf(out + o, len - o, "%s%s", o ? " " : "", line);
    }
    fclose(f);
}

/* Whether drops.csv (variant,msgs_sent,msgs_dropped,msgs_refused,msgs_lost) holds a
 * count above 0 after msgs_sent. */
static bool drops_any(const char *dir)
{
    char p[PATH_BYTES], line[1024];
    join(p, sizeof p, dir, "drops.csv");
    FILE *f = fopen(p, "r");
    bool any = false;
    while (f && !any && fgets(line, sizeof line, f)) {
        char *c = strchr(line, ',');
        for (int col = 1; c && !any; col++, c = strchr(c + 1, ','))
            any = col >= 2 && strtod(c + 1, NULL) > 0;
    }
    if (f)
        fclose(f);
    return any;
}

static void title_of(const json_t *r, char *out, size_t len)
{
    const json_t *s = json_object_get(r, "scenario");
    snprintf(out, len, "%s, %.0f links", json_string_value(json_object_get(s, "name")) ?: "?",
             json_number_value(json_object_get(s, "links")));
}

static void dir_of(const char *path, char *out, size_t len)
{
    snprintf(out, len, "%s", path);
    char *s = strrchr(out, '/');
    if (s)
        *s = 0;
    else
        snprintf(out, len, ".");
}

/* Charts of one report's directory. Returns the number that failed. */
static int report_charts(const rep_plot_opts *o, const char *scripts, const char *dir,
                         const json_t *r)
{
    char words[2048], title[256];
    title_of(r, title, sizeof title);
    int bad = 0;
    char lp[PATH_BYTES];
    join(lp, sizeof lp, dir, "gnuplot.log");
    unlink(lp);   /* the log of this drawing only */
    static const char *const dirs[] = {"in", "out", "rtt"};
    for (int d = 0; d < 3; d++) {
        char need[64];
        snprintf(need, sizeof need, "lat_%s_%%s.csv", dirs[d]);
        variant_words(dir, need, words, sizeof words);
        if (words[0])   /* a direction nobody measured (a sink app sends nothing) */
            bad += gnuplot(o, scripts, "latency.gp", dir, dirs[d], words, title) < 0;
    }
    /* a chart of zeros says nothing a sentence cannot: drawn only when something was
     * dropped, refused or lost (an old one from an earlier drawing goes) */
    if (drops_any(dir))
        bad += gnuplot(o, scripts, "drops.gp", dir, title, NULL, NULL) < 0;
    else {
        char p[PATH_BYTES];
        join(p, sizeof p, dir, "drops.png");
        unlink(p);
        join(p, sizeof p, dir, "drops.svg");
        unlink(p);
    }
    variant_words(dir, "series_%s_0.csv", words, sizeof words);
    if (words[0])
        bad += gnuplot(o, scripts, "series.gp", dir, words, title, NULL) < 0;
    bad += sweep_charts(o, scripts, dir, title);
    return bad;
}

/* Directories holding scale_<variant>.csv (the parents of links_<n> steps), once each. */
static int scale_charts(const rep_plot_opts *o, const char *scripts, char *const *paths,
                        json_t *const *reports, int n)
{
    int bad = 0;
    char done[16][PATH_BYTES];
    int nd = 0;
    for (int i = 0; i < n; i++) {
        char d[PATH_BYTES], gp[PATH_BYTES];
        dir_of(paths[i], d, sizeof d);
        const char *base = strrchr(d, '/');
        if (strncmp(base ? base + 1 : d, "links_", 6))
            continue;
        dir_of(d, gp, sizeof gp);
        bool seen = false;
        for (int k = 0; k < nd && !seen; k++)
            seen = !strcmp(done[k], gp);
        if (seen || nd >= 16)
            continue;
        snprintf(done[nd++], PATH_BYTES, "%s", gp);
        char words[2048] = "", title[256];
        const char *v;
        const json_t *x;
        json_object_foreach(json_object_get(reports[i], "summary"), v, x) {
            char fn[128];
            rep_file_name(v, fn, sizeof fn);
            size_t l = strlen(words);
            snprintf(words + l, sizeof words - l, "%s%s", l ? " " : "", fn);
        }
        snprintf(title, sizeof title, "%s",
                 json_string_value(json_object_get(json_object_get(reports[i], "scenario"), "name")) ?: "?");
        bad += gnuplot(o, scripts, "scale.gp", gp, words, title, NULL) < 0;
    }
    return bad;
}

/* Load every report under root. 0, or 2 (none found, or one did not load). */
static int load_all(const char *root, FILE *log, char ***paths, int *n, json_t ***reps)
{
    char err[4600];
    *paths = NULL;
    *n = 0;
    *reps = NULL;
    int k = rep_find_reports(root, paths, n, err, sizeof err);
    if (k <= 0) {
        fprintf(log, "linkbench: %s%s\n", k < 0 ? err : root, k < 0 ? "" : ": no report.json found");
        return 2;
    }
    *reps = calloc((size_t)*n, sizeof **reps);
    for (int i = 0; *reps && i < *n; i++)
        if (!((*reps)[i] = chk_load_report((*paths)[i], err, sizeof err))) {
            fprintf(log, "linkbench: %s\n", err);
            return 2;
        }
    return *reps ? 0 : 2;
}

static void free_all(char **paths, int n, json_t **reps)
{
    for (int i = 0; reps && i < n; i++)
        json_decref(reps[i]);
    free(reps);
    rep_reports_free(paths, n);
}

/* Data, aggregates and charts; rewrite = false keeps existing per-report files. */
static int outputs(const char *root, const rep_plot_opts *o, bool rewrite, char **paths, int n,
                   json_t **reps)
{
    char err[4600], dir[PATH_BYTES], p[PATH_BYTES];
    int rc = 0;
    for (int i = 0; i < n; i++) {
        dir_of(paths[i], dir, sizeof dir);
        join(p, sizeof p, dir, "report.md");
        if ((rewrite || !exists(dir, "report.md")) && rep_md_write(reps[i], p, err, sizeof err) < 0) {
            fprintf(o->log, "linkbench: %s\n", err);
            rc = 1;
        }
        if ((rewrite || !exists(dir, "variants.txt")) &&
            rep_data_write(reps[i], dir, err, sizeof err) < 0) {
            fprintf(o->log, "linkbench: %s\n", err);
            rc = 1;
        }
    }
    if (rep_data_aggregate(root, paths, reps, n, err, sizeof err) < 0) {
        fprintf(o->log, "linkbench: %s\n", err);
        rc = 1;
    }
    if (!o->charts)
        return rc;
    char scripts[PATH_BYTES];
    if (!rep_plot_have_gnuplot()) {
        fprintf(o->log, "linkbench: gnuplot not found: charts not drawn (the CSVs are written; "
                "install gnuplot-nox, listed in scripts/packages.txt, then run: linkbench plot %s)\n",
                root);
        return 1;
    }
    if (rep_plot_scripts_dir(scripts, sizeof scripts) < 0) {
        fprintf(o->log, "linkbench: the chart scripts (plots/latency.gp ...) were not found: "
                "set LINKBENCH_PLOTS_DIR\n");
        return 1;
    }
    int bad = 0;
    for (int i = 0; i < n; i++) {
        dir_of(paths[i], dir, sizeof dir);
        bad += report_charts(o, scripts, dir, reps[i]);
    }
    bad += scale_charts(o, scripts, paths, reps, n);
    if (exists(root, "overview_dropped.csv")) {
        /* the variants are the CSV's columns after "scenario" */
        char p[PATH_BYTES], head[2048] = "";
        join(p, sizeof p, root, "overview_dropped.csv");
        FILE *f = fopen(p, "r");
        if (f && fgets(head, sizeof head, f)) {
            head[strcspn(head, "\r\n")] = 0;
            for (char *c = head; *c; c++)
                if (*c == ',')
                    *c = ' ';
        }
        /* a log axis needs at least one drop to draw */
        bool any = false;
        char line[4096];
        while (f && !any && fgets(line, sizeof line, f)) {
            char *c = strchr(line, ',');
            while (c && !any) {
                double x = strtod(c + 1, NULL);
                any = x > 0;
                c = strchr(c + 1, ',');
            }
        }
        if (f)
            fclose(f);
        const char *w = strchr(head, ' ');
        bad += gnuplot(o, scripts, "overview.gp", root, w ? w + 1 : "", any ? "log" : "linear",
                       NULL) < 0;
    }
    if (!o->quiet)
        fprintf(o->info ? o->info : stdout, "charts: %s (%d report%s%s)\n", root, n, n == 1 ? "" : "s",
                bad ? ", some charts failed" : "");
    return bad ? 1 : rc;
}

int rep_plot_dir(const char *root, const rep_plot_opts *o)
{
    char **paths;
    int n;
    json_t **reps;
    int rc = load_all(root, o->log, &paths, &n, &reps);
    if (rc == 0)
        rc = outputs(root, o, false, paths, n, reps);
    free_all(paths, n, reps);
    return rc;
}

int rep_run_outputs(const char *dir, FILE *out, bool quiet)
{
    char **paths;
    int n;
    json_t **reps;
    rep_plot_opts o = {.log = stderr, .info = out, .quiet = quiet, .charts = true};
    int rc = load_all(dir, stderr, &paths, &n, &reps);
    if (rc == 0) {
        /* charts missing for want of gnuplot are said, but are no failed run */
        outputs(dir, &o, true, paths, n, reps);
        chk_out co = {.f = out, .verbose = false};
        chk_counts c = {0};
        char err[512];
        for (int i = 0; i < n; i++)
            if (chk_expect_report(reps[i], &co, &c, err, sizeof err) < 0)
                fprintf(out, "expect: %s: %s\n", paths[i], err), c.failed++;
        if (c.held + c.failed + c.skipped > 0 && (!quiet || c.failed))
            fprintf(out, "expect: %d held, %d failed, %d skipped\n", c.held, c.failed, c.skipped);
        rc = c.failed ? 1 : 0;
    } else
        rc = 1;
    free_all(paths, n, reps);
    return rc;
}
