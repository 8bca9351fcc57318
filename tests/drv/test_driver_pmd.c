/* test_driver_pmd.c — the driver's permessage-deflate against vsock's: its compressed frames read by a vsock server, the server's inflated by it, with and without context takeover. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "drv_internal.h"
#include "vsock_test_util.h"
#include "ws_pmd.h"

#define T5 rt_deadline_in(5 * RT_S)

static void both_ways(int mode)
{
    vsock_opts o;
    vsock_opts_default(&o);
    o.deflate = mode;
    vsock *srv, *cli;
    cr_assert_eq(vsock_mem_pair(&srv, &cli, &o), 0);
    /* the agreement vsock_mem_pair made, from the driver's side */
    struct ws_pmd a = {.server_max_window_bits = 15, .client_max_window_bits = 15,
                       .server_no_context_takeover = mode == VSOCK_DEFLATE_NO_TAKEOVER,
                       .client_no_context_takeover = mode == VSOCK_DEFLATE_NO_TAKEOVER};
    struct drv_thr t;
    memset(&t, 0, sizeof t);
    t.mask_rng = 3;
    uint8_t fill[2048];
    for (size_t i = 0; i < sizeof fill; i++)
        fill[i] = (uint8_t)('a' + i % 26);
    t.fill = fill;
    t.fill_len = sizeof fill;
    struct drv_ws w;
    memset(&w, 0, sizeof w);
    cr_assert_eq(drv_pmd_start(&w, &a), 0);
    size_t sizes[5];
    for (int k = 0; k < 5; k++) {
        uint32_t len = 2048;
        struct wire_hdr h = {.magic = WIRE_MAGIC, .kind = WIRE_ECHO, .link_id = 1, .len = len, .seq = (uint64_t)k};
        uint8_t f[2048 + 200];
        cr_assert_leq(drv_ws_frame_room(&w, len), sizeof f);
        size_t n = drv_ws_frame_msg_z(&t, &w, f, &h, len);
        cr_assert_gt(n, 0);
        cr_assert_eq(f[0], 0xC2, "FIN, RSV1, binary");
        sizes[k] = n;
        tu_write_all(vsock_fd(cli), f, n);
        vsock_msg *m;
        cr_assert_eq(vsock_read(srv, &m, T5), 0, "message %d", k);
        struct wire_hdr g;
        cr_assert_eq(wire_get(m->data, m->len, &g), 0);
        cr_assert_eq(g.seq, (uint64_t)k);
        cr_assert(!memcmp(m->data + WIRE_HDR_BYTES, fill + WIRE_HDR_BYTES, len - WIRE_HDR_BYTES));
        vsock_msg_free(m);
    }
    if (mode == VSOCK_DEFLATE_TAKEOVER)
        cr_assert_lt(sizes[4], sizes[0] / 2, "a repeat refers to the one before");
    else
        cr_assert_gt(sizes[4], sizes[0] * 3 / 4, "each alone: no back-reference to the last");
    /* the server's compressed messages, inflated by the driver */
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(vsock_write(srv, fill, 1000, VSOCK_BINARY, T5), 0);
        uint8_t raw[1100];
        bool eof;
        size_t got = tu_read_for(vsock_fd(cli), raw, sizeof raw, 200, &eof);
        cr_assert_geq(got, 2);
        cr_assert_eq(raw[0], 0xC2);
        size_t pl = raw[1] & 0x7f, hl = 2;
        if (pl == 126) {
            pl = (size_t)raw[2] << 8 | raw[3];
            hl = 4;
        }
        cr_assert_eq(got, hl + pl);
        size_t out = 0;
        cr_assert_eq(drv_pmd_inflate(&t, &w, raw + hl, pl, 1 << 20, &out), 0);
        cr_assert_eq(out, 1000);
        cr_assert(!memcmp(t.zbuf, fill, 1000));
    }
    size_t out;
    cr_assert_eq(drv_pmd_inflate(&t, &w, (const uint8_t *)"\xff\xff\xff", 3, 1 << 20, &out), -EPROTO);
    drv_pmd_free(&w);
    cr_assert_null(w.pmd);
    free(t.zbuf);
    vsock_destroy(srv);
    vsock_destroy(cli);
}

Test(driver_pmd, with_context_takeover_both_ways) { both_ways(VSOCK_DEFLATE_TAKEOVER); }
Test(driver_pmd, without_context_takeover_both_ways) { both_ways(VSOCK_DEFLATE_NO_TAKEOVER); }
