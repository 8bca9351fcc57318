/* link_host_impl.h — the harness side of struct link_host: lock-free counters, drop hook, logging. */
#ifndef LINKBENCH_LINK_HOST_IMPL_H
#define LINKBENCH_LINK_HOST_IMPL_H

#include <pthread.h>
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
    /* The variants' log (link_host_log), modelled on the seed's logger (ego's elog: zap's
     * JSON encoder into one 256 KiB buffer behind a mutex, written out when a line does
     * not fit and every 5 s): every line is formatted and counted; with a file it is
     * also buffered and written. Rate-unlimited, as in the seed. */
    bool log_on;                     /* false: link_host_log returns at once */
    int log_fd;                      /* -1: lines are formatted and counted, not kept */
    pthread_mutex_t log_mu;          /* guards the buffer and the writes */
    char *log_buf;                   /* LINK_HOST_LOG_BUF_BYTES, made with the file */
    size_t log_len;
    rt_ns log_flushed_at;
    _Atomic int64_t log_lines, log_bytes, log_writes;
    _Atomic int64_t log_busy_ns;     /* time threads spent inside link_host_log */
} link_host_impl;

#define LINK_HOST_LOG_BUF_BYTES ((size_t)256 << 10)   /* elog's FlushBufferSize */
#define LINK_HOST_LOG_FLUSH_NS ((rt_ns)5 * RT_S)       /* elog's FlushBufferInterval */

/* Counters at one moment (each read atomically; not a consistent cut across them). */
typedef struct link_host_snapshot {
    int64_t drops[LINK_DROP_COUNT];
    int64_t counters[LINK_C_COUNT];
    int64_t closes[LINK_CLOSE_COUNT];
    int64_t drops_total, closes_total;
    int64_t log_lines, log_bytes, log_writes, log_busy_ns;
} link_host_snapshot;

/* Zero everything, callbacks NULL (the app sets base.app and base.on_*), logging on
 * with no file (lines counted, not kept). */
void link_host_init(link_host_impl *h);
void link_host_set_drop_hook(link_host_impl *h, link_drop_hook fn, void *arg);
/* Turn link_host_log off (it returns at once) or on. */
void link_host_set_log(link_host_impl *h, bool on);
/* Keep the log lines in fd (owned by the host from here: link_host_deinit closes it,
 * unless it is 1 or 2). 0 or -ENOMEM. */
int link_host_set_log_fd(link_host_impl *h, int fd);
/* Write what the log buffer holds (the end of a run). */
void link_host_log_flush(link_host_impl *h);
/* Flush, close the log file, free the buffer. */
void link_host_deinit(link_host_impl *h);
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
