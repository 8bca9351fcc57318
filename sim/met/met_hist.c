/* met_hist.c — HdrHistogram-style log-linear latency histogram (ns, 3 significant digits, 0..2^37-1 ns). */
#include "met_hist.h"

#include <stdlib.h>
#include <string.h>

#include "met_hist_layout.h"

struct met_hist {
    int64_t total;      /* in-range samples */
    int64_t overflow;   /* out-of-range samples: counted, never dropped */
    int64_t min, max;   /* exact, over in-range samples; min = INT64_MAX when empty */
    int max_index;      /* highest non-empty counter, -1 when empty: bounds scans */
    int min_index;      /* lowest non-empty counter, COUNTS_LEN when empty */
    int64_t counts[MET_HIST_COUNTS_LEN];   /* flat: record is one index computation */
};

met_hist *met_hist_create(void)
{
    met_hist *h = malloc(sizeof *h);
    if (h)
        met_hist_reset(h);
    return h;
}

void met_hist_destroy(met_hist *h)
{
    free(h);
}

void met_hist_reset(met_hist *h)
{
    memset(h->counts, 0, sizeof h->counts);
    h->total = 0;
    h->overflow = 0;
    h->min = INT64_MAX;
    h->max = 0;
    h->max_index = -1;
    h->min_index = MET_HIST_COUNTS_LEN;
}

bool met_hist_record_n(met_hist *h, int64_t v_ns, int64_t n)
{
    if (n <= 0)
        return n == 0;   /* a negative count is a caller bug: refuse it, record nothing */
    if (v_ns < 0 || v_ns > MET_HIST_HIGHEST) {
        h->overflow += n;
        return false;
    }
    int i = met_hist_index_of(v_ns);
    h->counts[i] += n;
    h->total += n;
    if (v_ns < h->min)
        h->min = v_ns;
    if (v_ns > h->max)
        h->max = v_ns;
    if (i > h->max_index)
        h->max_index = i;
    if (i < h->min_index)
        h->min_index = i;
    return true;
}

bool met_hist_record(met_hist *h, int64_t v_ns)
{
    return met_hist_record_n(h, v_ns, 1);
}

void met_hist_merge(met_hist *dst, const met_hist *src)
{
    for (int i = src->min_index; i <= src->max_index; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->overflow += src->overflow;
    if (src->total > 0) {
        if (src->min < dst->min)
            dst->min = src->min;
        if (src->max > dst->max)
            dst->max = src->max;
        if (src->max_index > dst->max_index)
            dst->max_index = src->max_index;
        if (src->min_index < dst->min_index)
            dst->min_index = src->min_index;
    }
}

int64_t met_hist_count(const met_hist *h)
{
    return h->total;
}

int64_t met_hist_overflow(const met_hist *h)
{
    return h->overflow;
}

int64_t met_hist_min(const met_hist *h)
{
    return h->total ? h->min : 0;
}

int64_t met_hist_max(const met_hist *h)
{
    return h->max;
}

/* Like HdrHistogram's getMean: each counter stands for the middle of its slot. The
 * error is bounded by the slot width (< 0.1 %), and it needs no running sum that could
 * overflow or break the exactness of the JSON round trip. */
double met_hist_mean(const met_hist *h)
{
    if (h->total == 0)
        return 0.0;
    double sum = 0.0;
    for (int i = h->min_index; i <= h->max_index; i++) {
        if (h->counts[i] == 0)
            continue;
        int64_t lo = met_hist_lowest_of_index(i);
        int64_t width = INT64_C(1) << met_hist_bucket_of_index(i);
        sum += (double)h->counts[i] * ((double)lo + (double)(width - 1) / 2.0);
    }
    return sum / (double)h->total;
}

/* HdrHistogram's valueAtPercentile: the smallest counter whose cumulative count reaches
 * round(p% of total), reported as that counter's highest equivalent value. One
 * deliberate difference: the answer is capped at the exact max (and p = 0 gives the
 * exact min), because the slot's top can lie above every recorded value and a p99.9
 * printed above "max" confuses readers. The cap stays inside the same slot, so the
 * HdrHistogram error bound still holds. */
int64_t met_hist_percentile(const met_hist *h, double p)
{
    if (h->total == 0)
        return 0;
    if (!(p > 0.0))
        return h->min;
    if (p > 100.0)
        p = 100.0;
    int64_t want = (int64_t)((p / 100.0) * (double)h->total + 0.5);
    if (want < 1)
        want = 1;
    int64_t seen = 0;
    for (int i = h->min_index; i <= h->max_index; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            int64_t v = met_hist_highest_of_index(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

bool met_hist_next(const met_hist *h, int *cursor, int64_t *value, int64_t *count)
{
    int i = *cursor < h->min_index ? h->min_index : *cursor;
    for (; i <= h->max_index; i++) {
        if (h->counts[i] != 0) {
            *value = met_hist_highest_of_index(i);
            *count = h->counts[i];
            *cursor = i + 1;
            return true;
        }
    }
    *cursor = MET_HIST_COUNTS_LEN;
    return false;
}

json_t *met_hist_to_json(const met_hist *h)
{
    json_t *counts = json_array();
    json_t *j = json_object();
    if (!counts || !j)
        goto fail;
    for (int i = h->min_index; i <= h->max_index; i++) {
        if (h->counts[i] == 0)
            continue;
        json_t *pair = json_pack("[I,I]", (json_int_t)i, (json_int_t)h->counts[i]);
        if (!pair || json_array_append_new(counts, pair) != 0)
            goto fail;
    }
    if (json_object_set_new(j, "counts", counts) != 0) {
        counts = NULL;
        goto fail;
    }
    counts = NULL;
    if (json_object_set_new(j, "overflow", json_integer(h->overflow)) != 0 ||
        json_object_set_new(j, "min", json_integer(met_hist_min(h))) != 0 ||
        json_object_set_new(j, "max", json_integer(h->max)) != 0)
        goto fail;
    return j;
fail:
    json_decref(counts);
    json_decref(j);
    return NULL;
}

/* Strict: anything inconsistent (bad index, non-positive count, min/max outside the
 * recorded slots) is refused, because a silently "repaired" histogram would make a
 * merged multi-driver result quietly wrong. */
met_hist *met_hist_from_json(const json_t *j)
{
    const json_t *counts = json_object_get(j, "counts");
    const json_t *ov = json_object_get(j, "overflow");
    const json_t *jmin = json_object_get(j, "min");
    const json_t *jmax = json_object_get(j, "max");
    if (!json_is_array(counts) || !json_is_integer(ov) || !json_is_integer(jmin) ||
        !json_is_integer(jmax) || json_integer_value(ov) < 0)
        return NULL;
    met_hist *h = met_hist_create();
    if (!h)
        return NULL;
    size_t k;
    const json_t *pair;
    json_array_foreach(counts, k, pair) {
        const json_t *ji = json_array_get(pair, 0);
        const json_t *jn = json_array_get(pair, 1);
        if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_integer(ji) ||
            !json_is_integer(jn))
            goto fail;
        json_int_t i = json_integer_value(ji), n = json_integer_value(jn);
        if (i < 0 || i >= MET_HIST_COUNTS_LEN || n <= 0)
            goto fail;
        met_hist_record_n(h, met_hist_lowest_of_index((int)i), n);
    }
    h->overflow = json_integer_value(ov);
    if (h->total > 0) {
        int64_t mn = json_integer_value(jmin), mx = json_integer_value(jmax);
        if (mn < 0 || mx > MET_HIST_HIGHEST || mn > mx ||
            met_hist_index_of(mn) != h->min_index || met_hist_index_of(mx) != h->max_index)
            goto fail;
        h->min = mn;
        h->max = mx;
    }
    return h;
fail:
    met_hist_destroy(h);
    return NULL;
}
