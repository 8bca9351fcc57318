/* rep_html.c — the static HTML report: report.md rendered to HTML (a small markdown subset) and PNG charts embedded as base64 data: URIs. */
#include "rep_html.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chk.h"
#include "rep_md.h"
#include "rep_plot.h"

#define PATH_BYTES 4096

/* dir/name into out; a path too long to hold is refused, never silently cut. */
static int join(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len) {
        out[0] = 0;
        return -ENAMETOOLONG;
    }
    return 0;
}

static void esc(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i]; i++) {
        char c = s[i];
        if (c == '&')
            fputs("&amp;", f);
        else if (c == '<')
            fputs("&lt;", f);
        else if (c == '>')
            fputs("&gt;", f);
        else if (c == '"')
            fputs("&quot;", f);
        else
            fputc(c, f);
    }
}

/* Inline markup: **bold** and `code`, the rest escaped. */
static void inline_md(FILE *f, const char *s, size_t n)
{
    bool bold = false;
    size_t i = 0;
    while (i < n) {
        if (s[i] == '`') {
            const char *e = memchr(s + i + 1, '`', n - i - 1);
            if (e) {
                fputs("<code>", f);
                esc(f, s + i + 1, (size_t)(e - s - i - 1));
                fputs("</code>", f);
                i = (size_t)(e - s) + 1;
                continue;
            }
        }
        if (i + 1 < n && s[i] == '*' && s[i + 1] == '*') {
            fputs(bold ? "</strong>" : "<strong>", f);
            bold = !bold;
            i += 2;
            continue;
        }
        esc(f, s + i, 1);
        i++;
    }
    if (bold)
        fputs("</strong>", f);
}

/* One table row: "| a | b |" -> cells; align from the separator row. */
static void row(FILE *f, const char *line, size_t n, const char *tag, const bool *right)
{
    fputs("<tr>", f);
    const char *p = line, *end = line + n;
    if (p < end && *p == '|')
        p++;
    int c = 0;
    while (p < end) {
        const char *q = memchr(p, '|', (size_t)(end - p));
        if (!q)
            q = end;
        const char *a = p, *b = q;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (q == end && a == b)
            break;
        fprintf(f, "<%s%s>", tag, right && c < 32 && right[c] ? " class=\"num\"" : "");
        inline_md(f, a, (size_t)(b - a));
        fprintf(f, "</%s>", tag);
        c++;
        p = q + 1;
    }
    fputs("</tr>\n", f);
}

int rep_html_markdown(FILE *f, const char *md)
{
    const char *p = md;
    bool in_p = false, in_ul = false, in_table = false;
    int trow = 0;
    bool right[32] = {0};
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        bool table = n > 0 && p[0] == '|', item = n > 1 && p[0] == '-' && p[1] == ' ';
        if (in_p && (n == 0 || table || item || p[0] == '#'))
            fputs("</p>\n", f), in_p = false;
        if (in_ul && !item)
            fputs("</ul>\n", f), in_ul = false;
        if (in_table && !table)
            fputs("</table>\n", f), in_table = false;
        if (n == 0) {
        } else if (p[0] == '#') {
            int lvl = 0;
            while (lvl < (int)n && p[lvl] == '#')
                lvl++;
            fprintf(f, "<h%d>", lvl + 1);
            inline_md(f, p + lvl + 1, n > (size_t)lvl ? n - (size_t)lvl - 1 : 0);
            fprintf(f, "</h%d>\n", lvl + 1);
        } else if (table) {
            if (!in_table)
                fputs("<table>\n", f), in_table = true, trow = 0;
            if (trow == 1) {   /* the separator row: alignment only */
                int c = -1;
                for (size_t i = 0; i < n; i++) {
                    if (p[i] == '|')
                        c++;
                    else if (p[i] == ':' && c >= 0 && c < 32)
                        right[c] = true;
                }
            } else
                row(f, p, n, trow == 0 ? "th" : "td", trow == 0 ? NULL : right);
            if (trow == 0)
                memset(right, 0, sizeof right);
            trow++;
        } else if (item) {
            if (!in_ul)
                fputs("<ul>\n", f), in_ul = true;
            fputs("<li>", f);
            inline_md(f, p + 2, n - 2);
            fputs("</li>\n", f);
        } else {
            fputs(in_p ? "\n" : "<p>", f);
            in_p = true;
            inline_md(f, p, n);
        }
        p += n + (nl ? 1 : 0);
    }
    if (in_p)
        fputs("</p>\n", f);
    if (in_ul)
        fputs("</ul>\n", f);
    if (in_table)
        fputs("</table>\n", f);
    return ferror(f) ? -EIO : 0;
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
    buf[n] = 0;
    *len = n;
    return buf;
}

/* <figure> with the PNG as a data: URI; nothing when the file does not exist. */
static void figure(FILE *f, const char *dir, const char *name, const char *caption)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char p[PATH_BYTES];
    join(p, sizeof p, dir, name);
    size_t n;
    unsigned char *d = (unsigned char *)slurp(p, &n);
    if (!d)
        return;
    fputs("<figure><img alt=\"", f);
    esc(f, caption, strlen(caption));
    fputs("\" src=\"data:image/png;base64,", f);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) |
                     (i + 2 < n ? d[i + 2] : 0);
        fputc(b64[v >> 18 & 63], f);
        fputc(b64[v >> 12 & 63], f);
        fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? b64[v & 63] : '=', f);
    }
    fputs("\"><figcaption>", f);
    esc(f, caption, strlen(caption));
    fputs("</figcaption></figure>\n", f);
    free(d);
}

static const char style[] =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:1200px;margin:1.5em auto;"
    "padding:0 1em;color:#222;line-height:1.45}"
    "table{border-collapse:collapse;margin:1em 0;font-size:0.86em}"
    "th,td{border:1px solid #ccc;padding:3px 7px;vertical-align:top}"
    "th{background:#f0f0f0}td.num{text-align:right;white-space:nowrap}"
    "tr:nth-child(even) td{background:#fafafa}code{background:#f4f4f4;padding:0 3px}"
    "figure{margin:1em 0}img{max-width:100%;border:1px solid #ddd}"
    "figcaption{font-size:0.85em;color:#555}section{border-top:2px solid #888;margin-top:2em}"
    "h2{margin-bottom:0.2em}";

static void dir_of(const char *path, char *out, size_t len)
{
    snprintf(out, len, "%s", path);
    char *s = strrchr(out, '/');
    if (s)
        *s = 0;
    else
        snprintf(out, len, ".");
}

int rep_html_write(FILE *out, char *const *dirs, int ndirs, FILE *err)
{
    char **paths = NULL, e[4600];
    int n = 0;
    for (int i = 0; i < ndirs; i++)
        if (rep_find_reports(dirs[i], &paths, &n, e, sizeof e) < 0)
            fprintf(err, "linkbench report: %s\n", e);
    if (n == 0) {
        rep_reports_free(paths, n);
        fprintf(err, "linkbench report: no report.json found\n");
        return -ENOENT;
    }
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>linkbench results</title><style>%s</style></head><body>\n"
            "<h1>linkbench results</h1>\n<p>%d report%s. Every number below is measured; "
            "the tables are medians over repetitions (ranges in each report.json). "
            "Charts: latency by percentile (x = 1/(1−p), log scale), drops, time series.</p>\n<ul>\n",
            style, n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++) {
        fprintf(out, "<li><a href=\"#r%d\">", i);
        esc(out, paths[i], strlen(paths[i]));
        fputs("</a></li>\n", out);
    }
    fputs("</ul>\n", out);
    char done[64][PATH_BYTES];
    int nd = 0;
    for (int i = 0; i < n; i++) {
        char dir[PATH_BYTES], md[PATH_BYTES + 16];
        dir_of(paths[i], dir, sizeof dir);
        join(md, sizeof md, dir, "report.md");
        size_t len;
        char *text = slurp(md, &len);
        if (!text) {   /* a report from before report.md existed */
            json_t *r = chk_load_report(paths[i], e, sizeof e);
            text = r ? rep_md_string(r) : NULL;
            json_decref(r);
        }
        fprintf(out, "<section id=\"r%d\">\n<p><small>", i);
        esc(out, paths[i], strlen(paths[i]));
        fputs("</small></p>\n", out);
        if (text)
            rep_html_markdown(out, text);
        else
            fputs("<p>report.md missing and report.json unreadable</p>\n", out);
        free(text);
        figure(out, dir, "lat_rtt.png", "round-trip latency by percentile");
        figure(out, dir, "lat_in.png", "client → app latency by percentile");
        figure(out, dir, "lat_out.png", "app → client latency by percentile");
        figure(out, dir, "drops.png", "messages dropped, refused and lost");
        figure(out, dir, "series.png", "one run per variant over time");
        /* a stepped scenario's parent holds its scale chart: once, after its last step */
        char gp[PATH_BYTES];
        dir_of(dir, gp, sizeof gp);
        bool last = i + 1 >= n || strncmp(paths[i + 1], gp, strlen(gp));
        bool seen = false;
        for (int k = 0; k < nd && !seen; k++)
            seen = !strcmp(done[k], gp);
        if (last && !seen && nd < 64) {
            snprintf(done[nd++], PATH_BYTES, "%s", gp);
            figure(out, gp, "scale.png", "cost of holding links, by links held");
        }
        fputs("</section>\n", out);
    }
    for (int i = 0; i < ndirs; i++)
        figure(out, dirs[i], "overview.png", "drops and lost per scenario and variant");
    fputs("</body></html>\n", out);
    rep_reports_free(paths, n);
    return ferror(out) ? -EIO : 0;
}
