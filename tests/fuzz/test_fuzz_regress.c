/* test_fuzz_regress.c — every input a fuzzer once crashed on (tests/data/fuzz-regress/<target>/), and the seed corpora, run through the fuzzers' entry points. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_targets.h"

static const char *source_dir(char *buf, size_t n, const char *sub)
{
    const char *src = getenv("LINKBENCH_SOURCE_DIR");
    cr_assert_not_null(src, "LINKBENCH_SOURCE_DIR is not set (ctest sets it)");
    snprintf(buf, n, "%s/%s", src, sub);
    return buf;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n, "%s", path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Runs every file under one target's directory; returns how many. A crash or an
 * invariant's abort() fails the test (Criterion runs it in its own process). */
static int run_target(const char *dir, const char *target)
{
    lb_fuzz_fn fn = lb_fuzz_lookup(target);
    cr_assert_not_null(fn, "%s/%s: no fuzz target of that name", dir, target);
    char path[4096 + 512];
    snprintf(path, sizeof path, "%s/%s", dir, target);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "%s", path);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char file[4096 + 1024];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        size_t len;
        uint8_t *data = slurp(file, &len);
        cr_log_info("%s", file);
        cr_expect_eq(fn(data, len), 0, "%s", file);
        free(data);
        n++;
    }
    closedir(d);
    return n;
}

/* Every <target>/ directory under dir through its target; returns the inputs run. */
static int run_all(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    int targets = 0, inputs = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096 + 256];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st) || !S_ISDIR(st.st_mode)) continue;   /* README */
        inputs += run_target(dir, e->d_name);
        targets++;
    }
    closedir(d);
    cr_log_info("%s: %d inputs of %d targets", dir, inputs, targets);
    return inputs;
}

/* The directory may hold no target yet (no crash found so far): it must exist. */
Test(fuzz_regress, every_saved_crash_passes_its_target)
{
    char dir[4096];
    run_all(source_dir(dir, sizeof dir, "tests/data/fuzz-regress"));
}

/* The seed corpora run in the normal build too, so the entry points stay exercised. */
Test(fuzz_regress, every_seed_input_passes_its_target)
{
    char dir[4096];
    cr_expect_gt(run_all(source_dir(dir, sizeof dir, "fuzz/corpus")), 0, "no seed input under %s", dir);
}

/* The entry points take any bytes, the empty input included. */
Test(fuzz_regress, empty_and_tiny_inputs)
{
    const char *names[] = {"ws_handshake", "vsock_frames", "scn"};
    const uint8_t one[] = {0x81}, two[] = {0x00, 0x81};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        lb_fuzz_fn fn = lb_fuzz_lookup(names[i]);
        cr_assert_not_null(fn, "%s", names[i]);
        cr_expect_eq(fn(NULL, 0), 0);
        cr_expect_eq(fn(one, sizeof one), 0);
        cr_expect_eq(fn(two, sizeof two), 0);
    }
    cr_expect_null(lb_fuzz_lookup("nope"));
}
