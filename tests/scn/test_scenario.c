/* test_scenario.c — scenario and suite files: shipped ones load, defaults and overrides apply, invalid ones fail with golden errors. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "link_registry.h"
#include "run_plan.h"
#include "scn.h"

/* Paths in error messages are relative to the source tree, as a user typing
 * `linkbench run workloads/x.json` from there would see them. */
static void to_source_dir(void)
{
    const char *src = getenv("LINKBENCH_SOURCE_DIR");
    cr_assert(src, "LINKBENCH_SOURCE_DIR must be set (ctest sets it)");
    cr_assert_eq(chdir(src), 0, "chdir %s", src);
}

/* ---------------------------------------------------------------- catalogs */

/* A fixed catalog for golden files, so their text does not change when a real
 * variant gains a param. Drop reasons as the real variants declare them. */
static const struct link_param fake_params[] = {
    {"read_timeout_ms", 1000, 1, 86400000, "read deadline"},
    {"send_queue_len", 32, 1, 1 << 20, "send queue capacity"},
    {"send_batch", 16, 1, 1 << 20, "messages per batch"},
};
static const struct link_variant fake_variants[6] = {
    {.abi_version = LINK_ABI_VERSION, .name = "dual",
     .drop_reasons = LINK_DROP_BIT(LINK_DROP_CANCELLED) | LINK_DROP_BIT(LINK_DROP_BROKEN_BY_DEADLINE) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) | LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE), .params = fake_params, .n_params = 2},
    {.abi_version = LINK_ABI_VERSION, .name = "batch",
     .drop_reasons = LINK_DROP_BIT(LINK_DROP_CANCELLED) | LINK_DROP_BIT(LINK_DROP_BROKEN_BY_DEADLINE) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) | LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE), .params = fake_params, .n_params = 3},
    {.abi_version = LINK_ABI_VERSION, .name = "poll",
     .drop_reasons = LINK_DROP_BIT(LINK_DROP_RECV_QUEUE_FULL) | LINK_DROP_BIT(LINK_DROP_RATE_LIMITED) | LINK_DROP_BIT(LINK_DROP_BROKEN_BY_DEADLINE) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) | LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE), .params = fake_params, .n_params = 2},
    {.abi_version = LINK_ABI_VERSION, .name = "hybrid",
     .drop_reasons = LINK_DROP_BIT(LINK_DROP_RECV_QUEUE_FULL) | LINK_DROP_BIT(LINK_DROP_CANCELLED) | LINK_DROP_BIT(LINK_DROP_BROKEN_BY_DEADLINE) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) | LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE), .params = fake_params, .n_params = 3},
    {.abi_version = LINK_ABI_VERSION, .name = "pair",
     .drop_reasons = LINK_DROP_BIT(LINK_DROP_RECV_QUEUE_FULL) | LINK_DROP_BIT(LINK_DROP_BROKEN_BY_DEADLINE) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) | LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE), .params = fake_params, .n_params = 2},
    {.abi_version = LINK_ABI_VERSION, .name = "evloop",
     .drop_reasons = LINK_DROP_BIT(LINK_DROP_SEND_OVERFLOW) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) | LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE), .params = fake_params, .n_params = 1},
};
static const struct scn_variant_info fake_infos[6] = {
    {"dual", &fake_variants[0]}, {"batch", &fake_variants[1]}, {"poll", &fake_variants[2]},
    {"hybrid", &fake_variants[3]}, {"pair", &fake_variants[4]}, {"evloop", &fake_variants[5]},
};
static const struct scn_catalog fake_catalog = {fake_infos, 6};

/* The real modules when they are built (their params checked), else names only. */
static link_module *mods[6];
static struct scn_variant_info real_infos[6];
static struct scn_catalog real_catalog = {real_infos, 6};

static void load_real(void)
{
    static const char *const names[6] = {"dual", "batch", "poll", "hybrid", "pair", "evloop"};
    char err[512];
    for (int i = 0; i < 6; i++) {
        real_infos[i].name = names[i];
        real_infos[i].v = link_module_load(names[i], &mods[i], err, sizeof err) == 0 ? mods[i]->v : NULL;
    }
}

static void unload_real(void)
{
    for (int i = 0; i < 6; i++) link_module_unload(mods[i]);
}

static void setup(void)
{
    to_source_dir();
    load_real();
}

TestSuite(scenario, .init = setup, .fini = unload_real);

/* ---------------------------------------------------------------- helpers */

static int parse_text(const char *text, struct scn *s, struct scn_diag *d)
{
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    cr_assert(root, "test JSON: %s", je.text);
    int n = scn_parse_json("t.json", root, s, d);
    json_decref(root);
    return n;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = calloc(1, (size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

/* Wall time of a scenario with its defaults: variants x repetitions x every step's
 * ramp-up, warm-up and measurement. */
static double est_seconds(const struct scn *s)
{
    double per_rep = 0;
    int runs = s->n_steps ? s->n_steps : 1;
    for (int r = 0; r < runs; r++) {
        int64_t links = s->n_steps ? s->steps[r] : s->links;
        double ramp = s->connect_rate_per_s > 0 ? (double)links / s->connect_rate_per_s : 0;
        per_rep += ramp + s->warmup_s + s->duration_s;
    }
    return per_rep * (double)s->n_variants * (double)s->repetitions;
}

/* ---------------------------------------------------------------- shipped files */

Test(scenario, every_shipped_scenario_loads_and_fits_in_a_minute)
{
    glob_t g;
    cr_assert_eq(glob("workloads/*.json", 0, NULL, &g), 0, "no workloads/*.json");
    cr_assert_geq(g.gl_pathc, 10);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct scn s;
        struct scn_diag d;
        scn_diag_init(&d);
        int n = scn_load_file(g.gl_pathv[i], &real_catalog, &s, &d);
        cr_expect_eq(n, 0, "%s:\n%s", g.gl_pathv[i], d.text ? d.text : "");
        cr_expect_geq(strlen(s.description), 200, "%s: a description paragraph", g.gl_pathv[i]);
        cr_expect_geq(s.n_expect, 1, "%s: expectations", g.gl_pathv[i]);
        /* scale_multi holds 30 000 links: beyond the thread-per-link designs' reach */
        if (strcmp(s.name, "scale_multi"))
            cr_expect_eq(s.n_variants, 6, "%s: runs all six variants", g.gl_pathv[i]);
        cr_expect_lt(est_seconds(&s), 60.0, "%s: %.1f s with defaults", g.gl_pathv[i], est_seconds(&s));
        /* The file name is the scenario's name: reports are found by it. */
        char base[128];
        snprintf(base, sizeof base, "workloads/%s.json", s.name);
        cr_expect_str_eq(base, g.gl_pathv[i]);
        scn_diag_deinit(&d);
    }
    globfree(&g);
}

/* A line no plausible bug would break is no check: every shipped line says which bug
 * it is there to catch (docs/scenarios.md, "expect"). */
Test(scenario, every_shipped_expect_line_says_what_it_catches)
{
    static const char *const pats[] = {"workloads/*.json", "workloads/go/*.json", "workloads/seed/*.json"};
    int lines = 0;
    for (int p = 0; p < 3; p++) {
        glob_t g;
        if (glob(pats[p], 0, NULL, &g) != 0)
            continue;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct scn s;
            struct scn_diag d;
            scn_diag_init(&d);
            cr_expect_eq(scn_parse_file(g.gl_pathv[i], &s, &d), 0, "%s: %s", g.gl_pathv[i], d.text ? d.text : "");
            for (int k = 0; k < s.n_expect; k++, lines++)
                cr_expect_geq(strlen(s.expect[k].why), 20, "%s: %s: say which bug the line catches (\"why\")",
                              g.gl_pathv[i], s.expect[k].text);
            scn_diag_deinit(&d);
        }
        globfree(&g);
    }
    cr_expect_geq(lines, 40);
}

/* workloads/seed/ (the seed's proposed variants, its sweeps and its scale) and
 * workloads/go/: each loads with the run's catalog, go:<design> named with its C port's
 * table as run_scn.c makes it, and is named after its file. */
static struct scn_variant_info go_infos[12];

/* The run's catalog with the Go originals: go:<design> named with its C port's table,
 * as run_scn.c makes it. */
static struct scn_catalog go_catalog(void)
{
    static const char *const go[6] = {"go:dual", "go:batch", "go:poll", "go:hybrid", "go:pair", NULL};
    for (int i = 0; i < 6; i++)
        go_infos[i] = real_infos[i];
    for (int i = 0; i < 5; i++)
        go_infos[6 + i] = (struct scn_variant_info){go[i], real_infos[i].v};
    return (struct scn_catalog){go_infos, 11};
}

Test(scenario, every_seed_and_go_scenario_loads)
{
    const struct scn_catalog cat = go_catalog();
    static const char *const pats[] = {"workloads/seed/*.json", "workloads/go/*.json"};
    for (int p = 0; p < 2; p++) {
        glob_t g;
        cr_assert_eq(glob(pats[p], 0, NULL, &g), 0, "no %s", pats[p]);
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct scn s;
            struct scn_diag d;
            scn_diag_init(&d);
            int n = scn_load_file(g.gl_pathv[i], &cat, &s, &d);
            cr_expect_eq(n, 0, "%s:\n%s", g.gl_pathv[i], d.text ? d.text : "");
            cr_expect_geq(strlen(s.description), 200, "%s: a description paragraph", g.gl_pathv[i]);
            cr_expect_geq(s.n_expect, 1, "%s: expectations", g.gl_pathv[i]);
            const char *base = strrchr(g.gl_pathv[i], '/') + 1;
            cr_expect(!strncmp(base, s.name, strlen(s.name)) && !strcmp(base + strlen(s.name), ".json"),
                      "%s: named %s", g.gl_pathv[i], s.name);
            scn_diag_deinit(&d);
        }
        globfree(&g);
    }
}

Test(scenario, every_suite_loads_and_its_scenarios_validate_scaled)
{
    glob_t g;
    cr_assert_eq(glob("workloads/suites/*.json", 0, NULL, &g), 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct scn_suite suite;
        struct scn_diag d;
        scn_diag_init(&d);
        cr_assert_eq(scn_suite_load(g.gl_pathv[i], &suite, &d), 0, "%s", d.text ? d.text : "");
        cr_expect_geq(suite.n, 5);
        double total = 0;
        const struct scn_catalog cat = go_catalog();
        for (int e = 0; e < suite.n; e++) {
            struct scn s;
            cr_expect_eq(scn_parse_file(suite.entries[e].path, &s, &d), 0, "%s", d.text ? d.text : "");
            scn_apply_scaling(&s, &suite.entries[e].scaling);
            cr_expect_eq(scn_validate(&s, &cat, suite.entries[e].path, &d), 0,
                         "%s in %s:\n%s", suite.entries[e].path, g.gl_pathv[i], d.text ? d.text : "");
            total += est_seconds(&s);
        }
        if (!strcmp(suite.name, "quick"))
            cr_expect_lt(total, 240.0, "quick suite: %.0f s", total);
        scn_suite_deinit(&suite);
        scn_diag_deinit(&d);
    }
    globfree(&g);
}

Test(scenario, quick_suite_scales_links_times_and_repetitions)
{
    struct scn_suite suite;
    struct scn_diag d;
    scn_diag_init(&d);
    cr_assert_eq(scn_suite_load("workloads/suites/quick.json", &suite, &d), 0);
    int seen = 0;
    for (int e = 0; e < suite.n; e++) {
        struct scn s;
        cr_assert_eq(scn_parse_file(suite.entries[e].path, &s, &d), 0);
        scn_apply_scaling(&s, &suite.entries[e].scaling);
        cr_expect_eq(s.repetitions, 1);
        if (!strcmp(s.name, "scale")) {
            cr_assert_eq(s.n_steps, 4);
            cr_expect_eq(s.steps[0], 100);
            cr_expect_eq(s.steps[1], 200);
            cr_expect_eq(s.steps[2], 500);
            cr_expect_eq(s.steps[3], 1000);
            cr_expect_float_eq(s.duration_s, 0.5, 1e-9);
            seen++;
        }
        if (!strcmp(s.name, "idle_timeout")) {   /* its entry keeps the links */
            cr_expect_eq(s.links, 100);
            cr_expect_eq(s.app.idle_timeout_ms, 500);
            cr_expect_eq(s.app.idle_period_ms, 50);
            seen++;
        }
        if (!strcmp(s.name, "slow_reader")) {     /* times keep their place in the run */
            cr_expect_eq(s.links, 10);
            cr_expect_float_eq(s.groups[0].client.stop_reading_at_s, 0.25, 1e-9);
            cr_expect_float_eq(s.faults[0].at_s, 0.75, 1e-9);
            cr_expect_eq(scn_group_links(&s, 0, s.links), 2);
            seen++;
        }
    }
    cr_expect_eq(seen, 3);
    scn_suite_deinit(&suite);
    scn_diag_deinit(&d);
}

Test(scenario, main_script_runs_the_first_suite_and_the_default_on_full)
{
    char *sh = slurp("scripts/main.sh");
    cr_assert(sh);
    cr_expect(strstr(sh, "suite=first"), "scripts/main.sh runs the first suite");
    cr_expect(strstr(sh, "--full) suite=default"), "--full runs the default suite");
    cr_expect(strstr(sh, "workloads/suites/$suite.json"));
    free(sh);
}

/* The first run: every scenario of the default suite, one repetition, and an expected
 * time (ramps, warm-ups and measurements, without the per-run overheads) well inside the
 * five minutes the main job has (136 s of load; the suite ran in 3 min 29 s, measured). */
Test(scenario, first_suite_runs_every_default_scenario_once_and_briefly)
{
    struct scn_suite first, def;
    struct scn_diag d;
    scn_diag_init(&d);
    cr_assert_eq(scn_suite_load("workloads/suites/first.json", &first, &d), 0);
    cr_assert_eq(scn_suite_load("workloads/suites/default.json", &def, &d), 0);
    cr_expect_eq(first.n, def.n);
    double total = 0;
    for (int e = 0; e < first.n; e++) {
        struct scn s;
        cr_assert_eq(scn_parse_file(first.entries[e].path, &s, &d), 0);
        scn_apply_scaling(&s, &first.entries[e].scaling);
        cr_expect_eq(s.repetitions, 1, "%s", s.name);
        if (e < def.n) {
            const char *a = strrchr(first.entries[e].path, '/'), *b = strrchr(def.entries[e].path, '/');
            cr_expect_str_eq(a, b, "same scenarios in the same order");
        }
        total += est_seconds(&s);
    }
    cr_expect_lt(total, 150.0, "first suite: %.0f s of load", total);
    scn_suite_deinit(&first);
    scn_suite_deinit(&def);
    scn_diag_deinit(&d);
}

/* ---------------------------------------------------------------- defaults, groups, overrides */

Test(scenario, empty_file_gets_every_default)
{
    struct scn s;
    struct scn_diag d;
    scn_diag_init(&d);
    cr_assert_eq(parse_text("{\"name\": \"x\"}", &s, &d), 0);
    cr_assert_eq(scn_validate(&s, NULL, "t.json", &d), 0, "%s", d.text ? d.text : "");
    cr_expect_eq(s.links, 100);
    cr_expect_float_eq(s.duration_s, 2.0, 1e-9);
    cr_expect_float_eq(s.warmup_s, 0.5, 1e-9);
    cr_expect_eq(s.repetitions, 3);
    cr_expect_eq(s.processes, 1);
    cr_expect_eq(s.n_variants, 6);
    cr_expect_str_eq(s.variants[0], "dual");
    cr_expect_str_eq(s.variants[5], "evloop");
    cr_expect_float_eq(s.client.rate_per_s, 10, 1e-9);
    cr_expect_eq(s.client.payload.dist, SCN_DIST_FIXED);
    cr_expect_eq(s.client.payload.min_bytes, 64);
    cr_expect_eq(s.client.in_flight_max, 0);
    cr_expect_lt(s.client.stop_reading_at_s, 0);
    cr_expect_eq(s.app.mode, SCN_APP_ECHO);
    cr_expect(s.app.auto_close);
    cr_expect_eq(s.app.idle_timeout_ms, 0);
    cr_expect_eq(s.limits.rate_limit_per_s, 0);
    cr_expect_eq(s.limits.max_msg_bytes, 4 << 20);
    cr_expect_eq(s.n_steps, 0);
    cr_expect_eq(s.n_groups, 0);
    cr_expect_eq(scn_group_links(&s, 0, s.links), 100);   /* all in the implicit group */
    scn_diag_deinit(&d);
}

Test(scenario, file_name_is_the_default_name)
{
    struct scn s;
    struct scn_diag d;
    scn_diag_init(&d);
    cr_assert_eq(scn_parse_file("workloads/echo.json", &s, &d), 0);
    cr_expect_str_eq(s.name, "echo");
    cr_assert_eq(scn_parse_file("tests/data/invalid/bad_json/input.json", &s, &d), 1);
    scn_diag_deinit(&d);
}

Test(scenario, groups_start_from_the_default_client_and_split_links)
{
    struct scn s;
    struct scn_diag d;
    scn_diag_init(&d);
    cr_assert_eq(parse_text("{\"name\": \"g\", \"links\": 10,"
                            " \"groups\": [{\"name\": \"quiet\", \"fraction\": 0.25, \"rate_per_s\": 0},"
                            "              {\"name\": \"big\", \"links\": 3, \"payload_bytes\": 4096}],"
                            " \"client\": {\"rate_per_s\": 50, \"payload_bytes\": 128}}",
                            &s, &d), 0, "%s", d.text);
    cr_assert_eq(scn_validate(&s, NULL, "t.json", &d), 0, "%s", d.text);
    cr_assert_eq(s.n_groups, 2);
    cr_expect_float_eq(s.groups[0].client.rate_per_s, 0, 1e-9);
    cr_expect_eq(s.groups[0].client.payload.min_bytes, 128);   /* inherited, though "client" came last */
    cr_expect_eq(s.groups[0].set_mask, SCN_CK_RATE);
    cr_expect_float_eq(s.groups[1].client.rate_per_s, 50, 1e-9);
    cr_expect_eq(s.groups[1].client.payload.min_bytes, 4096);
    cr_expect_eq(scn_group_links(&s, 0, 10), 3);   /* 2.5 rounds to 3 */
    cr_expect_eq(scn_group_links(&s, 1, 10), 3);
    cr_expect_eq(scn_group_links(&s, 2, 10), 4);   /* the implicit "default" group */
    cr_expect_eq(scn_group_links(&s, 0, 1000), 250);
    scn_diag_deinit(&d);
}

/* close_rate_per_s is per link in the scenario (docs/scenarios.md) and the group's total
 * in the driver (drv.h): the plan multiplies by each group's link count. */
Test(scenario, close_rate_is_per_link_and_the_driver_gets_each_groups_total)
{
    struct scn s;
    struct scn_diag d;
    scn_diag_init(&d);
    cr_assert_eq(parse_text("{\"name\": \"c\", \"links\": 10,"
                            " \"groups\": [{\"name\": \"few\", \"links\": 2, \"close_rate_per_s\": 2}],"
                            " \"client\": {\"rate_per_s\": 5, \"close_rate_per_s\": 0.5}}",
                            &s, &d), 0, "%s", d.text);
    cr_assert_eq(scn_validate(&s, NULL, "t.json", &d), 0, "%s", d.text);
    struct drv_params p;
    struct drv_fault faults[2 * SCN_FAULTS_MAX];
    run_xfault xf[SCN_FAULTS_MAX];
    int nxf;
    run_plan_driver(&s, 10, 1, &p, faults, &nxf, xf);
    cr_assert_eq(p.n_groups, 2);
    cr_expect_eq(p.groups[0].links, 2);
    cr_expect_float_eq(p.groups[0].close_rate_per_s, 2 * 2.0, 1e-9);
    cr_expect_eq(p.groups[1].links, 8);   /* the implicit default group */
    cr_expect_float_eq(p.groups[1].close_rate_per_s, 8 * 0.5, 1e-9);
    scn_diag_deinit(&d);
}

Test(scenario, overrides_replace_the_file_values)
{
    struct scn s;
    struct scn_diag d;
    scn_diag_init(&d);
    cr_assert_eq(scn_parse_file("workloads/scale.json", &s, &d), 0);
    cr_assert_eq(s.n_steps, 4);
    scn_override_links(&s, 500);
    scn_override_duration(&s, 0.25);
    scn_override_repetitions(&s, 2);
    cr_assert_eq(scn_override_variants(&s, "evloop,dual", &d), 0);
    cr_assert_eq(scn_validate(&s, &real_catalog, "workloads/scale.json", &d), 0, "%s", d.text);
    cr_expect_eq(s.links, 500);
    cr_expect_eq(s.n_steps, 0, "--links means one run of that many links");
    cr_expect_float_eq(s.duration_s, 0.25, 1e-9);
    cr_expect_eq(s.repetitions, 2);
    cr_assert_eq(s.n_variants, 2);
    cr_expect_str_eq(s.variants[0], "evloop");
    cr_expect_str_eq(s.variants[1], "dual");

    /* An override is validated like the file: the run command exits 2 on these. */
    scn_override_links(&s, 30000);
    cr_assert_eq(scn_override_variants(&s, "evloop,dulal", &d), 0);
    cr_expect_eq(scn_validate(&s, &real_catalog, "workloads/scale.json", &d), 2);
    cr_expect(strstr(d.text, "workloads/scale.json: links: must be <= 19000 for one server process"));
    cr_expect(strstr(d.text, "workloads/scale.json: variants[1]: unknown variant \"dulal\" "
                             "(did you mean \"dual\"?) (got \"dulal\")"));
    scn_diag_deinit(&d);

    scn_diag_init(&d);
    cr_expect_eq(scn_override_variants(&s, "evloop,,dual", &d), -1);
    cr_expect_str_eq(d.text, "--variant: empty variant name (got \"evloop,,dual\")\n");
    cr_expect_eq(s.n_variants, 2, "a bad list leaves the variants alone");
    scn_diag_deinit(&d);
}

Test(scenario, a_run_of_some_variants_still_accepts_lines_about_the_others)
{
    /* The run command's catalog holds only the variants it loaded (--variant evloop). */
    static const struct scn_variant_info only_evloop[1] = {{"evloop", &fake_variants[5]}};
    const struct scn_catalog cat = {only_evloop, 1};
    struct scn s;
    struct scn_diag d;
    scn_diag_init(&d);
    cr_assert_eq(parse_text("{\"name\": \"o\", \"variants\": [\"evloop\", \"dual\", \"mine\"],"
                            " \"variant_config\": {\"dual\": {\"anything\": 1}},"
                            " \"expect\": [\"dual.threads_per_link > 1.5\"]}", &s, &d), 0);
    cr_expect_eq(scn_validate(&s, &cat, "t.json", &d), 2, "%s", d.text);
    cr_expect_str_eq(d.text, "t.json: variants[1]: variant \"dual\" is built in but its module was not "
                             "found (is it built?) (got \"dual\")\n"
                             "t.json: variants[2]: unknown variant \"mine\" (known: evloop dual batch poll "
                             "hybrid pair) (got \"mine\")\n");
    scn_diag_deinit(&d);
}

/* ---------------------------------------------------------------- variant instances */

static const char *instances_text =
    "{\"name\": \"i\", \"variants\": [\"poll\","
    " {\"name\": \"poll@50ms\", \"variant\": \"poll\", \"config\": {\"read_timeout_ms\": 50}},"
    " {\"name\": \"poll+keep\", \"variant\": \"poll\"}, \"evloop\"],"
    " \"variant_config\": {\"poll\": {\"read_timeout_ms\": 7, \"send_queue_len\": 9}},"
    " \"expect\": [\"poll@50ms.wakeups_per_link_s < 2 * poll+keep.wakeups_per_link_s\"]}";

Test(scenario, an_instance_runs_its_module_under_its_own_name)
{
    struct scn s;
    struct scn_diag d;
    scn_diag_init(&d);
    cr_assert_eq(parse_text(instances_text, &s, &d), 0, "%s", d.text);
    cr_assert_eq(scn_validate(&s, &fake_catalog, "t.json", &d), 0, "%s", d.text);
    cr_assert_eq(s.n_variants, 4);
    cr_expect_str_eq(s.variants[1], "poll@50ms");
    cr_expect_str_eq(s.variants[2], "poll+keep");
    cr_expect_str_eq(scn_variant_module(&s, "poll@50ms"), "poll");
    cr_expect_str_eq(scn_variant_module(&s, "evloop"), "evloop");
    cr_expect_null(scn_instance_find(&s, "poll"));
    cr_expect_str_eq(s.expect[0].lhs.variant, "poll@50ms");
    cr_expect_str_eq(s.expect[0].rhs.variant, "poll+keep");

    /* the server runs the module with its variant_config, then the instance's own config */
    json_t *c = run_plan_server_config(&s, "poll@50ms", 10);
    cr_expect_str_eq(json_string_value(json_object_get(c, "variant")), "poll");
    json_t *par = json_object_get(c, "params");
    cr_expect_eq(json_integer_value(json_object_get(par, "read_timeout_ms")), 50, "the instance's wins");
    cr_expect_eq(json_integer_value(json_object_get(par, "send_queue_len")), 9, "the module's kept");
    json_decref(c);
    c = run_plan_server_config(&s, "poll", 10);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(c, "params"), "read_timeout_ms")), 7,
                 "an instance's config does not reach its module's plain runs");
    json_decref(c);

    /* the effective config holds the instance as the file wrote it, and parses back */
    json_t *j = scn_to_json(&s);
    json_t *v1 = json_array_get(json_object_get(j, "variants"), 1);
    cr_expect_str_eq(json_string_value(json_object_get(v1, "variant")), "poll");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(v1, "config"), "read_timeout_ms")), 50);
    cr_expect_null(json_object_get(json_object_get(j, "variant_config"), "poll@50ms"));
    struct scn b;
    cr_assert_eq(scn_parse_json("t.json", j, &b, &d), 0, "%s", d.text);
    cr_expect_eq(b.n_instances, 2);
    cr_expect_eq(b.n_vparams, s.n_vparams);
    json_decref(j);

    /* --variant picks instances by name; the effective config holds those that run */
    cr_assert_eq(scn_override_variants(&s, "poll@50ms,evloop", &d), 0);
    cr_expect_eq(scn_validate(&s, &fake_catalog, "t.json", &d), 0, "%s", d.text);
    j = scn_to_json(&s);
    cr_expect_eq(json_array_size(json_object_get(j, "variants")), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "variants"), 0),
                                                       "name")), "poll@50ms");
    json_decref(j);
    cr_assert_eq(scn_override_variants(&s, "poll@5ms", &d), 0);
    cr_expect_eq(scn_validate(&s, &fake_catalog, "t.json", &d), 1);
    cr_expect(strstr(d.text, "t.json: variants[0]: unknown variant \"poll@5ms\" (did you mean \"poll@50ms\"?)"),
              "%s", d.text);
    scn_diag_deinit(&d);
}

/* linkbench run --variant poll@50ms loads poll's module only: the instances it leaves out
 * (batch+nb) are checked as variant_config is, by name, and still refused when their
 * module is no variant at all. */
Test(scenario, a_variant_list_that_leaves_an_instance_out_needs_no_module_for_it)
{
    static const struct scn_variant_info only_poll[1] = {{"poll", &fake_variants[2]}};
    const struct scn_catalog cat = {only_poll, 1};
    struct scn s;
    struct scn_diag d;
    scn_diag_init(&d);
    cr_assert_eq(parse_text("{\"name\": \"o\", \"variants\": [\"poll\","
                            " {\"name\": \"batch+nb\", \"variant\": \"batch\", \"config\": {\"x\": 1}},"
                            " {\"name\": \"poll@50ms\", \"variant\": \"poll\"},"
                            " {\"name\": \"mine+x\", \"variant\": \"mine\"}]}", &s, &d), 0, "%s", d.text);
    cr_assert_eq(scn_override_variants(&s, "poll@50ms", &d), 0, "%s", d.text);
    cr_expect_eq(scn_validate(&s, &cat, "t.json", &d), 1, "%s", d.text);
    cr_expect(d.text && strstr(d.text, "t.json: variants[3].variant: unknown variant \"mine\""), "%s", d.text);
    cr_expect(d.text && !strstr(d.text, "variants[1]"), "%s", d.text);
    scn_diag_deinit(&d);
}

Test(scenario, a_go_instance_takes_its_c_ports_config_then_its_own)
{
    /* the run's catalog names go:<design> with its C port's table (run_scn.c) */
    const struct scn_variant_info infos[2] = {{"pair", &fake_variants[4]}, {"go:pair", &fake_variants[4]}};
    const struct scn_catalog cat = {infos, 2};
    struct scn s;
    struct scn_diag d;
    scn_diag_init(&d);
    cr_assert_eq(parse_text("{\"name\": \"g\", \"variants\": [{\"name\": \"gopair-slow\","
                            " \"variant\": \"go:pair\", \"config\": {\"read_timeout_ms\": 50}},"
                            " {\"name\": \"go:pair@1\", \"variant\": \"go:pair\"}],"
                            " \"variant_config\": {\"pair\": {\"read_timeout_ms\": 5, \"send_queue_len\": 3}}}",
                            &s, &d), 0, "%s", d.text);
    cr_expect_eq(scn_validate(&s, &cat, "t.json", &d), 1, "%s", d.text);
    cr_expect(strstr(d.text, "t.json: variants[1].name: an instance's name starts with a letter"),
              "':' is no instance name's: %s", d.text);
    json_t *c = run_plan_server_config(&s, "gopair-slow", 4);
    cr_expect_str_eq(json_string_value(json_object_get(c, "variant")), "go:pair");
    json_t *par = json_object_get(c, "params");
    cr_expect_eq(json_integer_value(json_object_get(par, "read_timeout_ms")), 50);
    cr_expect_eq(json_integer_value(json_object_get(par, "send_queue_len")), 3);
    json_decref(c);
    scn_diag_deinit(&d);
}

Test(scenario, processes_lift_the_per_process_link_limit)
{
    struct scn s;
    struct scn_diag d;
    scn_diag_init(&d);
    cr_assert_eq(parse_text("{\"name\": \"p\", \"links\": 38000, \"processes\": 2}", &s, &d), 0);
    cr_expect_eq(scn_validate(&s, NULL, "t.json", &d), 0, "%s", d.text);
    s.links = 38001;
    cr_expect_eq(scn_validate(&s, NULL, "t.json", &d), 1);
    cr_expect_str_eq(d.text, "t.json: links: must be <= 19000 per server process (20000 open files "
                             "per process): 2 processes hold 19001 links each; raise \"processes\" "
                             "(got 38001)\n");
    scn_diag_deinit(&d);
}

Test(scenario, effective_config_json_parses_back_to_the_same_scenario)
{
    glob_t g;
    cr_assert_eq(glob("workloads/*.json", 0, NULL, &g), 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct scn a, b;
        struct scn_diag d;
        scn_diag_init(&d);
        cr_assert_eq(scn_parse_file(g.gl_pathv[i], &a, &d), 0);
        json_t *ja = scn_to_json(&a);
        cr_assert_eq(scn_parse_json(g.gl_pathv[i], ja, &b, &d), 0, "%s", d.text);
        json_t *jb = scn_to_json(&b);
        char *ta = json_dumps(ja, JSON_SORT_KEYS), *tb = json_dumps(jb, JSON_SORT_KEYS);
        cr_expect_str_eq(ta, tb, "%s", g.gl_pathv[i]);
        cr_expect_eq(memcmp(&a.client, &b.client, sizeof a.client), 0);
        free(ta);
        free(tb);
        json_decref(ja);
        json_decref(jb);
        scn_diag_deinit(&d);
    }
    globfree(&g);
}

Test(scenario, the_complete_example_in_the_docs_validates)
{
    char *doc = slurp("docs/scenarios.md");
    cr_assert(doc, "docs/scenarios.md");
    const char *h = strstr(doc, "## A complete example");
    cr_assert(h);
    const char *start = strstr(h, "```json\n");
    cr_assert(start);
    start += 8;
    const char *end = strstr(start, "```");
    cr_assert(end);
    char *text = strndup(start, (size_t)(end - start));
    struct scn s;
    struct scn_diag d;
    scn_diag_init(&d);
    cr_expect_eq(parse_text(text, &s, &d), 0, "%s", d.text);
    cr_expect_eq(scn_validate(&s, &real_catalog, "t.json", &d), 0, "%s", d.text);
    cr_expect_eq(s.n_groups, 1);
    cr_expect_eq(scn_group_links(&s, 0, s.links), 100);
    cr_expect_eq(s.groups[0].client.payload.dist, SCN_DIST_EXPONENTIAL);
    cr_expect_eq(s.n_vparams, 1);
    /* Under ctest the test is a host executable and the modules are built: the
     * variant_config above was then checked against hybrid's real params. */
    if (getenv("LINKBENCH_BIN")) cr_expect(real_infos[3].v, "hybrid module did not load");
    free(text);
    free(doc);
    scn_diag_deinit(&d);
}

/* ---------------------------------------------------------------- expect lines */

Test(scenario, expect_lines_parse_into_variant_metric_operator_and_operand)
{
    struct scn_expect e;
    char err[256];
    cr_assert_eq(scn_expect_parse("evloop.msgs_dropped == 0", &e, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(e.lhs.variant, "evloop");
    cr_expect_str_eq(e.lhs.metric, "msgs_dropped");
    cr_expect_eq(e.lhs.stat, SCN_STAT_MEDIAN);
    cr_expect_eq(e.op, SCN_CMP_EQ);
    cr_expect_not(e.rhs_is_ref);
    cr_expect_float_eq(e.value, 0, 1e-12);

    cr_assert_eq(scn_expect_parse("poll.wakeups_per_link_s > 100 * evloop.wakeups_per_link_s", &e, err,
                                  sizeof err), 0, "%s", err);
    cr_expect_eq(e.op, SCN_CMP_GT);
    cr_expect(e.rhs_is_ref);
    cr_expect_float_eq(e.value, 100, 1e-12);
    cr_expect_str_eq(e.rhs.variant, "evloop");
    cr_expect_str_eq(e.rhs.metric, "wakeups_per_link_s");

    cr_assert_eq(scn_expect_parse("*.lat_rtt_us.p99.max<=2.5e3", &e, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(e.lhs.variant, "*");
    cr_expect_str_eq(e.lhs.metric, "lat_rtt_us.p99");
    cr_expect_eq(e.lhs.stat, SCN_STAT_MAX);
    cr_expect_eq(e.op, SCN_CMP_LE);
    cr_expect_float_eq(e.value, 2500, 1e-9);

    cr_assert_eq(scn_expect_parse("*.links_closed_idle == *.links", &e, err, sizeof err), 0, "%s", err);
    cr_expect(e.rhs_is_ref);
    cr_expect_float_eq(e.value, 1, 1e-12);
    cr_expect_str_eq(e.rhs.variant, "*");

    cr_assert_eq(scn_expect_parse("dual.drops_by_reason.recv_queue_full.min != -1", &e, err, sizeof err), 0,
                 "%s", err);
    cr_expect_str_eq(e.lhs.metric, "drops_by_reason.recv_queue_full");
    cr_expect_eq(e.lhs.stat, SCN_STAT_MIN);
    cr_expect_eq(e.op, SCN_CMP_NE);
    cr_expect_float_eq(e.value, -1, 1e-12);

    cr_assert_eq(scn_expect_parse("evloop.lat_out_us.max >= 0.5 * dual.lat_out_us.max", &e, err, sizeof err), 0);
    cr_expect_str_eq(e.lhs.metric, "lat_out_us.max");
    cr_expect_eq(e.lhs.stat, SCN_STAT_MEDIAN, "max here is the percentile, not the aggregate");
}

Test(scenario, expect_errors_name_the_column)
{
    static const struct { const char *text, *err; } cases[] = {
        {"", "expected a variant name or * at column 1"},
        {"evloop msgs_lost == 0", "expected '.' and a metric name after the variant at column 7"},
        {"evloop.msgs_lost = 0", "expected a comparison operator (==, !=, <, <=, >, >=) at column 18"},
        {"evloop.msgs_lost == ", "expected a number, variant.metric or N * variant.metric at column 21"},
        {"evloop.msgs_lost == 0 and more", "unexpected text after the expression at column 23"},
        {"evloop.msgs_lost < 2 * ", "expected a variant name or * at column 24"},
        {"evloop.msgs_lost < *.msgs_lost",
         "'*' on the right needs '*' on the left (it means the same variant) at column 20"},
        {"evloop.lat_rtt_us.p95 < 1",
         "lat_rtt_us needs a percentile: lat_rtt_us.p50, p90, p99, p999 or max at column 8"},
        {"evloop.msgs_lost.mean == 0",
         "\"mean\" after msgs_lost is not an aggregate (median, min or max) at column 8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct scn_expect e;
        char err[256] = "";
        cr_expect_eq(scn_expect_parse(cases[i].text, &e, err, sizeof err), -1, "\"%s\"", cases[i].text);
        cr_expect_str_eq(err, cases[i].err, "\"%s\"", cases[i].text);
    }
}

/* ---------------------------------------------------------------- golden files */

/* tests/data/invalid/<case>/input.json must fail with exactly error.txt (every error
 * of the file, in order). LINKBENCH_UPDATE_GOLDEN=1 rewrites error.txt instead, for
 * review in the diff. */
Test(scenario, invalid_files_fail_with_the_golden_errors)
{
    DIR *dir = opendir("tests/data/invalid");
    cr_assert(dir, "tests/data/invalid");
    int cases = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (de->d_name[0] == '.') continue;
        char in[512], out[512];
        snprintf(in, sizeof in, "tests/data/invalid/%s/input.json", de->d_name);
        snprintf(out, sizeof out, "tests/data/invalid/%s/error.txt", de->d_name);
        struct scn s;
        struct scn_diag d;
        scn_diag_init(&d);
        int n = scn_load_file(in, &fake_catalog, &s, &d);
        cr_expect_gt(n, 0, "%s loaded without error", in);
        cr_expect_eq(n, d.n);
        const char *got = d.text ? d.text : "";
        if (getenv("LINKBENCH_UPDATE_GOLDEN")) {
            FILE *f = fopen(out, "w");
            cr_assert(f, "%s", out);
            fputs(got, f);
            fclose(f);
        }
        char *want = slurp(out);
        cr_assert(want, "%s missing", out);
        cr_expect_str_eq(got, want, "%s", de->d_name);
        free(want);
        scn_diag_deinit(&d);
        cases++;
    }
    closedir(dir);
    cr_expect_geq(cases, 9);
}

Test(scenario, invalid_suite_reports_every_error)
{
    char path[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/lb_suite_XXXXXX.json", tmp && *tmp ? tmp : P_tmpdir);
    int fd = mkstemps(path, 5);
    cr_assert_geq(fd, 0);
    const char *text = "{\"scenarios\": [\"workloads/echo.json\", 3, {\"fil\": \"x.json\"}],"
                       " \"scaling\": {\"links_factr\": 2, \"repetitions\": -1}}";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct scn_suite suite;
    struct scn_diag d;
    scn_diag_init(&d);
    int n = scn_suite_load(path, &suite, &d);
    unlink(path);
    cr_expect_eq(n, 6, "%s", d.text);
    cr_expect(strstr(d.text, "scaling.links_factr: unknown key (did you mean \"links_factor\"?)"), "%s", d.text);
    cr_expect(strstr(d.text, "scaling.repetitions: must be in [0, 100] (0 = keep) (got -1)"), "%s", d.text);
    cr_expect(strstr(d.text, "/workloads/echo.json: No such file or directory (got \"workloads/echo.json\")"), "%s", d.text);
    cr_expect(strstr(d.text, "scenarios[1]: must be a scenario file name (relative to the suite) (got 3)"));
    cr_expect(strstr(d.text, "scenarios[2].fil: unknown key (known here: file scaling)"));
    cr_expect(strstr(d.text, "scenarios[2].file: required key missing"));
    scn_suite_deinit(&suite);
    scn_diag_deinit(&d);
}
