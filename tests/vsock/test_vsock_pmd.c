/* test_vsock_pmd.c — permessage-deflate on vsock: round trips with and without context takeover, the negotiation over tcp, hostile compressed frames. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "vsock_test_util.h"

#define T5 rt_deadline_in(5 * RT_S)

static vsock_opts opts(int deflate)
{
    vsock_opts o;
    vsock_opts_default(&o);
    o.deflate = deflate;
    return o;
}

/* A JSON-ish document: compressible, and alike from one message to the next. */
static size_t doc(char *buf, size_t cap, int seq)
{
    size_t n = (size_t)snprintf(buf, cap, "{\"seq\":%d,\"items\":[", seq);
    for (int j = 0; n + 64 < cap; j++)
        n += (size_t)snprintf(buf + n, cap - n, "{\"id\":%d,\"name\":\"item-%d\",\"ok\":true},", j, j);
    return n;
}

static void send_recv(vsock *from, vsock *to, const void *p, size_t n)
{
    cr_assert_eq(vsock_write(from, p, n, VSOCK_BINARY, T5), 0);
    vsock_msg *m;
    cr_assert_eq(vsock_read(to, &m, T5), 0);
    cr_assert_eq(m->len, n);
    cr_assert_eq(memcmp(m->data, p, n), 0, "inflated as it was before deflate");
    vsock_msg_free(m);
}

static vsock_counters ctr(vsock *s)
{
    vsock_counters c;
    vsock_get_counters(s, &c);
    return c;
}

Test(vsock_pmd, context_takeover_makes_a_repeated_message_cheap)
{
    vsock_opts o = opts(VSOCK_DEFLATE_TAKEOVER);
    vsock *srv, *cli;
    cr_assert_eq(vsock_mem_pair(&srv, &cli, &o), 0);
    cr_assert(vsock_deflate_on(srv) && vsock_deflate_on(cli));
    char d[2048];
    size_t n = doc(d, sizeof d, 0);
    send_recv(cli, srv, d, n);
    int64_t first = ctr(cli).zbytes_out;
    cr_assert_lt(first, (int64_t)n / 3, "a JSON document compresses (%lld of %zu)", (long long)first, n);
    for (int i = 0; i < 9; i++)
        send_recv(cli, srv, d, n);
    vsock_counters c = ctr(cli), s = ctr(srv);
    /* each repeat is a back-reference to the one before: a few bytes, not `first` again */
    cr_assert_lt(c.zbytes_out - first, 9 * first / 4, "%lld after the first %lld",
                 (long long)(c.zbytes_out - first), (long long)first);
    cr_assert_eq(c.zmsgs_out, 10);
    cr_assert_eq(s.zmsgs_in, 10);
    cr_assert_eq(s.zbytes_in, c.zbytes_out);
    cr_assert_eq(s.payload_in, 10 * (int64_t)n);
    cr_assert_eq(c.payload_out, 10 * (int64_t)n);
    cr_assert_lt(c.bytes_out, c.payload_out / 4, "the wire carries less than the payload");
    /* and the other way, server to client, on its own pair of streams */
    for (int i = 0; i < 3; i++)
        send_recv(srv, cli, d, n);
    cr_assert_eq(ctr(cli).zmsgs_in, 3);
    vsock_destroy(srv);
    vsock_destroy(cli);
}

Test(vsock_pmd, without_context_takeover_each_message_compresses_alone)
{
    vsock_opts o = opts(VSOCK_DEFLATE_NO_TAKEOVER);
    vsock *srv, *cli;
    cr_assert_eq(vsock_mem_pair(&srv, &cli, &o), 0);
    char d[2048];
    size_t n = doc(d, sizeof d, 0);
    send_recv(srv, cli, d, n);
    int64_t first = ctr(srv).zbytes_out;
    for (int i = 0; i < 9; i++)
        send_recv(srv, cli, d, n);
    cr_assert_eq(ctr(srv).zbytes_out, 10 * first, "the same message, the same bytes every time");
    send_recv(cli, srv, d, n);
    cr_assert_eq(ctr(cli).zbytes_out, first, "the client's compressor too");
    /* an idle socket gives its streams back, and makes them again when needed */
    vsock_trim(srv);
    vsock_trim(cli);
    send_recv(cli, srv, d, n);
    cr_assert_eq(ctr(cli).zbytes_out, 2 * first);
    vsock_destroy(srv);
    vsock_destroy(cli);
}

Test(vsock_pmd, random_bytes_cross_intact_and_do_not_shrink)
{
    vsock_opts o = opts(VSOCK_DEFLATE_TAKEOVER);
    vsock *srv, *cli;
    cr_assert_eq(vsock_mem_pair(&srv, &cli, &o), 0);
    size_t n = 200 * 1024;
    uint8_t *r = malloc(n);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        r[i] = (uint8_t)x;
    }
    /* bigger than the socketpair holds: the reader must run while the writer writes */
    struct tu_reader rd;
    tu_reader_start(&rd, srv, T5);
    cr_assert_eq(vsock_write(cli, r, n, VSOCK_BINARY, T5), 0);
    pthread_join(rd.t, NULL);
    cr_assert_eq(rd.rc, 0);
    cr_assert_eq(rd.m->len, n);
    cr_assert_eq(memcmp(rd.m->data, r, n), 0);
    vsock_msg_free(rd.m);
    vsock_counters c = ctr(cli);
    cr_assert_geq(c.zbytes_out, (int64_t)n, "deflate stores what it cannot shrink");
    cr_assert_lt(c.zbytes_out, (int64_t)n + (int64_t)n / 100, "and adds little");
    /* an empty message, too */
    cr_assert_eq(vsock_write(cli, "", 0, VSOCK_TEXT, T5), 0);
    vsock_msg *m;
    cr_assert_eq(vsock_read(srv, &m, T5), 0);
    cr_assert_eq(m->len, 0);
    cr_assert_eq(m->opcode, VSOCK_TEXT);
    vsock_msg_free(m);
    free(r);
    vsock_destroy(srv);
    vsock_destroy(cli);
}

/* Raw frames from the client's side of a mem pair: its fd is the socketpair's other end. */
static void raw_to_server(vsock *cli, uint8_t b0, const void *p, size_t n)
{
    uint8_t f[4096];
    cr_assert_lt(n + 14, sizeof f);
    tu_write_all(vsock_fd(cli), f, tu_frame(f, b0, p, n, true));
}

Test(vsock_pmd, a_message_compressed_by_another_deflater_with_a_final_block)
{
    vsock_opts o = opts(VSOCK_DEFLATE_TAKEOVER);
    vsock *srv, *cli;
    cr_assert_eq(vsock_mem_pair(&srv, &cli, &o), 0);
    /* zlib with Z_FINISH: BFINAL set, no sync-flush tail (RFC 7692 §7.2.3.? allows it) */
    const char text[] = "hello hello hello hello, a final block";
    uint8_t z[256];
    z_stream d = {0};
    cr_assert_eq(deflateInit2(&d, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    d.next_in = (Bytef *)text;
    d.avail_in = sizeof text - 1;
    d.next_out = z;
    d.avail_out = sizeof z;
    cr_assert_eq(deflate(&d, Z_FINISH), Z_STREAM_END);
    size_t zn = sizeof z - d.avail_out;
    deflateEnd(&d);
    raw_to_server(cli, 0xC1, z, zn);   /* FIN, RSV1, text */
    raw_to_server(cli, 0xC1, z, zn);   /* again: the inflater started afresh after it */
    for (int i = 0; i < 2; i++) {
        vsock_msg *m;
        cr_assert_eq(vsock_read(srv, &m, T5), 0);
        cr_assert_eq(m->len, sizeof text - 1);
        cr_assert_eq(memcmp(m->data, text, m->len), 0);
        vsock_msg_free(m);
    }
    /* and an uncompressed message (RSV1 clear) is still allowed (§6) */
    raw_to_server(cli, 0x82, "plain", 5);
    vsock_msg *m;
    cr_assert_eq(vsock_read(srv, &m, T5), 0);
    cr_assert_eq(m->len, 5);
    vsock_msg_free(m);
    cr_assert_eq(ctr(srv).zmsgs_in, 2);
    vsock_destroy(srv);
    vsock_destroy(cli);
}

Test(vsock_pmd, not_a_deflate_stream_closes_1007)
{
    vsock_opts o = opts(VSOCK_DEFLATE_TAKEOVER);
    vsock *srv, *cli;
    cr_assert_eq(vsock_mem_pair(&srv, &cli, &o), 0);
    raw_to_server(cli, 0xC2, "\xff\xff\xff\xff\xff", 5);   /* a reserved block type */
    vsock_msg *m;
    cr_assert_eq(vsock_read(srv, &m, T5), -EPROTO);
    uint8_t b[64];
    bool eof;
    size_t n = tu_read_for(vsock_fd(cli), b, sizeof b, 300, &eof);
    cr_assert_eq(tu_close_code(b, n), 1007);
    vsock_destroy(srv);
    vsock_destroy(cli);
}

Test(vsock_pmd, rsv1_on_a_continuation_is_a_protocol_error)
{
    vsock_opts o = opts(VSOCK_DEFLATE_TAKEOVER);
    vsock *srv, *cli;
    cr_assert_eq(vsock_mem_pair(&srv, &cli, &o), 0);
    raw_to_server(cli, 0x42, "\x00", 1);   /* RSV1, binary, no FIN */
    raw_to_server(cli, 0xC0, "\x00", 1);   /* RSV1 on the continuation: refused (§6.1) */
    vsock_msg *m;
    cr_assert_eq(vsock_read(srv, &m, T5), -EPROTO);
    vsock_destroy(srv);
    vsock_destroy(cli);
}

Test(vsock_pmd, too_big_once_inflated_closes_1009)
{
    vsock_opts o = opts(VSOCK_DEFLATE_TAKEOVER);
    o.max_msg_bytes = 4096;
    vsock *srv, *cli;
    cr_assert_eq(vsock_mem_pair(&srv, &cli, &o), 0);
    size_t n = 1 << 20;
    uint8_t *zeros = calloc(1, n);   /* a megabyte of zeros: about a kilobyte compressed */
    cr_assert_eq(vsock_write(cli, zeros, n, VSOCK_BINARY, T5), 0);
    cr_assert_lt(ctr(cli).bytes_out, 4096, "small on the wire");
    vsock_msg *m;
    cr_assert_eq(vsock_read(srv, &m, T5), -EMSGSIZE);
    uint8_t b[64];
    bool eof;
    size_t got = tu_read_for(vsock_fd(cli), b, sizeof b, 300, &eof);
    cr_assert_eq(tu_close_code(b, got), VSOCK_CLOSE_TOO_BIG);
    free(zeros);
    vsock_destroy(srv);
    vsock_destroy(cli);
}

/* ---------------------------------------------------------------- over tcp */

static void tcp_pair(const vsock_opts *so, const vsock_opts *co, vsock **srv, vsock **cli)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(l, 1), 0);
    getsockname(l, (struct sockaddr *)&a, &al);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    int s = accept(l, NULL, NULL);
    close(l);
    *srv = vsock_tcp_wrap(s, VSOCK_SERVER, so);
    *cli = vsock_tcp_wrap(c, VSOCK_CLIENT, co);
    int rs = -EAGAIN, rc = -EAGAIN;
    for (int i = 0; i < 10000 && (rs == -EAGAIN || rc == -EAGAIN); i++) {
        if (rc == -EAGAIN)
            rc = vsock_handshake_step(*cli, "127.0.0.1", "/pmd");
        if (rs == -EAGAIN)
            rs = vsock_handshake_step(*srv, NULL, NULL);
        usleep(100);
    }
    cr_assert_eq(rs, 0);
    cr_assert_eq(rc, 0);
}

Test(vsock_pmd, negotiated_over_tcp_only_when_both_sides_have_it)
{
    static const struct { int srv, cli; bool on; } cases[] = {
        {VSOCK_DEFLATE_OFF, VSOCK_DEFLATE_OFF, false},
        {VSOCK_DEFLATE_OFF, VSOCK_DEFLATE_TAKEOVER, false},   /* the offer is ignored */
        {VSOCK_DEFLATE_TAKEOVER, VSOCK_DEFLATE_OFF, false},   /* nothing offered */
        {VSOCK_DEFLATE_TAKEOVER, VSOCK_DEFLATE_TAKEOVER, true},
        {VSOCK_DEFLATE_TAKEOVER, VSOCK_DEFLATE_NO_TAKEOVER, true},
        {VSOCK_DEFLATE_NO_TAKEOVER, VSOCK_DEFLATE_TAKEOVER, true},
    };
    char d[2048];
    size_t n = doc(d, sizeof d, 7);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vsock_opts so = opts(cases[i].srv), co = opts(cases[i].cli);
        vsock *srv, *cli;
        tcp_pair(&so, &co, &srv, &cli);
        cr_assert_eq(vsock_deflate_on(srv), cases[i].on, "case %zu", i);
        cr_assert_eq(vsock_deflate_on(cli), cases[i].on, "case %zu", i);
        for (int k = 0; k < 3; k++) {
            send_recv(cli, srv, d, n);
            send_recv(srv, cli, d, n);
        }
        vsock_counters s = ctr(srv), c = ctr(cli);
        cr_assert_eq(s.zmsgs_in, cases[i].on ? 3 : 0, "case %zu", i);
        cr_assert_eq(c.zmsgs_in, cases[i].on ? 3 : 0, "case %zu", i);
        if (cases[i].srv == VSOCK_DEFLATE_NO_TAKEOVER || cases[i].cli == VSOCK_DEFLATE_NO_TAKEOVER)
            cr_assert_eq(s.zbytes_out, 3 * (s.zbytes_out / 3), "case %zu: every message alike", i);
        vsock_destroy(srv);
        vsock_destroy(cli);
    }
}

/* ---------------------------------------------------------------- in-place reading */

struct ip_got {
    int n, refusals;
    size_t len[16];
    uint8_t first[16];
};

/* Refuses every other message once (VSOCK_STOP_BEFORE), as a full queue does: the message
 * must come back whole on the next call, without being inflated twice. */
static int ip_take(void *arg, uint8_t *data, size_t len, int opcode)
{
    (void)opcode;
    struct ip_got *g = arg;
    if (g->n % 2 == 0 && g->refusals == g->n / 2) {
        g->refusals++;
        return VSOCK_STOP_BEFORE;
    }
    g->len[g->n] = len;
    g->first[g->n] = data[len - 1];
    g->n++;
    return 0;
}

Test(vsock_pmd, in_place_reading_inflates_each_message_once)
{
    vsock_opts o = opts(VSOCK_DEFLATE_TAKEOVER);
    vsock *srv, *cli;
    cr_assert_eq(vsock_mem_pair(&srv, &cli, &o), 0);
    char d[2048];
    size_t n = doc(d, sizeof d, 3);
    for (int k = 0; k < 6; k++) {
        d[n - 1] = (char)('0' + k);   /* each message ends with its number */
        cr_assert_eq(vsock_write(cli, d, n, VSOCK_BINARY, T5), 0);
    }
    /* and one in two fragments, compressed whole (RSV1 on the first only) */
    uint8_t z[64];
    z_stream ds = {0};
    cr_assert_eq(deflateInit2(&ds, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    ds.next_in = (Bytef *)"fragmented, compressed";
    ds.avail_in = 22;
    ds.next_out = z;
    ds.avail_out = sizeof z;
    cr_assert_eq(deflate(&ds, Z_SYNC_FLUSH), Z_OK);
    size_t zn = sizeof z - ds.avail_out - 4;
    deflateEnd(&ds);
    uint8_t f[256];
    size_t fl = tu_frame(f, 0x42, z, 3, true);
    fl += tu_frame(f + fl, 0x80, z + 3, zn - 3, true);
    /* a fresh inflater would not do: this stream is the server's inflater's, which has the
     * six documents in its window; a message compressed alone still inflates with it */
    tu_write_all(vsock_fd(cli), f, fl);
    struct ip_got g = {0};
    uint8_t buf[64 << 10];
    for (int i = 0; i < 40 && g.n < 7; i++) {
        size_t got;
        int rc = vsock_read_inplace(srv, buf, sizeof buf, true, ip_take, &g, &got);
        cr_assert_eq(rc, 0, "pass %d: %d", i, rc);
    }
    cr_assert_eq(g.n, 7);
    for (int k = 0; k < 6; k++) {
        cr_assert_eq(g.len[k], n);
        cr_assert_eq(g.first[k], '0' + k, "message %d whole and in order", k);
    }
    cr_assert_eq(g.len[6], 22);
    cr_assert_gt(g.refusals, 2);
    vsock_counters c = ctr(srv);
    cr_assert_eq(c.zmsgs_in, 7, "each inflated once");
    cr_assert_eq(c.msgs_in, 7);
    cr_assert_eq(c.payload_in, 6 * (int64_t)n + 22);
    vsock_destroy(srv);
    vsock_destroy(cli);
}
