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

int vsock_flush(vsock *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->ws && wslay_event_want_write(s->ws))
        wslay_event_send(s->ws);
    int r = vsock__flush_once(s);
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
        free(s->ob);
        s->ob = NULL;
        s->ob_cap = s->ob_off = s->ob_len = 0;
    }
    /* wslay's context (~8.5 KiB of buffers) can go when it holds no state: every byte
     * it was given belongs to a frame it has parsed, nothing is half-assembled, nothing
     * queued, no close under way. It is made again on the next read or close. */
    if (s->ws && !s->rx_cur && !s->pre && s->rx_fed == s->rx_framed && !s->close_called &&
        !s->err && !wslay_event_want_write(s->ws) && wslay_event_get_read_enabled(s->ws)) {
        wslay_event_context_free(s->ws);
        s->ws = NULL;
    }
    pthread_mutex_unlock(&s->mu);
}
