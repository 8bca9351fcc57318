/* vsock_tcp.c — the tcp backend: a non-blocking kernel socket and the HTTP/1.1 upgrade on it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsock_internal.h"
#include "ws_handshake.h"
#include "ws_pmd.h"

/* A handshake in progress; freed when it ends, so an established socket carries none
 * of it. */
struct ws_hs {
    uint8_t state;
    size_t len;
    char accept[WS_ACCEPT_LEN + 1];
    char buf[WS_HS_MAX_BYTES];
};

enum { HS_START, HS_SRV_READ, HS_SRV_WRITE, HS_CLI_WRITE, HS_CLI_READ };

static ssize_t tcp_recv(vsock *s, void *buf, size_t len)
{
    for (;;) {
        s->c.sys_read++;
        ssize_t r = recv(s->fd, buf, len, MSG_DONTWAIT);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static ssize_t tcp_send(vsock *s, const void *buf, size_t len)
{
    for (;;) {
        s->c.sys_write++;
        ssize_t r = send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static void hs_done(vsock *s)
{
    free(s->hs);
    s->hs = NULL;
    s->hs_done = true;
}

/* Refuse a request: a 400 into the buffer and one try to hand it to the kernel. */
static int hs_refuse(vsock *s, const char *why, int err)
{
    char resp[512];
    int n = ws_build_bad_request(resp, sizeof resp, why);
    if (n > 0 && vsock__append(s, resp, (size_t)n) == 0)
        vsock__flush_once(s);
    free(s->hs);
    s->hs = NULL;
    vsock__fail(s, err);
    return err;
}

/* Read what is there into the head buffer: >0 new bytes, -EAGAIN, other negative. */
static int hs_read(vsock *s)
{
    struct ws_hs *h = s->hs;
    if (h->len == sizeof h->buf)
        return -E2BIG;
    ssize_t r = vsock__recv(s, h->buf + h->len, sizeof h->buf - h->len);
    if (r == 0)
        return -ECONNRESET;   /* closed before the handshake completed */
    if (r < 0)
        return (int)r;
    h->len += (size_t)r;
    return (int)r;
}

static int server_step(vsock *s)
{
    struct ws_hs *h = s->hs;
    if (h->state == HS_START)
        h->state = HS_SRV_READ;
    while (h->state == HS_SRV_READ) {
        int r = hs_read(s);
        if (r == -E2BIG)
            return hs_refuse(s, "request head too long", -EPROTO);
        if (r < 0) {
            if (r != -EAGAIN)
                vsock__fail(s, r);
            return r;
        }
        struct ws_request req;
        int hl = ws_parse_request(h->buf, h->len, &req);
        if (hl == 0)
            continue;   /* the next read says EAGAIN when nothing more is there */
        if (hl < 0)
            return hs_refuse(s, req.error, -EPROTO);
        char resp[512], ext[160];
        ws_accept_key(req.key, WS_KEY_LEN, h->accept);
        /* permessage-deflate when this server has it and the client offered it
         * acceptably; otherwise the offer is ignored (RFC 7692 §5: no extension) */
        bool pmd = s->pmd_mode != VSOCK_DEFLATE_OFF && req.pmd;
        struct ws_pmd agreed;
        if (pmd) {
            ws_pmd_agree(&req.pmd_offer, (enum ws_pmd_mode)s->pmd_mode, &agreed);
            pmd = ws_pmd_format_answer(ext, sizeof ext, &agreed) > 0;
        }
        int n = ws_build_response_ext(resp, sizeof resp, h->accept, pmd ? ext : NULL);
        if (pmd && n > 0 && vsock__pmd_set(s, &agreed))
            n = -ENOMEM;
        if (n < 0 || vsock__append(s, resp, (size_t)n) ||
            vsock__set_pre(s, h->buf + hl, h->len - (size_t)hl))
            return hs_refuse(s, "out of memory", -ENOMEM);
        h->state = HS_SRV_WRITE;
    }
    int f = vsock__flush_once(s);
    if (f)
        return f;
    hs_done(s);
    return 0;
}

static int client_step(vsock *s, const char *host, const char *path)
{
    struct ws_hs *h = s->hs;
    if (h->state == HS_START) {
        uint8_t nonce[16];
        uint64_t a = vsock__rand(s), b = vsock__rand(s);
        memcpy(nonce, &a, 8);
        memcpy(nonce + 8, &b, 8);
        char key[WS_KEY_LEN + 1], req[1024], offer[160];
        ws_make_key(nonce, key);
        ws_accept_key(key, WS_KEY_LEN, h->accept);
        bool pmd = s->pmd_mode != VSOCK_DEFLATE_OFF &&
                   ws_pmd_format_offer(offer, sizeof offer, (enum ws_pmd_mode)s->pmd_mode) > 0;
        int n = ws_build_request_ext(req, sizeof req, host, path, key, pmd ? offer : NULL);
        if (n < 0 || vsock__append(s, req, (size_t)n)) {
            vsock__fail(s, n < 0 ? -EINVAL : -ENOMEM);
            return s->err;
        }
        h->state = HS_CLI_WRITE;
    }
    if (h->state == HS_CLI_WRITE) {
        int f = vsock__flush_once(s);
        if (f)
            return f;
        h->state = HS_CLI_READ;
    }
    for (;;) {
        int r = hs_read(s);
        if (r < 0) {
            if (r != -EAGAIN)
                vsock__fail(s, r == -E2BIG ? -EPROTO : r);
            return r == -E2BIG ? -EPROTO : r;
        }
        const char *why;
        bool pmd = false;
        struct ws_pmd agreed;
        int hl = ws_parse_response_ext(h->buf, h->len, h->accept, s->pmd_mode != VSOCK_DEFLATE_OFF,
                                       &pmd, &agreed, &why);
        if (hl == 0)
            continue;
        if (hl > 0 && pmd && vsock__pmd_set(s, &agreed))
            hl = -ENOMEM;
        if (hl < 0 || vsock__set_pre(s, h->buf + hl, h->len - (size_t)hl)) {
            vsock__fail(s, hl < 0 ? -EPROTO : -ENOMEM);
            return s->err;
        }
        hs_done(s);
        return 0;
    }
}

static int tcp_handshake_step(vsock *s, const char *host, const char *path)
{
    if (!s->hs) {
        s->hs = malloc(sizeof *s->hs);
        if (!s->hs)
            return -ENOMEM;
        s->hs->state = HS_START;
        s->hs->len = 0;
    }
    return s->role == VSOCK_SERVER ? server_step(s) : client_step(s, host, path);
}

static void tcp_release(vsock *s)
{
    free(s);
}

static const struct vsock_backend tcp_backend = {
    .name = "tcp",
    .recv = tcp_recv,
    .send = tcp_send,
    .handshake_step = tcp_handshake_step,
    .rx_paused = NULL,
    .release = tcp_release,
};

vsock *vsock_tcp_wrap(int fd, enum vsock_role role, const vsock_opts *o)
{
    if (fd < 0)
        return NULL;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    vsock *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (vsock__init(s, &tcp_backend, fd, role, o)) {
        free(s);
        return NULL;
    }
    return s;
}
