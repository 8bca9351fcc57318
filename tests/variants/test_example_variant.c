/* test_example_variant.c — a user's variant: install linkbench, build examples/ against it, load by path, refuse bad modules. */
#include <criterion/criterion.h>
#include <libgen.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "link_fixture.h"

/* Everything happens under <build>/example-test (the build dir is where LINKBENCH_BIN
 * lives), so nothing outside the build tree is touched and reruns are incremental. */
static char work[2048], prefix[2300];

static void sh(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sh(const char *what, const char *fmt, ...)
{
    char cmd[8192], log[2400];
    snprintf(log, sizeof log, "%s/log.txt", work);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd - 600, fmt, ap);
    va_end(ap);
    snprintf(cmd + n, sizeof cmd - (size_t)n, " >'%s' 2>&1", log);
    int rc = system(cmd);
    if (rc != 0) {
        char tail[3000];
        snprintf(tail, sizeof tail, "tail -n 30 '%s' >&2", log);
        (void)!system(tail);
    }
    cr_assert_eq(rc, 0, "%s failed: %s", what, cmd);
}

/* Install the project into a private prefix, then configure and build an example
 * exactly as a user would: only the installed headers, found through the installed
 * linkbench.pc (pkg-config). */
static void build_example(const char *example)
{
    const char *bin = getenv("LINKBENCH_BIN"), *src = getenv("LINKBENCH_SOURCE_DIR");
    cr_assert(bin && src, "LINKBENCH_BIN and LINKBENCH_SOURCE_DIR must be set (ctest sets them)");
    char b[2048];
    snprintf(b, sizeof b, "%s", bin);
    const char *build = dirname(b);
    snprintf(work, sizeof work, "%s/example-test", build);
    snprintf(prefix, sizeof prefix, "%s/prefix", work);
    mkdir(work, 0755);
    sh("install", "cmake --install '%s' --prefix '%s'", build, prefix);
    struct stat st;
    char hdr[2400];
    snprintf(hdr, sizeof hdr, "%s/include/linkbench/link.h", prefix);
    cr_assert_eq(stat(hdr, &st), 0, "the install has no include/linkbench/link.h");
    sh("configure example", "PKG_CONFIG_PATH='%s/lib/pkgconfig' cmake -S '%s/examples/%s' -B '%s/%s'",
       prefix, src, example, work, example);
    sh("build example", "cmake --build '%s/%s'", work, example);
}

static void module_path(char *out, size_t len, const char *example, const char *module)
{
    snprintf(out, len, "%s/%s/%s.so", work, example, module);
}

Test(example_variant, builds_against_install_and_echoes, .timeout = 300)
{
    build_example("minimal_variant");
    char path[4096];
    module_path(path, sizeof path, "minimal_variant", "minimal");
    fx f;
    int rc = fx_start(&f, path, FX_MEM, NULL, NULL);
    cr_assert_eq(rc, 0, "%s", f.err);
    cr_expect_str_eq(f.v->name, "minimal");
    cr_expect_str_eq(f.mod->path, path);
    vsock *cl;
    uint32_t id;
    cr_assert_eq(fx_link(&f, &cl, &id), 0);
    enum { N = 50 };
    for (int i = 0; i < N; i++) cr_assert_eq(fx_send(cl, id, (uint64_t)i, 100, 10 * RT_S), 0);
    for (int i = 0; i < N; i++) {
        struct wire_hdr h;
        cr_assert_eq(fx_recv(cl, &h, 10 * RT_S), 0, "echo %d", i);
        cr_assert_eq(h.seq, (uint64_t)i);
    }
    app_stats st;
    app_stats_get(f.app, &st);
    cr_expect_eq(st.echoed, N);
    vsock_close(cl, VSOCK_CLOSE_NORMAL);
    vsock_destroy(cl);
    fx_stop(&f);
    cr_expect_eq(fx_live(RT_GROUP_LINK), f.base_live[RT_GROUP_LINK]);
}

/* A relative path works as on the command line (`--variant ./minimal.so`). */
Test(example_variant, loads_by_relative_path, .timeout = 300)
{
    build_example("minimal_variant");
    char dir[2400];
    snprintf(dir, sizeof dir, "%s/minimal_variant", work);
    cr_assert_eq(chdir(dir), 0);
    link_module *m;
    char err[1024];
    cr_assert_eq(link_module_load("./minimal.so", &m, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(m->v->name, "minimal");
    link_module_unload(m);
    cr_assert_eq(link_module_load("minimal.so", &m, err, sizeof err), 0, "a name ending in .so is a path: %s", err);
    link_module_unload(m);
}

static void expect_refused(const char *module, int want_rc, const char *const *needles)
{
    build_example("bad_variants");
    char path[4096];
    module_path(path, sizeof path, "bad_variants", module);
    link_module *m = NULL;
    char err[1024] = "";
    int rc = link_module_load(path, &m, err, sizeof err);
    cr_assert_eq(rc, want_rc, "%s: rc %d (%s)", module, rc, err);
    cr_assert_null(m);
    for (int i = 0; needles[i]; i++)
        cr_expect(strstr(err, needles[i]), "%s: message \"%s\" lacks \"%s\"", module, err, needles[i]);
}

Test(example_variant, wrong_abi_refused_naming_both_versions, .timeout = 300)
{
    char theirs[32], ours[32];
    snprintf(theirs, sizeof theirs, "ABI version %d", LINK_ABI_VERSION + 41);
    snprintf(ours, sizeof ours, "expects ABI version %d", LINK_ABI_VERSION);
    const char *needles[] = {theirs, ours, "bad_abi.so", NULL};
    expect_refused("bad_abi", -EPROTO, needles);
}

Test(example_variant, missing_op_refused_naming_it, .timeout = 300)
{
    const char *needles[] = {"'bad'", "operation 'recv' is missing", NULL};
    expect_refused("missing_op", -EINVAL, needles);
}

Test(example_variant, bad_param_default_refused, .timeout = 300)
{
    const char *needles[] = {"'timeout_ms'", "[1, 1000]", "got 0", NULL};
    expect_refused("bad_params", -EINVAL, needles);
}

Test(example_variant, missing_file_and_non_variant_refused)
{
    link_module *m;
    char err[1024];
    cr_expect_eq(link_module_load("./no-such-variant.so", &m, err, sizeof err), -ENOENT);
    cr_expect(strstr(err, "no-such-variant.so"), "%s", err);
    cr_expect_eq(link_module_load("no_such_variant_name", &m, err, sizeof err), -ENOENT);
    cr_expect(strstr(err, "unknown variant 'no_such_variant_name'"), "%s", err);
}
