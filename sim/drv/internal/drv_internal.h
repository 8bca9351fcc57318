/* drv_internal.h — the driver's private state: links, the per-thread engine (loop, wheel, counters), the shared conductor. */
#ifndef LINKBENCH_DRV_INTERNAL_H
#define LINKBENCH_DRV_INTERNAL_H

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <time.h>

#include "drv.h"
#include "rt.h"
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
/* The seed of link i's generator (the same for the driver and the floor). */
uint64_t drv_link_seed(uint64_t seed, uint32_t i);

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

/* ---------------------------------------------------------------- the send wheel (drv_wheel.c) */

/* Links waiting for their next slot, by time, in a two-level hashed wheel of tick-wide
 * buckets (4096 ticks, then 4096 spans of those; beyond, one list): adding, removing
 * and taking what is due cost O(1) per link whatever the number of links, where a
 * heap cost O(log n) per message. Bitmaps find the next non-empty bucket. */
#define DRV_WB 12                        /* bits per level */
#define DRV_WN (1u << DRV_WB)
struct drv_wnode {
    struct drv_wnode *next, **pprev;     /* pprev NULL: not in the wheel */
    rt_ns t;                             /* when it is due (exact) */
    uint64_t k;                          /* its tick: t / tick */
};
struct drv_wheel {
    rt_ns tick;
    uint64_t c;                          /* the tick last looked at (or started at) */
    struct drv_wnode *b0[DRV_WN], *b1[DRV_WN], *ovf;
    uint64_t m0[DRV_WN / 64], m1[DRV_WN / 64];   /* non-empty buckets */
    uint64_t s0, s1;                     /* non-empty words of m0, m1 */
    uint64_t n;                          /* nodes in the wheel */
};
void drv_wheel_init(struct drv_wheel *w, rt_ns tick, rt_ns now);
void drv_wheel_add(struct drv_wheel *w, struct drv_wnode *x, rt_ns t);
void drv_wheel_del(struct drv_wheel *w, struct drv_wnode *x);
/* Take every node of the ticks up to now's out of the wheel, as a list through ->next
 * (one of now's own tick may be due a little later: the caller puts it back). The
 * cursor stays on now's tick, so a node added late is taken by the next look. */
struct drv_wnode *drv_wheel_due(struct drv_wheel *w, rt_ns now);
/* When the loop must next look at the wheel, not before not_before: the earliest due
 * time (exact when it is after not_before), or the start of the next span to unfold.
 * RT_NEVER when empty. */
rt_ns drv_wheel_next(const struct drv_wheel *w, rt_ns not_before);

/* ---------------------------------------------------------------- WebSocket client bytes (drv_ws.c) */

struct drv_hs;   /* the opening handshake in progress */

/* One connection's bytes above the kernel: the driver frames and parses its own
 * (client side: it masks what it sends; the server's frames come unmasked). */
struct drv_ws {
    uint8_t *ob;                 /* framed, not yet taken by the kernel: ob[ob_off..ob_len) */
    size_t ob_cap, ob_off, ob_len;
    uint8_t *rb;                 /* received bytes of a frame not yet whole */
    size_t rb_cap, rb_len;
    uint8_t *frag;               /* payload of a fragmented message so far */
    size_t frag_cap, frag_len;
    bool in_frag;
    int64_t msgs_in, msgs_out, bytes_in, bytes_out;   /* since the connection opened */
    rt_ns t_read;                /* end of its previous read when that emptied the socket (the
                                  * next stamp is no earlier); 0 otherwise */
    uint32_t ip;                 /* local address, host order (the census joins by it) */
    uint16_t port;
    struct drv_hs *hs;
    struct drv_pmd *pmd;         /* permessage-deflate, when the upgrade agreed it */
    bool in_z;                   /* the fragmented message being assembled is compressed */
};

/* ---------------------------------------------------------------- links */

enum drv_lstate { L_IDLE, L_CONNECTING, L_HANDSHAKE, L_OPEN, L_CLOSED, L_FAILED };

struct drv_link {
    struct drv_wnode wn;         /* in the send wheel while it has a slot to wait for */
    int fd;
    uint32_t id;                 /* index among the drv's links (the wire header's link_id) */
    uint32_t local;              /* index among its thread's links (epoll's data) */
    uint8_t group, state;
    bool stop_reading, wblocked, iblocked, ever_open;
    uint32_t ep;                 /* events registered with epoll (0: not registered) */
    uint32_t src;                /* source address index: 127.0.0.(1 + src) */
    rt_ns next_t;                /* t_sched of the next slot */
    rt_ns t_conn;                /* when the current connect started */
    rt_ns t_reading_since;       /* when it last resumed reading (a stall fault): what arrived
                                  * before lay unread by the scenario's choice, not the driver's */
    uint64_t slots_left;         /* UINT64_MAX = unlimited */
    uint64_t tx_seq;             /* next seq to send == echoes sent on this link */
    uint64_t seq_meas0;          /* first seq scheduled in the measured window */
    uint64_t rng;
    struct drv_seqtrack echo, push;
    /* the census (drv_census.c): this connection's first seq and what came back on it */
    uint64_t conn_seq0;
    int64_t conn_echo_delivered, conn_push_delivered, conn_other;   /* other: dup, stale, bad */
    int64_t conn_gaps;           /* holes (echo and push) on this connection */
    int64_t unsent_end;          /* due slots never sent (counted when the run ended) */
    rt_ns blocked_at;            /* since when it cannot take a slot (socket not writable,
                                  * in_flight_max); 0: it can */
    rt_ns bp_from, bp_to;        /* its last such interval, ended */
    rt_ns *tsched;               /* t_sched of seq s at [s % DRV_RING] (seqs tx_seq-RING..) */
    struct drv_ws ws;
};

/* Schedule times each link keeps of its latest messages: censored latencies of those
 * not back (older ones are bounded by the oldest kept). */
#define DRV_RING 64

/* ---------------------------------------------------------------- one thread's engine */

/* Histograms, in drv_result's order (run_drvs moves them in it too). */
enum { H_RTT, H_RTT_UNC, H_OUT, H_LAG, H_LAG_OWN, H_BP, H_RX, H_RTT_UNDEL, H_UNSENT, DRV_NHIST };

/* What a thread shows the progress callback (written by it, summed by thread 0). */
struct drv_pub {
    _Atomic int64_t links_open, links_failed, sent, delivered, pushes, in_flight, backlog_links;
    _Atomic int64_t cpu_ns, lag_max_ns;
};

struct drv_thr {
    struct drv *d;
    int idx;
    struct drv_params p;         /* its share: its groups' links, its faults (local indices) */
    uint32_t n_links;
    struct drv_link *links;
    rt_ns *tsched;               /* every link's ring, n_links * DRV_RING */
    uint32_t n_src;
    int cpu;                     /* pinned here while it runs; -1 none */
    int nice;                    /* the nice value it ran at */
    pthread_t th;
    bool thread_started;

    int epfd, evfd;              /* its loop, and the eventfd others wake it with */
    struct epoll_event *evs;
    struct drv_wheel wheel;
    rt_ns t_wake;                /* its last wake-up (the tick is counted from there) */
    int64_t wakeups, wakeups_m0, wakeups_m1;

    uint8_t *tx;                 /* frames built for one send */
    size_t tx_cap;
    uint8_t *rx;                 /* one read */
    size_t rx_cap;
    uint8_t *fill;               /* the payload pattern */
    uint32_t fill_len;
    uint8_t *rand;               /* payload_fill random: DRV_RAND_SPAN + fill_len seeded bytes */
    uint8_t *zbuf;               /* a server message inflated (permessage-deflate) */
    size_t zcap;
    rt_ns rt_off;                /* CLOCK_REALTIME - CLOCK_MONOTONIC, for the kernel's stamps */
    bool rt_off_set;
    uint64_t mask_rng;

    /* its timers (deadlines on the loop's clock; RT_NEVER: off) */
    rt_ns t_ramp, t_progress, t_fault, t_phase, t_drain, t_churn[DRV_MAX_GROUPS];
    uint64_t churn_done[DRV_MAX_GROUPS];
    uint32_t churn_next[DRV_MAX_GROUPS];
    struct drv_fault *faults;    /* its share's faults plus the groups' stop_reading_at */
    int n_faults, fault_i;

    uint32_t next_connect;       /* links started so far by the ramp */
    int64_t pending_connects;    /* links in CONNECTING/HANDSHAKE */
    int64_t links_open;
    bool ramp_told, load_begun, stop_seen, drain_told, done;
    int stop_handled;            /* stop requests taken so far */
    rt_ns t_load0, t_meas0, t_send_end, t_stop, t_last_open;
    enum drv_phase phase;
    int64_t outstanding;         /* echoes sent on open links and not yet resolved */
    int64_t lag_max_tick;
    int last_global_phase;       /* thread 0: the phase last told to the progress callback */

    met_hist *h[DRV_NHIST];
    struct drv_result r;         /* counters accumulate here during the run */
    int64_t runq0, runq_end, cpu0, cpu_end, cpu_meas0, cpu_meas1;
    int64_t ut_m0, st_m0, ut_m1, st_m1, ut_end, st_end, ut0, st0;   /* user/system CPU marks (ns) */
    int64_t vcsw0, vcsw_m0, vcsw_m1, vcsw_end;   /* voluntary context switches: the kernel's wake-ups */
    int scfd;                    /* the kernel's count of its system calls (-1: none) */
    int64_t sc0, sc_m0, sc_m1, sc_end;
    bool cpu_meas0_set, cpu_meas1_set;
    int64_t reads, stamped;      /* reads that returned data; of them with a kernel stamp */
    struct drv_pub pub;
};

/* ---------------------------------------------------------------- the shared conductor */

struct drv {
    struct drv_params p;         /* as given: every link */
    uint32_t n_links;
    int n_thr;
    struct drv_thr *thr;
    struct drv_link **by_id;     /* link id -> its link (in whichever thread) */
    char host_hdr[64];
    uint32_t target_ip;          /* network order */

    _Atomic int stop_req;
    _Atomic int ramps_left;      /* threads whose connects are not all resolved */
    _Atomic int sending_left;    /* threads still sending */
    _Atomic int drains_left;     /* threads not yet drained */
    _Atomic int64_t t_load0;     /* 0 until every thread's ramp is done */
    _Atomic int64_t t_stop_max;  /* the latest thread's end of sending */
    rt_ns t_start, t_end;
    bool ran;

    met_hist *h[DRV_NHIST];      /* the threads' merged */
    struct drv_result r;
    char why[32];
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

static inline bool drv_sending(const struct drv_thr *t)
{
    return t->phase <= DRV_PHASE_MEASURE;
}

/* drv_ws.c: the connection's bytes */
void drv_ws_reset(struct drv_ws *w);                       /* free its buffers */
int drv_ws_hs_start(struct drv_thr *t, struct drv_link *L); /* build the request: 0, -ENOMEM */
/* Advance the handshake: 0 done (frames that came with the answer are kept in rb),
 * -EAGAIN (wait: writable when drv_ws_want_write), other negative: failed. */
int drv_ws_hs_step(struct drv_thr *t, struct drv_link *L);
/* Frame one message (masked) at dst, which has room for len + 14; returns its size. */
size_t drv_ws_frame(struct drv_thr *t, uint8_t *dst, const uint8_t *payload, size_t len);
/* Frame one driver message at dst: payload = the header h, then the fill pattern up to
 * len bytes. Returns the frame's size (len + 6 .. len + 14). */
size_t drv_ws_frame_msg(struct drv_thr *t, uint8_t *dst, const struct wire_hdr *h, uint32_t len);
/* The same through the link's compressor when permessage-deflate was agreed (RSV1; the
 * frame is at most drv_ws_frame_room bytes): its size, 0 when deflate failed. */
size_t drv_ws_frame_msg_z(struct drv_thr *t, struct drv_ws *w, uint8_t *dst,
                          const struct wire_hdr *h, uint32_t len);
/* Room a message of len payload bytes may take framed on this link. */
size_t drv_ws_frame_room(const struct drv_ws *w, size_t len);
/* Append bytes to the output kept for later: 0, -ENOMEM. */
int drv_ws_keep(struct drv_ws *w, const uint8_t *b, size_t n);
/* Write what is kept: 0 all out, -EAGAIN some left, other negative: failed. */
int drv_ws_flush(struct drv_link *L);
/* Read what the socket has (budget bytes at most) and hand each message to on_msg with
 * its arrival time; 0, -EPIPE (closed: by a close frame or EOF), other negative. */
typedef void (*drv_msg_fn)(struct drv_thr *t, struct drv_link *L, const uint8_t *m, uint32_t len,
                           rt_ns t_recv);
int drv_ws_read(struct drv_thr *t, struct drv_link *L, size_t budget, drv_msg_fn on_msg);
/* Payload bytes of a message not yet whole (the census's partial_bytes). */
int64_t drv_ws_partial(const struct drv_ws *w);
void drv_ws_close_frame(struct drv_link *L, int code);    /* best effort, before the RST */

/* drv_ws_pmd.c: permessage-deflate (RFC 7692) as agreed in the upgrade */
struct ws_pmd;
int drv_pmd_start(struct drv_ws *w, const struct ws_pmd *agreed);   /* 0, -ENOMEM */
void drv_pmd_free(struct drv_ws *w);
size_t drv_pmd_room(size_t len);   /* deflate's output for len bytes is at most this */
/* a then b, one message, into out: compressed bytes (tail stripped), 0 on failure */
size_t drv_pmd_deflate(struct drv_ws *w, uint8_t *out, size_t room, const void *a, size_t an,
                       const void *b, size_t bn);
/* n compressed bytes inflated into t->zbuf: 0 with *out_len, -EMSGSIZE (over limit),
 * -EPROTO (not a deflate stream), -ENOMEM */
int drv_pmd_inflate(struct drv_thr *t, struct drv_ws *w, const uint8_t *in, size_t n,
                    size_t limit, size_t *out_len);

/* drv_loop.c: the thread's loop */
/* The pacing rule, shared with the floor (drv_floor.c): wait on epfd until dl (RT_NEVER:
 * until something is ready), but never return within tick of *t_wake, the previous
 * wake-up: a loop woken earlier sleeps out the rest of its tick first, so what becomes
 * ready meanwhile is taken in one pass. Sets *t_wake; returns epoll's count. */
int drv_tick_wait(int epfd, struct epoll_event *evs, int maxev, rt_ns *t_wake, rt_ns tick, rt_ns dl);
int drv_loop_init(struct drv_thr *t);
void drv_loop_fini(struct drv_thr *t);
void drv_loop_run(struct drv_thr *t);
void drv_ep_set(struct drv_thr *t, struct drv_link *L, uint32_t events);   /* 0: off */
void drv_wake(struct drv_thr *t);                          /* async-signal-safe */
void drv_wake_all(struct drv *d);                          /* async-signal-safe */

/* drv.c: the engine */
void drv_send_pass(struct drv_thr *t, rt_ns until);        /* every slot due by until */
void drv_on_readable(struct drv_thr *t, struct drv_link *L);
void drv_on_writable(struct drv_thr *t, struct drv_link *L);
void drv_link_opened(struct drv_thr *t, struct drv_link *L);
void drv_link_closing(struct drv_thr *t, struct drv_link *L);   /* before its socket goes */
void drv_reschedule(struct drv_thr *t, struct drv_link *L);
/* Echo counter `off` += sign * |[a, b)|, split between the whole run and the window. */
void drv_echo_range(struct drv_thr *t, const struct drv_link *L, size_t off, uint64_t a, uint64_t b,
                    int64_t sign);
/* Slots due on L before `until` that will never be sent (link closed, run ended). */
void drv_count_unsent(struct drv_thr *t, struct drv_link *L, rt_ns until, bool at_end);
/* Echoes due and not back, over the open links (walks each link's schedule on a copy of
 * its generator: nothing changes). */
int64_t drv_backlog(const struct drv_thr *t, rt_ns now);

/* drv_phase.c: phases, timers, faults, progress */
void drv_timers(struct drv_thr *t, rt_ns now);             /* run what is due */
rt_ns drv_timers_next(const struct drv_thr *t);
void drv_ramp_progress(struct drv_thr *t);                 /* a connect resolved */
void drv_stop_sending(struct drv_thr *t);
void drv_count_mode_check(struct drv_thr *t);              /* every slot sent: stop */
void drv_check_drained(struct drv_thr *t);
void drv_take_stop(struct drv_thr *t);                     /* a stop request came */
void drv_publish(struct drv_thr *t);
void drv_mark_start(struct drv_thr *t);                    /* its CPU at the start, on the thread */
/* A perf counter of the calling thread's system calls (raw_syscalls:sys_enter), or -1
 * when this machine will not count them; its count so far, or -1. */
int drv_syscall_counter(void);
int64_t drv_syscall_count(int fd);
void drv_mark_end(struct drv_thr *t);                      /* ... and at the end */
void drv_progress_now(struct drv_thr *t);
int drv_fault(struct drv_thr *t, enum drv_fault_kind kind, uint32_t first, uint32_t count);

/* drv_conn.c: connections */
void drv_conn_start(struct drv_thr *t, struct drv_link *L);          /* socket, bind, connect */
void drv_conn_event(struct drv_thr *t, struct drv_link *L, uint32_t ev);   /* connecting, handshake */
void drv_conn_close(struct drv_thr *t, struct drv_link *L, int how); /* how: DRV_FAULT_CLOSE/RESET */
void drv_conn_lost(struct drv_thr *t, struct drv_link *L);           /* peer closed or error */
void drv_conn_free(struct drv_thr *t, struct drv_link *L, bool close_frame);
void drv_conn_check_timeouts(struct drv_thr *t, rt_ns now);
void drv_ramp(struct drv_thr *t, rt_ns now);
void drv_churn(struct drv_thr *t, int g, rt_ns now);

/* drv_census.c */
void drv_censor_rtt(struct drv_thr *t, rt_ns t_end);
json_t *drv_census_links(struct drv_thr *t, rt_ns t_end, json_t *links);

/* The fill after a message's wire header. payload_fill random: each message takes it at
 * its own offset in a span of random bytes, so that no message repeats what one
 * deflate's 32 KiB window still holds (the same fill every time is one back-reference
 * under context takeover: measured 0.03 wire bytes per payload byte). The echo is
 * checked at the same offset, from its header's link and seq. */
#define DRV_RAND_SPAN ((uint32_t)4 << 20)
static inline const uint8_t *drv_fill(const struct drv_thr *t, uint32_t link, uint64_t seq)
{
    if (!t->rand)
        return t->fill + WIRE_HDR_BYTES;
    uint64_t x = (seq + 1) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)link * 0xC2B2AE3D27D4EB4FULL;
    x ^= x >> 29;
    return t->rand + x % DRV_RAND_SPAN;
}

#endif
