/* test_evloop.c — the evloop variant by counts: threads, idle cost, lossless backpressure, stall, rate limit, memory. */
#include <poll.h>

#include "evloop_fixture.h"

/* ---------------------------------------------------------------- tests */

TestSuite(evloop, .timeout = 120);

Test(evloop, thread_count_independent_of_link_count)
{
    th t;
    th_start(&t, 1000, true, 0, NULL, NULL, 0);
    int64_t loops = group_live(RT_GROUP_LOOP);
    cr_assert_geq(loops, 1);
    const int steps[] = {1, 100, 1000};
    for (int s = 0; s < 3; s++) {
        while (t.n < steps[s]) th_open(&t);
        echo_once(&t, 0, 100);
        echo_once(&t, (uint32_t)t.n - 1, 100);
        cr_assert_eq(group_live(RT_GROUP_LOOP), loops, "%d links: %ld loop threads, %ld before",
                     t.n, (long)group_live(RT_GROUP_LOOP), (long)loops);
        cr_assert_eq(group_live(RT_GROUP_LINK), 0, "%d links: link threads", t.n);
    }
    th_stop(&t);
    cr_assert_eq(group_live(RT_GROUP_LOOP), 0, "stop joins every loop thread");
}

Test(evloop, idle_links_cost_no_wakeups_and_little_memory)
{
    th t;
    const char *k[] = {"trim_after_ms"};
    const int64_t v[] = {200};
    th_start(&t, 1000, true, 0, k, v, 1);
    /* Make the pairs first, so that only the variant's part is in the memory delta. */
    vsock *srv_side[1000];
    struct mallinfo2 ma = mallinfo2();
    for (int i = 0; i < 1000; i++) {
        tcp_pair(&t, &srv_side[i], &t.links[i].c);
        atomic_init(&t.links[i].cause, -1);
        vsock_trim(srv_side[i]);
    }
    t.n = 1000;
    rt_sleep(100 * RT_MS, NULL);
    struct mallinfo2 m0 = mallinfo2();
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(t.v->attach(t.srv, srv_side[i], (uint32_t)i, &t.links[i].l), 0);
    WAIT_FOR(false, 600 * RT_MS);   /* attached, looked at once, trimmed */
    struct mallinfo2 m1 = mallinfo2();
    double per_link = ((double)m1.uordblks - (double)m0.uordblks) / 1000.;
    fprintf(stderr, "evloop: %.0f bytes malloc'd per idle link (variant state, vsock trimmed)\n",
            per_link);
    cr_assert_lt(per_link, 2048.);

    /* Every link used once, then left alone. */
    for (int i = 0; i < 1000; i++) echo_once(&t, (uint32_t)i, 64);
    WAIT_FOR(false, 800 * RT_MS);   /* past trim_after (+ slack): the idle list empties */
    int64_t w0 = loop_wakeups(), s0 = vsock_syscalls();
    rt_sleep(10 * RT_S, NULL);
    int64_t w1 = loop_wakeups(), s1 = vsock_syscalls();
    fprintf(stderr, "evloop: 1000 idle links over 10 s: %ld loop wake-ups, %ld vsock syscalls\n",
            (long)(w1 - w0), (long)(s1 - s0));
    cr_assert_leq(w1 - w0, 5, "idle links woke the loops %ld times", (long)(w1 - w0));
    cr_assert_leq(s1 - s0, 5, "idle links made %ld syscalls", (long)(s1 - s0));
    for (int i = 0; i < 1000; i++) vsock_trim(t.links[i].c);
    struct mallinfo2 m2 = mallinfo2();
    fprintf(stderr, "evloop: %.0f bytes malloc'd per used-then-idle link: variant, receive queue "
            "and both vsocks, trimmed\n", ((double)m2.uordblks - (double)ma.uordblks) / 1000.);
    echo_once(&t, 999, 64);   /* still alive */
    th_stop(&t);
}

Test(evloop, slow_app_backpressure_is_lossless_and_bounded)
{
    th t;
    const char *k[] = {"recv_low"};
    const int64_t v[] = {0};
    th_start(&t, 4, false, 0, k, v, 1);
    t.drain = false;   /* the app takes nothing for now */
    uint32_t id = th_open(&t);
    vsock *c = t.links[id].c;
    enum { N = 20000, LEN = 1024 };
    static uint8_t buf[LEN];
    int sent = 0, eagain = 0;
    /* The client writes without waiting until its own buffer is backed up. */
    rt_ns end = rt_deadline_in(20 * RT_S);
    while (sent < N && rt_now() < end) {
        memcpy(buf, &sent, sizeof sent);
        cr_assert_eq(vsock_queue(c, buf, LEN, VSOCK_BINARY), 0);
        sent++;
        int rc = vsock_flush(c);
        cr_assert(rc == 0 || rc == -EAGAIN);
        if (rc == -EAGAIN) eagain++;
        if (vsock_pending_out(c) > (size_t)4 << 20) break;   /* the client is backed up */
    }
    WAIT_FOR(counter(&t, LINK_C_READ_PAUSES) >= 1, 5 * RT_S);
    rt_sleep(300 * RT_MS, NULL);
    vsock_counters v0, v1;
    vsock_get_totals(&v0);   /* the client decodes nothing: msgs_in is the server's */
    int rc = vsock_flush(c);
    rt_sleep(300 * RT_MS, NULL);
    vsock_get_totals(&v1);
    cr_assert_eq(rc, -EAGAIN, "the client's writes back up");
    cr_assert_gt(eagain, 0);
    cr_assert_gt(vsock_pending_out(c), 0);
    cr_assert_geq(counter(&t, LINK_C_READ_PAUSES), 1);
    cr_assert_eq(v1.msgs_in, v0.msgs_in, "paused: the server reads nothing more");
    /* Decoded on the server = receive queue (<= high) + one held + what one read budget
     * decoded: bounded, whatever the client has sent. */
    int64_t bound = t.params[link_params_find(t.v, "recv_high")] + 1 +
                    t.params[link_params_find(t.v, "read_budget_bytes")] / LEN + 1;
    cr_assert_leq(v1.msgs_in, bound, "server holds %ld messages", (long)v1.msgs_in);
    /* Bytes the server took from its kernel (the client reads nothing): bounded too;
     * the rest waits in TCP and in the client. */
    fprintf(stderr, "evloop: slow app: client queued %d msgs, %zu bytes backed up in the client, "
            "server decoded %ld msgs, read %ld bytes\n", sent, vsock_pending_out(c),
            (long)v1.msgs_in, (long)v1.bytes_in);
    cr_assert_leq(v1.bytes_in, bound * (LEN + 16) + t.params[link_params_find(t.v, "read_budget_bytes")]);
    cr_assert_lt(v1.bytes_in, (int64_t)sent * LEN / 4, "most of it is held back by TCP");

    int first = 0;
    vsock_msg *m;
    while (first < v1.msgs_in && t.v->recv(t.links[id].l, &m) == 0) {
        int seq;
        memcpy(&seq, m->data, sizeof seq);
        cr_assert_eq(seq, first, "order");
        vsock_msg_free(m);
        first++;
    }
    cr_assert_gt(first, 0);

    /* The app catches up: everything arrives, in order, nothing dropped. */
    int got = first;
    end = rt_deadline_in(30 * RT_S);
    while (got < sent && rt_now() < end) {
        if (vsock_pending_out(c)) vsock_flush(c);
        if (t.v->recv(t.links[id].l, &m) == 0) {
            int seq;
            memcpy(&seq, m->data, sizeof seq);
            cr_assert_eq(seq, got, "order after resume");
            vsock_msg_free(m);
            got++;
        } else {
            rt_sleep(50 * RT_US, NULL);
        }
    }
    cr_assert_eq(got, sent, "all %d delivered (got %d)", sent, got);
    cr_assert_eq(drops_total(&t), 0);
    cr_assert_gt(counter(&t, LINK_C_READ_PAUSES), 1);
    th_stop(&t);
}

Test(evloop, stalled_peer_closed_while_neighbour_echoes)
{
    th t;
    const char *k[] = {"loops", "write_timeout_ms", "close_timeout_ms"};
    const int64_t v[] = {1, 700, 300};
    th_start(&t, 4, true, 0, k, v, 3);
    t.small_buffers = 32 << 10;   /* so that the stalled data stays in the variant */
    uint32_t a = th_open(&t);
    t.small_buffers = 0;
    uint32_t b = th_open(&t);
    /* The app pushes to a, whose client never reads, until the kernel is full and the
     * variant pushes back. */
    enum { LEN = 16384 };
    int64_t accepted = 0, eagain = 0;
    rt_ns end = rt_deadline_in(20 * RT_S);
    while (eagain < 50 && rt_now() < end) {
        vsock_msg *m = vsock_msg_new(LEN);
        memset(m->data, 'a', LEN);
        m->len = LEN;
        m->opcode = VSOCK_BINARY;
        m->link_id = a;
        int rc = t.v->send(t.links[a].l, m);
        if (rc == 0) {
            accepted++;
        } else {
            vsock_msg_free(m);
            cr_assert_eq(rc, -EAGAIN);
            eagain++;
            rt_sleep(RT_MS, NULL);
        }
    }
    cr_assert_geq(counter(&t, LINK_C_SEND_BACKPRESSURE), 1);
    /* b keeps echoing on the same loop while a is stalled. */
    int64_t echoes = 0;
    end = rt_deadline_in(10 * RT_S);
    while (atomic_load(&t.links[a].closed_calls) == 0 && rt_now() < end) {
        echo_once(&t, b, 200);
        echoes++;
    }
    fprintf(stderr, "evloop: %ld echoes on the neighbour during the stall\n", (long)echoes);
    cr_assert_eq(atomic_load(&t.links[a].closed_calls), 1);
    cr_assert_eq(atomic_load(&t.links[a].cause), LINK_CLOSE_STALL);
    cr_assert_gt(echoes, 10);
    cr_assert_eq(atomic_load(&t.links[b].closed_calls), 0);
    vsock_msg *late = vsock_msg_new(1);
    late->len = 1;
    late->opcode = VSOCK_BINARY;
    cr_assert_eq(t.v->send(t.links[a].l, late), -EPIPE);
    vsock_msg_free(late);

    /* Accounting: what a's client can still read + what was reported unsent = accepted. */
    WAIT_FOR(false, 500 * RT_MS);   /* close timeout: the fd is closed */
    int64_t read = 0;
    for (;;) {
        vsock_msg *m = NULL;
        if (vsock_read(t.links[a].c, &m, rt_deadline_in(2 * RT_S)) < 0) break;
        vsock_msg_free(m);
        read++;
    }
    int64_t unsent = atomic_load(&t.links[a].unsent);
    fprintf(stderr, "evloop: stalled link: accepted %ld, read by the peer later %ld, unsent %ld\n",
            (long)accepted, (long)read, (long)unsent);
    cr_assert_gt(unsent, 0);
    cr_assert_eq(read + unsent, accepted);
    echo_once(&t, b, 100);
    th_stop(&t);
}

Test(evloop, rate_limit_delays_without_drops_or_spinning)
{
    th t;
    const char *k[] = {"rate_burst", "loops"};
    const int64_t v[] = {1, 1};
    th_start(&t, 4, true, 50, k, v, 2);
    uint32_t id = th_open(&t);
    enum { N = 40 };
    uint8_t buf[64] = {0};
    int64_t w0 = loop_wakeups();
    for (int i = 0; i < N; i++) {
        buf[0] = (uint8_t)i;
        cr_assert_eq(vsock_write(t.links[id].c, buf, sizeof buf, VSOCK_BINARY, rt_deadline_in(RT_S)), 0);
    }
    int got = 0, early = -1;
    rt_ns end = rt_deadline_in(10 * RT_S);
    while (got < N && rt_now() < end) {
        vsock_msg *m = NULL;
        if (vsock_read(t.links[id].c, &m, rt_deadline_in(RT_S)) < 0) continue;
        cr_assert_eq(m->data[0], got, "order");
        vsock_msg_free(m);
        if (++got == 1) early = (int)atomic_load(&t.links[id].rx);
    }
    int64_t w1 = loop_wakeups();
    int64_t waits = counter(&t, LINK_C_RATE_WAITS);
    fprintf(stderr, "evloop: rate 50/s, %d msgs: %ld rate waits, %ld loop wake-ups\n", N,
            (long)waits, (long)(w1 - w0));
    cr_assert_eq(got, N);
    cr_assert_lt(early, N, "delayed: not all were delivered when the first echo came back");
    cr_assert_eq(drops_total(&t), 0);
    cr_assert_geq(waits, N / 2);
    /* One timer per token, plus the messages' own reads and echoes: no spin. */
    cr_assert_leq(w1 - w0, 6 * N + 20, "wake-ups %ld for %d tokens", (long)(w1 - w0), N);
    th_stop(&t);
}

Test(evloop, overflow_close_and_app_close_account_for_unsent)
{
    th t;
    const char *k[] = {"send_backpressure", "send_hard_bytes", "send_high_bytes", "send_low_bytes"};
    const int64_t v[] = {0, 256 << 10, 128 << 10, 64 << 10};
    th_start(&t, 4, false, 0, k, v, 4);
    uint32_t a = th_open(&t);
    int64_t accepted = 0;
    int rc = 0;
    rt_ns end = rt_deadline_in(20 * RT_S);
    while (rt_now() < end) {
        vsock_msg *m = vsock_msg_new(8192);
        memset(m->data, 'x', 8192);
        m->len = 8192;
        m->opcode = VSOCK_BINARY;
        rc = t.v->send(t.links[a].l, m);
        if (rc != 0) {
            vsock_msg_free(m);
            break;
        }
        accepted++;
        if (accepted % 64 == 0) rt_sleep(RT_MS, NULL);
    }
    cr_assert_eq(rc, -EPIPE, "hard limit with the close policy");
    WAIT_FOR(atomic_load(&t.links[a].closed_calls) > 0, 5 * RT_S);
    cr_assert_eq(atomic_load(&t.links[a].cause), LINK_CLOSE_OVERFLOW);
    int64_t read = 0;
    for (;;) {
        vsock_msg *m = NULL;
        if (vsock_read(t.links[a].c, &m, rt_deadline_in(3 * RT_S)) < 0) break;
        vsock_msg_free(m);
        read++;
    }
    cr_assert_eq(vsock_close_code(t.links[a].c), 1008);
    WAIT_FOR(read + atomic_load(&t.links[a].unsent) == accepted, 3 * RT_S);
    cr_assert_eq(read + atomic_load(&t.links[a].unsent), accepted, "read %ld unsent %ld accepted %ld",
                 (long)read, (long)atomic_load(&t.links[a].unsent), (long)accepted);

    /* App close: on_closed once with cause app, recv says -EPIPE, the peer sees 1000. */
    uint32_t b = th_open(&t);
    uint8_t buf[32] = {0};
    cr_assert_eq(vsock_write(t.links[b].c, buf, sizeof buf, VSOCK_BINARY, rt_deadline_in(RT_S)), 0);
    WAIT_FOR(atomic_load(&t.links[b].rx) == 1, 5 * RT_S);
    cr_assert_eq(t.v->close(t.links[b].l), 0);
    cr_assert_eq(t.v->close(t.links[b].l), 0, "idempotent");
    WAIT_FOR(atomic_load(&t.links[b].closed_calls) > 0, 5 * RT_S);
    cr_assert_eq(atomic_load(&t.links[b].cause), LINK_CLOSE_APP);
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(t.links[b].c, &m, rt_deadline_in(5 * RT_S)), -EPIPE);
    cr_assert_eq(vsock_close_code(t.links[b].c), VSOCK_CLOSE_NORMAL);
    WAIT_FOR(t.v->recv(t.links[b].l, &m) == -EPIPE, 5 * RT_S);
    cr_assert_eq(t.v->recv(t.links[b].l, &m), -EPIPE);
    cr_assert(t.v->try_close_if_idle(t.links[b].l, 0), "closed links say true");
    t.v->release(t.links[b].l);
    t.v->release(t.links[a].l);
    rt_sleep(50 * RT_MS, NULL);
    cr_assert_eq(atomic_load(&t.links[a].closed_calls), 1);
    cr_assert_eq(atomic_load(&t.links[b].closed_calls), 1);
    th_stop(&t);
}

Test(evloop, idle_timeout_list_closes_only_idle_links)
{
    th t;
    const char *k[] = {"idle_timeout_ms", "trim_after_ms", "loops"};
    const int64_t v[] = {400, 100, 1};
    th_start(&t, 4, true, 0, k, v, 3);
    uint32_t idle = th_open(&t), busy = th_open(&t), app_busy = th_open(&t);
    echo_once(&t, idle, 10);
    /* busy talks, app_busy only has the app's activity stamp refreshed. */
    rt_ns end = rt_deadline_in(1500 * RT_MS);
    while (rt_now() < end) {
        echo_once(&t, busy, 10);
        t.v->update_active(t.links[app_busy].l);
        rt_sleep(20 * RT_MS, NULL);
    }
    cr_assert_eq(atomic_load(&t.links[idle].closed_calls), 1);
    cr_assert_eq(atomic_load(&t.links[idle].cause), LINK_CLOSE_IDLE);
    cr_assert_eq(atomic_load(&t.links[busy].closed_calls), 0);
    cr_assert_eq(atomic_load(&t.links[app_busy].closed_calls), 0);
    /* The app's reaper: TryCloseIfIdle is false for a fresh link, true when idle. */
    cr_assert_not(t.v->try_close_if_idle(t.links[busy].l, 10 * RT_S));
    cr_assert(t.v->try_close_if_idle(t.links[busy].l, 0));
    WAIT_FOR(atomic_load(&t.links[busy].closed_calls) == 1, 5 * RT_S);
    cr_assert_eq(atomic_load(&t.links[busy].cause), LINK_CLOSE_IDLE);
    cr_assert(t.v->try_close_if_idle(t.links[busy].l, 10 * RT_S), "closed: true");
    th_stop_variant(&t);   /* th_stop frees t.links: read them before */
    cr_assert_eq(atomic_load(&t.links[app_busy].cause), LINK_CLOSE_SHUTDOWN);
    cr_assert_eq(atomic_load(&t.links[app_busy].closed_calls), 1);
    th_stop(&t);
}

Test(evloop, overflow_drop_policy_counts_and_keeps_the_link)
{
    th t;
    const char *k[] = {"send_backpressure", "send_overflow_close", "send_hard_bytes",
                       "send_high_bytes", "send_low_bytes"};
    const int64_t v[] = {0, 0, 128 << 10, 64 << 10, 32 << 10};
    th_start(&t, 4, true, 0, k, v, 5);
    t.small_buffers = 32 << 10;
    uint32_t a = th_open(&t);
    int64_t accepted = 0;
    for (int i = 0; i < 2000; i++) {
        vsock_msg *m = vsock_msg_new(4096);
        memset(m->data, 'y', 4096);
        m->len = 4096;
        m->opcode = VSOCK_BINARY;
        cr_assert_eq(t.v->send(t.links[a].l, m), 0, "the drop policy never refuses");
        accepted++;
    }
    link_host_snapshot s;
    link_host_snapshot_get(&t.impl, &s);
    cr_assert_gt(s.drops[LINK_DROP_SEND_OVERFLOW], 0);
    cr_assert_eq(atomic_load(&t.links[a].closed_calls), 0);
    /* The peer reads again: the link recovers and everything not dropped arrives. */
    int64_t read = 0;
    for (;;) {
        vsock_msg *m = NULL;
        if (vsock_read(t.links[a].c, &m, rt_deadline_in(500 * RT_MS)) < 0) break;
        vsock_msg_free(m);
        read++;
    }
    link_host_snapshot_get(&t.impl, &s);
    fprintf(stderr, "evloop: drop policy: accepted %ld, delivered %ld, dropped %ld\n",
            (long)accepted, (long)read, (long)s.drops[LINK_DROP_SEND_OVERFLOW]);
    cr_assert_eq(read + s.drops[LINK_DROP_SEND_OVERFLOW], accepted);
    echo_once(&t, a, 50);
    th_stop(&t);
}

/* A ping on an otherwise quiet link is answered at once: the pong wslay queues while
 * decoding must be flushed by the read, not wait for the link's next data write. */
Test(evloop, ping_on_a_quiet_link_is_answered)
{
    th t;
    th_start(&t, 2, true, 0, NULL, NULL, 0);
    uint32_t id = th_open(&t);
    echo_once(&t, id, 10);   /* the link is up and idle */
    int fd = vsock_fd(t.links[id].c);
    /* A masked ping with payload "hi" (RFC 6455 §5.5.2), written raw under the vsock. */
    const uint8_t key[4] = {1, 2, 3, 4};
    uint8_t ping[8] = {0x89, 0x80 | 2, key[0], key[1], key[2], key[3],
                       (uint8_t)('h' ^ key[0]), (uint8_t)('i' ^ key[1])};
    cr_assert_eq(send(fd, ping, sizeof ping, MSG_NOSIGNAL), (ssize_t)sizeof ping);
    /* The pong: unmasked, opcode 0xA, the same payload. */
    uint8_t got[4] = {0};
    size_t have = 0;
    for (int tries = 0; tries < 500 && have < sizeof got; tries++) {
        int w = rt_wait_fd(fd, POLLIN, rt_deadline_in(10 * RT_MS), NULL);
        if (w <= 0)
            continue;
        ssize_t n = recv(fd, got + have, sizeof got - have, MSG_DONTWAIT);
        if (n > 0)
            have += (size_t)n;
    }
    cr_assert_eq(have, sizeof got, "no pong within 500 waits");
    cr_assert_eq(got[0], 0x8A);
    cr_assert_eq(got[1], 2);
    cr_assert_eq(got[2], 'h');
    cr_assert_eq(got[3], 'i');
    th_stop(&t);
}
