/* link_registry.h — find, load and check variant modules; names of the link.h enums; variant params. */
#ifndef LINKBENCH_LINK_REGISTRY_H
#define LINKBENCH_LINK_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "link.h"

/* A loaded, checked variant module. */
typedef struct link_module {
    void *handle;                     /* dlopen handle */
    const struct link_variant *v;     /* the module's exported table */
    char path[4096];                  /* the file it was loaded from */
} link_module;

/* Where modules named without a path are looked for, in order:
 *   $LINKBENCH_VARIANT_DIR, <dir of the running executable>/variants,
 *   <dir of the running executable>/../lib/linkbench/variants (an installed copy, at
 *   whatever prefix), the build tree's variant dir, the configured install prefix's.
 * Fills up to max entries of dirs (each of dirlen bytes) with the candidates that
 * exist; returns how many. */
int link_registry_dirs(char (*dirs)[4096], int max);

/* Load a variant by name ("dual": searched in link_registry_dirs) or by path (anything
 * containing '/' or ending in ".so"). Checks it with link_variant_check.
 * Returns 0 with *out (free with link_module_unload), or a negative error with a
 * message in err: -ENOENT (not found: the message lists the places searched),
 * -ELIBBAD (dlopen or dlsym failed), -EPROTO (wrong ABI version), -EINVAL (a missing
 * operation, name or summary, or a bad params table). */
int link_module_load(const char *name_or_path, link_module **out, char *err, size_t errlen);
void link_module_unload(link_module *m);   /* NULL is a no-op */

/* Pure check of a variant table (what link_module_load refuses). 0 or -EPROTO/-EINVAL
 * with a message naming the variant, and the missing operation or the bad param. */
int link_variant_check(const struct link_variant *v, char *err, size_t errlen);

/* Names of the built-in variants: every "<name>.so" in the first existing directory of
 * link_registry_dirs, sorted. Returns the count (0 if none) and *names (free with
 * link_registry_names_free), or -ENOMEM. */
int link_registry_names(char ***names);
void link_registry_names_free(char **names, int n);

/* ---------------------------------------------------------------- params */

/* Index of the param called key, or -1. */
int link_params_find(const struct link_variant *v, const char *key);
/* vals[i] := params[i].def for every param (vals has n_params entries). */
void link_params_defaults(const struct link_variant *v, int64_t *vals);
/* Set one param by name with its range check. 0, or -ENOENT (no such key: the message
 * lists the known keys) / -ERANGE (outside [min,max]), with a message naming variant,
 * key, rule and value: "batch: batch_size: must be in [1, 4096] (got 0)". */
int link_params_set(const struct link_variant *v, int64_t *vals, const char *key,
                    int64_t value, char *err, size_t errlen);

/* Enum names (stable: they appear in report.json) and their inverse lookups. */
const char *link_loss_policy_name(enum link_loss_policy p);
const char *link_drop_reason_name(enum link_drop_reason r);
const char *link_close_cause_name(enum link_close_cause c);
const char *link_counter_name(enum link_counter c);
int link_drop_reason_parse(const char *name);    /* the enum value or -1 */
int link_close_cause_parse(const char *name);    /* the enum value or -1 */

#endif
