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
