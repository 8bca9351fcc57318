/* drv_echo.c — a minimal libev + vsock echo server thread, the driver's counterpart in tests and `bench driver`. */
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "drv_echo.h"
#include "rt.h"
#include "vsock.h"
#include "wire.h"

struct conn {
    ev_io rd, wr;
    vsock *s;
    int fd;
    bool open, paused;
    uint64_t n;                     /* echoes considered, for drop_every */
    uint64_t push_seq;
    struct conn *prev, *next;
    struct drv_echo *e;
};

struct drv_echo {
    struct drv_echo_params p;
    struct ev_loop *loop;
    ev_io lw;
    ev_async stop_w;
    int lfd;
    pthread_t th;
    clockid_t cpu_clock;
    atomic_bool cpu_clock_ready;
    struct conn *conns;
    struct drv_echo_stats st;
};

void drv_echo_params_default(struct drv_echo_params *p)
{
    memset(p, 0, sizeof *p);
    p->cpu = -1;
    p->dup_seq = -1;
    p->stamp_t_app = true;
    p->pause_above_bytes = 1u << 20;
}

static void conn_free(struct drv_echo *e, struct conn *c)
{
    ev_io_stop(e->loop, &c->rd);
    ev_io_stop(e->loop, &c->wr);
    vsock_destroy(c->s);
    if (c->prev) c->prev->next = c->next; else e->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    e->st.closed++;
    free(c);
}

/* Flush; on EAGAIN wait for writability, and pause reading while too much is queued
 * (without the pause a flooding client makes the queue grow without bound). */
static void flush(struct drv_echo *e, struct conn *c)
{
    int rc = vsock_flush(c->s);
    size_t q = vsock_pending_out(c->s);
    if ((int64_t)q > e->st.pending_max_bytes)
        e->st.pending_max_bytes = (int64_t)q;
    if (rc == -EAGAIN) {
        e->st.write_eagain += !ev_is_active(&c->wr);
        ev_io_start(e->loop, &c->wr);
        if (q > e->p.pause_above_bytes && !c->paused) {
            c->paused = true;
            e->st.read_pauses++;
            ev_io_stop(e->loop, &c->rd);
        }
    } else if (rc == 0) {
        ev_io_stop(e->loop, &c->wr);
        if (c->paused) {
            c->paused = false;
            ev_io_start(e->loop, &c->rd);
        }
    } else {
        conn_free(e, c);
    }
}

static void echo_msg(struct drv_echo *e, struct conn *c, vsock_msg *m)
{
    struct wire_hdr h;
    e->st.msgs_in++;
    int copies = 1;
    if (wire_get(m->data, m->len, &h) == 0) {
        if (e->p.stamp_t_app) {
            h.t_app = rt_now();
            wire_put(m->data, &h);
        }
        if (e->p.dup_seq >= 0 && h.seq == (uint64_t)e->p.dup_seq && h.kind == WIRE_ECHO) {
            copies = 2;
            e->st.duplicated++;
        }
    } else {
        e->st.not_wire++;
    }
    if (e->p.drop_every && ++c->n % e->p.drop_every == 0) {
        e->st.dropped++;
        return;
    }
    for (int i = 0; i < copies; i++)
        if (vsock_queue(c->s, m->data, m->len, m->opcode) == 0)
            e->st.msgs_out++;
    if (e->p.push_per_echo) {
        uint8_t buf[WIRE_HDR_BYTES];
        struct wire_hdr p = {.magic = WIRE_MAGIC, .kind = WIRE_PUSH, .link_id = 0, .len = WIRE_HDR_BYTES,
                             .seq = c->push_seq++, .t_sched = rt_now()};
        p.t_app = p.t_sched;
        wire_put(buf, &p);
        if (vsock_queue(c->s, buf, sizeof buf, VSOCK_BINARY) == 0)
            e->st.pushes_out++;
    }
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct conn *c = w->data;
    struct drv_echo *e = c->e;
    if (!c->open) {
        int rc = vsock_handshake_step(c->s, "127.0.0.1", "/");
        if (rc == -EAGAIN) {
            if (vsock_want_write(c->s)) { ev_io_stop(loop, &c->rd); ev_io_start(loop, &c->wr); }
            else { ev_io_stop(loop, &c->wr); ev_io_start(loop, &c->rd); }
            return;
        }
        if (rc < 0) {
            e->st.handshakes_failed++;
            conn_free(e, c);
            return;
        }
        e->st.handshakes_ok++;
        c->open = true;
        ev_io_stop(loop, &c->wr);
        ev_io_start(loop, &c->rd);
        ev_feed_event(loop, &c->rd, EV_READ);   /* bytes read with the request are buffered */
        return;
    }
    if (revents & EV_WRITE) {
        flush(e, c);
        return;
    }
    size_t n = 0;
    int rc = vsock_read_nb(c->s, 256 * 1024, &n);
    vsock_msg *m;
    while ((m = vsock_poll_msg(c->s))) {
        echo_msg(e, c, m);
        vsock_msg_free(m);
    }
    if (rc < 0 && rc != -EAGAIN) {
        conn_free(e, c);
        return;
    }
    flush(e, c);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct drv_echo *e = w->data;
    for (;;) {
        int fd = accept4(e->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        vsock_opts o;
        vsock_opts_default(&o);
        if (c)
            c->s = vsock_tcp_wrap(fd, VSOCK_SERVER, &o);
        if (!c || !c->s) {
            free(c);
            close(fd);
            continue;
        }
        e->st.accepted++;
        c->e = e;
        c->fd = fd;
        ev_io_init(&c->rd, io_cb, fd, EV_READ);
        ev_io_init(&c->wr, io_cb, fd, EV_WRITE);
        c->rd.data = c->wr.data = c;
        c->next = e->conns;
        if (e->conns)
            e->conns->prev = c;
        e->conns = c;
        ev_io_start(loop, &c->rd);
    }
}

static void stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)w; (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void *thread_main(void *arg)
{
    struct drv_echo *e = arg;
    pthread_setname_np(pthread_self(), "drv_echo");
    pthread_getcpuclockid(pthread_self(), &e->cpu_clock);
    atomic_store(&e->cpu_clock_ready, true);
    if (e->p.cpu >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(e->p.cpu, &one);
        sched_setaffinity(0, sizeof one, &one);
    }
    ev_run(e->loop, 0);
    while (e->conns)
        conn_free(e, e->conns);
    return NULL;
}

int drv_echo_start(const struct drv_echo_params *p, struct drv_echo **out, uint16_t *port)
{
    struct drv_echo *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->p = *p;
    e->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int rc = 0;
    if (e->lfd < 0 || bind(e->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(e->lfd, 4096) < 0 ||
        getsockname(e->lfd, (struct sockaddr *)&a, &len) < 0)
        rc = -errno;
    if (!rc && !(e->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV)))
        rc = -ENOMEM;
    if (rc) {
        if (e->lfd >= 0)
            close(e->lfd);
        free(e);
        return rc;
    }
    *port = ntohs(a.sin_port);
    ev_io_init(&e->lw, accept_cb, e->lfd, EV_READ);
    e->lw.data = e;
    ev_io_start(e->loop, &e->lw);
    ev_async_init(&e->stop_w, stop_cb);
    ev_async_start(e->loop, &e->stop_w);
    rc = pthread_create(&e->th, NULL, thread_main, e);
    if (rc) {
        ev_loop_destroy(e->loop);
        close(e->lfd);
        free(e);
        return -rc;
    }
    while (!atomic_load(&e->cpu_clock_ready))
        sched_yield();
    *out = e;
    return 0;
}

int64_t drv_echo_cpu_ns(const struct drv_echo *e)
{
    struct timespec ts;
    if (clock_gettime(e->cpu_clock, &ts) < 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void drv_echo_stop(struct drv_echo *e, struct drv_echo_stats *st)
{
    if (!e)
        return;
    ev_async_send(e->loop, &e->stop_w);
    pthread_join(e->th, NULL);
    if (st)
        *st = e->st;
    ev_io_stop(e->loop, &e->lw);
    ev_async_stop(e->loop, &e->stop_w);
    ev_loop_destroy(e->loop);
    close(e->lfd);
    free(e);
}
