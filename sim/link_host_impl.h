/* link_host_impl.h — the harness side of struct link_host: lock-free counters, drop hook, logging. */
#ifndef LINKBENCH_LINK_HOST_IMPL_H
#define LINKBENCH_LINK_HOST_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "link.h"

/* Called for every message a variant drops, before it is freed (so the app can account
 * it by sequence number). Any thread; must not block; must not keep m. */
typedef void (*link_drop_hook)(void *arg, const vsock_msg *m, enum link_drop_reason r);

/* Embeds struct link_host first: variants get &impl->base, the host casts back. */
typedef struct link_host_impl {
    struct link_host base;
    _Atomic int64_t drops[LINK_DROP_COUNT];
    _Atomic int64_t counters[LINK_C_COUNT];
    _Atomic int64_t closes[LINK_CLOSE_COUNT];
    link_drop_hook drop_hook;
    void *drop_arg;
    /* logging: off unless LINKBENCH_LOG=1; at most log_burst lines per second */
    bool log_on;
    int64_t log_burst;
    _Atomic int64_t log_window;      /* second (rt_now / 1 s) of the current window */
    _Atomic int64_t log_in_window;   /* lines printed in it */
    _Atomic int64_t log_suppressed;  /* lines not printed, all time */
} link_host_impl;

/* Counters at one moment (each read atomically; not a consistent cut across them). */
typedef struct link_host_snapshot {
    int64_t drops[LINK_DROP_COUNT];
    int64_t counters[LINK_C_COUNT];
    int64_t closes[LINK_CLOSE_COUNT];
    int64_t drops_total, closes_total, log_suppressed;
} link_host_snapshot;

/* Zero everything, callbacks NULL (the app sets base.app and base.on_*), logging as
 * LINKBENCH_LOG says. */
void link_host_init(link_host_impl *h);
void link_host_set_drop_hook(link_host_impl *h, link_drop_hook fn, void *arg);
/* Force logging on or off (tests; the env var only sets the default). */
void link_host_set_log(link_host_impl *h, bool on);
/* Count a close by cause (the app calls it from on_closed). */
void link_host_count_close(link_host_impl *h, enum link_close_cause c);
void link_host_snapshot_get(const link_host_impl *h, link_host_snapshot *out);
/* Zero the counters (after warm-up). */
void link_host_reset(link_host_impl *h);

static inline link_host_impl *link_host_impl_of(struct link_host *h)
{
    return (link_host_impl *)h;   /* base is the first member */
}

#endif
