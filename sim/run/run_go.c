/* run_go.c — go:<design> variants: which seed design, where the Go server is, go:all. */
#include "run_go.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lb_install.h"

static const char *const designs[] = {"dual", "batch", "poll", "hybrid", "pair"};
#define N_DESIGNS (sizeof designs / sizeof designs[0])

bool run_go_is(const char *variant)
{
    return variant && !strncmp(variant, RUN_GO_PREFIX, strlen(RUN_GO_PREFIX));
}

const char *run_go_design(const char *variant)
{
    if (!run_go_is(variant))
        return NULL;
    const char *d = variant + strlen(RUN_GO_PREFIX);
    for (size_t i = 0; i < N_DESIGNS; i++)
        if (!strcmp(d, designs[i]))
            return designs[i];
    return NULL;
}

int run_go_server_path(char *buf, size_t len, char *err, size_t errlen)
{
    const char *env = getenv("LINKBENCH_GO");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
    } else {
        /* beside linkbench in a build tree, <prefix>/lib/linkbench/ when installed */
        char exe[4096];
        if (lb_install_exe_dir(exe, sizeof exe) < 0) {
            snprintf(err, errlen, "go: variants: cannot find this executable (/proc/self/exe)");
            return -ENOENT;
        }
        snprintf(buf, len, "%.4000s/linkbench-go", exe);
        if (access(buf, X_OK) != 0)
            snprintf(buf, len, "%.4000s/../lib/linkbench/linkbench-go", exe);
    }
    if (access(buf, X_OK) != 0) {
        snprintf(err, errlen, "the Go reference server %s is not there: it is built with the tool when "
                 "`go` is installed (apt-get install golang-go golang-github-gorilla-websocket-dev "
                 "golang-golang-x-time-dev, then rebuild), or set LINKBENCH_GO", buf);
        return -ENOENT;
    }
    return 0;
}

int run_go_expand(const char *list, char *out, size_t len)
{
    size_t used = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        int w;
        if (n == 6 && !strncmp(p, RUN_GO_PREFIX "all", 6)) {
            w = 0;
            for (size_t i = 0; i < N_DESIGNS && used + (size_t)w < len; i++)
                w += snprintf(out + used + w, len - used - (size_t)w, "%s" RUN_GO_PREFIX "%s",
                              used + (size_t)w ? "," : "", designs[i]);
        } else {
            w = snprintf(out + used, len - used, "%s%.*s", used ? "," : "", (int)n, p);
        }
        if (w < 0 || used + (size_t)w >= len)
            return -1;
        used += (size_t)w;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}
