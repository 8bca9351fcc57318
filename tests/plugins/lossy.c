/* lossy.c — test-only variants that lose messages on purpose (built three times: LOSSY_EVERY, LOSSY_TAIL, LOSSY_MIXED), to prove that the accounting finds what a design silently discards. */
/*
 * A plain design: one thread per link reads with a short deadline, hands each message
 * to a receive queue (blocking while it is full, like a Go channel send), and writes
 * what the app queued. It never loses anything by itself; the build flavour decides
 * what it discards without a word to the harness (freed, no link_host_drop):
 *   LOSSY_EVERY  every link's inbound messages number N, 2N, ... (N = LOSSY_N, 7)
 *   LOSSY_TAIL   link 0's inbound messages after its K-th (K = LOSSY_K, 20): its tail
 *   LOSSY_MIXED  link 0 loses 1 in N (N = 5) silently, link 1 drops 1 in M (M = 3)
 *                with a named reason (recv_queue_full): the drops of one link must not
 *                hide the losses of the other
 * What it discarded and dropped is written, at stop, to the file named by
 * LINKBENCH_LOSSY_LOG ("discarded D dropped P", one line per server process), so a
 * test can compare the run's msgs_lost with a count the harness never saw.
 * Never installed: it exists to be caught.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "link.h"

#ifndef LOSSY_N
#define LOSSY_N 7
#endif
#ifndef LOSSY_K
#define LOSSY_K 20
#endif
#define LOSSY_DROP_M 3

struct link_server {
    struct link_host *host;
    atomic_flag lock;
    struct link *links;
    atomic_llong discarded, dropped;
};

struct link {
    struct link_server *srv;
    struct link *next;
    uint32_t id;
    vsock *s;
    rt_ctx *ctx;
    rt_thread *t;
    rt_queue *in, *out;
    atomic_int in_hand;
    atomic_bool closing, released;
    _Atomic int cause;
    _Atomic rt_ns last_active;
    int64_t n_in;              /* inbound messages read (the thread's) */
};

/* What happens to the n-th inbound message of link id (n from 1): 0 keep, 1 discard
 * silently, 2 drop with a reason. */
static int fate(uint32_t id, int64_t n)
{
#if defined(LOSSY_EVERY)
    (void)id;
    return n % LOSSY_N == 0;
#elif defined(LOSSY_TAIL)
    return id == 0 && n > LOSSY_K;
#elif defined(LOSSY_MIXED)
    if (id == 0)
        return n % 5 == 0;
    if (id == 1)
        return n % LOSSY_DROP_M == 0 ? 2 : 0;
    return 0;
#else
#error "build with LOSSY_EVERY, LOSSY_TAIL or LOSSY_MIXED"
#endif
}

static void in_notify(void *arg, rt_queue *q, enum rt_queue_event ev)
{
    (void)q;
    struct link *l = arg;
    struct link_host *h = l->srv->host;
    if (ev == RT_Q_NONEMPTY || ev == RT_Q_CLOSED) h->on_readable(h, l, l->id);
}

static void out_notify(void *arg, rt_queue *q, enum rt_queue_event ev)
{
    (void)q;
    struct link *l = arg;
    struct link_host *h = l->srv->host;
    if (ev == RT_Q_LOW) h->on_writable(h, l, l->id);
}

static void link_main(void *arg)
{
    struct link *l = arg;
    struct link_host *h = l->srv->host;
    enum link_close_cause cause = LINK_CLOSE_ERROR;
    for (;;) {
        void *item;
        int rc = 0;
        while (rc == 0 && rt_queue_try_pop(l->out, &item) == 0) {
            vsock_msg *m = item;
            rc = vsock_write(l->s, m->data, m->len, m->opcode, rt_deadline_in(10 * RT_S));
            if (rc < 0) link_host_drop(h, m, LINK_DROP_SEND_FAILED);
            else vsock_msg_free(m);
        }
        vsock_msg *m = NULL;
        if (rc == 0) rc = vsock_read(l->s, &m, rt_deadline_in(2 * RT_MS));
        if (rc == 0) {
            m->link_id = l->id;
            switch (fate(l->id, ++l->n_in)) {
            case 1:
                atomic_fetch_add(&l->srv->discarded, 1);
                vsock_msg_free(m);
                continue;
            case 2:
                atomic_fetch_add(&l->srv->dropped, 1);
                link_host_drop(h, m, LINK_DROP_RECV_QUEUE_FULL);
                continue;
            }
            atomic_store(&l->in_hand, 1);
            rc = rt_queue_push(l->in, m, RT_NEVER, l->ctx);
            atomic_store(&l->in_hand, 0);
            if (rc < 0) link_host_drop(h, m, LINK_DROP_RECV_QUEUE_FULL);
        }
        if (rc == 0 || rc == -ETIMEDOUT) continue;
        if (rc == -ECANCELED || atomic_load(&l->closing)) cause = atomic_load(&l->cause);
        else if (rc == -EPIPE) cause = LINK_CLOSE_PEER;
        break;
    }
    rt_queue_close(l->in);
    rt_queue_close(l->out);
    void *item;
    while (rt_queue_try_pop(l->out, &item) == 0)
        link_host_drop(h, item, LINK_DROP_UNSENT_AT_CLOSE);
    vsock_close(l->s, VSOCK_CLOSE_NORMAL);
    atomic_store(&l->closing, true);
    h->on_closed(h, l, l->id, cause);
}

static void request_close(struct link *l, enum link_close_cause c)
{
    bool was = false;
    if (!atomic_compare_exchange_strong(&l->closing, &was, true)) return;
    atomic_store(&l->cause, (int)c);
    rt_ctx_cancel(l->ctx);
}

static int x_start(const struct link_start_args *a, struct link_server **out)
{
    struct link_server *srv = calloc(1, sizeof *srv);
    if (!srv) return -ENOMEM;
    srv->host = a->host;
    atomic_flag_clear(&srv->lock);
    *out = srv;
    return 0;
}

static int x_attach(struct link_server *srv, vsock *s, uint32_t id, struct link **out)
{
    struct link *l = calloc(1, sizeof *l);
    if (l) {
        l->in = rt_queue_create(256);
        l->out = rt_queue_create(256);
        l->ctx = rt_ctx_create(NULL);
    }
    if (!l || !l->in || !l->out || !l->ctx) {
        if (l) {
            rt_queue_destroy(l->in);
            rt_queue_destroy(l->out);
            rt_ctx_destroy(l->ctx);
            free(l);
        }
        vsock_destroy(s);
        return -ENOMEM;
    }
    l->srv = srv;
    l->id = id;
    l->s = s;
    vsock_set_ctx(s, l->ctx);
    atomic_store(&l->last_active, rt_now());
    rt_queue_set_notify(l->in, in_notify, l, 0);
    rt_queue_set_notify(l->out, out_notify, l, 128);
    int rc = rt_thread_spawn(&l->t, RT_GROUP_LINK, "lossy-link", link_main, l);
    if (rc < 0) {
        rt_queue_destroy(l->in);
        rt_queue_destroy(l->out);
        rt_ctx_destroy(l->ctx);
        vsock_destroy(s);
        free(l);
        return rc;
    }
    while (atomic_flag_test_and_set(&srv->lock)) {}
    l->next = srv->links;
    srv->links = l;
    atomic_flag_clear(&srv->lock);
    *out = l;
    return 0;
}

static int x_send(struct link *l, vsock_msg *m)
{
    if (atomic_load(&l->closing)) return -EPIPE;
    return rt_queue_try_push(l->out, m);
}

static int x_recv(struct link *l, vsock_msg **out)
{
    void *item;
    int rc = rt_queue_try_pop(l->in, &item);
    if (rc == 0) *out = item;
    return rc;
}

static void x_active(struct link *l) { atomic_store(&l->last_active, rt_now()); }
static bool x_idle(struct link *l, rt_ns idle) { (void)l; (void)idle; return false; }
static int x_close(struct link *l) { request_close(l, LINK_CLOSE_APP); return 0; }
static void x_release(struct link *l) { atomic_store(&l->released, true); }

static void x_held(struct link *l, int64_t *in, int64_t *out)
{
    *in = (int64_t)rt_queue_len(l->in) + atomic_load(&l->in_hand);
    *out = (int64_t)rt_queue_len(l->out);
}

static void x_stop(struct link_server *srv)
{
    for (struct link *l = srv->links; l; l = l->next) request_close(l, LINK_CLOSE_SHUTDOWN);
    while (srv->links) {
        struct link *l = srv->links;
        srv->links = l->next;
        rt_thread_join(l->t);
        void *item;
        while (rt_queue_try_pop(l->in, &item) == 0) vsock_msg_free(item);
        while (rt_queue_try_pop(l->out, &item) == 0) vsock_msg_free(item);
        rt_queue_destroy(l->in);
        rt_queue_destroy(l->out);
        vsock_destroy(l->s);
        rt_ctx_destroy(l->ctx);
        free(l);
    }
    const char *log = getenv("LINKBENCH_LOSSY_LOG");
    if (log && *log) {
        char line[96];
        int n = snprintf(line, sizeof line, "discarded %lld dropped %lld\n",
                         (long long)atomic_load(&srv->discarded), (long long)atomic_load(&srv->dropped));
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            if (write(fd, line, (size_t)n) != n) { /* the test sees the short file */ }
            close(fd);
        }
    }
    free(srv);
}

LINK_VARIANT_EXPORT = {
    .abi_version = LINK_ABI_VERSION,
#if defined(LOSSY_EVERY)
    .name = "lossy_every",
#elif defined(LOSSY_TAIL)
    .name = "lossy_tail",
#else
    .name = "lossy_mixed",
#endif
    .summary = "test only: loses messages on purpose, which the accounting must find",
    .threads_per_link = 1,
    .loss_policy = LINK_LOSS_BLOCKS,
    /* what it names (the losses it keeps quiet about are the point of it) */
    .drop_reasons = LINK_DROP_BIT(LINK_DROP_RECV_QUEUE_FULL) | LINK_DROP_BIT(LINK_DROP_SEND_FAILED) |
                    LINK_DROP_BIT(LINK_DROP_UNSENT_AT_CLOSE),
    .start = x_start,
    .attach = x_attach,
    .send = x_send,
    .recv = x_recv,
    .update_active = x_active,
    .try_close_if_idle = x_idle,
    .close = x_close,
    .release = x_release,
    .stop = x_stop,
    .held = x_held,
};
