/* vsock_io.c — WebSocket framing shared by every backend: wslay decodes, one coalescing buffer sends. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsock_internal.h"


/* ---------------------------------------------------------------- output buffer */

static int ob_reserve(vsock *s, size_t need)
{
    if (s->ob_off == s->ob_len)
        s->ob_off = s->ob_len = 0;
    if (s->ob_len + need <= s->ob_cap)
        return 0;
    if (s->ob_off) {   /* slide the unsent tail down before growing */
        memmove(s->ob, s->ob + s->ob_off, s->ob_len - s->ob_off);
        s->ob_len -= s->ob_off;
        s->ob_off = 0;
        if (s->ob_len + need <= s->ob_cap)
            return 0;
    }
    size_t cap = s->ob_cap ? s->ob_cap : 4096;
    while (cap < s->ob_len + need)
        cap *= 2;
    uint8_t *nb = realloc(s->ob, cap);
    if (!nb)
        return -ENOMEM;
    vsock__buf(s, VSOCK_BUF_OUT, s->ob ? 0 : 1, (int64_t)(cap - s->ob_cap));
    s->ob = nb;
    s->ob_cap = cap;
    return 0;
}

int vsock__reserve(vsock *s, size_t need)
{
    return ob_reserve(s, need) ? -ENOMEM : 0;
}

int vsock__append(vsock *s, const void *data, size_t len)
{
    if (vsock__reserve(s, len))
        return -ENOMEM;
    memcpy(s->ob + s->ob_len, data, len);
    s->ob_len += len;
    return 0;
}

size_t vsock__put_header(vsock *s, uint8_t *dst, int opcode, bool rsv1, size_t len, uint32_t *key)
{
    uint8_t *p = dst;
    bool mask = s->role == VSOCK_CLIENT;
    *p++ = (uint8_t)(0x80 | (rsv1 ? 0x40 : 0) | (opcode & 0x0f));
    if (len < 126) {
        *p++ = (uint8_t)((mask ? 0x80 : 0) | len);
    } else if (len < 65536) {
        *p++ = (uint8_t)((mask ? 0x80 : 0) | 126);
        *p++ = (uint8_t)(len >> 8);
        *p++ = (uint8_t)len;
    } else {
        *p++ = (uint8_t)((mask ? 0x80 : 0) | 127);
        for (int i = 7; i >= 0; i--)
            *p++ = (uint8_t)((uint64_t)len >> (8 * i));
    }
    if (mask) {
        *key = (uint32_t)vsock__rand(s);
        memcpy(p, key, 4);
        p += 4;
    }
    return (size_t)(p - dst);
}

void vsock__mask(uint8_t *dst, const uint8_t *src, size_t len, uint32_t key)
{
    uint64_t k8 = (uint64_t)key << 32 | key;   /* the key repeats every 4 bytes */
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= k8;
        memcpy(dst + i, &w, 8);
    }
    for (; i < len; i++)
        dst[i] = src[i] ^ ((const uint8_t *)&key)[i & 3];
}

/* Encode one data frame (masked when a client) at dst, which has room for len + 14
 * bytes: the header is 14 bytes at most (RFC 6455 §5.2). Returns the frame's size.
 * Never compressed (permessage-deflate goes through vsock__append_frame). */
size_t vsock__encode_frame(vsock *s, uint8_t *dst, int opcode, const void *data, size_t len)
{
    uint32_t key = 0;
    size_t h = vsock__put_header(s, dst, opcode, false, len, &key);
    if (s->role == VSOCK_CLIENT)
        vsock__mask(dst + h, data, len, key);
    else
        memcpy(dst + h, data, len);
    s->c.frames_out++;
    s->c.msgs_out++;
    s->c.payload_out += (int64_t)len;
    return h + len;
}

/* Encode one data frame straight into the buffer. wslay_event_queue_msg would cost
 * two mallocs and a copy per message, and every incoming frame is still parsed and
 * checked by wslay. */
int vsock__append_frame(vsock *s, int opcode, const void *data, size_t len)
{
    if (s->pmd)
        return vsock__pmd_append_frame(s, opcode, data, len);
    if (vsock__reserve(s, len + 14))
        return -ENOMEM;
    s->ob_len += vsock__encode_frame(s, s->ob + s->ob_len, opcode, data, len);
    return 0;
}

int vsock__flush_once(vsock *s)
{
    size_t n = s->ob_len - s->ob_off;
    if (!n)
        return 0;
    if (s->fd < 0)
        return -EPIPE;
    ssize_t r = s->be->send(s, s->ob + s->ob_off, n);
    if (r < 0) {
        if (r != -EAGAIN)
            vsock__fail(s, r == -ECONNRESET ? -ECONNRESET : -EPIPE);
        return r == -EAGAIN ? -EAGAIN : s->err;
    }
    s->ob_off += (size_t)r;
    s->out_sent += (uint64_t)r;
    s->c.bytes_out += r;
    if (s->partial_end && s->out_sent >= s->partial_end) {
        s->c.partial_resumed++;
        s->partial_end = 0;
    }
    if (s->ob_off < s->ob_len)
        return -EAGAIN;
    /* Drained: give the buffer back, so an idle socket holds none (a 4 KiB
     * malloc/free pair per flush is noise beside the send(2) it comes with). An event
     * loop reading in place keeps it while the socket is busy: its vsock_trim gives it
     * back once the socket is quiet (glibc serves 4 KiB outside its thread cache: ~360
     * instructions a pair, a third of what a 64-byte echo costs in user space). */
    s->ob_off = s->ob_len = 0;
    if (s->inplace)
        return 0;
    vsock__buf(s, VSOCK_BUF_OUT, -1, -(int64_t)s->ob_cap);
    free(s->ob);
    s->ob = NULL;
    s->ob_cap = s->ob_off = s->ob_len = 0;
    return 0;
}

int vsock__set_pre(vsock *s, const void *data, size_t len)
{
    if (!len)
        return 0;
    s->pre = malloc(len);
    if (!s->pre)
        return -ENOMEM;
    memcpy(s->pre, data, len);
    s->pre_off = 0;
    s->pre_len = (uint32_t)len;
    return 0;
}

ssize_t vsock__recv(vsock *s, void *buf, size_t len)
{
    if (s->fd < 0)
        return -EPIPE;
    ssize_t r = s->be->recv(s, buf, len);
    if (r > 0)
        s->c.bytes_in += r;
    return r;
}

/* ---------------------------------------------------------------- wslay callbacks */

/* Keep the last bytes given to wslay: a deadline inside a frame header (VSOCK_GO_READ)
 * needs the header's first byte to tell a data frame from a control frame. */
static void note_fed(vsock *s, const uint8_t *buf, size_t n)
{
    const size_t k = sizeof s->rx_last;
    if (n >= k) {
        memcpy(s->rx_last, buf + n - k, k);
    } else {
        memmove(s->rx_last, s->rx_last + n, k - n);
        memcpy(s->rx_last + k - n, buf, n);
    }
}

static ssize_t cb_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                       void *user)
{
    (void)flags;
    vsock *s = user;
    if (s->pre) {   /* frames that came in with the handshake head go first */
        size_t n = s->pre_len - s->pre_off;
        if (n > len)
            n = len;
        memcpy(buf, s->pre + s->pre_off, n);
        s->pre_off += (uint32_t)n;
        if (s->pre_off == s->pre_len) {
            free(s->pre);
            s->pre = NULL;
        }
        s->rx_fed += n;
        if (s->go & VSOCK_GO_READ)
            note_fed(s, buf, n);
        return (ssize_t)n;
    }
    /* Stop (without a system call) once the round has what it came for; wslay has
     * then parsed everything it buffered. */
    if (s->rx_blocked || s->rx_budget == 0 || (s->rx_one && s->in_head)) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    /* Go mode: net.Conn checks the read deadline when each Read starts, data in the
     * socket or not. Past it, the Read that was parked and has just been woken still
     * returns what it asked for (the header's first 2 bytes, gobwas's first ReadFull),
     * any later Read fails: inside a frame that is a torn frame (vsock__break_frame). */
    if ((s->go & VSOCK_GO_READ) && s->rx_deadline != RT_NEVER && rt_now() >= s->rx_deadline) {
        bool mid = s->rx_fed != s->rx_framed || s->rx_cur;
        if (mid || !s->rx_woken) {
            s->rx_late = true;
            s->rx_blocked = true;
            wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
            return -1;
        }
        s->rx_woken = false;
        if (len > 2)
            len = 2;
    }
    if (len > s->rx_budget)
        len = s->rx_budget;
    ssize_t r = vsock__recv(s, buf, len);
    if (r > 0) {
        s->rx_budget -= (size_t)r;
        s->rx_round += (size_t)r;
        s->rx_fed += (uint64_t)r;
        if (s->go & VSOCK_GO_READ)
            note_fed(s, buf, (size_t)r);
        /* A short read drained the kernel: the next read would say EAGAIN, so the
         * round ends here and the caller waits (or returns to its loop) instead. */
        if ((size_t)r < len)
            s->rx_blocked = true;
        return r;
    }
    if (r == -EAGAIN) {
        s->rx_blocked = true;
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    } else {
        s->rx_ioerr = r == 0 ? -EPIPE : (r == -ECONNRESET ? -ECONNRESET : (int)r);
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    }
    return -1;
}

/* wslay sends only control frames (pong, close): append them; the buffer never refuses. */
static ssize_t cb_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
                       int flags, void *user)
{
    vsock *s = user;
    if (vsock__append(s, data, len)) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    if (!(flags & WSLAY_MSG_MORE))   /* the last piece of a frame */
        s->c.frames_out++;
    return (ssize_t)len;
}

static int cb_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    (void)ctx;
    vsock *s = user;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t r = vsock__rand(s);
        memcpy(buf + i, &r, len - i < 8 ? len - i : 8);
    }
    return 0;
}

static void cb_frame_start(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_start_arg *a, void *user)
{
    vsock *s = user;
    uint64_t pl = a->payload_length;
    s->c.frames_in++;
    s->rx_framed += 2 + (pl < 126 ? 0 : pl < 65536 ? 2 : 8) + (s->role == VSOCK_SERVER ? 4 : 0) + pl;
    s->rx_ctrl = a->opcode >= 8;
    if (s->rx_ctrl || s->rx_too_big)
        return;
    if (a->opcode != 0)   /* wslay refuses RSV1 unless agreed, and on continuations */
        s->rx_z = (a->rsv & WSLAY_RSV1_BIT) != 0;
    size_t have = s->rx_cur ? s->rx_cur->len : 0;
    if (a->opcode != 0 && s->rx_cur) {   /* cannot happen: wslay checks continuation */
        vsock_msg_free(s->rx_cur);
        s->rx_cur = NULL;
        have = 0;
    }
    /* wslay checks each frame against the limit; a fragmented message is checked here. */
    if (have + pl > s->max_msg) {
        s->rx_too_big = true;
        wslay_event_queue_close(ctx, VSOCK_CLOSE_TOO_BIG, NULL, 0);
        wslay_event_shutdown_read(ctx);
        return;
    }
    if (!s->rx_cur || have + pl > s->rx_cap) {
        vsock_msg *m = realloc(s->rx_cur, sizeof *m + have + pl);
        if (!m) {
            s->rx_too_big = true;   /* treated like an oversize message: close 1009 */
            wslay_event_queue_close(ctx, VSOCK_CLOSE_TOO_BIG, NULL, 0);
            wslay_event_shutdown_read(ctx);
            return;
        }
        if (!s->rx_cur) {
            m->next = NULL;
            m->link_id = 0;
            m->len = 0;
            m->opcode = a->opcode;
        }
        s->rx_cur = m;
        s->rx_cap = have + pl;
    }
}

static void cb_frame_chunk(wslay_event_context_ptr ctx,
                           const struct wslay_event_on_frame_recv_chunk_arg *a, void *user)
{
    (void)ctx;
    vsock *s = user;
    if (s->rx_ctrl || s->rx_too_big || !s->rx_cur)
        return;
    memcpy(s->rx_cur->data + s->rx_cur->len, a->data, a->data_length);
    s->rx_cur->len += (uint32_t)a->data_length;
}

static void cb_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *user)
{
    (void)ctx;
    vsock *s = user;
    if (a->opcode == WSLAY_PING) {
        s->c.pings_answered++;   /* wslay has queued the pong */
    } else if (a->opcode == WSLAY_CONNECTION_CLOSE) {
        s->peer_code = a->status_code ? a->status_code : VSOCK_CLOSE_NO_STATUS;
    } else if (a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME) {
        vsock_msg *m = s->rx_cur;
        bool z = s->rx_z;
        s->rx_cur = NULL;
        s->rx_cap = 0;
        s->rx_z = false;
        if (!m)
            return;
        if (s->rx_too_big) {   /* the rest of it was never copied: not a message */
            vsock_msg_free(m);
            return;
        }
        if (z && !s->rx_desync) {
            int e = vsock__pmd_inflate(s, &m);
            if (e) {
                /* larger than allowed once inflated (or no memory for it): 1009 as for
                 * one too big on the wire; not a deflate stream: 1007 (RFC 6455 §7.4.1) */
                vsock_msg_free(m);
                if (e != -EPROTO)
                    s->rx_too_big = true;
                wslay_event_queue_close(ctx, e == -EPROTO ? 1007 : VSOCK_CLOSE_TOO_BIG, NULL, 0);
                wslay_event_shutdown_read(ctx);
                return;
            }
        }
        if (s->rx_desync) {
            /* parsed from a torn stream's misread bytes: no client sent it. Go would hand
             * it to the app; here it is counted and dropped, so that no accounting takes
             * it for a client's message (docs/seed-fidelity.md) */
            s->c.garbage_msgs++;
            vsock_msg_free(m);
            return;
        }
        s->c.msgs_in++;
        s->c.payload_in += m->len;
        if (s->rx_discard) {
            vsock_msg_free(m);
            return;
        }
        /* only the server side reads it; a clock read per message was 4.4 % of the
         * driver's CPU at 1.6 M msg/s (it stamps each read once itself) */
        m->t_decoded = s->role == VSOCK_SERVER ? rt_now() : 0;
        m->next = NULL;
        if (s->in_tail)
            s->in_tail->next = m;
        else
            s->in_head = m;
        s->in_tail = m;
    }
}

static const struct wslay_event_callbacks callbacks = {
    .recv_callback = cb_recv,
    .send_callback = cb_send,
    .genmask_callback = cb_genmask,
    .on_frame_recv_start_callback = cb_frame_start,
    .on_frame_recv_chunk_callback = cb_frame_chunk,
    .on_msg_recv_callback = cb_msg,
};

/* The wslay context is made on first use and dropped by vsock_trim when idle. */
int vsock__ensure_ws(vsock *s)
{
    if (s->ws)
        return 0;
    int r = s->role == VSOCK_SERVER ? wslay_event_context_server_init(&s->ws, &callbacks, s)
                                    : wslay_event_context_client_init(&s->ws, &callbacks, s);
    if (r) {
        s->ws = NULL;
        return -ENOMEM;
    }
    vsock__buf(s, VSOCK_BUF_WS, 1, 0);
    /* No buffering: data frames are assembled straight into one vsock_msg. */
    wslay_event_config_set_no_buffering(s->ws, 1);
    if (s->pmd)   /* RSV1 marks a compressed message (RFC 7692 §6) */
        wslay_event_config_set_allowed_rsv_bits(s->ws, WSLAY_RSV1_BIT);
    wslay_event_config_set_max_recv_msg_length(s->ws, s->max_msg);
    return 0;
}

int vsock__queue_close(vsock *s, int code)
{
    if (s->inplace)   /* read without wslay: no context just for a close frame */
        return vsock__inplace_close(s, code);
    if (vsock__ensure_ws(s))
        return -ENOMEM;
    int r = wslay_event_queue_close(s->ws, (uint16_t)code, NULL, 0);
    if (r == 0)
        wslay_event_send(s->ws);   /* into the buffer; never blocks */
    return r ? -EPIPE : 0;
}

void vsock__break_frame(vsock *s)
{
    if (!s->ws || (s->rx_fed == s->rx_framed && !s->rx_cur))
        return;   /* at a message boundary: Go's read consumed nothing it loses */
    vsock_msg *lost = NULL;
    /* After the first break the stream is misread: a "frame" a later deadline cuts is
     * garbage, not a message (the first break already lost the real one). */
    if (s->rx_desync) {
        vsock_msg_free(s->rx_cur);
        s->rx_cur = NULL;
    } else if (s->rx_fed > s->rx_framed) {
        /* Inside a header: its first byte says whether a data frame (text, binary, or a
         * continuation of the message in rx_cur) was lost. */
        uint64_t have = s->rx_fed - s->rx_framed;
        uint8_t b0 = have <= sizeof s->rx_last ? s->rx_last[sizeof s->rx_last - have] : 0x88;
        if ((b0 & 0x0f) < 8 && !s->rx_cur && (lost = vsock_msg_new(0)))
            lost->opcode = b0 & 0x0f;
    }
    if (s->rx_cur && !s->rx_too_big)
        lost = s->rx_cur;   /* a message under assembly: what came of it is lost */
    else
        vsock_msg_free(s->rx_cur);
    if (lost) {
        lost->next = NULL;
        lost->link_id = 0;
        lost->t_decoded = 0;
        s->c.msgs_in++;   /* taken off the wire, if not whole: the client's message */
    }
    s->rx_cur = NULL;
    s->rx_cap = 0;
    s->rx_ctrl = s->rx_too_big = s->rx_z = false;
    /* Go's next read starts a fresh reader at the next byte: so does a fresh wslay
     * context, made on the next decode. */
    if (s->ws)
        vsock__buf(s, VSOCK_BUF_WS, -1, 0);
    wslay_event_context_free(s->ws);
    s->ws = NULL;
    s->rx_framed = s->rx_fed;
    s->rx_desync = true;
    s->c.frames_broken_by_deadline++;
    vsock_msg_free(s->broken);
    s->broken = lost;
}

void vsock__free_io(vsock *s)
{
    if (s->ws)
        vsock__buf(s, VSOCK_BUF_WS, -1, 0);
    wslay_event_context_free(s->ws);
    s->ws = NULL;
    for (vsock_msg *m = s->in_head, *n; m; m = n) {
        n = m->next;
        vsock_msg_free(m);
    }
    s->in_head = s->in_tail = NULL;
    vsock_msg_free(s->rx_cur);
    s->rx_cur = NULL;
    if (s->ob)
        vsock__buf(s, VSOCK_BUF_OUT, -1, -(int64_t)s->ob_cap);
    free(s->ob);
    s->ob = NULL;
    s->ob_cap = s->ob_len = s->ob_off = 0;
    free(s->pre);
    s->pre = NULL;
    vsock_msg_free(s->broken);
    s->broken = NULL;
    if (s->carry)
        vsock__buf(s, VSOCK_BUF_CARRY, -1, -(int64_t)s->carry_cap);
    free(s->carry);
    s->carry = NULL;
    s->carry_off = s->carry_len = s->carry_cap = 0;
    vsock__pmd_free(s);
}

/* ---------------------------------------------------------------- decoding */

/* One decode round: read (within rx_budget / rx_one) and parse into the inbox; pongs
 * and close replies go into the output buffer. 0, or the error that ended reading. */
int vsock__decode(vsock *s)
{
    if (s->err)
        return s->err;
    if (vsock__ensure_ws(s))
        return -ENOMEM;
    s->rx_blocked = false;
    s->rx_ioerr = 0;
    s->rx_round = 0;
    int r = wslay_event_recv(s->ws);
    if (wslay_event_want_write(s->ws))
        wslay_event_send(s->ws);
    if (r == 0 && wslay_event_get_read_enabled(s->ws))
        return 0;
    int e;
    if (r == WSLAY_ERR_NOMEM)
        e = -ENOMEM;
    else if (s->rx_ioerr)
        e = s->rx_ioerr;
    else if (wslay_event_get_close_received(s->ws))
        e = -EPIPE;
    else if (s->rx_too_big || wslay_event_get_status_code_sent(s->ws) == VSOCK_CLOSE_TOO_BIG)
        e = -EMSGSIZE;
    else
        e = -EPROTO;   /* unmasked, reserved bits, bad opcode or UTF-8: wslay closed 1002/1007 */
    vsock__fail(s, e);
    return e;
}

int vsock__wait_fd(vsock *s, short ev, rt_ns deadline, bool user_ctx)
{
    /* Waits use a child of the caller's ctx that vsock_close can cancel on its own;
     * made on the first wait, so event-loop sockets never pay for it. */
    if (!s->wctx && !user_ctx)
        s->wctx = rt_ctx_create(s->uctx);
    return vsock__wait_fd_on(s, ev, deadline, s->wctx && !user_ctx ? s->wctx : s->uctx);
}

int vsock__wait_fd_on(vsock *s, short ev, rt_ns deadline, rt_ctx *c)
{
    int fd = s->fd;
    bool paused = ev == POLLIN && s->be->rx_paused && s->be->rx_paused(s);
    pthread_mutex_unlock(&s->mu);
    int r;
    if (paused) {   /* a mem test hook: the fd is readable but reads are held back */
        rt_ns t = rt_deadline_in(RT_MS);
        r = rt_sleep_until(t < deadline ? t : deadline, c);
        if (r == 0)
            r = rt_now() >= deadline ? -ETIMEDOUT : POLLIN;
    } else {
        r = rt_wait_fd(fd, ev, deadline, c);
    }
    pthread_mutex_lock(&s->mu);
    s->c.sys_poll++;
    return r;
}

void vsock__leave(vsock *s)
{
    if (--s->users == 0 && s->fd_shut && s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    pthread_mutex_unlock(&s->mu);
}

int vsock__woke_err(const vsock *s, int w)
{
    return w == -ECANCELED && s->close_called ? -EPIPE : w;
}

/* ---------------------------------------------------------------- blocking API */

int vsock_read(vsock *s, vsock_msg **out, rt_ns deadline)
{
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    s->users++;
    s->rx_deadline = deadline;
    s->rx_woken = s->rx_late = false;
    int r;
    for (;;) {
        if (s->in_head) {
            vsock_msg *m = s->in_head;
            s->in_head = m->next;
            if (!s->in_head)
                s->in_tail = NULL;
            m->next = NULL;
            *out = m;
            r = 0;
            break;
        }
        if (s->close_called) {
            r = -EPIPE;
            break;
        }
        if (s->err || !s->hs_done) {
            r = s->err ? s->err : -EINVAL;
            break;
        }
        s->rx_one = true;
        s->rx_budget = SIZE_MAX;
        r = vsock__decode(s);
        s->rx_one = false;
        if (s->ob_len > s->ob_off)   /* a pong or close reply: one try, never a wait */
            vsock__flush_once(s);
        if (!r && !s->in_head && s->rx_late) {   /* Go mode: a Read found its deadline gone */
            s->c.read_timeouts++;
            r = -ETIMEDOUT;
            break;
        }
        if (r || s->in_head || !s->rx_blocked)
            continue;
        if (deadline != RT_NEVER && rt_now() >= deadline) {   /* a trickle must not outlive it */
            s->c.read_timeouts++;
            r = -ETIMEDOUT;
            break;
        }
        int w = vsock__wait_fd(s, POLLIN, deadline, false);
        if (w == -ETIMEDOUT)
            s->c.read_timeouts++;
        if (w < 0 && !s->in_head) {
            r = vsock__woke_err(s, w);
            break;
        }
        s->rx_woken = w > 0;
    }
    if (r == -ETIMEDOUT && (s->go & VSOCK_GO_READ))
        vsock__break_frame(s);
    s->rx_deadline = RT_NEVER;
    vsock__leave(s);
    return r;
}

int vsock__write_err(const vsock *s)
{
    return s->err == -ECONNRESET ? -ECONNRESET : -EPIPE;
}

/* VSOCK_GO_WRITE at a write deadline: the kernel has what it took of the pending frame
 * and the rest is gone, as after Go's Write returned with its timeout. Bytes queued
 * behind the frame (a pong) stay. */
static void cut_frame(vsock *s)
{
    uint64_t from = s->out_sent > s->pend_start ? s->out_sent : s->pend_start;
    s->pend = false;
    if (from >= s->pend_end)
        return;
    size_t a = s->ob_off + (size_t)(from - s->out_sent);
    size_t b = s->ob_off + (size_t)(s->pend_end - s->out_sent);
    memmove(s->ob + a, s->ob + b, s->ob_len - b);
    s->ob_len -= b - a;
    if (from == s->pend_start) {   /* none of it left: as if never written */
        s->c.frames_out--;
        s->c.msgs_out--;
        s->c.payload_out -= (int64_t)s->pend_len;
    } else {
        s->c.frames_cut_by_deadline++;
    }
}

int vsock_write(vsock *s, const void *data, size_t len, int opcode, rt_ns deadline)
{
    pthread_mutex_lock(&s->mu);
    s->users++;
    int r = 0;
    if (s->close_called || s->err || !s->hs_done) {
        r = s->hs_done || s->err ? vsock__write_err(s) : -EINVAL;
        vsock__leave(s);
        return r;
    }
    /* In Go mode a retry is a new frame like any other (the seed's Write(payload)). */
    bool retry = !(s->go & VSOCK_GO_WRITE) && s->pend && s->pend_ptr == data &&
                 s->pend_len == len && s->out_sent < s->pend_end;
    /* Not with permessage-deflate: the compressor has taken the frame into its history,
     * so the frame already made is the one that must go. */
    if (retry && !s->pmd && s->out_sent <= s->pend_start && s->pend_end == vsock__out_total(s)) {
        /* Not started and still last: the retry replaces it (its bytes may differ). */
        s->ob_len -= (size_t)(s->pend_end - s->pend_start);
        s->c.frames_out--;
        s->c.msgs_out--;
        s->c.payload_out -= (int64_t)s->pend_len;
        retry = false;
    }
    if (!retry) {
        /* An unfinished earlier frame stays ahead of this one and is finished first. */
        uint64_t start = vsock__out_total(s);
        if (vsock__append_frame(s, opcode, data, len)) {
            vsock__leave(s);
            return -ENOMEM;
        }
        s->pend = true;
        s->pend_ptr = data;
        s->pend_len = len;
        s->pend_start = start;
        s->pend_end = vsock__out_total(s);
    }
    while (s->out_sent < s->pend_end) {
        r = vsock__flush_once(s);
        if (r == 0 || (r == -EAGAIN && s->out_sent >= s->pend_end))
            continue;
        if (r != -EAGAIN || s->close_called) {
            r = vsock__write_err(s);
            break;
        }
        int w = vsock__wait_fd(s, POLLOUT, deadline, false);
        if (w < 0) {
            if (w == -ETIMEDOUT)
                s->c.write_timeouts++;
            if (w == -ETIMEDOUT && (s->go & VSOCK_GO_WRITE))
                cut_frame(s);
            else if (s->out_sent > s->pend_start)   /* started: a later write must finish it */
                s->partial_end = s->pend_end;
            r = vsock__woke_err(s, w);
            break;
        }
        r = 0;
    }
    if (s->out_sent >= s->pend_end) {
        s->pend = false;
        r = 0;
    }
    vsock__leave(s);
    return r;
}
