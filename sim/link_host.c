/* link_host.c — the services the harness gives variants: drop and event counters, logging. */
#include "link_host_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Enough lines to see what a link does, not enough to turn 20 000 failing links into a
 * run measured on stderr. */
#define LOG_BURST_PER_S 20

void link_host_init(link_host_impl *h)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < LINK_DROP_COUNT; i++) atomic_init(&h->drops[i], 0);
    for (int i = 0; i < LINK_C_COUNT; i++) atomic_init(&h->counters[i], 0);
    for (int i = 0; i < LINK_CLOSE_COUNT; i++) atomic_init(&h->closes[i], 0);
    atomic_init(&h->log_window, -1);
    atomic_init(&h->log_in_window, 0);
    atomic_init(&h->log_suppressed, 0);
    const char *env = getenv("LINKBENCH_LOG");
    h->log_on = env && *env && strcmp(env, "0") != 0;
    h->log_burst = LOG_BURST_PER_S;
}

void link_host_set_drop_hook(link_host_impl *h, link_drop_hook fn, void *arg)
{
    h->drop_arg = arg;
    h->drop_hook = fn;
}

void link_host_set_log(link_host_impl *h, bool on) { h->log_on = on; }

void link_host_count_close(link_host_impl *h, enum link_close_cause c)
{
    if ((unsigned)c < LINK_CLOSE_COUNT)
        atomic_fetch_add_explicit(&h->closes[c], 1, memory_order_relaxed);
}

void link_host_drop(struct link_host *host, vsock_msg *m, enum link_drop_reason r)
{
    link_host_impl *h = link_host_impl_of(host);
    if ((unsigned)r >= LINK_DROP_COUNT) r = LINK_DROP_SEND_FAILED;   /* never lose a count */
    atomic_fetch_add_explicit(&h->drops[r], 1, memory_order_relaxed);
    if (m && h->drop_hook) h->drop_hook(h->drop_arg, m, r);
    vsock_msg_free(m);
}

void link_host_count(struct link_host *host, enum link_counter c, int64_t n)
{
    link_host_impl *h = link_host_impl_of(host);
    if ((unsigned)c < LINK_C_COUNT)
        atomic_fetch_add_explicit(&h->counters[c], n, memory_order_relaxed);
}

void link_host_log(struct link_host *host, uint32_t link_id, const char *fmt, ...)
{
    link_host_impl *h = link_host_impl_of(host);
    if (!h->log_on) return;
    /* A one-second window shared by all threads: the first log_burst lines of each
     * second are printed, the rest only counted. A race at the window edge can let a
     * few extra lines through; that is harmless. */
    int64_t sec = rt_now() / RT_S;
    int64_t w = atomic_load_explicit(&h->log_window, memory_order_relaxed);
    if (w != sec && atomic_compare_exchange_strong(&h->log_window, &w, sec))
        atomic_store(&h->log_in_window, 0);
    if (atomic_fetch_add(&h->log_in_window, 1) >= h->log_burst) {
        atomic_fetch_add_explicit(&h->log_suppressed, 1, memory_order_relaxed);
        return;
    }
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* one fprintf call per line so lines from several threads do not interleave */
    fprintf(stderr, "linkbench: link %u: %s\n", link_id, line);
}

void link_host_snapshot_get(const link_host_impl *hc, link_host_snapshot *out)
{
    link_host_impl *h = (link_host_impl *)hc;   /* atomic loads need a non-const object */
    memset(out, 0, sizeof *out);
    for (int i = 0; i < LINK_DROP_COUNT; i++) {
        out->drops[i] = atomic_load_explicit(&h->drops[i], memory_order_relaxed);
        out->drops_total += out->drops[i];
    }
    for (int i = 0; i < LINK_C_COUNT; i++)
        out->counters[i] = atomic_load_explicit(&h->counters[i], memory_order_relaxed);
    for (int i = 0; i < LINK_CLOSE_COUNT; i++) {
        out->closes[i] = atomic_load_explicit(&h->closes[i], memory_order_relaxed);
        out->closes_total += out->closes[i];
    }
    out->log_suppressed = atomic_load_explicit(&h->log_suppressed, memory_order_relaxed);
}

void link_host_reset(link_host_impl *h)
{
    for (int i = 0; i < LINK_DROP_COUNT; i++) atomic_store(&h->drops[i], 0);
    for (int i = 0; i < LINK_C_COUNT; i++) atomic_store(&h->counters[i], 0);
    for (int i = 0; i < LINK_CLOSE_COUNT; i++) atomic_store(&h->closes[i], 0);
}
