/* drv_conn.c — the driver's connections: ramp, source-address spreading, non-blocking connect + handshake, close, churn. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/net_tstamp.h>

#include "drv_internal.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* Tear the socket down; the caller has done the accounting. */
void drv_conn_free(struct drv_thr *t, struct drv_link *L, bool close_frame)
{
    (void)t;
    if (L->fd >= 0) {
        if (close_frame)
            drv_ws_close_frame(L, 1000);   /* best effort: the server sees a 1000 before the RST */
        close(L->fd);   /* leaves the epoll set with it */
    }
    L->ep = 0;
    L->fd = -1;
    drv_ws_reset(&L->ws);
}

/* A connect attempt failed in some phase: count it, free the socket, resolve the ramp. */
static void conn_fail(struct drv_thr *t, struct drv_link *L, int64_t *counter)
{
    (*counter)++;
    drv_conn_free(t, L, false);
    if (L->state == L_CONNECTING || L->state == L_HANDSHAKE)
        t->pending_connects--;
    L->state = L_FAILED;
    drv_ramp_progress(t);
}

void drv_conn_start(struct drv_thr *t, struct drv_link *L)
{
    L->fd = -1;
    L->ep = 0;
    L->state = L_CONNECTING;
    L->t_conn = rt_now();
    t->pending_connects++;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        /* the open-files limit is a result to report, not a reason to abort */
        conn_fail(t, L, (errno == EMFILE || errno == ENFILE) ? &t->r.fail_emfile : &t->r.fail_connect);
        return;
    }
    L->fd = fd;
    /* RST on close: a run leaves no TIME_WAIT behind to starve the next one of ports */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* the kernel stamps each segment as it arrives: a message's arrival time whatever
     * tick the loop reads it on (drv.h) */
    int ts = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof ts);
    /* a loopback target: bind the source address but let connect() pick the port per
     * destination, so each 127.0.0.x has its own 28 000 ports towards the server. Any
     * other target: the kernel's source address for the route (a 127.x source cannot
     * leave the host), 28 000 ports per destination address and port */
    if (drv_target_loopback(t->d)) {
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001u + L->src)};
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
            conn_fail(t, L, errno == EADDRNOTAVAIL ? &t->r.fail_addr : &t->r.fail_connect);
            return;
        }
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(t->p.port),
                              .sin_addr.s_addr = t->d->target_ip};
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
        conn_fail(t, L, errno == EADDRNOTAVAIL ? &t->r.fail_addr : &t->r.fail_connect);
        return;
    }
    drv_ep_set(t, L, EPOLLOUT);   /* writable = connected (or failed: SO_ERROR says) */
}

static void handshake(struct drv_thr *t, struct drv_link *L)
{
    int rc = drv_ws_hs_step(t, L);
    if (rc == 0) {
        t->pending_connects--;
        drv_link_opened(t, L);
    } else if (rc == 1) {
        drv_ep_set(t, L, EPOLLOUT);
    } else if (rc == -EAGAIN) {
        drv_ep_set(t, L, EPOLLIN);
    } else {
        conn_fail(t, L, &t->r.fail_handshake);
    }
}

void drv_conn_event(struct drv_thr *t, struct drv_link *L, uint32_t ev)
{
    (void)ev;
    if (L->state == L_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(L->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err == EINPROGRESS || err == EALREADY)
            return;
        if (err) {
            conn_fail(t, L, err == EADDRNOTAVAIL ? &t->r.fail_addr : &t->r.fail_connect);
            return;
        }
        struct sockaddr_in a;
        len = sizeof a;
        if (getsockname(L->fd, (struct sockaddr *)&a, &len) == 0) {
            L->ws.ip = ntohl(a.sin_addr.s_addr);
            L->ws.port = ntohs(a.sin_port);
        }
        if (drv_ws_hs_start(t, L) < 0) {
            conn_fail(t, L, &t->r.fail_handshake);
            return;
        }
        L->state = L_HANDSHAKE;
    }
    if (L->state == L_HANDSHAKE)
        handshake(t, L);
}

void drv_conn_close(struct drv_thr *t, struct drv_link *L, int how)
{
    bool open = L->state == L_OPEN;
    if (open) {
        drv_link_closing(t, L);
        t->r.closed_by_driver++;
    } else if (L->state == L_CONNECTING || L->state == L_HANDSHAKE) {
        t->pending_connects--;
        t->r.closed_by_driver++;
    } else {
        return;
    }
    drv_conn_free(t, L, how == DRV_FAULT_CLOSE && open);
    L->state = L_CLOSED;
    drv_ramp_progress(t);
}

void drv_conn_lost(struct drv_thr *t, struct drv_link *L)
{
    if (L->state != L_OPEN)
        return;
    drv_link_closing(t, L);
    t->r.closed_by_peer++;
    drv_conn_free(t, L, false);
    L->state = L_CLOSED;
}

void drv_conn_check_timeouts(struct drv_thr *t, rt_ns now)
{
    if (t->pending_connects == 0)
        return;
    for (uint32_t i = 0; i < t->n_links; i++) {
        struct drv_link *L = &t->links[i];
        if ((L->state == L_CONNECTING || L->state == L_HANDSHAKE) && now - L->t_conn > t->p.connect_timeout_ns)
            conn_fail(t, L, &t->r.fail_timeout);
    }
}

/* Start the connects that are due: connect_rate_per_s since the run began, in batches
 * of at most 1000 per look so one tick never stalls the loop for long. */
void drv_ramp(struct drv_thr *t, rt_ns now)
{
    uint64_t due = t->n_links;
    double rate = t->p.connect_rate_per_s;
    if (rate > 0)
        due = (uint64_t)((double)(now - t->d->t_start) * rate / 1e9) + 1;
    if (due > t->n_links)
        due = t->n_links;
    if (due > (uint64_t)t->next_connect + 1000)
        due = t->next_connect + 1000;
    bool stop = atomic_load(&t->d->stop_req) > 0;
    while (t->next_connect < due && !stop)
        drv_conn_start(t, &t->links[t->next_connect++]);
    if (t->next_connect >= t->n_links || stop) {
        t->next_connect = t->n_links;
        t->t_ramp = RT_NEVER;
        drv_ramp_progress(t);
    } else {
        t->t_ramp = now + (rate > 0 && rate < 1000 ? (rt_ns)(1e9 / rate) : RT_MS);
    }
}

/* Churn: close group g's links at close_rate_per_s, round robin; reopen if asked. */
void drv_churn(struct drv_thr *t, int g, rt_ns now)
{
    const struct drv_group *G = &t->p.groups[g];
    if (t->phase != DRV_PHASE_WARMUP && t->phase != DRV_PHASE_MEASURE)
        return;
    uint32_t first = 0;
    for (int i = 0; i < g; i++)
        first += t->p.groups[i].links;
    uint64_t due = (uint64_t)((double)(now - t->t_load0) * G->close_rate_per_s / 1e9);
    while (t->churn_done[g] < due) {
        t->churn_done[g]++;
        for (uint32_t k = 0; k < G->links; k++) {
            struct drv_link *L = &t->links[first + t->churn_next[g]];
            t->churn_next[g] = (t->churn_next[g] + 1) % G->links;
            if (L->state != L_OPEN)
                continue;
            drv_conn_close(t, L, DRV_FAULT_CLOSE);
            if (G->reconnect) {
                t->r.reconnects++;
                drv_conn_start(t, L);
            }
            break;
        }
    }
}
