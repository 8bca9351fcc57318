/* vsock_inplace.c — event-loop reading without a protocol context: frames parsed in place in the caller's (per-loop) buffer; a socket keeps only the bytes of a frame not yet complete. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vsock_internal.h"

/* Why not wslay here: its context is ~8.8 KiB per socket (two 4 KiB buffers) for as long
 * as the socket lives, it copies every payload out of its buffer through three callbacks,
 * and it unmasks byte by byte. An event loop reads many sockets into one buffer, one at a
 * time: parsed there, a frame costs no copy and no per-socket buffer; only a frame cut by
 * the end of a read is kept (carry), and given back once the socket is quiet
 * (vsock_trim). The checks are the same as wslay's (RFC 6455 §5, §7.4, §8.1), with the
 * same close codes: 1002 protocol, 1007 bad UTF-8, 1009 too big. */

#define CTRL_MAX 125

/* ---------------------------------------------------------------- UTF-8 */

/* Incremental UTF-8 check (RFC 3629: no overlongs, no surrogates, nothing above
 * U+10FFFF). *st packs the continuation bytes still expected and the range the next one
 * must fall in, so a text message split over fragments is checked as one. */
static bool utf8_ok(uint32_t *st, const uint8_t *p, size_t n)
{
    uint32_t need = *st & 0xff, lo = (*st >> 8) & 0xff, hi = (*st >> 16) & 0xff;
    size_t i = 0;
    while (i < n) {
        if (need == 0) {
            /* ASCII runs, eight bytes at a time */
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ULL)
                    break;
                i += 8;
            }
            if (i == n)
                break;
        }
        uint8_t c = p[i++];
        if (need) {
            if (c < lo || c > hi)
                return false;
            need--;
            lo = 0x80;
            hi = 0xBF;
            continue;
        }
        if (c < 0x80)
            continue;
        lo = 0x80;
        hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) { need = 2; lo = 0xA0; }
        else if (c == 0xED) { need = 2; hi = 0x9F; }
        else if (c >= 0xE1 && c <= 0xEF) need = 2;
        else if (c == 0xF0) { need = 3; lo = 0x90; }
        else if (c == 0xF4) { need = 3; hi = 0x8F; }
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else return false;
    }
    *st = need | lo << 8 | hi << 16;
    return true;
}

/* ---------------------------------------------------------------- frames out */

/* A control frame (pong, close) into the output buffer, masked when a client. s->mu held. */
static int append_control(vsock *s, int opcode, const uint8_t *payload, size_t len)
{
    uint8_t f[2 + 4 + CTRL_MAX];
    bool mask = s->role == VSOCK_CLIENT;
    f[0] = (uint8_t)(0x80 | opcode);
    f[1] = (uint8_t)((mask ? 0x80 : 0) | len);
    size_t h = 2;
    if (mask) {
        uint32_t key = (uint32_t)vsock__rand(s);
        memcpy(f + 2, &key, 4);
        h = 6;
        for (size_t i = 0; i < len; i++)
            f[h + i] = payload[i] ^ ((const uint8_t *)&key)[i & 3];
    } else if (len) {
        memcpy(f + h, payload, len);
    }
    int r = vsock__append(s, f, h + len);
    if (r == 0)
        s->c.frames_out++;
    return r;
}

int vsock__inplace_close(vsock *s, int code)
{
    uint8_t st[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    return append_control(s, 0x8, st, code ? 2 : 0) ? -ENOMEM : 0;
}

/* A protocol error: our close with its code (unless we closed first), the socket failed.
 * s->mu held. */
static int fail_close(vsock *s, int code, int err)
{
    if (!s->close_called && !s->err)
        vsock__inplace_close(s, code);
    s->close_called = true;
    vsock__fail(s, err);
    return err;
}

static bool close_code_ok(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

/* ---------------------------------------------------------------- parsing */

typedef struct pass {
    vsock_msg_fn fn;
    void *arg;
    bool discard;            /* closing: data messages are dropped */
    int64_t frames, msgs;
    int stop;                /* the handler's answer that ended the pass */
    int err;                 /* protocol error, or -EPIPE after the peer's close */
    int64_t payload;     /* bytes of the messages handed over (inflated when compressed) */
} pass;

/* Header of the frame at p: 1 with its header size and payload length, 0 incomplete,
 * -1 a length RFC 6455 §5.2 forbids (most significant bit set, or not in the fewest
 * bytes: wslay refuses those too). */
static int header(const uint8_t *p, size_t avail, size_t *hdr, uint64_t *pl)
{
    if (avail < 2)
        return 0;
    size_t h = 2;
    uint64_t len = p[1] & 0x7f;
    if (len == 126) {
        if (avail < 4)
            return 0;
        h = 4;
        len = (uint64_t)p[2] << 8 | p[3];
        if (len < 126)
            return -1;
    } else if (len == 127) {
        if (avail < 10)
            return 0;
        h = 10;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        if (len >> 63 || len < 65536)
            return -1;
    }
    if (p[1] & 0x80)
        h += 4;
    if (avail < h)
        return 0;
    *hdr = h;
    *pl = len;
    return 1;
}

static void unmask(uint8_t *d, size_t n, const uint8_t key[4])
{
    uint32_t k;
    memcpy(&k, key, 4);
    uint64_t k8 = (uint64_t)k << 32 | k;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, d + i, 8);
        w ^= k8;
        memcpy(d + i, &w, 8);
    }
    for (; i < n; i++)
        d[i] ^= key[i & 3];
}

/* Hand one whole data message over: 0 go on, or the handler's stop answer. One handed
 * over again later (VSOCK_STOP_BEFORE) is counted then. */
static int hand_over(pass *ps, uint8_t *data, size_t len, int op)
{
    int r = ps->discard ? 0 : ps->fn(ps->arg, data, len, op);
    if (r != VSOCK_STOP_BEFORE) {
        ps->msgs++;
        ps->payload += (int64_t)len;
    }
    return r;
}

/* The control frame at d (unmasked, fin, <= 125 bytes). 0, or a negative end. */
static int control(vsock *s, pass *ps, int op, const uint8_t *d, size_t len)
{
    if (op == 0xA)
        return 0;   /* pong: nothing to do */
    pthread_mutex_lock(&s->mu);
    int r = 0;
    if (op == 0x9) {
        if (!s->close_called && !s->err && append_control(s, 0xA, d, len) == 0)
            s->c.pings_answered++;
    } else {   /* close */
        unsigned code = len >= 2 ? (unsigned)d[0] << 8 | d[1] : 0;
        uint32_t u = 0;
        if (len == 1 || (len >= 2 && !close_code_ok(code))) {
            r = fail_close(s, VSOCK_CLOSE_PROTOCOL, -EPROTO);
        } else if (len > 2 && (!utf8_ok(&u, d + 2, len - 2) || (u & 0xff))) {
            r = fail_close(s, 1007, -EPROTO);
        } else {
            s->peer_code = (uint16_t)(code ? code : VSOCK_CLOSE_NO_STATUS);
            if (!s->close_called && !s->err)
                vsock__inplace_close(s, (int)code);   /* the reply echoes the code */
            s->close_called = true;
            vsock__fail(s, -EPIPE);
            r = -EPIPE;
        }
    }
    pthread_mutex_unlock(&s->mu);
    ps->err = r;
    return r;
}

/* One more fragment of the message in s->rx_cur (started by the first). */
static int fragment(vsock *s, const uint8_t *d, size_t len, bool first, int op)
{
    size_t have = s->rx_cur ? s->rx_cur->len : 0;
    if (!s->rx_cur || have + len > s->rx_cap) {
        size_t cap = s->rx_cap ? s->rx_cap : 256;
        while (cap < have + len)
            cap *= 2;
        vsock_msg *m = realloc(s->rx_cur, sizeof *m + cap);
        if (!m)
            return -ENOMEM;
        if (!s->rx_cur) {
            m->next = NULL;
            m->link_id = 0;
            m->len = 0;
            m->t_decoded = 0;
        }
        s->rx_cur = m;
        s->rx_cap = cap;
    }
    if (first)
        s->rx_cur->opcode = (uint8_t)op;
    memcpy(s->rx_cur->data + have, d, len);
    s->rx_cur->len = (uint32_t)(have + len);
    return 0;
}

/* Parse the complete frames at p[0..n), handing messages over. Returns the bytes taken;
 * ps->stop or ps->err say why it ended early. */
static size_t parse(vsock *s, pass *ps, uint8_t *p, size_t n)
{
    size_t at = 0;
    bool want_mask = s->role == VSOCK_SERVER;
    while (at < n && !ps->stop && !ps->err) {
        size_t hdr = 0;   /* header() leaves both unset on a bad header: -O3 sees it */
        uint64_t pl = 0;
        uint8_t *f = p + at;
        int h = header(f, n - at, &hdr, &pl);
        if (h == 0)
            break;
        int op = f[0] & 0x0f;
        bool fin = f[0] & 0x80, ctrl = op >= 8, masked = f[1] & 0x80;
        int code = 0;
        size_t have = s->frag_op && s->rx_cur ? s->rx_cur->len : 0;
        /* RSV1: a compressed message, once permessage-deflate is agreed, on its first
         * frame only (RFC 7692 §6.1) */
        bool z = (f[0] & 0x40) && s->pmd && (op == 1 || op == 2);
        if (h < 0 || (f[0] & (z ? 0x30 : 0x70)) || masked != want_mask ||
            (op > 2 && op != 8 && op != 9 && op != 10))
            code = VSOCK_CLOSE_PROTOCOL;
        else if (ctrl && (!fin || pl > CTRL_MAX))
            code = VSOCK_CLOSE_PROTOCOL;
        else if (!ctrl && (op == 0) != (s->frag_op != 0))
            code = VSOCK_CLOSE_PROTOCOL;   /* a continuation with no start, or a start inside one */
        else if (!ctrl && pl + have > s->max_msg)
            code = VSOCK_CLOSE_TOO_BIG;    /* refused from the header, before buffering it */
        if (code) {
            pthread_mutex_lock(&s->mu);
            ps->err = fail_close(s, code, code == VSOCK_CLOSE_TOO_BIG ? -EMSGSIZE : -EPROTO);
            pthread_mutex_unlock(&s->mu);
            break;
        }
        if (n - at - hdr < pl)
            break;   /* the payload is not all here yet */
        uint8_t *d = f + hdr;
        size_t len = (size_t)pl;
        if (masked)
            unmask(d, len, f + hdr - 4);
        ps->frames++;
        if (ctrl) {
            if (control(s, ps, op, d, len) < 0)
                break;
            at += hdr + len;
            continue;
        }
        int top = op ? op : s->frag_op;
        if (op)
            s->rx_z = z;
        /* compressed text is checked by no one here (wslay does not either): its UTF-8
         * exists only once inflated */
        if (top == VSOCK_TEXT && !ps->discard && !s->rx_z &&
            (!utf8_ok(&s->utf8, d, len) || (fin && (s->utf8 & 0xff)))) {
            pthread_mutex_lock(&s->mu);
            ps->err = fail_close(s, 1007, -EPROTO);
            pthread_mutex_unlock(&s->mu);
            break;
        }
        if (fin && !s->frag_op && s->rx_z) {
            /* compressed: inflated once into rx_cur and handed over from there, so that a
             * handler's STOP_BEFORE keeps the inflated message (inflating the frame again
             * would run it through the decompressor's history twice) */
            vsock_msg *m = NULL;
            pthread_mutex_lock(&s->mu);
            int e = vsock__pmd_inflate_raw(s, d, len, op, &m);
            if (e)
                ps->err = fail_close(s, e == -EPROTO ? 1007 : VSOCK_CLOSE_TOO_BIG,
                                     e == -EPROTO ? -EPROTO : -EMSGSIZE);
            pthread_mutex_unlock(&s->mu);
            if (e)
                break;
            s->rx_cur = m;
            s->rx_cap = m->len;
            s->rx_z = false;
            at += hdr + len;
            s->frag_ready = true;
            int stop = hand_over(ps, m->data, m->len, m->opcode);
            if (stop != VSOCK_STOP_BEFORE) {
                s->frag_ready = false;
                free(s->rx_cur);
                s->rx_cur = NULL;
                s->rx_cap = 0;
            }
            ps->stop = stop;
            continue;
        }
        if (fin && !s->frag_op) {
            s->utf8 = 0;
            int stop = hand_over(ps, d, len, op);
            if (stop == VSOCK_STOP_BEFORE) {
                if (masked)
                    unmask(d, len, f + hdr - 4);   /* kept as it came: parsed again later */
                ps->frames--;
                ps->stop = stop;
                break;
            }
            at += hdr + len;
            ps->stop = stop;
            continue;
        }
        /* fragmented: assembled in rx_cur, handed over at its last frame */
        if (fragment(s, d, len, op != 0, op) < 0) {
            pthread_mutex_lock(&s->mu);
            ps->err = fail_close(s, VSOCK_CLOSE_TOO_BIG, -EMSGSIZE);
            pthread_mutex_unlock(&s->mu);
            break;
        }
        if (op)
            s->frag_op = (uint8_t)op;
        at += hdr + len;
        if (fin && s->rx_z) {   /* a compressed fragmented message: inflated whole */
            vsock_msg *m = NULL;
            pthread_mutex_lock(&s->mu);
            int e = vsock__pmd_inflate_raw(s, s->rx_cur->data, s->rx_cur->len, s->rx_cur->opcode, &m);
            if (e)
                ps->err = fail_close(s, e == -EPROTO ? 1007 : VSOCK_CLOSE_TOO_BIG,
                                     e == -EPROTO ? -EPROTO : -EMSGSIZE);
            pthread_mutex_unlock(&s->mu);
            if (e)
                break;
            free(s->rx_cur);
            s->rx_cur = m;
            s->rx_cap = m->len;
            s->rx_z = false;
        }
        if (fin) {
            s->frag_op = 0;
            s->utf8 = 0;
            s->frag_ready = true;
            int stop = hand_over(ps, s->rx_cur->data, s->rx_cur->len, s->rx_cur->opcode);
            if (stop != VSOCK_STOP_BEFORE) {
                s->frag_ready = false;
                free(s->rx_cur);
                s->rx_cur = NULL;
                s->rx_cap = 0;
            }
            ps->stop = stop;
        }
    }
    return at;
}

/* Keep p[0..n) for the next call (the carry grows as needed, stays until vsock_trim). */
static int keep(vsock *s, const uint8_t *p, size_t n)
{
    if (n > s->carry_cap) {
        size_t cap = s->carry_cap ? s->carry_cap : 256;
        while (cap < n)
            cap *= 2;
        uint8_t *c = realloc(s->carry, cap);
        if (!c)
            return -ENOMEM;
        vsock__buf(s, VSOCK_BUF_CARRY, s->carry ? 0 : 1, (int64_t)(cap - s->carry_cap));
        s->carry = c;
        s->carry_cap = (uint32_t)cap;
    }
    memmove(s->carry, p, n);
    s->carry_off = 0;
    s->carry_len = (uint32_t)n;
    return 0;
}

/* The whole size of the first kept frame, 0 while its header is incomplete (or its
 * length is refused: parsing says so). */
static size_t carried_frame(const vsock *s)
{
    size_t hdr = 0;
    uint64_t pl = 0;
    if (header(s->carry + s->carry_off, s->carry_len - s->carry_off, &hdr, &pl) != 1 ||
        pl > s->max_msg)
        return 0;
    return hdr + (size_t)pl;
}

int vsock_read_inplace(vsock *s, uint8_t *buf, size_t cap, bool do_read, vsock_msg_fn fn,
                       void *arg, size_t *bytes_read)
{
    *bytes_read = 0;
    pass ps = {.fn = fn, .arg = arg};
    pthread_mutex_lock(&s->mu);
    if (!s->hs_done || s->err) {
        int r = s->err ? s->err : -EINVAL;
        pthread_mutex_unlock(&s->mu);
        return r;
    }
    s->inplace = true;
    ps.discard = s->rx_discard;
    if (s->pre) {   /* frames that came in with the handshake head go first */
        int r = keep(s, s->pre + s->pre_off, s->pre_len - s->pre_off);   /* the carry is empty */
        free(s->pre);
        s->pre = NULL;
        if (r < 0) {
            vsock__fail(s, r);
            pthread_mutex_unlock(&s->mu);
            return r;
        }
    }
    /* a fragmented message the handler stopped before goes first */
    if (s->frag_ready) {
        pthread_mutex_unlock(&s->mu);
        if (hand_over(&ps, s->rx_cur->data, s->rx_cur->len, s->rx_cur->opcode) == VSOCK_STOP_BEFORE)
            return 0;
        s->frag_ready = false;
        free(s->rx_cur);
        s->rx_cur = NULL;
        s->rx_cap = 0;
        pthread_mutex_lock(&s->mu);
    }
    uint8_t *p = buf;
    size_t n = s->carry_len - s->carry_off, room = cap;
    bool in_carry = false;   /* parsed where it is kept */
    if (n) {
        size_t whole = carried_frame(s);
        if (whole && whole <= n) {
            /* whole frames kept when the handler stopped: parsed where they are, without
             * a read now (the kernel reports the fd again) and without copying them back */
            p = s->carry + s->carry_off;
            in_carry = true;
            do_read = false;
        } else if (whole > cap) {
            /* a frame larger than the shared buffer: read into the carry itself */
            if (s->carry_off) {
                memmove(s->carry, s->carry + s->carry_off, n);
                s->carry_off = 0;
                s->carry_len = (uint32_t)n;
            }
            if (whole > s->carry_cap) {
                uint8_t *c = realloc(s->carry, whole);
                if (c)
                    vsock__buf(s, VSOCK_BUF_CARRY, s->carry ? 0 : 1, (int64_t)(whole - s->carry_cap));
                if (!c) {
                    vsock__fail(s, -ENOMEM);
                    pthread_mutex_unlock(&s->mu);
                    return -ENOMEM;
                }
                s->carry = c;
                s->carry_cap = (uint32_t)whole;
            }
            p = s->carry;
            room = whole;
            in_carry = true;
        } else {
            memcpy(buf, s->carry + s->carry_off, n);   /* a cut frame: the read goes after it */
            s->carry_off = s->carry_len = 0;
        }
    }
    int rc = 0;
    if (do_read && !s->rx_eof && n < room) {
        ssize_t r = vsock__recv(s, p + n, room - n);
        if (r > 0) {
            n += (size_t)r;
            *bytes_read = (size_t)r;
        } else if (r == 0) {
            s->rx_eof = true;   /* reported once what came before it is handed over */
        } else if (r != -EAGAIN) {
            rc = r == -ECONNRESET ? -ECONNRESET : (int)r;
        }
    }
    if (in_carry)
        s->carry_len = (uint32_t)(p - s->carry + n);
    pthread_mutex_unlock(&s->mu);
    size_t used = parse(s, &ps, p, n);
    pthread_mutex_lock(&s->mu);
    s->c.frames_in += ps.frames;
    s->c.msgs_in += ps.msgs;
    s->c.payload_in += ps.payload;
    if (in_carry) {
        s->carry_off += (uint32_t)used;
        if (s->carry_off == s->carry_len)
            s->carry_off = s->carry_len = 0;
    } else if (!ps.err && used < n && keep(s, p + used, n - used) < 0) {
        ps.err = -ENOMEM;
    }
    if (ps.err) {
        rc = ps.err;
    } else if (rc) {
        vsock__fail(s, rc);
    } else if (s->rx_eof && !ps.stop) {
        rc = -EPIPE;   /* the peer went away without a close frame */
        vsock__fail(s, rc);
    }
    if (rc && rc != -EPIPE && !s->err)
        vsock__fail(s, rc);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
