/* test_met_hlog.c — .hlog encoding: round trip, a vector encoded by HdrHistogram (Java), damaged input, log lines. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "met_hlog.h"

static void assert_same_buckets(const met_hist *a, const met_hist *b)
{
    int ca = 0, cb = 0;
    int64_t va, na, vb, nb;
    while (met_hist_next(a, &ca, &va, &na)) {
        cr_assert(met_hist_next(b, &cb, &vb, &nb), "b ended early");
        cr_assert_eq(va, vb);
        cr_assert_eq(na, nb);
    }
    cr_assert_not(met_hist_next(b, &cb, &vb, &nb), "b has more buckets");
}

Test(met_hlog, round_trip_keeps_every_bucket)
{
    met_hist *h = met_hist_create();
    for (int64_t v = 1; v <= 1000000; v += 7)
        met_hist_record(h, v);
    met_hist_record_n(h, 77777777777, 3);
    met_hist_record(h, 0);
    char *enc = met_hlog_encode(h);
    cr_assert_not_null(enc);
    cr_assert_eq(strncmp(enc, "HISTF", 5), 0, "V2 compressed data starts 0x1c849314: %s", enc);
    met_hist *back = met_hlog_decode(enc);
    cr_assert_not_null(back);
    cr_assert_eq(met_hist_count(back), met_hist_count(h));
    assert_same_buckets(h, back);
    cr_assert_eq(met_hist_percentile(back, 99), met_hist_percentile(h, 99));
    free(enc);
    met_hist_destroy(h);
    met_hist_destroy(back);
}

Test(met_hlog, empty_histogram_round_trips)
{
    met_hist *h = met_hist_create();
    char *enc = met_hlog_encode(h);
    met_hist *back = met_hlog_decode(enc);
    cr_assert_not_null(back);
    cr_assert_eq(met_hist_count(back), 0);
    free(enc);
    met_hist_destroy(h);
    met_hist_destroy(back);
}

/* Encoded by HdrHistogram 2.1.11 (Java): new Histogram(1, 2^37 - 1, 3) holding 1 x5,
 * 3000 x2, 1000000 x1, 123456789 x1, encodeIntoCompressedByteBuffer, base64. */
static const char java_vector[] = "HISTFAAAACp4nJNpmSzMwMDAwwABzFCaEYjl/wOB/QeoCNdmdZb2dkamj3lMAMoeCfs=";

Test(met_hlog, decodes_what_hdrhistogram_encoded)
{
    met_hist *h = met_hlog_decode(java_vector);
    cr_assert_not_null(h);
    cr_assert_eq(met_hist_count(h), 9);
    met_hist *want = met_hist_create();
    met_hist_record_n(want, 1, 5);
    met_hist_record_n(want, 3000, 2);
    met_hist_record(want, 1000000);
    met_hist_record(want, 123456789);
    assert_same_buckets(want, h);
    met_hist_destroy(h);
    met_hist_destroy(want);
}

Test(met_hlog, damaged_input_is_refused)
{
    cr_assert_null(met_hlog_decode(""));
    cr_assert_null(met_hlog_decode("HISTF"));
    cr_assert_null(met_hlog_decode("not base64 at all!!"));
    char *bad = strdup(java_vector);
    bad[20] = bad[20] == 'A' ? 'B' : 'A';   /* a flipped byte inside the deflate stream */
    met_hist *h = met_hlog_decode(bad);
    if (h) {
        /* zlib's checksum normally catches it; if the damage still inflates, it must not
         * come back as the original */
        cr_assert_neq(met_hist_count(h), 9);
        met_hist_destroy(h);
    }
    free(bad);
}

Test(met_hlog, log_lines_follow_the_hlog_format)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    met_hist *h = met_hist_create();
    met_hist_record(h, 2500000);   /* max 2.5 ms */
    cr_assert_eq(met_hlog_write_header(f, 1700000000.123, "linkbench"), 0);
    cr_assert_eq(met_hlog_write_interval(f, 0.0, 1.0, h, NULL), 0);
    cr_assert_eq(met_hlog_write_interval(f, 1.0, 1.0, h, "rtt"), 0);
    cr_assert_eq(met_hlog_write_interval(f, 2.0, 1.0, h, "bad tag"), -EINVAL);
    fclose(f);
    const char *want =
        "#[linkbench]\n"
        "#[Histogram log format version 1.3]\n"
        "#[StartTime: 1700000000.123 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]\n"
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"
        "0.000,1.000,2.500,HISTF";
    cr_assert_eq(strncmp(buf, want, strlen(want)), 0, "%s", buf);
    cr_assert(strstr(buf, "\nTag=rtt,1.000,1.000,2.500,HISTF"), "%s", buf);
    free(buf);
    met_hist_destroy(h);
}
