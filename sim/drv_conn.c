/* drv_conn.c — the driver's connections: ramp, source-address spreading, non-blocking connect + handshake, close. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drv_internal.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents);

/* A connect attempt failed in some phase: count it, free the socket, resolve the ramp. */
static void conn_fail(struct drv *d, struct drv_link *L, int64_t *counter)
{
    (*counter)++;
    if (L->fd >= 0) {
        ev_io_stop(d->loop, &L->rd);
        ev_io_stop(d->loop, &L->wr);
    }
    if (L->s)
        vsock_destroy(L->s);
    else if (L->fd >= 0)
        close(L->fd);
    L->s = NULL;
    L->fd = -1;
    if (L->state == L_CONNECTING || L->state == L_HANDSHAKE)
        d->pending_connects--;
    L->state = L_FAILED;
    drv_ramp_progress(d);
}

void drv_conn_start(struct drv *d, struct drv_link *L)
{
    L->s = NULL;
    L->fd = -1;
    L->state = L_CONNECTING;
    L->t_conn = rt_now();
    d->pending_connects++;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        /* the open-files limit is a result to report, not a reason to abort */
        conn_fail(d, L, (errno == EMFILE || errno == ENFILE) ? &d->r.fail_emfile : &d->r.fail_connect);
        return;
    }
    L->fd = fd;
    /* RST on close: a run leaves no TIME_WAIT behind to starve the next one of ports */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* a loopback target: bind the source address but let connect() pick the port per
     * destination, so each 127.0.0.x has its own 28 000 ports towards the server. Any
     * other target: the kernel's source address for the route (a 127.x source cannot
     * leave the host), 28 000 ports per destination address and port */
    if (drv_target_loopback(d)) {
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001u + L->src)};
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
            conn_fail(d, L, errno == EADDRNOTAVAIL ? &d->r.fail_addr : &d->r.fail_connect);
            return;
        }
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(d->p.port),
                              .sin_addr.s_addr = d->target_ip};
    ev_io_init(&L->rd, conn_cb, fd, EV_READ);
    ev_io_init(&L->wr, conn_cb, fd, EV_WRITE);
    L->rd.data = L->wr.data = L;
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
        conn_fail(d, L, errno == EADDRNOTAVAIL ? &d->r.fail_addr : &d->r.fail_connect);
        return;
    }
    ev_io_start(d->loop, &L->wr);   /* writable = connected (or failed: SO_ERROR says) */
}

static void handshake(struct drv *d, struct drv_link *L)
{
    int rc = vsock_handshake_step(L->s, d->host_hdr, d->p.path);
    if (rc == 0) {
        ev_io_stop(d->loop, &L->rd);
        ev_io_stop(d->loop, &L->wr);
        d->pending_connects--;
        drv_link_opened(d, L);
        return;
    }
    if (rc != -EAGAIN) {
        conn_fail(d, L, &d->r.fail_handshake);
        return;
    }
    if (vsock_want_write(L->s)) {
        ev_io_stop(d->loop, &L->rd);
        ev_io_start(d->loop, &L->wr);
    } else {
        ev_io_stop(d->loop, &L->wr);
        ev_io_start(d->loop, &L->rd);
    }
}

static void conn_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct drv *d = ev_userdata(loop);
    struct drv_link *L = w->data;
    if (L->state == L_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(L->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err == EINPROGRESS || err == EALREADY)
            return;
        if (err) {
            conn_fail(d, L, err == EADDRNOTAVAIL ? &d->r.fail_addr : &d->r.fail_connect);
            return;
        }
        vsock_opts o;
        vsock_opts_default(&o);
        L->s = vsock_tcp_wrap(L->fd, VSOCK_CLIENT, &o);
        if (!L->s) {
            conn_fail(d, L, &d->r.fail_handshake);
            return;
        }
        L->state = L_HANDSHAKE;
    }
    if (L->state == L_HANDSHAKE)
        handshake(d, L);
}

/* Tear the socket down; the caller has done the accounting. */
static void conn_free(struct drv *d, struct drv_link *L, bool close_frame)
{
    if (L->fd >= 0) {
        ev_io_stop(d->loop, &L->rd);
        ev_io_stop(d->loop, &L->wr);
    }
    if (L->s) {
        if (close_frame) {
            /* best effort: the server sees a 1000 before the RST (SO_LINGER {1,0}) */
            vsock_close_nb(L->s, VSOCK_CLOSE_NORMAL);
            vsock_flush(L->s);
        }
        vsock_destroy(L->s);
    } else if (L->fd >= 0) {
        close(L->fd);
    }
    L->s = NULL;
    L->fd = -1;
}

void drv_conn_close(struct drv *d, struct drv_link *L, int how)
{
    if (L->state == L_OPEN) {
        drv_link_closing(d, L);
        d->r.closed_by_driver++;
    } else if (L->state == L_CONNECTING || L->state == L_HANDSHAKE) {
        d->pending_connects--;
        d->r.closed_by_driver++;
    } else {
        return;
    }
    conn_free(d, L, how == DRV_FAULT_CLOSE && L->state == L_OPEN);
    L->state = L_CLOSED;
    drv_ramp_progress(d);
}

void drv_conn_lost(struct drv *d, struct drv_link *L)
{
    if (L->state != L_OPEN)
        return;
    drv_link_closing(d, L);
    d->r.closed_by_peer++;
    conn_free(d, L, false);
    L->state = L_CLOSED;
}

void drv_conn_check_timeouts(struct drv *d, rt_ns now)
{
    if (d->pending_connects == 0)
        return;
    for (uint32_t i = 0; i < d->n_links; i++) {
        struct drv_link *L = &d->links[i];
        if ((L->state == L_CONNECTING || L->state == L_HANDSHAKE) &&
            now - L->t_conn > d->p.connect_timeout_ns)
            conn_fail(d, L, &d->r.fail_timeout);
    }
}

/* Start the connects that are due: connect_rate_per_s since the run began, in batches
 * of at most 1000 per callback so one tick never stalls the loop for long. */
void drv_ramp_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct drv *d = ev_userdata(loop);
    uint64_t due = d->n_links;
    if (d->p.connect_rate_per_s > 0)
        due = (uint64_t)((double)(rt_now() - d->t_start) * d->p.connect_rate_per_s / 1e9) + 1;
    if (due > d->n_links)
        due = d->n_links;
    if (due > (uint64_t)d->next_connect + 1000)
        due = d->next_connect + 1000;
    while (d->next_connect < due && !d->stop_req)
        drv_conn_start(d, &d->links[d->next_connect++]);
    if (d->next_connect >= d->n_links || d->stop_req) {
        d->next_connect = d->n_links;
        ev_timer_stop(loop, w);
        drv_ramp_progress(d);
    }
}

/* Churn: close group g's links at close_rate_per_s, round robin; reopen if asked. */
void drv_churn_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct drv *d = ev_userdata(loop);
    int g = (int)(intptr_t)w->data;
    const struct drv_group *G = &d->p.groups[g];
    if (d->phase != DRV_PHASE_WARMUP && d->phase != DRV_PHASE_MEASURE)
        return;
    uint32_t first = 0;
    for (int i = 0; i < g; i++)
        first += d->p.groups[i].links;
    uint64_t due = (uint64_t)((double)(rt_now() - d->t_load0) * G->close_rate_per_s / 1e9);
    while (d->churn_done[g] < due) {
        d->churn_done[g]++;
        for (uint32_t k = 0; k < G->links; k++) {
            struct drv_link *L = &d->links[first + d->churn_next[g]];
            d->churn_next[g] = (d->churn_next[g] + 1) % G->links;
            if (L->state != L_OPEN)
                continue;
            drv_conn_close(d, L, DRV_FAULT_CLOSE);
            if (G->reconnect) {
                d->r.reconnects++;
                drv_conn_start(d, L);
            }
            break;
        }
    }
}

int drv_link_local_addr(const struct drv *d, uint32_t i, uint32_t *ip_host_order, uint16_t *port)
{
    if (i >= d->n_links || d->links[i].state != L_OPEN)
        return -ENOTCONN;
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (getsockname(d->links[i].fd, (struct sockaddr *)&a, &len) < 0)
        return -errno;
    *ip_host_order = ntohl(a.sin_addr.s_addr);
    *port = ntohs(a.sin_port);
    return 0;
}
