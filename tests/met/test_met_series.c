/* test_met_series.c — the sampler: rows only when due, rates from cumulative counters, process columns, CSV. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "met_series.h"

#define MS INT64_C(1000000)

static const met_series_counter counters[] = {
    {"msgs", MET_SERIES_RATE},
    {"links", MET_SERIES_GAUGE},
};

static met_series *make(pid_t pid)
{
    static const char *const groups[] = {"link", "app"};
    met_series_cfg cfg;
    met_series_cfg_defaults(&cfg);
    cfg.pid = pid;
    cfg.groups = groups;
    cfg.ngroups = 2;
    cfg.counters = counters;
    cfg.ncounters = 2;
    met_series *s = met_series_create(&cfg);
    cr_assert_not_null(s);
    return s;
}

Test(met_series, rows_when_due_with_rates_and_gauges)
{
    met_series *s = make(-1);
    int64_t v[2] = {0, 10};
    cr_assert_eq(met_series_sample(s, 1000 * MS, v), 0);   /* baseline */
    v[0] = 100;
    cr_assert_eq(met_series_sample(s, 1250 * MS, v), 1);
    v[0] = 150;
    cr_assert_eq(met_series_sample(s, 1300 * MS, v), 0);   /* not due */
    v[0] = 300;
    v[1] = 12;
    cr_assert_eq(met_series_sample(s, 1480 * MS, v), 1);   /* 230 ms: early timer, still due */
    cr_assert_eq(met_series_rows(s), 2);
    cr_assert_float_eq(met_series_value(s, 0, "t_s"), 0.25, 1e-9);
    cr_assert_float_eq(met_series_value(s, 0, "msgs_per_s"), 400, 1e-9);
    cr_assert_float_eq(met_series_value(s, 0, "links"), 10, 1e-9);
    cr_assert_float_eq(met_series_value(s, 1, "t_s"), 0.48, 1e-9);
    cr_assert_float_eq(met_series_value(s, 1, "msgs_per_s"), 200 / 0.23, 1e-6);
    cr_assert_float_eq(met_series_value(s, 1, "links"), 12, 1e-9);
    cr_assert(isnan(met_series_value(s, 1, "threads")));   /* no process: no column */
    cr_assert(isnan(met_series_value(s, 2, "t_s")));
    met_series_destroy(s);
}

Test(met_series, process_columns_and_csv_header)
{
    met_series *s = make(0);
    int64_t v[2] = {0, 1};
    met_series_sample(s, 0, v);
    for (int k = 1; k <= 3; k++) {
        v[0] += 1000;
        cr_assert_eq(met_series_sample(s, k * 250 * MS, v), 1);
    }
    cr_assert_eq(met_series_rows(s), 3);
    cr_assert_geq(met_series_value(s, 2, "threads"), 1);
    cr_assert_gt(met_series_value(s, 2, "rss_bytes"), 0);
    cr_assert_geq(met_series_value(s, 2, "cpu_server_pct"), 0);
    cr_assert_geq(met_series_value(s, 2, "cpu_link_pct"), 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(met_series_write_csv(s, f), 0);
    fclose(f);
    const char *header = "t_s,msgs_per_s,links,threads,rss_bytes,cpu_server_pct,cpu_link_pct,cpu_app_pct\n";
    cr_assert_eq(strncmp(buf, header, strlen(header)), 0, "%s", buf);
    int lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 4);
    cr_assert(strstr(buf, "\n0.250,4000,1,"), "%s", buf);
    free(buf);
    met_series_destroy(s);
}

Test(met_series, invalid_config_is_refused)
{
    met_series_cfg cfg;
    met_series_cfg_defaults(&cfg);
    cfg.period_ns = 0;
    cr_assert_null(met_series_create(&cfg));
}
