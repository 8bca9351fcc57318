/* wire.h — the header the driver puts at the front of every payload, so any hop can be timed and accounted. */
#ifndef LINKBENCH_WIRE_H
#define LINKBENCH_WIRE_H

#include <stdint.h>
#include <string.h>

#define WIRE_MAGIC 0x4c4b4231u   /* "LKB1" */

enum wire_kind {
    WIRE_ECHO = 1,   /* client -> app; an echo app sends it back with t_app set */
    WIRE_PUSH = 2    /* app -> client (server push); link_id/seq are the app's */
};

/* Little-endian, packed, at offset 0 of the payload; the rest is a fill pattern. */
struct wire_hdr {
    uint32_t magic;
    uint32_t kind;
    uint32_t link_id;    /* driver's link index */
    uint32_t len;        /* whole payload length, header included */
    uint64_t seq;        /* per link and direction, from 0 */
    int64_t t_sched;     /* when the driver meant to send it (CLOCK_MONOTONIC ns) */
    int64_t t_sent;      /* when it actually left the driver */
    int64_t t_app;       /* when the app took it (echo) or made it (push) */
} __attribute__((packed));

#define WIRE_HDR_BYTES ((uint32_t)sizeof(struct wire_hdr))   /* 48 */

static inline int wire_get(const void *payload, uint32_t len, struct wire_hdr *h)
{
    if (len < WIRE_HDR_BYTES) return -1;
    memcpy(h, payload, sizeof *h);
    return (h->magic == WIRE_MAGIC && h->len == len) ? 0 : -1;
}

static inline void wire_put(void *payload, const struct wire_hdr *h)
{
    memcpy(payload, h, sizeof *h);
}

/* The app fills a push's payload after the header with this byte, so the driver can tell
 * a push that arrived corrupted (a cut frame followed by a re-sent one) from a good one. */
#define WIRE_PUSH_FILL 0xa5

/* Whether the n bytes at p are all WIRE_PUSH_FILL (8 at a time). */
static inline int wire_push_fill_ok(const void *p, size_t n)
{
    const unsigned char *b = p;
    const uint64_t w8 = 0x0101010101010101ULL * WIRE_PUSH_FILL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        if (w != w8) return 0;
    }
    for (; i < n; i++)
        if (b[i] != WIRE_PUSH_FILL) return 0;
    return 1;
}

#endif
