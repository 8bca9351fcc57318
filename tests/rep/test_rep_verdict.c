/* test_rep_verdict.c — the verdict page: rules parse and evaluate on crafted reports, every claim names scenarios and variants that exist, verdicts are computed (holds, refuted, holds only when, not measured, not measurable), links are relative. */
#include <criterion/criterion.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "lb_run.h"
#include "lb_tmpdir.h"
#include "rep_report.h"
#include "rep_verdict.h"
#include "scn.h"

static char dir[512];

static void setup(void)
{
    lb_tmpdir_make(dir, sizeof dir, "lb_verdict");
    const char *src = getenv("LINKBENCH_SOURCE_DIR");
    cr_assert(src, "LINKBENCH_SOURCE_DIR must be set (ctest sets it)");
}

static void teardown(void) { lb_tmpdir_remove(dir); }

TestSuite(rep_verdict, .init = setup, .fini = teardown);

/* A report of scenario name@links whose summary gives each variant's metrics as listed:
 * "dual:msgs_dropped=0,links_closed_error=0;evloop:..." (a dotted metric is metric.key). */
static json_t *report(const char *name, int links, const char *spec)
{
    json_t *sum = json_object();
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *s1 = NULL, *v = strtok_r(buf, ";", &s1); v; v = strtok_r(NULL, ";", &s1)) {
        char *colon = strchr(v, ':');
        cr_assert_not_null(colon);
        *colon = 0;
        json_t *sv = json_object();
        for (char *s2 = NULL, *kv = strtok_r(colon + 1, ",", &s2); kv; kv = strtok_r(NULL, ",", &s2)) {
            char *eq = strchr(kv, '=');
            *eq = 0;
            json_t *stat = json_pack("{s:f,s:f,s:f}", "median", atof(eq + 1), "min", atof(eq + 1),
                                     "max", atof(eq + 1));
            char *dot = strchr(kv, '.');
            if (dot) {
                *dot = 0;
                json_t *o = json_object_get(sv, kv);
                if (!o)
                    json_object_set_new(sv, kv, o = json_object());
                json_object_set_new(o, dot + 1, stat);
            } else
                json_object_set_new(sv, kv, stat);
        }
        json_object_set_new(sum, v, sv);
    }
    return json_pack("{s:i,s:{s:s,s:i},s:{s:i,s:s,s:s},s:{},s:b,s:{},s:o}", "format", 1, "scenario",
                     "name", name, "links", links, "machine", "cpus", 2, "model", "test", "kernel", "test",
                     "config", "valid", 1, "flags", "summary", sum);
}

static void save(const char *rel, json_t *r)
{
    char p[900], d[900];
    snprintf(p, sizeof p, "%s/%s/report.json", dir, rel);
    snprintf(d, sizeof d, "%s", p);
    for (char *s = d + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        mkdir(d, 0777);
        *s = '/';
    }
    cr_assert_eq(json_dump_file(r, p, 0), 0, "%s", p);
    json_decref(r);
}

Test(rep_verdict, rules_compare_refs_and_rank_with_ties)
{
    json_t *r = report("x", 10, "a:cpu=10,lat.p99=100,links=10;b:cpu=10.5,lat.p99=50;c:cpu=30");
    char vals[1024] = "";
    cr_expect_eq(rv_eval_rule(r, "a.cpu < 2 * c.cpu", vals, sizeof vals), RV_HOLDS, "%s", vals);
    cr_expect_eq(rv_eval_rule(r, "a.lat.p99 <= b.lat.p99", vals, sizeof vals), RV_FAILS);
    cr_expect_eq(rv_eval_rule(r, "a.links >= 10", vals, sizeof vals), RV_HOLDS);
    cr_expect(strstr(vals, "a.lat.p99 = 100; b.lat.p99 = 50; "), "%s", vals);
    /* a and b are within 10 %: a may be first or second, never third */
    cr_expect_eq(rv_eval_rule(r, "rank a 1 cpu a,b,c", vals, sizeof vals), RV_HOLDS);
    cr_expect_eq(rv_eval_rule(r, "rank a 2 cpu a,b,c", vals, sizeof vals), RV_HOLDS);
    cr_expect_eq(rv_eval_rule(r, "rank a 3 cpu a,b,c", vals, sizeof vals), RV_FAILS);
    vals[0] = 0;
    cr_expect_eq(rv_eval_rule(r, "rank c 3 cpu a,b,c", vals, sizeof vals), RV_HOLDS);
    cr_expect(strstr(vals, "c is 3 of 3"), "%s", vals);
    /* a variant or metric the report lacks: not measured, and said */
    vals[0] = 0;
    cr_expect_eq(rv_eval_rule(r, "d.cpu < 1", vals, sizeof vals), RV_MISSING);
    cr_expect(strstr(vals, "d.cpu: not in the report"), "%s", vals);
    cr_expect_eq(rv_eval_rule(r, "a.rss < 1", vals, sizeof vals), RV_MISSING);
    json_decref(r);

    char err[256];
    cr_expect(rv_rule_parses("go:pair.links >= 99000", err, sizeof err), "%s", err);
    cr_expect(rv_rule_parses("poll@50ms.lat_out_censored_us.p99 < poll.lat_out_censored_us.p99", err, sizeof err));
    cr_expect_not(rv_rule_parses("a.cpu <> 3", err, sizeof err));
    cr_expect_not(rv_rule_parses("rank a 4 cpu a,b,c", err, sizeof err));
    cr_expect(strstr(err, "place 4 of 3"), "%s", err);
    cr_expect_not(rv_rule_parses("rank z 1 cpu a,b,c", err, sizeof err));
    cr_expect_not(rv_rule_parses("a.cpu < 2 * ", err, sizeof err));
}

/* Every claim is measured or says why not; every rule parses; every test reads a
 * scenario that ships, at a size it runs, and names only variants that scenario runs. */
Test(rep_verdict, every_claim_reads_shipped_scenarios_and_their_variants)
{
    const char *src = getenv("LINKBENCH_SOURCE_DIR");
    int claims = 0, tests = 0;
    for (const struct rv_claim *c = RV_CLAIMS; c->section; c++, claims++) {
        cr_expect(c->zh && c->en && *c->zh && *c->en);
        cr_expect((c->unmeasurable != NULL) != (c->tests[0].scenario != NULL),
                  "%s: tests, or why there are none", c->zh);
        for (int t = 0; t < RV_TESTS_MAX && c->tests[t].scenario; t++, tests++) {
            const struct rv_test *x = &c->tests[t];
            char name[128], path[1200];
            snprintf(name, sizeof name, "%s", x->scenario);
            char *at = strchr(name, '@');
            long links = at ? atol(at + 1) : -1;
            if (at)
                *at = 0;
            static const char *const where[] = {"workloads/%s.json", "workloads/seed/%s.json",
                                                "workloads/go/%s.json"};
            struct scn s;
            struct scn_diag d;
            scn_diag_init(&d);
            bool found = false;
            for (int w = 0; w < 3 && !found; w++) {
                char rel[300];
                snprintf(rel, sizeof rel, where[w], name);
                snprintf(path, sizeof path, "%s/%s", src, rel);
                found = access(path, R_OK) == 0 && scn_parse_file(path, &s, &d) == 0;
            }
            cr_assert(found, "%s: no shipped scenario %s", c->zh, name);
            if (links > 0) {
                bool step = s.links == links;
                for (int i = 0; i < s.n_steps; i++)
                    step |= s.steps[i] == links;
                cr_expect(step || !strcmp(name, "go_idle"), "%s: %s runs no %ld links", c->zh, name, links);
            }
            const char *refs[2 * RV_LINES_MAX];
            int nr = 0;
            for (int k = 0; k < RV_LINES_MAX && x->lines[k]; k++) {
                char err[256];
                cr_expect(rv_rule_parses(x->lines[k], err, sizeof err), "%s: %s", c->zh, err);
                refs[nr++] = x->lines[k];
            }
            cr_expect_gt(nr, 0, "%s: a test without a rule", c->zh);
            for (int k = 0; k < RV_LINES_MAX && x->show[k]; k++)
                refs[nr++] = x->show[k];
            for (int k = 0; k < nr; k++) {
                char v[16][64];
                int nv = rv_rule_variants(refs[k], v, 16);
                cr_expect_gt(nv, 0, "%s: %s names no variant", c->zh, refs[k]);
                for (int j = 0; j < nv; j++) {
                    bool runs = false;
                    for (int i = 0; i < s.n_variants; i++)
                        runs |= !strcmp(s.variants[i], v[j]);
                    cr_expect(runs, "%s: %s does not run %s (%s)", c->zh, name, v[j], refs[k]);
                }
            }
            scn_diag_deinit(&d);
        }
    }
    cr_expect_geq(claims, 50);
    cr_expect_geq(tests, 60);
}

/* The page: a claim whose conditions split says which held and which did not; one with
 * no report says which scenario to run; a complexity row is not measurable; links are
 * relative to the page. */
Test(rep_verdict, the_page_computes_each_verdict_from_the_reports)
{
    save("res/slow_consumer/t1", report("slow_consumer", 50,
         "dual:msgs_dropped=0,msgs_lost=0;batch:msgs_dropped=0"));
    save("res/echo/t1", report("echo", 100,
         "dual:frames_broken_by_deadline=0,links_closed_error=0,kept_up=1"));
    save("res/write_retry/t1", report("write_retry", 10, "dual:msgs_corrupted=2;batch:msgs_corrupted=1"));
    /* an older report of the same scenario that would have held: the newest is read */
    save("res/write_retry/t0", report("write_retry", 10, "dual:msgs_corrupted=0"));
    /* the seed's scale: one holds all, one stops short with links closed on errors */
    save("res/seed_scale_100k/t1", report("seed_scale_100k", 100000,
         "evloop:links=100000,links_closed_error=0;batch:links=80897,links_closed_error=19082"));
    char out[800], res[800];
    snprintf(out, sizeof out, "%s/pub/verdicts.md", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    char pub[800];
    snprintf(pub, sizeof pub, "%s/pub", dir);
    mkdir(pub, 0777);
    char *o, *e;
    int rc = lb_run(dir, &o, &e, (const char *const[]){"verdicts", out, res, NULL}, NULL);
    cr_assert_eq(rc, 0, "exit %d\n%s\n%s", rc, o, e);
    char *page = lb_slurp(out);
    /* the current Link's 消息可靠性 高: slow_consumer and echo hold, write_retry corrupts */
    const char *row = strstr(page, "| **当前双协程 — 高**");
    cr_assert_not_null(row, "%s", page);
    char line[8192];
    snprintf(line, sizeof line, "%.*s", (int)(strchr(row, '\n') - row), row);
    cr_expect(strstr(line, "**holds only when** an app slower than the load (slow_consumer): nothing "
                           "dropped; a light echo load with the seed's reads (echo): no frame torn, no "
                           "link lost; **refuted when** a client that stalls past the write deadline"),
              "%s", line);
    cr_expect(strstr(line, "[write_retry](../res/write_retry/t1/report.md) dual.msgs_corrupted = 2 → **fails**"),
              "%s", line);
    cr_expect(strstr(line, "`dual.msgs_corrupted == 0`"), "%s", line);
    /* batch's: large_messages was not given */
    row = strstr(page, "| **版本1（批量发送）— 高**");
    cr_assert_not_null(row);
    snprintf(line, sizeof line, "%.*s", (int)(strchr(row, '\n') - row), row);
    cr_expect(strstr(line, "no large_messages report here"), "%s", line);
    cr_expect(strstr(line, "(2 conditions not measured here)"), "%s", line);
    /* nothing of the CPU rows was given */
    row = strstr(page, "| **当前双协程 — 中**");
    cr_assert_not_null(row);
    snprintf(line, sizeof line, "%.*s", (int)(strchr(row, '\n') - row), row);
    cr_expect(strstr(line, "**not measured**: run `seed_reliability`, `scale@10000`, `go_echo`"), "%s", line);
    /* complexity: not measurable, with the proxy from the source tree */
    row = strstr(page, "| **版本2（非阻塞读）— 高**");
    cr_assert_not_null(row);
    snprintf(line, sizeof line, "%.*s", (int)(strchr(row, '\n') - row), row);
    cr_expect(strstr(line, "not measurable here |") && strstr(line, "`reference/go/link_v3.go`"), "%s", line);
    cr_expect(strstr(page, "## At the seed's scale"));
    cr_expect(strstr(page, "| evloop | 100000 of 100000 |") && strstr(page, "| held all |"), "%s", page);
    cr_expect(strstr(page, "| batch | 80897 of 100000 |") &&
              strstr(page, "| 19082 links closed on an error (links_closed_error) |"), "%s", page);
    cr_expect(strstr(page, "| seed_scale_50k | — | not run here |"), "%s", page);
    cr_expect(strstr(page, "**Tally.**"));
    free(page);
    free(o);
    free(e);
    /* no report at all: a usage error, nothing written */
    unlink(out);
    rc = lb_run(dir, &o, &e, (const char *const[]){"verdicts", out, pub, NULL}, NULL);
    cr_expect_eq(rc, 2);
    cr_expect(strstr(e, "no report.json found"), "%s", e);
    cr_expect_neq(access(out, F_OK), 0);
    free(o);
    free(e);
}

/* --publish: what the page reads is copied (report.md, charts, report.json without its
 * runs) under one directory, replaced whole, and the page links there. */
Test(rep_verdict, publish_copies_what_the_page_reads_and_links_there)
{
    json_t *r = report("write_retry", 10, "dual:msgs_corrupted=0");
    json_object_set_new(r, "runs", json_pack("[{s:s}]", "variant", "dual"));
    save("res/write_retry/t1", r);
    char p[900];
    snprintf(p, sizeof p, "%s/res/write_retry/t1/report.md", dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs("# write_retry\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/res/write_retry/t1/lat_out.png", dir);
    f = fopen(p, "w");
    fputs("png", f);
    fclose(f);
    char out[800], res[800], pub[800];
    snprintf(out, sizeof out, "%s/pub/verdicts.md", dir);
    snprintf(res, sizeof res, "%s/res", dir);
    snprintf(pub, sizeof pub, "%s/pub/verdicts", dir);
    /* an earlier publication's leftovers go */
    char stale[900];
    snprintf(stale, sizeof stale, "%s/pub/verdicts/gone", dir);
    snprintf(p, sizeof p, "%s/pub", dir);
    mkdir(p, 0777);
    mkdir(pub, 0777);
    mkdir(stale, 0777);
    char *o, *e;
    int rc = lb_run(dir, &o, &e, (const char *const[]){"verdicts", "--publish", pub, out, res, NULL}, NULL);
    cr_assert_eq(rc, 0, "exit %d\n%s\n%s", rc, o, e);
    cr_expect_neq(access(stale, F_OK), 0, "replaced whole");
    snprintf(p, sizeof p, "%s/write_retry/report.md", pub);
    cr_expect_eq(access(p, R_OK), 0, "%s", p);
    snprintf(p, sizeof p, "%s/write_retry/lat_out.png", pub);
    cr_expect_eq(access(p, R_OK), 0, "%s", p);
    snprintf(p, sizeof p, "%s/write_retry/report.json", pub);
    json_t *j = json_load_file(p, 0, NULL);
    cr_assert_not_null(j, "%s", p);
    cr_expect_null(json_object_get(j, "runs"));
    cr_expect_not_null(json_object_get(j, "published"));
    cr_expect_not_null(json_object_get(json_object_get(j, "summary"), "dual"));
    json_decref(j);
    char *page = lb_slurp(out);
    cr_expect(strstr(page, "[write_retry](verdicts/write_retry/report.md) dual.msgs_corrupted = 0 → holds"),
              "%s", page);
    free(page);
    /* the page made again from the publication alone reads the same figures */
    rc = lb_run(dir, &o, &e, (const char *const[]){"verdicts", out, pub, NULL}, NULL);
    cr_assert_eq(rc, 0, "%s", e);
    page = lb_slurp(out);
    cr_expect(strstr(page, "[write_retry](verdicts/write_retry/report.md) dual.msgs_corrupted = 0 → holds"));
    free(page);
    free(o);
    free(e);
}
