/* chk_junit.c — JUnit XML for CI systems (Jenkins/Surefire layout: testsuites > testsuite > testcase with failure, error or skipped), and the summary JSON writer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "chk_junit.h"
#include "lb_file.h"

struct jcase {
    char *classname, *name, *message, *detail;
    enum chk_case st;
};
struct jsuite {
    char *name;
    struct jcase *c;
    int n, cap;
};
struct chk_junit {
    char *name;
    struct jsuite *s;
    int n, cap;
    double seconds;
};

chk_junit *chk_junit_create(const char *name)
{
    chk_junit *j = calloc(1, sizeof *j);
    if (j && !(j->name = strdup(name))) {
        free(j);
        return NULL;
    }
    return j;
}

void chk_junit_destroy(chk_junit *j)
{
    if (!j)
        return;
    for (int i = 0; i < j->n; i++) {
        for (int k = 0; k < j->s[i].n; k++) {
            struct jcase *c = &j->s[i].c[k];
            free(c->classname);
            free(c->name);
            free(c->message);
            free(c->detail);
        }
        free(j->s[i].c);
        free(j->s[i].name);
    }
    free(j->s);
    free(j->name);
    free(j);
}

void chk_junit_set_time(chk_junit *j, double seconds)
{
    j->seconds = seconds;
}

static struct jsuite *suite_get(chk_junit *j, const char *name)
{
    for (int i = 0; i < j->n; i++)
        if (!strcmp(j->s[i].name, name))
            return &j->s[i];
    if (j->n == j->cap) {
        int cap = j->cap ? 2 * j->cap : 8;
        struct jsuite *s = realloc(j->s, (size_t)cap * sizeof *s);
        if (!s)
            return NULL;
        j->s = s;
        j->cap = cap;
    }
    struct jsuite *s = &j->s[j->n];
    memset(s, 0, sizeof *s);
    if (!(s->name = strdup(name)))
        return NULL;
    j->n++;
    return s;
}

int chk_junit_add(chk_junit *j, const char *suite, const char *classname, const char *name,
                  enum chk_case st, const char *message, const char *detail)
{
    struct jsuite *s = suite_get(j, suite);
    if (!s)
        return -ENOMEM;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        struct jcase *c = realloc(s->c, (size_t)cap * sizeof *c);
        if (!c)
            return -ENOMEM;
        s->c = c;
        s->cap = cap;
    }
    struct jcase *c = &s->c[s->n];
    *c = (struct jcase){.classname = strdup(classname), .name = strdup(name), .st = st,
                        .message = message ? strdup(message) : NULL,
                        .detail = detail ? strdup(detail) : NULL};
    if (!c->classname || !c->name || (message && !c->message) || (detail && !c->detail)) {
        free(c->classname);
        free(c->name);
        free(c->message);
        free(c->detail);
        return -ENOMEM;
    }
    s->n++;
    return 0;
}

/* XML text or attribute value: the five entities; control characters XML 1.0 forbids
 * become '?' (a tab and a newline stay). */
static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            fputc(ch < 0x20 && ch != '\t' && ch != '\n' ? '?' : ch, f);
        }
    }
}

static void counts(const struct jsuite *s, int *fail, int *err, int *skip)
{
    for (int k = 0; k < s->n; k++) {
        *fail += s->c[k].st == CHK_CASE_FAIL;
        *err += s->c[k].st == CHK_CASE_ERROR;
        *skip += s->c[k].st == CHK_CASE_SKIP;
    }
}

static void write_case(FILE *f, const struct jcase *c)
{
    fputs("    <testcase classname=\"", f);
    esc(f, c->classname);
    fputs("\" name=\"", f);
    esc(f, c->name);
    fputs("\" time=\"0\"", f);
    static const char *const el[] = {NULL, "failure", "error", "skipped"};
    static const char *const type[] = {NULL, "regression", "run_failed", NULL};
    if (c->st == CHK_CASE_PASS && !c->detail) {
        fputs("/>\n", f);
        return;
    }
    fputs(">\n", f);
    if (c->st != CHK_CASE_PASS) {
        fprintf(f, "      <%s message=\"", el[c->st]);
        esc(f, c->message ? c->message : "");
        fputc('"', f);
        if (type[c->st])
            fprintf(f, " type=\"%s\"", type[c->st]);
        if (c->detail) {
            fputc('>', f);
            esc(f, c->detail);
            fprintf(f, "</%s>\n", el[c->st]);
        } else
            fputs("/>\n", f);
    } else {
        fputs("      <system-out>", f);
        esc(f, c->detail);
        fputs("</system-out>\n", f);
    }
    fputs("    </testcase>\n", f);
}

int chk_junit_write(const chk_junit *j, const char *path, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    int tests = 0, fail = 0, errs = 0, skip = 0;
    for (int i = 0; i < j->n; i++) {
        tests += j->s[i].n;
        counts(&j->s[i], &fail, &errs, &skip);
    }
    char ts[32], host[256] = "localhost";
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    if (gethostname(host, sizeof host) < 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"", f);
    esc(f, j->name);
    fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\">\n",
            tests, fail, errs, skip, j->seconds);
    for (int i = 0; i < j->n; i++) {
        const struct jsuite *s = &j->s[i];
        int sf = 0, se = 0, ss = 0;
        counts(s, &sf, &se, &ss);
        fputs("  <testsuite name=\"", f);
        esc(f, s->name);
        fprintf(f, "\" tests=\"%d\" failures=\"%d\" errors=\"%d\" skipped=\"%d\" time=\"%.3f\" "
                "timestamp=\"%s\" hostname=\"", s->n, sf, se, ss, j->seconds, ts);
        esc(f, host);
        fputs("\">\n", f);
        for (int k = 0; k < s->n; k++)
            write_case(f, &s->c[k]);
        fputs("  </testsuite>\n", f);
    }
    fputs("</testsuites>\n", f);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    int rc = lb_write_atomic(path, buf, len, err, errlen);
    free(buf);
    return rc;
}

int chk_json_write(const void *json, const char *path, char *err, size_t errlen)
{
    char *s = json_dumps((const json_t *)json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!s) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    size_t len = strlen(s);
    char *t = realloc(s, len + 2);
    if (!t) {
        free(s);
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    t[len++] = '\n';
    t[len] = 0;
    int rc = lb_write_atomic(path, t, len, err, errlen);
    free(t);
    return rc;
}
