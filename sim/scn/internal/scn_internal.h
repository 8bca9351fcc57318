/* scn_internal.h — helpers shared by the scn_*.c files (not part of the scenario API). */
#ifndef LINKBENCH_SCN_INTERNAL_H
#define LINKBENCH_SCN_INTERNAL_H

#include "scn.h"

/* Add "file: path: rule (got GOT)" (no "(got ...)" when got is NULL). */
void scn__err(struct scn_diag *d, const char *file, const char *path, const char *got,
              const char *rule_fmt, ...) __attribute__((format(printf, 5, 6)));

/* A JSON value as the user wrote it, compact, shortened past ~60 characters;
 * into buf (always NUL-terminated). Returns buf. */
const char *scn__json_text(const json_t *v, char *buf, size_t n);
const char *scn__i64_text(int64_t v, char *buf, size_t n);
const char *scn__dbl_text(double v, char *buf, size_t n);

/* "prefix.key" ("key" when prefix is empty) and "prefix[i]" into buf, truncated. */
const char *scn__join(char *buf, size_t n, const char *prefix, const char *key);
const char *scn__index(char *buf, size_t n, const char *prefix, size_t i);

/* Enum names, in enum order. */
extern const char *const scn__pattern_names[];
extern const char *const scn__compression_names[];
extern const char *const scn__fill_names[];
extern const char *const scn__dist_names[];
extern const char *const scn__mode_names[];
extern const char *const scn__fault_names[];

/* The six built-in variants, in the order runs interleave them. */
extern const char *const scn__builtin_variants[];
#define SCN_BUILTIN_N 6

#endif
