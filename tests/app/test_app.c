/* test_app.c — the app model against a scripted in-test variant: ordering, held sends, close accounting, seq checks. */
#include <criterion/criterion.h>

#include "link_fixture.h"

/* A variant with no threads: the test pushes "received" messages into a link's inbox and
 * reads what the app sent from its outbox; send answers -EAGAIN while `blocked`. */
struct link {
    uint32_t id;
    struct link_host *host;
    rt_queue *inbox, *outbox;
    atomic_bool blocked, closed;
    _Atomic int active_calls, released, idle_calls;
};
struct link_server {
    struct link_host *host;
    struct link *links[8];
};

static int f_start(const struct link_start_args *a, struct link_server **out)
{
    *out = calloc(1, sizeof **out);
    (*out)->host = a->host;
    return 0;
}
static int f_attach(struct link_server *s, vsock *v, uint32_t id, struct link **out)
{
    vsock_destroy(v);
    struct link *l = calloc(1, sizeof *l);
    l->id = id;
    l->host = s->host;
    l->inbox = rt_queue_create(64);
    l->outbox = rt_queue_create(64);
    s->links[id] = l;
    *out = l;
    return 0;
}
static int f_send(struct link *l, vsock_msg *m)
{
    if (atomic_load(&l->closed)) return -EPIPE;
    if (atomic_load(&l->blocked)) return -EAGAIN;
    return rt_queue_try_push(l->outbox, m);
}
static int f_recv(struct link *l, vsock_msg **out)
{
    void *m;
    int rc = rt_queue_try_pop(l->inbox, &m);
    if (rc == 0) *out = m;
    if (rc == -EAGAIN && atomic_load(&l->closed)) rc = -EPIPE;
    return rc;
}
static void f_active(struct link *l) { atomic_fetch_add(&l->active_calls, 1); }
static bool f_idle(struct link *l, rt_ns idle)
{
    (void)idle;
    atomic_fetch_add(&l->idle_calls, 1);
    return false;
}
static void close_with(struct link *l, enum link_close_cause c)
{
    if (!atomic_exchange(&l->closed, true)) l->host->on_closed(l->host, l, l->id, c);
}
static int f_close(struct link *l)
{
    close_with(l, LINK_CLOSE_APP);
    return 0;
}
static void f_release(struct link *l) { atomic_store(&l->released, 1); }
static void f_held(struct link *l, int64_t *in, int64_t *out)
{
    *in = (int64_t)rt_queue_len(l->inbox);
    *out = (int64_t)rt_queue_len(l->outbox);
}
static void f_stop(struct link_server *s)
{
    for (int i = 0; i < 8; i++) {
        struct link *l = s->links[i];
        if (!l) continue;
        void *m;
        while (rt_queue_try_pop(l->inbox, &m) == 0) vsock_msg_free(m);
        while (rt_queue_try_pop(l->outbox, &m) == 0) vsock_msg_free(m);
        rt_queue_destroy(l->inbox);
        rt_queue_destroy(l->outbox);
        free(l);
    }
    free(s);
}

static const struct link_variant fake = {
    .abi_version = LINK_ABI_VERSION, .name = "fake", .summary = "scripted", .threads_per_link = 0,
    .loss_policy = LINK_LOSS_LOSSLESS, .start = f_start, .attach = f_attach, .send = f_send,
    .recv = f_recv, .update_active = f_active, .try_close_if_idle = f_idle, .close = f_close,
    .release = f_release, .stop = f_stop, .held = f_held};

static link_host_impl host;
static struct link_server *srv;
static app *A;

static void setup(app_params *p)
{
    link_host_init(&host);
    app_params dp;
    app_params_default(&dp);
    A = app_create(p ? p : &dp, &fake, &host);
    cr_assert(A);
    struct link_common c;
    fx_common_default(&c);
    struct link_start_args sa = {.host = &host.base, .params = NULL, .common = &c};
    cr_assert_eq(fake.start(&sa, &srv), 0);
    cr_assert_eq(app_start(A, srv), 0);
}

static void teardown(void)
{
    app_stop(A);
    fake.stop(srv);
    app_destroy(A);
}

static struct link *new_link(uint32_t *id)
{
    vsock *s, *c;
    vsock_opts o;
    vsock_opts_default(&o);
    cr_assert_eq(vsock_mem_pair(&s, &c, &o), 0);
    vsock_destroy(c);
    cr_assert_eq(app_attach(A, s, id), 0);
    return srv->links[*id];
}

/* A message "received" on link `from`, labelled as link `owner`'s (pair does that). */
static void deliver(struct link *from, uint32_t owner, uint64_t seq)
{
    vsock_msg *m = vsock_msg_new(64);
    struct wire_hdr h = {.magic = WIRE_MAGIC, .kind = WIRE_ECHO, .link_id = owner, .len = 64,
                         .seq = seq, .t_sched = rt_now(), .t_sent = rt_now()};
    memset(m->data, 0, 64);
    wire_put(m->data, &h);
    m->len = 64;
    m->opcode = VSOCK_BINARY;
    m->link_id = owner;
    bool was_empty = rt_queue_len(from->inbox) == 0;
    cr_assert_eq(rt_queue_try_push(from->inbox, m), 0);
    if (was_empty) from->host->on_readable(from->host, from, from->id);
}

/* The whole header of the next message sent on l. */
static struct wire_hdr take_hdr(struct link *l)
{
    void *m;
    int rc = -EAGAIN;
    FX_WAIT((rc = rt_queue_try_pop(l->outbox, &m)) == 0, 10 * RT_S);
    cr_assert_eq(rc, 0, "nothing sent on link %u", l->id);
    struct wire_hdr h;
    cr_assert_eq(wire_get(((vsock_msg *)m)->data, ((vsock_msg *)m)->len, &h), 0);
    cr_expect_eq(((vsock_msg *)m)->link_id, l->id);
    vsock_msg_free(m);
    return h;
}

static uint64_t take_seq(struct link *l)
{
    struct wire_hdr h = take_hdr(l);
    cr_expect_gt(h.t_app, 0);
    return h.seq;
}

Test(app, echoes_in_order_and_updates_activity)
{
    setup(NULL);
    uint32_t id;
    struct link *l = new_link(&id);
    for (uint64_t i = 0; i < 40; i++) deliver(l, id, i);
    for (uint64_t i = 0; i < 40; i++) cr_expect_eq(take_seq(l), i);
    app_stats st;
    app_stats_get(A, &st);
    cr_expect_eq(st.recv_msgs, 40);
    cr_expect_eq(st.sent, 40);
    cr_expect_eq(st.seq_gaps + st.seq_backwards, 0);
    cr_expect_eq(atomic_load(&l->active_calls), 80, "once per message taken, once per message given");
    teardown();
}

/* As a goroutine blocked in Send takes nothing more from Receive: the refused message is
 * held, the link's other messages stay in the variant's receive queue (its backpressure
 * reaches the design), and taking resumes, in order, once on_writable drains the hold. */
Test(app, held_on_eagain_stops_taking_from_the_link_until_writable)
{
    setup(NULL);
    uint32_t id;
    struct link *l = new_link(&id);
    atomic_store(&l->blocked, true);
    for (uint64_t i = 0; i < 10; i++) deliver(l, id, i);
    app_stats st;
    FX_WAIT((app_stats_get(A, &st), st.held_now == 1), 10 * RT_S);
    /* more readiness changes nothing while the echo is held */
    l->host->on_readable(l->host, l, id);
    deliver(l, id, 10);
    app_link_stats ls;
    FX_WAIT((app_link_stats_get(A, id, &ls), ls.recv_msgs == 1 && rt_queue_len(l->inbox) == 10),
            10 * RT_S);
    app_stats_get(A, &st);
    cr_assert_eq(st.held_now, 1, "one refused echo held, nothing dropped");
    cr_expect_eq(st.recv_msgs, 1, "nothing more taken from the blocked link");
    cr_expect_eq(rt_queue_len(l->inbox), 10, "the rest waits in the variant's queue");
    cr_expect_eq(st.send_eagain, 1);
    cr_expect_eq(rt_queue_len(l->outbox), 0);
    atomic_store(&l->blocked, false);
    l->host->on_writable(l->host, l, id);
    for (uint64_t i = 0; i < 11; i++) cr_expect_eq(take_seq(l), i);
    app_stats_get(A, &st);
    cr_expect_eq(st.held_now, 0);
    cr_expect_eq(st.held_peak, 1);
    cr_expect_eq(st.sent, 11);
    cr_expect_eq(st.recv_msgs, 11);
    teardown();
}

/* Blocked again after resuming: each refusal holds one echo and stops taking. */
Test(app, each_refusal_holds_one_echo)
{
    setup(NULL);
    uint32_t id;
    struct link *l = new_link(&id);
    for (uint64_t i = 0; i < 3; i++) deliver(l, id, i);
    for (uint64_t i = 0; i < 3; i++) cr_expect_eq(take_seq(l), i);
    atomic_store(&l->blocked, true);
    for (uint64_t i = 3; i < 8; i++) deliver(l, id, i);
    app_stats st;
    FX_WAIT((app_stats_get(A, &st), st.held_now == 1 && rt_queue_len(l->inbox) == 4), 10 * RT_S);
    cr_expect_eq(rt_queue_len(l->inbox), 4);
    /* on_writable while send still refuses: the held echo stays, nothing more is taken */
    l->host->on_writable(l->host, l, id);
    FX_WAIT((app_stats_get(A, &st), st.send_eagain == 2), 10 * RT_S);
    cr_expect_eq(st.send_eagain, 2);
    cr_expect_eq(st.held_now, 1);
    cr_expect_eq(rt_queue_len(l->inbox), 4);
    atomic_store(&l->blocked, false);
    l->host->on_writable(l->host, l, id);
    for (uint64_t i = 3; i < 8; i++) cr_expect_eq(take_seq(l), i);
    app_stats_get(A, &st);
    cr_expect_eq(st.held_peak, 1);
    cr_expect_eq(st.sent, 8);
    teardown();
}

Test(app, close_counts_held_as_unsent_then_releases_once_drained)
{
    setup(NULL);
    uint32_t id;
    struct link *l = new_link(&id);
    atomic_store(&l->blocked, true);
    for (uint64_t i = 0; i < 5; i++) deliver(l, id, i);
    app_stats st;
    FX_WAIT((app_stats_get(A, &st), st.held_now == 1 && rt_queue_len(l->inbox) == 4), 10 * RT_S);
    cr_assert_eq(st.held_now, 1);
    /* closed: the held echo and those of the messages still queued are unsent */
    cr_assert_eq(app_close_link(A, id), 0);
    FX_WAIT(atomic_load(&l->released), 10 * RT_S);
    cr_assert(atomic_load(&l->released));
    app_stats_get(A, &st);
    cr_expect_eq(st.unsent_at_close, 5);
    cr_expect_eq(st.held_now, 0);
    cr_expect_eq(st.links_closed, 1);
    link_host_snapshot hs;
    link_host_snapshot_get(&host, &hs);
    cr_expect_eq(hs.closes[LINK_CLOSE_APP], 1);
    /* a second on_closed is a contract breach, counted, never a second release */
    l->host->on_closed(l->host, l, id, LINK_CLOSE_PEER);
    app_stats_get(A, &st);
    cr_expect_eq(st.closed_twice, 1);
    app_link_stats ls;
    app_link_stats_get(A, id, &ls);
    cr_expect(ls.released && ls.closed && ls.cause == LINK_CLOSE_APP && ls.closed_calls == 2);
    cr_expect_eq(app_close_link(A, id), -ENOENT);
    teardown();
}

Test(app, message_of_another_link_is_accounted_and_echoed_there)
{
    setup(NULL);
    uint32_t a, b;
    struct link *la = new_link(&a), *lb = new_link(&b);
    deliver(la, b, 0);   /* came out of a's recv, belongs to b (pair's shared queue) */
    cr_expect_eq(take_seq(lb), 0);
    app_link_stats sa, sb;
    app_link_stats_get(A, a, &sa);
    app_link_stats_get(A, b, &sb);
    cr_expect_eq(sa.recv_msgs, 0);
    cr_expect_eq(sb.recv_msgs, 1);
    cr_expect_eq(rt_queue_len(la->outbox), 0);
    teardown();
}

/* pair: one link's recv returns its partner's messages too. A message for a blocked
 * partner is held on the partner, and the consumer that took it stops, as one goroutine
 * consuming LinkV5's unified channel would; the partner's drain resumes it. */
Test(app, message_held_for_another_link_stops_its_consumer_until_that_link_drains)
{
    app_params p;
    app_params_default(&p);
    p.workers = 1;
    setup(&p);
    uint32_t a, b;
    struct link *la = new_link(&a), *lb = new_link(&b);
    atomic_store(&lb->blocked, true);
    deliver(la, b, 0);
    deliver(la, b, 1);
    deliver(la, a, 0);
    app_stats st;
    FX_WAIT((app_stats_get(A, &st), st.held_now == 1 && rt_queue_len(la->inbox) == 2), 10 * RT_S);
    cr_expect_eq(st.held_now, 1);
    cr_expect_eq(st.recv_msgs, 1, "a's consumer stopped at b's held message");
    cr_expect_eq(rt_queue_len(la->inbox), 2);
    app_link_stats sb;
    app_link_stats_get(A, b, &sb);
    cr_expect_eq(sb.held, 1);
    atomic_store(&lb->blocked, false);
    lb->host->on_writable(lb->host, lb, b);
    cr_expect_eq(take_seq(lb), 0);
    cr_expect_eq(take_seq(lb), 1);
    cr_expect_eq(take_seq(la), 0);
    app_stats_get(A, &st);
    cr_expect_eq(st.held_now, 0);
    cr_expect_eq(st.held_peak, 1);
    cr_expect_eq(st.recv_msgs, 3);
    teardown();
}

Test(app, seq_gaps_and_backwards_detected)
{
    app_params p;
    app_params_default(&p);
    p.mode = APP_SINK;
    p.workers = 1;
    setup(&p);
    uint32_t id;
    struct link *l = new_link(&id);
    uint64_t seqs[] = {0, 1, 3, 2, 4};
    for (size_t i = 0; i < 5; i++) deliver(l, id, seqs[i]);
    app_stats st;
    FX_WAIT((app_stats_get(A, &st), st.recv_msgs == 5), 10 * RT_S);
    cr_expect_eq(st.sink_freed, 5);
    cr_expect_eq(st.seq_gaps, 1);
    cr_expect_eq(st.seq_backwards, 1);
    /* 2 came late and filled the hole 3 had opened: reordered, not missing */
    cr_expect_eq(st.seq_late, 1);
    cr_expect_eq(st.seq_missing, 0);
    cr_expect_eq(st.seq_dup, 0);
    cr_expect_eq(st.sent, 0);
    app_link_stats ls;
    app_link_stats_get(A, id, &ls);
    cr_expect_eq(ls.next_seq, 5);
    teardown();
}

/* A real hole stays missing; a message taken twice is a duplicate, not a late fill. */
Test(app, seq_holes_stay_missing_and_duplicates_are_counted)
{
    app_params p;
    app_params_default(&p);
    p.mode = APP_SINK;
    p.workers = 1;
    setup(&p);
    uint32_t id;
    struct link *l = new_link(&id);
    uint64_t seqs[] = {0, 1, 4, 1, 5};   /* 2 and 3 never come; 1 comes twice */
    for (size_t i = 0; i < 5; i++) deliver(l, id, seqs[i]);
    app_stats st;
    FX_WAIT((app_stats_get(A, &st), st.recv_msgs == 5), 10 * RT_S);
    cr_expect_eq(st.seq_missing, 2);
    cr_expect_eq(st.seq_dup, 1);
    cr_expect_eq(st.seq_late, 0);
    teardown();
}

Test(app, reaper_asks_every_open_link)
{
    app_params p;
    app_params_default(&p);
    p.idle_timeout_ns = RT_S;
    p.reap_period_ns = 5 * RT_MS;
    setup(&p);
    uint32_t a, b;
    struct link *la = new_link(&a), *lb = new_link(&b);
    FX_WAIT(atomic_load(&la->idle_calls) >= 3 && atomic_load(&lb->idle_calls) >= 3, 10 * RT_S);
    cr_expect_geq(atomic_load(&la->idle_calls), 3);
    cr_expect_geq(atomic_load(&lb->idle_calls), 3);
    teardown();
}

Test(app, pushes_numbered_messages_to_every_link)
{
    app_params p;
    app_params_default(&p);
    p.push_per_s = 200;
    p.push_bytes = 100;
    setup(&p);
    uint32_t a, b;
    struct link *la = new_link(&a), *lb = new_link(&b);
    for (uint64_t i = 0; i < 3; i++) {
        cr_expect_eq(take_seq(la), i);
        cr_expect_eq(take_seq(lb), i);
    }
    teardown();
}

/* Constant pushes: each link on its own phase, one period apart, the scheduled tick in
 * the header (latency runs from it), every tick sent (seq never skips). */
Test(app, constant_pushes_carry_their_tick_one_period_apart)
{
    app_params p;
    app_params_default(&p);
    p.push_per_s = 50;
    setup(&p);
    uint32_t a, b;
    struct link *la = new_link(&a), *lb = new_link(&b);
    struct wire_hdr ha[4], hb[4];
    for (int i = 0; i < 4; i++) {
        ha[i] = take_hdr(la);
        hb[i] = take_hdr(lb);
    }
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(ha[i].seq, (uint64_t)i);
        cr_expect_eq(hb[i].seq, (uint64_t)i);
        cr_expect_geq(ha[i].t_app, ha[i].t_sched, "made before its tick");
        if (i) {
            cr_expect_eq(ha[i].t_sched - ha[i - 1].t_sched, 20 * RT_MS);
            cr_expect_eq(hb[i].t_sched - hb[i - 1].t_sched, 20 * RT_MS);
        }
    }
    cr_expect_neq((ha[0].t_sched - hb[0].t_sched) % (20 * RT_MS), 0, "two links share a phase");
    teardown();
}

/* The schedule itself, pure: phases spread over the period and repeat with the seed;
 * Poisson intervals average the period. */
Test(app, push_schedule_is_spread_seeded_and_reproducible)
{
    app_params p;
    app_params_default(&p);
    p.push_per_s = 1;
    const rt_ns t0 = 1000 * RT_S;
    int buckets[10] = {0};
    for (uint32_t id = 0; id < 1000; id++) {
        app_push_sched s, again;
        app_push_first(&p, id, t0, t0, &s);
        app_push_first(&p, id, t0, t0, &again);
        cr_assert_eq(s.next, again.next, "link %u: same seed, same phase", id);
        cr_assert(s.next >= t0 && s.next < t0 + RT_S, "link %u: first tick %lld", id, (long long)(s.next - t0));
        buckets[(s.next - t0) / (100 * RT_MS)]++;
        /* a link seen late starts on its own lattice, not before now */
        app_push_first(&p, id, t0, t0 + 2500 * RT_MS, &again);
        cr_assert(again.next >= t0 + 2500 * RT_MS && again.next < t0 + 3500 * RT_MS);
        cr_assert_eq((again.next - s.next) % RT_S, 0);
    }
    for (int i = 0; i < 10; i++)
        cr_expect(buckets[i] > 50 && buckets[i] < 150, "tenth %d of the period holds %d of 1000 phases", i, buckets[i]);
    app_push_sched x, y;
    p.push_seed = 2;
    app_push_first(&p, 7, t0, t0, &x);
    p.push_seed = 1;
    app_push_first(&p, 7, t0, t0, &y);
    cr_expect_neq(x.next, y.next, "another seed, another phase");

    p.push_pattern = APP_PUSH_POISSON;
    p.push_per_s = 10;
    app_push_first(&p, 3, t0, t0, &x);
    rt_ns first = x.next;
    for (int i = 0; i < 20000; i++) app_push_advance(&p, &x);
    double mean_ms = (double)(x.next - first) / 20000 / 1e6;
    cr_expect(mean_ms > 95 && mean_ms < 105, "mean interval %.2f ms, want 100", mean_ms);
}

Test(app, params_checked_with_key_and_value)
{
    app_params p;
    app_params_default(&p);
    char err[128];
    cr_expect_eq(app_params_check(&p, err, sizeof err), 0);
    p.workers = 0;
    cr_expect_eq(app_params_check(&p, err, sizeof err), -EINVAL);
    cr_expect_str_eq(err, "workers: must be in [1, 256] (got 0)");
    app_params_default(&p);
    p.push_per_s = 10;
    p.push_bytes = 10;
    cr_expect_eq(app_params_check(&p, err, sizeof err), -EINVAL);
    cr_expect(strstr(err, "push_bytes"), "%s", err);
}

/* The census at the end of a run: once quiesced the app takes and sends nothing more,
 * and each link's census says where its messages are: taken, echoed, accepted by send,
 * held by the app, and what the variant's held op answers; the drops by direction. */
Test(app, quiesced_census_says_where_each_message_is)
{
    setup(NULL);
    uint32_t id;
    struct link *l = new_link(&id);
    for (uint64_t i = 0; i < 3; i++) deliver(l, id, i);
    for (uint64_t i = 0; i < 3; i++) cr_expect_eq(take_seq(l), i);
    atomic_store(&l->blocked, true);
    for (uint64_t i = 3; i < 8; i++) deliver(l, id, i);
    app_stats st;
    FX_WAIT((app_stats_get(A, &st), st.held_now == 1 && rt_queue_len(l->inbox) == 4), 10 * RT_S);
    /* a drop on the way in (no t_app) and one on the way out (stamped by the app) */
    vsock_msg *m = vsock_msg_new(64);
    struct wire_hdr h = {.magic = WIRE_MAGIC, .kind = WIRE_ECHO, .link_id = id, .len = 64, .seq = 99};
    wire_put(m->data, &h);
    m->len = 64;
    m->link_id = id;
    link_host_drop(&host.base, m, LINK_DROP_RECV_QUEUE_FULL);
    m = vsock_msg_new(64);
    h.t_app = rt_now();
    wire_put(m->data, &h);
    m->len = 64;
    m->link_id = id;
    link_host_drop(&host.base, m, LINK_DROP_SEND_FAILED);

    cr_assert_eq(app_quiesce(A, rt_now() + 5 * RT_S), 0);
    /* quiesced: the link becoming writable moves nothing */
    atomic_store(&l->blocked, false);
    l->host->on_writable(l->host, l, id);
    deliver(l, id, 8);
    rt_sleep(50 * RT_MS, NULL);
    app_link_census c[2];
    cr_assert_eq(app_census(A, c, 2), 1);
    cr_expect(c[0].attached && !c[0].closed && !c[0].released);
    cr_expect_eq(c[0].taken, 4);
    cr_expect_eq(c[0].echoed, 4);
    cr_expect_eq(c[0].accepted, 3);
    cr_expect_eq(c[0].held, 1);
    cr_expect_eq(c[0].refused, 0);
    cr_expect_eq(c[0].dropped_in, 1);
    cr_expect_eq(c[0].dropped_out, 1);
    cr_expect(c[0].variant_asked);
    cr_expect_eq(c[0].variant_in, 5, "4 left and 1 more delivered after the pause");
    cr_expect_eq(c[0].variant_out, 0);
    cr_expect_eq(c[0].next_seq, 4);
    app_stats_get(A, &st);
    cr_expect_eq(st.recv_msgs, 4, "nothing taken after app_quiesce");
    teardown();
}
