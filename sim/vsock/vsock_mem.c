/* vsock_mem.c — the mem backend: an in-process pair on a socketpair, with scripted I/O for tests. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vsock_internal.h"
#include "ws_pmd.h"

/* What both ends share: an injected reset hits the connection, not one end. */
struct mem_link {
    atomic_int refs;
    atomic_bool reset;
};

struct vsock_mem {
    vsock base;                  /* first: a vsock_mem is a vsock */
    struct mem_link *link;
    size_t read_chunk, write_chunk;   /* max bytes per call, 0 = unlimited */
    atomic_bool stop_reading;
};

static struct vsock_mem *as_mem(const vsock *s)
{
    return (struct vsock_mem *)s;
}

static ssize_t mem_recv(vsock *s, void *buf, size_t len)
{
    struct vsock_mem *m = as_mem(s);
    if (atomic_load(&m->link->reset))
        return -ECONNRESET;
    if (atomic_load(&m->stop_reading))
        return -EAGAIN;   /* no system call: the data stays in the kernel */
    if (m->read_chunk && len > m->read_chunk)
        len = m->read_chunk;
    for (;;) {
        s->c.sys_read++;
        ssize_t r = recv(s->fd, buf, len, MSG_DONTWAIT);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static ssize_t mem_send(vsock *s, const void *buf, size_t len)
{
    struct vsock_mem *m = as_mem(s);
    if (atomic_load(&m->link->reset))
        return -ECONNRESET;
    if (m->write_chunk && len > m->write_chunk)
        len = m->write_chunk;
    for (;;) {
        s->c.sys_write++;
        ssize_t r = send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static int mem_handshake_step(vsock *s, const char *host, const char *path)
{
    (void)host;
    (void)path;
    return s->hs_done ? 0 : -EINVAL;   /* both ends are made past the handshake */
}

static bool mem_rx_paused(const vsock *s)
{
    return atomic_load(&as_mem(s)->stop_reading) && !atomic_load(&as_mem(s)->link->reset);
}

static void mem_release(vsock *s)
{
    struct vsock_mem *m = as_mem(s);
    if (atomic_fetch_sub(&m->link->refs, 1) == 1)
        free(m->link);
    free(m);
}

static const struct vsock_backend mem_backend = {
    .name = "mem",
    .recv = mem_recv,
    .send = mem_send,
    .handshake_step = mem_handshake_step,
    .rx_paused = mem_rx_paused,
    .release = mem_release,
};

static struct vsock_mem *mem_new(int fd, enum vsock_role role, struct mem_link *l,
                                 const vsock_opts *o)
{
    struct vsock_mem *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    if (vsock__init(&m->base, &mem_backend, fd, role, o)) {
        free(m);
        return NULL;
    }
    m->base.hs_done = true;
    m->link = l;
    atomic_fetch_add(&l->refs, 1);
    atomic_init(&m->stop_reading, false);
    return m;
}

int vsock_mem_pair(vsock **server, vsock **client, const vsock_opts *o)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
        return -errno;
    struct mem_link *l = calloc(1, sizeof *l);
    if (!l) {
        close(sv[0]);
        close(sv[1]);
        return -ENOMEM;
    }
    atomic_init(&l->refs, 1);   /* ours until both ends hold it */
    atomic_init(&l->reset, false);
    struct vsock_mem *a = mem_new(sv[0], VSOCK_SERVER, l, o);
    struct vsock_mem *b = a ? mem_new(sv[1], VSOCK_CLIENT, l, o) : NULL;
    if (!b) {
        if (a)
            vsock_destroy(&a->base);
        else
            close(sv[0]);
        close(sv[1]);
        if (atomic_fetch_sub(&l->refs, 1) == 1)
            free(l);
        return -ENOMEM;
    }
    atomic_fetch_sub(&l->refs, 1);
    *server = &a->base;
    *client = &b->base;
    if (o && o->deflate != VSOCK_DEFLATE_OFF) {
        /* agreed as the tcp handshake would agree it: the client's offer, the server's
         * answer to it in the same mode */
        struct ws_pmd offer = {.server_max_window_bits = 15, .client_max_window_bits = 15,
                               .client_max_window_bits_ok = true,
                               .server_no_context_takeover = o->deflate == VSOCK_DEFLATE_NO_TAKEOVER,
                               .client_no_context_takeover = o->deflate == VSOCK_DEFLATE_NO_TAKEOVER};
        struct ws_pmd agreed;
        ws_pmd_agree(&offer, (enum ws_pmd_mode)o->deflate, &agreed);
        if (vsock__pmd_set(*server, &agreed) || vsock__pmd_set(*client, &agreed)) {
            vsock_destroy(*server);
            vsock_destroy(*client);
            return -ENOMEM;
        }
    }
    return 0;
}

void vsock_mem_set_chunk(vsock *s, size_t read_chunk, size_t write_chunk)
{
    if (s->be != &mem_backend)
        return;
    pthread_mutex_lock(&s->mu);
    as_mem(s)->read_chunk = read_chunk;
    as_mem(s)->write_chunk = write_chunk;
    pthread_mutex_unlock(&s->mu);
}

void vsock_mem_stop_reading(vsock *s, bool stop)
{
    if (s->be == &mem_backend)
        atomic_store(&as_mem(s)->stop_reading, stop);
}

/* Both ends' next I/O fails with ECONNRESET; shutting the socket down wakes whoever
 * waits on either end, as a real reset would. */
void vsock_mem_reset(vsock *s)
{
    if (s->be != &mem_backend)
        return;
    atomic_store(&as_mem(s)->link->reset, true);
    pthread_mutex_lock(&s->mu);
    if (s->fd >= 0)
        shutdown(s->fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
}
