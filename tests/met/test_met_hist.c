/* test_met_hist.c — the histogram: percentiles, exact min/max, overflow, merge, JSON round trip, iteration. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "met_hist.h"

static met_hist *uniform_1_to_1m(void)
{
    met_hist *h = met_hist_create();
    cr_assert_not_null(h);
    for (int64_t v = 1; v <= 1000000; v++)
        cr_assert(met_hist_record(h, v));
    return h;
}

static void assert_within_tenth_percent(int64_t got, double want)
{
    cr_assert(fabs((double)got - want) <= want * 0.001, "got %lld, want %.0f +- 0.1 %%",
              (long long)got, want);
}

Test(met_hist, uniform_percentiles_within_a_tenth_of_a_percent)
{
    met_hist *h = uniform_1_to_1m();
    cr_assert_eq(met_hist_count(h), 1000000);
    const double ps[] = {1, 10, 25, 50, 75, 90, 99, 99.9, 99.99};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++)
        assert_within_tenth_percent(met_hist_percentile(h, ps[k]), ps[k] * 10000.0);
    assert_within_tenth_percent(met_hist_percentile(h, 100), 1000000);
    assert_within_tenth_percent((int64_t)met_hist_mean(h), 500000.5);
    met_hist_destroy(h);
}

Test(met_hist, percentile_is_highest_equivalent_value_capped_at_max)
{
    met_hist *h = met_hist_create();
    /* 3000 lies in a 2-ns slot [3000, 3001]; 10 001 in an 8-ns slot [10000, 10007] */
    met_hist_record_n(h, 3000, 9);
    met_hist_record(h, 10001);
    cr_assert_eq(met_hist_percentile(h, 50), 3001);
    cr_assert_eq(met_hist_percentile(h, 90), 3001);
    cr_assert_eq(met_hist_percentile(h, 99), 10001);   /* slot top 10007 capped at max */
    cr_assert_eq(met_hist_percentile(h, 0), 3000);
    met_hist_destroy(h);
}

Test(met_hist, min_and_max_are_exact)
{
    met_hist *h = met_hist_create();
    cr_assert_eq(met_hist_min(h), 0);
    cr_assert_eq(met_hist_max(h), 0);
    cr_assert_eq(met_hist_percentile(h, 50), 0);
    met_hist_record(h, 123457);
    met_hist_record(h, 98765431);
    met_hist_record(h, 5000001);
    cr_assert_eq(met_hist_min(h), 123457);
    cr_assert_eq(met_hist_max(h), 98765431);
    met_hist_destroy(h);
}

Test(met_hist, out_of_range_is_counted_in_overflow)
{
    met_hist *h = met_hist_create();
    cr_assert_not(met_hist_record(h, -1));
    cr_assert_not(met_hist_record(h, INT64_C(138) * 1000000000));
    cr_assert_not(met_hist_record_n(h, INT64_C(1) << 37, 5));
    cr_assert(met_hist_record(h, (INT64_C(1) << 37) - 1));   /* the top is in range */
    cr_assert(met_hist_record(h, 0));
    cr_assert_eq(met_hist_overflow(h), 7);
    cr_assert_eq(met_hist_count(h), 2);
    cr_assert_eq(met_hist_max(h), (INT64_C(1) << 37) - 1);
    cr_assert_eq(met_hist_min(h), 0);
    met_hist_destroy(h);
}

Test(met_hist, merge_equals_recording_both)
{
    met_hist *a = met_hist_create(), *b = met_hist_create(), *both = met_hist_create();
    srand(7);
    for (int k = 0; k < 200000; k++) {
        int64_t v = ((int64_t)rand() << 8) % (INT64_C(1) << 36);
        met_hist_record(k % 3 ? a : b, v);
        met_hist_record(both, v);
    }
    met_hist_record(b, -5);
    met_hist_record(both, -5);
    met_hist_merge(a, b);
    cr_assert_eq(met_hist_count(a), met_hist_count(both));
    cr_assert_eq(met_hist_overflow(a), 1);
    cr_assert_eq(met_hist_min(a), met_hist_min(both));
    cr_assert_eq(met_hist_max(a), met_hist_max(both));
    json_t *ja = met_hist_to_json(a), *jb = met_hist_to_json(both);
    cr_assert(json_equal(ja, jb));
    for (double p = 0.5; p <= 100; p += 0.5)
        cr_assert_eq(met_hist_percentile(a, p), met_hist_percentile(both, p));
    json_decref(ja);
    json_decref(jb);
    met_hist_destroy(a);
    met_hist_destroy(b);
    met_hist_destroy(both);
}

Test(met_hist, merge_into_empty_and_from_empty)
{
    met_hist *a = met_hist_create(), *e = met_hist_create();
    met_hist_merge(a, e);
    cr_assert_eq(met_hist_count(a), 0);
    cr_assert_eq(met_hist_min(a), 0);
    met_hist_record(e, 42);
    met_hist_merge(a, e);
    cr_assert_eq(met_hist_min(a), 42);
    cr_assert_eq(met_hist_max(a), 42);
    met_hist_destroy(a);
    met_hist_destroy(e);
}

Test(met_hist, json_round_trip_is_identical)
{
    met_hist *h = uniform_1_to_1m();
    met_hist_record_n(h, 77777777777, 3);
    met_hist_record(h, -2);
    json_t *j = met_hist_to_json(h);
    char *text = json_dumps(j, JSON_COMPACT);
    json_t *parsed = json_loads(text, 0, NULL);
    met_hist *back = met_hist_from_json(parsed);
    cr_assert_not_null(back);
    cr_assert_eq(met_hist_count(back), met_hist_count(h));
    cr_assert_eq(met_hist_overflow(back), 1);
    cr_assert_eq(met_hist_min(back), 1);
    cr_assert_eq(met_hist_max(back), 77777777777);
    int c1 = 0, c2 = 0;
    int64_t v1, n1, v2, n2;
    while (met_hist_next(h, &c1, &v1, &n1)) {
        cr_assert(met_hist_next(back, &c2, &v2, &n2));
        cr_assert_eq(v1, v2);
        cr_assert_eq(n1, n2);
    }
    cr_assert_not(met_hist_next(back, &c2, &v2, &n2));
    json_t *again = met_hist_to_json(back);
    cr_assert(json_equal(j, again));
    free(text);
    json_decref(j);
    json_decref(parsed);
    json_decref(again);
    met_hist_destroy(h);
    met_hist_destroy(back);
}

Test(met_hist, from_json_refuses_malformed_input)
{
    const char *bad[] = {
        "{}",
        "{\"counts\": [[99999999, 1]], \"overflow\": 0, \"min\": 0, \"max\": 0}",
        "{\"counts\": [[5, -1]], \"overflow\": 0, \"min\": 5, \"max\": 5}",
        "{\"counts\": [[5, 1]], \"overflow\": 0, \"min\": 9, \"max\": 9}",
        "{\"counts\": [5], \"overflow\": 0, \"min\": 5, \"max\": 5}",
        "{\"counts\": [], \"overflow\": -1, \"min\": 0, \"max\": 0}",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        json_t *j = json_loads(bad[k], 0, NULL);
        cr_assert_not_null(j, "case %zu", k);
        cr_assert_null(met_hist_from_json(j), "case %zu accepted", k);
        json_decref(j);
    }
}

Test(met_hist, iteration_covers_every_count_in_ascending_order)
{
    met_hist *h = met_hist_create();
    int64_t want = 0;
    for (int64_t v = 0; v < (INT64_C(1) << 37); v = v * 3 + 1) {
        met_hist_record_n(h, v, v % 5 + 1);
        want += v % 5 + 1;
    }
    int cur = 0, buckets = 0;
    int64_t value, n, sum = 0, prev = -1;
    while (met_hist_next(h, &cur, &value, &n)) {
        cr_assert_gt(value, prev);
        cr_assert_gt(n, 0);
        prev = value;
        sum += n;
        buckets++;
    }
    cr_assert_eq(sum, want);
    cr_assert_eq(sum, met_hist_count(h));
    cr_assert_gt(buckets, 20);
    cr_assert_geq(prev, met_hist_max(h));
    met_hist_destroy(h);
}

Test(met_hist, reset_empties_everything)
{
    met_hist *h = uniform_1_to_1m();
    met_hist_record(h, -1);
    met_hist_reset(h);
    cr_assert_eq(met_hist_count(h), 0);
    cr_assert_eq(met_hist_overflow(h), 0);
    cr_assert_eq(met_hist_max(h), 0);
    int cur = 0;
    int64_t v, n;
    cr_assert_not(met_hist_next(h, &cur, &v, &n));
    met_hist_destroy(h);
}
