/* link_registry.c — find, load and check variant modules; names of the link.h enums; variant params. */
#include "link_registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LB_BUILD_VARIANT_DIR
#define LB_BUILD_VARIANT_DIR ""
#endif
#ifndef LB_INSTALL_VARIANT_DIR
#define LB_INSTALL_VARIANT_DIR ""
#endif

/* ---------------------------------------------------------------- enum names */

static const char *const loss_names[] = {"blocks", "drops", "lossless"};
static const char *const drop_names[LINK_DROP_COUNT] = {
    "recv_queue_full", "rate_limited", "send_overflow", "send_failed", "unsent_at_close",
    "cancelled_at_close", "broken_by_deadline"};
static const char *const close_names[LINK_CLOSE_COUNT] = {
    "peer", "error", "idle", "retry_spent", "stall", "overflow", "app", "shutdown"};
static const char *const counter_names[LINK_C_COUNT] = {
    "retries", "write_timeouts", "read_timeouts", "rate_waits", "read_pauses",
    "send_backpressure", "solo_threads"};

const char *link_loss_policy_name(enum link_loss_policy p)
{
    return (unsigned)p < 3 ? loss_names[p] : "unknown";
}

const char *link_drop_reason_name(enum link_drop_reason r)
{
    return (unsigned)r < LINK_DROP_COUNT ? drop_names[r] : "unknown";
}

const char *link_close_cause_name(enum link_close_cause c)
{
    return (unsigned)c < LINK_CLOSE_COUNT ? close_names[c] : "unknown";
}

const char *link_counter_name(enum link_counter c)
{
    return (unsigned)c < LINK_C_COUNT ? counter_names[c] : "unknown";
}

static int parse_name(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (!strcmp(names[i], name)) return i;
    return -1;
}

int link_drop_reason_parse(const char *name) { return parse_name(drop_names, LINK_DROP_COUNT, name); }
int link_close_cause_parse(const char *name) { return parse_name(close_names, LINK_CLOSE_COUNT, name); }

/* ---------------------------------------------------------------- checks */

int link_variant_check(const struct link_variant *v, char *err, size_t errlen)
{
    if (v->abi_version != LINK_ABI_VERSION) {
        snprintf(err, errlen, "variant ABI version %d, this linkbench expects ABI version %d "
                 "(rebuild the variant against this linkbench's link.h)",
                 v->abi_version, LINK_ABI_VERSION);
        return -EPROTO;
    }
    if (!v->name || !*v->name) {
        snprintf(err, errlen, "variant has no name");
        return -EINVAL;
    }
    if (!v->summary || !*v->summary) {
        snprintf(err, errlen, "variant '%s' has no summary", v->name);
        return -EINVAL;
    }
    /* Every operation is called unconditionally by the harness: refuse early and by
     * name rather than crash on a NULL pointer in the middle of a run. */
    const struct { const char *name; const void *fn; } ops[] = {
        {"start", (const void *)v->start},   {"attach", (const void *)v->attach},
        {"send", (const void *)v->send},     {"recv", (const void *)v->recv},
        {"update_active", (const void *)v->update_active},
        {"try_close_if_idle", (const void *)v->try_close_if_idle},
        {"close", (const void *)v->close},   {"release", (const void *)v->release},
        {"stop", (const void *)v->stop},     {"held", (const void *)v->held},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!ops[i].fn) {
            snprintf(err, errlen, "variant '%s': operation '%s' is missing", v->name, ops[i].name);
            return -EINVAL;
        }
    if ((unsigned)v->loss_policy > LINK_LOSS_LOSSLESS) {
        snprintf(err, errlen, "variant '%s': unknown loss policy %d", v->name, (int)v->loss_policy);
        return -EINVAL;
    }
    if (v->drop_reasons & ~((1u << LINK_DROP_COUNT) - 1)) {
        snprintf(err, errlen, "variant '%s': drop_reasons 0x%x names reasons this linkbench does "
                 "not know (bits 0-%d are the link_drop_reason values)", v->name, v->drop_reasons,
                 LINK_DROP_COUNT - 1);
        return -EINVAL;
    }
    if (!(v->threads_per_link >= 0)) {
        snprintf(err, errlen, "variant '%s': threads_per_link must be >= 0 (got %g)",
                 v->name, v->threads_per_link);
        return -EINVAL;
    }
    if (v->n_params < 0 || (v->n_params > 0 && !v->params)) {
        snprintf(err, errlen, "variant '%s': n_params is %d but the params table is %s",
                 v->name, v->n_params, v->params ? "set" : "missing");
        return -EINVAL;
    }
    for (int i = 0; i < v->n_params; i++) {
        const struct link_param *p = &v->params[i];
        if (!p->name || !*p->name) {
            snprintf(err, errlen, "variant '%s': param #%d has no name", v->name, i);
            return -EINVAL;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(v->params[j].name, p->name)) {
                snprintf(err, errlen, "variant '%s': param '%s' is declared twice (#%d and #%d)",
                         v->name, p->name, j, i);
                return -EINVAL;
            }
        if (p->min > p->max || p->def < p->min || p->def > p->max) {
            snprintf(err, errlen, "variant '%s': param '%s': default must be in [%" PRId64
                     ", %" PRId64 "] (got %" PRId64 ")", v->name, p->name, p->min, p->max, p->def);
            return -EINVAL;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- search path */

static bool is_dir(const char *p)
{
    struct stat st;
    return p && *p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int link_registry_dirs(char (*dirs)[4096], int max)
{
    char cand[5][4096];
    int nc = 0;
    const char *env = getenv("LINKBENCH_VARIANT_DIR");
    if (env && *env) snprintf(cand[nc++], sizeof cand[0], "%s", env);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(cand[nc++], sizeof cand[0], "%.4000s/variants", exe);
            /* installed: <prefix>/bin/linkbench finds <prefix>/lib/linkbench/variants,
             * wherever the prefix was put (cmake --install --prefix) */
            snprintf(cand[nc++], sizeof cand[0], "%.4000s/../lib/linkbench/variants", exe);
        }
    }
    snprintf(cand[nc++], sizeof cand[0], "%s", LB_BUILD_VARIANT_DIR);
    snprintf(cand[nc++], sizeof cand[0], "%s", LB_INSTALL_VARIANT_DIR);
    int k = 0;
    for (int i = 0; i < nc && k < max; i++) {
        if (!is_dir(cand[i])) continue;
        bool dup = false;
        for (int j = 0; j < k; j++) dup |= !strcmp(dirs[j], cand[i]);
        if (!dup) memcpy(dirs[k++], cand[i], sizeof cand[i]);
    }
    return k;
}

static bool is_path(const char *s)
{
    size_t n = strlen(s);
    return strchr(s, '/') || (n > 3 && !strcmp(s + n - 3, ".so"));
}

/* ---------------------------------------------------------------- load */

static int load_file(const char *path, link_module **out, char *err, size_t errlen)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "cannot load variant module %s: %s", path, dlerror());
        return -ELIBBAD;
    }
    const struct link_variant *v = dlsym(h, LINK_VARIANT_SYMBOL);
    if (!v) {
        snprintf(err, errlen, "%s is not a linkbench variant: it exports no '%s' symbol",
                 path, LINK_VARIANT_SYMBOL);
        dlclose(h);
        return -ELIBBAD;
    }
    char why[512];
    int rc = link_variant_check(v, why, sizeof why);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, why);
        dlclose(h);
        return rc;
    }
    link_module *m = calloc(1, sizeof *m);
    if (!m) {
        dlclose(h);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    m->handle = h;
    m->v = v;
    snprintf(m->path, sizeof m->path, "%s", path);
    *out = m;
    return 0;
}

int link_module_load(const char *name_or_path, link_module **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!name_or_path || !*name_or_path) {
        snprintf(err, errlen, "no variant given");
        return -EINVAL;
    }
    if (is_path(name_or_path)) {
        if (access(name_or_path, R_OK) != 0) {
            snprintf(err, errlen, "variant module %s: %s", name_or_path, strerror(errno));
            return -ENOENT;
        }
        /* dlopen searches the library path for a name without '/': say "./x.so". */
        char p[4096];
        snprintf(p, sizeof p, "%s%s", strchr(name_or_path, '/') ? "" : "./", name_or_path);
        return load_file(p, out, err, errlen);
    }
    char dirs[4][4096];
    int nd = link_registry_dirs(dirs, 4);
    for (int i = 0; i < nd; i++) {
        char p[4096 + 300];
        snprintf(p, sizeof p, "%.3800s/%.256s.so", dirs[i], name_or_path);
        if (access(p, R_OK) == 0) return load_file(p, out, err, errlen);
    }
    int off = snprintf(err, errlen, "unknown variant '%s' (searched:", name_or_path);
    for (int i = 0; i < nd && off >= 0 && (size_t)off < errlen; i++)
        off += snprintf(err + off, errlen - off, " %s", dirs[i]);
    if (off >= 0 && (size_t)off < errlen)
        snprintf(err + off, errlen - off, nd ? "; see 'linkbench list')" : " no variant directory found)");
    return -ENOENT;
}

void link_module_unload(link_module *m)
{
    if (!m) return;
    /* Variant threads are all joined by stop(); unmapping code a detached thread still
     * runs would crash, so a module whose server is still running must not be unloaded. */
    dlclose(m->handle);
    free(m);
}

/* ---------------------------------------------------------------- listing */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int link_registry_names(char ***names)
{
    *names = NULL;
    char dirs[1][4096];
    if (link_registry_dirs(dirs, 1) < 1) return 0;
    DIR *d = opendir(dirs[0]);
    if (!d) return 0;
    int n = 0, cap = 0;
    char **v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 3 || strcmp(e->d_name + len - 3, ".so") || e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv) goto nomem;
            v = nv;
        }
        v[n] = strndup(e->d_name, len - 3);
        if (!v[n]) goto nomem;
        n++;
    }
    closedir(d);
    qsort(v, n, sizeof *v, cmp_str);
    *names = v;
    return n;
nomem:
    closedir(d);
    link_registry_names_free(v, n);
    return -ENOMEM;
}

void link_registry_names_free(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* ---------------------------------------------------------------- params */

int link_params_find(const struct link_variant *v, const char *key)
{
    for (int i = 0; key && i < v->n_params; i++)
        if (!strcmp(v->params[i].name, key)) return i;
    return -1;
}

void link_params_defaults(const struct link_variant *v, int64_t *vals)
{
    for (int i = 0; i < v->n_params; i++) vals[i] = v->params[i].def;
}

int link_params_set(const struct link_variant *v, int64_t *vals, const char *key,
                    int64_t value, char *err, size_t errlen)
{
    int i = link_params_find(v, key);
    if (i < 0) {
        int off = snprintf(err, errlen, "%s: %s: unknown param (known:", v->name, key ? key : "(null)");
        for (int j = 0; j < v->n_params && off >= 0 && (size_t)off < errlen; j++)
            off += snprintf(err + off, errlen - off, " %s", v->params[j].name);
        if (off >= 0 && (size_t)off < errlen)
            snprintf(err + off, errlen - off, "%s)", v->n_params ? "" : " none");
        return -ENOENT;
    }
    const struct link_param *p = &v->params[i];
    if (value < p->min || value > p->max) {
        snprintf(err, errlen, "%s: %s: must be in [%" PRId64 ", %" PRId64 "] (got %" PRId64 ")",
                 v->name, key, p->min, p->max, value);
        return -ERANGE;
    }
    vals[i] = value;
    return 0;
}
