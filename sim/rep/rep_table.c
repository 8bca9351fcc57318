/* rep_table.c — the comparison table: variants as rows, medians with units, as text fitted to a terminal's width, markdown, or HTML. */
#include "rep_table.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CELL 64

typedef struct column {
    const char *title;
    const char *metric;   /* summary key; NULL for the variant name and the notes */
    const char *sub;      /* percentile key inside a latency metric */
    const char *censored; /* its censored twin: shown as ">=" that when some were undelivered */
    bool verdict;         /* a 0/1 metric shown as yes / no / some (over repetitions) */
} column;

static const column columns[] = {
    {"variant", NULL, NULL, NULL, false},
    {"threads/link", "threads_per_link", NULL, NULL, false},
    {"CPU/1k msgs (ms)", "cpu_ms_per_1k_msgs", NULL, NULL, false},
    {"in p50 (µs)", "lat_in_us", "p50", NULL, false},
    {"in p99 (µs)", "lat_in_us", "p99", "lat_in_censored_us", false},
    {"out p50 (µs)", "lat_out_us", "p50", NULL, false},
    {"out p99 (µs)", "lat_out_us", "p99", "lat_out_censored_us", false},
    {"drops", "msgs_dropped", NULL, NULL, false},
    {"in flight", "msgs_in_flight", NULL, NULL, false},
    {"lost", "msgs_lost", NULL, NULL, false},
    {"throughput (msg/s)", "throughput_msgs_s", NULL, NULL, false},
    {"kept up", "kept_up", NULL, NULL, true},
    {"notes", NULL, NULL, NULL, false},
};
#define NCOLS (sizeof columns / sizeof columns[0])
#define NOTES (NCOLS - 1)

/* Three significant digits is the precision the histograms have; counts print whole. */
static void format_number(char *out, const json_t *v)
{
    if (!json_is_number(v)) {
        snprintf(out, CELL, "-");
        return;
    }
    double x = json_number_value(v);
    double a = fabs(x);
    if (x == floor(x) || a >= 100)
        snprintf(out, CELL, "%.0f", x);
    else if (a >= 10)
        snprintf(out, CELL, "%.1f", x);
    else if (a >= 1)
        snprintf(out, CELL, "%.2f", x);
    else
        snprintf(out, CELL, "%.3g", x);
}

/* The caveats of a variant's figures, whole (never cut): a new string. */
static char *format_notes(const json_t *vflags)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int n = 0;
    if (json_is_false(json_object_get(vflags, "valid")))
        fprintf(f, "%sINVALID", n++ ? "; " : "");
    if (json_is_true(json_object_get(vflags, "driver_saturated")))
        fprintf(f, "%sdriver-saturated", n++ ? "; " : "");
    if (json_is_true(json_object_get(vflags, "partial")))
        fprintf(f, "%spartial", n++ ? "; " : "");
    const json_t *lim = json_object_get(vflags, "limit_reached");
    if (json_is_string(lim))
        fprintf(f, "%s%s", n++ ? "; " : "", json_string_value(lim));
    else if (json_is_array(lim)) {
        size_t i;
        const json_t *x;
        json_array_foreach(lim, i, x)
            fprintf(f, "%s%s", n++ ? "; " : "", json_string_value(x) ?: "?");
    }
    fclose(f);
    return buf;
}

/* Display width of UTF-8 text: code points, since every character here is one column. */
static size_t width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n && s[i]; i++)
        w += ((unsigned char)s[i] & 0xC0) != 0x80;
    return w;
}
#define WIDTH(s) width((s), (size_t)-1)

static int pad(FILE *f, const char *s, size_t n, size_t w, bool right)
{
    size_t sw = width(s, n);
    size_t fill = w > sw ? w - sw : 0;
    if (right && fprintf(f, "%*s", (int)fill, "") < 0)
        return -EIO;
    if (fwrite(s, 1, n, f) != n && n)
        return -EIO;
    if (!right && fprintf(f, "%*s", (int)fill, "") < 0)
        return -EIO;
    return 0;
}

typedef struct table {
    size_t rows;                 /* header included */
    char (*cell)[NCOLS][CELL];   /* every column but the notes */
    char **notes;                /* rows - 1 strings (may be "") */
} table;

static void table_free(table *t)
{
    for (size_t r = 0; t->notes && r + 1 < t->rows; r++)
        free(t->notes[r]);
    free(t->notes);
    free(t->cell);
}

static int table_fill(table *t, const json_t *report)
{
    const json_t *summary = json_object_get(report, "summary");
    const json_t *vflags = json_object_get(json_object_get(report, "flags"), "variants");
    memset(t, 0, sizeof *t);
    if (!json_is_object(summary))
        return -EINVAL;
    t->rows = json_object_size(summary) + 1;
    t->cell = calloc(t->rows, sizeof *t->cell);
    t->notes = calloc(t->rows, sizeof *t->notes);
    if (!t->cell || !t->notes) {
        table_free(t);
        return -ENOMEM;
    }
    for (size_t c = 0; c < NCOLS; c++)
        snprintf(t->cell[0][c], CELL, "%s", columns[c].title);
    size_t r = 1;
    const char *name;
    const json_t *s;
    json_object_foreach((json_t *)summary, name, s) {
        snprintf(t->cell[r][0], CELL, "%s", name);
        for (size_t c = 1; c < NOTES; c++) {
            const column *col = &columns[c];
            const json_t *m = json_object_get(s, col->metric);
            if (col->verdict) {
                const json_t *lo = json_object_get(m, "min"), *hi = json_object_get(m, "max");
                snprintf(t->cell[r][c], CELL, "%s", !json_is_number(lo) ? "-"
                         : json_number_value(lo) >= 1 ? "yes"
                         : json_number_value(hi) <= 0 ? "no" : "some");
                continue;
            }
            if (col->sub)
                m = json_object_get(m, col->sub);
            /* messages never delivered are a latency too: then the censored figure, a
             * lower bound, in place of the delivered-only one */
            const json_t *cz = col->censored ? json_object_get(s, col->censored) : NULL;
            const json_t *und = json_object_get(json_object_get(cz, "undelivered"), "median");
            if (json_is_number(und) && json_number_value(und) > 0) {
                char num[CELL];   /* a number: far shorter than a cell */
                format_number(num, json_object_get(json_object_get(cz, col->sub), "median"));
                snprintf(t->cell[r][c], CELL, "≥%.32s", num);
            } else {
                format_number(t->cell[r][c], json_object_get(m, "median"));
            }
        }
        t->notes[r - 1] = format_notes(json_object_get(vflags, name));
        if (!t->notes[r - 1]) {
            table_free(t);
            return -ENOMEM;
        }
        r++;
    }
    return 0;
}

/* ---------------------------------------------------------------- markdown, HTML */

static int print_markdown(FILE *f, const table *t)
{
    size_t w[NCOLS] = {0};
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < NCOLS; c++) {
            const char *s = c == NOTES && r ? t->notes[r - 1] : t->cell[r][c];
            w[c] = WIDTH(s) > w[c] ? WIDTH(s) : w[c];
        }
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t c = 0; c < NCOLS; c++) {
            const char *s = c == NOTES && r ? t->notes[r - 1] : t->cell[r][c];
            fputs(c ? " | " : "| ", f);
            pad(f, s, strlen(s), w[c], c > 0 && c < NOTES);
        }
        fputs(" |\n", f);
        if (r == 0) {
            for (size_t c = 0; c < NCOLS; c++) {
                bool right = c > 0 && c < NOTES;
                size_t dashes = w[c] > 3 ? w[c] : 3;
                fputs(c ? " | " : "| ", f);
                for (size_t k = 0; k < dashes; k++)
                    fputc(right && k + 1 == dashes ? ':' : '-', f);
            }
            fputs(" |\n", f);
        }
    }
    return ferror(f) ? -EIO : 0;
}

static void html_text(FILE *f, const char *s)
{
    for (; *s; s++)
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else
            fputc(*s, f);
}

static int print_html(FILE *f, const table *t)
{
    fputs("<table class=\"cmp\">\n<thead><tr>", f);
    for (size_t c = 0; c < NCOLS; c++) {
        fputs("<th scope=\"col\">", f);
        html_text(f, t->cell[0][c]);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (size_t r = 1; r < t->rows; r++) {
        fputs("<tr><th scope=\"row\">", f);
        html_text(f, t->cell[r][0]);
        fputs("</th>", f);
        for (size_t c = 1; c < NOTES; c++) {
            fputs("<td class=\"num\">", f);
            html_text(f, t->cell[r][c]);
            fputs("</td>", f);
        }
        fputs("<td>", f);
        html_text(f, t->notes[r - 1]);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
    return ferror(f) ? -EIO : 0;
}

/* ---------------------------------------------------------------- text */

/* The next line of s at most w columns wide, broken after a space when it can be (a
 * word longer than w is broken where it must). Returns its length in bytes; *next is
 * where the following line starts. */
static size_t wrap(const char *s, size_t w, const char **next)
{
    size_t n = strlen(s);
    if (WIDTH(s) <= w) {
        *next = s + n;
        return n;
    }
    size_t cols = 0, i = 0, brk = 0;
    while (i < n) {
        size_t k = i + 1;
        while (k < n && ((unsigned char)s[k] & 0xC0) == 0x80)
            k++;
        if (cols + 1 > w)
            break;
        cols++;
        if (s[i] == ' ' || s[i] == '/')
            brk = k;   /* a line may end after a space or a slash */
        i = k;
    }
    size_t len = brk ? brk : i ? i : 1;
    *next = s + len;
    while (**next == ' ')
        (*next)++;
    while (len > 0 && s[len - 1] == ' ')
        len--;
    return len;
}

/* Header lines of column c at width w: its title wrapped. Returns the count (<= 4). */
static int header_lines(const char *title, size_t w, const char **start, size_t *len)
{
    int k = 0;
    const char *p = title;
    while (*p && k < 4) {
        const char *next;
        len[k] = wrap(p, w, &next);
        start[k++] = p;
        p = next;
    }
    return k;
}

static size_t longest_word(const char *s)
{
    size_t best = 0;
    while (*s) {
        size_t n = strcspn(s, " /");
        size_t w = width(s, n) + (s[n] == '/');
        best = w > best ? w : best;
        s += n + (s[n] != 0);
    }
    return best;
}

static int print_text(FILE *f, const table *t, int cols)
{
    size_t w[NOTES], sep = 2, total = 0, notes_w = 0;
    bool wide = true;
    for (size_t c = 0; c < NOTES; c++) {
        w[c] = WIDTH(t->cell[0][c]);
        for (size_t r = 1; r < t->rows; r++)
            w[c] = WIDTH(t->cell[r][c]) > w[c] ? WIDTH(t->cell[r][c]) : w[c];
        total += w[c] + (c ? sep : 0);
    }
    for (size_t r = 1; r < t->rows; r++)
        notes_w = WIDTH(t->notes[r - 1]) > notes_w ? WIDTH(t->notes[r - 1]) : notes_w;
    if (notes_w)
        notes_w = notes_w > 5 ? notes_w : 5;
    if (cols > 0 && total + (notes_w ? sep + notes_w : 0) > (size_t)cols) {
        /* narrow: titles over several lines, each column as wide as its data or the
         * longest word of its title */
        wide = false;
        total = 0;
        for (size_t c = 0; c < NOTES; c++) {
            size_t d = 0;
            for (size_t r = 1; r < t->rows; r++)
                d = WIDTH(t->cell[r][c]) > d ? WIDTH(t->cell[r][c]) : d;
            size_t lw = longest_word(t->cell[0][c]);
            w[c] = d > lw ? d : lw;
            total += w[c] + (c ? sep : 0);
        }
        if (total > (size_t)cols) {
            sep = 1;
            total -= NOTES - 1;
        }
    }
    /* the notes: a column when at least 20 columns are left, else a line under the row */
    size_t room = cols > 0 && (size_t)cols > total + sep ? (size_t)cols - total - sep : 0;
    bool notes_col = notes_w && (cols <= 0 || room >= (notes_w < 20 ? notes_w : 20));
    size_t nw = !notes_w ? 0 : cols <= 0 ? notes_w : notes_col ? (room < notes_w ? room : notes_w) : 0;

    /* header */
    const char *hs[NCOLS][4];
    size_t hl[NCOLS][4];
    int nh[NCOLS], lines = 1;
    for (size_t c = 0; c < NCOLS; c++) {
        size_t cw = c == NOTES ? (nw ? nw : 5) : w[c];
        nh[c] = wide ? (hs[c][0] = t->cell[0][c], hl[c][0] = strlen(t->cell[0][c]), 1)
                     : header_lines(t->cell[0][c], cw, hs[c], hl[c]);
        lines = nh[c] > lines ? nh[c] : lines;
    }
    for (int k = 0; k < lines; k++) {
        for (size_t c = 0; c < NOTES + (notes_col ? 1 : 0); c++) {
            int off = lines - nh[c];   /* titles sit on the bottom line */
            const char *s = k >= off ? hs[c][k - off] : "";
            size_t n = k >= off ? hl[c][k - off] : 0;
            if (c)
                fprintf(f, "%*s", (int)sep, "");
            pad(f, s, n, c == NOTES ? 0 : w[c], c > 0 && c < NOTES);
        }
        fputc('\n', f);
    }
    for (size_t c = 0; c < NOTES + (notes_col ? 1 : 0); c++) {
        if (c)
            fprintf(f, "%*s", (int)sep, "");
        for (size_t k = 0; k < (c == NOTES ? nw : w[c]); k++)
            fputc('-', f);
    }
    fputc('\n', f);
    /* rows; wrapped notes continue under the notes column, or under the row */
    for (size_t r = 1; r < t->rows; r++) {
        const char *note = t->notes[r - 1], *next = note;
        for (size_t c = 0; c < NOTES; c++) {
            if (c)
                fprintf(f, "%*s", (int)sep, "");
            pad(f, t->cell[r][c], strlen(t->cell[r][c]), w[c], c > 0);
        }
        if (notes_col && *note) {
            size_t n = wrap(note, nw, &next);
            fprintf(f, "%*s", (int)sep, "");
            fwrite(note, 1, n, f);
        }
        fputc('\n', f);
        size_t indent = notes_col ? total + sep : 4;
        size_t avail = notes_col ? nw : cols > 8 ? (size_t)cols - 4 : 40;
        while (*next) {
            const char *p = next;
            size_t n = wrap(p, avail, &next);
            fprintf(f, "%*s", (int)indent, "");
            fwrite(p, 1, n, f);
            fputc('\n', f);
        }
    }
    return ferror(f) ? -EIO : 0;
}

int rep_table_print_width(FILE *f, const json_t *report, enum rep_table_fmt fmt, int cols)
{
    table t;
    int rc = table_fill(&t, report);
    if (rc < 0)
        return rc;
    if (fmt == REP_TABLE_MARKDOWN)
        rc = print_markdown(f, &t);
    else if (fmt == REP_TABLE_HTML)
        rc = print_html(f, &t);
    else {
        /* into memory first: the padding of empty cells leaves spaces at line ends */
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        rc = m ? print_text(m, &t, cols) : -ENOMEM;
        if (m)
            fclose(m);
        for (size_t i = 0, o = 0; rc == 0 && i <= len && buf; i++) {
            if (i == len || buf[i] == '\n') {
                size_t e = i;
                while (e > o && buf[e - 1] == ' ')
                    e--;
                if (fwrite(buf + o, 1, e - o, f) != e - o || (i < len && fputc('\n', f) == EOF))
                    rc = -EIO;
                o = i + 1;
            }
        }
        free(buf);
    }
    table_free(&t);
    return rc;
}

int rep_table_print(FILE *f, const json_t *report, enum rep_table_fmt fmt)
{
    return rep_table_print_width(f, report, fmt, 0);
}

char *rep_table_string(const json_t *report, enum rep_table_fmt fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int rc = rep_table_print(f, report, fmt);
    if (fclose(f) != 0 || rc < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

void rep_table_title(FILE *f, const json_t *report)
{
    const json_t *s = json_object_get(report, "scenario"), *c = json_object_get(report, "config");
    size_t nv = json_object_size(json_object_get(report, "summary"));
    json_int_t reps = json_integer_value(json_object_get(c, "repetitions"));
    fprintf(f, "== %s, %.0f links: %zu variant%s x %lld repetition%s, medians%s ==\n",
            json_string_value(json_object_get(s, "name")) ?: "?",
            json_number_value(json_object_get(s, "links")), nv, nv == 1 ? "" : "s",
            (long long)reps, reps == 1 ? "" : "s",
            json_is_false(json_object_get(report, "valid")) ? " (INVALID)" : "");
}
