/* tsan_vsock.c — one vsock used by a reader, a writer and a closer thread at once (mem and tcp backends), for TSan. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rt.h"
#include "tsan.h"
#include "vsock_test_util.h"
#include "vsock.h"

enum { MSGS = 400 };

/* A tcp pair over loopback: both ends handshaken by their own threads at once. */
struct hs {
    vsock *s;
    int rc;
};
static void hs_server(void *a) { struct hs *h = a; h->rc = vsock_handshake(h->s, NULL, NULL, rt_deadline_in(10 * RT_S)); }
static void hs_client(void *a) { struct hs *h = a; h->rc = vsock_handshake(h->s, "127.0.0.1", "/", rt_deadline_in(10 * RT_S)); }

static int tcp_pair(vsock **srv, vsock **cli, const vsock_opts *o)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) || listen(l, 4) ||
        getsockname(l, (struct sockaddr *)&sa, &sl)) {
        if (l >= 0) close(l);
        return -errno;
    }
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = connect(c, (struct sockaddr *)&sa, sizeof sa);
    int s = rc == 0 ? accept4(l, NULL, NULL, SOCK_CLOEXEC) : -1;
    close(l);
    if (s < 0) {
        close(c);
        return -ECONNREFUSED;
    }
    fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
    struct hs hsrv = {.s = vsock_tcp_wrap(s, VSOCK_SERVER, o)}, hcli = {.s = vsock_tcp_wrap(c, VSOCK_CLIENT, o)};
    rt_thread *t1, *t2;
    rt_thread_spawn(&t1, RT_GROUP_OTHER, "ts-hs-srv", hs_server, &hsrv);
    rt_thread_spawn(&t2, RT_GROUP_OTHER, "ts-hs-cli", hs_client, &hcli);
    rt_thread_join(t1);
    rt_thread_join(t2);
    if (hsrv.rc || hcli.rc) {
        vsock_destroy(hsrv.s);
        vsock_destroy(hcli.s);
        return hsrv.rc ? hsrv.rc : hcli.rc;
    }
    *srv = hsrv.s;
    *cli = hcli.s;
    return 0;
}

/* The client echoes every message until the server closes. */
static void echo_peer(void *a)
{
    vsock *c = a;
    for (;;) {
        vsock_msg *m;
        int rc = vsock_read(c, &m, rt_deadline_in(30 * RT_S));
        if (rc) return;
        rc = vsock_write(c, m->data, m->len, m->opcode, rt_deadline_in(30 * RT_S));
        vsock_msg_free(m);
        if (rc) return;
    }
}

struct duo {
    vsock *s;
    atomic_int written, read;
    int wrc, rrc;
};

/* The server's writer and reader run at once on one vsock (the dual design's use). */
static void srv_writer(void *a)
{
    struct duo *d = a;
    uint8_t buf[300];
    for (int i = 0; i < MSGS; i++) {
        size_t n = 8 + (size_t)(i * 13) % 290;
        memset(buf, i & 0xff, n);
        memcpy(buf, &i, sizeof i);
        d->wrc = vsock_write(d->s, buf, n, VSOCK_BINARY, rt_deadline_in(30 * RT_S));
        if (d->wrc) return;
        atomic_fetch_add(&d->written, 1);
    }
}

static void srv_reader(void *a)
{
    struct duo *d = a;
    for (int i = 0; i < MSGS; i++) {
        vsock_msg *m;
        d->rrc = vsock_read(d->s, &m, rt_deadline_in(30 * RT_S));
        if (d->rrc) return;
        int seq;
        memcpy(&seq, m->data, sizeof seq);
        TS_CHECK(seq == i, "echo %d came back as %d", i, seq);
        vsock_msg_free(m);
        atomic_fetch_add(&d->read, 1);
    }
}

static void reader_writer_echo(const char *backend, vsock *s, vsock *c)
{
    struct duo d = {.s = s};
    rt_thread *pe, *w, *r;
    rt_thread_spawn(&pe, RT_GROUP_OTHER, "ts-peer", echo_peer, c);
    rt_thread_spawn(&r, RT_GROUP_OTHER, "ts-reader", srv_reader, &d);
    rt_thread_spawn(&w, RT_GROUP_OTHER, "ts-writer", srv_writer, &d);
    rt_thread_join(w);
    rt_thread_join(r);
    TS_CHECK(atomic_load(&d.read) == MSGS && atomic_load(&d.written) == MSGS,
             "%s: written %d read %d (rc %d/%d)", backend, atomic_load(&d.written), atomic_load(&d.read),
             d.wrc, d.rrc);
    /* close from this thread while the peer is blocked in a read */
    int rc = vsock_close(s, VSOCK_CLOSE_NORMAL);
    TS_CHECK(rc == 0 || rc == -ETIMEDOUT, "%s: close %d", backend, rc);
    rt_thread_join(pe);
    vsock_counters k;
    vsock_get_counters(s, &k);
    TS_CHECK(k.msgs_in == MSGS && k.msgs_out == MSGS, "%s: counters in %lld out %lld", backend,
             (long long)k.msgs_in, (long long)k.msgs_out);
}

/* A reader and a writer blocked (the peer reads nothing and sends nothing), a third
 * thread closes: both return, nothing is touched after free. */
struct blocked {
    vsock *s;
    int wrc, rrc;
};
static void blk_writer(void *a)
{
    struct blocked *b = a;
    size_t n = 1 << 20;
    uint8_t *buf = calloc(1, n);
    do b->wrc = vsock_write(b->s, buf, n, VSOCK_BINARY, rt_deadline_in(30 * RT_S));
    while (b->wrc == 0);
    free(buf);
}
static void blk_reader(void *a)
{
    struct blocked *b = a;
    vsock_msg *m;
    b->rrc = vsock_read(b->s, &m, rt_deadline_in(30 * RT_S));
    if (b->rrc == 0) vsock_msg_free(m);
}
static void closer(void *a) { vsock_close(a, VSOCK_CLOSE_GOING_AWAY); }

static void close_wakes_reader_and_writer(const char *backend, vsock *s, vsock *c, bool mem)
{
    if (mem) vsock_mem_stop_reading(c, true);
    struct blocked b = {.s = s};
    rt_thread *w, *r, *x;
    rt_thread_spawn(&r, RT_GROUP_OTHER, "ts-blk-r", blk_reader, &b);
    rt_thread_spawn(&w, RT_GROUP_OTHER, "ts-blk-w", blk_writer, &b);
    rt_sleep(30 * RT_MS, NULL);
    rt_thread_spawn(&x, RT_GROUP_OTHER, "ts-closer", closer, s);
    rt_thread_join(x);
    rt_thread_join(r);
    rt_thread_join(w);
    TS_CHECK(b.rrc == -EPIPE || b.rrc == -ECANCELED || b.rrc == -ECONNRESET, "%s: reader %d", backend, b.rrc);
    TS_CHECK(b.wrc == -EPIPE || b.wrc == -ECANCELED || b.wrc == -ECONNRESET, "%s: writer %d", backend, b.wrc);
    TS_CHECK(vsock_is_closed(s), "%s: closed", backend);
}

/* ctx cancel from another thread wakes a reader and a writer on the same socket. */
static void canceller(void *a) { rt_sleep(20 * RT_MS, NULL); rt_ctx_cancel(a); }

static void cancel_wakes_both(const char *backend, vsock *s, vsock *c, bool mem)
{
    if (mem) vsock_mem_stop_reading(c, true);
    rt_ctx *ctx = rt_ctx_create(NULL);
    vsock_set_ctx(s, ctx);
    struct blocked b = {.s = s};
    rt_thread *w, *r, *x;
    rt_thread_spawn(&r, RT_GROUP_OTHER, "ts-cx-r", blk_reader, &b);
    rt_thread_spawn(&w, RT_GROUP_OTHER, "ts-cx-w", blk_writer, &b);
    rt_thread_spawn(&x, RT_GROUP_OTHER, "ts-cancel", canceller, ctx);
    rt_thread_join(x);
    rt_thread_join(r);
    rt_thread_join(w);
    TS_CHECK(b.rrc == -ECANCELED, "%s: reader %d", backend, b.rrc);
    TS_CHECK(b.wrc == -ECANCELED, "%s: writer %d", backend, b.wrc);
    vsock_destroy(s);   /* the fd goes with it; ctx outlives every wait that used it */
    rt_ctx_destroy(ctx);
}

/* Go modes (the seed's net.Conn semantics): a reader polling with 1 ms deadlines breaks
 * the frames it catches half-way, a writer with 5 ms deadlines cuts frames the peer is
 * slow to take, and a third thread closes the Go way, all at once on one socket. */
struct go_io {
    vsock *s;
    atomic_bool stop;
    int writes_cut, reads;
};
static void go_reader(void *a)
{
    struct go_io *g = a;
    while (!atomic_load(&g->stop)) {
        vsock_msg *m = NULL;
        int rc = vsock_read(g->s, &m, rt_deadline_in(RT_MS));
        vsock_msg_free(vsock_take_broken(g->s));
        if (rc == 0) {
            vsock_msg_free(m);
            g->reads++;
        } else if (rc != -ETIMEDOUT) {
            return;
        }
    }
}
static void go_writer(void *a)
{
    struct go_io *g = a;
    size_t n = 256 << 10;
    uint8_t *buf = calloc(1, n);
    while (!atomic_load(&g->stop)) {
        int rc = vsock_write(g->s, buf, n, VSOCK_BINARY, rt_deadline_in(5 * RT_MS));
        if (rc == -ETIMEDOUT) g->writes_cut++;
        else if (rc != 0) break;
    }
    free(buf);
}
static void go_peer(void *a)
{
    struct go_io *g = a;   /* the client: frames in two halves 3 ms apart, reads a little */
    enum { N = 4096 };
    static uint8_t pl[N], raw[N + 16];
    size_t len = tu_frame(raw, 0x82, pl, N, true);
    for (int i = 0; i < 20 && !atomic_load(&g->stop); i++) {
        tu_write_all(vsock_fd(g->s), raw, len / 2);
        rt_sleep(3 * RT_MS, NULL);
        tu_write_all(vsock_fd(g->s), raw + len / 2, len - len / 2);
        vsock_msg *m = NULL;
        if (vsock_read(g->s, &m, rt_deadline_in(2 * RT_MS)) == 0) vsock_msg_free(m);
    }
}
static void go_closer(void *a)
{
    rt_sleep(60 * RT_MS, NULL);
    vsock_close_after_frame(a, 0, rt_deadline_in(50 * RT_MS), NULL);
}

static void go_modes(const char *backend, vsock *s, vsock *c)
{
    vsock_set_go(s, VSOCK_GO_READ | VSOCK_GO_WRITE);
    struct go_io g = {.s = s}, p = {.s = c};
    atomic_init(&g.stop, false);
    atomic_init(&p.stop, false);
    rt_thread *r, *w, *x, *q;
    rt_thread_spawn(&q, RT_GROUP_OTHER, "ts-go-peer", go_peer, &p);
    rt_thread_spawn(&r, RT_GROUP_OTHER, "ts-go-r", go_reader, &g);
    rt_thread_spawn(&w, RT_GROUP_OTHER, "ts-go-w", go_writer, &g);
    rt_thread_spawn(&x, RT_GROUP_OTHER, "ts-go-close", go_closer, s);
    rt_thread_join(x);
    atomic_store(&g.stop, true);
    atomic_store(&p.stop, true);
    rt_thread_join(r);
    rt_thread_join(w);
    rt_thread_join(q);
    vsock_counters k;
    vsock_get_counters(s, &k);
    TS_CHECK(vsock_is_closed(s), "%s: go: closed", backend);
    printf("  %s: go modes: %lld frames broken, %lld cut, %d write time-outs\n", backend,
           (long long)k.frames_broken_by_deadline, (long long)k.frames_cut_by_deadline, g.writes_cut);
}

typedef int (*pair_fn)(vsock **, vsock **, const vsock_opts *);

static void each_backend(const char *name, pair_fn mk, bool mem)
{
    vsock_opts o;
    vsock_opts_default(&o);
    o.close_timeout = 200 * RT_MS;
    vsock *s, *c;
    TS_CHECK(mk(&s, &c, &o) == 0, "%s: pair", name);
    reader_writer_echo(name, s, c);
    vsock_destroy(s);
    vsock_destroy(c);

    TS_CHECK(mk(&s, &c, &o) == 0, "%s: pair", name);
    close_wakes_reader_and_writer(name, s, c, mem);
    vsock_destroy(s);
    vsock_destroy(c);

    TS_CHECK(mk(&s, &c, &o) == 0, "%s: pair", name);
    cancel_wakes_both(name, s, c, mem);
    vsock_destroy(c);

    TS_CHECK(mk(&s, &c, &o) == 0, "%s: pair", name);
    go_modes(name, s, c);
    vsock_destroy(s);
    vsock_destroy(c);

    /* process-wide totals read while other sockets count */
    vsock_counters tot;
    vsock_get_totals(&tot);
    TS_CHECK(tot.msgs_in >= 2 * MSGS, "%s: totals in %lld", name, (long long)tot.msgs_in);
}

void ts_section_vsock(void)
{
    each_backend("mem", vsock_mem_pair, true);
    each_backend("tcp", tcp_pair, false);
}
