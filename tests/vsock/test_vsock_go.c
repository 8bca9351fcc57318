/* test_vsock_go.c — vsock's Go modes, the seed's net.Conn + gobwas/ws semantics: the abrupt close, reads broken by a deadline, writes cut by one. */
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

TestSuite(vsock_go, .init = pair_up, .fini = tear_down, .timeout = 30);

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 31 + seed + (i >> 11));
    return b;
}

#define BIG ((size_t)4 << 20)   /* far more than a socketpair buffers */

/* ---------------------------------------------------------------- close */

/* The seed's Close: an empty close frame (the client reads 1005), then the fd closed at
 * once. The peer never reads here: a close that waited for its reply would sit until
 * its deadline (a day) and the suite's timeout would fail the test. */
Test(vsock_go, close_after_frame_sends_an_empty_close_and_never_waits_for_the_reply)
{
    cr_assert_eq(vsock_close_after_frame(srv, 0, rt_deadline_in(86400 * RT_S), NULL), 0);
    cr_assert(vsock_is_closed(srv));
    uint8_t raw[64];
    bool eof = false;
    size_t got = tu_read_for(vsock_fd(cli), raw, sizeof raw, 1000, &eof);
    cr_assert_eq(got, 2, "one frame, no payload: 0x88 0x00");
    cr_assert_eq(raw[0], 0x88);
    cr_assert_eq(raw[1], 0x00);
    cr_assert(eof, "and the connection closed behind it");
    cr_assert_eq(tu_close_code(raw, got), VSOCK_CLOSE_NO_STATUS);
    vsock_counters c;
    vsock_get_counters(srv, &c);
    cr_assert_eq(c.frames_in, 0, "the server read nothing: no reply was awaited");
    cr_assert_eq(c.frames_out, 1);
    cr_assert_eq(vsock_close_after_frame(srv, 0, RT_NEVER, NULL), 0, "idempotent");
}

Test(vsock_go, close_after_frame_reaches_a_vsock_peer_as_1005)
{
    cr_assert_eq(vsock_close_after_frame(srv, 0, rt_deadline_in(RT_S), NULL), 0);
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(cli, &m, rt_deadline_in(RT_S)), -EPIPE);
    cr_assert_eq(vsock_close_code(cli), VSOCK_CLOSE_NO_STATUS);
}

/* Go's Write under the close deadline: a full socket makes it wait for room until the
 * deadline (or the given ctx), then the connection is closed anyway. */
Test(vsock_go, close_after_frame_waits_for_room_until_its_deadline_or_ctx)
{
    uint8_t *p = pattern(BIG, 5);
    vsock_mem_stop_reading(cli, true);
    cr_assert_eq(vsock_write(srv, p, BIG, VSOCK_BINARY, rt_deadline_in(30 * RT_MS)), -ETIMEDOUT);
    cr_assert_eq(vsock_close_after_frame(srv, 0, rt_deadline_in(30 * RT_MS), NULL), -ETIMEDOUT);
    cr_assert(vsock_is_closed(srv));
    free(p);
}

Test(vsock_go, close_after_frame_gives_up_when_its_ctx_is_cancelled)
{
    uint8_t *p = pattern(BIG, 6);
    vsock_mem_stop_reading(cli, true);
    cr_assert_eq(vsock_write(srv, p, BIG, VSOCK_BINARY, rt_deadline_in(30 * RT_MS)), -ETIMEDOUT);
    rt_ctx *stop = rt_ctx_create(NULL);
    rt_ctx_cancel(stop);
    cr_assert_eq(vsock_close_after_frame(srv, 0, rt_deadline_in(86400 * RT_S), stop), -ECANCELED);
    cr_assert(vsock_is_closed(srv));
    rt_ctx_destroy(stop);
    free(p);
}

/* ---------------------------------------------------------------- reads broken by a deadline */

/* A client frame of n payload bytes of 0x40: masked with tu_frame's key every byte has
 * RSV bits set (0x77 0xba 0x61 0x7d), so the rest of a broken frame, read as a header,
 * is a protocol error wherever it was cut. */
static size_t frame_40(uint8_t *raw, size_t n)
{
    uint8_t *pl = malloc(n);
    memset(pl, 0x40, n);
    size_t len = tu_frame(raw, 0x82, pl, n, true);
    free(pl);
    return len;
}

static int64_t broken(vsock *s)
{
    vsock_counters c;
    vsock_get_counters(s, &c);
    return c.frames_broken_by_deadline;
}

Test(vsock_go, read_deadline_inside_a_frame_loses_it_and_its_rest_reads_as_a_header)
{
    vsock_set_go(srv, VSOCK_GO_READ);
    uint8_t raw[400];
    size_t n = frame_40(raw, 300);   /* 2 + 2 + 4 header bytes, then 300 */
    int fd = vsock_fd(cli);
    tu_write_all(fd, raw, 108);
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT);
    cr_assert_eq(broken(srv), 1);
    vsock_msg *lost = vsock_take_broken(srv);
    cr_assert_not_null(lost, "the partial message is handed over");
    cr_assert_eq(lost->len, 100, "the payload read before the deadline");
    cr_assert_eq(lost->opcode, VSOCK_BINARY);
    cr_assert_eq(lost->data[0], 0x40, "unmasked");
    vsock_msg_free(lost);
    cr_assert_null(vsock_take_broken(srv), "taken once");
    tu_write_all(fd, raw + 108, n - 108);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(RT_S)), -EPROTO,
                 "the frame's rest parsed as a header: reserved bits");
    cr_assert_null(m);
    vsock_counters c;
    vsock_get_counters(srv, &c);
    cr_assert_eq(c.msgs_in, 1, "the torn message, taken off the wire");
}

Test(vsock_go, read_deadline_at_a_message_boundary_loses_nothing)
{
    vsock_set_go(srv, VSOCK_GO_READ);
    uint8_t raw[400];
    size_t n = frame_40(raw, 300);
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT);
    cr_assert_eq(broken(srv), 0);
    cr_assert_null(vsock_take_broken(srv));
    tu_write_all(vsock_fd(cli), raw, n);
    tu_write_all(vsock_fd(cli), raw, n);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(m->len, 300);
    vsock_msg_free(m);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(RT_S)), 0, "a read-ahead frame is no break");
    vsock_msg_free(m);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT);
    cr_assert_eq(broken(srv), 0);
}

Test(vsock_go, read_deadline_inside_a_header_loses_a_data_message)
{
    vsock_set_go(srv, VSOCK_GO_READ);
    uint8_t raw[400];
    frame_40(raw, 300);
    tu_write_all(vsock_fd(cli), raw, 3);   /* 0x82, 0xfe, half the 16-bit length */
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT);
    cr_assert_eq(broken(srv), 1);
    vsock_msg *lost = vsock_take_broken(srv);
    cr_assert_not_null(lost);
    cr_assert_eq(lost->len, 0);
    cr_assert_eq(lost->opcode, VSOCK_BINARY);
    vsock_msg_free(lost);
}

Test(vsock_go, read_deadline_inside_a_ping_breaks_a_frame_but_loses_no_message)
{
    vsock_set_go(srv, VSOCK_GO_READ);
    uint8_t raw[64];
    tu_frame(raw, 0x89, "abcdefgh", 8, true);
    tu_write_all(vsock_fd(cli), raw, 9);
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT);
    cr_assert_eq(broken(srv), 1);
    cr_assert_null(vsock_take_broken(srv), "a control frame carries no message");
}

/* Go checks the deadline when each conn.Read starts, bytes in the socket or not: a frame
 * whose reading outlasts the deadline is torn though all of it has arrived. 1-byte
 * reads make a 64 KiB frame take far longer than 1 ms. */
Test(vsock_go, a_read_outlasting_its_deadline_tears_a_frame_already_in_the_socket)
{
    static uint8_t raw[70000];
    size_t n = frame_40(raw, 65536);
    tu_write_all(vsock_fd(cli), raw, n);
    vsock_mem_set_chunk(srv, 1, 0);
    vsock_set_go(srv, VSOCK_GO_READ);
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(RT_MS)), -ETIMEDOUT);
    cr_assert_eq(broken(srv), 1);
    vsock_msg *lost = vsock_take_broken(srv);
    cr_assert_not_null(lost);
    cr_assert_lt(lost->len, 65536, "torn part-way");
    vsock_msg_free(lost);
    vsock_mem_set_chunk(srv, 0, 0);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(RT_S)), -EPROTO, "the rest read as a header");
}

Test(vsock_go, without_go_read_a_read_finishes_a_frame_already_in_the_socket)
{
    static uint8_t raw[70000];
    size_t n = frame_40(raw, 65536);
    tu_write_all(vsock_fd(cli), raw, n);
    vsock_mem_set_chunk(srv, 1, 0);
    vsock_msg *m = NULL;
    int rc, calls = 0;
    while ((rc = vsock_read(srv, &m, rt_deadline_in(RT_MS))) == -ETIMEDOUT && calls < 100000)
        calls++;
    cr_assert_eq(rc, 0, "the frame survives the time-outs");
    cr_assert_eq(m->len, 65536);
    vsock_msg_free(m);
    cr_assert_eq(broken(srv), 0);
}

/* A Read that starts after its deadline fails at once and consumes nothing (Go's
 * prepareRead): the frame waiting in the socket is read whole by the next call. */
Test(vsock_go, a_read_whose_deadline_passed_before_it_started_consumes_nothing)
{
    vsock_set_go(srv, VSOCK_GO_READ);
    uint8_t raw[400];
    size_t n = frame_40(raw, 300);
    tu_write_all(vsock_fd(cli), raw, n);
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(srv, &m, rt_now() - 1), -ETIMEDOUT);
    cr_assert_eq(broken(srv), 0);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(m->len, 300);
    vsock_msg_free(m);
}

/* After a break the stream is misread: a later tear cuts garbage, not a message, so only
 * the first break of a connection hands a message over. */
Test(vsock_go, only_the_first_break_of_a_connection_loses_a_message)
{
    vsock_set_go(srv, VSOCK_GO_READ);
    uint8_t raw[400];
    frame_40(raw, 300);
    tu_write_all(vsock_fd(cli), raw, 108);
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT);
    vsock_msg *lost = vsock_take_broken(srv);
    cr_assert_not_null(lost);
    vsock_msg_free(lost);
    /* garbage that parses: an unmasked-looking... a valid masked binary header whose
     * payload never comes, read after the break */
    uint8_t hdr[8];
    tu_frame(hdr, 0x82, "", 0, true);
    hdr[1] = 0x80 | 100;   /* claims 100 bytes */
    tu_write_all(vsock_fd(cli), hdr, 6);
    tu_write_all(vsock_fd(cli), raw + 8, 10);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT);
    cr_assert_eq(broken(srv), 2);
    cr_assert_null(vsock_take_broken(srv), "misread bytes are no message");
}

/* A "message" the misread bytes happen to form after a break is no client's: counted in
 * garbage_msgs and discarded, never delivered; the torn message counts in msgs_in. */
Test(vsock_go, a_message_parsed_from_misread_bytes_is_counted_and_discarded)
{
    vsock_set_go(srv, VSOCK_GO_READ);
    uint8_t raw[400];
    frame_40(raw, 300);
    tu_write_all(vsock_fd(cli), raw, 108);
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT);
    vsock_msg_free(vsock_take_broken(srv));
    uint8_t fake[64];
    size_t n = tu_frame(fake, 0x82, "garbage!", 8, true);   /* bytes that parse as a frame */
    tu_write_all(vsock_fd(cli), fake, n);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(50 * RT_MS)), -ETIMEDOUT, "not delivered");
    cr_assert_null(m);
    vsock_counters c;
    vsock_get_counters(srv, &c);
    cr_assert_eq(c.garbage_msgs, 1);
    cr_assert_eq(c.msgs_in, 1, "the torn message, taken off the wire");
}

Test(vsock_go, without_go_read_the_same_cut_is_resumed)
{
    uint8_t raw[400];
    size_t n = frame_40(raw, 300);
    tu_write_all(vsock_fd(cli), raw, 108);
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT);
    cr_assert_null(vsock_take_broken(srv));
    tu_write_all(vsock_fd(cli), raw + 108, n - 108);
    cr_assert_eq(vsock_read(srv, &m, rt_deadline_in(RT_S)), 0);
    cr_assert_eq(m->len, 300);
    vsock_msg_free(m);
    cr_assert_eq(broken(srv), 0);
}

/* ---------------------------------------------------------------- writes cut by a deadline */

static int64_t cut(vsock *s)
{
    vsock_counters c;
    vsock_get_counters(s, &c);
    return c.frames_cut_by_deadline;
}

/* Reads until an error or a quiet second, keeping the first message. */
struct drainer {
    pthread_t t;
    vsock *s;
    vsock_msg *first;
    int msgs, rc;
};

static void *drainer_main(void *a)
{
    struct drainer *d = a;
    for (;;) {
        vsock_msg *m = NULL;
        d->rc = vsock_read(d->s, &m, rt_deadline_in(RT_S));
        if (d->rc != 0)
            return NULL;
        if (!d->first)
            d->first = m;
        else
            vsock_msg_free(m);
        d->msgs++;
    }
}

/* The seed's sendWithRetry after a timed-out partial write: the wire carries the cut
 * frame, then the whole message again. The peer reads one message of the first frame's
 * length made of both (corrupted), then the retry's rest as a header: never the message
 * intact. */
Test(vsock_go, timed_out_write_is_cut_and_the_retry_goes_out_whole_behind_it)
{
    vsock_set_go(srv, VSOCK_GO_WRITE);
    uint8_t *p = pattern(BIG, 7);
    vsock_mem_stop_reading(cli, true);
    cr_assert_eq(vsock_write(srv, p, BIG, VSOCK_BINARY, rt_deadline_in(50 * RT_MS)), -ETIMEDOUT);
    cr_assert_eq(cut(srv), 1);
    cr_assert_eq(vsock_pending_out(srv), 0, "the rest of the frame is gone");
    vsock_counters c;
    vsock_get_counters(srv, &c);
    int64_t on_wire = c.bytes_out;
    cr_assert(on_wire > 0 && on_wire < (int64_t)BIG);

    vsock_mem_stop_reading(cli, false);
    struct drainer d = {.s = cli};
    pthread_create(&d.t, NULL, drainer_main, &d);
    /* the retry: the peer reads the corrupted message, then stops at the garbage, so
     * the retry's own tail may stay unsent */
    int wr = vsock_write(srv, p, BIG, VSOCK_BINARY, rt_deadline_in(RT_S));
    pthread_join(d.t, NULL);
    cr_assert(wr == 0 || wr == -ETIMEDOUT, "the retry: %d", wr);
    cr_assert_not_null(d.first);
    cr_assert_eq(d.first->len, BIG, "the cut frame's length");
    cr_assert_eq(memcmp(d.first->data, p, (size_t)on_wire - 10), 0, "the cut part came first");
    cr_assert_neq(memcmp(d.first->data, p, BIG), 0, "corrupted: the retry's header is inside it");
    vsock_msg_free(d.first);
    cr_assert(d.rc == -EPROTO || d.rc == -ETIMEDOUT || d.rc == -EMSGSIZE,
              "then garbage, or nothing more (%d)", d.rc);
    vsock_get_counters(srv, &c);
    cr_assert_eq(c.partial_resumed, 0);
    cr_assert_eq(c.msgs_out, 2, "two frames written");
    free(p);
}

Test(vsock_go, timed_out_write_that_sent_nothing_is_withdrawn)
{
    vsock_set_go(srv, VSOCK_GO_WRITE);
    uint8_t *p = pattern(BIG, 8);
    vsock_mem_stop_reading(cli, true);
    cr_assert_eq(vsock_write(srv, p, BIG, VSOCK_BINARY, rt_deadline_in(50 * RT_MS)), -ETIMEDOUT);
    cr_assert_eq(vsock_write(srv, "small", 5, VSOCK_TEXT, rt_deadline_in(20 * RT_MS)), -ETIMEDOUT,
                 "the kernel is full: none of it goes");
    cr_assert_eq(cut(srv), 1, "only the started frame was cut");
    cr_assert_eq(vsock_pending_out(srv), 0);
    vsock_counters c;
    vsock_get_counters(srv, &c);
    cr_assert_eq(c.msgs_out, 1, "the withdrawn frame never left");
    free(p);
}
