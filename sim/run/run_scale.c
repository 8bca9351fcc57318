/* run_scale.c — scale metrics per run (kernel socket memory, CPU per link-second, time to establish) and the per-step files steps.json and scale.csv. */
#include "run_scale.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_file.h"
#include "met_proc.h"
#include "rep_report.h"

/* The slab caches a TCP socket lives in: the sock itself, its inode, its struct file,
 * and its epoll registration (event loops and the driver). Dentries are left out: the
 * file system moves them far more than sockets do. */
static const char *const slab_caches[] = {"TCP", "sock_inode_cache", "filp", "eventpoll_epi"};

static int64_t slab_bytes(void)
{
    FILE *f = fopen("/proc/slabinfo", "r");
    if (!f)
        return 0;
    char line[512];
    int64_t sum = 0;
    while (fgets(line, sizeof line, f)) {
        char name[64];
        long long active, total, size;
        if (sscanf(line, "%63s %lld %lld %lld", name, &active, &total, &size) != 4)
            continue;
        for (size_t i = 0; i < sizeof slab_caches / sizeof *slab_caches; i++)
            if (!strcmp(name, slab_caches[i]))
                sum += active * size;
    }
    fclose(f);
    return sum;
}

void run_kmem_read(run_kmem *k)
{
    memset(k, 0, sizeof *k);
    k->ok = met_proc_tcp_mem_bytes(&k->buf_bytes) == 0;
    k->slab_bytes = slab_bytes();
}

static double num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void set_num(json_t *m, const char *k, double v)
{
    if (isfinite(v))
        json_object_set_new(m, k, json_real(v));
}

void run_scale_add(json_t *run, const struct drv_result *dr, const run_kmem *k0,
                   const run_kmem *k1, int server_processes, int driver_processes)
{
    json_t *m = json_object_get(run, "metrics");
    if (!m)
        return;
    double links = num(m, "links");
    if (dr && dr->establish_ns >= 0)
        set_num(m, "establish_s", dr->establish_ns / 1e9);
    double win_s = dr && dr->measure_ns > 0 ? dr->measure_ns / 1e9 : NAN;
    if (links > 0)
        set_num(m, "cpu_per_link_s", num(m, "cpu_server_s") / (links * win_s));
    if (links > 0 && k0 && k1 && k0->ok && k1->ok) {
        double buf = (double)(k1->buf_bytes - k0->buf_bytes) / links;
        double slab = (double)(k1->slab_bytes - k0->slab_bytes) / links;
        /* the slab objects are what an idle socket costs, and only sockets make them;
         * sockstat's buffer pages move with every busy socket on the machine (other
         * runs' traffic swings them by MBs), so they stay beside it, not in it, unless
         * slabinfo cannot be read (not root) */
        set_num(m, "sock_mem_per_link_bytes", k1->slab_bytes > 0 ? slab : buf);
        set_num(m, "sock_buf_per_link_bytes", buf);
        set_num(m, "sock_slab_per_link_bytes", slab);
    }
    json_object_set_new(m, "server_processes", json_integer(server_processes));
    json_object_set_new(m, "driver_processes", json_integer(driver_processes));
}

/* ---------------------------------------------------------------- per step files */

static const char *const step_metrics[] = {
    "links", "threads_peak", "threads_per_link", "rss_peak_bytes", "rss_per_link_bytes",
    "sock_mem_per_link_bytes", "sock_buf_per_link_bytes", "sock_slab_per_link_bytes",
    "cpu_server_s", "cpu_per_link_s", "wakeups_per_link_s", "establish_s", "msgs_lost",
    "server_processes", "driver_processes", NULL};

/* Why a variant held fewer links, or why its runs do not count: the limit the run
 * named, else the first invalid reason of one of its runs. NULL when none. */
static const char *limit_reason(const json_t *rep, const char *v)
{
    const json_t *fv = json_object_get(json_object_get(json_object_get(rep, "flags"), "variants"), v);
    const char *lim = json_string_value(json_object_get(fv, "limit_reached"));
    if (lim)
        return lim;
    size_t i;
    const json_t *run;
    json_array_foreach(json_object_get(rep, "runs"), i, run) {
        const char *rv = json_string_value(json_object_get(run, "variant"));
        const json_t *why = json_object_get(json_object_get(run, "flags"), "invalid_reasons");
        if (rv && !strcmp(rv, v) && json_array_size(why) > 0)
            return json_string_value(json_array_get(why, 0));
        lim = json_string_value(json_object_get(json_object_get(run, "flags"), "limit_reached"));
        if (rv && !strcmp(rv, v) && lim)
            return lim;
    }
    return NULL;
}

static double med(const json_t *sum, const char *metric)
{
    return num(json_object_get(sum, metric), "median");
}

static void csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, ",%.6g", v);
    else
        fputs(",", f);   /* empty: not measured (gnuplot skips it) */
}

/* RFC 4180: quoted, inner quotes doubled (reasons hold commas). */
static void csv_str(FILE *f, const char *s)
{
    fputs(",\"", f);
    for (; s && *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
    fputc('"', f);
}

static json_t *step_summary(const json_t *rep)
{
    json_t *out = json_object();
    const char *v;
    const json_t *sum;
    json_object_foreach(json_object_get(rep, "summary"), v, sum) {
        json_t *o = json_object();
        for (int i = 0; step_metrics[i]; i++) {
            const json_t *x = json_object_get(sum, step_metrics[i]);
            if (x)
                json_object_set(o, step_metrics[i], (json_t *)x);
        }
        const char *lim = limit_reason(rep, v);
        json_object_set_new(o, "limit_reached", lim ? json_string(lim) : json_null());
        json_object_set_new(out, v, o);
    }
    return out;
}

int run_scale_write(const char *dir, const int64_t *steps, int n_steps, char *err,
                    size_t errlen)
{
    json_t *arr = json_array();
    char *csv = NULL;
    size_t csv_len = 0;
    FILE *f = open_memstream(&csv, &csv_len);
    if (!arr || !f) {
        json_decref(arr);
        if (f)
            fclose(f);
        free(csv);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    fputs("variant,links,threads,rss_per_link_bytes,sock_mem_per_link_bytes,cpu_per_link_s,"
          "establish_s,held,limit_reason\n", f);
    for (int i = 0; i < n_steps; i++) {
        char rel[64], path[4200];
        snprintf(rel, sizeof rel, "links_%lld/report.json", (long long)steps[i]);
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        json_t *rep = json_load_file(path, 0, NULL);
        if (!rep)
            continue;
        json_t *sum = step_summary(rep);
        json_array_append_new(arr, json_pack("{s:I,s:s,s:O,s:O,s:o}", "links",
                              (json_int_t)steps[i], "report", rel, "valid",
                              json_object_get(rep, "valid") ? json_object_get(rep, "valid") : json_false(),
                              "partial", json_object_get(rep, "partial") ? json_object_get(rep, "partial") : json_false(),
                              "summary", sum));
        const char *v;
        const json_t *s;
        json_object_foreach(json_object_get(rep, "summary"), v, s) {
            fprintf(f, "%s,%lld", v, (long long)steps[i]);
            csv_num(f, med(s, "threads_peak"));
            csv_num(f, med(s, "rss_per_link_bytes"));
            csv_num(f, med(s, "sock_mem_per_link_bytes"));
            csv_num(f, med(s, "cpu_per_link_s"));
            csv_num(f, med(s, "establish_s"));
            csv_num(f, med(s, "links"));
            csv_str(f, limit_reason(rep, v));
            fputc('\n', f);
        }
        json_decref(rep);
    }
    fclose(f);
    json_t *doc = json_pack("{s:i,s:o}", "format", 1, "steps", arr);
    char path[4200];
    snprintf(path, sizeof path, "%s/steps.json", dir);
    int rc = doc ? rep_report_write(doc, path, err, errlen) : -ENOMEM;
    json_decref(doc);
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/scale.csv", dir);
        rc = lb_write_atomic(path, csv, csv_len, err, errlen);
    }
    free(csv);
    return rc;
}
