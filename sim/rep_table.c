/* rep_table.c — the end-of-run comparison table: variants as rows, medians with units, aligned text or markdown. */
#include "rep_table.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CELL 96

typedef struct column {
    const char *title;
    const char *metric;   /* summary key; NULL for the variant name and the notes */
    const char *sub;      /* percentile key inside a latency metric */
} column;

static const column columns[] = {
    {"variant", NULL, NULL},
    {"threads/link", "threads_per_link", NULL},
    {"CPU/1k msgs (ms)", "cpu_ms_per_1k_msgs", NULL},
    {"in p50 (µs)", "lat_in_us", "p50"},
    {"in p99 (µs)", "lat_in_us", "p99"},
    {"out p50 (µs)", "lat_out_us", "p50"},
    {"out p99 (µs)", "lat_out_us", "p99"},
    {"drops", "msgs_dropped", NULL},
    {"lost", "msgs_lost", NULL},
    {"throughput (msg/s)", "throughput_msgs_s", NULL},
    {"notes", NULL, NULL},
};
#define NCOLS (sizeof columns / sizeof columns[0])

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

static void format_notes(char *out, const json_t *vflags)
{
    size_t used = 0;
    out[0] = '\0';
#define NOTE(...)                                                                   \
    do {                                                                            \
        int n_ = snprintf(out + used, CELL - used, "%s", used ? "; " : "");        \
        if (n_ > 0 && (size_t)n_ < CELL - used)                                     \
            used += (size_t)n_;                                                     \
        n_ = snprintf(out + used, CELL - used, __VA_ARGS__);                        \
        if (n_ > 0)                                                                 \
            used = used + (size_t)n_ < CELL ? used + (size_t)n_ : CELL - 1;         \
    } while (0)
    if (json_is_false(json_object_get(vflags, "valid")))
        NOTE("INVALID");
    if (json_is_true(json_object_get(vflags, "driver_saturated")))
        NOTE("driver-saturated");
    if (json_is_true(json_object_get(vflags, "partial")))
        NOTE("partial");
    const json_t *lim = json_object_get(vflags, "limit_reached");
    if (json_is_string(lim))
        NOTE("%s", json_string_value(lim));
    else if (json_is_array(lim) && json_array_size(lim) > 0)
        NOTE("%s (+%zu more)", json_string_value(json_array_get(lim, 0)), json_array_size(lim) - 1);
#undef NOTE
}

/* Display width of UTF-8 text: code points, since every character here is one column. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static int pad(FILE *f, const char *s, size_t w, bool right)
{
    size_t n = width(s);
    size_t fill = w > n ? w - n : 0;
    if (right && fprintf(f, "%*s", (int)fill, "") < 0)
        return -EIO;
    if (fputs(s, f) < 0)
        return -EIO;
    if (!right && fprintf(f, "%*s", (int)fill, "") < 0)
        return -EIO;
    return 0;
}

int rep_table_print(FILE *f, const json_t *report, enum rep_table_fmt fmt)
{
    const json_t *summary = json_object_get(report, "summary");
    const json_t *vflags = json_object_get(json_object_get(report, "flags"), "variants");
    if (!json_is_object(summary))
        return -EINVAL;
    size_t rows = json_object_size(summary) + 1;
    char (*cell)[NCOLS][CELL] = calloc(rows, sizeof *cell);
    if (!cell)
        return -ENOMEM;
    size_t w[NCOLS];
    for (size_t c = 0; c < NCOLS; c++)
        snprintf(cell[0][c], CELL, "%s", columns[c].title);
    size_t r = 1;
    const char *name;
    const json_t *s;
    json_object_foreach((json_t *)summary, name, s) {
        for (size_t c = 0; c < NCOLS; c++) {
            const column *col = &columns[c];
            if (c == 0)
                snprintf(cell[r][c], CELL, "%s", name);
            else if (!col->metric)
                format_notes(cell[r][c], json_object_get(vflags, name));
            else {
                const json_t *m = json_object_get(s, col->metric);
                if (col->sub)
                    m = json_object_get(m, col->sub);
                format_number(cell[r][c], json_object_get(m, "median"));
            }
        }
        r++;
    }
    for (size_t c = 0; c < NCOLS; c++) {
        w[c] = 0;
        for (r = 0; r < rows; r++)
            w[c] = width(cell[r][c]) > w[c] ? width(cell[r][c]) : w[c];
    }
    int rc = 0;
    bool md = fmt == REP_TABLE_MARKDOWN;
    for (r = 0; r < rows && rc == 0; r++) {
        for (size_t c = 0; c < NCOLS && rc == 0; c++) {
            bool right = c > 0 && c + 1 < NCOLS;   /* numbers right, text left */
            if (md && fputs(c ? " | " : "| ", f) < 0)
                rc = -EIO;
            else if (!md && c && fputs("  ", f) < 0)
                rc = -EIO;
            if (rc == 0)
                rc = pad(f, cell[r][c], w[c], right);
        }
        if (rc == 0 && fputs(md ? " |\n" : "\n", f) < 0)
            rc = -EIO;
        if (rc == 0 && r == 0) {
            /* text: a rule under the header; markdown: the alignment row */
            for (size_t c = 0; c < NCOLS && rc == 0; c++) {
                bool right = c > 0 && c + 1 < NCOLS;
                size_t dashes = w[c] > 3 ? w[c] : 3;
                if (md) {
                    if (fputs(c ? " | " : "| ", f) < 0)
                        rc = -EIO;
                    for (size_t k = 0; k < dashes && rc == 0; k++)
                        if (fputc(right && k + 1 == dashes ? ':' : '-', f) < 0)
                            rc = -EIO;
                } else {
                    if (c && fputs("  ", f) < 0)
                        rc = -EIO;
                    for (size_t k = 0; k < w[c] && rc == 0; k++)
                        if (fputc('-', f) < 0)
                            rc = -EIO;
                }
            }
            if (rc == 0 && fputs(md ? " |\n" : "\n", f) < 0)
                rc = -EIO;
        }
    }
    free(cell);
    return rc;
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
