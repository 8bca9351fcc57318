/* evloop_fixture.h — test helpers for test_evloop.c: a minimal counting host, a one-thread app, loopback TCP pairs. */
#ifndef LINKBENCH_TEST_EVLOOP_FIXTURE_H
#define LINKBENCH_TEST_EVLOOP_FIXTURE_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "link.h"
#include "link_host_impl.h"
#include "link_registry.h"
#include "rt.h"
#include "vsock.h"


/* ---------------------------------------------------------------- a minimal host */

typedef struct tlink {
    struct link *l;
    vsock *c;                      /* the client end */
    _Atomic int closed_calls;
    _Atomic int cause;
    _Atomic int64_t rx, echoed, unsent;
    vsock_msg *held;               /* app thread only: an echo send refused with -EAGAIN */
} tlink;

typedef struct th {
    link_host_impl impl;           /* first: link_host_drop casts the host back */
    link_module *mod;
    const struct link_variant *v;
    struct link_server *srv;
    int64_t params[64];
    struct link_common common;
    int lfd;
    uint16_t port;
    tlink *links;
    int n, cap;
    rt_queue *ready;               /* link ids + 1 the app thread should look at */
    bool echo, drain;
    int small_buffers;             /* SO_SNDBUF/SO_RCVBUF for new pairs; 0 = the kernel's */
    _Atomic bool stop;
    rt_thread *app;
    _Atomic int64_t readable_calls, writable_calls;
} th;

static void on_readable(struct link_host *h, struct link *l, uint32_t id)
{
    (void)l;
    th *t = (th *)h;
    atomic_fetch_add(&t->readable_calls, 1);
    rt_queue_try_push(t->ready, (void *)(uintptr_t)(id + 1));
}

static void on_writable(struct link_host *h, struct link *l, uint32_t id)
{
    (void)l;
    th *t = (th *)h;
    atomic_fetch_add(&t->writable_calls, 1);
    rt_queue_try_push(t->ready, (void *)(uintptr_t)(id + 1));
}

static void on_closed(struct link_host *h, struct link *l, uint32_t id, enum link_close_cause c)
{
    (void)l;
    th *t = (th *)h;
    atomic_store(&t->links[id].cause, (int)c);
    atomic_fetch_add(&t->links[id].closed_calls, 1);
    rt_queue_try_push(t->ready, (void *)(uintptr_t)(id + 1));
}

static void on_drop(void *arg, const vsock_msg *m, enum link_drop_reason r)
{
    th *t = arg;
    if (r == LINK_DROP_UNSENT_AT_CLOSE && m->link_id < (uint32_t)t->n)
        atomic_fetch_add(&t->links[m->link_id].unsent, 1);
}

/* The app: one thread, woken per link by the notifications, never blocking on a link. */
static void app_main(void *arg)
{
    th *t = arg;
    while (!atomic_load(&t->stop)) {
        void *it;
        if (rt_queue_pop(t->ready, &it, rt_deadline_in(20 * RT_MS), NULL) < 0)
            continue;
        uint32_t id = (uint32_t)(uintptr_t)it - 1;
        tlink *k = &t->links[id];
        if (!t->drain)
            continue;
        if (k->held) {
            int rc = t->v->send(k->l, k->held);
            if (rc == -EAGAIN)
                continue;   /* on_writable will bring us back */
            if (rc < 0)
                vsock_msg_free(k->held);
            else
                atomic_fetch_add(&k->echoed, 1);
            k->held = NULL;
        }
        int got = 0;
        vsock_msg *m;
        while (got < 64 && t->v->recv(k->l, &m) == 0) {
            got++;
            atomic_fetch_add(&k->rx, 1);
            t->v->update_active(k->l);
            if (!t->echo) {
                vsock_msg_free(m);
                continue;
            }
            int rc = t->v->send(k->l, m);
            if (rc == -EAGAIN) {
                k->held = m;
                break;
            }
            if (rc < 0)
                vsock_msg_free(m);
            else
                atomic_fetch_add(&k->echoed, 1);
        }
        if (got == 64)
            rt_queue_try_push(t->ready, it);   /* more to do: take turns with other links */
    }
}

/* Start evloop with params (keys, vals) and an inbound rate limit (0 = off). */
static void th_start(th *t, int cap, bool echo, int64_t rate, const char *const *keys,
                     const int64_t *vals, int nkv)
{
    memset(t, 0, sizeof *t);
    char err[512];
    int rc = link_module_load("evloop", &t->mod, err, sizeof err);
    cr_assert_eq(rc, 0, "load: %s", err);
    t->v = t->mod->v;
    link_params_defaults(t->v, t->params);
    for (int i = 0; i < nkv; i++)
        cr_assert_eq(link_params_set(t->v, t->params, keys[i], vals[i], err, sizeof err), 0, "%s", err);
    t->common.auto_close = true;
    t->common.max_msg_bytes = 1 << 20;
    t->common.rate_limit_per_s = rate;
    link_host_init(&t->impl);
    t->impl.base.on_readable = on_readable;
    t->impl.base.on_writable = on_writable;
    t->impl.base.on_closed = on_closed;
    link_host_set_drop_hook(&t->impl, on_drop, t);
    t->cap = cap;
    t->links = calloc((size_t)cap, sizeof *t->links);
    t->ready = rt_queue_create(1 << 16);
    t->echo = echo;
    t->drain = true;
    cr_assert(t->links && t->ready);
    struct link_start_args sa = {.host = &t->impl.base, .params = t->params, .common = &t->common};
    cr_assert_eq(t->v->start(&sa, &t->srv), 0);
    cr_assert_eq(rt_thread_spawn(&t->app, RT_GROUP_APP, "test-app", app_main, t), 0);

    t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = 0};
    sa4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(t->lfd, (struct sockaddr *)&sa4, sizeof sa4), 0);
    cr_assert_eq(listen(t->lfd, 1024), 0);
    socklen_t sl = sizeof sa4;
    getsockname(t->lfd, (struct sockaddr *)&sa4, &sl);
    t->port = ntohs(sa4.sin_port);
}

/* Stop the app thread and the variant; the links' records stay readable until th_stop. */
static void th_stop_variant(th *t)
{
    atomic_store(&t->stop, true);
    rt_thread_join(t->app);
    t->v->stop(t->srv);
    t->srv = NULL;
}

static void th_stop(th *t)
{
    if (t->srv)
        th_stop_variant(t);
    for (int i = 0; i < t->n; i++) {
        vsock_msg_free(t->links[i].held);
        vsock_destroy(t->links[i].c);
    }
    void *it;
    while (rt_queue_try_pop(t->ready, &it) == 0) {}
    rt_queue_destroy(t->ready);
    close(t->lfd);
    free(t->links);
    link_module_unload(t->mod);
}

static void nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A loopback TCP pair, upgraded by stepping both handshakes. */
static void tcp_pair(th *t, vsock **server, vsock **client)
{
    int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t->small_buffers) {
        setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, &t->small_buffers, sizeof t->small_buffers);
        setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &t->small_buffers, sizeof t->small_buffers);
    }
    struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons(t->port)};
    sa4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(cfd, (struct sockaddr *)&sa4, sizeof sa4), 0, "connect: %s", strerror(errno));
    int sfd = accept4(t->lfd, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(sfd, 0);
    if (t->small_buffers) {
        setsockopt(sfd, SOL_SOCKET, SO_RCVBUF, &t->small_buffers, sizeof t->small_buffers);
        setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &t->small_buffers, sizeof t->small_buffers);
    }
    nonblock(cfd);
    nonblock(sfd);
    vsock_opts o;
    vsock_opts_default(&o);
    o.max_msg_bytes = 1 << 20;
    vsock *s = vsock_tcp_wrap(sfd, VSOCK_SERVER, &o), *c = vsock_tcp_wrap(cfd, VSOCK_CLIENT, &o);
    cr_assert(s && c);
    int rs = -EAGAIN, rcl = -EAGAIN;
    for (int i = 0; i < 100000 && (rs || rcl); i++) {
        if (rcl) rcl = vsock_handshake_step(c, "127.0.0.1", "/");
        if (rs) rs = vsock_handshake_step(s, NULL, NULL);
        cr_assert(rcl == 0 || rcl == -EAGAIN, "client handshake %d", rcl);
        cr_assert(rs == 0 || rs == -EAGAIN, "server handshake %d", rs);
        if (rs || rcl) rt_sleep(20 * RT_US, NULL);
    }
    cr_assert(rs == 0 && rcl == 0);
    *server = s;
    *client = c;
}

static uint32_t th_open(th *t)
{
    cr_assert_lt(t->n, t->cap);
    uint32_t id = (uint32_t)t->n;
    vsock *s;
    tcp_pair(t, &s, &t->links[id].c);
    atomic_init(&t->links[id].cause, -1);
    t->n++;
    cr_assert_eq(t->v->attach(t->srv, s, id, &t->links[id].l), 0);
    return id;
}

#define WAIT_FOR(cond, limit)                                                 \
    do {                                                                      \
        rt_ns end_ = rt_deadline_in(limit);                                   \
        while (!(cond) && rt_now() < end_) rt_sleep(RT_MS, NULL);             \
    } while (0)

static int64_t group_live(rt_group g)
{
    rt_group_stats s;
    rt_group_get(g, &s);
    return s.live;
}

static int64_t loop_wakeups(void)
{
    rt_group_stats s;
    rt_group_get(RT_GROUP_LOOP, &s);
    return s.wakeups;
}

static int64_t vsock_syscalls(void)
{
    vsock_counters c;
    vsock_get_totals(&c);
    return c.sys_read + c.sys_write + c.sys_poll;
}

static int64_t counter(th *t, enum link_counter c)
{
    link_host_snapshot s;
    link_host_snapshot_get(&t->impl, &s);
    return s.counters[c];
}

static int64_t drops_total(th *t)
{
    link_host_snapshot s;
    link_host_snapshot_get(&t->impl, &s);
    return s.drops_total;
}

/* One message through a link and back. */
static void echo_once(th *t, uint32_t id, uint32_t len)
{
    static uint8_t buf[1 << 16];
    memset(buf, (int)id, len);
    cr_assert_eq(vsock_write(t->links[id].c, buf, len, VSOCK_BINARY, rt_deadline_in(5 * RT_S)), 0);
    vsock_msg *m = NULL;
    cr_assert_eq(vsock_read(t->links[id].c, &m, rt_deadline_in(5 * RT_S)), 0, "link %u: no echo", id);
    cr_assert_eq(m->len, len);
    vsock_msg_free(m);
}

#endif
