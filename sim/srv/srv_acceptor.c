/* srv_acceptor.c — one loop thread: accept until EAGAIN, non-blocking upgrade with a deadline, ids in attach order. */
#include "srv_acceptor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A connection between accept and the end of its upgrade. */
typedef struct pending {
    struct pending *prev, *next;
    srv_acceptor *acc;
    vsock *s;
    rt_io *io;
    rt_timer *timer;
} pending;

struct srv_acceptor {
    srv_acceptor_opts o;
    app *a;
    int lfd;
    uint16_t port;
    rt_loop *loop;
    rt_io *lio;           /* the listener's watcher */
    rt_timer *retry;      /* restarts accepting after EMFILE/ENFILE */
    rt_async *wake;       /* srv_acceptor_stop: break the loop from another thread */
    atomic_bool stopping;
    rt_thread *t;
    pending *pend;        /* handshakes in progress (loop thread only) */
    struct {
        _Atomic int64_t accepted, accept_errors, fd_limit_pauses, hs_ok, hs_failed, hs_timeouts;
        _Atomic int64_t attached, attach_failed, attach_thread_limit, refused, pending;
    } st;
};

#define ADD(f, n) atomic_fetch_add_explicit(&acc->st.f, (n), memory_order_relaxed)

void srv_acceptor_opts_default(srv_acceptor_opts *o)
{
    memset(o, 0, sizeof *o);
    o->addr = "127.0.0.1";
    o->backlog = 4096;
    o->handshake_timeout_ns = 10 * RT_S;
    o->emfile_retry_ns = 100 * RT_MS;
    o->group = RT_GROUP_OTHER;
    vsock_opts_default(&o->vs);
}

static void pending_free(pending *p, bool destroy_sock)
{
    srv_acceptor *acc = p->acc;
    if (p->prev) p->prev->next = p->next;
    else acc->pend = p->next;
    if (p->next) p->next->prev = p->prev;
    rt_io_destroy(p->io);
    rt_timer_destroy(p->timer);
    if (destroy_sock) vsock_destroy(p->s);
    ADD(pending, -1);
    free(p);
}

/* Drive one upgrade as far as the socket allows. */
static void hs_step(pending *p)
{
    srv_acceptor *acc = p->acc;
    int rc = vsock_handshake_step(p->s, NULL, NULL);
    if (rc == -EAGAIN) {
        rt_io_set(p->io, vsock_want_write(p->s) ? RT_WRITE : RT_READ);
        return;
    }
    if (rc < 0) {
        /* pending first: who sees the failure counted sees it no longer pending */
        pending_free(p, true);
        ADD(hs_failed, 1);
        return;
    }
    ADD(hs_ok, 1);
    vsock *s = p->s;
    pending_free(p, false);   /* the watcher must be gone before the variant owns the fd */
    /* The id is taken now, not at accept: a failed or abandoned upgrade uses none (a
     * flood of bad connects once used up the whole link table), and ids follow attach
     * order, the order pair joins its links in. */
    rc = app_attach(acc->a, s, NULL);
    if (rc == 0) {
        ADD(attached, 1);
    } else if (rc == -ENOSPC) {
        ADD(refused, 1);   /* filled up while this one was upgrading */
    } else {
        /* a limit reached is a result, never an abort: count it and keep accepting */
        ADD(attach_failed, 1);
        if (rc == -EAGAIN) ADD(attach_thread_limit, 1);
    }
}

static void hs_io_cb(rt_io *w, int revents, void *arg)
{
    (void)w;
    (void)revents;
    hs_step(arg);
}

static void hs_timeout_cb(rt_timer *t, void *arg)
{
    (void)t;
    pending *p = arg;
    srv_acceptor *acc = p->acc;
    pending_free(p, true);
    ADD(hs_timeouts, 1);
    ADD(hs_failed, 1);
}

static void start_handshake(srv_acceptor *acc, int fd)
{
    if (app_links(acc->a) >= app_max_links(acc->a)) {   /* full: no upgrade for nothing */
        ADD(refused, 1);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pending *p = calloc(1, sizeof *p);
    vsock *s = p ? vsock_tcp_wrap(fd, VSOCK_SERVER, &acc->o.vs) : NULL;
    if (!s) {
        free(p);
        close(fd);
        ADD(hs_failed, 1);
        return;
    }
    p->acc = acc;
    p->s = s;
    p->io = rt_io_create(acc->loop, fd, hs_io_cb, p);
    p->timer = rt_timer_create(acc->loop, hs_timeout_cb, p);
    p->next = acc->pend;
    if (acc->pend) acc->pend->prev = p;
    acc->pend = p;
    ADD(pending, 1);
    if (!p->io || !p->timer) {
        pending_free(p, true);
        ADD(hs_failed, 1);
        return;
    }
    rt_timer_start(p->timer, acc->o.handshake_timeout_ns, 0);
    hs_step(p);   /* the request is often already there */
}

static void accept_cb(rt_io *w, int revents, void *arg)
{
    (void)w;
    (void)revents;
    srv_acceptor *acc = arg;
    for (;;) {
        int fd = accept4(acc->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            ADD(accepted, 1);
            start_handshake(acc, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* The pending connection stays in the backlog and the listener stays
             * readable: watching it now would spin. Pause and retry on a timer. */
            ADD(fd_limit_pauses, 1);
            rt_io_set(acc->lio, 0);
            rt_timer_start(acc->retry, acc->o.emfile_retry_ns, 0);
            return;
        }
        ADD(accept_errors, 1);
        return;
    }
}

static void retry_cb(rt_timer *t, void *arg)
{
    (void)t;
    srv_acceptor *acc = arg;
    rt_io_set(acc->lio, RT_READ);
    accept_cb(acc->lio, RT_READ, acc);
}

static void wake_cb(rt_async *w, void *arg)
{
    (void)w;
    srv_acceptor *acc = arg;
    if (atomic_load(&acc->stopping)) rt_loop_break(acc->loop);
}

static void loop_main(void *arg)
{
    srv_acceptor *acc = arg;
    rt_loop_run(acc->loop);
    /* Stopped: what is still upgrading is closed here, on the loop's own thread. */
    while (acc->pend) pending_free(acc->pend, true);
}

static int listen_on(srv_acceptor *acc)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(acc->o.port)};
    if (inet_pton(AF_INET, acc->o.addr ? acc->o.addr : "127.0.0.1", &sa.sin_addr) != 1)
        return -EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (acc->o.reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    socklen_t len = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, acc->o.backlog) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    acc->lfd = fd;
    acc->port = ntohs(sa.sin_port);
    return 0;
}

srv_acceptor *srv_acceptor_start(const srv_acceptor_opts *o, app *a, int *err)
{
    srv_acceptor *acc = calloc(1, sizeof *acc);
    *err = -ENOMEM;
    if (!acc) return NULL;
    acc->o = *o;
    acc->a = a;
    acc->lfd = -1;
    int rc = listen_on(acc);
    if (rc < 0) {
        *err = rc;
        free(acc);
        return NULL;
    }
    acc->loop = rt_loop_create();
    if (acc->loop) {
        acc->lio = rt_io_create(acc->loop, acc->lfd, accept_cb, acc);
        acc->retry = rt_timer_create(acc->loop, retry_cb, acc);
        acc->wake = rt_async_create(acc->loop, wake_cb, acc);
    }
    if (!acc->loop || !acc->lio || !acc->retry || !acc->wake) {
        srv_acceptor_destroy(acc);
        return NULL;
    }
    rt_io_set(acc->lio, RT_READ);
    rc = rt_thread_spawn(&acc->t, o->group, "acceptor", loop_main, acc);
    if (rc < 0) {
        *err = rc;
        srv_acceptor_destroy(acc);
        return NULL;
    }
    *err = 0;
    return acc;
}

uint16_t srv_acceptor_port(const srv_acceptor *acc) { return acc->port; }

void srv_acceptor_stop(srv_acceptor *acc)
{
    if (!acc || !acc->t) return;
    atomic_store(&acc->stopping, true);
    rt_async_send(acc->wake);
    rt_thread_join(acc->t);
    acc->t = NULL;
}

void srv_acceptor_destroy(srv_acceptor *acc)
{
    if (!acc) return;
    srv_acceptor_stop(acc);
    while (acc->pend) pending_free(acc->pend, true);
    rt_io_destroy(acc->lio);
    rt_timer_destroy(acc->retry);
    rt_async_destroy(acc->wake);
    rt_loop_destroy(acc->loop);
    if (acc->lfd >= 0) close(acc->lfd);
    free(acc);
}

void srv_acceptor_stats_get(srv_acceptor *acc, srv_acceptor_stats *o)
{
    o->accepted = atomic_load(&acc->st.accepted);
    o->accept_errors = atomic_load(&acc->st.accept_errors);
    o->fd_limit_pauses = atomic_load(&acc->st.fd_limit_pauses);
    o->handshakes_ok = atomic_load(&acc->st.hs_ok);
    o->handshakes_failed = atomic_load(&acc->st.hs_failed);
    o->handshake_timeouts = atomic_load(&acc->st.hs_timeouts);
    o->attached = atomic_load(&acc->st.attached);
    o->attach_failed = atomic_load(&acc->st.attach_failed);
    o->attach_thread_limit = atomic_load(&acc->st.attach_thread_limit);
    o->refused = atomic_load(&acc->st.refused);
    o->pending = atomic_load(&acc->st.pending);
}
