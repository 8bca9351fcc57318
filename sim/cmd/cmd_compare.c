/* cmd_compare.c — `linkbench compare`: base and candidate measured interleaved in the same run on the same machine, adaptive repetitions, the gate's verdict per metric, JUnit and summary files, exit 0/99/1/2. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chk.h"
#include "chk_gate.h"
#include "chk_junit.h"
#include "cmd.h"
#include "cmp.h"
#include "lb_install.h"
#include "link_registry.h"
#include "rep_plot.h"
#include "run.h"

#define MAX_VARIANTS 32
#define MAX_PAIRS 8   /* a run takes at most 16 variants: 8 pairs */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: linkbench compare (--base REF | --base-build DIR | --base-variant A.so,...)\n"
        "                         [options] <scenario|suite (file or shipped name)>...\n"
        "\n"
        "Measure a base and this build (the candidate) in the same run on the same machine,\n"
        "repetition by repetition, and judge every metric of the gate's table\n"
        "(docs/reports.md): a regression is a change worse than the metric's threshold AND\n"
        "significant (Mann–Whitney U over the repetitions, p < alpha); counts a design\n"
        "determines (lost, drops where the base had none, threads per link) are exact.\n"
        "\n"
        "  --base REF           a git ref of the source tree: its commit is archived and built\n"
        "                       in <source>/build/compare-<sha>/ (kept for the next compare)\n"
        "  --base-build DIR     a base build directory (linkbench and variants/)\n"
        "  --base-variant LIST  base modules by path; each pairs with the candidate variant\n"
        "                       of its file's base name\n"
        "\n"
        "Modes: when only variants differ (the default for --base-build and --base-variant;\n"
        "for --base when sim/ and CMakeLists.txt are the same in REF and the working tree),\n"
        "the base's modules are loaded by path into this linkbench and each `linkbench run`\n"
        "alternates them with the candidate's: evloop@base, evloop, dual@base, dual, ...\n"
        "When the harness differs, whole runs of the two linkbench binaries alternate,\n"
        "one repetition each. Half the repetitions start with the base, half with the\n"
        "candidate.\n"
        "\n"
        "options:\n"
        "  --variant LIST       candidate variants (names or .so paths; default: every built-in\n"
        "                       variant the base also has, or the --base-variant names)\n"
        "  --mode M             auto (default), variants or harness\n"
        "  --source DIR         the candidate's git tree for --base (default: the current one)\n"
        "  --work-dir DIR       where --base is built (default <source>/build/compare-<sha>)\n"
        "  --repeat N           repetitions per side to start with (default 5, at least 2)\n"
        "  --max-repeat N       while a metric is worse beyond its threshold but not yet\n"
        "                       significant (and none is a regression), add repetitions up\n"
        "                       to N per side (default 11); a regression found in the\n"
        "                       first round is confirmed with --step more first\n"
        "  --step N             repetitions per side added per round (default 2)\n"
        "  --alpha P            significance level (default 0.01)\n"
        "  --duration S, --links N   passed to linkbench run\n"
        "  --out DIR            runs and logs go to DIR/<timestamp>/ (default results/compare)\n"
        "  --changes-only       print only the rows that are not unchanged\n"
        "  --junit FILE         JUnit XML: one testsuite per scenario@links, one testcase per\n"
        "                       variant and metric (a regression is a failure)\n"
        "  --summary-export FILE  compact JSON: mode, sides, verdict, every row (no histograms)\n"
        "  -h, --help           this text\n"
        "\n"
        "exit codes: 0 no regression; 99 a regression; 1 the run itself failed (a base build, a\n"
        "run without measurements); 2 usage or input error\n");
}

struct opts {
    const char *base_ref, *base_build, *base_variants, *variants, *mode, *source, *work, *out;
    const char *junit, *summary;
    int64_t repeat, max_repeat, step, links;
    double duration, alpha;
    bool changes_only;
};

/* The plan: which processes run, with what. */
struct plan {
    bool harness;                 /* whole runs of two binaries alternate */
    const char *self;             /* this executable */
    struct cmp_base base;
    int nv;                       /* variants mode: the pairs */
    char cand[MAX_PAIRS][4096];   /* as given to run: a name, or candidate-variants/<name>.so */
    char name[MAX_PAIRS][256];    /* the pair's name */
    char copy[MAX_PAIRS][4400];   /* the base module's copy: base-variants/<name>@base.so */
    char dir[4096];               /* this compare's directory */
    char **inputs;
    int n_inputs;
};

static int parse_count(const char *opt, const char *s, int64_t min, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min) {
        fprintf(stderr, "linkbench compare: %s: must be an integer >= %lld (got \"%s\")\n", opt,
                (long long)min, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_real(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > lo && v < hi)) {
        fprintf(stderr, "linkbench compare: %s: must be a number in (%g, %g) (got \"%s\")\n", opt,
                lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Split a comma list into out (each at most cap - 1 bytes). The count, or -1. */
static int split(const char *list, char (*out)[4096], int max)
{
    int n = 0;
    const char *p = list;
    while (p && *p) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == 0 || len >= 4096 || n == max)
            return -1;
        snprintf(out[n++], 4096, "%.*s", (int)len, p);
        p = c ? c + 1 : NULL;
    }
    return n;
}

static int copy_file(const char *from, const char *to, char *err, size_t errlen)
{
    char *argv[] = {"cp", "-f", (char *)from, (char *)to, NULL};
    char e[600];
    int rc = cmp_spawn(argv, NULL, NULL, NULL, e, sizeof e);
    if (rc != 0) {
        snprintf(err, errlen, "cannot copy %.400s to %.400s", from, to);
        return -1;
    }
    return 0;
}

static bool exists(const char *p)
{
    return access(p, F_OK) == 0;
}

/* Variants mode: pair each candidate variant with a base module, copied as <name>@base.so
 * so its report key says which side it is, and check that it loads into this linkbench.
 * 0, or LB_EXIT_USAGE after printing why. */
static int plan_variants(const struct opts *o, struct plan *p)
{
    static char given[MAX_VARIANTS][4096], bases[MAX_VARIANTS][4096];
    int nb = o->base_variants ? split(o->base_variants, bases, MAX_VARIANTS) : 0;
    int ng = o->variants ? split(o->variants, given, MAX_VARIANTS) : 0;
    if (nb < 0 || ng < 0) {
        fprintf(stderr, "linkbench compare: a variant list is empty or too long\n");
        return LB_EXIT_USAGE;
    }
    if (!o->variants && nb) {
        for (int i = 0; i < nb; i++)
            chk_gate_variant_name(bases[i], given[i], sizeof given[i]);
        ng = nb;
    } else if (!o->variants) {
        char **names;
        int n = link_registry_names(&names);
        for (int i = 0; i < n && ng < MAX_VARIANTS; i++)
            snprintf(given[ng++], sizeof given[0], "%s", names[i]);
        if (n > 0)
            link_registry_names_free(names, n);
    }
    /* both sides' modules given by path are copied into this compare's directory and
     * named relative to it: a rebuild during the compare cannot mix builds, and the
     * names stay short */
    char vdir[4200], cdir[4200];
    snprintf(vdir, sizeof vdir, "%s/base-variants", p->dir);
    snprintf(cdir, sizeof cdir, "%s/candidate-variants", p->dir);
    if ((mkdir(vdir, 0777) < 0 && errno != EEXIST) || (mkdir(cdir, 0777) < 0 && errno != EEXIST)) {
        fprintf(stderr, "linkbench compare: %s: %s\n", vdir, strerror(errno));
        return LB_EXIT_FAIL;
    }
    for (int i = 0; i < ng; i++) {
        char name[256], from[4400] = "";
        chk_gate_variant_name(given[i], name, sizeof name);
        for (int k = 0; k < nb; k++) {
            char bn[256];
            chk_gate_variant_name(bases[k], bn, sizeof bn);
            if (!strcmp(bn, name))
                cmp_fmt(from, sizeof from, "%s", bases[k]);
        }
        if (!from[0] && !nb)
            cmp_fmt(from, sizeof from, "%s/%s.so", p->base.variant_dir, name);
        if (!from[0] || !exists(from)) {
            fprintf(stderr, "compare: %s: the base has no such module%s%s: not compared\n", name,
                    from[0] ? " " : "", from);
            continue;
        }
        if (p->nv == MAX_PAIRS) {
            fprintf(stderr, "linkbench compare: at most %d variants per compare in the variants "
                    "mode (a run takes 16 modules)\n", MAX_PAIRS);
            return LB_EXIT_USAGE;
        }
        int k = p->nv++;
        cmp_fmt(p->name[k], sizeof p->name[k], "%s", name);
        cmp_fmt(p->copy[k], sizeof p->copy[k], "base-variants/%s@base.so", name);
        char err[1200], abs[4600];
        cmp_fmt(abs, sizeof abs, "%s/%s", p->dir, p->copy[k]);
        link_module *m = NULL;
        if (copy_file(from, abs, err, sizeof err) < 0 ||
            link_module_load(abs, &m, err, sizeof err) < 0) {
            fprintf(stderr, "linkbench compare: base module %s: %s%s\n", from, err,
                    strstr(err, "ABI") ? " (the harness differs: --mode harness runs the base's "
                    "own linkbench)" : "");
            return LB_EXIT_USAGE;
        }
        link_module_unload(m);
        if (strchr(given[i], '/') || strstr(given[i], ".so")) {
            cmp_fmt(p->cand[k], sizeof p->cand[k], "candidate-variants/%s.so", name);
            cmp_fmt(abs, sizeof abs, "%s/%s", p->dir, p->cand[k]);
            if (copy_file(given[i], abs, err, sizeof err) < 0) {
                fprintf(stderr, "linkbench compare: %s\n", err);
                return LB_EXIT_USAGE;
            }
        } else
            cmp_fmt(p->cand[k], sizeof p->cand[k], "%s", given[i]);
    }
    if (p->nv == 0) {
        fprintf(stderr, "linkbench compare: no variant to compare\n");
        return LB_EXIT_USAGE;
    }
    return 0;
}

/* out/<UTC timestamp>[-n]: a fresh directory. 0 or -1. */
static int make_dir(const char *out, char *dir, size_t len)
{
    char *mk[] = {"mkdir", "-p", (char *)out, NULL};
    char e[600], ts[32];
    if (cmp_spawn(mk, NULL, NULL, NULL, e, sizeof e) != 0) {
        fprintf(stderr, "linkbench compare: cannot create %s\n", out);
        return -1;
    }
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
    for (int n = 1; n < 100; n++) {
        if (n == 1)
            snprintf(dir, len, "%s/%s", out, ts);
        else
            snprintf(dir, len, "%s/%s-%d", out, ts, n);
        if (mkdir(dir, 0777) == 0) {
            char abs[PATH_MAX], sub[PATH_MAX + 16];
            if (realpath(dir, abs))
                snprintf(dir, len, "%s", abs);
            static const char *const subs[] = {"runs", "base", "candidate"};
            for (int i = 0; i < 3; i++)
                if (cmp_fmt(sub, sizeof sub, "%s/%s", dir, subs[i]) < 0 || mkdir(sub, 0777) < 0) {
                    fprintf(stderr, "linkbench compare: cannot create %s: %s\n", sub, strerror(errno));
                    return -1;
                }
            return 0;
        }
        if (errno != EEXIST)
            break;
    }
    fprintf(stderr, "linkbench compare: cannot create a directory in %s: %s\n", out, strerror(errno));
    return -1;
}

/* One `linkbench run` process: exe (base_vdir: its LINKBENCH_VARIANT_DIR), k repetitions,
 * variants (NULL: the scenario's), into dir. 0; LB_EXIT_USAGE for a scenario error;
 * LB_EXIT_FAIL when it wrote no report (its log's tail printed). */
static int run_once(const struct opts *o, const struct plan *p, const char *exe,
                    const char *vdir, int k, const char *variants, const char *dir,
                    const char *what)
{
    char rep[32], dur[64], links[32], log[4200];
    snprintf(rep, sizeof rep, "%d", k);
    snprintf(log, sizeof log, "%s.log", dir);
    const char *argv[64];
    int a = 0;
    argv[a++] = exe;
    argv[a++] = "run";
    argv[a++] = "--quiet";
    argv[a++] = "--out";
    argv[a++] = dir;
    argv[a++] = "--repeat";
    argv[a++] = rep;
    if (variants)
        argv[a++] = "--variant", argv[a++] = variants;
    if (o->duration > 0)
        snprintf(dur, sizeof dur, "%g", o->duration), argv[a++] = "--duration", argv[a++] = dur;
    if (o->links > 0)
        snprintf(links, sizeof links, "%lld", (long long)o->links), argv[a++] = "--links",
                                                                  argv[a++] = links;
    for (int i = 0; i < p->n_inputs && a < 62; i++)
        argv[a++] = p->inputs[i];
    argv[a] = NULL;
    fprintf(stderr, "compare: %s ... ", what);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char err[700];
    /* variants mode runs in the compare's directory: its module paths are short relative
     * ones (a scenario's variant names are limited to 63 characters) */
    int rc = cmp_spawn((char *const *)argv, p->harness ? NULL : p->dir, log, vdir, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    char **paths = NULL, ferr[4600];
    int n = 0, found = rep_find_reports(dir, &paths, &n, ferr, sizeof ferr);
    rep_reports_free(paths, n);
    fprintf(stderr, "%s (%.0f s)\n", rc == 0 ? "done" : rc == 2 ? "usage error" : found > 0
            ? "done (some runs or expect lines failed: see the table)" : "FAILED", s);
    if (rc < 0)
        fprintf(stderr, "compare: %s: %s\n", what, err);
    if (rc == LB_EXIT_USAGE || found <= 0) {
        fprintf(stderr, "compare: %s said (%s):\n", what, log);
        cmp_log_tail(stderr, log, 2000);
        return rc == LB_EXIT_USAGE ? LB_EXIT_USAGE : LB_EXIT_FAIL;
    }
    return 0;
}

/* The variant list for one order: base first ("a@base.so,a,...") or candidate first. */
static void variant_list(const struct plan *p, bool base_first, char *buf, size_t len)
{
    size_t w = 0;
    buf[0] = 0;
    for (int i = 0; i < p->nv && w < len; i++) {
        const char *x = base_first ? p->copy[i] : p->cand[i], *y = base_first ? p->cand[i] : p->copy[i];
        w += (size_t)snprintf(buf + w, len - w, "%s%s,%s", i ? "," : "", x, y);
    }
}

/* One round of k repetitions per side; *done counts the repetitions per side so far
 * (it decides who goes first, so the orders stay balanced). 0 or an exit code. */
static int run_round(const struct opts *o, const struct plan *p, int round, int k, int *done)
{
    char dir[4400], what[200];
    if (!p->harness) {
        static char list[MAX_VARIANTS * 2 * 4500];
        for (int half = 0; half < 2; half++) {
            bool base_first = ((*done + half) % 2) == 0;
            int reps = half == 0 ? (k + 1) / 2 : k / 2;
            if (reps == 0)
                continue;
            variant_list(p, base_first, list, sizeof list);
            snprintf(dir, sizeof dir, "%s/runs/r%d-%s", p->dir, round, base_first ? "base-first" : "candidate-first");
            snprintf(what, sizeof what, "round %d: %d repetition%s per side, %s first", round, reps,
                     reps == 1 ? "" : "s", base_first ? "base" : "candidate");
            int rc = run_once(o, p, p->self, NULL, reps, list, dir, what);
            if (rc)
                return rc;
        }
        *done += k;
        return 0;
    }
    for (int i = 0; i < k && !run_interrupted; i++) {
        bool base_first = ((*done + i) % 2) == 0;
        for (int side = 0; side < 2 && !run_interrupted; side++) {
            bool base = base_first == (side == 0);
            snprintf(dir, sizeof dir, "%s/%s/r%d-%d", p->dir, base ? "base" : "candidate", round, i);
            snprintf(what, sizeof what, "round %d: repetition %d/%d, %s linkbench", round, i + 1, k,
                     base ? "base" : "candidate");
            int rc = run_once(o, p, base ? p->base.exe : p->self, base ? p->base.variant_dir : NULL,
                              1, o->variants, dir, what);
            if (rc)
                return rc;
        }
    }
    *done += k;
    return 0;
}

/* Every report of this compare into set. 0, or -1 after printing why. */
static int collect(const struct plan *p, struct chk_set *set)
{
    static const char *const sub[] = {"runs", "base", "candidate"};
    for (int i = 0; i < 3; i++) {
        char dir[4200], err[4600], **paths = NULL;
        int n = 0;
        snprintf(dir, sizeof dir, "%s/%s", p->dir, sub[i]);
        if (!exists(dir))
            continue;
        if (rep_find_reports(dir, &paths, &n, err, sizeof err) < 0) {
            fprintf(stderr, "linkbench compare: %s\n", err);
            return -1;
        }
        for (int k = 0; k < n; k++) {
            json_t *r = chk_load_report(paths[k], err, sizeof err);
            int side = i == 0 ? -1 : i == 1 ? 0 : 1;
            if (!r || chk_set_add_report(set, r, side, err, sizeof err) < 0) {
                fprintf(stderr, "linkbench compare: %s\n", err);
                json_decref(r);
                rep_reports_free(paths, n);
                return -1;
            }
            json_decref(r);
        }
        rep_reports_free(paths, n);
    }
    return 0;
}

int cmd_compare(int argc, char **argv)
{
    struct opts o = {.mode = "auto", .out = "results/compare", .repeat = 5, .max_repeat = 11,
                     .step = 2, .alpha = 0.01};
    enum { O_BASE = 256, O_BASE_BUILD, O_BASE_VARIANT, O_VARIANT, O_MODE, O_SOURCE, O_WORK,
           O_REPEAT, O_MAX, O_STEP, O_ALPHA, O_DURATION, O_LINKS, O_OUT, O_CHANGES, O_JUNIT,
           O_SUMMARY };
    static const struct option lo[] = {
        {"base", required_argument, 0, O_BASE}, {"base-build", required_argument, 0, O_BASE_BUILD},
        {"base-variant", required_argument, 0, O_BASE_VARIANT},
        {"variant", required_argument, 0, O_VARIANT}, {"mode", required_argument, 0, O_MODE},
        {"source", required_argument, 0, O_SOURCE}, {"work-dir", required_argument, 0, O_WORK},
        {"repeat", required_argument, 0, O_REPEAT}, {"max-repeat", required_argument, 0, O_MAX},
        {"step", required_argument, 0, O_STEP}, {"alpha", required_argument, 0, O_ALPHA},
        {"duration", required_argument, 0, O_DURATION}, {"links", required_argument, 0, O_LINKS},
        {"out", required_argument, 0, O_OUT}, {"changes-only", no_argument, 0, O_CHANGES},
        {"junit", required_argument, 0, O_JUNIT},
        {"summary-export", required_argument, 0, O_SUMMARY}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return LB_EXIT_OK;
        case O_BASE: o.base_ref = optarg; break;
        case O_BASE_BUILD: o.base_build = optarg; break;
        case O_BASE_VARIANT: o.base_variants = optarg; break;
        case O_VARIANT: o.variants = optarg; break;
        case O_MODE: o.mode = optarg; break;
        case O_SOURCE: o.source = optarg; break;
        case O_WORK: o.work = optarg; break;
        case O_REPEAT: bad |= parse_count("--repeat", optarg, 2, &o.repeat); break;
        case O_MAX: bad |= parse_count("--max-repeat", optarg, 2, &o.max_repeat); break;
        case O_STEP: bad |= parse_count("--step", optarg, 1, &o.step); break;
        case O_ALPHA: bad |= parse_real("--alpha", optarg, 0, 1, &o.alpha); break;
        case O_DURATION: bad |= parse_real("--duration", optarg, 0, 1e9, &o.duration); break;
        case O_LINKS: bad |= parse_count("--links", optarg, 1, &o.links); break;
        case O_OUT: o.out = optarg; break;
        case O_CHANGES: o.changes_only = true; break;
        case O_JUNIT: o.junit = optarg; break;
        case O_SUMMARY: o.summary = optarg; break;
        default:
            fprintf(stderr, "linkbench compare: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return LB_EXIT_USAGE;
        }
    }
    if (bad)
        return LB_EXIT_USAGE;
    int nbase = !!o.base_ref + !!o.base_build + !!o.base_variants;
    const char *why = nbase != 1 ? "give exactly one of --base, --base-build, --base-variant"
                    : optind >= argc ? "no scenario or suite file given"
                    : strcmp(o.mode, "auto") && strcmp(o.mode, "variants") && strcmp(o.mode, "harness")
                        ? "--mode: must be auto, variants or harness"
                    : o.base_variants && !strcmp(o.mode, "harness")
                        ? "--mode harness needs a base linkbench: --base or --base-build"
                    : o.max_repeat < o.repeat ? "--max-repeat: must be >= --repeat" : NULL;
    if (why) {
        fprintf(stderr, "linkbench compare: %s\n", why);
        usage(stderr);
        return LB_EXIT_USAGE;
    }
    /* absolute: the runs of the variants mode start in the compare's directory */
    static char *inputs[64];
    if (argc - optind > 64) {
        fprintf(stderr, "linkbench compare: at most 64 scenario or suite files\n");
        return LB_EXIT_USAGE;
    }
    for (int i = optind; i < argc; i++) {
        /* a shipped scenario or suite by name ("echo", "first"), as run takes it */
        char file[PATH_MAX];
        lb_install_scenario(argv[i], file, sizeof file);
        if (!(inputs[i - optind] = realpath(file, NULL)) || access(file, R_OK) < 0) {
            fprintf(stderr, "linkbench compare: %s: %s\n", argv[i], strerror(errno));
            return LB_EXIT_USAGE;
        }
    }
    static struct plan p;
    static char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fprintf(stderr, "linkbench compare: cannot find this executable: %s\n", strerror(errno));
        return LB_EXIT_FAIL;
    }
    self[sl] = 0;
    p.self = self;
    p.inputs = inputs;
    p.n_inputs = argc - optind;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char err[4600];
    int rc = 0;
    if (o.base_ref) {
        char src[4096];
        if (o.source ? (snprintf(src, sizeof src, "%s", o.source), 0)
                     : cmp_git_toplevel(NULL, src, sizeof src, err, sizeof err)) {
            fprintf(stderr, "linkbench compare: %s\n", err);
            return LB_EXIT_USAGE;
        }
        rc = cmp_base_from_ref(src, o.base_ref, o.work, &p.base, err, sizeof err);
    } else if (o.base_build)
        rc = cmp_base_from_build(o.base_build, &p.base, err, sizeof err);
    if (rc) {
        fprintf(stderr, "linkbench compare: %s\n", err);
        if (rc == -1 && p.base.log[0])
            cmp_log_tail(stderr, p.base.log, 2000);
        return rc == -2 ? LB_EXIT_USAGE : LB_EXIT_FAIL;
    }
    p.harness = !strcmp(o.mode, "harness") || (!strcmp(o.mode, "auto") && p.base.harness_differs);
    if (p.harness && access(p.base.exe, X_OK) < 0) {
        fprintf(stderr, "linkbench compare: the harness mode needs the base's linkbench: %s: %s\n",
                p.base.exe, strerror(errno));
        return LB_EXIT_USAGE;
    }
    char which[4096];
    if (!p.harness && cmp_has_variant_config(p.inputs, p.n_inputs, which, sizeof which)) {
        fprintf(stderr, "linkbench compare: %s: variant_config or a variant instance sets params by "
                "variant name, which the base's modules (loaded by path) would not get: use --mode "
                "harness\n", which);
        return LB_EXIT_USAGE;
    }
    if (make_dir(o.out, p.dir, sizeof p.dir) < 0)
        return LB_EXIT_FAIL;
    if (!p.harness && (rc = plan_variants(&o, &p)) != 0)
        return rc;
    /* the smallest two-sided p of n + n repetitions is 2 / C(2n, n) */
    double pmin = 2;
    for (int i = 1; i <= (int)o.max_repeat; i++)
        pmin = pmin * i / (o.max_repeat + i);
    if (pmin >= o.alpha)
        fprintf(stderr, "compare: note: with at most %lld + %lld repetitions no p-value can fall "
                "below %g (the smallest is %.3g): only the exact rules can find a regression\n",
                (long long)o.max_repeat, (long long)o.max_repeat, o.alpha, pmin);
    run_signals_install();
    cmp_print_sides(stdout, p.harness, &p.base, p.self);
    fflush(stdout);

    struct chk_set set = {0};
    struct chk_row *rows = NULL;
    struct chk_tally t = {0};
    int n = 0, done = 0, round = 0;
    for (int k = (int)o.repeat; k > 0 && !run_interrupted;) {
        if ((rc = run_round(&o, &p, ++round, k, &done)) != 0)
            break;
        chk_set_deinit(&set);
        free(rows);
        rows = NULL;
        if (collect(&p, &set) < 0 || chk_gate_eval(&set, o.alpha, &rows, &n, NULL) < 0) {
            rc = LB_EXIT_FAIL;
            break;
        }
        chk_gate_tally(rows, n, &t);
        /* More repetitions while something is unclear, and once to confirm a regression
         * found in the first round: a chance separation of 5 + 5 (p = 0.008 for one metric
         * of dozens) rarely survives more data, a real regression does. A regression
         * confirmed is settled: more data would not turn it into a pass. */
        int left = (int)o.max_repeat - done;
        bool confirm = t.regression && done < o.repeat + o.step;
        bool more = confirm || (t.unclear && !t.regression);
        k = more && left > 0 ? (int)(o.step < left ? o.step : left) : 0;
        if (k && confirm)
            fprintf(stderr, "compare: %d regression%s at %d + %d: %d more repetition%s per side "
                    "to confirm\n", t.regression, t.regression == 1 ? "" : "s", done, done, k,
                    k == 1 ? "" : "s");
        else if (k)
            fprintf(stderr, "compare: %d metric%s worse beyond the threshold but not significant "
                    "at %d + %d: %d more repetition%s per side\n", t.unclear,
                    t.unclear == 1 ? "" : "s", done, done, k, k == 1 ? "" : "s");
    }
    if (run_interrupted && !rc)
        rc = LB_EXIT_FAIL;
    if (rows) {
        struct chk_labels lb = {{"%s@base", "%s"}};
        chk_gate_print(stdout, rows, n, &lb, true, !o.changes_only);
        printf("\n");
        int failed = cmp_print_pair_notes(stdout, &set);
        if (!rc)
            rc = failed ? LB_EXIT_FAIL : t.regression ? LB_EXIT_REGRESSION : LB_EXIT_OK;
        printf("compare: %d metrics: %d regression%s, %d improvement%s, %d unclear, %d unchanged, "
               "%d without data (alpha %g, %d + %d repetitions, %s mode)\n", n, t.regression,
               t.regression == 1 ? "" : "s", t.better, t.better == 1 ? "" : "s", t.unclear, t.same,
               t.nodata, o.alpha, done, done, p.harness ? "harness" : "variants");
    }
    const char *verdict = rc == LB_EXIT_OK ? "pass" : rc == LB_EXIT_REGRESSION ? "regression"
                        : rc == LB_EXIT_USAGE ? "usage_error" : "run_failed";
    printf("compare: %s (exit %d); runs and logs in %s\n",
           rc == LB_EXIT_OK ? "no regression" : rc == LB_EXIT_REGRESSION ? "REGRESSION"
           : rc == LB_EXIT_USAGE ? "usage error" : "the run itself failed", rc, p.dir);
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct cmp_result res = {.harness = p.harness, .base = &p.base, .self = p.self, .dir = p.dir,
                             .alpha = o.alpha, .per_side = done, .rounds = round, .set = &set,
                             .rows = rows, .n = n, .t = t, .exit_code = rc, .verdict = verdict,
                             .seconds = (double)(t1.tv_sec - t0.tv_sec) +
                                        (t1.tv_nsec - t0.tv_nsec) / 1e9};
    if (o.summary && cmp_write_summary(&res, o.summary, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench compare: %s\n", err);
        rc = rc ? rc : LB_EXIT_FAIL;
    }
    if (o.junit && cmp_write_junit(&res, o.junit, err, sizeof err) < 0) {
        fprintf(stderr, "linkbench compare: %s\n", err);
        rc = rc ? rc : LB_EXIT_FAIL;
    }
    free(rows);
    chk_set_deinit(&set);
    return rc;
}
