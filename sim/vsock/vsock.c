/* vsock.c — the virtual socket's life: messages, options, counters, handshake and close, dispatch to backends. */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsock_internal.h"

/* ---------------------------------------------------------------- messages */

vsock_msg *vsock_msg_new(size_t len)
{
    if (len > UINT32_MAX)
        return NULL;
    vsock_msg *m = malloc(sizeof *m + len);
    if (!m)
        return NULL;
    m->next = NULL;
    m->link_id = 0;
    m->len = (uint32_t)len;
    m->opcode = VSOCK_BINARY;
    m->t_decoded = 0;
    return m;
}

void vsock_msg_free(vsock_msg *m)
{
    free(m);
}

void vsock_opts_default(vsock_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_msg_bytes = (size_t)16 << 20;
    o->close_timeout = 2 * RT_S;
    o->handshake_timeout = 10 * RT_S;
}

/* ---------------------------------------------------------------- counters */

/* Live sockets are summed on demand; destroyed ones are folded into `dead`. The hot
 * path only bumps plain fields under the socket's own lock. */
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static vsock *reg_head;
static vsock_counters dead;

static void add_counters(vsock_counters *a, const vsock_counters *b)
{
    int64_t *x = (int64_t *)a;
    const int64_t *y = (const int64_t *)b;
    for (size_t i = 0; i < sizeof *a / sizeof(int64_t); i++)
        x[i] += y[i];
}

static _Atomic int64_t bufs[2][3][2];   /* [role][kind][count, bytes] */

void vsock__buf(const vsock *s, int kind, int64_t count, int64_t bytes)
{
    int r = s->role == VSOCK_CLIENT;
    if (count)
        atomic_fetch_add_explicit(&bufs[r][kind][0], count, memory_order_relaxed);
    if (bytes)
        atomic_fetch_add_explicit(&bufs[r][kind][1], bytes, memory_order_relaxed);
}

void vsock_get_buffers(enum vsock_role role, vsock_buffers *out)
{
    int r = role == VSOCK_CLIENT;
    out->out_bufs = atomic_load(&bufs[r][VSOCK_BUF_OUT][0]);
    out->out_bytes = atomic_load(&bufs[r][VSOCK_BUF_OUT][1]);
    out->carry_bufs = atomic_load(&bufs[r][VSOCK_BUF_CARRY][0]);
    out->carry_bytes = atomic_load(&bufs[r][VSOCK_BUF_CARRY][1]);
    out->ws_contexts = atomic_load(&bufs[r][VSOCK_BUF_WS][0]);
}

void vsock_get_counters(const vsock *s, vsock_counters *out)
{
    vsock *m = (vsock *)s;   /* the lock is not part of the value */
    pthread_mutex_lock(&m->mu);
    *out = s->c;
    pthread_mutex_unlock(&m->mu);
}

void vsock_get_totals(vsock_counters *out)
{
    pthread_mutex_lock(&reg_mu);
    *out = dead;
    for (vsock *s = reg_head; s; s = s->reg_next) {
        pthread_mutex_lock(&s->mu);
        add_counters(out, &s->c);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&reg_mu);
}

void vsock__each(void (*fn)(vsock *s, void *arg), void *arg)
{
    pthread_mutex_lock(&reg_mu);
    for (vsock *s = reg_head; s; s = s->reg_next)
        fn(s, arg);
    pthread_mutex_unlock(&reg_mu);
}

/* ---------------------------------------------------------------- life */

uint64_t vsock__rand(vsock *s)
{
    /* xorshift64*: masking keys need to be unpredictable to intermediaries on a real
     * network, not here; a seeded per-socket generator costs a few cycles. */
    uint64_t x = s->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int vsock__init(vsock *s, const struct vsock_backend *be, int fd, enum vsock_role role,
                const vsock_opts *o)
{
    vsock_opts def;
    if (!o) {
        vsock_opts_default(&def);
        o = &def;
    }
    s->be = be;
    s->fd = fd;
    s->role = (uint8_t)role;
    s->max_msg = o->max_msg_bytes ? o->max_msg_bytes : ((size_t)16 << 20);
    s->close_timeout = o->close_timeout > 0 ? o->close_timeout : 2 * RT_S;
    s->hs_timeout = o->handshake_timeout > 0 ? o->handshake_timeout : 10 * RT_S;
    s->rx_deadline = RT_NEVER;
    s->pmd_mode = (uint8_t)(o->deflate == VSOCK_DEFLATE_TAKEOVER || o->deflate == VSOCK_DEFLATE_NO_TAKEOVER
                                ? o->deflate : VSOCK_DEFLATE_OFF);
    if (getrandom(&s->rng, sizeof s->rng, GRND_NONBLOCK) != sizeof s->rng)
        s->rng = (uint64_t)rt_now() ^ (uint64_t)(uintptr_t)s;
    s->rng |= 1;   /* xorshift must not start at 0 */
    int e = pthread_mutex_init(&s->mu, NULL);
    if (e)
        return -e;
    pthread_mutex_lock(&reg_mu);
    s->reg_next = reg_head;
    if (reg_head)
        reg_head->reg_prev = s;
    reg_head = s;
    pthread_mutex_unlock(&reg_mu);
    return 0;
}

void vsock__fail(vsock *s, int err)
{
    if (!s->err)
        s->err = err;
}

void vsock_destroy(vsock *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&reg_mu);
    if (s->reg_prev)
        s->reg_prev->reg_next = s->reg_next;
    else
        reg_head = s->reg_next;
    if (s->reg_next)
        s->reg_next->reg_prev = s->reg_prev;
    add_counters(&dead, &s->c);
    pthread_mutex_unlock(&reg_mu);
    vsock__free_io(s);
    free(s->hs);
    rt_ctx_destroy(s->wctx);
    if (s->fd >= 0)
        close(s->fd);
    pthread_mutex_destroy(&s->mu);
    s->be->release(s);
}

void vsock_set_ctx(vsock *s, rt_ctx *ctx)
{
    pthread_mutex_lock(&s->mu);
    s->uctx = ctx;
    /* The wake-up child hangs off the caller's ctx; make it again under the new one.
     * (Contract: no thread is waiting on s now.) */
    if (s->wctx && !s->close_called) {
        rt_ctx_destroy(s->wctx);
        s->wctx = NULL;
    }
    pthread_mutex_unlock(&s->mu);
}

void vsock_set_go(vsock *s, unsigned go_flags)
{
    pthread_mutex_lock(&s->mu);
    s->go = (uint8_t)(go_flags & (VSOCK_GO_READ | VSOCK_GO_WRITE));
    pthread_mutex_unlock(&s->mu);
}

vsock_msg *vsock_take_broken(vsock *s)
{
    pthread_mutex_lock(&s->mu);
    vsock_msg *m = s->broken;
    s->broken = NULL;
    pthread_mutex_unlock(&s->mu);
    return m;
}

int vsock_fd(const vsock *s)
{
    return s->fd;
}

bool vsock_is_closed(const vsock *s)
{
    return s->close_called || s->err;
}

int vsock_close_code(const vsock *s)
{
    return s->peer_code;
}

/* ---------------------------------------------------------------- handshake */

int vsock_handshake_step(vsock *s, const char *host, const char *path)
{
    pthread_mutex_lock(&s->mu);
    int r = s->hs_done ? 0 : s->err ? s->err : s->be->handshake_step(s, host, path);
    pthread_mutex_unlock(&s->mu);
    return r;
}

int vsock_handshake(vsock *s, const char *host, const char *path, rt_ns deadline)
{
    pthread_mutex_lock(&s->mu);
    s->users++;
    rt_ns hd = rt_deadline_in(s->hs_timeout);
    if (hd < deadline)
        deadline = hd;
    int r;
    for (;;) {
        r = s->hs_done ? 0 : s->err ? s->err : s->be->handshake_step(s, host, path);
        if (r != -EAGAIN)
            break;
        bool out = s->ob_len > s->ob_off;
        int w = vsock__wait_fd(s, out ? POLLOUT : POLLIN, deadline, false);
        if (w < 0) {
            r = vsock__woke_err(s, w);
            break;
        }
    }
    if (r < 0 && !s->hs_done) {
        /* A failed or timed-out handshake leaves a closed connection (any 400 was
         * already handed to the kernel by the step). */
        vsock__fail(s, r);
        if (s->fd >= 0 && !s->fd_shut) {
            shutdown(s->fd, SHUT_RDWR);
            s->fd_shut = true;
        }
    }
    vsock__leave(s);
    return r;
}

/* ---------------------------------------------------------------- close */

void vsock_close_nb(vsock *s, int code)
{
    pthread_mutex_lock(&s->mu);
    if (!s->close_called) {
        s->close_called = true;
        s->rx_discard = true;
        if (s->hs_done && !s->err)
            vsock__queue_close(s, code);
    }
    pthread_mutex_unlock(&s->mu);
}

/* With s->mu held: the close handshake, until the peer's close frame came (or the
 * connection ended) and ours is in the kernel, or the deadline. */
static int close_handshake(vsock *s, rt_ns deadline)
{
    for (;;) {
        int f = vsock__flush_once(s);
        if (f < 0 && f != -EAGAIN)
            return 0;   /* the connection is gone: nothing left to wait for */
        bool peer_done = s->peer_code || s->err;
        if (f == 0 && peer_done)
            return 0;
        if (f == 0) {   /* ours is out: read until the peer's close arrives */
            s->rx_budget = SIZE_MAX;
            s->rx_one = false;
            if (vsock__decode(s) && !s->peer_code)
                return 0;
            if (s->peer_code)
                continue;
        }
        /* The deadline is checked here, not left to the wait: a poll past the deadline
         * still reports a ready fd, so a peer that keeps us busy would never time out. */
        if (rt_now() >= deadline)
            return -ETIMEDOUT;
        if (f == 0 && !s->rx_blocked)
            continue;
        /* While ours waits for room, wait for room only: the input of a peer that sends
         * but never reads stays unread, its fd readable, and POLLIN would spin. On the
         * caller's ctx, not the wake-up child we have just cancelled. */
        int w = vsock__wait_fd(s, f == -EAGAIN ? POLLOUT : POLLIN, deadline, true);
        if (w < 0)
            return w;
    }
}

int vsock_close_after_frame(vsock *s, int code, rt_ns deadline, rt_ctx *wait_ctx)
{
    pthread_mutex_lock(&s->mu);
    if (s->close_called) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    s->close_called = true;
    s->rx_discard = true;
    s->users++;
    if (s->wctx)
        rt_ctx_cancel(s->wctx);
    int r = 0;
    if (s->hs_done && s->fd >= 0) {
        if (!s->err)
            vsock__queue_close(s, code);
        /* Write it, like Go's Write under a deadline: what is pending goes first (a
         * timed-out frame's rest, a pong), then the close frame; no read follows. */
        for (;;) {
            int f = vsock__flush_once(s);
            if (f != -EAGAIN)
                break;   /* all out, or the connection is gone */
            if (rt_now() >= deadline) {
                r = -ETIMEDOUT;
                break;
            }
            int w = vsock__wait_fd_on(s, POLLOUT, deadline, wait_ctx);
            if (w < 0) {
                r = w;
                break;
            }
        }
    }
    if (s->fd >= 0 && !s->fd_shut) {
        shutdown(s->fd, SHUT_RDWR);
        s->fd_shut = true;
    }
    vsock__leave(s);   /* the last user closes the fd */
    return r;
}

int vsock_close(vsock *s, int code)
{
    return vsock_close_within(s, code, rt_deadline_in(s->close_timeout));
}

int vsock_close_within(vsock *s, int code, rt_ns deadline)
{
    pthread_mutex_lock(&s->mu);
    if (s->close_called) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    s->close_called = true;
    s->rx_discard = true;
    s->users++;
    /* Wake a blocked reader and writer at once: they see close_called and say -EPIPE. */
    if (s->wctx)
        rt_ctx_cancel(s->wctx);
    int r = 0;
    if (s->hs_done && s->fd >= 0) {
        /* After an error wslay may already have queued its own close (1002, 1009, or
         * the reply to the peer's): then that one is flushed instead. */
        if (!s->err)
            vsock__queue_close(s, code);
        r = close_handshake(s, deadline);
    }
    if (s->fd >= 0 && !s->fd_shut) {
        shutdown(s->fd, SHUT_RDWR);
        s->fd_shut = true;
    }
    vsock__leave(s);   /* the last user closes the fd */
    return r;
}
