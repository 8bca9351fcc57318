/* test_evloop_inline.c — evloop under the real app model with app.inline: lossless backpressure through the loop's handlers, and buffers given back when links go quiet. */
#include <criterion/criterion.h>

#include "link_fixture.h"

TestSuite(evloop_inline, .timeout = 120);

static void start_inline(fx *f, enum fx_backend b, const struct fx_override *ov, size_t n_ov)
{
    app_params ap;
    app_params_default(&ap);
    ap.workers = 1;
    ap.inline_handlers = true;
    int rc = fx_start_with(f, "evloop", b, &ap, NULL, ov, n_ov);
    cr_assert_eq(rc, 0, "%s", f->err);
    cr_assert(app_inline(f->app), "evloop declares app.inline");
}

static int64_t counter(fx *f, enum link_counter c)
{
    link_host_snapshot s;
    link_host_snapshot_get(&f->host, &s);
    return s.counters[c];
}

/* The client stops reading: the loop's handler gets -EAGAIN from send once the link's
 * output passes its high mark, the app holds that echo, the loop stops reading the link
 * (deliver answers -EAGAIN) and TCP backs the client up. Nothing is dropped; once the
 * client reads again, every echo arrives, in order. */
Test(evloop_inline, peer_that_stops_reading_pauses_the_link_losslessly)
{
    static const struct fx_override ov[] = {
        {"evloop", "send_low_bytes", 8192}, {"evloop", "send_high_bytes", 16384},
        {"evloop", "send_hard_bytes", 1 << 20}, {"evloop", "loops", 1},
        /* a loaded machine must not turn the pause into a stall close (another test) */
        {"evloop", "write_timeout_ms", 120000},
    };
    fx f;
    start_inline(&f, FX_MEM, ov, sizeof ov / sizeof ov[0]);
    vsock *cl;
    uint32_t id;
    cr_assert_eq(fx_link(&f, &cl, &id), 0);
    vsock_mem_stop_reading(cl, true);
    enum { LEN = 1024, CAP = 20000 };
    uint64_t sent = 0;
    bool backed_up = false;
    while (sent < CAP) {
        int rc = fx_send(cl, id, sent, LEN, 200 * RT_MS);
        if (rc == -ETIMEDOUT) {
            backed_up = true;
            break;
        }
        cr_assert_eq(rc, 0, "write: %s", strerror(-rc));
        sent++;
    }
    cr_assert(backed_up, "the client backed up after %llu messages", (unsigned long long)sent);
    app_stats st;
    app_stats_get(f.app, &st);
    cr_assert_geq(st.send_eagain, 1, "the loop's handler met the link's backpressure");
    cr_assert_geq(counter(&f, LINK_C_SEND_BACKPRESSURE), 1);
    cr_assert_leq(st.held_now, 1, "the app holds at most one echo: the loop stopped reading");
    cr_assert_lt(st.recv_msgs, (int64_t)sent, "most of it waits in TCP, not in the server");
    vsock_mem_stop_reading(cl, false);
    /* Read first: a client that writes without reading deadlocks against any lossless
     * server once both directions are full. The echoes of every whole message come;
     * then the rest of the timed-out frame is flushed (a read may have flushed it
     * already: a retried write would then send it twice) and its echo comes last. */
    int rc = 0;
    for (uint64_t i = 0; i <= sent; i++) {
        if (i == sent) {
            rt_ns end = rt_deadline_in(30 * RT_S);
            while ((rc = vsock_flush(cl)) == -EAGAIN && rt_now() < end)
                rt_sleep(RT_MS, NULL);
            cr_assert_eq(rc, 0, "the timed-out frame's rest: %s", strerror(-rc));
        }
        struct wire_hdr h;
        rc = fx_recv(cl, &h, 30 * RT_S);
        if (rc) {
            app_link_stats ls;
            app_link_stats_get(f.app, id, &ls);
            app_stats_get(f.app, &st);
            cr_assert_eq(rc, 0, "echo %llu of %llu: %s (link closed %d cause %s; app recv %lld sent %lld "
                         "held %lld eagain %lld)", (unsigned long long)i, (unsigned long long)sent,
                         strerror(-rc), ls.closed, link_close_cause_name(ls.cause), (long long)st.recv_msgs,
                         (long long)st.sent, (long long)st.held_now, (long long)st.send_eagain);
        }
        cr_assert_eq(h.seq, i, "in order");
    }
    sent++;
    app_stats_get(f.app, &st);
    link_host_snapshot hs;
    link_host_snapshot_get(&f.host, &hs);
    cr_assert_eq(hs.drops_total, 0);
    cr_assert_eq(st.held_now, 0);
    cr_assert_eq(st.recv_msgs, (int64_t)sent, "app took %lld of %llu", (long long)st.recv_msgs,
                 (unsigned long long)sent);
    cr_assert_eq(st.sent, (int64_t)sent, "app sent %lld of %llu", (long long)st.sent, (unsigned long long)sent);
    vsock_close(cl, VSOCK_CLOSE_NORMAL);
    vsock_destroy(cl);
    fx_stop(&f);
}

/* Links that were busy and went quiet give their buffers back within trim_after_ms (the
 * vsock's gauges: output buffers, kept frames, wslay contexts), while staying open; and
 * take them again when they speak. */
Test(evloop_inline, busy_links_give_their_buffers_back_once_quiet)
{
    enum { LINKS = 8, TRIM_MS = 3000 };
    static const struct fx_override ov[] = {{"evloop", "trim_after_ms", TRIM_MS}, {"evloop", "loops", 1}};
    fx f;
    start_inline(&f, FX_TCP, ov, sizeof ov / sizeof ov[0]);
    vsock *cl[LINKS];
    uint32_t id[LINKS];
    for (int i = 0; i < LINKS; i++)
        cr_assert_eq(fx_link(&f, &cl[i], &id[i]), 0);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < LINKS; i++)
            for (uint64_t s = 0; s < 20; s++) {
                cr_assert_eq(fx_send(cl[i], id[i], round * 20 + s, 200, 10 * RT_S), 0);
                struct wire_hdr h;
                cr_assert_eq(fx_recv(cl[i], &h, 10 * RT_S), 0);
                cr_assert_eq(h.seq, round * 20 + s);
            }
        vsock_buffers b;
        vsock_get_buffers(VSOCK_SERVER, &b);
        cr_assert_geq(b.out_bufs, 1, "round %d: busy links hold their output buffers (%ld)", round,
                      (long)b.out_bufs);
        cr_assert_eq(b.ws_contexts, 0, "no wslay context on the server side");
        rt_ns t0 = rt_now();
        FX_WAIT((vsock_get_buffers(VSOCK_SERVER, &b), b.out_bufs + b.carry_bufs == 0), 10 * RT_S);
        cr_assert(b.out_bufs == 0 && b.out_bytes == 0 && b.carry_bufs == 0 && b.carry_bytes == 0,
                  "round %d: quiet links hold no buffer (out %ld, carry %ld)", round, (long)b.out_bufs,
                  (long)b.carry_bufs);
        cr_log_info("round %d: buffers given back %.2f s after the last echo (trim_after_ms %d)",
                    round, (double)(rt_now() - t0) / 1e9, TRIM_MS);
        for (int i = 0; i < LINKS; i++) {
            app_link_stats ls;
            app_link_stats_get(f.app, id[i], &ls);
            cr_assert(ls.open && !ls.closed, "link %d stays open", i);
        }
    }
    for (int i = 0; i < LINKS; i++) {
        vsock_close(cl[i], VSOCK_CLOSE_NORMAL);
        vsock_destroy(cl[i]);
    }
    fx_stop(&f);
}
