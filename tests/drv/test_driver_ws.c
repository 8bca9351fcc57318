/* test_driver_ws.c — the driver's pure machinery: the send wheel against a brute-force list, and its client framing (frames out, the server's frames parsed in place) over a socketpair. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drv_internal.h"

/* ---------------------------------------------------------------- the wheel */

#define N 3000

/* Adds, removals and takes at random times over every level of the wheel (tick 1 ns:
 * a span is 4096 ns, a block 16.8 ms; times reach 60 ms, so the list beyond is used
 * too), checked against a plain array: what is taken is exactly what is due, nothing
 * is lost or taken twice, and the wheel never asks the loop to wait past a due node. */
Test(driver_wheel, takes_exactly_what_is_due_on_every_level)
{
    static struct drv_wheel w;
    static struct drv_wnode x[N];
    static bool in[N];
    uint64_t rng = 7;
    rt_ns now = 1000;
    drv_wheel_init(&w, 1, now);
    memset(x, 0, sizeof x);
    memset(in, 0, sizeof in);
    int64_t taken = 0, added = 0;
    for (int round = 0; round < 4000; round++) {
        /* add or move a few, remove one */
        for (int j = 0; j < 3; j++) {
            int i = (int)(drv_rng_next(&rng) % N);
            uint64_t r = drv_rng_next(&rng);
            rt_ns dt = r % 4 == 0 ? (rt_ns)(r >> 8) % 5000                  /* this span */
                     : r % 4 == 1 ? (rt_ns)(r >> 8) % 2000000               /* later spans */
                     : r % 4 == 2 ? (rt_ns)(r >> 8) % 60000000              /* later blocks */
                                  : -(rt_ns)((r >> 8) % 3000);              /* already late */
            drv_wheel_add(&w, &x[i], now + dt);
            added += !in[i];
            in[i] = true;
        }
        int d = (int)(drv_rng_next(&rng) % N);
        drv_wheel_del(&w, &x[d]);
        added -= in[d];
        in[d] = false;
        uint64_t cnt = 0;
        rt_ns min = RT_NEVER;
        for (int i = 0; i < N; i++)
            if (in[i]) {
                cnt++;
                if (x[i].t < min)
                    min = x[i].t;
            }
        cr_assert_eq(w.n, cnt);
        /* the loop's next look is never after the earliest node (late nodes: now) */
        rt_ns next = drv_wheel_next(&w, 0);
        cr_assert_leq(next, min > now ? min : now, "round %d: next %ld, earliest %ld", round, (long)next, (long)min);
        /* time moves: a little, or to the next look, or far */
        uint64_t r = drv_rng_next(&rng);
        rt_ns to = r % 3 == 0 ? now + (rt_ns)(r >> 8) % 3000 : r % 3 == 1 ? (next > now ? next : now)
                 : now + (rt_ns)(r >> 8) % 30000000;
        now = to;
        struct drv_wnode *o = drv_wheel_due(&w, now);
        static bool got[N];
        memset(got, 0, sizeof got);
        for (; o; o = o->next) {
            int i = (int)(o - x);
            cr_assert(in[i], "round %d: node %d taken but not in the wheel", round, i);
            cr_assert(!got[i], "round %d: node %d taken twice", round, i);
            cr_assert(o->pprev == NULL);
            cr_assert_leq(o->t, now, "round %d: node %d taken at %ld, due %ld", round, i, (long)now, (long)o->t);
            got[i] = true;
            in[i] = false;
            taken++;
        }
        for (int i = 0; i < N; i++)
            cr_assert(!in[i] || x[i].t > now, "round %d: node %d due at %ld not taken by %ld", round, i,
                      (long)x[i].t, (long)now);
    }
    cr_expect_gt(taken, 5000, "the test took nodes on every level (%ld)", (long)taken);
}

/* Ticks wider than a nanosecond: a node comes out with its tick, and the loop is told
 * its exact time when it is the earliest. */
Test(driver_wheel, a_tick_wide_bucket_gives_its_exact_earliest)
{
    static struct drv_wheel w;
    struct drv_wnode a = {0}, b = {0};
    drv_wheel_init(&w, 50000, 1000000);
    drv_wheel_add(&w, &a, 1030000);
    drv_wheel_add(&w, &b, 1010000);
    cr_expect_eq(drv_wheel_next(&w, 0), 1010000);
    cr_expect_eq(drv_wheel_next(&w, 1020000), 1020000, "not before the tick after the last wake-up");
    struct drv_wnode *o = drv_wheel_due(&w, 1010000);
    /* both are in the tick [1 000 000, 1 050 000): both come out, b due, a not yet */
    int n = 0;
    for (; o; o = o->next)
        n++;
    cr_expect_eq(n, 2);
    cr_expect_eq(w.n, 0);
    drv_wheel_add(&w, &a, 1030000);   /* the caller puts a back: it stays in now's tick */
    cr_expect_eq(drv_wheel_next(&w, 0), 1030000);
    cr_expect_eq(drv_wheel_due(&w, 1030000), &a);
    /* one added late (before the cursor's tick) is taken by the very next look */
    drv_wheel_add(&w, &b, 900000);
    cr_expect_eq(drv_wheel_next(&w, 0), 900000);
    cr_expect_eq(drv_wheel_due(&w, 1030001), &b);
}

/* ---------------------------------------------------------------- framing */

struct got {
    int n;
    uint32_t len[16];
    uint8_t data[16][70000];
};
static struct got G;

static void on_msg(struct drv_thr *t, struct drv_link *L, const uint8_t *m, uint32_t len, rt_ns t_recv)
{
    (void)t; (void)L; (void)t_recv;
    cr_assert_lt(G.n, 16);
    G.len[G.n] = len;
    memcpy(G.data[G.n], m, len);
    G.n++;
}

struct fix {
    struct drv_thr t;
    struct drv_link L;
    int peer;
};

static void fix_up(struct fix *f, size_t rx_cap)
{
    memset(f, 0, sizeof *f);
    memset(&G, 0, sizeof G);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    f->L.fd = sv[0];
    f->peer = sv[1];
    f->t.rx_cap = rx_cap;
    f->t.rx = malloc(rx_cap);
    f->t.t_meas0 = f->t.t_stop = f->t.t_send_end = RT_NEVER;
    f->t.mask_rng = 3;
    f->t.h[H_RX] = met_hist_create();
}

static void fix_down(struct fix *f)
{
    drv_ws_reset(&f->L.ws);
    close(f->L.fd);
    close(f->peer);
    free(f->t.rx);
    met_hist_destroy(f->t.h[H_RX]);
}

/* A server frame (unmasked) into b: its size. */
static size_t sframe(uint8_t *b, int fin, int op, const void *p, size_t n)
{
    size_t h = 0;
    b[h++] = (uint8_t)((fin ? 0x80 : 0) | op);
    if (n < 126) {
        b[h++] = (uint8_t)n;
    } else if (n < 65536) {
        b[h++] = 126;
        b[h++] = (uint8_t)(n >> 8);
        b[h++] = (uint8_t)n;
    } else {
        b[h++] = 127;
        for (int i = 7; i >= 0; i--)
            b[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    memcpy(b + h, p, n);
    return h + n;
}

static void put(int fd, const void *b, size_t n)
{
    cr_assert_eq(write(fd, b, n), (ssize_t)n);
}

Test(driver_ws, fragments_and_a_ping_between_them_make_one_message_and_a_pong)
{
    struct fix f;
    fix_up(&f, 4096);
    uint8_t b[512];
    size_t n = 0;
    n += sframe(b + n, 0, 2, "hello ", 6);
    n += sframe(b + n, 1, 9, "pi", 2);     /* a ping inside the fragmented message */
    n += sframe(b + n, 0, 0, "wire", 4);
    n += sframe(b + n, 1, 0, "d!", 2);
    n += sframe(b + n, 1, 2, "next", 4);
    put(f.peer, b, n);
    cr_assert_eq(drv_ws_read(&f.t, &f.L, 1 << 20, on_msg), 0);
    cr_assert_eq(G.n, 2);
    cr_expect_eq(G.len[0], 12);
    cr_expect(!memcmp(G.data[0], "hello wired!", 12));
    cr_expect(!memcmp(G.data[1], "next", 4));
    cr_expect_eq(f.L.ws.msgs_in, 2);
    cr_expect_eq(f.L.ws.bytes_in, (int64_t)n);
    /* the pong went out masked, with the ping's payload */
    uint8_t p[64];
    cr_assert_eq(read(f.peer, p, sizeof p), 8);
    cr_expect_eq(p[0], 0x8a);
    cr_expect_eq(p[1], 0x80 | 2);
    cr_expect_eq(p[6] ^ p[2], 'p');
    cr_expect_eq(p[7] ^ p[3], 'i');
    fix_down(&f);
}

Test(driver_ws, a_frame_cut_anywhere_is_kept_and_completed)
{
    uint8_t msg[300], b[1024];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7);
    size_t n = sframe(b, 1, 2, msg, sizeof msg);
    n += sframe(b + n, 1, 2, msg, 10);
    for (size_t cut = 1; cut < n; cut += 7) {
        struct fix f;
        fix_up(&f, 4096);
        put(f.peer, b, cut);
        cr_assert_eq(drv_ws_read(&f.t, &f.L, 1 << 20, on_msg), 0);
        int before = G.n;
        /* what is held is the partial message's payload so far */
        int64_t part = drv_ws_partial(&f.L.ws);
        cr_expect(part >= 0 && part <= (int64_t)sizeof msg, "cut %zu: partial %ld", cut, (long)part);
        put(f.peer, b + cut, n - cut);
        cr_assert_eq(drv_ws_read(&f.t, &f.L, 1 << 20, on_msg), 0);
        cr_assert_eq(G.n, 2, "cut at %zu: %d messages (%d before the rest)", cut, G.n, before);
        cr_expect_eq(G.len[0], sizeof msg);
        cr_expect(!memcmp(G.data[0], msg, sizeof msg));
        cr_expect_eq(G.len[1], 10);
        cr_expect_eq(drv_ws_partial(&f.L.ws), 0);
        fix_down(&f);
    }
}

Test(driver_ws, a_frame_larger_than_half_the_read_buffer_is_read_where_it_is_assembled)
{
    struct fix f;
    fix_up(&f, 8192);
    static uint8_t msg[60000], b[60100];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i ^ (i >> 8));
    size_t n = sframe(b, 1, 2, msg, sizeof msg);
    size_t sent = 0;
    while (sent < n) {   /* in pieces, reading between them */
        size_t k = n - sent < 5000 ? n - sent : 5000;
        put(f.peer, b + sent, k);
        sent += k;
        cr_assert_eq(drv_ws_read(&f.t, &f.L, 1 << 20, on_msg), 0);
    }
    cr_assert_eq(G.n, 1);
    cr_expect_eq(G.len[0], sizeof msg);
    cr_expect(!memcmp(G.data[0], msg, sizeof msg));
    fix_down(&f);
}

Test(driver_ws, what_a_server_must_not_send_fails_the_connection)
{
    uint8_t b[64];
    struct { uint8_t bytes[4]; size_t n; int err; const char *what; } cases[] = {
        {{0x82, 0x81, 1, 2}, 4, -EPROTO, "a masked frame"},
        {{0xc2, 0x00}, 2, -EPROTO, "a reserved bit"},
        {{0x83, 0x00}, 2, -EPROTO, "an unknown opcode"},
        {{0x80, 0x00}, 2, -EPROTO, "a continuation with nothing to continue"},
        {{0x09, 0x00}, 2, -EPROTO, "a fragmented ping"},
        {{0x88, 0x00}, 2, -EPIPE, "a close frame"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fix f;
        fix_up(&f, 4096);
        put(f.peer, cases[i].bytes, cases[i].n);
        cr_expect_eq(drv_ws_read(&f.t, &f.L, 1 << 20, on_msg), cases[i].err, "%s", cases[i].what);
        fix_down(&f);
    }
    /* a length past 16 MiB */
    struct fix f;
    fix_up(&f, 4096);
    size_t n = 0;
    b[n++] = 0x82;
    b[n++] = 127;
    uint64_t big = (16u << 20) + 1;
    for (int i = 7; i >= 0; i--)
        b[n++] = (uint8_t)(big >> (8 * i));
    put(f.peer, b, n);
    cr_expect_eq(drv_ws_read(&f.t, &f.L, 1 << 20, on_msg), -EMSGSIZE);
    fix_down(&f);
    /* the peer gone */
    fix_up(&f, 4096);
    close(f.peer);
    f.peer = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_expect_eq(drv_ws_read(&f.t, &f.L, 1 << 20, on_msg), -EPIPE);
    fix_down(&f);
}

/* A driver message framed for the wire: a masked binary frame whose payload unmasks to
 * the header, then the fill pattern. */
Test(driver_ws, a_message_is_framed_masked_with_its_header_and_fill)
{
    struct drv_thr t;
    memset(&t, 0, sizeof t);
    t.mask_rng = 9;
    uint8_t fill[300];
    for (size_t i = 0; i < sizeof fill; i++)
        fill[i] = (uint8_t)('a' + i % 26);
    t.fill = fill;
    t.fill_len = sizeof fill;
    uint32_t sizes[] = {48, 64, 125, 126, 300};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint32_t len = sizes[k];
        struct wire_hdr h = {.magic = WIRE_MAGIC, .kind = WIRE_ECHO, .link_id = 5, .len = len, .seq = 77,
                             .t_sched = 1234, .t_sent = 5678};
        uint8_t f[400];
        size_t n = drv_ws_frame_msg(&t, f, &h, len);
        size_t hl = len < 126 ? 2 : 4;
        cr_assert_eq(n, hl + 4 + len);
        cr_expect_eq(f[0], 0x82);
        cr_expect_eq(f[1] & 0x80, 0x80, "masked");
        uint8_t pl[300];
        for (uint32_t i = 0; i < len; i++)
            pl[i] = f[hl + 4 + i] ^ f[hl + (i & 3)];
        struct wire_hdr g;
        cr_assert_eq(wire_get(pl, len, &g), 0);
        cr_expect_eq(g.seq, 77);
        cr_expect_eq(g.t_sched, 1234);
        cr_expect(!memcmp(pl + WIRE_HDR_BYTES, fill + WIRE_HDR_BYTES, len - WIRE_HDR_BYTES));
    }
}
