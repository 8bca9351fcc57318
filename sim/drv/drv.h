/* drv.h — the load generator: open-loop WebSocket clients on one libev thread, exact accounting. */
#ifndef LINKBENCH_DRV_H
#define LINKBENCH_DRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "met_hist.h"

/* How it works, in one paragraph. Links connect at connect_rate_per_s, spread over
 * source addresses 127.0.0.1..x. Each open link owns a schedule of slots (constant
 * interval or Poisson); slot k carries seq k and leaves at its scheduled time whatever
 * the server does. When the link cannot take it (the kernel refused bytes, or
 * in_flight_max reached) the slot waits in the schedule and its latency still runs
 * from t_sched (no coordinated omission). The links are split over `threads` threads,
 * each with its own epoll loop and its share of every group; each loop wakes for the
 * earliest due slot, sends everything due in one pass (one send per link) and reads
 * every readable link, but never wakes twice within one pacing tick (tick_ns): at high
 * rates one wake-up serves a tick's worth of messages, and a slot's lateness (lag) is
 * at most about a tick, charged to its latency, which still runs from its own t_sched.
 * An echo's arrival (t_recv) is the kernel's receive stamp of the segment that
 * completed it (SO_TIMESTAMPING), so reading it on the next tick does not add to its
 * round trip; the wait for the read is driver_rx_delay. Echoes and pushes are matched
 * by per-link sequence numbers.
 *
 * Load time 0 is the moment the ramp is done (every link of every thread open or
 * failed): faults and stop_reading_at_ns count from there. The measured window starts
 * warmup_ns later and lasts duration_ns; only slots scheduled inside it are measured,
 * but every message of the run is accounted for in drv_result.all. */

#define DRV_MAX_GROUPS 8
#define DRV_THREADS_MAX 64

enum drv_pattern { DRV_CONSTANT = 0, DRV_POISSON = 1 };
enum drv_size_dist { DRV_SIZE_FIXED = 0, DRV_SIZE_UNIFORM = 1, DRV_SIZE_EXPONENTIAL = 2 };

/* One group of links that behave alike. */
struct drv_group {
    uint32_t links;                 /* links in this group */
    double rate_per_s;              /* messages per second per link; 0 = this group sends nothing */
    enum drv_pattern pattern;       /* constant interval or Poisson arrivals */
    uint32_t payload_min_bytes;     /* >= 48 (the wire header); the size when FIXED */
    uint32_t payload_max_bytes;     /* upper bound for UNIFORM/EXPONENTIAL (ignored when FIXED) */
    enum drv_size_dist size_dist;   /* EXPONENTIAL: min + Exp(mean (max-min)/4), clipped at max */
    uint32_t in_flight_max;         /* echoes outstanding per link; 0 = open loop unlimited */
    uint64_t msgs_per_link;         /* slots per link then the link goes quiet; 0 = until the end */
    int64_t stop_reading_at_ns;     /* load time at which these links stop reading; < 0 never */
    double close_rate_per_s;        /* links of this group closed per second (churn); 0 none */
    bool reconnect;                 /* reopen a link closed by churn */
    double push_rate_per_s;         /* server pushes expected per link per second (report only) */
};

/* A fault the caller wants at a given load time (see drv_fault for the kinds). */
enum drv_fault_kind {
    DRV_FAULT_STOP_READING, DRV_FAULT_RESUME_READING,
    DRV_FAULT_CLOSE,    /* close frame 1000, then close (RST: SO_LINGER {1,0}) */
    DRV_FAULT_RESET     /* close at once with RST, no close frame */
};
struct drv_fault {
    int64_t at_ns;                  /* load time */
    enum drv_fault_kind kind;
    uint32_t link_first, link_count;
};

/* Counters handed to the progress callback (whole run so far). */
enum drv_phase { DRV_PHASE_RAMP, DRV_PHASE_WARMUP, DRV_PHASE_MEASURE, DRV_PHASE_DRAIN, DRV_PHASE_DONE };
struct drv_progress {
    int64_t t_ns;                   /* since drv_run started */
    enum drv_phase phase;
    int64_t links_open, links_failed;
    int64_t sent, delivered, pushes_received, in_flight;
    int64_t backlog_links;          /* links with due slots they could not send */
    int64_t cpu_ns;                 /* the driver threads' CPU since drv_run started */
    int64_t lag_max_ns;             /* worst t_sent - t_sched since the previous call */
    /* The measured window (CLOCK_MONOTONIC ns) once the ramp is done: its start, and its
     * planned end (0 when only a stop or the last slot will end it). The progress
     * callback is also called at once when the phase changes, so a server can take its
     * window at these same instants. */
    int64_t t_measure_start, t_measure_end;
};

struct drv;
typedef void (*drv_progress_fn)(struct drv *d, const struct drv_progress *p, void *arg);

struct drv_params {
    const char *host;               /* target IPv4 address (default "127.0.0.1") */
    uint16_t port;                  /* target port (required) */
    const char *path;               /* request path (default "/") */
    double connect_rate_per_s;      /* new connections per second; 0 = as fast as possible */
    int64_t connect_timeout_ns;     /* connect + handshake (default 10 s) */

    int n_groups;
    struct drv_group groups[DRV_MAX_GROUPS];

    int64_t warmup_ns;              /* after the ramp, excluded from measurement (default 0) */
    int64_t duration_ns;            /* measured window; 0 = until every group's msgs_per_link are
                                     * sent, or until drv_request_stop */
    int64_t drain_max_ns;           /* wait for echoes after the last send (default 1 s) */

    uint32_t src_addrs_min;         /* use at least this many of 127.0.0.1.. (default 1) */
    uint32_t links_per_src_max;     /* at most this many links per source address (default 10 000) */
    size_t pending_out_max_bytes;   /* a link with more queued bytes waits (default 256 KiB) */
    int64_t tick_ns;                /* pacing tick: a thread never wakes twice within it
                                     * (default 50 us; 1 us .. 10 ms) */
    int threads;                    /* loops, each on its own thread with its share of every
                                     * group's links (default 1; 1..DRV_THREADS_MAX) */
    size_t read_budget_bytes;       /* bytes read per readiness event per link (default 256 KiB) */
    int cpu;                        /* pin every thread to this CPU; -1 = no pinning */
    int cpus[DRV_THREADS_MAX];      /* when n_cpus > 0: thread i on cpus[i % n_cpus] instead */
    int n_cpus;
    uint64_t seed;                  /* PRNG seed for schedules and sizes (default 1) */

    double saturated_cpu_frac;      /* driver_saturated above this share of a core (default 0.8) */
    int64_t saturated_lag_ns;       /* ... or when p99 of its own lag (sending late, or reading
                                     * late) passes this (default 1 ms) and distorted the run
                                     * (drv_saturated) */
    int nice;                       /* each thread asks for this nice value (setpriority; 0 =
                                     * leave it): below the server's, the instrument is not
                                     * queued behind the threads it measures (default 0) */

    int64_t progress_interval_ns;   /* default 250 ms */
    drv_progress_fn progress;       /* may be NULL; called on thread 0 (drv_run's caller) with
                                     * every thread's figures (each at most one progress
                                     * interval old) */
    void *progress_arg;

    const struct drv_fault *faults; /* caller-owned, any order; may be NULL */
    int n_faults;

    int deflate;                    /* VSOCK_DEFLATE_*: the permessage-deflate offer (default off) */
    bool fill_random;               /* payload after the wire header: random bytes (seeded by
                                     * seed), not the a-z pattern */
};

/* Defaults for every field; the caller then sets port and groups. */
void drv_params_default(struct drv_params *p);
/* Pure validation. 0 or -EINVAL with a message "field: rule (got x)" in err. */
int drv_params_check(const struct drv_params *p, char *err, size_t errlen);
/* What drv_saturated looks at: the driver's own figures only. */
struct drv_sat_in {
    double cpu_util;                /* driver thread CPU / wall, over the window */
    int64_t lag_p99_ns;             /* p99 of the driver's own sending lag: t_sent - t_sched
                                     * less the time the link could not take the slot (socket
                                     * not writable, in_flight_max): the server's backpressure
                                     * is the server's, not the driver's */
    int64_t rx_delay_p99_ns;        /* p99 of the receive-side delay: from the kernel's
                                     * receive stamp to the driver's read */
    int64_t rtt_p99_ns;             /* round trip p99 (0: no round trips) */
};

/* Did the driver, not the variant, limit the run? Pure: the rule of drv_result's
 * driver_saturated. cpu: cpu_util > saturated_cpu_frac. lag: lag_p99_ns >
 * saturated_lag_ns and either at least the shortest mean interval between one link's
 * messages (the schedule lost its shape) or over half of rtt_p99_ns (the driver's
 * lateness would be most of the latency reported). rx: rx_delay_p99_ns >
 * saturated_lag_ns and over half of rtt_p99_ns (it read the echoes late). The
 * run-queue wait is no reason by itself: a driver that waited for its core yet sent and
 * read on time did not limit the run, and one that did not shows as lag. *why: "" or
 * the reasons joined by '+' ("cpu", "lag", "rx", "cpu+lag", ...). */
bool drv_saturated(const struct drv_params *p, const struct drv_sat_in *in, const char **why);

/* One direction's accounting. For echoes: scheduled == sent + unsent and
 * sent == delivered + gaps + in_flight + abandoned, exactly (corrupted echoes are among
 * the gaps, in flight or abandoned). For pushes the driver only
 * knows what arrived: delivered, duplicates, reordered, gaps below the highest seq. */
struct drv_dir {
    int64_t scheduled;              /* slots due before sending stopped */
    int64_t sent;                   /* written to the socket */
    int64_t unsent;                 /* due but still waiting in the driver at the end */
    int64_t delivered;              /* distinct seqs received back */
    int64_t duplicates;             /* a seq received again */
    int64_t reordered;              /* arrived after a higher seq (then not a gap) */
    int64_t gaps;                   /* never received, though a higher seq was */
    int64_t in_flight;              /* sent, after the last seq received when the run ended */
    int64_t abandoned;              /* outstanding on a link that closed during the run */
    int64_t stale;                  /* too late to tell duplicate from reordered (window) */
    int64_t bad;                    /* malformed header or wrong link id */
    int64_t corrupted;              /* echoes rejected: header failed validation (also in bad)
                                     * or fill pattern differs; pushes whose fill differs.
                                     * Never delivered, so an echo also shows as a gap or in
                                     * flight (a server that alters echoes is counted, not
                                     * trusted) */
};
struct drv_acct { struct drv_dir echo, push; };

/* Messages counted by the time they arrived (one window for messages and CPU): echoes
 * and pushes received in the measured window, and after it (the drain). */
struct drv_window {
    int64_t echo_delivered, push_delivered;     /* received in [t_measure_start, t_measure_end) */
    int64_t drain_echo_delivered, drain_push_delivered;   /* received at or after its end */
    int64_t backlog_start, backlog_end;         /* echoes due and not back (sent or not) at its
                                                 * start and end: growing = not keeping up */
};

struct drv_result {
    int64_t links_wanted, links_established, links_open_at_end;
    int64_t fail_connect, fail_handshake, fail_timeout, fail_emfile, fail_addr;
    int64_t closed_by_driver, closed_by_peer, reconnects;
    int64_t establish_ns;           /* run start to the last link open; -1 unless all opened */
    int64_t src_addrs_used;

    int64_t t_start, t_load0, t_measure_start, t_measure_end, t_end;   /* CLOCK_MONOTONIC ns */
    int64_t measure_ns;             /* t_measure_end - t_measure_start */
    bool stopped;                   /* ended by drv_request_stop */

    struct drv_acct all;            /* every message of the run */
    struct drv_acct measured;       /* slots scheduled in the window (pushes: received in it) */
    struct drv_window window;       /* by arrival time */
    double throughput_msgs_s;       /* echoes + pushes received in the window per second of it */

    /* Histograms in ns, measured window only; owned by the drv, valid until drv_destroy. */
    const met_hist *lat_rtt;             /* t_recv - t_sched */
    const met_hist *lat_rtt_uncorrected; /* t_recv - t_sent */
    const met_hist *lat_out;             /* echoes: t_recv - t_app; pushes: t_recv - t_sched
                                          * (the app's scheduled tick) */
    const met_hist *lag;                 /* t_sent - t_sched */
    const met_hist *lag_own;             /* the same less backpressure waits (drv_sat_in) */
    const met_hist *bp_wait;             /* the backpressure part of it (slots that waited) */
    const met_hist *rx_delay;            /* kernel's receive stamp -> the driver's read */
    /* Censored latency: the age at t_end (t_end - t_sched, a lower bound of its latency)
     * of every window echo sent on a link open at the end and not back by then, and of
     * every window slot still unsent at the end (never left the driver). */
    const met_hist *rtt_undelivered, *unsent_age;

    /* Self-check over the measured window (whole run when the window is empty). With
     * several threads: CPU and wake-ups summed, utilisation, lag and delays the worst
     * thread's (each thread is a core's worth of driver). */
    int64_t cpu_ns, wall_ns;
    int64_t cpu_user_ns, cpu_sys_ns;   /* the same CPU, user and system apart (getrusage) */
    double cpu_util;                /* cpu_ns / wall_ns of the busiest thread, 0..1 */
    int64_t lag_max_ns, lag_p99_ns;
    int64_t lag_own_p99_ns, rx_delay_p99_ns;
    bool driver_saturated;
    const char *saturated_why;      /* "", "cpu", "lag", "rx" or a combination (drv_saturated) */
    int64_t runq_wait_ns;           /* runnable but not running (whole run): others took the core;
                                     * reported, not a saturation reason by itself */
    int64_t wakeups;                /* the loops' wake-ups (returns from epoll) in the window */
    int64_t wakeups_kernel;         /* the threads' voluntary context switches in it: the
                                     * kernel's count of their sleeps (wait or tick) */
    int64_t syscalls;               /* the threads' system calls in it, counted by the kernel
                                     * (perf raw_syscalls:sys_enter); -1 where it will not count */
    int64_t tick_ns;                /* the pacing tick it ran with */
    int64_t nice;                   /* the nice value its threads ran at (the highest of them:
                                     * asking for less than the process had needs CAP_SYS_NICE) */
    int64_t threads;                /* threads (summed over merged results) */
    int64_t rx_reads, rx_stamped;   /* reads that returned data; of them with the kernel's stamp
                                     * (the rest are stamped with the read's time) */
};

/* Fold b into r (several threads' or processes' results): counts summed, establish
 * the latest, utilisation, lag and delays the worst, saturation if any (its reason
 * copied into why, which r->saturated_why then points to). Times and histograms are
 * left to the caller. */
void drv_result_merge(struct drv_result *r, const struct drv_result *b, char *why, size_t why_len);

/* Share k of n of p: every group split link by link into n runs of consecutive links
 * (a group's links % n shares take one more, the shares after the previous group's, so
 * that the totals differ by one at most; close_rate_per_s and connect_rate_per_s in
 * proportion), faults mapped onto
 * the share's own link indices (at most cap, in faults), and first_id[g] (when not
 * NULL) the index among p's links of the share's first link of its group g. 0, or
 * -EINVAL when the share holds no link. */
int drv_share(const struct drv_params *p, int k, int n, struct drv_params *out, struct drv_fault *faults,
              int cap, uint32_t *first_id);

/* Create a driver: validates params (-EINVAL, message in err), allocates links,
 * creates the loop. 0 and *out, or a negative errno. */
int drv_create(const struct drv_params *p, struct drv **out, char *err, size_t errlen);
/* Run to the end: thread 0 on the calling thread (pinned while it runs), the others
 * on threads of their own; then fill *r with their results merged (histograms
 * exactly, bucket by bucket). The threads share one load time 0, one window start
 * and one end (t_end: after every thread has drained). Links stay connected until
 * drv_destroy. Returns 0; connect failures are counted in *r, never fatal; -EALREADY
 * when it ran before, -EAGAIN when a thread could not start. */
int drv_run(struct drv *d, struct drv_result *r);
/* Close every link (close frame, then RST) and free. NULL is a no-op. */
void drv_destroy(struct drv *d);

/* Ask the run to stop: async-signal-safe, any thread. Sending stops (each thread's
 * window ends when it notices, the result's at the latest); echoes drain for at most
 * drain_max_ns; a second request ends the drain at once. */
void drv_request_stop(struct drv *d);

/* Local address of link i while it is open (for tests and reports): 0 or -ENOTCONN. */
int drv_link_local_addr(const struct drv *d, uint32_t i, uint32_t *ip_host_order, uint16_t *port);

/* The driver's census after drv_run, once the server's has been taken (run_acct.h):
 * one object per link still open, with what it sent and received on its connection,
 * its socket's census, its unsent slots and the schedule times of its latest
 * messages not yet back; "t_end" (the driver's end) beside them. New reference. */
json_t *drv_census(struct drv *d);

/* `linkbench bench driver` (argv[0] is "driver"): the driver's CPU per message over a
 * matrix of schedules beside the floor's (drv_floor.h), against an echo process on the
 * other core. Exit code 0, 1 (failed), 2 (usage). */
int drv_bench(int argc, char **argv);

#endif
