/* rep_page_html.c — HTML pieces of the results page: escaping, links relative to the page, figures (linked or embedded), numbers with their units. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rep_md.h"
#include "rep_page_internal.h"

void pg_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

bool pg_exists(const char *dir, const char *name)
{
    char p[PG_PATH + 256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* Percent-encode what is not safe in a URL path segment. */
static void seg(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || c == '/' || c == '@')
            fputc(c, f);
        else
            fprintf(f, "%%%02X", c);
    }
}

void pg_href(FILE *f, const rep_pg *pg, const char *path)
{
    char abs[PATH_MAX];
    if (!realpath(path, abs)) {   /* not there: as given (the browser check will say) */
        seg(f, path, strlen(path));
        return;
    }
    /* the longest common directory prefix, then one ../ per directory left in the page's */
    const char *a = pg->page_dir, *b = abs;
    size_t common = 0, i = 0;
    while (a[i] && a[i] == b[i]) {
        if (a[i] == '/')
            common = i;
        i++;
    }
    if (!a[i] && (b[i] == '/' || !b[i]))
        common = i;   /* the page's directory is a prefix of the target */
    for (const char *p = a + common; *p; p++)
        if (*p == '/')
            fputs("../", f);
    const char *rest = b + common;
    if (*rest == '/')
        rest++;
    if (!*rest)
        rest = ".";
    seg(f, rest, strlen(rest));
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    do {
        if (n + 65536 > cap) {
            char *nb = realloc(buf, cap = cap * 2 + 65536);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
    } while (r > 0);
    fclose(f);
    *len = n;
    return buf;
}

static void base64(FILE *f, const unsigned char *d, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) |
                     (i + 2 < n ? d[i + 2] : 0);
        fputc(b64[v >> 18 & 63], f);
        fputc(b64[v >> 12 & 63], f);
        fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? b64[v & 63] : '=', f);
    }
}

bool pg_figure(FILE *f, const rep_pg *pg, const char *dir, const char *name, const char *caption)
{
    char png[PG_PATH + 256], svg[PG_PATH + 256];
    snprintf(png, sizeof png, "%s/%s", dir, name);
    if (access(png, R_OK) != 0)
        return false;
    /* the vector version for zooming in (on a phone the PNG is scaled down) */
    snprintf(svg, sizeof svg, "%s", png);
    size_t l = strlen(svg);
    if (l > 4 && !strcmp(svg + l - 4, ".png"))
        memcpy(svg + l - 4, ".svg", 4);
    fputs("<figure><a href=\"", f);
    pg_href(f, pg, access(svg, R_OK) == 0 ? svg : png);
    fputs("\"><img alt=\"", f);
    pg_esc(f, caption);
    fputs("\" src=\"", f);
    size_t n;
    unsigned char *d = pg->embed ? (unsigned char *)slurp(png, &n) : NULL;
    if (d) {
        fputs("data:image/png;base64,", f);
        base64(f, d, n);
        free(d);
    } else
        pg_href(f, pg, png);
    fputs("\"></a><figcaption>", f);
    pg_esc(f, caption);
    fputs("</figcaption></figure>\n", f);
    return true;
}

double pg_med(const json_t *report, const char *variant, const char *metric)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", metric);
    char *dot = strchr(buf, '.');
    if (dot)
        *dot = 0;
    const json_t *m = json_object_get(json_object_get(json_object_get(report, "summary"), variant), buf);
    if (dot)
        m = json_object_get(m, dot + 1);
    const json_t *x = json_object_get(m, "median");
    return json_is_number(x) ? json_number_value(x) : NAN;
}

/* Three significant digits: what the histograms resolve and what a reader compares. */
static void sig3(char *out, size_t len, double x)
{
    double a = fabs(x);
    if (a >= 100 || x == floor(x))
        snprintf(out, len, "%.0f", x);
    else if (a >= 10)
        snprintf(out, len, "%.1f", x);
    else if (a >= 1)
        snprintf(out, len, "%.2f", x);
    else
        snprintf(out, len, "%.3g", x);
}

void pg_num(char *out, size_t len, double x, enum pg_unit u)
{
    char b[48];
    if (!isfinite(x)) {
        snprintf(out, len, "–");
        return;
    }
    switch (u) {
    case PG_US:
        rep_md_lat(out, len, x);
        return;
    case PG_CPU_US:
        sig3(b, sizeof b, x);
        snprintf(out, len, "%s µs", b);
        return;
    case PG_BYTES:
        if (x >= 1048576)
            sig3(b, sizeof b, x / 1048576), snprintf(out, len, "%s MiB", b);
        else if (x >= 1024)
            sig3(b, sizeof b, x / 1024), snprintf(out, len, "%s KiB", b);
        else
            snprintf(out, len, "%.0f B", x);
        return;
    case PG_RATIO:
        snprintf(out, len, x != 0 && fabs(x) < 0.1 ? "%.3f" : "%.2f", x);
        return;
    case PG_RATE:
        sig3(out, len, x);
        return;
    case PG_COUNT:
        /* counts stay exact below a million: a lost message must read as 1, not 0 */
        if (fabs(x) >= 1e6)
            sig3(b, sizeof b, x / 1e6), snprintf(out, len, "%s M", b);
        else
            snprintf(out, len, "%.0f", x);
        return;
    }
}
