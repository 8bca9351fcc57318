/* test_vsock_tcp.c — the tcp backend over loopback: handshake, hostile peers, event-loop API, trim, totals. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

#include "vsock_test_util.h"

static int listener = -1;
static struct sockaddr_in addr;

static void listen_up(void)
{
    addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof addr;
    listener = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(listener, 0);
    cr_assert_eq(bind(listener, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(listen(listener, 8), 0);
    cr_assert_eq(getsockname(listener, (struct sockaddr *)&addr, &al), 0);
}

static void listen_down(void)
{
    close(listener);
}

TestSuite(vsock_tcp, .init = listen_up, .fini = listen_down, .timeout = 30);

/* A raw client fd and the server's vsock (not yet handshaken). */
static int raw_connect(vsock **srv, const vsock_opts *o)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    int s = accept(listener, NULL, NULL);
    cr_assert_geq(s, 0);
    *srv = vsock_tcp_wrap(s, VSOCK_SERVER, o);
    cr_assert_not_null(*srv);
    return c;
}

static const char REQ[] = "GET /t HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/* Raw client + server vsock past the handshake; the 101 is consumed. */
static int raw_upgraded(vsock **srv, const vsock_opts *o)
{
    int c = raw_connect(srv, o);
    tu_write_all(c, REQ, sizeof REQ - 1);
    cr_assert_eq(vsock_handshake(*srv, NULL, NULL, rt_deadline_in(5 * RT_S)), 0);
    char buf[512];
    size_t n = 0;
    while (n < 4 || memcmp(buf + n - 4, "\r\n\r\n", 4)) {   /* byte by byte: leave frames alone */
        cr_assert_eq(recv(c, buf + n, 1, 0), 1);
        n++;
    }
    cr_assert(strstr(buf, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    return c;
}

/* Both ends as vsocks, handshaken by interleaved non-blocking steps. */
static void vsock_pair(vsock **srv, vsock **cli, const vsock_opts *o)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    *srv = vsock_tcp_wrap(accept(listener, NULL, NULL), VSOCK_SERVER, o);
    *cli = vsock_tcp_wrap(c, VSOCK_CLIENT, o);
    int a, b;
    do {
        a = vsock_handshake_step(*srv, NULL, NULL);
        b = vsock_handshake_step(*cli, "127.0.0.1", "/x");
        cr_assert(a == 0 || a == -EAGAIN, "server step %d", a);
        cr_assert(b == 0 || b == -EAGAIN, "client step %d", b);
        struct pollfd p = {.fd = vsock_fd(*srv), .events = POLLIN};
        poll(&p, 1, 5);
    } while (a || b);
}

static void expect_close_then_eof(int c, int code)
{
    uint8_t buf[256];
    bool eof;
    size_t n = tu_read_for(c, buf, sizeof buf, 1000, &eof);
    cr_assert_eq(tu_close_code(buf, n), code);
    cr_assert(eof, "the server closed the connection");
}

struct hs_thread {
    pthread_t t;
    vsock *s;
    int rc;
};

static void *client_side(void *a)
{
    struct hs_thread *h = a;
    rt_sleep(50 * RT_MS, NULL);   /* let the server's first message land with its 101 */
    h->rc = vsock_handshake(h->s, "127.0.0.1", "/echo", rt_deadline_in(5 * RT_S));
    return NULL;
}

Test(vsock_tcp, handshake_then_frames_that_arrived_with_the_101)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&addr, sizeof addr), 0);
    vsock *srv = vsock_tcp_wrap(accept(listener, NULL, NULL), VSOCK_SERVER, NULL);
    struct hs_thread h = {.s = vsock_tcp_wrap(c, VSOCK_CLIENT, NULL)};
    pthread_create(&h.t, NULL, client_side, &h);
    cr_assert_eq(vsock_handshake(srv, NULL, NULL, rt_deadline_in(5 * RT_S)), 0);
    cr_assert_eq(vsock_write(srv, "welcome", 7, VSOCK_TEXT, rt_deadline_in(RT_S)), 0);
    pthread_join(h.t, NULL);
    cr_assert_eq(h.rc, 0);
    vsock_msg *m;
    cr_assert_eq(vsock_read(h.s, &m, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(m->len, 7);
    cr_assert_eq(memcmp(m->data, "welcome", 7), 0);
    vsock_msg_free(m);
    cr_assert_eq(vsock_write(h.s, "back", 4, VSOCK_BINARY, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(memcmp(m->data, "back", 4), 0);
    vsock_msg_free(m);
    vsock_destroy(h.s);
    vsock_destroy(srv);
}

Test(vsock_tcp, garbage_handshake_gets_400_and_a_closed_socket)
{
    vsock *srv;
    int c = raw_connect(&srv, NULL);
    tu_write_all(c, "HELLO THERE\r\n\r\n", 15);
    cr_assert_eq(vsock_handshake(srv, NULL, NULL, rt_deadline_in(5 * RT_S)), -EPROTO);
    char buf[512] = {0};
    bool eof;
    size_t n = tu_read_for(c, (uint8_t *)buf, sizeof buf - 1, 1000, &eof);
    cr_assert_gt(n, 0);
    cr_assert_eq(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26), 0, "%s", buf);
    cr_assert(eof);
    cr_assert(vsock_is_closed(srv));
    cr_assert_eq(vsock_read(srv, &(vsock_msg *){NULL}, rt_deadline_in(RT_MS)), -EPROTO);
    vsock_destroy(srv);
    close(c);
}

Test(vsock_tcp, wrong_version_gets_400)
{
    vsock *srv;
    int c = raw_connect(&srv, NULL);
    char req[sizeof REQ + 8];
    snprintf(req, sizeof req, "%.*sVersion: 7\r\n\r\n", (int)(sizeof REQ - 1 - 15), REQ);
    tu_write_all(c, req, strlen(req));
    cr_assert_eq(vsock_handshake(srv, NULL, NULL, rt_deadline_in(5 * RT_S)), -EPROTO);
    char buf[512] = {0};
    tu_read_for(c, (uint8_t *)buf, sizeof buf - 1, 1000, NULL);
    cr_assert(strstr(buf, "400 Bad Request") && strstr(buf, "Sec-WebSocket-Version: 13"), "%s", buf);
    vsock_destroy(srv);
    close(c);
}

Test(vsock_tcp, incomplete_handshake_times_out_and_closes)
{
    vsock_opts o;
    vsock_opts_default(&o);
    o.handshake_timeout = 50 * RT_MS;
    vsock *srv;
    int c = raw_connect(&srv, &o);
    tu_write_all(c, "GET / HTTP/1.1\r\nHost: a\r\n", 25);
    cr_assert_eq(vsock_handshake(srv, NULL, NULL, RT_NEVER), -ETIMEDOUT);
    uint8_t buf[64];
    bool eof;
    cr_assert_eq(tu_read_for(c, buf, sizeof buf, 1000, &eof), 0);
    cr_assert(eof);
    vsock_destroy(srv);
    close(c);
}

static void bad_frame_case(const uint8_t *raw, size_t n, size_t max_msg, int want_err, int want_code)
{
    vsock_opts o;
    vsock_opts_default(&o);
    o.close_timeout = 100 * RT_MS;
    if (max_msg)
        o.max_msg_bytes = max_msg;
    vsock *srv;
    int c = raw_upgraded(&srv, &o);
    tu_write_all(c, raw, n);
    vsock_msg *m = NULL;
    int r = vsock_read(srv, &m, rt_deadline_in(5 * RT_S));
    cr_assert_eq(r, want_err, "got %d", r);
    cr_assert_null(m);
    vsock_close(srv, VSOCK_CLOSE_NORMAL);   /* ours is the close wslay sent, not a second one */
    expect_close_then_eof(c, want_code);
    vsock_destroy(srv);
    close(c);
}

Test(vsock_tcp, unmasked_client_frame_closes_1002)
{
    uint8_t raw[64];
    size_t n = tu_frame(raw, 0x81, "hi", 2, false);
    bad_frame_case(raw, n, 0, -EPROTO, VSOCK_CLOSE_PROTOCOL);
}

Test(vsock_tcp, reserved_bits_close_1002)
{
    uint8_t raw[64];
    size_t n = tu_frame(raw, 0xC1, "hi", 2, true);   /* RSV1 without an extension */
    bad_frame_case(raw, n, 0, -EPROTO, VSOCK_CLOSE_PROTOCOL);
}

Test(vsock_tcp, oversize_message_closes_1009)
{
    static uint8_t pl[2000], raw[2100];
    size_t n = tu_frame(raw, 0x82, pl, sizeof pl, true);
    bad_frame_case(raw, n, 1000, -EMSGSIZE, VSOCK_CLOSE_TOO_BIG);
}

Test(vsock_tcp, oversize_fragmented_message_closes_1009)
{
    static uint8_t pl[600], raw[1300];
    size_t n = tu_frame(raw, 0x02, pl, sizeof pl, true);   /* no FIN */
    n += tu_frame(raw + n, 0x80, pl, sizeof pl, true);     /* continuation, FIN */
    bad_frame_case(raw, n, 1000, -EMSGSIZE, VSOCK_CLOSE_TOO_BIG);
}

Test(vsock_tcp, fragmented_message_within_limit_is_reassembled)
{
    vsock *srv;
    int c = raw_upgraded(&srv, NULL);
    uint8_t raw[128];
    size_t n = tu_frame(raw, 0x01, "frag", 4, true);
    n += tu_frame(raw + n, 0x89, "p", 1, true);            /* a ping between fragments */
    n += tu_frame(raw + n, 0x80, "mented", 6, true);
    tu_write_all(c, raw, n);
    vsock_msg *m;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(5 * RT_S)), 0);
    cr_assert_eq(m->opcode, VSOCK_TEXT);
    cr_assert_eq(m->len, 10);
    cr_assert_eq(memcmp(m->data, "fragmented", 10), 0);
    vsock_msg_free(m);
    vsock_counters k;
    vsock_get_counters(srv, &k);
    cr_assert_eq(k.frames_in, 3);
    cr_assert_eq(k.msgs_in, 1);
    cr_assert_eq(k.pings_answered, 1);
    vsock_destroy(srv);
    close(c);
}

Test(vsock_tcp, peer_reset_mid_frame_is_an_error)
{
    vsock *srv;
    int c = raw_upgraded(&srv, NULL);
    static uint8_t pl[1000], raw[1100];
    size_t n = tu_frame(raw, 0x82, pl, sizeof pl, true);
    tu_write_all(c, raw, n / 2);
    vsock_msg *m;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT);
    struct linger lg = {1, 0};   /* close with RST */
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c);
    int r = vsock_read(srv, &m, rt_deadline_in(5 * RT_S));
    cr_assert(r == -ECONNRESET || r == -EPIPE, "got %d", r);
    cr_assert(vsock_is_closed(srv));
    vsock_destroy(srv);
}

/* A peer that sends but never reads: its input keeps our fd readable while our close
 * frame waits for room in a full socket. The close must end at its deadline without
 * polling in a loop (it used to spin on POLLIN past the deadline, for ever). */
Test(vsock_tcp, close_to_a_peer_that_never_reads_ends_at_its_deadline)
{
    vsock *srv;
    int c = raw_upgraded(&srv, NULL);
    static uint8_t pl[64], raw[128], out[1 << 16];
    size_t n = tu_frame(raw, 0x82, pl, sizeof pl, true);
    for (int i = 0; i < 4; i++)
        tu_write_all(c, raw, n);   /* left unread in the server's socket */
    int rc = 0;
    for (int i = 0; i < 4096 && rc != -EAGAIN; i++) {   /* fill both socket buffers */
        cr_assert_eq(vsock_queue(srv, out, sizeof out, VSOCK_BINARY), 0);
        rc = vsock_flush(srv);
        cr_assert(rc == 0 || rc == -EAGAIN, "flush %d", rc);
    }
    cr_assert_eq(rc, -EAGAIN, "the kernel stopped taking our output");
    vsock_counters a, b;
    vsock_get_counters(srv, &a);
    cr_assert_eq(vsock_close_within(srv, VSOCK_CLOSE_GOING_AWAY, rt_deadline_in(50 * RT_MS)),
                 -ETIMEDOUT);
    vsock_get_counters(srv, &b);
    cr_assert_leq(b.sys_poll - a.sys_poll, 4, "waited for room, did not spin (%lld polls)",
                  (long long)(b.sys_poll - a.sys_poll));
    cr_assert(vsock_is_closed(srv));
    vsock_destroy(srv);
    close(c);
}

Test(vsock_tcp, queued_messages_leave_in_one_send)
{
    vsock *srv, *cli;
    vsock_pair(&srv, &cli, NULL);
    vsock_counters a, b;
    vsock_get_counters(cli, &a);
    char msg[16];
    for (int i = 0; i < 10; i++) {
        snprintf(msg, sizeof msg, "m%d", i);
        cr_assert_eq(vsock_queue(cli, msg, strlen(msg), VSOCK_TEXT), 0);
    }
    cr_assert_gt(vsock_pending_out(cli), 0);
    cr_assert(vsock_want_write(cli));
    cr_assert_eq(vsock_flush(cli), 0);
    cr_assert_eq(vsock_pending_out(cli), 0);
    vsock_get_counters(cli, &b);
    cr_assert_eq(b.sys_write - a.sys_write, 1, "coalesced");
    cr_assert_eq(b.msgs_out - a.msgs_out, 10);
    int got = 0;
    rt_ns end = rt_deadline_in(5 * RT_S);
    while (got < 10 && rt_now() < end) {
        size_t nb = 0;
        cr_assert_eq(vsock_read_nb(srv, 1 << 16, &nb), 0);
        for (vsock_msg *m; (m = vsock_poll_msg(srv)); got++) {
            snprintf(msg, sizeof msg, "m%d", got);
            cr_assert_eq(m->len, strlen(msg));
            cr_assert_eq(memcmp(m->data, msg, m->len), 0, "in order");
            vsock_msg_free(m);
        }
        struct pollfd p = {.fd = vsock_fd(srv), .events = POLLIN};
        poll(&p, 1, 10);
    }
    cr_assert_eq(got, 10);
    vsock_destroy(srv);
    vsock_destroy(cli);
}

Test(vsock_tcp, trim_frees_idle_state_and_keeps_a_partial_frame)
{
    vsock *srv;
    int c = raw_upgraded(&srv, NULL);
    uint8_t raw[256];
    size_t n = tu_frame(raw, 0x82, "0123456789", 10, true);
    tu_write_all(c, raw, 5);   /* header and part of the mask */
    size_t nb;
    rt_sleep(20 * RT_MS, NULL);
    cr_assert_eq(vsock_read_nb(srv, 0, &nb), 0);
    cr_assert_eq(nb, 5);
    vsock_trim(srv);            /* must not drop what wslay holds */
    tu_write_all(c, raw + 5, n - 5);
    vsock_msg *m;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(5 * RT_S)), 0);
    cr_assert_eq(memcmp(m->data, "0123456789", 10), 0);
    vsock_msg_free(m);
    vsock_trim(srv);            /* idle now: the wslay context goes */
    n = tu_frame(raw, 0x81, "again", 5, true);
    tu_write_all(c, raw, n);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(5 * RT_S)), 0);
    cr_assert_eq(memcmp(m->data, "again", 5), 0);
    vsock_msg_free(m);
    vsock_destroy(srv);
    close(c);
}

Test(vsock_tcp, totals_include_destroyed_sockets)
{
    vsock_counters t0, t1;
    vsock_get_totals(&t0);
    vsock *srv, *cli;
    vsock_pair(&srv, &cli, NULL);
    cr_assert_eq(vsock_write(cli, "x", 1, VSOCK_TEXT, rt_deadline_in(RT_S)), 0);
    vsock_msg *m;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(RT_S)), 0);
    vsock_msg_free(m);
    vsock_get_totals(&t1);
    cr_assert_eq(t1.msgs_in - t0.msgs_in, 1, "live sockets count");
    vsock_destroy(srv);
    vsock_destroy(cli);
    vsock_get_totals(&t1);
    cr_assert_eq(t1.msgs_in - t0.msgs_in, 1, "and destroyed ones still do");
    cr_assert_eq(t1.msgs_out - t0.msgs_out, 1);
}
