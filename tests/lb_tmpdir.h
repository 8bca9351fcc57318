/* lb_tmpdir.h — one fresh temporary directory per end-to-end test (under $TMPDIR), removed after it. */
#ifndef LINKBENCH_TEST_TMPDIR_H
#define LINKBENCH_TEST_TMPDIR_H

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>

/* Make dir (cap bytes) as $TMPDIR/<prefix>_XXXXXX, or fail the test. */
static inline void lb_tmpdir_make(char *dir, size_t cap, const char *prefix)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, cap, "%s/%s_XXXXXX", t && *t ? t : "/tmp", prefix);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
}

/* Write text into dir/name, or fail the test. */
static inline void lb_tmpdir_write(const char *dir, const char *name, const char *text)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "cannot write %s", p);
    fputs(text, f);
    fclose(f);
}

/* Remove dir and everything below it; a failure is logged, not fatal. */
static inline void lb_tmpdir_remove(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        cr_log_warn("could not remove %s", dir);
}

#endif
