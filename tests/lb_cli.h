/* lb_cli.h — run the linkbench under test ($LINKBENCH_BIN, set by ctest) as a user would, its stdout and stderr captured. */
#ifndef LINKBENCH_TEST_CLI_H
#define LINKBENCH_TEST_CLI_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* linkbench <args> (a printf format; quote paths yourself) with stdout and stderr into
 * out (cap bytes, NUL-terminated, cut beyond). Returns the exit code; fails the test
 * when linkbench did not exit normally. */
static inline int lb_cli(char *out, size_t cap, const char *fmt, ...)
{
    const char *bin = getenv("LINKBENCH_BIN");
    cr_assert_not_null(bin, "LINKBENCH_BIN is not set (run through ctest)");
    char args[8192], cmd[9000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = 0, k;
    char sink[4096];
    while ((k = fread(n < cap - 1 ? out + n : sink, 1, n < cap - 1 ? cap - 1 - n : sizeof sink, p)) > 0)
        if (n < cap - 1)
            n += k;
    out[n] = 0;
    int st = pclose(p);
    cr_assert(WIFEXITED(st), "linkbench did not exit normally: %s", out);
    return WEXITSTATUS(st);
}

/* dir/name in one of 4 rotating buffers (a call may use up to 4 at once). */
static inline const char *lb_path(const char *dir, const char *name)
{
    static char p[4][1200];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* The JUnit file checked by tests/junit_check.py (xmllint with our schema, junitparser,
 * and its counts); extra are its further arguments. Returns its exit code. */
static inline int lb_junit_check(const char *file, const char *extra)
{
    const char *src = getenv("LINKBENCH_SOURCE_DIR");
    cr_assert_not_null(src, "LINKBENCH_SOURCE_DIR is not set (run through ctest)");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/junit_check.py' '%s' %s", src, file,
             extra ? extra : "");
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
