/* lb_run.h — run the built linkbench from a test: stdout and stderr into files of a directory, the exit status back, and report.json read. */
#ifndef LINKBENCH_TEST_LB_RUN_H
#define LINKBENCH_TEST_LB_RUN_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <glob.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

extern char **environ;

static inline char *lb_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) break;
            buf = b;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

/* Start $LINKBENCH_BIN with args (NULL-terminated) and extra environment entries (NULL
 * or NULL-terminated "K=V"), stdout/stderr into dir/stdout.txt and dir/stderr.txt,
 * without waiting. Its pid. */
static inline pid_t lb_start(const char *dir, const char *const *args, const char *const *env_add)
{
    const char *bin = getenv("LINKBENCH_BIN");
    cr_assert_not_null(bin, "LINKBENCH_BIN must be set (ctest sets it)");
    char *argv[40];
    int n = 0;
    argv[n++] = (char *)bin;
    for (; *args && n < 39; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    char *envp[512];
    int e = 0;
    for (char **p = environ; *p && e < 480; p++)
        envp[e++] = *p;
    for (; env_add && *env_add && e < 511; env_add++)
        envp[e++] = (char *)*env_add;
    envp[e] = NULL;
    char po[1900], pe[1900];   /* dir is at most 1799 bytes: no truncation, -O3 checks it */
    snprintf(po, sizeof po, "%s/stdout.txt", dir);
    snprintf(pe, sizeof pe, "%s/stderr.txt", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, po, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    cr_assert_eq(posix_spawn(&pid, bin, &fa, NULL, argv, envp), 0);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

/* lb_start, then wait: the exit status (-1 when it did not exit normally), its stdout
 * and stderr in *out and *err (free them). */
static inline int lb_run(const char *dir, char **out, char **err, const char *const *args,
                         const char *const *env_add)
{
    pid_t pid = lb_start(dir, args, env_add);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    char po[1900], pe[1900];   /* dir is at most 1799 bytes: no truncation, -O3 checks it */
    snprintf(po, sizeof po, "%s/stdout.txt", dir);
    snprintf(pe, sizeof pe, "%s/stderr.txt", dir);
    *out = lb_slurp(po);
    *err = lb_slurp(pe);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `linkbench serve --variant evloop` on a free loopback port, its output in dir (which
 * must not exist yet): its pid, and ws://127.0.0.1:PORT/ in url. */
static inline pid_t lb_serve(const char *dir, char *url, size_t cap)
{
    cr_assert_eq(mkdir(dir, 0777), 0, "mkdir %s", dir);
    pid_t pid = lb_start(dir, (const char *const[]){"serve", "--variant", "evloop", "--listen",
                         "127.0.0.1:0", NULL}, NULL);
    char po[700];
    snprintf(po, sizeof po, "%s/stdout.txt", dir);
    char *line = NULL;
    for (int i = 0; i < 1500; i++) {   /* 30 s at most */
        free(line);
        line = lb_slurp(po);
        if (strchr(line, '\n'))
            break;
        usleep(20000);
    }
    cr_assert(strncmp(line, "127.0.0.1:", 10) == 0, "serve's first line: %s", line);
    snprintf(url, cap, "ws://127.0.0.1:%d/", atoi(line + 10));
    free(line);
    return pid;
}

/* The one report.json matching pattern (a glob), loaded, or fail the test. */
static inline json_t *lb_report(const char *pattern)
{
    glob_t g;
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no %s", pattern);
    json_error_t je;
    json_t *rep = json_load_file(g.gl_pathv[g.gl_pathc - 1], 0, &je);
    globfree(&g);
    cr_assert_not_null(rep, "%s", je.text);
    return rep;
}

static inline json_t *lb_metrics(json_t *rep, size_t run)
{
    return json_object_get(json_array_get(json_object_get(rep, "runs"), run), "metrics");
}

static inline int64_t lb_int(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    cr_assert(json_is_number(v), "%s missing", k);
    return (int64_t)json_number_value(v);
}

#endif
