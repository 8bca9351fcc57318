/* lb_install.c — the data directory and shipped scenarios, found relative to the running executable (installed prefix or build tree), never through a path fixed at install time. */
#include "lb_install.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LB_SOURCE_DIR
#define LB_SOURCE_DIR ""
#endif

static bool is_dir(const char *dir, const char *sub)
{
    char p[PATH_MAX + 64];
    struct stat st;
    if (snprintf(p, sizeof p, "%s/%s", dir, sub) >= (int)sizeof p)
        return false;
    return dir[0] && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int lb_install_exe_dir(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -errno;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    snprintf(out, len, "%s", exe);
    return 0;
}

int lb_install_data_dir(char *out, size_t len)
{
    char cand[4][PATH_MAX + 32];
    int n = 0;
    const char *env = getenv("LINKBENCH_DATA_DIR");
    if (env && *env)
        snprintf(cand[n++], sizeof cand[0], "%s", env);
    char exe[PATH_MAX];
    if (lb_install_exe_dir(exe, sizeof exe) == 0) {
        snprintf(cand[n++], sizeof cand[0], "%s/../share/linkbench", exe);
        snprintf(cand[n++], sizeof cand[0], "%s/..", exe);
    }
    snprintf(cand[n++], sizeof cand[0], "%s", LB_SOURCE_DIR);
    for (int i = 0; i < n; i++)
        if (is_dir(cand[i], "workloads")) {
            char real[PATH_MAX];
            snprintf(out, len, "%s", realpath(cand[i], real) ? real : cand[i]);
            return 0;
        }
    return -ENOENT;
}

int lb_install_scenario(const char *arg, char *out, size_t len)
{
    snprintf(out, len, "%s", arg);
    if (is_file(arg))
        return 0;
    char data[PATH_MAX];
    if (lb_install_data_dir(data, sizeof data) < 0)
        return -ENOENT;
    static const char *const forms[] = {"%s/workloads/%s", "%s/workloads/%s.json",
                                        "%s/workloads/suites/%s.json", "%s/%s"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char p[PATH_MAX * 2];
        snprintf(p, sizeof p, forms[i], data, arg);
        if (is_file(p)) {
            snprintf(out, len, "%s", p);
            return 0;
        }
    }
    return -ENOENT;
}
