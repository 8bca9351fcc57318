/* test_srv_acceptor.c — the listener: ids in attach order, failed upgrades use none, handshake failures and time-outs counted, no spin at the fd limit. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sys/resource.h>

#include "link_fixture.h"

/* A variant that only keeps what it is given (no threads), so only the acceptor runs. */
struct link {
    vsock *s;
};
struct link_server {
    struct link links[16];
    _Atomic int n;
};
static int k_start(const struct link_start_args *a, struct link_server **out)
{
    (void)a;
    *out = calloc(1, sizeof **out);
    return 0;
}
static int k_attach(struct link_server *s, vsock *v, uint32_t id, struct link **out)
{
    if (id >= 16) {
        vsock_destroy(v);
        return -ENOSPC;
    }
    s->links[id].s = v;
    atomic_fetch_add(&s->n, 1);
    *out = &s->links[id];
    return 0;
}
static int k_send(struct link *l, vsock_msg *m) { (void)l; (void)m; return -EPIPE; }
static int k_recv(struct link *l, vsock_msg **m) { (void)l; (void)m; return -EAGAIN; }
static void k_active(struct link *l) { (void)l; }
static bool k_idle(struct link *l, rt_ns i) { (void)l; (void)i; return false; }
static int k_close(struct link *l) { (void)l; return 0; }
static void k_release(struct link *l) { (void)l; }
static void k_held(struct link *l, int64_t *in, int64_t *out) { (void)l; *in = *out = 0; }
static void k_stop(struct link_server *s)
{
    for (int i = 0; i < 16; i++) vsock_destroy(s->links[i].s);
    free(s);
}
static const struct link_variant keeper = {
    .abi_version = LINK_ABI_VERSION, .name = "keeper", .summary = "keeps links", .threads_per_link = 0,
    .loss_policy = LINK_LOSS_LOSSLESS, .start = k_start, .attach = k_attach, .send = k_send,
    .recv = k_recv, .update_active = k_active, .try_close_if_idle = k_idle, .close = k_close,
    .release = k_release, .stop = k_stop, .held = k_held};

static link_host_impl host;
static struct link_server *srv;
static app *A;
static srv_acceptor *acc;

static void start_max(rt_ns hs_timeout, uint32_t max_links)
{
    link_host_init(&host);
    app_params p;
    app_params_default(&p);
    p.max_links = max_links;
    A = app_create(&p, &keeper, &host);
    struct link_common c;
    fx_common_default(&c);
    struct link_start_args sa = {.host = &host.base, .common = &c};
    cr_assert_eq(keeper.start(&sa, &srv), 0);
    cr_assert_eq(app_start(A, srv), 0);
    srv_acceptor_opts o;
    srv_acceptor_opts_default(&o);
    o.handshake_timeout_ns = hs_timeout;
    o.emfile_retry_ns = 100 * RT_MS;
    int err;
    acc = srv_acceptor_start(&o, A, &err);
    cr_assert(acc, "acceptor: %s", strerror(-err));
    cr_assert_gt(srv_acceptor_port(acc), 0, "port 0 gives a real port");
}

static void start(rt_ns hs_timeout)
{
    start_max(hs_timeout, 65536);
}

static void stop(void)
{
    int64_t other = fx_live(RT_GROUP_OTHER);
    srv_acceptor_destroy(acc);
    cr_expect_eq(fx_live(RT_GROUP_OTHER), other - 1, "the acceptor thread is joined");
    app_stop(A);
    keeper.stop(srv);
    app_destroy(A);
}

static int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(srv_acceptor_port(acc))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static srv_acceptor_stats stats(void)
{
    srv_acceptor_stats s;
    srv_acceptor_stats_get(acc, &s);
    return s;
}

Test(srv_acceptor, ids_in_attach_order_and_bad_handshake_counted)
{
    start(10 * RT_S);
    vsock *c0 = NULL, *c2 = NULL;
    cr_assert_eq(fx_tcp_client(srv_acceptor_port(acc), &c0), 0);
    FX_WAIT(stats().attached == 1, 10 * RT_S);
    int bad = raw_connect();
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";   /* no Upgrade, no key */
    cr_assert_eq(write(bad, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
    FX_WAIT(stats().handshakes_failed == 1, 10 * RT_S);
    cr_assert_eq(fx_tcp_client(srv_acceptor_port(acc), &c2), 0);
    FX_WAIT(stats().attached == 2, 10 * RT_S);
    srv_acceptor_stats s = stats();
    cr_expect_eq(s.accepted, 3);
    cr_expect_eq(s.handshakes_ok, 2);
    cr_expect_eq(s.handshakes_failed, 1);
    cr_expect_eq(s.attached, 2);
    cr_expect_eq(s.pending, 0);
    cr_expect(srv->links[0].s && srv->links[1].s && !srv->links[2].s,
              "ids follow attach order; the failed upgrade used none");
    cr_expect_eq(app_links(A), 2);
    char buf[256];
    ssize_t n = read(bad, buf, sizeof buf - 1);
    cr_expect_gt(n, 0, "the bad request gets an answer");
    if (n > 0) {
        buf[n] = 0;
        cr_expect(strstr(buf, "400"), "%s", buf);
    }
    close(bad);
    vsock_destroy(c0);
    vsock_destroy(c2);
    stop();
}

/* More failed upgrades than the link table holds (bad requests and silent clients that
 * time out): none of them takes an id, so good clients still attach, and only a full
 * table refuses. */
Test(srv_acceptor, failed_upgrades_do_not_exhaust_the_link_table)
{
    enum { MAX = 3, BAD = 3 * MAX };
    start_max(200 * RT_MS, MAX);
    const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";   /* no Upgrade, no key */
    for (int i = 0; i < BAD; i++) {
        int bad = raw_connect();
        cr_assert_eq(write(bad, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
        FX_WAIT(stats().handshakes_failed == i + 1, 10 * RT_S);
        close(bad);
    }
    int silent[BAD];
    for (int i = 0; i < BAD; i++) silent[i] = raw_connect();
    FX_WAIT(stats().handshake_timeouts == BAD, 10 * RT_S);
    srv_acceptor_stats s = stats();
    cr_expect_eq(s.handshakes_failed, 2 * BAD);
    cr_expect_eq(s.handshake_timeouts, BAD);
    cr_expect_eq(s.refused, 0);
    cr_expect_eq(app_links(A), 0, "no id taken by a failed upgrade");
    vsock *c[MAX + 1] = {0};
    for (int i = 0; i < MAX; i++) {
        cr_assert_eq(fx_tcp_client(srv_acceptor_port(acc), &c[i]), 0);
        FX_WAIT(stats().attached == i + 1, 10 * RT_S);
    }
    s = stats();
    cr_expect_eq(s.attached, MAX, "every good client attached after the flood");
    cr_expect_eq(app_links(A), MAX);
    for (int i = 0; i < MAX; i++) cr_expect(srv->links[i].s, "id %d in attach order", i);
    /* now the table is full: the next connection is refused at accept, counted */
    int extra = raw_connect();
    FX_WAIT(stats().refused == 1, 10 * RT_S);
    s = stats();
    cr_expect_eq(s.refused, 1);
    cr_expect_eq(s.attached, MAX);
    app_stats as;
    app_stats_get(A, &as);
    cr_expect_eq(as.links_attached, MAX);
    close(extra);
    for (int i = 0; i < BAD; i++) close(silent[i]);
    for (int i = 0; i < MAX; i++) vsock_destroy(c[i]);
    stop();
}

Test(srv_acceptor, silent_client_times_out)
{
    start(50 * RT_MS);
    int fd = raw_connect();
    FX_WAIT(stats().handshake_timeouts == 1, 10 * RT_S);
    srv_acceptor_stats s = stats();
    cr_expect_eq(s.handshake_timeouts, 1);
    cr_expect_eq(s.handshakes_failed, 1);
    cr_expect_eq(s.attached, 0);
    cr_expect_eq(s.pending, 0);
    char c;
    cr_expect_eq(read(fd, &c, 1), 0, "the server closed the connection");
    close(fd);
    stop();
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (d && readdir(d)) n++;
    if (d) closedir(d);
    return n - 3;   /* ".", ".." and the DIR's own fd */
}

/* Out of fds, accept is paused and retried on a timer: a handful of pauses, not a
 * spinning loop; once fds are back the waiting connections are accepted. */
Test(srv_acceptor, fd_limit_pauses_without_spinning)
{
    start(10 * RT_S);
    enum { K = 3 };
    int fds[K];
    for (int i = 0; i < K; i++) fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    low.rlim_cur = (rlim_t)open_fds() + 1;   /* room for one accepted connection */
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(srv_acceptor_port(acc))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < K; i++) cr_assert_eq(connect(fds[i], (struct sockaddr *)&sa, sizeof sa), 0);
    FX_WAIT(stats().fd_limit_pauses >= 1, 10 * RT_S);
    cr_assert_geq(stats().fd_limit_pauses, 1);
    rt_sleep(300 * RT_MS, NULL);
    int64_t pauses = stats().fd_limit_pauses;
    cr_expect_lt(pauses, 50, "%lld pauses in 300 ms at a 100 ms retry: the acceptor spins", (long long)pauses);
    cr_expect_eq(stats().accepted, 1);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    FX_WAIT(stats().accepted == K, 10 * RT_S);
    cr_expect_eq(stats().accepted, K, "accepting resumed after the limit was lifted");
    for (int i = 0; i < K; i++) close(fds[i]);
    stop();
}
