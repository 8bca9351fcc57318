/* chk_junit.h — JUnit XML (the Jenkins/Surefire format CI systems read) for check, compare and diff: test cases collected in memory, written at the end. */
#ifndef LINKBENCH_CHK_JUNIT_H
#define LINKBENCH_CHK_JUNIT_H

#include <stddef.h>

typedef struct chk_junit chk_junit;

enum chk_case {
    CHK_CASE_PASS,
    CHK_CASE_FAIL,    /* <failure>: a threshold or regression failed */
    CHK_CASE_ERROR,   /* <error>: the run itself failed, nothing could be judged */
    CHK_CASE_SKIP,    /* <skipped>: not evaluated here */
};

/* A collector for the document <testsuites name="name">. NULL on ENOMEM. */
chk_junit *chk_junit_create(const char *name);
void chk_junit_destroy(chk_junit *j);   /* NULL is a no-op */

/* One <testcase classname name> in <testsuite name="suite"> (suites are made in order of
 * first use). message goes into the failure/error/skipped element's message attribute,
 * detail into its text (a passing case keeps detail as <system-out>). Either may be NULL.
 * 0 or -ENOMEM. */
int chk_junit_add(chk_junit *j, const char *suite, const char *classname, const char *name,
                  enum chk_case st, const char *message, const char *detail);

/* The whole run's wall time in seconds (testsuites and every testsuite get it; cases 0). */
void chk_junit_set_time(chk_junit *j, double seconds);

/* Write the document to path (replaced atomically). 0, or -errno with "path: reason". */
int chk_junit_write(const chk_junit *j, const char *path, char *err, size_t errlen);

/* Write a JSON document (a jansson json_t *) to path, indented, atomically. 0 or -errno
 * with err. (The --summary-export files of check, compare and diff.) */
int chk_json_write(const void *json, const char *path, char *err, size_t errlen);

#endif
