/* link_host.c — the services the harness gives variants: drop and event counters, a production-style logger. */
#include "link_host_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void link_host_init(link_host_impl *h)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < LINK_DROP_COUNT; i++) atomic_init(&h->drops[i], 0);
    for (int i = 0; i < LINK_C_COUNT; i++) atomic_init(&h->counters[i], 0);
    for (int i = 0; i < LINK_CLOSE_COUNT; i++) atomic_init(&h->closes[i], 0);
    atomic_init(&h->log_lines, 0);
    atomic_init(&h->log_bytes, 0);
    atomic_init(&h->log_writes, 0);
    atomic_init(&h->log_busy_ns, 0);
    h->log_on = true;
    h->log_fd = -1;
    pthread_mutex_init(&h->log_mu, NULL);
}

void link_host_set_drop_hook(link_host_impl *h, link_drop_hook fn, void *arg)
{
    h->drop_arg = arg;
    h->drop_hook = fn;
}

void link_host_set_log(link_host_impl *h, bool on) { h->log_on = on; }

int link_host_set_log_fd(link_host_impl *h, int fd)
{
    char *buf = malloc(LINK_HOST_LOG_BUF_BYTES);
    if (!buf)
        return -ENOMEM;
    pthread_mutex_lock(&h->log_mu);
    h->log_buf = buf;
    h->log_len = 0;
    h->log_fd = fd;
    h->log_flushed_at = rt_now();
    pthread_mutex_unlock(&h->log_mu);
    return 0;
}

/* With log_mu held: write the buffer out, as bufio.Writer.Flush does (a short write is
 * retried; an error drops the buffer: a logger never stops the program). */
static void flush_locked(link_host_impl *h)
{
    size_t off = 0;
    while (off < h->log_len) {
        ssize_t r = write(h->log_fd, h->log_buf + off, h->log_len - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    if (h->log_len)
        atomic_fetch_add_explicit(&h->log_writes, 1, memory_order_relaxed);
    h->log_len = 0;
    h->log_flushed_at = rt_now();
}

void link_host_log_flush(link_host_impl *h)
{
    pthread_mutex_lock(&h->log_mu);
    if (h->log_buf)
        flush_locked(h);
    pthread_mutex_unlock(&h->log_mu);
}

void link_host_deinit(link_host_impl *h)
{
    link_host_log_flush(h);
    pthread_mutex_lock(&h->log_mu);
    if (h->log_fd > 2)
        close(h->log_fd);
    h->log_fd = -1;
    free(h->log_buf);
    h->log_buf = NULL;
    pthread_mutex_unlock(&h->log_mu);
    pthread_mutex_destroy(&h->log_mu);
}

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

/* A plain-text message as a JSON string body: quotes, backslashes and control bytes
 * escaped. Returns the bytes written (out has room for n). */
static size_t escape(char *out, size_t n, const char *in)
{
    size_t o = 0;
    for (; *in && o + 7 < n; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, n - o, "\\%c", c);
        else if (c < 0x20)
            o += (size_t)snprintf(out + o, n - o, "\\u%04x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
    return o;
}

void link_host_log(struct link_host *host, uint32_t link_id, const char *fmt, ...)
{
    link_host_impl *h = link_host_impl_of(host);
    if (!h->log_on) return;
    /* The cost a production logger has, on the caller's thread: format the line (zap's
     * JSON encoder), then append it under the one lock, writing the buffer out first
     * when it would not fit (ego's bufferWriterSyncer). Timed as a whole. */
    rt_ns t0 = rt_now();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char line[1024], text[512];
    int n = snprintf(line, sizeof line, "{\"ts\":%lld.%06ld,", (long long)ts.tv_sec,
                     ts.tv_nsec / 1000);
    va_list ap;
    va_start(ap, fmt);
    if (fmt[0] == '"') {   /* JSON members: the caller's structured fields */
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    } else {   /* plain text: one "msg" */
        char esc[1024];
        vsnprintf(text, sizeof text, fmt, ap);
        escape(esc, sizeof esc, text);
        n += snprintf(line + n, sizeof line - (size_t)n, "\"lv\":\"info\",\"link\":%u,\"msg\":\"%s\"",
                      link_id, esc);
    }
    va_end(ap);
    if ((size_t)n > sizeof line - 3)
        n = (int)sizeof line - 3;   /* truncated: still one line */
    line[n++] = '}';
    line[n++] = '\n';
    if (h->log_fd >= 0) {
        pthread_mutex_lock(&h->log_mu);
        if (h->log_buf) {
            if (h->log_len + (size_t)n > LINK_HOST_LOG_BUF_BYTES)
                flush_locked(h);
            memcpy(h->log_buf + h->log_len, line, (size_t)n);
            h->log_len += (size_t)n;
            if (rt_now() - h->log_flushed_at >= LINK_HOST_LOG_FLUSH_NS)
                flush_locked(h);   /* elog's ticker goroutine, folded into a caller */
        }
        pthread_mutex_unlock(&h->log_mu);
    }
    atomic_fetch_add_explicit(&h->log_lines, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->log_bytes, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->log_busy_ns, rt_now() - t0, memory_order_relaxed);
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
    out->log_lines = atomic_load_explicit(&h->log_lines, memory_order_relaxed);
    out->log_bytes = atomic_load_explicit(&h->log_bytes, memory_order_relaxed);
    out->log_writes = atomic_load_explicit(&h->log_writes, memory_order_relaxed);
    out->log_busy_ns = atomic_load_explicit(&h->log_busy_ns, memory_order_relaxed);
}

void link_host_reset(link_host_impl *h)
{
    for (int i = 0; i < LINK_DROP_COUNT; i++) atomic_store(&h->drops[i], 0);
    for (int i = 0; i < LINK_C_COUNT; i++) atomic_store(&h->counters[i], 0);
    for (int i = 0; i < LINK_CLOSE_COUNT; i++) atomic_store(&h->closes[i], 0);
}
