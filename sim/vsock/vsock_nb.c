/* vsock_nb.c — the event-loop face of a vsock: decode what is there, queue, flush, trim; never waits. */
#include <errno.h>
#include <stdlib.h>

#include "vsock_internal.h"

/* vsock_queue refuses to queue beyond this many unsent bytes (wslay's own queue is
 * unbounded: a flooding peer once made an echo queue ~480 MB). */
#define OB_LIMIT_BYTES ((size_t)64 << 20)

/* ---------------------------------------------------------------- event-loop API */

int vsock_read_nb(vsock *s, size_t max_bytes, size_t *bytes_read)
{
    pthread_mutex_lock(&s->mu);
    int r;
    if (!s->hs_done && !s->err) {
        r = -EINVAL;
    } else {
        s->rx_budget = max_bytes ? max_bytes : SIZE_MAX;
        r = vsock__decode(s);
        if (bytes_read)
            *bytes_read = s->rx_round;
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

vsock_msg *vsock_poll_msg(vsock *s)
{
    pthread_mutex_lock(&s->mu);
    vsock_msg *m = s->in_head;
    if (m) {
        s->in_head = m->next;
        if (!s->in_head)
            s->in_tail = NULL;
        m->next = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    return m;
}

int vsock_queue(vsock *s, const void *data, size_t len, int opcode)
{
    pthread_mutex_lock(&s->mu);
    int r;
    if (s->close_called || s->err || !s->hs_done)
        r = s->hs_done || s->err ? vsock__write_err(s) : -EINVAL;
    else if (s->ob_len - s->ob_off + len > OB_LIMIT_BYTES)
        r = -ENOBUFS;
    else
        r = vsock__append_frame(s, opcode, data, len);
    pthread_mutex_unlock(&s->mu);
    return r;
}

size_t vsock_frame_bytes(const vsock *s, size_t len)
{
    return len + (len < 126 ? 2 : len < 65536 ? 4 : 10) + (s->role == VSOCK_CLIENT ? 4 : 0);
}

int vsock_queue_list(vsock *s, vsock_msg *head)
{
    pthread_mutex_lock(&s->mu);
    int r = 0;
    if (s->close_called || s->err || !s->hs_done) {
        r = s->hs_done || s->err ? vsock__write_err(s) : -EINVAL;
    } else if (s->pmd) {
        /* compressed one by one: a frame's size is known once deflated */
        size_t have = s->ob_len - s->ob_off;
        for (vsock_msg *q = head; q && have + q->len <= OB_LIMIT_BYTES; q = q->next) {
            uint64_t t0 = vsock__out_total(s);
            int e = vsock__append_frame(s, q->opcode ? q->opcode : VSOCK_BINARY, q->data, q->len);
            if (e) {
                if (!r)
                    r = e;
                break;
            }
            q->link_id = (uint32_t)(vsock__out_total(s) - t0);
            have = s->ob_len - s->ob_off;
            r++;
        }
        if (!r && head)
            r = -ENOBUFS;
    } else {
        size_t have = s->ob_len - s->ob_off, add = 0;
        vsock_msg *m = head;
        for (; m && have + add + m->len <= OB_LIMIT_BYTES; m = m->next)
            add += vsock_frame_bytes(s, m->len);
        /* one reservation for the whole list, then the frames back to back */
        if (add && vsock__reserve(s, add) == 0) {
            for (vsock_msg *q = head; q != m; q = q->next) {
                size_t f = vsock__encode_frame(s, s->ob + s->ob_len, q->opcode ? q->opcode
                                               : VSOCK_BINARY, q->data, q->len);
                s->ob_len += f;
                q->link_id = (uint32_t)f;
                r++;
            }
        } else {
            r = add ? -ENOMEM : -ENOBUFS;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

int vsock_flush(vsock *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->ws && wslay_event_want_write(s->ws))
        wslay_event_send(s->ws);
    int r = vsock__flush_once(s);
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* Frames up to this size are built on the caller's stack and handed to the kernel
 * from there: no copy into the output buffer and no malloc/free of it per message. */
#define NOW_STACK_BYTES 2048

int64_t vsock_send_now(vsock *s, const void *data, size_t len, int opcode, size_t *frame_bytes)
{
    uint8_t stack[NOW_STACK_BYTES];
    *frame_bytes = 0;
    pthread_mutex_lock(&s->mu);
    int64_t r;
    if (s->close_called || s->err || !s->hs_done) {
        r = s->hs_done || s->err ? vsock__write_err(s) : -EINVAL;
    } else if (s->ob_len > s->ob_off || (s->ws && wslay_event_want_write(s->ws))) {
        r = -EAGAIN;   /* behind what is queued, never before it */
    } else if (s->fd < 0) {
        r = -EPIPE;
    } else if (len + 14 > sizeof stack || s->pmd) {
        /* (a compressed frame is built in the buffer: vsock__pmd_append_frame) */
        /* Large: through the buffer (one copy), then one send as vsock_flush would. */
        uint64_t t0 = vsock__out_total(s);
        r = vsock__append_frame(s, opcode, data, len);
        if (r == 0) {
            *frame_bytes = (size_t)(vsock__out_total(s) - t0);
            int f = vsock__flush_once(s);
            r = f == 0 ? 0 : f == -EAGAIN ? (int64_t)(s->ob_len - s->ob_off) : f;
        }
    } else {
        size_t n = vsock__encode_frame(s, stack, opcode, data, len);
        *frame_bytes = n;
        ssize_t w = s->be->send(s, stack, n);
        if (w < 0 && w != -EAGAIN) {
            vsock__fail(s, w == -ECONNRESET ? -ECONNRESET : -EPIPE);
            r = s->err;
        } else {
            size_t done = w > 0 ? (size_t)w : 0;
            s->out_sent += done;
            s->c.bytes_out += (int64_t)done;
            /* The kernel took part (or none): the rest waits in the buffer. Without
             * room for it the stream would be cut mid-frame: the socket fails. */
            r = done == n ? 0 : (int64_t)(n - done);
            if (r > 0 && vsock__append(s, stack + done, n - done)) {
                vsock__fail(s, -EPIPE);
                r = -ENOMEM;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

size_t vsock_pending_out(const vsock *s)
{
    return s->ob_len - s->ob_off;
}

bool vsock_want_write(const vsock *s)
{
    return s->ob_len > s->ob_off || (s->ws && wslay_event_want_write(s->ws));
}

void vsock_trim(vsock *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->ob_off == s->ob_len) {
        if (s->ob)
            vsock__buf(s, VSOCK_BUF_OUT, -1, -(int64_t)s->ob_cap);
        free(s->ob);
        s->ob = NULL;
        s->ob_cap = s->ob_off = s->ob_len = 0;
    }
    if (s->carry && s->carry_len == s->carry_off) {   /* in-place reading: nothing half-read */
        vsock__buf(s, VSOCK_BUF_CARRY, -1, -(int64_t)s->carry_cap);
        free(s->carry);
        s->carry = NULL;
        s->carry_cap = 0;
    }
    vsock__pmd_trim(s);
    /* wslay's context (~8.5 KiB of buffers) can go when it holds no state: every byte
     * it was given belongs to a frame it has parsed, nothing is half-assembled, nothing
     * queued, no close under way. It is made again on the next read or close. */
    if (s->ws && !s->rx_cur && !s->pre && s->rx_fed == s->rx_framed && !s->close_called &&
        !s->err && !wslay_event_want_write(s->ws) && wslay_event_get_read_enabled(s->ws)) {
        vsock__buf(s, VSOCK_BUF_WS, -1, 0);
        wslay_event_context_free(s->ws);
        s->ws = NULL;
    }
    pthread_mutex_unlock(&s->mu);
}
