/* cmp.h — the parts of `linkbench compare`: a base built from a git ref or taken from a build directory, and linkbench processes run with their output in a log. */
#ifndef LINKBENCH_CMP_H
#define LINKBENCH_CMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "chk_gate.h"

/* Where the base side comes from. */
struct cmp_base {
    char ref[256];          /* as given (--base), or "" */
    char sha[48];           /* the commit it resolved to, or "" */
    char src[4096];         /* the candidate's source tree (git top level), or "" */
    char build[4096];       /* the base's build directory: linkbench and variants/ */
    char exe[4200];         /* <build>/linkbench (may be absent for --base-variant) */
    char variant_dir[4200]; /* <build>/variants */
    bool harness_differs;   /* sim/ or CMakeLists.txt differ between the ref and the tree */
    bool reused;            /* the build directory was there already, complete */
    char log[4200];         /* the build's log (--base), or "" */
};

/* snprintf that says whether it fit: 0, or -1 when the text was cut (paths here come
 * from the user and may be long). */
int cmp_fmt(char *b, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The git top level of dir (NULL: the current directory) in out. 0, or -1 with err. */
int cmp_git_toplevel(const char *dir, char *out, size_t len, char *err, size_t errlen);

/* Resolve ref in the tree src to a commit, and build that commit's linkbench and
 * variants (git archive into <work>/src, cmake into <work>/build, log in
 * <work>/build.log) unless <work> holds a complete build of it already. work NULL:
 * <src>/build/compare-<sha>. Says what it does on stderr. Also sets harness_differs
 * (git diff of sim/ and CMakeLists.txt between the commit and the working tree, plus
 * untracked files under sim/). Returns 0; -2 with err for a ref that is no commit
 * (a usage error); -1 with err when git or the build failed. */
int cmp_base_from_ref(const char *src, const char *ref, const char *work, struct cmp_base *b,
                      char *err, size_t errlen);

/* A base build directory given by the user: it must hold variants/. 0 or -2 with err. */
int cmp_base_from_build(const char *dir, struct cmp_base *b, char *err, size_t errlen);

/* Run argv (argv[0] a path or a name on PATH) in directory cwd (NULL: this one) with
 * stdout and stderr appended to log (NULL: ours); variant_dir, when set, becomes the
 * child's LINKBENCH_VARIANT_DIR. Returns the exit status, 128 + signal when killed, or
 * -1 with err when it could not start. */
int cmp_spawn(char *const argv[], const char *cwd, const char *log, const char *variant_dir,
              char *err, size_t errlen);

/* Run argv and keep its first line of stdout (newline removed) in out; stderr to
 * /dev/null. The exit status, or -1. */
int cmp_capture(char *const argv[], char *out, size_t len);

/* Does a scenario among inputs (scenario or suite files) set variant_config? Its params
 * are keyed by variant name, so a base module loaded by path would run without them: the
 * variants mode must refuse such a comparison. true with the file's name in which. */
bool cmp_has_variant_config(char *const *inputs, int n, char *which, size_t len);

/* The last lines of a log file (at most max bytes) to f, indented: what a failed build or
 * run said. */
void cmp_log_tail(FILE *f, const char *log, size_t max);

/* What one compare found, for its JUnit and summary files. */
struct cmp_result {
    bool harness;                 /* the mode */
    const struct cmp_base *base;
    const char *self;             /* the candidate's linkbench */
    const char *dir;              /* runs and logs */
    double alpha;
    int per_side, rounds;         /* repetitions per side, adaptive rounds */
    const struct chk_set *set;
    const struct chk_row *rows;
    int n;
    struct chk_tally t;
    int exit_code;
    const char *verdict;          /* pass, regression, run_failed, usage_error */
    double seconds;
};

/* The mode and the two sides, as the first lines of compare's output. */
void cmp_print_sides(FILE *f, bool harness, const struct cmp_base *b, const char *self);

/* Sides whose repetitions failed or were invalid, and variants measured on one side only,
 * said plainly. Returns how many sides had a repetition without measurements (the run
 * itself failed: exit 1). */
int cmp_print_pair_notes(FILE *f, const struct chk_set *set);

/* The compact summary (--summary-export): mode, sides, verdict, exit code, counts, each
 * pair's repetitions, every row; no histograms. 0 or -errno with err. */
int cmp_write_summary(const struct cmp_result *r, const char *path, char *err, size_t errlen);

/* JUnit (--junit): one testsuite per scenario@links, a case per variant and metric; a
 * regression is a <failure>, a side whose runs failed an <error>. 0 or -errno with err. */
int cmp_write_junit(const struct cmp_result *r, const char *path, char *err, size_t errlen);

#endif
