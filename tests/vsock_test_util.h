/* vsock_test_util.h — raw RFC 6455 frames and byte-level peers for the vsock tests. */
#ifndef LINKBENCH_VSOCK_TEST_UTIL_H
#define LINKBENCH_VSOCK_TEST_UTIL_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsock.h"

/* Encode one frame: b0 is FIN|RSV|opcode as on the wire. Returns its length. */
static inline size_t tu_frame(uint8_t *out, uint8_t b0, const void *payload, size_t n, bool mask)
{
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = 0;
    out[h++] = b0;
    uint8_t m = mask ? 0x80 : 0;
    if (n < 126) {
        out[h++] = (uint8_t)(m | n);
    } else if (n < 65536) {
        out[h++] = m | 126;
        out[h++] = (uint8_t)(n >> 8);
        out[h++] = (uint8_t)n;
    } else {
        out[h++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    const uint8_t *p = payload;
    if (mask) {
        memcpy(out + h, key, 4);
        h += 4;
        for (size_t i = 0; i < n; i++)
            out[h + i] = p[i] ^ key[i & 3];
    } else if (n) {
        memcpy(out + h, p, n);
    }
    return h + n;
}

/* Write all bytes to a (possibly non-blocking) fd. */
static inline void tu_write_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
        if (r < 0 && errno == EAGAIN) {
            struct pollfd q = {.fd = fd, .events = POLLOUT};
            poll(&q, 1, 1000);
            continue;
        }
        if (r <= 0)
            return;
        p += r;
        n -= (size_t)r;
    }
}

/* Read what arrives within ms milliseconds (stops early at EOF or when cap is full).
 * Returns bytes read; *eof says whether the peer closed. */
static inline size_t tu_read_for(int fd, uint8_t *buf, size_t cap, int ms, bool *eof)
{
    size_t got = 0;
    if (eof)
        *eof = false;
    while (got < cap) {
        struct pollfd q = {.fd = fd, .events = POLLIN};
        if (poll(&q, 1, ms) <= 0)
            break;
        ssize_t r = recv(fd, buf + got, cap - got, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN)) {
            if (eof)
                *eof = true;
            break;
        }
        if (r > 0)
            got += (size_t)r;
    }
    return got;
}

/* Find the close frame (opcode 8, unmasked from a server) in raw bytes; its code or -1. */
static inline int tu_close_code(const uint8_t *b, size_t n)
{
    size_t i = 0;
    while (i + 2 <= n) {
        uint8_t op = b[i] & 0x0f, len = b[i + 1] & 0x7f;
        bool masked = b[i + 1] & 0x80;
        size_t h = 2 + (masked ? 4 : 0);
        if (len >= 126)
            return -1;   /* data frames here are small */
        if (op == 8)
            return len >= 2 ? (b[i + h] << 8 | b[i + h + 1]) : 1005;
        i += h + len;
    }
    return -1;
}

/* A thread running vsock_read once, for tests that need a blocked reader. */
struct tu_reader {
    pthread_t t;
    vsock *s;
    rt_ns deadline;
    int rc;
    vsock_msg *m;
};

static inline void *tu_reader_main(void *a)
{
    struct tu_reader *r = a;
    r->rc = vsock_read(r->s, &r->m, r->deadline);
    return NULL;
}

static inline void tu_reader_start(struct tu_reader *r, vsock *s, rt_ns deadline)
{
    r->s = s;
    r->deadline = deadline;
    r->m = NULL;
    r->rc = 1;
    pthread_create(&r->t, NULL, tu_reader_main, r);
}

#endif
