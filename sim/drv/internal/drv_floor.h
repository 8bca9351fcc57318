/* drv_floor.h — the driver's floor: a minimal client with the driver's schedule, connections and batching, and nothing else. */
#ifndef LINKBENCH_DRV_FLOOR_H
#define LINKBENCH_DRV_FLOOR_H

#include <stdint.h>

#include "drv.h"

/* What the floor is for: the CPU a client must spend to offer a schedule over
 * loopback WebSocket connections, so that the driver's own cost (header, accounting,
 * histograms, framing, parsing) can be read as its excess over it. The floor sends the
 * driver's schedule (the same generator, seeds and first slots), through the driver's
 * wheel and the same pacing rule (drv_tick_wait: one wake-up per tick at most, one
 * send per due link per pass, one read pass per readable link), and makes only the
 * system calls that schedule requires: a send of prebuilt frames per due link, reads
 * into one buffer until a short read, epoll and the tick's sleep. It keeps no header,
 * no timestamp, no per-message accounting and no histogram: it counts bytes. Fixed
 * payload sizes only; connections are opened before its window, blocking. */
struct drv_floor_params {
    const char *host;               /* IPv4 (default 127.0.0.1) */
    uint16_t port;
    uint32_t links;
    double rate_per_s;              /* per link */
    enum drv_pattern pattern;
    uint32_t payload_bytes;         /* >= 2, < 65536 */
    int64_t tick_ns, warmup_ns, duration_ns;
    int cpu;                        /* -1 none */
    uint64_t seed;                  /* as drv_params.seed */
};
void drv_floor_params_default(struct drv_floor_params *p);

struct drv_floor_result {
    int64_t links_open;
    int64_t scheduled, sent, received;   /* messages in the window (slots by t_sched, echoes by
                                          * their read) */
    int64_t cpu_ns, cpu_user_ns, cpu_sys_ns, wall_ns;   /* its thread, over the window */
    int64_t wakeups, wakeups_kernel;     /* epoll returns; voluntary context switches */
    int64_t sends, reads;                /* its sends and reads in the window */
    int64_t syscalls;                    /* all its system calls in it, counted by the kernel; -1
                                          * where it will not count */
    int64_t lag_max_ns;                  /* latest send after its slot's time */
};

/* Run on the calling thread (pinned to p->cpu while it runs). 0, or a negative errno
 * with err (a link that cannot connect fails the floor: it has no accounting). */
int drv_floor_run(const struct drv_floor_params *p, struct drv_floor_result *r, char *err, size_t errlen);

#endif
