/* test_shard_deploy.c — the sharded run's recipes: the Kubernetes manifests hold what the flow depends on (and the check catches a broken one), the ssh recipe runs end to end on one machine, the script passes shellcheck, the image recipe uses the one package list. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lb_run.h"
#include "lb_tmpdir.h"

static char dir[512];

static void setup(void) { lb_tmpdir_make(dir, sizeof dir, "lb_deploy"); }

/* the server a test started, stopped however the test ended */
static pid_t srv_pid;

static void teardown(void)
{
    if (srv_pid > 0) {
        kill(srv_pid, SIGTERM);
        waitpid(srv_pid, NULL, 0);
        srv_pid = 0;
    }
    lb_tmpdir_remove(dir);
}

TestSuite(shard_deploy, .init = setup, .fini = teardown, .timeout = 300);

static void teardown_server(void)
{
    kill(srv_pid, SIGTERM);
    waitpid(srv_pid, NULL, 0);
    srv_pid = 0;
}

static const char *src(void)
{
    const char *s = getenv("LINKBENCH_SOURCE_DIR");
    cr_assert_not_null(s, "LINKBENCH_SOURCE_DIR is set by ctest");
    return s;
}

/* sh -c cmd with stdout and stderr into dir/cmd.txt: exit status, output in *out. */
static int sh(char **out, const char *fmt, ...)
{
    char cmd[8192], full[9000], path[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s/cmd.txt", dir);
    snprintf(full, sizeof full, "(%s) >'%s' 2>&1", cmd, path);
    int st = system(full);
    *out = lb_slurp(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Debian's python3, where python3-yaml and python3-jsonschema import (the one on PATH may
 * be another) */
#define PY "/usr/bin/python3"

Test(shard_deploy, manifests_hold_what_the_flow_needs)
{
    char *out;
    int rc = sh(&out, PY " '%s/deploy/k8s/check_manifest.py' --linkbench '%s' '%s/deploy/k8s'", src(),
                getenv("LINKBENCH_BIN"), src());
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "matches job.schema.json"), "%s", out);
    cr_assert(strstr(out, "refuses the placeholder start"), "%s", out);
    cr_assert(strstr(out, "every option of the command line is accepted"), "%s", out);
    free(out);
}

/* Each mutation of a copy of deploy/k8s must be caught, by the line that names it. */
Test(shard_deploy, a_broken_manifest_is_caught)
{
    struct { const char *file, *sed, *says; } cases[] = {
        {"job.yaml", "s/completionMode: Indexed/completionMode: NonIndexed/", "completionMode"},
        {"job.yaml", "s/parallelism: 20 /parallelism: 10 /", "must be equal"},
        {"job.yaml", "s/backoffLimit: 0/backoffLimit: 6/", "backoffLimit"},
        {"job.yaml", "s|--shard \"$JOB_COMPLETION_INDEX/$SHARDS\"|--shard \"0/$SHARDS\"|", "--shard"},
        {"job.yaml", "s/__START_AT__/2026-01-01T00:00:00Z/", "placeholder"},
        {"merge.yaml", "s/claimName: linkbench-results/claimName: other/", "the claim the shards write to"},
        {"pvc.yaml", "s/ReadWriteMany/ReadWriteOnce/", "ReadWriteMany"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out;
        char copy[700];
        snprintf(copy, sizeof copy, "%s/k8s%zu", dir, i);
        cr_assert_eq(sh(&out, "cp -r '%s/deploy/k8s' '%s' && sed -i '%s' '%s/%s'", src(), copy, cases[i].sed,
                        copy, cases[i].file), 0, "%s", out);
        free(out);
        int rc = sh(&out, PY " '%s/check_manifest.py' '%s'", copy, copy);
        cr_assert_eq(rc, 1, "case %zu (%s): exit %d\n%s", i, cases[i].sed, rc, out);
        cr_assert(strstr(out, "FAIL") && strstr(out, cases[i].says), "case %zu: \"%s\" not in\n%s", i,
                  cases[i].says, out);
        free(out);
    }
}

Test(shard_deploy, ssh_script_passes_shellcheck)
{
    char *out;
    int rc = sh(&out, "shellcheck '%s/deploy/ssh/run.sh'", src());
    cr_assert_eq(rc, 0, "shellcheck (scripts/packages.txt installs it): %s", out);
    free(out);
}

/* No engine builds images here and hadolint is not packaged for Debian 12: the recipe is
 * checked for what the flow depends on (Debian 12, the one package list, the tool as entry). */
Test(shard_deploy, image_recipe_uses_the_one_package_list)
{
    char path[700];
    snprintf(path, sizeof path, "%s/deploy/Dockerfile", src());
    char *d = lb_slurp(path);
    cr_assert(strstr(d, "\nFROM debian:12\n"), "FROM debian:12");
    cr_assert(strstr(d, "./scripts/setup.sh --main"), "packages from scripts/packages.txt");
    cr_assert(strstr(d, "cmake --install"), "the tool installed");
    cr_assert(strstr(d, "ENTRYPOINT [\"linkbench\"]"));
    free(d);
}

/* ssh that runs the command here (the host is ignored), scp that copies here: the recipe's
 * own steps, end to end, without an ssh server. */
static void shims(char *bindir, size_t cap)
{
    snprintf(bindir, cap, "%s/shim", dir);
    cr_assert_eq(mkdir(bindir, 0777), 0);
    char p[700];
    snprintf(p, sizeof p, "%s/ssh", bindir);
    FILE *f = fopen(p, "w");
    fputs("#!/bin/sh\nshift\nexec /bin/sh -c \"$*\"\n", f);
    fclose(f);
    chmod(p, 0755);
    snprintf(p, sizeof p, "%s/scp", bindir);
    f = fopen(p, "w");
    fputs("#!/bin/sh\nset -e\nwhile [ \"${1#-}\" != \"$1\" ]; do shift; done\n"
          "exec cp -r \"${1#*:}\" \"${2#*:}\"\n", f);
    fclose(f);
    chmod(p, 0755);
}

Test(shard_deploy, ssh_recipe_runs_and_merges)
{
    char shim[600], scn[600], url[64], *out;
    shims(shim, sizeof shim);
    snprintf(scn, sizeof scn, "%s/s.json", dir);
    FILE *f = fopen(scn, "w");
    fputs("{\"name\": \"viassh\", \"links\": 12, \"duration_s\": 1, \"warmup_s\": 0.2, \"repetitions\": 1,\n"
          " \"client\": {\"rate_per_s\": 20, \"messages_per_link\": 10}, \"expect\": [\"*.links == 12\"]}\n", f);
    fclose(f);
    char sd[600];
    snprintf(sd, sizeof sd, "%s/serve", dir);
    srv_pid = lb_serve(sd, url, sizeof url);
    const char *bin = getenv("LINKBENCH_BIN");
    /* three shards: host-a twice (two driver processes there) and host-b */
    int rc = sh(&out, "SSH='%s/ssh' SCP='%s/scp' LINKBENCH='%s' LINKBENCH_REMOTE='%s' '%s/deploy/ssh/run.sh' "
                "-s '%s' -t '%s' -o '%s/res' -d 2 -r r1 host-a host-a host-b -- --duration 1", shim, shim,
                bin, bin, src(), scn, url, dir);
    teardown_server();
    cr_assert_eq(rc, 0, "run.sh: exit %d\n%s", rc, out);
    cr_assert(strstr(out, "3 shards of s.json"), "%s", out);
    cr_assert(strstr(out, "expect: 1 held, 0 failed"), "%s", out);
    free(out);
    char pat[700];
    snprintf(pat, sizeof pat, "%s/res/r1/merged/report.json", dir);
    json_t *rep = lb_report(pat);
    json_t *m = lb_metrics(rep, 0);
    cr_assert(json_is_true(json_object_get(rep, "valid")));
    cr_assert_eq(lb_int(m, "links"), 12);
    cr_assert_eq(lb_int(m, "msgs_delivered"), 120);
    cr_assert_eq(json_array_size(json_object_get(json_array_get(json_object_get(rep, "runs"), 0), "shards")), 3);
    json_decref(rep);
}
