/* test_exhaustion.c — out of fds, out of threads, a slow consumer: the server pauses, counts and recovers, and its queues stay within their declared capacities. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <grp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "hostile_util.h"
#include "srv_report.h"

TestSuite(exhaustion, .timeout = 180);

/* Limits are lowered in a forked child so the test process keeps its own; the child
 * writes what it saw into shared memory and the parent asserts on it. */
static void *shared(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    memset(p, 0, n);
    return p;
}

/* Run fn in a child (bounded by an alarm); its exit status, or -1 if it did not exit. */
static int in_child(void (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(120);
        fn(arg);
        _exit(0);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int64_t group_wakeups(rt_group g)
{
    rt_group_stats s;
    rt_group_get(g, &s);
    return s.wakeups;
}

/* ---------------------------------------------------------------- file descriptors */

struct fd_result {
    int step;                        /* how far the child got (for the failure message) */
    char err[256];
    int64_t pauses, wakeups;         /* during the full table, over the counted periods */
    int64_t accepted_full, accepted_base;
    int echoes_full;                 /* the existing link, while the table is full */
    int64_t accepted_after, attached_after;
    int echoes_after;
};

enum { FD_K = 3, FD_PERIODS = 10 };

static void fd_child(void *arg)
{
    struct fd_result *r = arg;
    fx f;
    srv_acceptor_opts o;
    srv_acceptor_opts_default(&o);
    o.handshake_timeout_ns = 10 * RT_S;
    o.emfile_retry_ns = 20 * RT_MS;
    o.group = RT_GROUP_DRIVER;   /* the acceptor alone in its group: its wake-ups are its own */
    if (hx_start(&f, "evloop", NULL, &o) < 0) {
        snprintf(r->err, sizeof r->err, "%.200s", f.err);
        return;
    }
    r->step = 1;
    vsock *good[1 + FD_K];
    uint32_t ids[1 + FD_K];
    uint64_t seq[1 + FD_K] = {0};
    if (fx_link(&f, &good[0], &ids[0]) < 0) return;
    r->step = 2;
    int cl[FD_K];   /* client sockets made now: a full table could not make them */
    for (int i = 0; i < FD_K; i++) cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct rlimit old;
    getrlimit(RLIMIT_NOFILE, &old);
    struct rlimit low = {256, old.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &low) < 0) return;
    static int fill[256];
    int nfill = 0;
    while (nfill < 256 && (fill[nfill] = dup(0)) >= 0) nfill++;
    if (errno != EMFILE) return;
    r->step = 3;
    r->accepted_base = hx_acc(&f).accepted;
    int64_t p0 = hx_acc(&f).fd_limit_pauses, w0 = group_wakeups(RT_GROUP_DRIVER);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(srv_acceptor_port(f.acc))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < FD_K; i++)   /* completes in the backlog; accept then fails EMFILE */
        if (connect(cl[i], (struct sockaddr *)&sa, sizeof sa) < 0) return;
    FX_WAIT(hx_acc(&f).fd_limit_pauses >= p0 + FD_PERIODS, 30 * RT_S);
    r->pauses = hx_acc(&f).fd_limit_pauses - p0;
    r->wakeups = group_wakeups(RT_GROUP_DRIVER) - w0;
    r->accepted_full = hx_acc(&f).accepted;
    r->echoes_full = hx_echo_round(good, ids, 1, seq, 5);
    r->step = 4;
    for (int i = 0; i < nfill; i++) close(fill[i]);
    setrlimit(RLIMIT_NOFILE, &old);
    FX_WAIT(hx_acc(&f).accepted >= r->accepted_base + FD_K, 10 * RT_S);
    r->accepted_after = hx_acc(&f).accepted;
    for (int i = 0; i < FD_K; i++) {   /* the waiting connections now upgrade */
        fcntl(cl[i], F_SETFL, fcntl(cl[i], F_GETFL) | O_NONBLOCK);
        vsock_opts vo;
        vsock_opts_default(&vo);
        good[1 + i] = vsock_tcp_wrap(cl[i], VSOCK_CLIENT, &vo);
        if (!good[1 + i] || vsock_handshake(good[1 + i], "127.0.0.1", "/", rt_deadline_in(10 * RT_S)) < 0)
            return;
        ids[1 + i] = 1 + (uint32_t)i;   /* accept order: after the first link */
    }
    FX_WAIT(hx_acc(&f).attached >= 1 + FD_K, 10 * RT_S);
    r->attached_after = hx_acc(&f).attached;
    r->echoes_after = hx_echo_round(good, ids, 1 + FD_K, seq, 5);
    r->step = 5;
    for (int i = 0; i < 1 + FD_K; i++) vsock_destroy(good[i]);
    fx_stop(&f);
    r->step = 6;
}

/* Out of fds: accept fails with EMFILE. The acceptor pauses and retries on a timer
 * (a few loop wake-ups per retry period, not a spinning loop), the existing link keeps
 * echoing, and the waiting connections are accepted once fds are back. */
Test(exhaustion, out_of_fds_pauses_without_spinning_and_resumes)
{
    struct fd_result *r = shared(sizeof *r);
    cr_assert_eq(in_child(fd_child, r), 0);
    cr_assert_eq(r->step, 6, "child stopped at step %d: %s", r->step, r->err);
    cr_log_info("%lld pauses, %lld acceptor wake-ups", (long long)r->pauses, (long long)r->wakeups);
    cr_expect_geq(r->pauses, FD_PERIODS);
    /* Each retry period: the timer's wake-up, one accept4 failing EMFILE, the pause.
     * A loop that kept the listener armed would wake thousands of times instead. */
    cr_expect_leq(r->wakeups, 3 * r->pauses + 10, "%lld wake-ups over %lld retry periods: the acceptor spins",
                  (long long)r->wakeups, (long long)r->pauses);
    cr_expect_eq(r->accepted_full, r->accepted_base, "nothing accepted while the table was full");
    cr_expect_eq(r->echoes_full, 5, "the existing link echoes while the table is full");
    cr_expect_eq(r->accepted_after, r->accepted_base + FD_K, "accepting resumed");
    cr_expect_eq(r->attached_after, 1 + FD_K);
    cr_expect_eq(r->echoes_after, 5 * (1 + FD_K), "every link echoes after the recovery");
    munmap(r, sizeof *r);
}

/* ---------------------------------------------------------------- threads */

struct thr_result {
    int step;
    bool skipped;
    char err[256];
    int attach_rc;
    int64_t acc_thread_limit, app_thread_limit, spawn_failed;
    char limit_errno[32];
    int echoes_during, echoes_after, threads_before, threads_after;
};

static void thr_child(void *arg)
{
    struct thr_result *r = arg;
    r->threads_before = hx_threads();
    fx f;
    /* The server (its variant module included) starts with our own credentials: the
     * module lives in the build tree, which another user may not be able to reach (a
     * clone under a 0700 home directory). */
    if (hx_start(&f, "dual", NULL, NULL) < 0) {
        snprintf(r->err, sizeof r->err, "%.200s", f.err);
        return;
    }
    r->step = 1;
    vsock *c[2];
    uint32_t ids[2];
    uint64_t seq[2] = {0};
    if (fx_link(&f, &c[0], &ids[0]) < 0) return;
    /* RLIMIT_NPROC does not bind root: become an unprivileged user now. glibc changes
     * the credentials of every thread of the process, so the running server's threads
     * become that user's, and are then the only ones its limit counts. Nothing is loaded
     * from a file after this point. */
    if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)) {
        r->skipped = true;
        for (int i = 0; i < 1; i++) vsock_destroy(c[i]);
        fx_stop(&f);
        return;
    }
    r->step = 2;
    struct rlimit old, none;
    getrlimit(RLIMIT_NPROC, &old);
    none = (struct rlimit){0, old.rlim_max};   /* no new thread for this user */
    if (setrlimit(RLIMIT_NPROC, &none) < 0) return;
    vsock *doomed = NULL;
    uint32_t did;
    r->attach_rc = fx_link(&f, &doomed, &did);
    if (r->attach_rc == 0) vsock_destroy(doomed);
    r->acc_thread_limit = hx_acc(&f).attach_thread_limit;
    r->app_thread_limit = hx_app(&f).attach_thread_limit;
    rt_group_stats gs;
    rt_group_get(RT_GROUP_LINK, &gs);
    r->spawn_failed = gs.spawn_failed;
    /* the reason the harness reports for it */
    srv_snap snap;
    srv_snap_take(&snap, f.app, &f.host, f.acc);
    json_t *rep = srv_report_json(&snap, &snap, &snap, &snap, &snap, NULL);
    const char *why = rep ? json_string_value(json_object_get(json_object_get(rep, "links"), "limit_errno")) : NULL;
    snprintf(r->limit_errno, sizeof r->limit_errno, "%s", why ? why : "(none)");
    json_decref(rep);
    r->echoes_during = hx_echo_round(c, ids, 1, seq, 5);
    r->step = 3;
    setrlimit(RLIMIT_NPROC, &old);
    if (fx_link(&f, &c[1], &ids[1]) < 0) return;
    r->echoes_after = hx_echo_round(c, ids, 2, seq, 5);
    r->step = 4;
    for (int i = 0; i < 2; i++) vsock_destroy(c[i]);
    fx_stop(&f);
    r->threads_after = hx_threads_settle(r->threads_before);
    r->step = 5;
}

/* Out of threads: attaching a dual link (two threads) fails with -EAGAIN, is counted as
 * a thread limit with the reason the report names, and the link already open keeps
 * echoing; links attach again once threads can be made. */
Test(exhaustion, out_of_threads_attach_fails_eagain_and_is_counted)
{
    struct thr_result *r = shared(sizeof *r);
    cr_assert_eq(in_child(thr_child, r), 0);
    if (r->skipped) cr_skip_test("cannot drop root to an unprivileged user here");
    cr_assert_eq(r->step, 5, "child stopped at step %d: %s", r->step, r->err);
    cr_expect_eq(r->attach_rc, -EAGAIN, "attach: %s", strerror(-r->attach_rc));
    cr_expect_eq(r->acc_thread_limit, 1);
    cr_expect_eq(r->app_thread_limit, 1);
    cr_expect_eq(r->spawn_failed, 1, "the first spawn failed; the second was never tried");
    cr_expect_str_eq(r->limit_errno, "EAGAIN");
    cr_expect_eq(r->echoes_during, 5, "the open link echoes at the thread limit");
    cr_expect_eq(r->echoes_after, 10, "a new link attaches once threads can be made");
    cr_expect_eq(r->threads_after, r->threads_before, "no thread left after stop");
    munmap(r, sizeof *r);
}

/* ---------------------------------------------------------------- slow consumer */

struct hx_case {
    char variant[16];
};

static void free_cases(struct criterion_test_params *p) { cr_free(p->params); }

static struct criterion_test_params cases(void)
{
    static const char *const v[] = {"evloop", "dual", "hybrid"};
    struct hx_case *cs = cr_malloc(sizeof *cs * 3);
    for (int i = 0; i < 3; i++) snprintf(cs[i].variant, sizeof cs[i].variant, "%s", v[i]);
    return cr_make_param_array(struct hx_case, cs, 3, free_cases);
}

/* The app stalls (each worker sleeps on its first message) while a client floods. What
 * the server holds for the link is within the declared receive capacity plus the one
 * message a reader has in hand: the dropping design drops the rest (counted), the
 * lossless one stops reading (TCP pushes back to the client), the blocking one's reader
 * thread waits (the same for TCP). When the app recovers every message not dropped is
 * echoed. */
ParameterizedTestParameters(exhaustion, slow_consumer_queues_stay_within_capacity) { return cases(); }
ParameterizedTest(struct hx_case *c, exhaustion, slow_consumer_queues_stay_within_capacity)
{
    enum { N = 2000, LEN = 4096 - 16, CAP = 16 };   /* CAP: receive queues in hx_overrides */
    int threads0 = hx_threads();
    fx f;
    cr_assert_eq(hx_start(&f, c->variant, NULL, NULL), 0, "%s: %s", c->variant, f.err);
    const char *v = f.v->name;
    enum link_loss_policy pol = f.v->loss_policy;
    vsock *cl;
    uint32_t id;
    cr_assert_eq(fx_link(&f, &cl, &id), 0);
    app_set_service(f.app, 600 * RT_S, APP_SERVICE_SLEEP);
    vsock_counters t0, t1;
    vsock_get_totals(&t0);
    static uint8_t buf[LEN];
    for (uint64_t seq = 0; seq < N; seq++) {
        rt_ns now = rt_now();
        struct wire_hdr h = {.magic = WIRE_MAGIC, .kind = WIRE_ECHO, .link_id = id, .len = LEN,
                             .seq = seq, .t_sched = now, .t_sent = now};
        wire_put(buf, &h);
        cr_assert_eq(vsock_queue(cl, buf, LEN, VSOCK_BINARY), 0);
    }
    /* Push until the server takes no more: its decoded count stops moving. */
    int64_t prev = -1;
    for (int still = 0, i = 0; still < 30 && i < 3000; i++) {
        vsock_flush(cl);
        rt_sleep(10 * RT_MS, NULL);
        vsock_get_totals(&t1);
        still = t1.msgs_in == prev ? still + 1 : 0;
        prev = t1.msgs_in;
    }
    int64_t decoded = t1.msgs_in - t0.msgs_in;   /* the client has read nothing: all server's */
    link_host_snapshot hs;
    link_host_snapshot_get(&f.host, &hs);
    int64_t drops = hs.drops[LINK_DROP_RECV_QUEUE_FULL];
    app_link_stats ls;
    app_link_stats_get(f.app, id, &ls);
    int64_t queued = decoded - ls.recv_msgs - drops;
    cr_log_info("%s: decoded %lld, app took %lld, dropped %lld, queued %lld, client unsent %zu B", v,
                (long long)decoded, (long long)ls.recv_msgs, (long long)drops, (long long)queued,
                vsock_pending_out(cl));
    cr_expect_leq(queued, CAP + 1, "%s: %lld messages queued for a stalled app, capacity %d", v,
                  (long long)queued, CAP);
    cr_expect_leq(ls.recv_msgs, 2, "%s: the stalled app has at most one message per worker", v);
    if (pol == LINK_LOSS_DROPS) {
        cr_expect_gt(drops, 0, "%s: the dropping design dropped", v);
    } else {
        cr_expect_eq(drops, 0, "%s: a %s design never drops", v, link_loss_policy_name(pol));
        cr_expect_lt(decoded, N, "%s: the server stopped reading", v);
        cr_expect_gt(vsock_pending_out(cl), 0, "%s: backpressure reached the client", v);
    }
    if (pol == LINK_LOSS_LOSSLESS)
        cr_expect_gt(hs.counters[LINK_C_READ_PAUSES], 0, "%s: reading paused", v);
    /* Recovery: everything not dropped comes back. */
    app_set_service(f.app, 0, APP_SERVICE_BUSY);
    int64_t want = N - drops, got = 0;
    for (int i = 0; i < 20000 && got < want; i++) {
        vsock_flush(cl);
        size_t nb;
        int rc = vsock_read_nb(cl, 1 << 20, &nb);
        for (vsock_msg *m; (m = vsock_poll_msg(cl)); got++) vsock_msg_free(m);
        if (rc < 0) break;
        struct pollfd p = {.fd = vsock_fd(cl), .events = POLLIN | (vsock_pending_out(cl) ? POLLOUT : 0)};
        poll(&p, 1, 10);
    }
    cr_expect_eq(got, want, "%s: %lld of %lld echoes after the app recovered", v, (long long)got,
                 (long long)want);
    app_link_stats_get(f.app, id, &ls);
    cr_expect(ls.open, "%s: the link survived the stall", v);
    vsock_close(cl, VSOCK_CLOSE_NORMAL);
    vsock_destroy(cl);
    fx_stop(&f);
    int t = hx_threads_settle(threads0);
    cr_expect_eq(t, threads0, "%s: threads after stop", v);
}
