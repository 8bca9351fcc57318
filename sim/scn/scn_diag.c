/* scn_diag.c — error collection for scenario files, value formatting, and "did you mean" suggestions. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scn_internal.h"

const char *const scn__pattern_names[] = {"constant", "poisson"};
const char *const scn__compression_names[] = {"none", "offer", "no_context_takeover"};
const char *const scn__fill_names[] = {"text", "random"};
const char *const scn__dist_names[] = {"fixed", "uniform", "exponential"};
const char *const scn__mode_names[] = {"echo", "sink"};
const char *const scn__fault_names[] = {"stop_reading", "resume_reading", "close_links",
                                        "reset_links", "kill_server", "pause_app"};
const char *const scn__builtin_variants[] = {"dual", "batch", "poll", "hybrid", "pair", "evloop"};

void scn_diag_init(struct scn_diag *d)
{
    memset(d, 0, sizeof *d);
}

void scn_diag_deinit(struct scn_diag *d)
{
    if (!d) return;
    free(d->text);
    memset(d, 0, sizeof *d);
}

static void vappend(struct scn_diag *d, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int need = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (need < 0) return;
    if (d->len + (size_t)need + 2 > d->cap) {
        size_t cap = d->cap ? d->cap : 256;
        while (d->len + (size_t)need + 2 > cap) cap *= 2;
        char *t = realloc(d->text, cap);
        if (!t) return;   /* out of memory: the error count still says something went wrong */
        d->text = t;
        d->cap = cap;
    }
    vsnprintf(d->text + d->len, d->cap - d->len, fmt, ap);
    d->len += (size_t)need;
}

void scn_diag_add(struct scn_diag *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vappend(d, fmt, ap);
    va_end(ap);
    if (d->text) {
        d->text[d->len++] = '\n';
        d->text[d->len] = '\0';
    }
    d->n++;
}

void scn__err(struct scn_diag *d, const char *file, const char *path, const char *got,
              const char *rule_fmt, ...)
{
    char rule[512];
    va_list ap;
    va_start(ap, rule_fmt);
    vsnprintf(rule, sizeof rule, rule_fmt, ap);
    va_end(ap);
    if (got)
        scn_diag_add(d, "%s: %s: %s (got %s)", file, path, rule, got);
    else
        scn_diag_add(d, "%s: %s: %s", file, path, rule);
}

const char *scn__json_text(const json_t *v, char *buf, size_t n)
{
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (!s) {
        snprintf(buf, n, "?");
        return buf;
    }
    /* A whole object in an error line helps nobody: keep the start. */
    if (strlen(s) > 60)
        snprintf(buf, n, "%.57s...", s);
    else
        snprintf(buf, n, "%s", s);
    free(s);
    return buf;
}

const char *scn__i64_text(int64_t v, char *buf, size_t n)
{
    snprintf(buf, n, "%" PRId64, v);
    return buf;
}

const char *scn__dbl_text(double v, char *buf, size_t n)
{
    snprintf(buf, n, "%.15g", v);
    return buf;
}

/* Levenshtein distance, capped: names are short. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return (size_t)-1;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

const char *scn_closest(const char *s, const char *const *cands, int n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (int i = 0; i < n; i++) {
        size_t dd = distance(s, cands[i]);
        if (dd < best_d) {
            best_d = dd;
            best = cands[i];
        }
    }
    /* Close means a typo, not a different word: at most a third of the name wrong
     * (and always allow 2 edits for short names). Otherwise a suggestion misleads. */
    size_t len = strlen(s);
    size_t allowed = len / 3 > 2 ? len / 3 : 2;
    return best_d <= allowed ? best : NULL;
}

/* Plain concatenation, truncating: key paths are short, and snprintf with two %s
 * into a fixed buffer trips -Wformat-truncation at every call site. */
static size_t put(char *buf, size_t n, size_t o, const char *s)
{
    size_t len = strlen(s);
    if (o + 1 >= n) return o;
    if (len > n - 1 - o) len = n - 1 - o;
    memcpy(buf + o, s, len);
    buf[o + len] = '\0';
    return o + len;
}

const char *scn__join(char *buf, size_t n, const char *prefix, const char *key)
{
    size_t o = 0;
    buf[0] = '\0';
    if (prefix && *prefix) {
        o = put(buf, n, o, prefix);
        o = put(buf, n, o, ".");
    }
    put(buf, n, o, key);
    return buf;
}

const char *scn__index(char *buf, size_t n, const char *prefix, size_t i)
{
    char idx[32];
    snprintf(idx, sizeof idx, "[%zu]", i);
    buf[0] = '\0';
    size_t o = put(buf, n, 0, prefix);
    put(buf, n, o, idx);
    return buf;
}
