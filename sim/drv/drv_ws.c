/* drv_ws.c — the driver's WebSocket client bytes: the opening handshake, masked frames out, the server's frames parsed in place. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>

#include "drv_internal.h"
#include "ws_handshake.h"
#include "ws_pmd.h"

/* Why not vsock here: a client that only parses unmasked server frames needs no
 * callbacks, no message allocation and no lock; the profile put ~970 instructions per
 * received message in wslay's parse, its callbacks and a malloc/free. The server side,
 * whose framing is what the variants are measured with, keeps vsock. */

#define MAX_MSG_BYTES ((uint64_t)16 << 20)   /* vsock's default limit: larger closes 1009 */

struct drv_hs {
    char accept[WS_ACCEPT_LEN + 1];
    bool offered;                /* permessage-deflate was offered */
    size_t req_len, req_off, len;
    char req[1024];
    char buf[WS_HS_MAX_BYTES];
};

void drv_ws_reset(struct drv_ws *w)
{
    drv_pmd_free(w);
    free(w->ob);
    free(w->rb);
    free(w->frag);
    free(w->hs);
    memset(w, 0, sizeof *w);
}

/* ---------------------------------------------------------------- handshake */

int drv_ws_hs_start(struct drv_thr *t, struct drv_link *L)
{
    struct drv_hs *h = malloc(sizeof *h);
    if (!h)
        return -ENOMEM;
    uint8_t nonce[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t r = drv_rng_next(&t->mask_rng);
        memcpy(nonce + i, &r, 8);
    }
    char key[WS_KEY_LEN + 1];
    ws_make_key(nonce, key);
    ws_accept_key(key, WS_KEY_LEN, h->accept);
    /* the permessage-deflate offer (client.compression): the server decides */
    char offer[160];
    h->offered = t->d->p.deflate != 0 &&
                 ws_pmd_format_offer(offer, sizeof offer, (enum ws_pmd_mode)t->d->p.deflate) > 0;
    int n = ws_build_request_ext(h->req, sizeof h->req, t->d->host_hdr, t->p.path, key,
                                 h->offered ? offer : NULL);
    if (n < 0) {
        free(h);
        return -ENOMEM;
    }
    h->req_len = (size_t)n;
    h->req_off = h->len = 0;
    L->ws.hs = h;
    return 0;
}

int drv_ws_hs_step(struct drv_thr *t, struct drv_link *L)
{
    (void)t;
    struct drv_hs *h = L->ws.hs;
    while (h->req_off < h->req_len) {
        ssize_t n = send(L->fd, h->req + h->req_off, h->req_len - h->req_off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? 1 : -errno;
        h->req_off += (size_t)n;
        L->ws.bytes_out += n;   /* the stream's bytes from its first: the server counts so too */
    }
    for (;;) {
        if (h->len == sizeof h->buf)
            return -E2BIG;
        ssize_t n = recv(L->fd, h->buf + h->len, sizeof h->buf - h->len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return -ECONNRESET;   /* closed before the handshake completed */
        if (n < 0)
            return errno == EAGAIN ? -EAGAIN : -errno;
        L->ws.bytes_in += n;
        h->len += (size_t)n;
        const char *why = NULL;
        bool pmd = false;
        struct ws_pmd agreed;
        int head = ws_parse_response_ext(h->buf, h->len, h->accept, h->offered, &pmd, &agreed, &why);
        if (head == 0)
            continue;
        if (head < 0)
            return head;
        if (pmd && drv_pmd_start(&L->ws, &agreed))
            return -ENOMEM;
        /* frames that came with the answer wait in rb for the first read */
        size_t rest = h->len - (size_t)head;
        if (rest) {
            L->ws.rb = malloc(rest);
            if (!L->ws.rb)
                return -ENOMEM;
            memcpy(L->ws.rb, h->buf + head, rest);
            L->ws.rb_cap = L->ws.rb_len = rest;
        }
        free(h);
        L->ws.hs = NULL;
        return 0;
    }
}

/* ---------------------------------------------------------------- frames out */

static inline size_t frame_head(uint8_t *p, int opcode, size_t len)
{
    p[0] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        p[1] = (uint8_t)(0x80 | len);
        return 2;
    }
    if (len < 65536) {
        p[1] = 0x80 | 126;
        p[2] = (uint8_t)(len >> 8);
        p[3] = (uint8_t)len;
        return 4;
    }
    p[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++)
        p[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* dst[i] = src[i] ^ key[(off + i) % 4], off a multiple of 4 */
static inline void mask_copy(uint8_t *dst, const uint8_t *src, size_t n, uint32_t key)
{
    uint64_t k8 = (uint64_t)key << 32 | key;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= k8;
        memcpy(dst + i, &v, 8);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ ((const uint8_t *)&key)[i & 3];
}

size_t drv_ws_frame(struct drv_thr *t, uint8_t *dst, const uint8_t *payload, size_t len)
{
    size_t h = frame_head(dst, 2, len);
    uint32_t key = (uint32_t)drv_rng_next(&t->mask_rng);
    memcpy(dst + h, &key, 4);
    mask_copy(dst + h + 4, payload, len, key);
    return h + 4 + len;
}

size_t drv_ws_frame_msg(struct drv_thr *t, uint8_t *dst, const struct wire_hdr *h, uint32_t len)
{
    size_t n = frame_head(dst, 2, len);
    uint32_t key = (uint32_t)drv_rng_next(&t->mask_rng);
    memcpy(dst + n, &key, 4);
    n += 4;
    mask_copy(dst + n, (const uint8_t *)h, WIRE_HDR_BYTES, key);   /* 48: the key stays aligned */
    mask_copy(dst + n + WIRE_HDR_BYTES, drv_fill(t, h->link_id, h->seq), len - WIRE_HDR_BYTES, key);
    return n + len;
}

size_t drv_ws_frame_room(const struct drv_ws *w, size_t len)
{
    return (w->pmd ? drv_pmd_room(len) : len) + 14;
}

size_t drv_ws_frame_msg_z(struct drv_thr *t, struct drv_ws *w, uint8_t *dst,
                          const struct wire_hdr *h, uint32_t len)
{
    /* deflate 14 bytes in (the largest header), then the header in front and the
     * payload masked down to it: in place, no scratch (mask_copy reads each 8 bytes
     * before it writes them, and writes at or before what it reads) */
    size_t zn = drv_pmd_deflate(w, dst + 14, drv_pmd_room(len), h, WIRE_HDR_BYTES,
                                drv_fill(t, h->link_id, h->seq), len - WIRE_HDR_BYTES);
    if (!zn)
        return 0;
    size_t n = frame_head(dst, 2, zn);
    dst[0] |= 0x40;   /* RSV1: a compressed message (RFC 7692 §6) */
    uint32_t key = (uint32_t)drv_rng_next(&t->mask_rng);
    memcpy(dst + n, &key, 4);
    n += 4;
    mask_copy(dst + n, dst + 14, zn, key);
    return n + zn;
}

int drv_ws_keep(struct drv_ws *w, const uint8_t *b, size_t n)
{
    if (w->ob_off == w->ob_len)
        w->ob_off = w->ob_len = 0;
    if (w->ob_len + n > w->ob_cap) {
        if (w->ob_off) {
            memmove(w->ob, w->ob + w->ob_off, w->ob_len - w->ob_off);
            w->ob_len -= w->ob_off;
            w->ob_off = 0;
        }
        size_t cap = w->ob_cap ? w->ob_cap : 4096;
        while (cap < w->ob_len + n)
            cap *= 2;
        if (cap != w->ob_cap) {
            uint8_t *nb = realloc(w->ob, cap);
            if (!nb)
                return -ENOMEM;
            w->ob = nb;
            w->ob_cap = cap;
        }
    }
    memcpy(w->ob + w->ob_len, b, n);
    w->ob_len += n;
    return 0;
}

int drv_ws_flush(struct drv_link *L)
{
    struct drv_ws *w = &L->ws;
    while (w->ob_off < w->ob_len) {
        ssize_t n = send(L->fd, w->ob + w->ob_off, w->ob_len - w->ob_off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? -EAGAIN : -errno;
        w->ob_off += (size_t)n;
        w->bytes_out += n;
    }
    w->ob_off = w->ob_len = 0;
    if (w->ob_cap > (256u << 10)) {   /* a backlog's buffer goes back once it drained */
        free(w->ob);
        w->ob = NULL;
        w->ob_cap = 0;
    }
    return 0;
}

void drv_ws_close_frame(struct drv_link *L, int code)
{
    uint8_t f[8] = {0x88, 0x80 | 2, 0, 0, 0, 0, (uint8_t)(code >> 8), (uint8_t)code};   /* key 0 */
    if (drv_ws_keep(&L->ws, f, sizeof f) == 0)
        drv_ws_flush(L);
}

/* ---------------------------------------------------------------- frames in */

int64_t drv_ws_partial(const struct drv_ws *w)
{
    int64_t n = (int64_t)w->frag_len;
    if (w->rb_len >= 2 && ((w->rb[0] & 0x0f) < 8)) {
        size_t l7 = w->rb[1] & 0x7f, hl = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
        if (w->rb_len > hl)
            n += (int64_t)(w->rb_len - hl);
    }
    return n;
}

/* The frame at b (avail bytes): its header length and payload length, 0 when the header
 * is not whole yet. */
static size_t frame_at(const uint8_t *b, size_t avail, uint64_t *plen)
{
    if (avail < 2)
        return 0;
    uint8_t l7 = b[1] & 0x7f;
    size_t hl = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
    if (avail < hl)
        return 0;
    if (l7 < 126) {
        *plen = l7;
    } else if (l7 == 126) {
        *plen = (uint64_t)b[2] << 8 | b[3];
    } else {
        *plen = 0;
        for (int i = 0; i < 8; i++)
            *plen = *plen << 8 | b[2 + i];
    }
    return hl;
}

static int frag_add(struct drv_ws *w, const uint8_t *p, size_t n)
{
    if (w->frag_len + n > MAX_MSG_BYTES)
        return -EMSGSIZE;
    if (w->frag_len + n > w->frag_cap) {
        size_t cap = w->frag_cap ? w->frag_cap : 4096;
        while (cap < w->frag_len + n)
            cap *= 2;
        uint8_t *nb = realloc(w->frag, cap);
        if (!nb)
            return -ENOMEM;
        w->frag = nb;
        w->frag_cap = cap;
    }
    memcpy(w->frag + w->frag_len, p, n);
    w->frag_len += n;
    return 0;
}

/* A whole message to on_msg, inflated first when compressed: 0, or what inflating said. */
static int deliver(struct drv_thr *t, struct drv_link *L, const uint8_t *m, size_t n, bool z,
                   rt_ns t_recv, drv_msg_fn on_msg)
{
    if (z) {
        int rc = drv_pmd_inflate(t, &L->ws, m, n, MAX_MSG_BYTES, &n);
        if (rc)
            return rc;
        m = t->zbuf;
    }
    on_msg(t, L, m, (uint32_t)n, t_recv);
    return 0;
}

/* Parse the whole frames of buf[0..end); the rest (a frame not yet whole) is kept in rb.
 * 0, -EPIPE (a close frame), -EPROTO, -EMSGSIZE, -ENOMEM. */
static int parse(struct drv_thr *t, struct drv_link *L, uint8_t *buf, size_t end, rt_ns t_recv,
                 drv_msg_fn on_msg)
{
    struct drv_ws *w = &L->ws;
    size_t p = 0;
    int rc = 0;
    while (rc == 0) {
        uint64_t plen;
        size_t hl = frame_at(buf + p, end - p, &plen);
        if (!hl)
            break;
        uint8_t b0 = buf[p], op = b0 & 0x0f;
        bool fin = b0 & 0x80;
        /* RSV1 marks a compressed message once agreed, and only on its first frame */
        bool z = (b0 & 0x40) && w->pmd && (op == 1 || op == 2);
        if ((b0 & (z ? 0x30 : 0x70)) || (buf[p + 1] & 0x80)) {
            rc = -EPROTO;   /* reserved bits, or a masked frame from a server */
            break;
        }
        if (plen > MAX_MSG_BYTES) {
            rc = -EMSGSIZE;
            break;
        }
        if (end - p - hl < plen)
            break;
        const uint8_t *pl = buf + p + hl;
        p += hl + (size_t)plen;
        switch (op) {
        case 0:   /* continuation */
            if (!w->in_frag) { rc = -EPROTO; break; }
            if ((rc = frag_add(w, pl, plen)) != 0)
                break;
            if (fin) {
                w->in_frag = false;
                w->msgs_in++;
                rc = deliver(t, L, w->frag, w->frag_len, w->in_z, t_recv, on_msg);
                w->frag_len = 0;
            }
            break;
        case 1:
        case 2:   /* text or binary: the wire header check judges the content */
            if (w->in_frag) { rc = -EPROTO; break; }
            if (fin) {
                w->msgs_in++;
                rc = deliver(t, L, pl, (size_t)plen, z, t_recv, on_msg);
            } else {
                w->in_frag = true;
                w->in_z = z;
                rc = frag_add(w, pl, plen);
            }
            break;
        case 8:
            rc = -EPIPE;   /* the peer closes */
            break;
        case 9: {   /* ping: answer with its payload */
            if (!fin || plen > 125) { rc = -EPROTO; break; }
            uint8_t f[14 + 125];
            size_t n = drv_ws_frame(t, f, pl, plen);
            f[0] = 0x8a;
            rc = drv_ws_keep(w, f, n);
            break;
        }
        case 10:
            if (!fin || plen > 125)
                rc = -EPROTO;
            break;
        default:
            rc = -EPROTO;
        }
    }
    /* keep the rest for the next read */
    size_t rest = end - p;
    if (rc == 0 && rest && buf != w->rb) {
        if (rest > w->rb_cap) {
            uint8_t *nb = realloc(w->rb, rest);
            if (!nb)
                return -ENOMEM;
            w->rb = nb;
            w->rb_cap = rest;
        }
        memcpy(w->rb, buf + p, rest);
    } else if (rc == 0 && rest && p) {
        memmove(w->rb, w->rb + p, rest);
    }
    w->rb_len = rc == 0 ? rest : 0;
    return rc;
}

/* The kernel's receive stamp of the latest segment read (CLOCK_REALTIME), or 0. */
static rt_ns stamp_of(struct msghdr *m)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING) {
            struct scm_timestamping ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            return (rt_ns)ts.ts[0].tv_sec * RT_S + ts.ts[0].tv_nsec;
        }
    return 0;
}

int drv_ws_read(struct drv_thr *t, struct drv_link *L, size_t budget, drv_msg_fn on_msg)
{
    struct drv_ws *w = &L->ws;
    size_t got = 0;
    for (;;) {
        uint8_t *buf = t->rx;
        size_t have = 0, room = t->rx_cap;
        if (w->rb_len) {
            uint64_t plen = 0;
            size_t hl = frame_at(w->rb, w->rb_len, &plen);
            size_t need = hl ? hl + (size_t)plen : 0;
            if (need > t->rx_cap / 2 && plen <= MAX_MSG_BYTES) {
                /* a large frame: read the rest of it where it is being assembled */
                if (need > w->rb_cap) {
                    uint8_t *nb = realloc(w->rb, need);
                    if (!nb)
                        return -ENOMEM;
                    w->rb = nb;
                    w->rb_cap = need;
                }
                buf = w->rb;
                have = w->rb_len;
                room = need - have;
            } else {
                memcpy(t->rx, w->rb, w->rb_len);
                have = w->rb_len;
                room = t->rx_cap - have;
                w->rb_len = 0;
            }
        }
        if (room > budget - got && budget - got >= 4096)
            room = budget - got;
        char cbuf[CMSG_SPACE(sizeof(struct scm_timestamping))];
        struct iovec io = {buf + have, room};
        struct msghdr mh = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof cbuf};
        ssize_t n = recvmsg(L->fd, &mh, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (have && buf == t->rx) {   /* nothing new: the carried bytes go back */
                memcpy(w->rb, t->rx, have);
                w->rb_len = have;
            }
            if (n == 0)
                return -EPIPE;
            return errno == EAGAIN ? 0 : -errno;
        }
        rt_ns t1 = rt_now();
        w->bytes_in += n;
        got += (size_t)n;
        /* when the last byte arrived: the kernel's stamp of the latest segment read (no
         * later than now, no earlier than the end of the previous read that emptied the
         * socket: a bound that can only lengthen a latency); else the time of the read */
        rt_ns t_recv = t1, ks = stamp_of(&mh);
        if (ks) {
            if (!t->rt_off_set) {
                struct timespec r;
                clock_gettime(CLOCK_REALTIME, &r);
                t->rt_off = (rt_ns)r.tv_sec * RT_S + r.tv_nsec - rt_now();
                t->rt_off_set = true;
            }
            rt_ns k = ks - t->rt_off;
            t_recv = k > t1 ? t1 : k < w->t_read ? w->t_read : k;
            t->stamped++;
        }
        t->reads++;
        /* the receive-side delay is the driver's own wait: bytes that arrived while the
         * link was stalled on purpose (stop_reading) waited for the scenario */
        if (ks && t_recv >= t->t_meas0 && t_recv >= L->t_reading_since &&
            t1 < (t->t_stop != RT_NEVER ? t->t_stop : t->t_send_end))
            met_hist_record(t->h[H_RX], t1 - t_recv);   /* how long it waited for the driver */
        bool drained = (size_t)n < room;
        w->t_read = drained ? t1 : 0;
        int rc = parse(t, L, buf, have + (size_t)n, t_recv, on_msg);
        if (rc)
            return rc;
        if (w->ob_len > w->ob_off) {   /* a pong */
            int f = drv_ws_flush(L);
            if (f < 0 && f != -EAGAIN)
                return f;
        }
        if (drained || got >= budget)
            return 0;
    }
}
