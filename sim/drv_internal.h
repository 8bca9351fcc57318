/* drv_internal.h — the driver's private state, shared by drv.c, drv_conn.c and drv_sched.c. */
#ifndef LINKBENCH_DRV_INTERNAL_H
#define LINKBENCH_DRV_INTERNAL_H

#include <arpa/inet.h>
#include <ev.h>
#include <signal.h>
#include <time.h>

#include "drv.h"
#include "rt.h"
#include "vsock.h"
#include "wire.h"

/* ---------------------------------------------------------------- pure helpers (drv_sched.c) */

/* splitmix64: tiny, seedable, good enough for arrival times and sizes. */
static inline uint64_t drv_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* Uniform in (0, 1]: never 0, so -log() is finite. */
static inline double drv_rng_unit(uint64_t *s)
{
    return ((double)(drv_rng_next(s) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

/* Interval to the next slot for a group (ns, >= 1). */
int64_t drv_sched_interval(const struct drv_group *g, uint64_t *rng);
/* Payload size of the next message (bytes, within [min, max]). */
uint32_t drv_sched_size(const struct drv_group *g, uint64_t *rng);

/* Receive-side sequence tracking for one direction of one link: a 1024-seq window of
 * what arrived below `next`, so late arrivals tell reordered from duplicate. */
#define DRV_WIN_BITS 1024
struct drv_seqtrack {
    uint64_t next;                       /* one past the highest seq received */
    uint64_t bits[DRV_WIN_BITS / 64];    /* bit (s % WIN) set: s received, for next-WIN <= s < next */
};
enum drv_rx { DRV_RX_NEW, DRV_RX_LATE, DRV_RX_DUP, DRV_RX_STALE };
/* Record seq s. NEW: *gap = seqs skipped below s (0 in order). LATE: s filled an
 * earlier gap (reordered). DUP: seen before. STALE: below the window. */
enum drv_rx drv_seq_rx(struct drv_seqtrack *t, uint64_t s, uint64_t *gap);
void drv_seq_reset(struct drv_seqtrack *t, uint64_t next);

/* ---------------------------------------------------------------- links */

enum drv_lstate { L_IDLE, L_CONNECTING, L_HANDSHAKE, L_OPEN, L_CLOSED, L_FAILED };

struct drv_link {
    ev_io rd, wr;                /* rd.data / wr.data point back here */
    vsock *s;
    int fd;
    uint32_t id;
    uint8_t group, state;
    bool stop_reading, wblocked, iblocked, dirty, ever_open;
    int32_t heap_pos;            /* index in the schedule heap, -1 when not in it */
    uint32_t src;                /* source address index: 127.0.0.(1 + src) */
    rt_ns next_t;                /* t_sched of the next slot */
    rt_ns t_conn;                /* when the current connect started */
    uint64_t slots_left;         /* UINT64_MAX = unlimited */
    uint64_t tx_seq;             /* next seq to send == echoes sent on this link */
    uint64_t seq_meas0;          /* first seq scheduled in the measured window */
    uint64_t rng;
    struct drv_seqtrack echo, push;
    struct drv_link *dirty_next;
    /* the census (drv_census.c): this connection's first seq and what came back on it */
    uint64_t conn_seq0;
    int64_t conn_echo_delivered, conn_push_delivered, conn_other;   /* other: dup, stale, bad */
    int64_t conn_gaps;           /* holes (echo and push) on this connection */
    int64_t unsent_end;          /* due slots never sent (counted when the run ended) */
    rt_ns blocked_at;            /* since when it cannot take a slot (socket not writable,
                                  * in_flight_max); 0: it can */
    rt_ns bp_from, bp_to;        /* its last such interval, ended */
    rt_ns *tsched;               /* t_sched of seq s at [s % DRV_RING] (seqs tx_seq-RING..) */
};

/* Schedule times each link keeps of its latest messages: censored latencies of those
 * not back (older ones are bounded by the oldest kept). */
#define DRV_RING 64

struct drv {
    struct drv_params p;
    struct ev_loop *loop;
    struct drv_link *links;
    uint32_t n_links;
    char host_hdr[64];
    uint32_t target_ip;          /* network order */
    uint32_t n_src;

    /* schedule: min-heap of links by next_t; the timerfd wakes for the top */
    struct drv_link **heap;
    uint32_t heap_n;
    int tfd;
    rt_ns tfd_armed;
    ev_io tfd_w;
    ev_prepare prep;
    ev_check chk;
    struct drv_link *dirty;

    ev_timer connect_t, progress_t, fault_t, drain_t;
    ev_timer churn_t[DRV_MAX_GROUPS];
    uint64_t churn_done[DRV_MAX_GROUPS];
    uint32_t churn_next[DRV_MAX_GROUPS];
    ev_async stop_w;
    volatile sig_atomic_t stop_req;

    struct drv_fault *faults;    /* params' faults plus the groups' stop_reading_at */
    int n_faults, fault_i;

    uint32_t next_connect;       /* links started so far by the ramp */
    int64_t pending_connects;    /* links in CONNECTING/HANDSHAKE */
    int64_t links_open;
    rt_ns t_start, t_load0, t_meas0, t_send_end, t_stop, t_last_open, t_drain0;
    enum drv_phase phase;
    int64_t outstanding;         /* echoes sent on open links and not yet resolved */
    int64_t backlog_links;

    uint8_t *scratch;            /* payload buffer: header + fill pattern */
    uint32_t scratch_len;

    met_hist *h_rtt, *h_rtt_unc, *h_out, *h_lag, *h_lag_own, *h_bp, *h_rx, *h_rtt_undel, *h_unsent;
    rt_ns *tsched;               /* every link's ring, n_links * DRV_RING */
    rt_ns t_wake;                /* the loop woke (check watcher): the receive-side delay's start */
    rt_ns t_end;
    struct drv_result r;         /* counters accumulate here during the run */
    int64_t lag_max_tick;
    int64_t n_tx_events, n_rx_events, clock_cost_ns;
    int64_t runq0, cpu0, cpu_meas0, cpu_meas1, cpu_tx, cpu_rx;
    bool cpu_meas0_set, cpu_meas1_set;
};

/* Spread over 127.0.0.x only towards a loopback target (drv_conn_start). */
static inline bool drv_target_loopback(const struct drv *d)
{
    return (ntohl(d->target_ip) >> 24) == 127;
}

static inline rt_ns drv_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (rt_ns)ts.tv_sec * RT_S + ts.tv_nsec;
}

/* drv_sched.c: the heap */
void drv_heap_push(struct drv *d, struct drv_link *L);
struct drv_link *drv_heap_pop(struct drv *d);
void drv_heap_remove(struct drv *d, struct drv_link *L);

/* drv_conn.c: connections */
void drv_conn_start(struct drv *d, struct drv_link *L);          /* socket, bind, connect */
void drv_conn_close(struct drv *d, struct drv_link *L, int how); /* how: DRV_FAULT_CLOSE/RESET */
void drv_conn_lost(struct drv *d, struct drv_link *L);           /* peer closed or error */
void drv_conn_check_timeouts(struct drv *d, rt_ns now);
void drv_ramp_cb(struct ev_loop *loop, ev_timer *w, int revents);
void drv_churn_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* drv.c: called by drv_conn.c */
void drv_link_opened(struct drv *d, struct drv_link *L);
void drv_link_closing(struct drv *d, struct drv_link *L);        /* before its socket goes */
void drv_read_cb(struct ev_loop *loop, ev_io *w, int revents);
void drv_write_cb(struct ev_loop *loop, ev_io *w, int revents);
void drv_ramp_progress(struct drv *d);                            /* a connect resolved */
void drv_prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents);
void drv_check_cb(struct ev_loop *loop, ev_check *w, int revents);
void drv_tfd_cb(struct ev_loop *loop, ev_io *w, int revents);
void drv_stop_cb(struct ev_loop *loop, ev_async *w, int revents);
void drv_progress_cb(struct ev_loop *loop, ev_timer *w, int revents);
void drv_fault_cb(struct ev_loop *loop, ev_timer *w, int revents);
/* Echo counter `off` += sign * |[a, b)|, split between the whole run and the window. */
void drv_echo_range(struct drv *d, const struct drv_link *L, size_t off, uint64_t a, uint64_t b, int64_t sign);
/* Slots due on L before `until` that will never be sent (link closed, run ended). */
void drv_count_unsent(struct drv *d, struct drv_link *L, rt_ns until, bool at_end);
/* Echoes due and not back, over the open links (walks each link's schedule on a copy of
 * its generator: nothing changes). */
int64_t drv_backlog(const struct drv *d, rt_ns now);
/* Progress callback now (phase changes). */
void drv_progress_now(struct drv *d);
/* Censored round trips of window echoes not back at t_end (drv_census.c). */
void drv_censor_rtt(struct drv *d);

#endif
