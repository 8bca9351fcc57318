/* cmd_compare_base.c — `linkbench compare`'s base side: a git ref archived and built outside the tracked tree (or a given build directory), and the child processes it runs. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cmp.h"

int cmp_fmt(char *b, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, len, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int cmp_spawn(char *const argv[], const char *cwd, const char *log, const char *variant_dir,
              char *err, size_t errlen)
{
    int fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666) : -1;
    if (log && fd < 0) {
        snprintf(err, errlen, "%s: %s", log, strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (pid == 0) {
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, STDIN_FILENO);
        if (variant_dir)
            setenv("LINKBENCH_VARIANT_DIR", variant_dir, 1);
        if (cwd && chdir(cwd) < 0) {
            fprintf(stderr, "linkbench compare: cd %s: %s\n", cwd, strerror(errno));
            _exit(127);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "linkbench compare: cannot start %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (fd >= 0)
        close(fd);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            snprintf(err, errlen, "waitpid: %s", strerror(errno));
            return -1;
        }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
        snprintf(err, errlen, "cannot start %s (see %s)", argv[0], log ? log : "stderr");
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int cmp_capture(char *const argv[], char *out, size_t len)
{
    int p[2];
    if (len == 0 || pipe2(p, O_CLOEXEC) < 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, STDERR_FILENO);
            dup2(nul, STDIN_FILENO);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t k;
    char sink[512];
    while ((k = read(p[0], n < len - 1 ? out + n : sink,
                     n < len - 1 ? len - 1 - n : sizeof sink)) != 0) {
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            break;
        if (n < len - 1)
            n += (size_t)k;
    }
    out[n] = 0;
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = 0;
    close(p[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void cmp_log_tail(FILE *f, const char *log, size_t max)
{
    FILE *l = fopen(log, "r");
    if (!l)
        return;
    fseek(l, 0, SEEK_END);
    long size = ftell(l);
    fseek(l, size > (long)max ? size - (long)max : 0, SEEK_SET);
    char line[1024];
    bool first = size > (long)max;
    while (fgets(line, sizeof line, l)) {
        if (first) {   /* a partial first line */
            first = false;
            continue;
        }
        fprintf(f, "    | %s", line);
    }
    fclose(l);
}

int cmp_git_toplevel(const char *dir, char *out, size_t len, char *err, size_t errlen)
{
    char *argv[] = {"git", "-C", (char *)(dir ? dir : "."), "rev-parse", "--show-toplevel", NULL};
    if (cmp_capture(argv, out, len) != 0 || !out[0]) {
        snprintf(err, errlen, "%s: not inside a git work tree (give --source DIR, or --base-build "
                 "/ --base-variant instead of --base)", dir ? dir : "the current directory");
        return -1;
    }
    return 0;
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void set_paths(struct cmp_base *b, const char *build)
{
    cmp_fmt(b->build, sizeof b->build, "%s", build);
    cmp_fmt(b->exe, sizeof b->exe, "%s/linkbench", build);
    cmp_fmt(b->variant_dir, sizeof b->variant_dir, "%s/variants", build);
}

int cmp_base_from_build(const char *dir, struct cmp_base *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    char abs[4096];
    if (!realpath(dir, abs)) {
        snprintf(err, errlen, "--base-build %s: %s", dir, strerror(errno));
        return -2;
    }
    set_paths(b, abs);
    if (!is_dir(b->variant_dir)) {
        snprintf(err, errlen, "--base-build %s: no variants/ directory: not a linkbench build "
                 "directory", dir);
        return -2;
    }
    return 0;
}

/* Does sim/ or CMakeLists.txt of the working tree differ from commit sha? */
static bool harness_differs(const char *src, const char *sha)
{
    char out[256];
    char *diff[] = {"git", "-C", (char *)src, "diff", "--quiet", (char *)sha, "--", "sim",
                    "CMakeLists.txt", NULL};
    if (cmp_capture(diff, out, sizeof out) != 0)
        return true;
    char *untracked[] = {"git", "-C", (char *)src, "ls-files", "--others", "--exclude-standard",
                         "--", "sim", NULL};
    return cmp_capture(untracked, out, sizeof out) != 0 || out[0];
}

int cmp_base_from_ref(const char *src, const char *ref, const char *work, struct cmp_base *b,
                      char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    snprintf(b->ref, sizeof b->ref, "%s", ref);
    snprintf(b->src, sizeof b->src, "%s", src);
    char spec[300];
    snprintf(spec, sizeof spec, "%s^{commit}", ref);
    char *rev[] = {"git", "-C", (char *)src, "rev-parse", "--verify", "--quiet", spec, NULL};
    if (cmp_capture(rev, b->sha, sizeof b->sha) != 0 || strlen(b->sha) < 40) {
        snprintf(err, errlen, "--base %s: not a commit in %s", ref, src);
        return -2;
    }
    b->harness_differs = harness_differs(src, b->sha);
    char wd[4096], dsrc[4200], dbuild[4200], done[4200], log[4200];
    if (work)
        snprintf(wd, sizeof wd, "%s", work);
    else
        snprintf(wd, sizeof wd, "%s/build/compare-%.12s", src, b->sha);
    snprintf(dsrc, sizeof dsrc, "%s/src", wd);
    snprintf(dbuild, sizeof dbuild, "%s/build", wd);
    snprintf(done, sizeof done, "%s/complete", wd);
    snprintf(log, sizeof log, "%s/build.log", wd);
    set_paths(b, dbuild);
    cmp_fmt(b->log, sizeof b->log, "%s", log);
    /* "complete" holds the commit it was built from: written last, so a build that was
     * interrupted is never taken for a finished one */
    FILE *f = fopen(done, "r");
    char have[64] = "";
    if (f) {
        if (!fgets(have, sizeof have, f))
            have[0] = 0;
        fclose(f);
        have[strcspn(have, "\n")] = 0;
    }
    if (!strcmp(have, b->sha) && is_file(b->exe)) {
        b->reused = true;
        fprintf(stderr, "compare: base %.12s (%s) already built in %s\n", b->sha, ref, dbuild);
        return 0;
    }
    fprintf(stderr, "compare: building base %.12s (%s) in %s (log: %s)\n", b->sha, ref, wd, log);
    unlink(done);
    char *rm[] = {"rm", "-rf", dsrc, dbuild, NULL};
    char *mk[] = {"mkdir", "-p", dsrc, NULL};
    /* the archive is the commit's tracked files only: nothing of the working tree */
    char tar[4200];
    cmp_fmt(tar, sizeof tar, "%s/src.tar", wd);
    char *archive[] = {"git", "-C", (char *)src, "archive", "--format=tar", "-o", tar, b->sha, NULL};
    char *untar[] = {"tar", "-x", "-f", tar, "-C", dsrc, NULL};
    char *conf[] = {"cmake", "-S", dsrc, "-B", dbuild, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                    "-DLB_SANITIZE=", NULL};
    char jobs[16];
    long np = sysconf(_SC_NPROCESSORS_ONLN);
    cmp_fmt(jobs, sizeof jobs, "%ld", np > 0 && np < 1000 ? np : 1);
    char *make[] = {"cmake", "--build", dbuild, "-j", jobs, "--target", "linkbench", NULL};
    char *const *steps[] = {rm, mk, archive, untar, conf, make};
    static const char *const what[] = {"clean", "mkdir", "git archive", "tar", "cmake configure",
                                       "cmake build"};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char e[600];
        int rc = cmp_spawn(steps[i], NULL, i < 2 ? NULL : log, NULL, e, sizeof e);
        if (rc != 0) {
            snprintf(err, errlen, "building base %.12s: %s failed (%s; log: %s)", b->sha, what[i],
                     rc < 0 ? e : "non-zero exit", log);
            return -1;
        }
    }
    unlink(tar);
    if (!is_file(b->exe)) {
        snprintf(err, errlen, "building base %.12s: no %s after the build (log: %s)", b->sha,
                 b->exe, log);
        return -1;
    }
    f = fopen(done, "w");
    if (!f || fprintf(f, "%s\n", b->sha) < 0 || fclose(f) != 0) {
        snprintf(err, errlen, "%s: %s", done, strerror(errno));
        return -1;
    }
    return 0;
}

/* A scenario sets params by variant name: variant_config, or an instance in "variants"
 * ({"name", "variant", "config"}: it runs its module under its own name). */
static bool sets_params(const json_t *j)
{
    if (json_object_size(json_object_get(j, "variant_config")) > 0)
        return true;
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(j, "variants"), i, v)
        if (json_is_object(v))
            return true;
    return false;
}

/* One scenario file: does it set params by variant name? */
static bool file_has_vconfig(const char *path)
{
    json_t *j = json_load_file(path, 0, NULL);
    bool yes = sets_params(j);
    json_decref(j);
    return yes;
}

bool cmp_has_variant_config(char *const *inputs, int n, char *which, size_t len)
{
    for (int i = 0; i < n; i++) {
        json_t *j = json_load_file(inputs[i], 0, NULL);
        const json_t *list = json_object_get(j, "scenarios");
        bool yes = false;
        if (!json_is_array(list))
            yes = sets_params(j);
        /* a suite: its entries are paths relative to the suite file */
        char dir[4096];
        cmp_fmt(dir, sizeof dir, "%s", inputs[i]);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        size_t k;
        const json_t *e;
        json_array_foreach(list, k, e) {
            const char *f = json_is_string(e) ? json_string_value(e)
                          : json_string_value(json_object_get(e, "file"));
            char p[8300];
            if (f && cmp_fmt(p, sizeof p, "%s/%s", f[0] == '/' ? "" : slash ? dir : ".", f) == 0 &&
                file_has_vconfig(f[0] == '/' ? f : p)) {
                yes = true;
                cmp_fmt(which, len, "%s", f);
                break;
            }
        }
        if (yes && !json_is_array(list))
            cmp_fmt(which, len, "%s", inputs[i]);
        json_decref(j);
        if (yes)
            return true;
    }
    return false;
}
