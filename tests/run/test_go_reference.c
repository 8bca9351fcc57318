/* test_go_reference.c — the seed's Go designs (reference/go) as go:<design> variants: each one run end to end, its accounting, its params against its C port's. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <glob.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "lb_tmpdir.h"
#include "link.h"
#include "link_registry.h"

extern char **environ;

static char dir[512];

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_go"); }
static void teardown(void) { lb_tmpdir_remove(dir); }

TestSuite(go_reference, .init = setup, .fini = teardown, .timeout = 300);

/* CMake says whether it built linkbench-go (go found); without it there is nothing to test. */
static void need_go(void)
{
    const char *h = getenv("LINKBENCH_HAVE_GO");
    if (!h || strcmp(h, "ON"))
        cr_skip_test("the Go reference server was not built (no go toolchain at configure time)");
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    static char buf[1 << 17];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return strdup(buf);
}

/* Run prog with args, stdout and stderr into files in dir; exit status or -1. */
static int run(const char *prog, const char *const *args, char **out, char **err)
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)prog;
    for (; *args && n < 31; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    char po[700], pe[700];
    snprintf(po, sizeof po, "%s/stdout.txt", dir);
    snprintf(pe, sizeof pe, "%s/stderr.txt", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, po, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, prog, &fa, NULL, argv, environ), 0, "cannot start %s", prog);
    posix_spawn_file_actions_destroy(&fa);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    *out = slurp(po);
    *err = slurp(pe);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *bin(void)
{
    const char *b = getenv("LINKBENCH_BIN");
    cr_assert_not_null(b, "LINKBENCH_BIN is not set (run through ctest)");
    return b;
}

/* linkbench-go beside linkbench, as run_go.c finds it. */
static void go_bin(char *buf, size_t len)
{
    snprintf(buf, len, "%s", bin());
    char *slash = strrchr(buf, '/');
    cr_assert_not_null(slash);
    snprintf(slash + 1, len - (size_t)(slash + 1 - buf), "linkbench-go");
}

/* A small echo: every design keeps up with it; 20 links make 10 pairs. poll's and pair's
 * 1 ms reads are made 1 s here: at 1 ms the Go originals tear frames (a deadline between
 * a frame's header and payload reads, as gobwas does: docs/go-reference.md), which now
 * and then swallows whole frames (lost, by the seed's code), so the accounting check
 * would fail by chance. The go: variants take these from their C twins' config. */
static const char *small_echo =
    "{\n"
    "  \"name\": \"go_echo\",\n"
    "  \"description\": \"small echo for the Go reference designs\",\n"
    "  \"links\": 20,\n"
    "  \"duration_s\": 1,\n"
    "  \"warmup_s\": 0.3,\n"
    "  \"repetitions\": 1,\n"
    "  \"client\": { \"rate_per_s\": 20, \"payload_bytes\": 64 },\n"
    "  \"app\": { \"mode\": \"echo\", \"workers\": 2 },\n"
    "  \"variant_config\": { \"poll\": { \"poll_read_ms\": 1000 }, \"pair\": { \"read_poll_ms\": 1000 } },\n"
    "  \"expect\": [\"*.msgs_lost == 0\"]\n"
    "}\n";

/* Server push only: 10 links, each pushed 20 times a second on its own schedule. */
static const char *small_push =
    "{\n"
    "  \"name\": \"go_push\",\n"
    "  \"description\": \"small server push for the Go reference designs\",\n"
    "  \"links\": 10,\n"
    "  \"duration_s\": 1,\n"
    "  \"warmup_s\": 0.3,\n"
    "  \"repetitions\": 1,\n"
    "  \"client\": { \"rate_per_s\": 0 },\n"
    "  \"app\": { \"mode\": \"sink\", \"push\": { \"rate_per_s\": 20, \"payload_bytes\": 64 } }\n"
    "}\n";

static json_t *run_scenario(const char *name, const char *text, const char *variants)
{
    static int calls;
    char scn[700], res[700], pat[800];
    snprintf(scn, sizeof scn, "%s/%s.json", dir, name);
    FILE *f = fopen(scn, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    snprintf(res, sizeof res, "%s/res%d", dir, calls++);
    char *out, *err;
    int rc = run(bin(), (const char *const[]){"run", "--quiet", "--variant", variants, "--out", res, scn, NULL},
                 &out, &err);
    cr_assert_eq(rc, 0, "%s: exit %d\nstdout:\n%s\nstderr:\n%s", variants, rc, out, err);
    snprintf(pat, sizeof pat, "%s/%s/*/report.json", res, name);
    glob_t g;
    cr_assert_eq(glob(pat, 0, NULL, &g), 0, "no report under %s", res);
    json_error_t je;
    json_t *rep = json_load_file(g.gl_pathv[g.gl_pathc - 1], 0, &je);
    globfree(&g);
    cr_assert_not_null(rep, "%s", je.text);
    free(out);
    free(err);
    return rep;
}

static json_t *run_report(const char *variants)
{
    return run_scenario("go_echo", small_echo, variants);
}

static json_int_t metric(const json_t *run, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(run, "metrics"), k));
}

/* Every message accounted for, something delivered, every drop named, the design's
 * goroutines per link as the seed draws it, the Go server's own report kept. */
static void check_run(const json_t *r, const char *variant, double goroutines_per_link)
{
    cr_assert_str_eq(json_string_value(json_object_get(r, "variant")), variant);
    json_t *why = json_object_get(json_object_get(r, "flags"), "invalid_reasons");
    cr_assert_eq(json_array_size(why), 0, "%s invalid: %s", variant, json_dumps(why, 0));
    cr_assert_eq(metric(r, "msgs_lost"), 0, "%s lost messages", variant);
    cr_assert_gt(metric(r, "msgs_delivered"), 0, "%s delivered nothing", variant);
    cr_assert_eq(metric(r, "msgs_sent"), metric(r, "msgs_delivered") + metric(r, "msgs_dropped") +
                                             metric(r, "msgs_refused") + metric(r, "msgs_in_flight"),
                 "%s: sent = delivered + dropped + refused + in flight", variant);
    const char *k;
    json_t *v;
    json_int_t named = 0;
    json_object_foreach(json_object_get(json_object_get(r, "metrics"), "drops_by_reason"), k, v) {
        /* broken_by_deadline: a frame torn by a read deadline (gobwas, reference/go) */
        cr_assert(link_drop_reason_parse(k) >= 0 || !strcmp(k, "broken_by_deadline"),
                  "%s: unknown drop reason %s", variant, k);
        named += json_integer_value(v);
    }
    cr_assert_eq(named, metric(r, "msgs_dropped"), "%s: every drop has a reason", variant);
    const json_t *srv = json_object_get(r, "server");
    cr_assert_str_eq(json_string_value(json_object_get(srv, "variant")), variant);
    cr_assert_not_null(json_object_get(srv, "go"), "%s: no Go runtime section", variant);
    json_int_t held = json_integer_value(json_object_get(json_object_get(srv, "links"), "held"));
    json_int_t live = json_integer_value(
        json_object_get(json_object_get(json_object_get(srv, "groups"), "link"), "live"));
    /* The design's goroutines against the links still held (a link closed by a torn
     * frame, a deadline mid-frame as gobwas does, takes its goroutines along; one link
     * may be closing at the moment of the count). pair: one goroutine serves one or two
     * links, so between held/2 and held. */
    cr_assert_gt(held, 0, "%s holds no link", variant);
    double lo = goroutines_per_link < 1 ? held / 2.0 : goroutines_per_link * (double)(held - 1);
    double hi = goroutines_per_link < 1 ? (double)held : goroutines_per_link * (double)(held + 1);
    cr_assert((double)live >= lo && (double)live <= hi,
              "%s: %lld design goroutines for %lld links, the seed draws %.1f per link", variant,
              (long long)live, (long long)held, goroutines_per_link);
}

static const struct {
    const char *name;
    double per_link;
    const char *param;    /* a param the scenario gives its C twin */
    json_int_t value;
} designs[] = {{"go:dual", 2, "read_timeout_ms", 180000}, {"go:batch", 1, "send_batch", 16},
               {"go:poll", 1, "poll_read_ms", 1000}, {"go:hybrid", 1, "send_batch", 8},
               {"go:pair", 0.5, "read_poll_ms", 1000}};

Test(go_reference, each_design_runs_and_accounts_every_message)
{
    need_go();
    for (size_t i = 0; i < sizeof designs / sizeof designs[0]; i++) {
        json_t *rep = run_report(designs[i].name);
        json_t *runs = json_object_get(rep, "runs");
        cr_assert_eq(json_array_size(runs), 1);
        const json_t *r = json_array_get(runs, 0);
        check_run(r, designs[i].name, designs[i].per_link);
        /* the Go server ran with its C twin's variant_config (or the seed's default) */
        const json_t *p = json_object_get(json_object_get(json_object_get(r, "server"), "go"), "params");
        cr_assert_eq(json_integer_value(json_object_get(p, designs[i].param)), designs[i].value,
                     "%s: %s", designs[i].name, designs[i].param);
        json_decref(rep);
    }
}

Test(go_reference, c_port_and_go_original_share_one_report)
{
    need_go();
    json_t *rep = run_report("hybrid,go:hybrid");
    json_t *runs = json_object_get(rep, "runs");
    cr_assert_eq(json_array_size(runs), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(runs, 0), "variant")), "hybrid");
    check_run(json_array_get(runs, 1), "go:hybrid", 1);
    json_t *sum = json_object_get(rep, "summary");
    cr_assert_not_null(json_object_get(sum, "hybrid"));
    cr_assert_not_null(json_object_get(sum, "go:hybrid"));
    /* CPU by thread group only for C (goroutines move between threads): the Go run
     * leaves it out, and the summary says it is missing rather than 0 */
    cr_assert(json_is_number(json_object_get(json_object_get(json_object_get(sum, "hybrid"), "cpu_link_s"), "median")));
    cr_assert(json_is_null(json_object_get(json_object_get(json_object_get(sum, "go:hybrid"), "cpu_link_s"), "median")));
    cr_assert(json_is_number(json_object_get(json_object_get(json_object_get(sum, "go:hybrid"), "cpu_server_s"), "median")));
    json_decref(rep);
}

/* The Go app pushes as the C app does, and says what it pushed in the window: what was
 * offered there is what kept_up is judged against. A Go server that left the window's
 * pushes out had every push design "keep up", hybrid too, delivering none. */
Test(go_reference, pushes_are_counted_in_the_window)
{
    need_go();
    json_t *rep = run_scenario("go_push", small_push, "go:dual,go:hybrid");
    json_t *runs = json_object_get(rep, "runs");
    cr_assert_eq(json_array_size(runs), 2);
    for (size_t i = 0; i < 2; i++) {
        const json_t *r = json_array_get(runs, i);
        const char *v = json_string_value(json_object_get(r, "variant"));
        const json_t *srv = json_object_get(r, "server");
        json_int_t pushed = json_integer_value(json_object_get(json_object_get(srv, "app_window"), "pushed"));
        /* 10 links x 20/s over a 1 s window: at least half of it, whatever the phases */
        cr_assert_geq(pushed, 100, "%s pushed %lld in the window", v, (long long)pushed);
        cr_assert_eq(metric(r, "window_msgs_offered"), pushed, "%s: offered = the window's pushes", v);
        cr_assert(json_is_integer(json_object_get(json_object_get(srv, "app"), "pushes_late")),
                  "%s: no pushes_late in the app's counters", v);
        bool kept = json_is_true(json_object_get(json_object_get(r, "flags"), "kept_up"));
        if (!strcmp(v, "go:dual"))
            cr_assert(kept && metric(r, "window_msgs_delivered") > 0, "go:dual: its sendLoop writes every push");
        else   /* the seed's hybrid writes only after a read returns: 30 s, past the run */
            cr_assert(!kept && metric(r, "window_msgs_delivered") == 0,
                      "go:hybrid delivered %lld pushes, kept up %d", (long long)metric(r, "window_msgs_delivered"), kept);
    }
    json_decref(rep);
}

Test(go_reference, unknown_design_and_missing_server_are_usage_errors)
{
    need_go();
    char scn[700], res[700];
    snprintf(scn, sizeof scn, "%s/go_echo.json", dir);
    FILE *f = fopen(scn, "w");
    cr_assert_not_null(f);
    fputs(small_echo, f);
    fclose(f);
    snprintf(res, sizeof res, "%s/res", dir);
    char *out, *err;
    int rc = run(bin(), (const char *const[]){"run", "--quiet", "--variant", "go:hybird", "--out", res, scn, NULL},
                 &out, &err);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, err);
    cr_assert(strstr(err, "unknown variant \"go:hybird\""), "%s", err);
    free(out);
    free(err);
    setenv("LINKBENCH_GO", "/nonexistent/linkbench-go", 1);
    rc = run(bin(), (const char *const[]){"run", "--quiet", "--variant", "go:hybrid", "--out", res, scn, NULL},
             &out, &err);
    unsetenv("LINKBENCH_GO");
    cr_assert_eq(rc, 2, "exit %d: %s", rc, err);
    cr_assert(strstr(err, "go:hybrid") && strstr(err, "/nonexistent/linkbench-go"), "%s", err);
    free(out);
    free(err);
}

/* The Go designs take their C ports' params: same names, defaults (the seed's
 * constants, written down twice) and ranges, so one variant_config drives both. */
Test(go_reference, params_match_the_c_ports)
{
    need_go();
    char gb[4096];
    go_bin(gb, sizeof gb);
    char *out, *err;
    cr_assert_eq(run(gb, (const char *const[]){"--params", NULL}, &out, &err), 0, "%s", err);
    for (size_t i = 0; i < sizeof designs / sizeof designs[0]; i++) {
        link_module *m = NULL;
        char e[1024];
        cr_assert_eq(link_module_load(designs[i].name + 3, &m, e, sizeof e), 0, "%s", e);
        const char *sec = strstr(out, designs[i].name);
        cr_assert_not_null(sec, "linkbench-go --params has no %s:\n%s", designs[i].name, out);
        const char *end = strstr(sec + 1, "\ngo:");
        int n = 0;
        for (const char *l = strchr(sec, '\n'); l && (!end || l < end); l = strchr(l + 1, '\n')) {
            char name[64];
            long long def, lo, hi;
            if (sscanf(l, " %63s %lld [%lld, %lld]", name, &def, &lo, &hi) != 4)
                continue;
            n++;
            int j = 0;
            while (j < m->v->n_params && strcmp(m->v->params[j].name, name))
                j++;
            cr_assert_lt(j, m->v->n_params, "%s: param %s is not the C port's", designs[i].name, name);
            cr_assert_eq(def, m->v->params[j].def, "%s.%s default", designs[i].name, name);
            cr_assert_eq(lo, m->v->params[j].min, "%s.%s min", designs[i].name, name);
            cr_assert_eq(hi, m->v->params[j].max, "%s.%s max", designs[i].name, name);
        }
        cr_assert_eq(n, m->v->n_params, "%s: %d params, the C port has %d", designs[i].name, n,
                     m->v->n_params);
        cr_assert_eq(m->v->threads_per_link, designs[i].per_link);
        link_module_unload(m);
    }
    free(out);
    free(err);
}
