/* test_vsock_inplace.c — reading frames in place (vsock_read_inplace): order, cut frames, stops, fragments, control frames and every protocol error with its close code. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "vsock_test_util.h"

static vsock *srv, *cli;
static int cfd;   /* the client's raw end: frames written here reach srv */

static void pair_up(void)
{
    vsock_opts o;
    vsock_opts_default(&o);
    o.max_msg_bytes = 1 << 20;
    cr_assert_eq(vsock_mem_pair(&srv, &cli, &o), 0);
    cfd = vsock_fd(cli);
}

static void tear_down(void)
{
    vsock_destroy(srv);
    vsock_destroy(cli);
}

TestSuite(vsock_inplace, .init = pair_up, .fini = tear_down, .timeout = 30);

/* What the handler saw. */
#define MAX_GOT 64
typedef struct got {
    int n;
    size_t len[MAX_GOT];
    int op[MAX_GOT];
    uint8_t *data[MAX_GOT];
    int stop_at, stop_how;   /* answer stop_how to the message with index stop_at */
} got;

static int take(void *arg, uint8_t *data, size_t len, int op)
{
    got *g = arg;
    if (g->n == g->stop_at) {
        g->stop_at = -1;
        if (g->stop_how == VSOCK_STOP_BEFORE)
            return VSOCK_STOP_BEFORE;
        g->data[g->n] = malloc(len + 1);
        memcpy(g->data[g->n], data, len);
        g->len[g->n] = len;
        g->op[g->n++] = op;
        return VSOCK_STOP_AFTER;
    }
    cr_assert_lt(g->n, MAX_GOT);
    g->data[g->n] = malloc(len + 1);
    memcpy(g->data[g->n], data, len);
    g->len[g->n] = len;
    g->op[g->n++] = op;
    return 0;
}

static void got_free(got *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->data[i]);
}

/* Read until want messages came or an error: the last return code. */
static int read_until(got *g, int want, uint8_t *buf, size_t cap)
{
    int rc = 0;
    for (int i = 0; i < 20000 && g->n < want; i++) {
        size_t n;
        rc = vsock_read_inplace(srv, buf, cap, true, take, g, &n);
        if (rc < 0)
            return rc;
        if (n == 0 && g->n < want)
            rt_sleep(RT_MS / 10, NULL);
    }
    return rc;
}

static void send_frame(uint8_t b0, const void *p, size_t n, bool mask)
{
    uint8_t *f = malloc(n + 14);
    size_t len = tu_frame(f, b0, p, n, mask);
    tu_write_all(cfd, f, len);
    free(f);
}

/* The server's close code as the client's raw end sees it (after a flush). */
static int close_code_out(void)
{
    vsock_flush(srv);
    uint8_t b[512];
    size_t n = tu_read_for(cfd, b, sizeof b, 200, NULL);
    return tu_close_code(b, n);
}

Test(vsock_inplace, messages_in_order_through_one_byte_reads_and_a_frame_bigger_than_the_buffer)
{
    vsock_mem_set_chunk(srv, 1, 0);
    size_t big_n = 70000;   /* larger than the 4 KiB buffer: read into the socket's carry */
    uint8_t *big = malloc(big_n);
    for (size_t i = 0; i < big_n; i++)
        big[i] = (uint8_t)(i * 7 + 3);
    cr_assert_eq(vsock_write(cli, "hello", 5, VSOCK_TEXT, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(vsock_write(cli, "\0\1\2", 3, VSOCK_BINARY, rt_deadline_in(RT_S)), 0);
    uint8_t buf[4096];
    got g = {.stop_at = -1};
    cr_assert_eq(read_until(&g, 2, buf, sizeof buf), 0);
    vsock_mem_set_chunk(srv, 1000, 0);
    cr_assert_eq(vsock_write(cli, big, big_n, VSOCK_BINARY, rt_deadline_in(5 * RT_S)), 0);
    cr_assert_eq(read_until(&g, 3, buf, sizeof buf), 0);
    cr_assert_eq(g.n, 3);
    cr_assert(g.len[0] == 5 && g.op[0] == VSOCK_TEXT && !memcmp(g.data[0], "hello", 5));
    cr_assert(g.len[1] == 3 && g.op[1] == VSOCK_BINARY && !memcmp(g.data[1], "\0\1\2", 3));
    cr_assert(g.len[2] == big_n && !memcmp(g.data[2], big, big_n), "the big frame arrives intact");
    vsock_counters c;
    vsock_get_counters(srv, &c);
    cr_assert_eq(c.msgs_in, 3);
    cr_assert_eq(c.frames_in, 3);
    cr_assert_eq(c.bytes_in, (2 + 4 + 5) + (2 + 4 + 3) + (10 + 4 + (int64_t)big_n));
    free(big);
    got_free(&g);
}

Test(vsock_inplace, stop_before_hands_the_same_message_first_next_time_stop_after_the_next_one)
{
    for (int i = 0; i < 4; i++) {
        char m[8];
        snprintf(m, sizeof m, "m%d", i);
        cr_assert_eq(vsock_queue(cli, m, strlen(m), VSOCK_TEXT), 0);
    }
    cr_assert_eq(vsock_flush(cli), 0);
    rt_sleep(10 * RT_MS, NULL);
    uint8_t buf[4096];
    size_t n;
    got g = {.stop_at = 1, .stop_how = VSOCK_STOP_BEFORE};
    cr_assert_eq(vsock_read_inplace(srv, buf, sizeof buf, true, take, &g, &n), 0);
    cr_assert_eq(g.n, 1, "stopped before the second");
    g.stop_at = 2;
    g.stop_how = VSOCK_STOP_AFTER;
    /* no read: what the socket kept is handed over first */
    cr_assert_eq(vsock_read_inplace(srv, buf, sizeof buf, false, take, &g, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(g.n, 3, "m1 again, then m2 and a stop after it");
    cr_assert_eq(vsock_read_inplace(srv, buf, sizeof buf, false, take, &g, &n), 0);
    cr_assert_eq(g.n, 4);
    for (int i = 0; i < 4; i++) {
        char m[8];
        snprintf(m, sizeof m, "m%d", i);
        cr_assert(g.len[i] == strlen(m) && !memcmp(g.data[i], m, g.len[i]), "message %d in order", i);
    }
    vsock_counters c;
    vsock_get_counters(srv, &c);
    cr_assert_eq(c.msgs_in, 4, "a message handed over again is counted once");
    got_free(&g);
}

Test(vsock_inplace, fragments_with_a_ping_between_make_one_message_and_a_pong)
{
    send_frame(0x01, "h\xe2\x82", 3, true);   /* text, not fin; a 3-byte "€" split */
    send_frame(0x89, "pp", 2, true);           /* ping inside the message */
    send_frame(0x80, "\xac" "llo", 4, true);   /* continuation, fin */
    uint8_t buf[4096];
    got g = {.stop_at = -1};
    cr_assert_eq(read_until(&g, 1, buf, sizeof buf), 0);
    cr_assert_eq(g.n, 1);
    cr_assert_eq(g.op[0], VSOCK_TEXT);
    cr_assert(g.len[0] == 7 && !memcmp(g.data[0], "h\xe2\x82\xac" "llo", 7));
    cr_assert_eq(vsock_flush(srv), 0);
    uint8_t out[64];
    size_t k = tu_read_for(cfd, out, sizeof out, 200, NULL);
    cr_assert(k == 4 && out[0] == 0x8a && out[1] == 2 && !memcmp(out + 2, "pp", 2), "pong with the payload");
    vsock_counters c;
    vsock_get_counters(srv, &c);
    cr_assert_eq(c.frames_in, 3);
    cr_assert_eq(c.msgs_in, 1);
    cr_assert_eq(c.pings_answered, 1);
    got_free(&g);
}

Test(vsock_inplace, peer_close_after_messages_hands_them_over_then_epipe_and_replies)
{
    uint8_t w[256];
    size_t k = tu_frame(w, 0x82, "ab", 2, true);
    k += tu_frame(w + k, 0x82, "cd", 2, true);
    k += tu_frame(w + k, 0x88, "\x03\xe8" "bye", 5, true);   /* close 1000 */
    tu_write_all(cfd, w, k);
    uint8_t buf[4096];
    got g = {.stop_at = -1};
    cr_assert_eq(read_until(&g, 3, buf, sizeof buf), -EPIPE);
    cr_assert_eq(g.n, 2);
    cr_assert_eq(vsock_close_code(srv), 1000);
    cr_assert_eq(close_code_out(), 1000, "the reply echoes the code");
    size_t n;
    cr_assert_eq(vsock_read_inplace(srv, buf, sizeof buf, true, take, &g, &n), -EPIPE, "sticky");
    got_free(&g);
}

Test(vsock_inplace, eof_without_close_frame_is_epipe_after_the_messages)
{
    send_frame(0x82, "xy", 2, true);
    shutdown(cfd, SHUT_WR);
    uint8_t buf[4096];
    got g = {.stop_at = -1};
    cr_assert_eq(read_until(&g, 2, buf, sizeof buf), -EPIPE);
    cr_assert_eq(g.n, 1);
    got_free(&g);
}

/* One bad input, the error and the close code it must give. */
static void bad(const uint8_t *w, size_t k, int err, int code)
{
    tu_write_all(cfd, w, k);
    uint8_t buf[4096];
    got g = {.stop_at = -1};
    int rc = read_until(&g, 99, buf, sizeof buf);
    cr_assert_eq(rc, err, "error %d, wanted %d", rc, err);
    cr_assert_eq(close_code_out(), code);
    got_free(&g);
}

Test(vsock_inplace, unmasked_frame_from_a_client_is_1002)
{
    uint8_t w[64];
    bad(w, tu_frame(w, 0x82, "ab", 2, false), -EPROTO, 1002);
}

Test(vsock_inplace, reserved_bits_are_1002)
{
    uint8_t w[64];
    bad(w, tu_frame(w, 0xc2, "ab", 2, true), -EPROTO, 1002);
}

Test(vsock_inplace, reserved_opcode_is_1002)
{
    uint8_t w[64];
    bad(w, tu_frame(w, 0x83, "ab", 2, true), -EPROTO, 1002);
}

Test(vsock_inplace, continuation_without_a_start_is_1002)
{
    uint8_t w[64];
    bad(w, tu_frame(w, 0x80, "ab", 2, true), -EPROTO, 1002);
}

Test(vsock_inplace, new_message_inside_a_fragmented_one_is_1002)
{
    uint8_t w[64];
    size_t k = tu_frame(w, 0x02, "ab", 2, true);
    k += tu_frame(w + k, 0x82, "cd", 2, true);
    bad(w, k, -EPROTO, 1002);
}

Test(vsock_inplace, fragmented_or_long_control_frame_is_1002)
{
    uint8_t w[256], p[126] = {0};
    bad(w, tu_frame(w, 0x09, "p", 1, true), -EPROTO, 1002);
    tear_down();
    pair_up();
    bad(w, tu_frame(w, 0x89, p, sizeof p, true), -EPROTO, 1002);
}

Test(vsock_inplace, close_with_one_byte_or_a_reserved_code_is_1002)
{
    uint8_t w[64];
    bad(w, tu_frame(w, 0x88, "\x03", 1, true), -EPROTO, 1002);
    tear_down();
    pair_up();
    bad(w, tu_frame(w, 0x88, "\x03\xed", 2, true), -EPROTO, 1002);   /* 1005 may not be sent */
}

Test(vsock_inplace, invalid_utf8_text_is_1007_even_split_over_fragments)
{
    uint8_t w[64];
    bad(w, tu_frame(w, 0x81, "a\xc0\xaf", 3, true), -EPROTO, 1007);   /* overlong */
    tear_down();
    pair_up();
    size_t k = tu_frame(w, 0x01, "a\xed", 2, true);
    k += tu_frame(w + k, 0x80, "\xa0\x80", 2, true);   /* a surrogate across the cut */
    bad(w, k, -EPROTO, 1007);
    tear_down();
    pair_up();
    bad(w, tu_frame(w, 0x81, "\xe2\x82", 2, true), -EPROTO, 1007);   /* ends mid-character */
}

Test(vsock_inplace, message_over_the_limit_is_1009_from_its_header)
{
    uint8_t w[16] = {0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0x20, 0, 0, 1, 2, 3, 4};   /* 2 MiB */
    bad(w, 14, -EMSGSIZE, 1009);
}

struct blob { const uint8_t *p; size_t n; atomic_bool done; };

static void *write_blob(void *arg)
{
    struct blob *b = arg;
    tu_write_all(cfd, b->p, b->n);
    atomic_store(&b->done, true);
    return NULL;
}

Test(vsock_inplace, fragments_over_the_limit_are_1009)
{
    uint8_t *p = calloc(1, 700000), *w = malloc(1500000);
    size_t k = tu_frame(w, 0x02, p, 700000, true);
    size_t first = k;
    k += tu_frame(w + k, 0x80, p, 700000, true);
    /* the first fragment fills the socket: written by a thread while this one reads */
    struct blob b = {w, first, false};
    pthread_t t;
    pthread_create(&t, NULL, write_blob, &b);
    uint8_t buf[4096];
    got g = {.stop_at = -1};
    for (int i = 0; i < 100000; i++) {
        size_t n;
        cr_assert_eq(vsock_read_inplace(srv, buf, sizeof buf, true, take, &g, &n), 0);
        if (n == 0 && atomic_load(&b.done))
            break;
        if (n == 0)
            rt_sleep(RT_MS / 10, NULL);
    }
    pthread_join(t, NULL);
    cr_assert_eq(g.n, 0, "a first fragment is no message yet");
    bad(w + first, 14, -EMSGSIZE, 1009);   /* refused from the second header alone */
    free(p);
    free(w);
}

/* Memory of a quiet socket: what a busy one holds (its output buffer, kept while busy;
 * a cut frame) is given back by vsock_trim, never a wslay context; every gauge is back
 * to zero once the sockets are destroyed. */
Test(vsock_inplace, buffers_held_while_busy_are_given_back_by_trim)
{
    vsock_buffers b;
    uint8_t buf[4096];
    got g = {.stop_at = -1};
    cr_assert_eq(vsock_write(cli, "abc", 3, VSOCK_BINARY, rt_deadline_in(RT_S)), 0);
    uint8_t w[16];
    size_t k = tu_frame(w, 0x82, "defgh", 5, true);
    tu_write_all(cfd, w, k - 3);   /* a frame cut short: its bytes are kept */
    cr_assert_eq(read_until(&g, 1, buf, sizeof buf), 0);
    for (int i = 0; i < 100; i++) {   /* the cut frame's first bytes arrive and are kept */
        size_t n;
        cr_assert_eq(vsock_read_inplace(srv, buf, sizeof buf, true, take, &g, &n), 0);
        vsock_get_buffers(VSOCK_SERVER, &b);
        if (b.carry_bufs)
            break;
        rt_sleep(RT_MS, NULL);
    }
    cr_assert_eq(vsock_queue(srv, "xyz", 3, VSOCK_BINARY), 0);
    cr_assert_eq(vsock_flush(srv), 0);
    vsock_get_buffers(VSOCK_SERVER, &b);
    cr_assert_eq(b.out_bufs, 1, "the output buffer is kept while the socket is busy");
    cr_assert_eq(b.carry_bufs, 1, "the cut frame is kept");
    cr_assert_gt(b.out_bytes + b.carry_bytes, 0);
    cr_assert_eq(b.ws_contexts, 0, "reading in place makes no wslay context");
    vsock_trim(srv);
    vsock_get_buffers(VSOCK_SERVER, &b);
    cr_assert_eq(b.out_bufs, 0, "trim gives the output buffer back");
    cr_assert_eq(b.carry_bufs, 1, "but not a frame half read");
    tu_write_all(cfd, w + k - 3, 3);
    cr_assert_eq(read_until(&g, 2, buf, sizeof buf), 0);
    cr_assert(g.len[1] == 5 && !memcmp(g.data[1], "defgh", 5));
    vsock_trim(srv);
    vsock_get_buffers(VSOCK_SERVER, &b);
    cr_assert(b.out_bufs == 0 && b.out_bytes == 0 && b.carry_bufs == 0 && b.carry_bytes == 0,
              "a quiet socket holds nothing: out %ld/%ld carry %ld/%ld", (long)b.out_bufs,
              (long)b.out_bytes, (long)b.carry_bufs, (long)b.carry_bytes);
    got_free(&g);
    tear_down();
    for (int r = 0; r < 2; r++) {
        vsock_get_buffers(r ? VSOCK_CLIENT : VSOCK_SERVER, &b);
        cr_assert(b.out_bufs == 0 && b.out_bytes == 0 && b.carry_bufs == 0 && b.carry_bytes == 0 &&
                  b.ws_contexts == 0, "role %d: every gauge back to zero after destroy", r);
    }
    pair_up();
}

Test(vsock_inplace, length_not_in_the_fewest_bytes_is_1002)
{
    /* found by fuzz_vsock_inplace against wslay: 0 bytes said in the 16-bit form */
    uint8_t w[16] = {0x82, 0x80 | 126, 0, 0, 1, 2, 3, 4};
    bad(w, 8, -EPROTO, 1002);
    tear_down();
    pair_up();
    uint8_t v[16] = {0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 200, 1, 2, 3, 4};   /* 200 in 64 bits */
    bad(v, 14, -EPROTO, 1002);
}
