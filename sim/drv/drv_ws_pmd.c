/* drv_ws_pmd.c — the driver's permessage-deflate (RFC 7692): a link's zlib streams as agreed in its upgrade, a message deflated into its frame, a server message inflated into the thread's scratch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "drv_internal.h"
#include "ws_pmd.h"

/* As vsock's (vsock_pmd.c): zlib's defaults, both streams made on first use. */
#define PMD_LEVEL Z_DEFAULT_COMPRESSION
#define PMD_MEMLEVEL 8

static const uint8_t TAIL[4] = {0x00, 0x00, 0xff, 0xff};

struct drv_pmd {
    uint8_t tx_bits;     /* this client's window (client_max_window_bits of the answer) */
    bool tx_reset;       /* client_no_context_takeover */
    bool rx_reset;       /* server_no_context_takeover */
    z_stream *tx, *rx;
};

int drv_pmd_start(struct drv_ws *w, const struct ws_pmd *a)
{
    struct drv_pmd *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->tx_bits = a->client_max_window_bits < 9 ? 9 : a->client_max_window_bits;
    p->tx_reset = a->client_no_context_takeover;
    p->rx_reset = a->server_no_context_takeover;
    drv_pmd_free(w);
    w->pmd = p;
    return 0;
}

void drv_pmd_free(struct drv_ws *w)
{
    struct drv_pmd *p = w->pmd;
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
    w->pmd = NULL;
}

size_t drv_pmd_room(size_t len)
{
    /* deflateBound's stored-block worst case (5 bytes per 16 KiB block, 6 + a few), and
     * the sync flush's empty block, for any zlib settings */
    return len + (len >> 12) * 5 + 64;
}

/* Deflate a then b (one message) into out (room bytes): its compressed size without the
 * 0x00 0x00 0xff 0xff tail (§7.2.1), 0 on failure (the link is then dropped: its
 * compressor's history no longer matches the server's). */
size_t drv_pmd_deflate(struct drv_ws *w, uint8_t *out, size_t room, const void *a, size_t an,
                       const void *b, size_t bn)
{
    struct drv_pmd *p = w->pmd;
    if (!p->tx) {
        z_stream *z = calloc(1, sizeof *z);
        if (!z || deflateInit2(z, PMD_LEVEL, Z_DEFLATED, -(int)p->tx_bits, PMD_MEMLEVEL,
                               Z_DEFAULT_STRATEGY) != Z_OK) {
            free(z);
            return 0;
        }
        p->tx = z;
    }
    z_stream *z = p->tx;
    z->next_out = out;
    z->avail_out = (uInt)room;
    z->next_in = (Bytef *)(uintptr_t)a;
    z->avail_in = (uInt)an;
    if (deflate(z, Z_NO_FLUSH) != Z_OK || z->avail_in)
        return 0;
    z->next_in = (Bytef *)(uintptr_t)b;
    z->avail_in = (uInt)bn;
    int rc = deflate(z, Z_SYNC_FLUSH);
    /* complete only when room was left over (drv_pmd_room leaves plenty) */
    if (rc != Z_OK || z->avail_in || z->avail_out == 0)
        return 0;
    size_t made = room - z->avail_out;
    if (made < 5 || memcmp(out + made - 4, TAIL, 4))
        return 0;
    if (p->tx_reset)
        deflateReset(z);
    return made - 4;
}

int drv_pmd_inflate(struct drv_thr *t, struct drv_ws *w, const uint8_t *in, size_t n,
                    size_t limit, size_t *out_len)
{
    struct drv_pmd *p = w->pmd;
    if (!p->rx) {
        z_stream *z = calloc(1, sizeof *z);
        if (!z || inflateInit2(z, -15) != Z_OK) {   /* a full window reads any server's */
            free(z);
            return -ENOMEM;
        }
        p->rx = z;
    }
    z_stream *z = p->rx;
    size_t made = 0;
    bool ended = false;
    for (int part = 0; part < 2 && !ended; part++) {
        z->next_in = (Bytef *)(uintptr_t)(part ? TAIL : in);
        z->avail_in = (uInt)(part ? 4 : n);
        while (z->avail_in > 0 || made == t->zcap) {
            if (made == t->zcap) {
                if (t->zcap > limit)
                    return -EMSGSIZE;
                size_t cap = t->zcap ? t->zcap * 2 : 64 << 10;
                if (cap > limit + 1)
                    cap = limit + 1;
                uint8_t *nb = realloc(t->zbuf, cap);
                if (!nb)
                    return -ENOMEM;
                t->zbuf = nb;
                t->zcap = cap;
            }
            z->next_out = t->zbuf + made;
            z->avail_out = (uInt)(t->zcap - made);
            int rc = inflate(z, Z_SYNC_FLUSH);
            made = t->zcap - z->avail_out;
            if (rc == Z_STREAM_END) {   /* a final block: the next message starts afresh */
                inflateReset(z);
                ended = true;
                break;
            }
            if (rc == Z_BUF_ERROR && z->avail_out > 0)
                break;
            if (rc != Z_OK && rc != Z_BUF_ERROR)
                return rc == Z_MEM_ERROR ? -ENOMEM : -EPROTO;
        }
    }
    if (made > limit)
        return -EMSGSIZE;
    if (p->rx_reset && !ended)
        inflateReset(z);
    *out_len = made;
    return 0;
}
