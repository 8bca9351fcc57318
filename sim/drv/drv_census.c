/* drv_census.c — the driver at its end: censored round trips of echoes not back, and its census (per open link: what it sent and got on its connection, its socket's holdings). */
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include "drv_internal.h"

/* Schedule time of seq s on L, or the latest time it can have been scheduled at when
 * s is older than the ring (seqs are scheduled in order): *exact says which. */
static rt_ns sched_of(const struct drv_link *L, uint64_t s, bool *exact)
{
    uint64_t oldest = L->tx_seq > DRV_RING ? L->tx_seq - DRV_RING : 0;
    *exact = s >= oldest;
    return L->tsched[(*exact ? s : oldest) % DRV_RING];
}

static bool received(const struct drv_seqtrack *t, uint64_t s)
{
    return s < t->next && s + DRV_WIN_BITS >= t->next && (t->bits[(s % DRV_WIN_BITS) / 64] >> (s % 64) & 1);
}

void drv_censor_rtt(struct drv_thr *t, rt_ns t_end)
{
    for (uint32_t i = 0; i < t->n_links; i++) {
        const struct drv_link *L = &t->links[i];
        if (L->state != L_OPEN || L->seq_meas0 == UINT64_MAX)
            continue;
        /* sent in the window and not back: the holes the seq window still tells, and
         * everything after the last seq back */
        uint64_t lo = L->echo.next > DRV_WIN_BITS ? L->echo.next - DRV_WIN_BITS : 0;
        if (lo < L->seq_meas0)
            lo = L->seq_meas0;
        for (uint64_t s = lo; s < L->tx_seq; s++) {
            if (received(&L->echo, s))
                continue;
            bool exact;
            met_hist_record(t->h[H_RTT_UNDEL], t_end - sched_of(L, s, &exact));
        }
    }
}

/* The link's socket in vsock_census's terms (vsock_census.h), from the driver's own
 * framing counts and the kernel's queues: messages are whole data messages framed out
 * or decoded in, bytes the stream's from its first (the handshake's too). */
static json_t *sock_json(const struct drv_link *L)
{
    const struct drv_ws *w = &L->ws;
    int kin = 0, kout = 0;
    bool fd_open = L->fd >= 0;
    if (fd_open) {
        ioctl(L->fd, SIOCINQ, &kin);
        /* unsent bytes only: on loopback a sent segment is at once in the peer's receive
         * queue, where its SIOCINQ counts it */
        ioctl(L->fd, SIOCOUTQNSD, &kout);
    }
    return json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "fd_open", fd_open,
                     "msgs_in", (json_int_t)w->msgs_in, "msgs_out", (json_int_t)w->msgs_out, "inbox",
                     (json_int_t)0, "partial_bytes", (json_int_t)drv_ws_partial(w),
                     "out_bytes", (json_int_t)(w->ob_len - w->ob_off), "bytes_in", (json_int_t)w->bytes_in,
                     "bytes_out", (json_int_t)w->bytes_out, "k_in", (json_int_t)kin,
                     "k_out", (json_int_t)kout, "tcp", (json_int_t)fd_open);
}

json_t *drv_census_links(struct drv_thr *t, rt_ns t_end, json_t *links)
{
    for (uint32_t i = 0; i < t->n_links; i++) {
        struct drv_link *L = &t->links[i];
        if (L->state != L_OPEN || L->fd < 0)
            continue;
        json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "link", (json_int_t)L->id,
            "ip", (json_int_t)L->ws.ip, "port", (json_int_t)L->ws.port, "seq0",
            (json_int_t)L->conn_seq0, "tx_seq", (json_int_t)L->tx_seq, "echo_next",
            (json_int_t)L->echo.next, "echo_delivered", (json_int_t)L->conn_echo_delivered,
            "push_delivered", (json_int_t)L->conn_push_delivered, "other",
            (json_int_t)L->conn_other, "push_next", (json_int_t)L->push.next, "unsent",
            (json_int_t)L->unsent_end);
        json_object_set_new(o, "meas0", json_integer(L->seq_meas0 == UINT64_MAX ? -1
                                                      : (json_int_t)L->seq_meas0));
        const struct drv_group *g = &t->p.groups[L->group];
        json_object_set_new(o, "gaps", json_integer(L->conn_gaps));
        json_object_set_new(o, "payload_min", json_integer(g->payload_min_bytes));
        json_object_set_new(o, "payload_max", json_integer(g->size_dist == DRV_SIZE_FIXED
                                                           ? g->payload_min_bytes : g->payload_max_bytes));
        json_object_set_new(o, "sock", sock_json(L));
        /* pushes missing below the last one received (the seq window tells) */
        json_t *holes = NULL;
        uint64_t lo = L->push.next > DRV_WIN_BITS ? L->push.next - DRV_WIN_BITS : 0;
        for (uint64_t s = lo; s < L->push.next; s++)
            if (!received(&L->push, s)) {
                if (!holes)
                    holes = json_array();
                json_array_append_new(holes, json_integer((json_int_t)s));
            }
        if (holes)
            json_object_set_new(o, "push_holes", holes);
        /* schedule times (ns before t_end) of the latest seqs sent and not back: the
         * ages of messages the app may not have taken (lat_in, censored) */
        uint64_t k0 = L->tx_seq > DRV_RING ? L->tx_seq - DRV_RING : 0;
        if (k0 < L->conn_seq0)
            k0 = L->conn_seq0;
        uint64_t e0 = L->echo.next > DRV_WIN_BITS ? L->echo.next - DRV_WIN_BITS : 0;
        if (k0 < e0)
            k0 = e0;
        json_t *ages = json_array();
        for (uint64_t s = k0; s < L->tx_seq; s++) {
            if (received(&L->echo, s))
                continue;
            json_array_append_new(ages, json_pack("[I,I]", (json_int_t)s,
                                                  (json_int_t)(t_end - L->tsched[s % DRV_RING])));
        }
        json_object_set_new(o, "ages_from", json_integer((json_int_t)k0));
        if (json_array_size(ages) > 0) {
            bool exact;
            json_object_set_new(o, "ages", ages);
            /* older seqs not back: at least as old as the oldest kept */
            json_object_set_new(o, "older_age_min", json_integer(
                (json_int_t)(t_end - sched_of(L, k0 > 0 ? k0 - 1 : 0, &exact))));
        } else {
            json_decref(ages);
        }
        json_array_append_new(links, o);
    }
    return links;
}
