/* cmd_list.c — `linkbench list`: every variant with its summary, threads per link, loss policy and params. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "link_registry.h"

static void list_usage(FILE *f)
{
    fprintf(f,
            "usage: linkbench list [--params]\n\n"
            "Print every built-in variant (every module in the variant directory) with its\n"
            "summary, declared threads per link and loss policy.\n\n"
            "  --params   also list each variant's params: default, range and meaning\n"
            "  --help     this text\n\n"
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

int cmd_list(int argc, char **argv)
{
    int want_params = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            list_usage(stdout);
            return LB_EXIT_OK;
        } else if (!strcmp(argv[i], "--params")) {
            want_params = 1;
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
    int bad = 0;
    printf("%-12s %-8s %-9s %s\n", "variant", "threads", "loss", "summary");
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
        printf("%-12s %-8g %-9s %s\n", v->name, v->threads_per_link,
               link_loss_policy_name(v->loss_policy), v->summary);
        if (want_params) {
            print_params(v);
            printf("\n");
        }
        link_module_unload(m);
    }
    link_registry_names_free(names, n);
    return bad ? LB_EXIT_FAIL : LB_EXIT_OK;
}
