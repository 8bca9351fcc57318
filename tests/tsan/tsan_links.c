/* tsan_links.c — every variant under load with the real app model over loopback tcp, for TSan: echo, closes, slow app, rate limit, idle reaper, stop under load. */
#include <fcntl.h>
#include <unistd.h>

#include "link_fixture.h"
#include "srv_census.h"
#include "tsan.h"

/* As the conformance suite: hybrid's 30 s read deadline would make an echo wait for
 * the next input; lowered for tests only. */
static const struct fx_override overrides[] = {
    {"hybrid", "read_timeout_ms", 20},
    /* every message accounted, as in the conformance suite: partial frames kept (the
     * seed's Go deadline behaviour runs in the vsock section and test_seed_variants) */
#define KEEP_PARTIAL(v) {v, "read_keeps_partial", 1}, {v, "write_resumes_partial", 1}
    KEEP_PARTIAL("dual"), KEEP_PARTIAL("batch"), KEEP_PARTIAL("poll"),
    KEEP_PARTIAL("hybrid"), KEEP_PARTIAL("pair"),
#undef KEEP_PARTIAL
};

/* The second pass over a variant that declares app.inline runs every case with it. */
static bool ts_inline;

static int start(fx *f, const char *variant, enum fx_backend b, const app_params *ap,
                 const struct link_common *c)
{
    app_params p;
    if (ap) p = *ap;
    else app_params_default(&p);
    p.inline_handlers = ts_inline;
    int rc = fx_start_with(f, variant, b, &p, c, overrides, sizeof overrides / sizeof overrides[0]);
    TS_CHECK(rc == 0, "%s: start: %s", variant, f->err);
    /* the seed designs' log lines into a real (unnamed) file: the logger's lock, buffer
     * and writes run under TSan from every link thread */
    int fd = open("/tmp", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (rc == 0 && fd >= 0)
        TS_CHECK(link_host_set_log_fd(&f->host, fd) == 0, "%s: log fd", variant);
    else if (fd >= 0)
        close(fd);
    return rc;
}

/* Stop, then every thread the variant, the app and the acceptor made is gone (the
 * test's own client threads run in group driver, which is not checked). */
static void stop(fx *f, const char *what)
{
    int64_t base[RT_GROUP_COUNT];
    memcpy(base, f->base_live, sizeof base);
    fx_stop(f);
    link_host_deinit(&f->host);
    for (int g = 0; g < RT_GROUP_COUNT; g++) {
        if (g == RT_GROUP_DRIVER) continue;
        FX_WAIT(fx_live((rt_group)g) == base[g], 30 * RT_S);
        TS_CHECK(fx_live((rt_group)g) == base[g], "%s: group %s: %lld live, %lld before", what,
                 rt_group_name((rt_group)g), (long long)fx_live((rt_group)g), (long long)base[g]);
    }
}

/* ------------------------------------------------------------ client threads */

/* One link's client: windows of `window` echo messages; its own send buffer (fx_send's
 * is for one test thread only). */
struct client {
    vsock *c;
    uint32_t id;
    int msgs;               /* messages to send; 0: until *stop */
    int window;
    bool strict;            /* every echo must come back, in order */
    bool close_after;       /* the client closes its side when done (close from peer) */
    atomic_bool *stop;
    atomic_int sent;        /* read by the test thread for progress */
    int echoed, rc;
    int reordered;          /* echoes that came back before an earlier one */
    uint32_t seen;          /* seqs of the current window seen (window <= 32) */
    uint8_t buf[512];
    rt_thread *t;
    const char *what;
};

static int client_send(struct client *cl, uint64_t seq, uint32_t len)
{
    memset(cl->buf + WIRE_HDR_BYTES, (int)(seq & 0xff), len - WIRE_HDR_BYTES);
    rt_ns now = rt_now();
    struct wire_hdr h = {.magic = WIRE_MAGIC, .kind = WIRE_ECHO, .link_id = cl->id, .len = len,
                         .seq = seq, .t_sched = now, .t_sent = now};
    wire_put(cl->buf, &h);
    return vsock_write(cl->c, cl->buf, len, VSOCK_BINARY, rt_deadline_in(30 * RT_S));
}

static void client_main(void *arg)
{
    struct client *cl = arg;
    uint64_t seq = 0;
    while (cl->msgs ? cl->sent < cl->msgs : !atomic_load(cl->stop)) {
        int n = cl->window;
        for (int i = 0; i < n; i++) {
            uint32_t len = WIRE_HDR_BYTES + (uint32_t)(seq * 7) % 400;
            if ((cl->rc = client_send(cl, seq, len)) != 0) return;
            seq++;
            cl->sent++;
        }
        cl->seen = 0;
        for (int i = 0; i < n; i++) {
            struct wire_hdr h;
            /* strict: a missing echo is a failure; load clients tolerate drops */
            cl->rc = fx_recv(cl->c, &h, cl->strict ? 30 * RT_S : 2 * RT_S);
            if (cl->rc == -ETIMEDOUT && !cl->strict) break;
            if (cl->rc) return;
            if (cl->strict) {
                /* every echo exactly once, in this window; order is the conformance
                 * suite's (one link): here two links of pair share one receive queue
                 * that two app workers drain at once, which can swap neighbours */
                uint64_t base = (uint64_t)(cl->echoed / n) * (uint64_t)n;
                TS_CHECK(h.seq >= base && h.seq < base + (uint64_t)n && !(cl->seen & (1u << (h.seq - base))),
                         "%s: link %u: echo %d came back as seq %llu", cl->what, cl->id, cl->echoed,
                         (unsigned long long)h.seq);
                if (h.seq >= base && h.seq < base + (uint64_t)n) cl->seen |= 1u << (h.seq - base);
                if (h.seq != (uint64_t)cl->echoed) cl->reordered++;
            }
            cl->echoed++;
        }
        /* load clients pace themselves (1 ms per window): concurrent traffic, not a flood
         * that starves the links under test of the two cores */
        if (!cl->msgs) rt_sleep(RT_MS, NULL);
    }
    cl->rc = 0;
    if (cl->close_after) vsock_close(cl->c, VSOCK_CLOSE_NORMAL);
}

static void client_go(struct client *cl)
{
    TS_CHECK(rt_thread_spawn(&cl->t, RT_GROUP_DRIVER, "ts-client", client_main, cl) == 0, "spawn");
}

static void client_join(struct client *cl)
{
    if (cl->t) rt_thread_join(cl->t);
    cl->t = NULL;
}

/* Readers of the shared counters while the link threads write them. */
static void read_counters(fx *f)
{
    app_stats st;
    link_host_snapshot hs;
    app_stats_get(f->app, &st);
    link_host_snapshot_get(&f->host, &hs);
    if (f->acc) {
        srv_acceptor_stats as;
        srv_acceptor_stats_get(f->acc, &as);
    }
    for (int g = 0; g < RT_GROUP_COUNT; g++) {
        rt_group_stats gs;
        rt_group_get((rt_group)g, &gs);
    }
}

/* ------------------------------------------------------------ cases */

enum { LINKS = 4, ECHOS = 96, WINDOW = 8 };

/* Several links echo at once: in order, nothing lost, nothing dropped. */
static void echo_concurrent(const char *variant, enum fx_backend b)
{
    char what[128];
    snprintf(what, sizeof what, "%s/%s echo", variant, b == FX_MEM ? "mem" : "tcp");
    fx f;
    if (start(&f, variant, b, NULL, NULL)) return;
    struct client cl[LINKS] = {{0}};
    for (int i = 0; i < LINKS; i++) {
        TS_CHECK(fx_link(&f, &cl[i].c, &cl[i].id) == 0, "%s: link %d", what, i);
        cl[i].msgs = ECHOS;
        cl[i].window = WINDOW;
        cl[i].strict = true;
        cl[i].what = what;
    }
    for (int i = 0; i < LINKS; i++) client_go(&cl[i]);
    for (int i = 0; i < LINKS; i++) {
        while (cl[i].t && cl[i].sent < ECHOS / 2) {
            read_counters(&f);
            rt_sleep(5 * RT_MS, NULL);
        }
        client_join(&cl[i]);
        TS_CHECK(cl[i].rc == 0 && cl[i].echoed == ECHOS, "%s: link %d: echoed %d, rc %d", what, i,
                 cl[i].echoed, cl[i].rc);
    }
    app_stats st;
    app_stats_get(f.app, &st);
    TS_CHECK(st.echoed == LINKS * ECHOS, "%s: echoed %lld (app: gaps %lld backwards %lld)", what,
             (long long)st.echoed, (long long)st.seq_gaps, (long long)st.seq_backwards);
    int reordered = 0;
    for (int i = 0; i < LINKS; i++) reordered += cl[i].reordered;
    printf("  %s: %lld echoed on %d links%s\n", what, (long long)st.echoed, LINKS,
           reordered ? " (NOTE: some came back out of order)" : "");
    for (int i = 0; i < LINKS; i++) {
        vsock_close(cl[i].c, VSOCK_CLOSE_NORMAL);
        vsock_destroy(cl[i].c);
    }
    stop(&f, what);
}

/* Under traffic and server push: the app closes link 0, the client of link 1 closes
 * its side, links 2 and 3 go on. Each closed link reports on_closed once, with its
 * cause, and is released. */
static void closes_under_load(const char *variant)
{
    char what[128];
    snprintf(what, sizeof what, "%s/tcp closes", variant);
    app_params ap;
    app_params_default(&ap);
    ap.push_per_s = 200;
    fx f;
    if (start(&f, variant, FX_TCP, &ap, NULL)) return;
    atomic_bool halt = false;
    struct client cl[LINKS] = {{0}};
    for (int i = 0; i < LINKS; i++) {
        TS_CHECK(fx_link(&f, &cl[i].c, &cl[i].id) == 0, "%s: link %d", what, i);
        cl[i].window = 4;
        cl[i].stop = &halt;
        cl[i].what = what;
    }
    cl[1].msgs = 40;
    cl[1].close_after = true;
    for (int i = 0; i < LINKS; i++) client_go(&cl[i]);
    rt_sleep(50 * RT_MS, NULL);
    TS_CHECK(app_close_link(f.app, cl[0].id) == 0, "%s: app close", what);
    client_join(&cl[0]);   /* its reads fail once the link is gone */
    client_join(&cl[1]);
    app_link_stats ls[2];
    for (int i = 0; i < 2; i++) {
        FX_WAIT((app_link_stats_get(f.app, cl[i].id, &ls[i]), ls[i].released), 30 * RT_S);
        /* again: one snapshot reads closed before released, so it can be torn */
        app_link_stats_get(f.app, cl[i].id, &ls[i]);
        /* Known finding: batch (LinkV2) under this load sometimes never notices the peer
         * close: its loop waits in `receiveCh <-` while the app holds an echo refused by
         * the full sendCh, so neither queue drains (the seed's 缺点 1 meeting a consumer
         * that sends). Reported, not hidden: LINKBENCH_KNOWN_BUGS=1 makes it a failure. */
        if (i == 1 && !ls[i].closed && !strcmp(f.v->name, "batch") && !getenv("LINKBENCH_KNOWN_BUGS")) {
            printf("  %s: KNOWN: peer close not noticed within 30 s (loop blocked handing off)\n", what);
            continue;
        }
        TS_CHECK(ls[i].closed && ls[i].released && ls[i].closed_calls == 1,
                 "%s: link %d: closed %d released %d calls %lld", what, i, ls[i].closed,
                 ls[i].released, (long long)ls[i].closed_calls);
        read_counters(&f);
    }
    TS_CHECK(ls[0].cause == LINK_CLOSE_APP, "%s: app close cause %s", what, link_close_cause_name(ls[0].cause));
    /* dual's send thread may hit the closing socket (push and echoes are in flight)
     * before its receive thread reads the close frame: the first Close names the cause */
    TS_CHECK(!ls[1].closed || ls[1].cause == LINK_CLOSE_PEER || ls[1].cause == LINK_CLOSE_ERROR,
             "%s: peer close cause %s",
             what, link_close_cause_name(ls[1].cause));
    atomic_store(&halt, true);
    for (int i = 2; i < LINKS; i++) {
        client_join(&cl[i]);
        app_link_stats l;
        app_link_stats_get(f.app, cl[i].id, &l);
        TS_CHECK(l.open && !l.closed, "%s: untouched link %d still open", what, i);
    }
    app_stats st;
    app_stats_get(f.app, &st);
    TS_CHECK(st.closed_twice == 0, "%s: on_closed twice", what);
    printf("  %s: app close %s, peer close %s, %lld received, %lld sent\n", what,
           link_close_cause_name(ls[0].cause), link_close_cause_name(ls[1].cause),
           (long long)st.recv_msgs, (long long)st.sent);
    for (int i = 0; i < LINKS; i++) vsock_destroy(cl[i].c);
    stop(&f, what);
}

/* A stalled app under a flood, then recovering: received + dropped == sent. */
static void slow_app(const char *variant)
{
    char what[128];
    snprintf(what, sizeof what, "%s/tcp slow app", variant);
    app_params ap;
    app_params_default(&ap);
    ap.mode = APP_SINK;
    ap.service_ns = 3600 * RT_S;
    ap.service_kind = APP_SERVICE_SLEEP;
    fx f;
    if (start(&f, variant, FX_TCP, &ap, NULL)) return;
    vsock *c;
    uint32_t id;
    TS_CHECK(fx_link(&f, &c, &id) == 0, "%s: link", what);
    enum { SIZE = 16384, CAP = 600 };
    int64_t sent = 0;
    bool backed_up = false;
    while (sent < CAP) {
        int rc = fx_send(c, id, (uint64_t)sent, SIZE, 300 * RT_MS);
        if (rc == -ETIMEDOUT) {
            backed_up = true;
            break;
        }
        TS_CHECK(rc == 0, "%s: write %d", what, rc);
        if (rc) break;
        sent++;
    }
    app_set_service(f.app, 0, APP_SERVICE_BUSY);   /* from this thread, while workers sleep */
    if (backed_up) {
        TS_CHECK(fx_send(c, id, (uint64_t)sent, SIZE, 60 * RT_S) == 0, "%s: resumed write", what);
        sent++;
    }
    app_stats st;
    link_host_snapshot hs;
    FX_WAIT((app_stats_get(f.app, &st), link_host_snapshot_get(&f.host, &hs),
             st.recv_msgs + hs.drops_total >= sent), 120 * RT_S);
    TS_CHECK(st.recv_msgs + hs.drops_total == sent, "%s: sent %lld received %lld dropped %lld", what,
             (long long)sent, (long long)st.recv_msgs, (long long)hs.drops_total);
    printf("  %s: sent %lld (backed up: %s), received %lld, dropped %lld\n", what, (long long)sent,
           backed_up ? "yes" : "no", (long long)st.recv_msgs, (long long)hs.drops_total);
    vsock_close(c, VSOCK_CLOSE_NORMAL);
    vsock_destroy(c);
    stop(&f, what);
}

/* Two rate-limited links at once: every message accounted, received or rate-dropped. */
static void rate_limited(const char *variant)
{
    char what[128];
    snprintf(what, sizeof what, "%s/tcp rate limit", variant);
    app_params ap;
    app_params_default(&ap);
    ap.mode = APP_SINK;
    struct link_common common;
    fx_common_default(&common);
    common.rate_limit_per_s = 400;
    fx f;
    if (start(&f, variant, FX_TCP, &ap, &common)) return;
    enum { N = 2, MSGS_EACH = 800 };   /* twice the burst: the limiter must act */
    vsock *c[N];
    uint32_t id[N];
    for (int i = 0; i < N; i++) TS_CHECK(fx_link(&f, &c[i], &id[i]) == 0, "%s: link %d", what, i);
    /* sink mode: the clients only write, interleaved from this thread */
    for (int m = 0; m < MSGS_EACH; m++)
        for (int i = 0; i < N; i++)
            TS_CHECK(fx_send(c[i], id[i], (uint64_t)m, 64, 60 * RT_S) == 0, "%s: write", what);
    app_stats st;
    link_host_snapshot hs;
    FX_WAIT((app_stats_get(f.app, &st), link_host_snapshot_get(&f.host, &hs),
             st.recv_msgs + hs.drops_total >= N * MSGS_EACH), 120 * RT_S);
    TS_CHECK(st.recv_msgs + hs.drops_total == N * MSGS_EACH, "%s: received %lld dropped %lld of %d", what,
             (long long)st.recv_msgs, (long long)hs.drops_total, N * MSGS_EACH);
    printf("  %s: received %lld, dropped %lld (rate %lld), rate waits %lld\n", what, (long long)st.recv_msgs,
           (long long)hs.drops_total, (long long)hs.drops[LINK_DROP_RATE_LIMITED],
           (long long)hs.counters[LINK_C_RATE_WAITS]);
    for (int i = 0; i < N; i++) {
        vsock_close(c[i], VSOCK_CLOSE_NORMAL);
        vsock_destroy(c[i]);
    }
    stop(&f, what);
}

/* The app's reaper runs TryCloseIfIdle from its own thread while another link is busy:
 * the idle link is closed with cause idle, exactly once. */
static void idle_reaper(const char *variant)
{
    char what[128];
    snprintf(what, sizeof what, "%s/tcp idle reaper", variant);
    app_params ap;
    app_params_default(&ap);
    ap.idle_timeout_ns = 200 * RT_MS;
    ap.reap_period_ns = 20 * RT_MS;
    fx f;
    if (start(&f, variant, FX_TCP, &ap, NULL)) return;
    atomic_bool halt = false;
    struct client busy = {.window = 2, .stop = &halt, .what = what};
    vsock *idle_c;
    uint32_t idle_id;
    TS_CHECK(fx_link(&f, &idle_c, &idle_id) == 0, "%s: idle link", what);
    TS_CHECK(fx_link(&f, &busy.c, &busy.id) == 0, "%s: busy link", what);
    client_go(&busy);
    app_link_stats ls;
    FX_WAIT((app_link_stats_get(f.app, idle_id, &ls), ls.released), 30 * RT_S);
    app_link_stats_get(f.app, idle_id, &ls);   /* again: a snapshot can be torn */
    TS_CHECK(ls.closed && ls.released && ls.closed_calls == 1 && ls.cause == LINK_CLOSE_IDLE,
             "%s: closed %d released %d calls %lld cause %s", what, ls.closed, ls.released,
             (long long)ls.closed_calls, link_close_cause_name(ls.cause));
    atomic_store(&halt, true);
    client_join(&busy);
    printf("  %s: idle link closed (%s), busy link echoed %d\n", what, link_close_cause_name(ls.cause),
           busy.echoed);
    vsock_destroy(idle_c);
    vsock_destroy(busy.c);
    stop(&f, what);
}

/* Stop while links carry traffic, then start again: three rounds. Stop closes every
 * link (cause shutdown), joins every thread; the clients see their links end. */
static void stop_start_under_load(const char *variant)
{
    for (int round = 0; round < 3; round++) {
        char what[128];
        snprintf(what, sizeof what, "%s/tcp stop under load, round %d", variant, round);
        app_params ap;
        app_params_default(&ap);
        ap.push_per_s = 100;
        fx f;
        if (start(&f, variant, FX_TCP, &ap, NULL)) return;
        atomic_bool halt = false;
        struct client cl[3] = {{0}};
        for (int i = 0; i < 3; i++) {
            TS_CHECK(fx_link(&f, &cl[i].c, &cl[i].id) == 0, "%s: link %d", what, i);
            cl[i].window = 4;
            cl[i].stop = &halt;
            cl[i].what = what;
            client_go(&cl[i]);
        }
        rt_sleep(30 * RT_MS, NULL);
        if (round == 0) {
            /* the end-of-run census while the variant's threads and the clients still
             * move messages: every held op, socket and app reading under TSan */
            srv_census c;
            TS_CHECK(srv_census_take(f.app, &f.host, &c, rt_now() + 200 * RT_MS) == 0,
                     "%s: census", what);
            TS_CHECK(c.n == 3, "%s: census of %u links, 3 open", what, c.n);
            json_t *j = srv_census_json(&c);
            TS_CHECK(json_array_size(json_object_get(j, "links")) == 3, "%s: census document", what);
            json_decref(j);
            srv_census_deinit(&c);
        }
        stop(&f, what);   /* the clients are still sending */
        atomic_store(&halt, true);
        int sent = 0;
        for (int i = 0; i < 3; i++) {
            client_join(&cl[i]);
            sent += atomic_load(&cl[i].sent);
            vsock_destroy(cl[i].c);
        }
        printf("  %s: stopped with 3 links busy (%d sent)\n", what, sent);
    }
}

static void one_variant(const char *v)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    link_module *m = NULL;
    char err[256];
    bool inl = link_module_load(v, &m, err, sizeof err) == 0 && (m->v->caps & LINK_CAP_APP_INLINE);
    if (m)
        link_module_unload(m);
    for (int pass = 0; pass <= (int)inl; pass++) {
        ts_inline = pass;
        printf("tsan_runner: variant %s%s\n", v, pass ? " (app.inline)" : "");
        echo_concurrent(v, FX_MEM);
        echo_concurrent(v, FX_TCP);
        closes_under_load(v);
        slow_app(v);
        rate_limited(v);
        idle_reaper(v);
        stop_start_under_load(v);
    }
    ts_inline = false;
}

void ts_section_variants(const char *variant)
{
    if (variant) {
        one_variant(variant);
        return;
    }
    char **names;
    int n = link_registry_names(&names);
    TS_CHECK(n > 0, "no variant module found");
    for (int i = 0; i < n; i++) one_variant(names[i]);
    if (n > 0) link_registry_names_free(names, n);
}
