/* test_hostile.c — hostile peers against the server as the harness runs it: the server stays up, good links keep echoing, the bad one is closed and counted. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "hostile_util.h"

TestSuite(hostile, .timeout = 180);

/* The event-loop design and two seed designs of different shapes (two threads per link,
 * blocking; one thread per link, dropping). */
static const char *const VARIANTS[] = {"evloop", "dual", "hybrid"};
#define N_VARIANTS (sizeof VARIANTS / sizeof VARIANTS[0])

/* Parameters are copied into Criterion's shared memory: names inline, not pointers. */
struct hx_case {
    char variant[16];
};

static void free_cases(struct criterion_test_params *p) { cr_free(p->params); }

static struct criterion_test_params cases(void)
{
    struct hx_case *cs = cr_malloc(sizeof *cs * N_VARIANTS);
    for (size_t i = 0; i < N_VARIANTS; i++)
        snprintf(cs[i].variant, sizeof cs[i].variant, "%s", VARIANTS[i]);
    return cr_make_param_array(struct hx_case, cs, N_VARIANTS, free_cases);
}

#define PARAMS(name)                                                  \
    ParameterizedTestParameters(hostile, name) { return cases(); }    \
    ParameterizedTest(struct hx_case *c, hostile, name)

enum { GOOD = 2 };

/* A server with GOOD well-behaved links already echoing. */
typedef struct env {
    fx f;
    const char *v;
    vsock *good[GOOD];
    uint32_t ids[GOOD];
    uint64_t seq[GOOD];
    int threads0;
} env;

static void env_up(env *e, const char *variant, const app_params *ap)
{
    memset(e, 0, sizeof *e);
    e->v = variant;
    e->threads0 = hx_threads();
    int rc = hx_start(&e->f, variant, ap, NULL);
    cr_assert_eq(rc, 0, "%s: %s", variant, e->f.err);
    for (int i = 0; i < GOOD; i++)
        cr_assert_eq(fx_link(&e->f, &e->good[i], &e->ids[i]), 0, "%s: good link %d", variant, i);
    cr_assert_eq(hx_echo_round(e->good, e->ids, GOOD, e->seq, 5), GOOD * 5, "%s: echo before", variant);
}

/* After the attack: the good links still echo, nothing was lost or closed twice, and
 * every thread is gone once the server stops. */
static void env_down(env *e)
{
    int echoes = hx_echo_round(e->good, e->ids, GOOD, e->seq, 10);
    cr_expect_eq(echoes, GOOD * 10, "%s: the well-behaved links keep echoing (%d echoes)", e->v, echoes);
    for (int i = 0; i < GOOD; i++) {
        app_link_stats ls;
        app_link_stats_get(e->f.app, e->ids[i], &ls);
        cr_expect(ls.open, "%s: good link %u still open", e->v, e->ids[i]);
        cr_expect_eq(ls.seq_gaps + ls.seq_backwards, 0, "%s: good link %u in order", e->v, e->ids[i]);
    }
    app_stats s = hx_app(&e->f);
    cr_expect_eq(s.closed_twice, 0, "%s", e->v);
    for (int i = 0; i < GOOD; i++) {
        vsock_close(e->good[i], VSOCK_CLOSE_NORMAL);
        vsock_destroy(e->good[i]);
    }
    fx_stop(&e->f);
    int t = hx_threads_settle(e->threads0);
    cr_expect_eq(t, e->threads0, "%s: %d threads after stop, %d before", e->v, t, e->threads0);
}

/* Wait until the acceptor has attached `n` links in all; the newest id. */
static uint32_t wait_attached(env *e, int64_t n)
{
    FX_WAIT(hx_acc(&e->f).attached >= n, 10 * RT_S);
    cr_assert_eq(hx_acc(&e->f).attached, n, "%s", e->v);
    return app_links(e->f.app) - 1;
}

static app_link_stats wait_link_closed(env *e, uint32_t id)
{
    app_link_stats ls;
    FX_WAIT((app_link_stats_get(e->f.app, id, &ls), ls.closed), 10 * RT_S);
    return ls;
}

/* ---------------------------------------------------------------- handshakes */

PARAMS(garbage_handshakes_get_400_and_are_counted)
{
    env e;
    env_up(&e, c->variant, NULL);
    static char big[WS_HS_MAX_BYTES + 512];
    memset(big, 'A', sizeof big);
    char junk[200];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(i * 37 + 1);
    memcpy(junk + sizeof junk - 4, "\r\n\r\n", 4);
    struct { const char *data; size_t len; bool answers_400; } cases[] = {
        {"HELLO THERE\r\n\r\n", 15, true},
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, true},   /* no Upgrade, no key */
        {junk, sizeof junk, true},
        {"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n", 139, true},
        {big, sizeof big, false},   /* no blank line within the limit: refused, maybe reset */
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        int fd = hx_connect(srv_acceptor_port(e.f.acc));
        cr_assert_geq(fd, 0);
        tu_write_all(fd, cases[i].data, cases[i].len);
        char buf[512] = {0};
        bool eof;
        tu_read_for(fd, (uint8_t *)buf, sizeof buf - 1, 5000, &eof);
        if (cases[i].answers_400) cr_expect(strstr(buf, " 400 "), "%s: case %d: %s", e.v, i, buf);
        cr_expect(eof, "%s: case %d: the server closed the connection", e.v, i);
        close(fd);
    }
    FX_WAIT(hx_acc(&e.f).handshakes_failed >= n, 10 * RT_S);
    srv_acceptor_stats s = hx_acc(&e.f);
    cr_expect_eq(s.handshakes_failed, n, "%s", e.v);
    cr_expect_eq(s.handshake_timeouts, 0, "%s: refused at once, not by the timer", e.v);
    cr_expect_eq(s.attached, GOOD, "%s", e.v);
    cr_expect_eq(s.pending, 0, "%s", e.v);
    env_down(&e);
}

PARAMS(truncated_handshake_closed_then_held_past_the_timeout)
{
    env e;
    env_up(&e, c->variant, NULL);
    uint16_t port = srv_acceptor_port(e.f.acc);
    /* half a request, then the client goes away: counted as a failed upgrade */
    int fd = hx_connect(port);
    tu_write_all(fd, HX_REQ, 40);
    close(fd);
    FX_WAIT(hx_acc(&e.f).handshakes_failed >= 1, 10 * RT_S);
    cr_expect_eq(hx_acc(&e.f).handshakes_failed, 1, "%s", e.v);
    cr_expect_eq(hx_acc(&e.f).pending, 0, "%s", e.v);
    /* half a request, then silence: the handshake timer closes it */
    fd = hx_connect(port);
    tu_write_all(fd, HX_REQ, 40);
    FX_WAIT(hx_acc(&e.f).handshake_timeouts >= 1, 10 * RT_S);
    srv_acceptor_stats s = hx_acc(&e.f);
    cr_expect_eq(s.handshake_timeouts, 1, "%s", e.v);
    cr_expect_eq(s.handshakes_failed, 2, "%s", e.v);
    cr_expect_eq(s.pending, 0, "%s", e.v);
    bool eof;
    uint8_t b[64];
    cr_expect_eq(tu_read_for(fd, b, sizeof b, 5000, &eof), 0, "%s", e.v);
    cr_expect(eof, "%s: the server closed the silent connection", e.v);
    close(fd);
    cr_expect_eq(hx_acc(&e.f).attached, GOOD, "%s", e.v);
    env_down(&e);
}

/* Hundreds of connects each sending part of a request. The good links echo while they
 * are pending; the timer closes every one of them. */
PARAMS(handshake_flood_of_partial_requests)
{
    enum { K = 300 };
    env e;
    env_up(&e, c->variant, NULL);
    static int fds[K];
    for (int i = 0; i < K; i++) {
        fds[i] = hx_connect(srv_acceptor_port(e.f.acc));
        cr_assert_geq(fds[i], 0, "%s: connect %d: %s", e.v, i, strerror(-fds[i]));
        tu_write_all(fds[i], HX_REQ, 20 + (size_t)i % 60);
    }
    int echoes = hx_echo_round(e.good, e.ids, GOOD, e.seq, 5);
    cr_expect_eq(echoes, GOOD * 5, "%s: good links echo during the flood", e.v);
    FX_WAIT(hx_acc(&e.f).handshake_timeouts >= K, 30 * RT_S);
    srv_acceptor_stats s = hx_acc(&e.f);
    cr_expect_eq(s.accepted, K + GOOD, "%s", e.v);
    cr_expect_eq(s.handshake_timeouts, K, "%s", e.v);
    cr_expect_eq(s.handshakes_failed, K, "%s", e.v);
    cr_expect_eq(s.attached, GOOD, "%s", e.v);
    cr_expect_eq(s.pending, 0, "%s", e.v);
    for (int i = 0; i < K; i++) hx_reset(fds[i]);
    env_down(&e);
}

/* Thousands of connections that never upgrade: bounded by the handshake timer, all
 * counted, none left pending. */
PARAMS(thousands_of_connects_that_never_upgrade)
{
    enum { K = 2000 };
    env e;
    env_up(&e, c->variant, NULL);
    static int fds[K];
    int made = 0;
    for (int i = 0; i < K; i++) {
        fds[i] = hx_connect(srv_acceptor_port(e.f.acc));
        if (fds[i] < 0) break;
        made++;
    }
    cr_assert_eq(made, K, "%s: connect: %s", e.v, strerror(-fds[made]));
    FX_WAIT(hx_acc(&e.f).handshake_timeouts >= K, 60 * RT_S);
    srv_acceptor_stats s = hx_acc(&e.f);
    cr_expect_eq(s.accepted, K + GOOD, "%s", e.v);
    cr_expect_eq(s.handshake_timeouts, K, "%s", e.v);
    cr_expect_eq(s.pending, 0, "%s", e.v);
    cr_expect_eq(s.attached, GOOD, "%s", e.v);
    for (int i = 0; i < K; i++) hx_reset(fds[i]);
    env_down(&e);
}

/* ---------------------------------------------------------------- bad frames */

/* An upgraded raw client sends `raw`; the server must answer with close `code`, close
 * the connection, and report the link closed for an error. */
static void bad_frame(env *e, const uint8_t *raw, size_t n, int code)
{
    int fd = hx_upgraded(srv_acceptor_port(e->f.acc));
    cr_assert_geq(fd, 0, "%s", e->v);
    uint32_t id = wait_attached(e, GOOD + 1);
    tu_write_all(fd, raw, n);
    bool eof;
    int got = hx_close_code(fd, 5000, &eof);
    cr_expect_eq(got, code, "%s: close code %d, want %d", e->v, got, code);
    cr_expect(eof, "%s: the server closed the connection", e->v);
    app_link_stats ls = wait_link_closed(e, id);
    cr_expect(ls.closed, "%s: link %u closed", e->v, id);
    cr_expect_eq(ls.cause, LINK_CLOSE_ERROR, "%s: closed as %s", e->v, link_close_cause_name(ls.cause));
    cr_expect_eq(ls.recv_msgs, 0, "%s: nothing of the bad frame reached the app", e->v);
    hx_reset(fd);
}

PARAMS(unmasked_client_frame_closes_1002)
{
    env e;
    env_up(&e, c->variant, NULL);
    uint8_t raw[64];
    bad_frame(&e, raw, tu_frame(raw, 0x82, "unmasked", 8, false), VSOCK_CLOSE_PROTOCOL);
    env_down(&e);
}

PARAMS(reserved_bits_close_1002)
{
    env e;
    env_up(&e, c->variant, NULL);
    uint8_t raw[64];
    bad_frame(&e, raw, tu_frame(raw, 0xC2, "rsv1", 4, true), VSOCK_CLOSE_PROTOCOL);
    env_down(&e);
}

PARAMS(oversized_frame_closes_1009)
{
    env e;
    env_up(&e, c->variant, NULL);
    static uint8_t pl[2 * HX_MAX_MSG], raw[2 * HX_MAX_MSG + 16];
    bad_frame(&e, raw, tu_frame(raw, 0x82, pl, sizeof pl, true), VSOCK_CLOSE_TOO_BIG);
    env_down(&e);
}

/* A header that announces 1 TiB, then a few payload bytes: refused at once, nothing
 * that size allocated or waited for. (With the header alone wslay reports no frame
 * start, so such a peer is only closed by the design's read deadline.) */
PARAMS(announced_terabyte_frame_closes_1009)
{
    env e;
    env_up(&e, c->variant, NULL);
    uint8_t raw[30] = {0x82, 0x80 | 127, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    bad_frame(&e, raw, sizeof raw, VSOCK_CLOSE_TOO_BIG);
    env_down(&e);
}

/* Fragments each within the limit whose message is not. */
PARAMS(oversized_fragmented_message_closes_1009)
{
    env e;
    env_up(&e, c->variant, NULL);
    static uint8_t pl[HX_MAX_MSG / 2 + 100], raw[3 * (HX_MAX_MSG / 2 + 120)];
    size_t n = tu_frame(raw, 0x02, pl, sizeof pl, true);   /* no FIN */
    n += tu_frame(raw + n, 0x00, pl, sizeof pl, true);
    n += tu_frame(raw + n, 0x80, pl, sizeof pl, true);
    bad_frame(&e, raw, n, VSOCK_CLOSE_TOO_BIG);
    env_down(&e);
}

/* ---------------------------------------------------------------- resets and stalls */

PARAMS(reset_mid_frame)
{
    env e;
    env_up(&e, c->variant, NULL);
    int fd = hx_upgraded(srv_acceptor_port(e.f.acc));
    cr_assert_geq(fd, 0);
    uint32_t id = wait_attached(&e, GOOD + 1);
    static uint8_t pl[1000], raw[1100];
    size_t n = tu_frame(raw, 0x82, pl, sizeof pl, true);
    tu_write_all(fd, raw, n / 2);
    /* the good links' round trips give the server time to take the half frame in */
    cr_expect_eq(hx_echo_round(e.good, e.ids, GOOD, e.seq, 2), GOOD * 2, "%s", e.v);
    hx_reset(fd);
    app_link_stats ls = wait_link_closed(&e, id);
    cr_expect(ls.closed, "%s: the reset link is closed", e.v);
    cr_expect(ls.cause == LINK_CLOSE_ERROR || ls.cause == LINK_CLOSE_PEER, "%s: closed as %s", e.v,
              link_close_cause_name(ls.cause));
    cr_expect_eq(ls.recv_msgs, 0, "%s: no half message reached the app", e.v);
    env_down(&e);
}

/* A client that floods echo requests and never reads. Server memory must stay bounded:
 * the app holds at most one refused echo for the link and then takes nothing more from
 * it (as the goroutine blocked in Send would), so the design's own backpressure acts:
 * evloop pauses reading and its stall timer closes the link; dual's receive thread
 * blocks and its write time-outs and retries give up; hybrid drops what its full
 * receive queue cannot take (it never slows the client: counted drops) and its loop's
 * retries give up. The client sends until the server stops taking bytes, the link is
 * closed, or MAX_MSGS: enough echoes to fill both socket buffers even when hybrid
 * drops most of the requests. */
PARAMS(client_that_never_reads)
{
    enum { MSG = 1024, MAX_MSGS = 65536 };
    env e;
    env_up(&e, c->variant, NULL);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;   /* before connect: the window stays small */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(srv_acceptor_port(e.f.acc))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    tu_write_all(fd, HX_REQ, sizeof HX_REQ - 1);
    char hs[512];
    size_t hn = 0;
    while (hn < sizeof hs - 1 && (hn < 4 || memcmp(hs + hn - 4, "\r\n\r\n", 4)))
        cr_assert_eq(recv(fd, hs + hn++, 1, 0), 1);
    uint32_t id = wait_attached(&e, GOOD + 1);
    /* Send until the server stops taking bytes (its backpressure reached us), the
     * connection breaks (it gave up on us), or MAX_MSGS. Never read. */
    static uint8_t pl[MSG], raw[MSG + 16];
    int sent = 0;
    bool blocked = false, broken = false;
    app_link_stats ls;
    while (sent < MAX_MSGS && !blocked && !broken) {
        struct wire_hdr h = {.magic = WIRE_MAGIC, .kind = WIRE_ECHO, .link_id = id, .len = MSG,
                             .seq = (uint64_t)sent, .t_sched = rt_now(), .t_sent = rt_now()};
        wire_put(pl, &h);
        size_t n = tu_frame(raw, 0x82, pl, MSG, true), off = 0;
        while (off < n) {
            ssize_t r = send(fd, raw + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r > 0) { off += (size_t)r; continue; }
            if (r < 0 && errno != EAGAIN) { broken = true; break; }
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, 1000) == 0) {
                app_link_stats_get(e.f.app, id, &ls);
                if (ls.closed) { broken = true; break; }   /* gave up on us mid-frame */
                if (poll(&p, 1, 4000) == 0) { blocked = true; break; }
            }
        }
        if (off == n) sent++;
    }
    cr_log_info("%s: sent %d messages of %d B (blocked %d, broken %d)", e.v, sent, MSG, blocked, broken);
    ls = wait_link_closed(&e, id);
    cr_expect(ls.closed, "%s: the server gave up on a client that never reads", e.v);
    const char *cause = link_close_cause_name(ls.cause);
    if (!strcmp(e.v, "evloop"))
        cr_expect(ls.cause == LINK_CLOSE_STALL || ls.cause == LINK_CLOSE_OVERFLOW, "%s: %s", e.v, cause);
    else
        cr_expect(ls.cause == LINK_CLOSE_RETRY_SPENT || ls.cause == LINK_CLOSE_ERROR, "%s: %s", e.v, cause);
    app_stats as = hx_app(&e.f);
    cr_log_info("%s: held_peak %lld, recv %lld, unsent_at_close %lld", e.v, (long long)as.held_peak,
                (long long)ls.recv_msgs, (long long)as.unsent_at_close);
    /* What the server holds for one link that does not read is bounded by the design's
     * queues, not by what the client chooses to send. */
    cr_expect_leq(as.held_peak, 1, "%s: the app held %lld echoes for a client that never reads",
                  e.v, (long long)as.held_peak);
    FX_WAIT(hx_app(&e.f).held_now == 0, 10 * RT_S);
    cr_expect_eq(hx_app(&e.f).held_now, 0, "%s: held echoes released at the close", e.v);
    hx_reset(fd);
    env_down(&e);
}
