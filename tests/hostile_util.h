/* hostile_util.h — test helpers for hostile peers: a server as the harness runs it with short limits, raw clients, echo checks, thread counts. */
#ifndef LINKBENCH_TEST_HOSTILE_UTIL_H
#define LINKBENCH_TEST_HOSTILE_UTIL_H

#include <stdio.h>
#include <sys/socket.h>

#include "link_fixture.h"
#include "vsock_test_util.h"
#include "ws_handshake.h"

/* Short limits, so every hostile case ends in milliseconds instead of the seed's minutes.
 * The seed variants get short write timeouts and few retries; evloop small watermarks. */
#define HX_HS_TIMEOUT (200 * RT_MS)
#define HX_MAX_MSG 4096
static const struct fx_override hx_overrides[] = {
    {"dual", "write_timeout_ms", 100},  {"dual", "retry_init_ms", 10},
    {"dual", "retry_max_ms", 20},       {"dual", "retry_max", 2},
    {"dual", "send_queue_len", 16},     {"dual", "recv_queue_len", 16},
    /* a close frame to a peer that never reads waits its whole close deadline */
    {"dual", "close_timeout_ms", 200},  {"hybrid", "close_timeout_ms", 200},
    /* hybrid serves its send queue between reads: its 30 s read deadline would delay
     * every echo that long (a kept flaw the benchmarks measure, not this test) */
    {"hybrid", "read_timeout_ms", 20},  {"hybrid", "write_timeout_ms", 100}, {"hybrid", "retry_init_ms", 10},
    {"hybrid", "retry_max_ms", 20},     {"hybrid", "retry_max", 2},
    {"hybrid", "send_queue_len", 16},   {"hybrid", "recv_queue_len", 16},
    {"evloop", "write_timeout_ms", 200}, {"evloop", "close_timeout_ms", 200},
    {"evloop", "send_low_bytes", 8192}, {"evloop", "send_high_bytes", 16384},
    {"evloop", "send_hard_bytes", 65536}, {"evloop", "recv_queue_cap", 16},
    {"evloop", "recv_high", 8},         {"evloop", "recv_low", 4},
    /* the seed's Go deadline semantics tear frames and close links at these short
     * deadlines (docs/seed-fidelity.md, tested in test_seed_variants): what is tested
     * here is that one hostile peer leaves the others alone, with frames kept */
#define HX_KEEP_PARTIAL(v) {v, "read_keeps_partial", 1}, {v, "write_resumes_partial", 1}
    HX_KEEP_PARTIAL("dual"), HX_KEEP_PARTIAL("batch"), HX_KEEP_PARTIAL("poll"),
    HX_KEEP_PARTIAL("hybrid"), HX_KEEP_PARTIAL("pair"),
#undef HX_KEEP_PARTIAL
};

/* Threads of this process as the kernel sees them (rt's counts miss foreign threads). */
static inline int hx_threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

/* The variant under the real app model (echo) behind its own acceptor with short
 * handshake and close limits. 0 or a negative error with f->err set. */
static inline int hx_start(fx *f, const char *variant, const app_params *ap,
                           const srv_acceptor_opts *ao)
{
    struct link_common c;
    fx_common_default(&c);
    c.max_msg_bytes = HX_MAX_MSG;
    int rc = fx_start_with(f, variant, FX_MEM, ap, &c, hx_overrides,
                           sizeof hx_overrides / sizeof hx_overrides[0]);
    if (rc < 0) return rc;
    srv_acceptor_opts o;
    if (ao) o = *ao;
    else {
        srv_acceptor_opts_default(&o);
        o.handshake_timeout_ns = HX_HS_TIMEOUT;
        o.emfile_retry_ns = 50 * RT_MS;
    }
    o.vs.max_msg_bytes = HX_MAX_MSG;
    o.vs.close_timeout = 200 * RT_MS;
    f->acc = srv_acceptor_start(&o, f->app, &rc);
    if (!f->acc) {
        snprintf(f->err, sizeof f->err, "acceptor: %s", strerror(-rc));
        return rc;
    }
    f->backend = FX_TCP;
    return 0;
}

static inline srv_acceptor_stats hx_acc(fx *f)
{
    srv_acceptor_stats s;
    srv_acceptor_stats_get(f->acc, &s);
    return s;
}

static inline app_stats hx_app(fx *f)
{
    app_stats s;
    app_stats_get(f->app, &s);
    return s;
}

/* A plain TCP connection to the server (blocking fd), or -errno. */
static inline int hx_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/* Close with RST: no TIME_WAIT left behind, and the server sees ECONNRESET. */
static inline void hx_reset(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static const char HX_REQ[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n";

/* A raw client past the upgrade: the 101 is read byte by byte so no frame is consumed.
 * The fd, or a negative error. */
static inline int hx_upgraded(uint16_t port)
{
    int fd = hx_connect(port);
    if (fd < 0) return fd;
    tu_write_all(fd, HX_REQ, sizeof HX_REQ - 1);
    char buf[512];
    size_t n = 0;
    while (n < sizeof buf - 1 && (n < 4 || memcmp(buf + n - 4, "\r\n\r\n", 4))) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0 || recv(fd, buf + n, 1, 0) != 1) break;
        n++;
    }
    buf[n] = 0;
    if (!strstr(buf, " 101 ")) {
        close(fd);
        return -EPROTO;
    }
    return fd;
}

/* Read until the server closes (or limit_ms of silence) and return the close code it
 * sent (-1: no close frame). *eof says whether the connection was closed. */
static inline int hx_close_code(int fd, int limit_ms, bool *eof)
{
    static uint8_t buf[1 << 16];
    size_t n = tu_read_for(fd, buf, sizeof buf, limit_ms, eof);
    return tu_close_code(buf, n);
}

/* Well-behaved clients: each sends `rounds` echo messages and reads them back. Returns
 * how many echoes came back, in order, across all clients. */
static inline int hx_echo_round(vsock **cl, const uint32_t *ids, int n, uint64_t *seq, int rounds)
{
    int echoes = 0;
    for (int i = 0; i < n; i++) {
        for (int r = 0; r < rounds; r++) {
            if (fx_send(cl[i], ids[i], seq[i], 64, 5 * RT_S) < 0) return echoes;
            struct wire_hdr h;
            if (fx_recv(cl[i], &h, 5 * RT_S) < 0) return echoes;
            if (h.seq == seq[i] && h.link_id == ids[i]) echoes++;
            seq[i]++;
        }
    }
    return echoes;
}

/* Wait until the process's thread count is back to `base` (joins and detached exits
 * finish asynchronously); the count it settled on. */
static inline int hx_threads_settle(int base)
{
    int n = hx_threads();
    FX_WAIT((n = hx_threads()) <= base, 10 * RT_S);
    return n;
}

#endif
