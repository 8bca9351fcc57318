/* cmd_list.c — `linkbench list`: every variant with its summary, threads per link, loss policy and params; the shipped scenarios and suites. */
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "lb_install.h"
#include "link_registry.h"

static void list_usage(FILE *f)
{
    fprintf(f,
            "usage: linkbench list [--params | --names | --scenarios]\n\n"
            "Print every built-in variant (every module in the variant directory) with its\n"
            "summary, declared threads per link, loss policy and the app-model modes it\n"
            "supports (inline: app.inline runs the app's handlers on the variant's own\n"
            "threads; elsewhere app.inline is ignored and said so in the report).\n\n"
            "  --params     also list each variant's params: default, range and meaning\n"
            "  --names      only the variant names, one per line\n"
            "  --scenarios  the shipped scenarios and suites (linkbench run <name>), with\n"
            "               their files\n"
            "  --help       this text\n\n"
            "The variant directory is $LINKBENCH_VARIANT_DIR, else variants/ beside the\n"
            "linkbench executable, else the build or install directory.\n");
}

static void print_params(const struct link_variant *v)
{
    if (v->n_params == 0) {
        printf("    (no params)\n");
        return;
    }
    for (int i = 0; i < v->n_params; i++) {
        const struct link_param *p = &v->params[i];
        printf("    %-24s %12" PRId64 "   [%" PRId64 ", %" PRId64 "]   %s\n", p->name, p->def,
               p->min, p->max, p->doc ? p->doc : "");
    }
}

/* The scenario and suite files (workloads/, workloads/suites/) of the data directory. */
static int list_scenarios(void)
{
    char data[PATH_MAX];
    if (lb_install_data_dir(data, sizeof data) < 0) {
        fprintf(stderr, "linkbench list: no workloads/ directory found (set LINKBENCH_DATA_DIR)\n");
        return LB_EXIT_FAIL;
    }
    static const char *const kinds[] = {"scenario", "suite"};
    static const char *const pats[] = {"%s/workloads/*.json", "%s/workloads/suites/*.json"};
    for (int k = 0; k < 2; k++) {
        char pat[PATH_MAX + 64];
        snprintf(pat, sizeof pat, pats[k], data);
        glob_t g;
        if (glob(pat, 0, NULL, &g) != 0)
            continue;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            const char *b = strrchr(g.gl_pathv[i], '/') + 1;
            printf("%-18.*s %-9s %s\n", (int)(strlen(b) - 5), b, kinds[k], g.gl_pathv[i]);
        }
        globfree(&g);
    }
    return LB_EXIT_OK;
}

int cmd_list(int argc, char **argv)
{
    int want_params = 0, names_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            list_usage(stdout);
            return LB_EXIT_OK;
        } else if (!strcmp(argv[i], "--params")) {
            want_params = 1;
        } else if (!strcmp(argv[i], "--names")) {
            names_only = 1;
        } else if (!strcmp(argv[i], "--scenarios")) {
            return list_scenarios();
        } else {
            fprintf(stderr, "linkbench list: unknown option '%s'\n", argv[i]);
            list_usage(stderr);
            return LB_EXIT_USAGE;
        }
    }
    char **names;
    int n = link_registry_names(&names);
    if (n < 0) {
        fprintf(stderr, "linkbench list: out of memory\n");
        return LB_EXIT_FAIL;
    }
    if (n == 0) {
        fprintf(stderr, "linkbench list: no variant found (set LINKBENCH_VARIANT_DIR or build the variants)\n");
        return LB_EXIT_FAIL;
    }
    if (names_only) {
        for (int i = 0; i < n; i++)
            printf("%s\n", names[i]);
        link_registry_names_free(names, n);
        return LB_EXIT_OK;
    }
    int bad = 0;
    char from[PATH_MAX] = "";
    printf("%-12s %-8s %-9s %-7s %s\n", "variant", "threads", "loss", "modes", "summary");
    for (int i = 0; i < n; i++) {
        link_module *m;
        char err[1024];
        if (link_module_load(names[i], &m, err, sizeof err) < 0) {
            /* one broken module must not hide the others: report it and go on */
            fprintf(stderr, "linkbench list: %s\n", err);
            bad++;
            continue;
        }
        const struct link_variant *v = m->v;
        printf("%-12s %-8g %-9s %-7s %s\n", v->name, v->threads_per_link,
               link_loss_policy_name(v->loss_policy), v->caps & LINK_CAP_APP_INLINE ? "inline" : "-",
               v->summary);
        if (want_params) {
            print_params(v);
            printf("\n");
        }
        if (!from[0]) {   /* where they come from: an installed copy says its prefix */
            char d[sizeof m->path];
            snprintf(d, sizeof d, "%s", m->path);
            char *slash = strrchr(d, '/');
            if (slash)
                *slash = 0;
            if (!realpath(d, from))
                snprintf(from, sizeof from, "%s", d);
        }
        link_module_unload(m);
    }
    if (from[0])
        printf("(modules in %s)\n", from);
    link_registry_names_free(names, n);
    return bad ? LB_EXIT_FAIL : LB_EXIT_OK;
}
