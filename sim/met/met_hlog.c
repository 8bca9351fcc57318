/* met_hlog.c — HdrHistogram V2 compressed encoding (ZigZag LEB128 counts, zlib, base64) and .hlog header/interval lines. */
#include "met_hlog.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "met_hist_layout.h"

/* Cookies of the V2 format; 0x10 says "word size 1", i.e. varint counts. */
#define ENCODING_COOKIE 0x1c849313u
#define COMPRESSION_COOKIE 0x1c849314u
#define COOKIE_BASE(c) ((c) & ~0xf0u)
#define ENCODING_HEADER 40
#define COMPRESSION_HEADER 8
#define VARINT_MAX 9   /* LEB128 capped at 9 bytes: the 9th carries 8 full bits */

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int k = 3; k >= 0; k--, v >>= 8)
        p[k] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int k = 7; k >= 0; k--, v >>= 8)
        p[k] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static size_t put_zigzag(uint8_t *p, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (n < VARINT_MAX - 1 && u >= 0x80) {
        p[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    p[n++] = (uint8_t)u;   /* the 9th byte, if reached, takes the remaining 8 bits */
    return n;
}

/* Bytes used, or 0 when the varint runs past end. */
static size_t get_zigzag(const uint8_t *p, const uint8_t *end, int64_t *v)
{
    uint64_t u = 0;
    size_t n = 0;
    for (;;) {
        if (p + n >= end)
            return 0;
        uint8_t b = p[n];
        if (n == VARINT_MAX - 1) {
            u |= (uint64_t)b << 56;
            n++;
            break;
        }
        u |= (uint64_t)(b & 0x7f) << (7 * n);
        n++;
        if (!(b & 0x80))
            break;
    }
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return n;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const uint8_t *in, size_t len)
{
    char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
        *o++ = i + 2 < len ? b64[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* Decoded length in *len; NULL on bad input or ENOMEM. */
static uint8_t *base64_decode(const char *in, size_t *len)
{
    size_t n = strlen(in);
    if (n % 4 != 0)
        return NULL;
    uint8_t *out = malloc(n / 4 * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = in[i + k];
            const char *at = c ? strchr(b64, c) : NULL;
            if (c == '=' && i + 4 == n && k >= 2 && (k == 3 || in[i + 3] == '=')) {
                pad++;
                v <<= 6;
            } else if (at && !pad) {
                v = v << 6 | (uint32_t)(at - b64);
            } else {
                free(out);
                return NULL;
            }
        }
        out[o++] = (uint8_t)(v >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(v >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)v;
    }
    *len = o;
    return out;
}

char *met_hlog_encode(const met_hist *h)
{
    int limit = met_hist_count(h) ? met_hist_index_of(met_hist_max(h)) + 1 : 1;
    uint8_t *enc = malloc(ENCODING_HEADER + (size_t)limit * VARINT_MAX);
    if (!enc)
        return NULL;
    size_t n = ENCODING_HEADER;
    int next = 0, cursor = 0;
    int64_t value, count;
    while (met_hist_next(h, &cursor, &value, &count)) {
        int i = met_hist_index_of(value);
        if (i > next)
            n += put_zigzag(enc + n, -(int64_t)(i - next));   /* a run of empty counters */
        n += put_zigzag(enc + n, count);
        next = i + 1;
    }
    if (next < limit)
        n += put_zigzag(enc + n, -(int64_t)(limit - next));
    union { double d; uint64_t u; } ratio = {.d = 1.0};
    put_be32(enc, ENCODING_COOKIE);
    put_be32(enc + 4, (uint32_t)(n - ENCODING_HEADER));
    put_be32(enc + 8, 0);                       /* normalizing index offset */
    put_be32(enc + 12, MET_HIST_SIGFIGS);
    put_be64(enc + 16, MET_HIST_LOWEST);
    put_be64(enc + 24, (uint64_t)MET_HIST_HIGHEST);
    put_be64(enc + 32, ratio.u);

    uLongf zlen = compressBound((uLong)n);
    uint8_t *z = malloc(COMPRESSION_HEADER + zlen);
    char *out = NULL;
    if (z && compress(z + COMPRESSION_HEADER, &zlen, enc, (uLong)n) == Z_OK) {
        put_be32(z, COMPRESSION_COOKIE);
        put_be32(z + 4, (uint32_t)zlen);
        out = base64_encode(z, COMPRESSION_HEADER + zlen);
    }
    free(z);
    free(enc);
    return out;
}

static met_hist *decode_counts(const uint8_t *p, const uint8_t *end)
{
    met_hist *h = met_hist_create();
    if (!h)
        return NULL;
    int64_t index = 0, v;
    while (p < end) {
        size_t used = get_zigzag(p, end, &v);
        if (used == 0)
            goto fail;
        p += used;
        if (v < 0) {
            if (-v > MET_HIST_COUNTS_LEN - index)
                goto fail;
            index += -v;
        } else {
            if (index >= MET_HIST_COUNTS_LEN)
                goto fail;
            if (v > 0)
                met_hist_record_n(h, met_hist_lowest_of_index((int)index), v);
            index++;
        }
    }
    return h;
fail:
    met_hist_destroy(h);
    return NULL;
}

met_hist *met_hlog_decode(const char *base64)
{
    size_t len = 0;
    uint8_t *z = base64_decode(base64, &len);
    uint8_t *enc = NULL;
    met_hist *h = NULL;
    if (!z || len < COMPRESSION_HEADER || COOKIE_BASE(get_be32(z)) != COOKIE_BASE(COMPRESSION_COOKIE))
        goto done;
    uint32_t zlen = get_be32(z + 4);
    if (zlen > len - COMPRESSION_HEADER)
        goto done;
    uLongf cap = ENCODING_HEADER + (uLongf)MET_HIST_COUNTS_LEN * VARINT_MAX;
    if (!(enc = malloc(cap)) || uncompress(enc, &cap, z + COMPRESSION_HEADER, zlen) != Z_OK ||
        cap < ENCODING_HEADER)
        goto done;
    uint32_t cookie = get_be32(enc);
    uint32_t payload = get_be32(enc + 4);
    if (COOKIE_BASE(cookie) != COOKIE_BASE(ENCODING_COOKIE) || (cookie & 0xf0u) != 0x10u ||
        payload > cap - ENCODING_HEADER || get_be32(enc + 8) != 0 ||
        get_be32(enc + 12) != MET_HIST_SIGFIGS || get_be64(enc + 16) != MET_HIST_LOWEST)
        goto done;
    /* a smaller highest shares our layout up to its own top; a larger one may not fit */
    h = decode_counts(enc + ENCODING_HEADER, enc + ENCODING_HEADER + payload);
done:
    free(enc);
    free(z);
    return h;
}

int met_hlog_write_header(FILE *f, double start_time_s, const char *comment)
{
    time_t secs = (time_t)start_time_s;
    struct tm tm;
    char date[64];
    gmtime_r(&secs, &tm);
    strftime(date, sizeof date, "%a %b %d %H:%M:%S UTC %Y", &tm);
    if (comment && fprintf(f, "#[%s]\n", comment) < 0)
        return -EIO;
    if (fprintf(f, "#[Histogram log format version 1.3]\n"
                   "#[StartTime: %.3f (seconds since epoch), %s]\n"
                   "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
                   "\"Interval_Compressed_Histogram\"\n",
                start_time_s, date) < 0)
        return -EIO;
    return 0;
}

int met_hlog_write_interval(FILE *f, double start_s, double length_s, const met_hist *h,
                            const char *tag)
{
    if (tag && strpbrk(tag, ", \t\r\n"))
        return -EINVAL;
    char *enc = met_hlog_encode(h);
    if (!enc)
        return -ENOMEM;
    int rc = fprintf(f, "%s%s%s%.3f,%.3f,%.3f,%s\n", tag ? "Tag=" : "", tag ? tag : "",
                     tag ? "," : "", start_s, length_s, (double)met_hist_max(h) / 1e6, enc);
    free(enc);
    return rc < 0 ? -EIO : 0;
}
