/* vsock_pmd.c — permessage-deflate (RFC 7692) on a vsock: zlib raw deflate per message, context takeover as agreed, the 0x00 0x00 0xff 0xff tail. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "vsock_internal.h"
#include "ws_pmd.h"

_Static_assert((int)VSOCK_DEFLATE_TAKEOVER == (int)WS_PMD_TAKEOVER &&
                   (int)VSOCK_DEFLATE_NO_TAKEOVER == (int)WS_PMD_NO_TAKEOVER,
               "vsock's deflate modes are ws_pmd's");

/* zlib's defaults (level 6, memLevel 8: about 256 KiB per compressor at 15 window bits,
 * 44 KiB per decompressor), the settings a Go gateway's compress/flate and most servers
 * use unless tuned; both streams are made on first use, so a link that never sends or
 * never receives a message holds none. */
#define PMD_LEVEL Z_DEFAULT_COMPRESSION
#define PMD_MEMLEVEL 8

static const uint8_t TAIL[4] = {0x00, 0x00, 0xff, 0xff};

struct vsock_pmd {
    uint8_t tx_bits;     /* this side's compressor window */
    bool tx_reset;       /* this side compresses each message on its own */
    bool rx_reset;       /* the peer does: its messages never refer to earlier ones */
    z_stream *tx, *rx;   /* NULL until used, and after vsock_trim when they hold no context */
};

int vsock__pmd_set(vsock *s, const struct ws_pmd *a)
{
    struct vsock_pmd *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    bool server = s->role == VSOCK_SERVER;
    p->tx_bits = server ? a->server_max_window_bits : a->client_max_window_bits;
    if (p->tx_bits < 9)   /* ws_pmd refuses 8 on this side's window; never below zlib's */
        p->tx_bits = 9;
    p->tx_reset = server ? a->server_no_context_takeover : a->client_no_context_takeover;
    p->rx_reset = server ? a->client_no_context_takeover : a->server_no_context_takeover;
    vsock__pmd_free(s);
    s->pmd = p;
    if (s->ws)
        wslay_event_config_set_allowed_rsv_bits(s->ws, WSLAY_RSV1_BIT);
    return 0;
}

bool vsock_deflate_on(const vsock *s)
{
    return s->pmd != NULL;
}

static z_stream *tx_stream(struct vsock_pmd *p)
{
    if (p->tx)
        return p->tx;
    z_stream *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    /* negative window bits: raw deflate, no zlib header or checksum (§7.2.1) */
    if (deflateInit2(z, PMD_LEVEL, Z_DEFLATED, -(int)p->tx_bits, PMD_MEMLEVEL,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        return NULL;
    }
    return p->tx = z;
}

static z_stream *rx_stream(struct vsock_pmd *p)
{
    if (p->rx)
        return p->rx;
    z_stream *z = calloc(1, sizeof *z);
    if (!z)
        return NULL;
    /* a full window inflates whatever window the peer compressed with */
    if (inflateInit2(z, -15) != Z_OK) {
        free(z);
        return NULL;
    }
    return p->rx = z;
}

/* Grow the output buffer to at least cap bytes, keeping all of it (bytes past ob_len
 * included: the compressed payload is built there). 0, -ENOMEM. */
static int ob_grow_keep(vsock *s, size_t cap)
{
    if (cap <= s->ob_cap)
        return 0;
    uint8_t *nb = realloc(s->ob, cap);
    if (!nb)
        return -ENOMEM;
    s->ob = nb;
    s->ob_cap = cap;
    return 0;
}

int vsock__pmd_append_frame(vsock *s, int opcode, const void *data, size_t len)
{
    struct vsock_pmd *p = s->pmd;
    z_stream *z = tx_stream(p);
    if (!z)
        return -ENOMEM;
    /* Compress straight into the buffer, 14 bytes (the largest header) past its end, then
     * put the header in front and slide the payload down to it: no scratch buffer. */
    size_t room = deflateBound(z, len) + 16;
    if (vsock__reserve(s, 14 + room))
        return -ENOMEM;
    size_t base = s->ob_len, off = base + 14, made = 0;
    if (len == 0) {
        /* zlib flushes nothing for no input after a flush; one 0x00 byte starts an empty
         * stored block that the receiver's appended tail completes (§7.2.3.6) */
        s->ob[off] = 0x00;
        made = 1;
        goto framed;
    }
    z->next_in = (Bytef *)(uintptr_t)data;
    z->avail_in = (uInt)len;
    for (;;) {
        size_t avail = s->ob_cap - off - made;
        z->next_out = s->ob + off + made;
        z->avail_out = avail > UINT32_MAX ? UINT32_MAX : (uInt)avail;
        int rc = deflate(z, Z_SYNC_FLUSH);
        made = (size_t)(z->next_out - (s->ob + off));
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            goto broken;
        /* Z_SYNC_FLUSH is complete when output room was left over */
        if (z->avail_in == 0 && z->avail_out > 0)
            break;
        if (ob_grow_keep(s, s->ob_cap * 2))
            goto broken;
    }
    /* §7.2.1: the sync flush's empty stored block ends the data; it is not sent */
    if (made < 4 || memcmp(s->ob + off + made - 4, TAIL, 4))
        goto broken;
    made -= 4;
    if (p->tx_reset)
        deflateReset(z);
framed:;
    uint32_t key = 0;
    size_t h = vsock__put_header(s, s->ob + base, opcode, true, made, &key);
    memmove(s->ob + base + h, s->ob + off, made);
    if (s->role == VSOCK_CLIENT)
        vsock__mask(s->ob + base + h, s->ob + base + h, made, key);
    s->ob_len = base + h + made;
    s->c.frames_out++;
    s->c.msgs_out++;
    s->c.payload_out += (int64_t)len;
    s->c.zmsgs_out++;
    s->c.zbytes_out += (int64_t)made;
    return 0;
broken:
    /* the compressor's history no longer matches what the peer will have seen */
    vsock__fail(s, -EPIPE);
    return -ENOMEM;
}

int vsock__pmd_inflate(vsock *s, vsock_msg **io)
{
    vsock_msg *out;
    int e = vsock__pmd_inflate_raw(s, (*io)->data, (*io)->len, (*io)->opcode, &out);
    if (e)
        return e;
    out->link_id = (*io)->link_id;
    vsock_msg_free(*io);
    *io = out;
    return 0;
}

int vsock__pmd_inflate_raw(vsock *s, const uint8_t *data, size_t n, int opcode, vsock_msg **res)
{
    struct vsock_pmd *p = s->pmd;
    z_stream *z = rx_stream(p);
    if (!z)
        return -ENOMEM;
    size_t limit = s->max_msg;
    size_t cap = n * 4 + 256;
    if (cap > limit + 1)
        cap = limit + 1;   /* one byte more than allowed tells a message too big */
    vsock_msg *out = vsock_msg_new(cap);
    if (!out)
        return -ENOMEM;
    size_t made = 0;
    int err = 0;
    bool ended = false;
    /* the message's payload, then the tail the sender stripped (§7.2.2) */
    for (int part = 0; part < 2 && !ended && !err; part++) {
        z->next_in = (Bytef *)(uintptr_t)(part ? TAIL : data);
        z->avail_in = (uInt)(part ? 4 : n);
        while (z->avail_in > 0 || made == cap) {
            if (made == cap) {
                if (cap > limit) {
                    err = -EMSGSIZE;
                    break;
                }
                size_t nc = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
                vsock_msg *g = realloc(out, sizeof *g + nc);
                if (!g) {
                    err = -ENOMEM;
                    break;
                }
                out = g;
                cap = nc;
            }
            z->next_out = out->data + made;
            z->avail_out = (uInt)(cap - made);
            int rc = inflate(z, Z_SYNC_FLUSH);
            made = cap - z->avail_out;
            if (rc == Z_STREAM_END) {
                /* a final block (BFINAL): the message ends here and the next one starts
                 * a fresh stream (§7.2.3.2 allows it) */
                inflateReset(z);
                ended = true;
                break;
            }
            if (rc == Z_BUF_ERROR && z->avail_out > 0)
                break;   /* no progress possible: the input is used up */
            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                err = rc == Z_MEM_ERROR ? -ENOMEM : -EPROTO;
                break;
            }
        }
    }
    if (!err && made > limit)
        err = -EMSGSIZE;
    if (err) {
        vsock_msg_free(out);
        return err;
    }
    if (p->rx_reset && !ended)
        inflateReset(z);
    out->len = (uint32_t)made;
    out->opcode = (uint8_t)opcode;
    out->link_id = 0;
    out->next = NULL;
    out->t_decoded = 0;
    s->c.zmsgs_in++;
    s->c.zbytes_in += (int64_t)n;
    *res = out;
    return 0;
}

void vsock__pmd_trim(vsock *s)
{
    struct vsock_pmd *p = s->pmd;
    if (!p)
        return;
    if (p->tx && p->tx_reset) {
        deflateEnd(p->tx);
        free(p->tx);
        p->tx = NULL;
    }
    if (p->rx && p->rx_reset) {
        inflateEnd(p->rx);
        free(p->rx);
        p->rx = NULL;
    }
}

void vsock__pmd_free(vsock *s)
{
    struct vsock_pmd *p = s->pmd;
    if (!p)
        return;
    if (p->tx) {
        deflateEnd(p->tx);
        free(p->tx);
    }
    if (p->rx) {
        inflateEnd(p->rx);
        free(p->rx);
    }
    free(p);
    s->pmd = NULL;
}
