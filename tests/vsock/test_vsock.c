/* test_vsock.c — vsock semantics on the mem backend: deadlines, partial frames, resumed writes, close, counters. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "vsock_test_util.h"

static vsock *srv, *cli;

static void pair_up(void)
{
    vsock_opts o;
    vsock_opts_default(&o);
    o.close_timeout = 200 * RT_MS;
    o.max_msg_bytes = 8 << 20;
    cr_assert_eq(vsock_mem_pair(&srv, &cli, &o), 0);
}

static void tear_down(void)
{
    vsock_destroy(srv);
    vsock_destroy(cli);
}

TestSuite(vsock_mem, .init = pair_up, .fini = tear_down, .timeout = 30);

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 31 + seed + (i >> 11));
    return b;
}

Test(vsock_mem, echo_text_and_binary_with_counts)
{
    cr_assert_eq(vsock_write(cli, "hello", 5, VSOCK_TEXT, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(vsock_write(cli, "\0\1\2", 3, VSOCK_BINARY, rt_deadline_in(RT_S)), 0);
    vsock_msg *a, *b;
    cr_assert_eq(vsock_read(srv, &a, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(vsock_read(srv, &b, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(a->opcode, VSOCK_TEXT);
    cr_assert_eq(a->len, 5);
    cr_assert_eq(memcmp(a->data, "hello", 5), 0);
    cr_assert_eq(b->opcode, VSOCK_BINARY);
    cr_assert_eq(memcmp(b->data, "\0\1\2", 3), 0);
    cr_assert_gt(a->t_decoded, 0);
    cr_assert_leq(a->t_decoded, b->t_decoded);
    vsock_msg_free(a);
    vsock_msg_free(b);
    vsock_counters c;
    vsock_get_counters(srv, &c);
    cr_assert_eq(c.msgs_in, 2);
    cr_assert_eq(c.frames_in, 2);
    cr_assert_eq(c.bytes_in, 2 + 4 + 5 + 2 + 4 + 3);   /* client frames are masked */
    vsock_get_counters(cli, &c);
    cr_assert_eq(c.msgs_out, 2);
    cr_assert_eq(c.bytes_out, 11 + 9);
}

Test(vsock_mem, read_times_out_when_nothing_comes)
{
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT);
    cr_assert_null(m);
    vsock_counters c;
    vsock_get_counters(srv, &c);
    cr_assert_eq(c.read_timeouts, 1);
}

Test(vsock_mem, partial_frame_survives_timeouts)
{
    vsock_mem_set_chunk(srv, 1, 0);   /* 1-byte reads */
    uint8_t payload[300], raw[400];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)i;
    size_t n = tu_frame(raw, 0x82, payload, sizeof payload, true);
    int fd = vsock_fd(cli);   /* the client end, used as a raw byte peer */
    vsock_msg *m = NULL;
    size_t cut[] = {1, 3, 7, 150, n};   /* inside the header, the mask, the payload */
    size_t off = 0;
    for (size_t k = 0; k < 4; k++) {
        tu_write_all(fd, raw + off, cut[k] - off);
        off = cut[k];
        cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT, "cut %zu", k);
    }
    tu_write_all(fd, raw + off, n - off);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(m->len, sizeof payload);
    cr_assert_eq(memcmp(m->data, payload, sizeof payload), 0);
    vsock_msg_free(m);
    vsock_counters c;
    vsock_get_counters(srv, &c);
    cr_assert_eq(c.read_timeouts, 4);
    cr_assert_eq(c.msgs_in, 1);
    cr_assert_geq(c.sys_read, (int64_t)n);   /* one byte per call */
}

struct writer {
    pthread_t t;
    vsock *s;
    const uint8_t *buf;
    size_t len;
    int rc;
};

static void *writer_main(void *a)
{
    struct writer *w = a;
    w->rc = vsock_write(w->s, w->buf, w->len, VSOCK_BINARY, rt_deadline_in(10 * RT_S));
    return NULL;
}

Test(vsock_mem, one_byte_writes_and_reads_deliver_intact)
{
    vsock_mem_set_chunk(cli, 0, 1);
    vsock_mem_set_chunk(srv, 1, 0);
    uint8_t *p = pattern(2000, 7);
    struct writer w = {.s = cli, .buf = p, .len = 2000};
    pthread_create(&w.t, NULL, writer_main, &w);
    vsock_msg *m = NULL;
    int r, timeouts = 0;
    while ((r = vsock_read(srv, &m, rt_deadline_in(RT_MS))) == -ETIMEDOUT)
        timeouts++;
    pthread_join(w.t, NULL);
    cr_assert_eq(w.rc, 0);
    cr_assert_eq(r, 0);
    cr_assert_eq(m->len, 2000);
    cr_assert_eq(memcmp(m->data, p, 2000), 0);
    vsock_counters c;
    vsock_get_counters(cli, &c);
    cr_assert_geq(c.sys_write, 2000 + 4);   /* every byte its own send */
    vsock_msg_free(m);
    free(p);
}

#define BIG ((size_t)4 << 20)   /* far more than a socketpair buffers */

Test(vsock_mem, timed_out_write_is_resumed_not_resent)
{
    uint8_t *p = pattern(BIG, 1);
    vsock_mem_stop_reading(srv, true);
    cr_assert_eq(vsock_write(cli, p, BIG, VSOCK_BINARY, rt_deadline_in(50 * RT_MS)), -ETIMEDOUT);
    vsock_counters c;
    vsock_get_counters(cli, &c);
    cr_assert_eq(c.write_timeouts, 1);
    cr_assert_gt(c.bytes_out, 0, "the frame was started");
    cr_assert_lt(c.bytes_out, (int64_t)BIG, "and not finished");
    cr_assert_eq(c.partial_resumed, 0);

    vsock_mem_stop_reading(srv, false);
    struct tu_reader rd;
    tu_reader_start(&rd, srv, rt_deadline_in(10 * RT_S));
    cr_assert_eq(vsock_write(cli, p, BIG, VSOCK_BINARY, rt_deadline_in(10 * RT_S)), 0);   /* retry */
    pthread_join(rd.t, NULL);
    cr_assert_eq(rd.rc, 0);
    cr_assert_eq(rd.m->len, BIG);
    cr_assert_eq(memcmp(rd.m->data, p, BIG), 0);
    vsock_msg_free(rd.m);
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(50 * RT_MS)), -ETIMEDOUT, "exactly one copy");
    vsock_get_counters(cli, &c);
    cr_assert_eq(c.partial_resumed, 1);
    cr_assert_eq(c.msgs_out, 1);
    cr_assert_eq(c.frames_out, 1);
    vsock_get_counters(srv, &c);
    cr_assert_eq(c.msgs_in, 1);
    free(p);
}

Test(vsock_mem, other_message_after_timeout_finishes_the_pending_one_first)
{
    uint8_t *p = pattern(BIG, 2);
    vsock_mem_stop_reading(srv, true);
    cr_assert_eq(vsock_write(cli, p, BIG, VSOCK_BINARY, rt_deadline_in(50 * RT_MS)), -ETIMEDOUT);
    vsock_mem_stop_reading(srv, false);
    struct tu_reader rd;
    tu_reader_start(&rd, srv, rt_deadline_in(10 * RT_S));
    cr_assert_eq(vsock_write(cli, "next", 4, VSOCK_TEXT, rt_deadline_in(10 * RT_S)), 0);
    pthread_join(rd.t, NULL);
    cr_assert_eq(rd.rc, 0);
    cr_assert_eq(rd.m->len, BIG, "the earlier message comes first, whole");
    cr_assert_eq(memcmp(rd.m->data, p, BIG), 0);
    vsock_msg *m;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(m->len, 4);
    cr_assert_eq(memcmp(m->data, "next", 4), 0);
    vsock_msg_free(m);
    vsock_msg_free(rd.m);
    vsock_counters c;
    vsock_get_counters(cli, &c);
    cr_assert_eq(c.partial_resumed, 1);
    cr_assert_eq(c.msgs_out, 2);
    free(p);
}

Test(vsock_mem, retry_of_a_frame_not_yet_started_replaces_it)
{
    uint8_t *p = pattern(BIG, 3);
    char small[6] = "first";
    vsock_mem_stop_reading(srv, true);
    cr_assert_eq(vsock_write(cli, p, BIG, VSOCK_BINARY, rt_deadline_in(50 * RT_MS)), -ETIMEDOUT);
    /* Queued behind the unfinished big frame: times out before any byte of it left. */
    cr_assert_eq(vsock_write(cli, small, 5, VSOCK_TEXT, rt_deadline_in(10 * RT_MS)), -ETIMEDOUT);
    memcpy(small, "again", 5);   /* the caller's buffer changed before its retry */
    vsock_mem_stop_reading(srv, false);
    struct tu_reader rd;
    tu_reader_start(&rd, srv, rt_deadline_in(10 * RT_S));
    cr_assert_eq(vsock_write(cli, small, 5, VSOCK_TEXT, rt_deadline_in(10 * RT_S)), 0);
    pthread_join(rd.t, NULL);
    cr_assert_eq(rd.rc, 0);
    cr_assert_eq(rd.m->len, BIG);
    vsock_msg *m;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(memcmp(m->data, "again", 5), 0, "the retry's bytes, once");
    vsock_msg_free(m);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(50 * RT_MS)), -ETIMEDOUT);
    vsock_counters c;
    vsock_get_counters(cli, &c);
    cr_assert_eq(c.msgs_out, 2);
    cr_assert_eq(c.write_timeouts, 2);
    vsock_msg_free(rd.m);
    free(p);
}

Test(vsock_mem, cancel_wakes_a_blocked_read)
{
    rt_ctx *ctx = rt_ctx_create(NULL);
    vsock_set_ctx(srv, ctx);
    struct tu_reader rd;
    tu_reader_start(&rd, srv, RT_NEVER);
    rt_sleep(30 * RT_MS, NULL);
    cr_assert_eq(rd.rc, 1, "still blocked");
    rt_ctx_cancel(ctx);
    pthread_join(rd.t, NULL);
    cr_assert_eq(rd.rc, -ECANCELED);
    rt_ctx_destroy(ctx);
}

Test(vsock_mem, close_from_a_third_thread_wakes_reader_and_writer)
{
    uint8_t *p = pattern(BIG, 4);
    vsock_mem_stop_reading(srv, true);   /* so the writer blocks */
    struct tu_reader rd;
    tu_reader_start(&rd, cli, RT_NEVER);
    struct writer w = {.s = cli, .buf = p, .len = BIG};
    pthread_create(&w.t, NULL, writer_main, &w);
    rt_sleep(50 * RT_MS, NULL);
    cr_assert_eq(rd.rc, 1);
    rt_ns t0 = rt_now();
    int r = vsock_close(cli, VSOCK_CLOSE_GOING_AWAY);
    pthread_join(rd.t, NULL);
    pthread_join(w.t, NULL);
    cr_assert_eq(rd.rc, -EPIPE);
    cr_assert_eq(w.rc, -EPIPE);
    cr_assert(r == 0 || r == -ETIMEDOUT);
    cr_assert(vsock_is_closed(cli));
    cr_assert_lt(rt_now() - t0, 5 * RT_S);   /* bounded by close_timeout, not by the write */
    cr_assert_eq(vsock_write(cli, "x", 1, VSOCK_TEXT, RT_NEVER), -EPIPE);
    cr_assert_eq(vsock_close(cli, 1000), 0, "idempotent");
    free(p);
}

Test(vsock_mem, close_handshake_carries_the_code_both_ways)
{
    struct tu_reader rd;
    tu_reader_start(&rd, srv, rt_deadline_in(5 * RT_S));
    cr_assert_eq(vsock_close(cli, VSOCK_CLOSE_NORMAL), 0, "the peer's reply came");
    pthread_join(rd.t, NULL);
    cr_assert_eq(rd.rc, -EPIPE);
    cr_assert_eq(vsock_close_code(srv), VSOCK_CLOSE_NORMAL);
    cr_assert_eq(vsock_close_code(cli), VSOCK_CLOSE_NORMAL, "echoed in the reply");
}

/* The peer answers only after three close_timeouts: a close with no deadline of its
 * own (RT_NEVER) still gets the reply; one whose deadline has passed does not wait for
 * it. Both close the socket. */
static void *late_reader(void *a)
{
    struct tu_reader *r = a;
    rt_sleep(600 * RT_MS, NULL);   /* the suite's close_timeout is 200 ms */
    r->rc = vsock_read(r->s, &r->m, rt_deadline_in(5 * RT_S));
    return NULL;
}

Test(vsock_mem, close_within_waits_its_own_deadline_not_close_timeout)
{
    struct tu_reader rd = {.s = srv, .rc = 1};
    pthread_create(&rd.t, NULL, late_reader, &rd);
    cr_assert_eq(vsock_close_within(cli, VSOCK_CLOSE_NORMAL, RT_NEVER), 0, "the late reply came");
    pthread_join(rd.t, NULL);
    cr_assert_eq(rd.rc, -EPIPE);
    cr_assert_eq(vsock_close_code(cli), VSOCK_CLOSE_NORMAL, "echoed in the reply");
    cr_assert(vsock_is_closed(cli));
}

Test(vsock_mem, close_within_a_passed_deadline_sends_the_frame_and_closes)
{
    cr_assert_eq(vsock_close_within(cli, VSOCK_CLOSE_GOING_AWAY, rt_now()), -ETIMEDOUT,
                 "nobody read: no reply by a deadline already passed");
    cr_assert(vsock_is_closed(cli));
    struct tu_reader rd;
    tu_reader_start(&rd, srv, rt_deadline_in(5 * RT_S));
    pthread_join(rd.t, NULL);
    cr_assert_eq(rd.rc, -EPIPE, "the close frame was out before the fd closed");
    cr_assert_eq(vsock_close_code(srv), VSOCK_CLOSE_GOING_AWAY);
    cr_assert_eq(vsock_close_within(cli, 1000, RT_NEVER), 0, "idempotent");
}

Test(vsock_mem, ping_is_answered_with_its_payload)
{
    uint8_t raw[64], back[64];
    size_t n = tu_frame(raw, 0x89, "abc", 3, true);
    tu_write_all(vsock_fd(cli), raw, n);
    vsock_msg *m;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(50 * RT_MS)), -ETIMEDOUT);
    size_t got = tu_read_for(vsock_fd(cli), back, sizeof back, 200, NULL);
    cr_assert_eq(got, 5);
    cr_assert_eq(back[0], 0x8a);
    cr_assert_eq(back[1], 3, "unmasked from a server");
    cr_assert_eq(memcmp(back + 2, "abc", 3), 0);
    vsock_counters c;
    vsock_get_counters(srv, &c);
    cr_assert_eq(c.pings_answered, 1);
}

Test(vsock_mem, injected_reset_mid_frame_is_an_error)
{
    uint8_t raw[256], pl[200] = {0};
    size_t n = tu_frame(raw, 0x82, pl, sizeof pl, true);
    tu_write_all(vsock_fd(cli), raw, n / 2);
    vsock_msg *m;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT);
    vsock_mem_reset(cli);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(RT_S)), -ECONNRESET);
    cr_assert_eq(vsock_write(srv, "x", 1, VSOCK_TEXT, rt_deadline_in(RT_S)), -ECONNRESET);
    cr_assert(vsock_is_closed(srv));
}

/* The event loop's inline write: whole frame at once, a partial one's rest queued (and
 * the next one refused until it is flushed, so nothing overtakes it), intact either way. */
Test(vsock_mem, send_now_writes_inline_and_queues_a_partial_rest)
{
    size_t fb = 0;
    cr_assert_eq(vsock_send_now(srv, "abc", 3, VSOCK_BINARY, &fb), 0);
    cr_assert_eq(fb, 5, "2-byte header + 3");
    cr_assert_eq(vsock_pending_out(srv), 0);
    vsock_mem_set_chunk(srv, 0, 7);   /* 7-byte writes: a 102-byte frame goes in part */
    uint8_t *p = pattern(100, 3);
    int64_t left = vsock_send_now(srv, p, 100, VSOCK_BINARY, &fb);
    cr_assert_eq(fb, 102);
    cr_assert_eq(left, 95, "7 of 102 bytes written, the rest queued");
    cr_assert_eq((int64_t)vsock_pending_out(srv), left);
    cr_assert_eq(vsock_send_now(srv, "x", 1, VSOCK_BINARY, &fb), -EAGAIN, "behind the rest");
    vsock_mem_set_chunk(srv, 0, 0);
    cr_assert_eq(vsock_flush(srv), 0);
    vsock_msg *a, *b;
    cr_assert_eq(vsock_read(cli, &a, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(vsock_read(cli, &b, rt_deadline_in(RT_S)), 0);
    cr_assert(a->len == 3 && !memcmp(a->data, "abc", 3));
    cr_assert(b->len == 100 && !memcmp(b->data, p, 100));
    vsock_msg_free(a);
    vsock_msg_free(b);
    free(p);
    vsock_close_nb(srv, VSOCK_CLOSE_NORMAL);
    cr_assert_eq(vsock_send_now(srv, "y", 1, VSOCK_BINARY, &fb), -EPIPE, "closed");
}
