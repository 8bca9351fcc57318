/* bench_vsock.c — `linkbench bench vsock`: how fast and how small one vsock is, on this machine. */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "met_machine.h"
#include "vsock_internal.h"

#define MSG_BYTES 64

struct side {
    vsock *s;
    int cpu;                 /* pin to this CPU, -1 = leave to the scheduler */
    int depth;               /* pipelined: messages in flight */
    atomic_bool *stop;
    atomic_llong done;       /* messages echoed (server) or completed (client) */
    int last_cpu;
    int err;
};

static void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* A connected loopback TCP pair (port 0), both ends wrapped, not yet handshaken. */
static int tcp_pair(vsock **srv, vsock **cli, const vsock_opts *o)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0)
        return -errno;
    int c = -1, s = -1, one = 1;
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &al))
        goto fail;
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a))
        goto fail;
    s = accept4(l, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (s < 0)
        goto fail;
    close(l);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *srv = vsock_tcp_wrap(s, VSOCK_SERVER, o);
    *cli = vsock_tcp_wrap(c, VSOCK_CLIENT, o);
    return *srv && *cli ? 0 : -ENOMEM;
fail:;
    int e = -errno;
    close(l);
    if (c >= 0)
        close(c);
    return e;
}

/* Both handshakes, interleaved on this thread (each step is non-blocking). */
static int handshake_pair(vsock *srv, vsock *cli)
{
    rt_ns end = rt_deadline_in(5 * RT_S);
    for (;;) {
        int a = vsock_handshake_step(srv, NULL, NULL);
        int b = vsock_handshake_step(cli, "127.0.0.1", "/bench");
        if (a == 0 && b == 0)
            return 0;
        if ((a && a != -EAGAIN) || (b && b != -EAGAIN))
            return a && a != -EAGAIN ? a : b;
        if (rt_now() > end)
            return -ETIMEDOUT;
        struct pollfd p[2] = {{.fd = vsock_fd(srv), .events = POLLIN | POLLOUT},
                              {.fd = vsock_fd(cli), .events = POLLIN}};
        poll(p, 2, 10);
    }
}

/* ---------------------------------------------------------------- pipelined echo */

static void wait_io(vsock *s)
{
    struct pollfd p = {.fd = vsock_fd(s), .events = POLLIN | (vsock_want_write(s) ? POLLOUT : 0)};
    poll(&p, 1, 20);
}

static void echo_server_nb(void *arg)
{
    struct side *d = arg;
    pin(d->cpu);
    while (!atomic_load_explicit(d->stop, memory_order_relaxed)) {
        int r = vsock_read_nb(d->s, 256 * 1024, NULL);
        long long n = 0;
        for (vsock_msg *m; (m = vsock_poll_msg(d->s)); n++) {
            vsock_queue(d->s, m->data, m->len, m->opcode);
            vsock_msg_free(m);
        }
        int f = vsock_flush(d->s);
        if (n)
            atomic_fetch_add_explicit(&d->done, n, memory_order_relaxed);
        if (r < 0 || (f < 0 && f != -EAGAIN)) {
            d->err = r < 0 ? r : f;
            break;
        }
        if (!n)
            wait_io(d->s);
    }
    d->last_cpu = sched_getcpu();
}

static void pipeline_client(void *arg)
{
    struct side *d = arg;
    pin(d->cpu);
    uint8_t payload[MSG_BYTES];
    memset(payload, 'x', sizeof payload);
    int inflight = 0;
    while (!atomic_load_explicit(d->stop, memory_order_relaxed)) {
        for (; inflight < d->depth; inflight++)
            if (vsock_queue(d->s, payload, sizeof payload, VSOCK_BINARY))
                break;
        int f = vsock_flush(d->s);
        int r = vsock_read_nb(d->s, 256 * 1024, NULL);
        long long n = 0;
        for (vsock_msg *m; (m = vsock_poll_msg(d->s)); n++)
            vsock_msg_free(m);
        inflight -= (int)n;
        if (n)
            atomic_fetch_add_explicit(&d->done, n, memory_order_relaxed);
        if (r < 0 || (f < 0 && f != -EAGAIN)) {
            d->err = r < 0 ? r : f;
            break;
        }
        if (!n)
            wait_io(d->s);
    }
    d->last_cpu = sched_getcpu();
}

/* ---------------------------------------------------------------- ping-pong (blocking API) */

static void echo_server_blocking(void *arg)
{
    struct side *d = arg;
    pin(d->cpu);
    while (!atomic_load_explicit(d->stop, memory_order_relaxed)) {
        vsock_msg *m;
        int r = vsock_read(d->s, &m, rt_deadline_in(100 * RT_MS));
        if (r == -ETIMEDOUT)
            continue;
        if (r) {
            d->err = r == -EPIPE ? 0 : r;
            break;
        }
        r = vsock_write(d->s, m->data, m->len, m->opcode, rt_deadline_in(RT_S));
        vsock_msg_free(m);
        if (r) {
            d->err = r;
            break;
        }
        atomic_fetch_add_explicit(&d->done, 1, memory_order_relaxed);
    }
    d->last_cpu = sched_getcpu();
}

static void pingpong_client(void *arg)
{
    struct side *d = arg;
    pin(d->cpu);
    uint8_t payload[MSG_BYTES];
    memset(payload, 'p', sizeof payload);
    while (!atomic_load_explicit(d->stop, memory_order_relaxed)) {
        vsock_msg *m;
        int r = vsock_write(d->s, payload, sizeof payload, VSOCK_BINARY, rt_deadline_in(RT_S));
        if (!r)
            r = vsock_read(d->s, &m, rt_deadline_in(RT_S));
        if (r) {
            d->err = r;
            break;
        }
        vsock_msg_free(m);
        atomic_fetch_add_explicit(&d->done, 1, memory_order_relaxed);
    }
    d->last_cpu = sched_getcpu();
}

/* ---------------------------------------------------------------- one run */

struct run {
    const char *name;
    void (*server)(void *);
    void (*client)(void *);
    int srv_cpu, cli_cpu, depth;
    double rate;             /* completed per second, after warm-up */
    int srv_last, cli_last;
    double syscalls_per_msg; /* both ends, all kinds */
};

static int run_one(struct run *u, rt_ns seconds)
{
    vsock_opts o;
    vsock_opts_default(&o);
    o.close_timeout = 200 * RT_MS;
    vsock *srv = NULL, *cli = NULL;
    int r = tcp_pair(&srv, &cli, &o);
    if (!r)
        r = handshake_pair(srv, cli);
    if (r) {
        fprintf(stderr, "linkbench bench vsock: connection setup failed: %s\n", strerror(-r));
        return r;
    }
    atomic_bool stop = false;
    struct side s = {.s = srv, .cpu = u->srv_cpu, .stop = &stop};
    struct side c = {.s = cli, .cpu = u->cli_cpu, .depth = u->depth, .stop = &stop};
    rt_thread *ts, *tc;
    if ((r = rt_thread_spawn(&ts, RT_GROUP_OTHER, "bench-srv", u->server, &s)) ||
        (r = rt_thread_spawn(&tc, RT_GROUP_OTHER, "bench-cli", u->client, &c))) {
        atomic_store(&stop, true);
        fprintf(stderr, "linkbench bench vsock: cannot start threads: %s\n", strerror(-r));
        return r;
    }
    rt_sleep(seconds / 10 + 1, NULL);   /* warm-up, excluded */
    vsock_counters c0, s0, c1, s1;
    vsock_get_counters(cli, &c0);
    vsock_get_counters(srv, &s0);
    long long n0 = atomic_load(&c.done);
    rt_ns t0 = rt_now();
    rt_sleep(seconds, NULL);
    long long n1 = atomic_load(&c.done);
    rt_ns t1 = rt_now();
    vsock_get_counters(cli, &c1);
    vsock_get_counters(srv, &s1);
    atomic_store(&stop, true);
    rt_thread_join(tc);
    rt_thread_join(ts);
    u->rate = (double)(n1 - n0) * 1e9 / (double)(t1 - t0);
    int64_t sys = (c1.sys_read + c1.sys_write + c1.sys_poll + s1.sys_read + s1.sys_write +
                   s1.sys_poll) -
                  (c0.sys_read + c0.sys_write + c0.sys_poll + s0.sys_read + s0.sys_write +
                   s0.sys_poll);
    u->syscalls_per_msg = n1 > n0 ? (double)sys / (double)(n1 - n0) : 0;
    u->srv_last = s.last_cpu;
    u->cli_last = c.last_cpu;
    vsock_close(cli, VSOCK_CLOSE_NORMAL);
    vsock_close(srv, VSOCK_CLOSE_NORMAL);
    vsock_destroy(cli);
    vsock_destroy(srv);
    if (c.err || s.err) {
        fprintf(stderr, "linkbench bench vsock: %s: %s\n", u->name,
                strerror(-(c.err ? c.err : s.err)));
        return c.err ? c.err : s.err;
    }
    return 0;
}

/* ---------------------------------------------------------------- idle memory */

static size_t heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void bench_memory(void)
{
    enum { N = 256 };
    vsock *sv[N], *cl[N];
    int n = 0;
    size_t m0 = heap_used();
    for (; n < N; n++)
        if (vsock_mem_pair(&sv[n], &cl[n], NULL))
            break;
    size_t m1 = heap_used();
    for (int i = 0; i < n; i++)
        vsock_write(cl[i], "ping", 4, VSOCK_TEXT, rt_deadline_in(RT_S));
    size_t m2 = heap_used();
    for (int i = 0; i < n; i++) {
        vsock_msg *m;
        if (vsock_read(sv[i], &m, rt_deadline_in(RT_S)) == 0)
            vsock_msg_free(m);
    }
    size_t m3 = heap_used();
    for (int i = 0; i < n; i++) {
        vsock_trim(sv[i]);
        vsock_trim(cl[i]);
    }
    size_t m4 = heap_used();
    for (int i = 0; i < n; i++) {
        vsock_destroy(sv[i]);
        vsock_destroy(cl[i]);
    }
    if (!n)
        return;
    printf("idle memory per socket: sizeof(vsock) %zu B (tcp); heap per new socket %zd B "
           "(mem backend: the core, its extras, a shared link); +%zd B after a write "
           "(output buffer freed once drained), +%zd B after a read (wslay context); "
           "%zd B above new after vsock_trim\n",
           sizeof(vsock), (ssize_t)(m1 - m0) / (2 * n),
           (ssize_t)(m2 - m1) / n, (ssize_t)(m3 - m2) / n, ((ssize_t)m4 - (ssize_t)m1) / (2 * n));
}

/* ---------------------------------------------------------------- entry */

static void usage(FILE *f)
{
    fprintf(f, "usage: linkbench bench vsock [--seconds N] [--same-cpu] [--depth D]\n\n"
               "  --seconds N  measuring time per figure (default 2), after a 10%% warm-up\n"
               "  --same-cpu   pin both ends of the pipelined echo to one CPU (default: the\n"
               "               scheduler places them); ping-pong is always measured on one CPU\n"
               "  --depth D    pipelined messages in flight (default 256)\n");
}

int bench_vsock_main(int argc, char **argv)
{
    double seconds = 2;
    int depth = 256;
    bool same = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--depth") && i + 1 < argc) {
            depth = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--same-cpu")) {
            same = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "linkbench bench vsock: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (seconds <= 0 || seconds > 3600 || depth < 1 || depth > 1 << 20) {
        fprintf(stderr, "linkbench bench vsock: --seconds must be in (0, 3600], --depth in [1, 1048576]\n");
        return 2;
    }
    met_machine mach;
    met_machine_begin(&mach);
    int home = sched_getcpu();
    rt_ns d = (rt_ns)(seconds * 1e9);
    struct run runs[] = {
        {"pipelined echo", echo_server_nb, pipeline_client, same ? home : -1, same ? home : -1,
         depth, 0, 0, 0, 0},
        {"ping-pong, one CPU", echo_server_blocking, pingpong_client, home, home, 1, 0, 0, 0, 0},
        {"ping-pong, unpinned", echo_server_blocking, pingpong_client, -1, -1, 1, 0, 0, 0, 0},
    };
    printf("vsock bench: one loopback connection, %d B binary messages, %.1f s per figure\n",
           MSG_BYTES, seconds);
    int rc = 0;
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        struct run *u = &runs[i];
        if (run_one(u, d)) {
            rc = 1;
            continue;
        }
        const char *unit = u->depth > 1 ? "msg/s" : "round trips/s";
        printf("%-20s %10.0f %-13s (depth %d; server cpu %d%s, client cpu %d%s; %.3f syscalls/msg)\n",
               u->name, u->rate, unit, u->depth, u->srv_last, u->srv_cpu >= 0 ? " pinned" : "",
               u->cli_last, u->cli_cpu >= 0 ? " pinned" : "", u->syscalls_per_msg);
    }
    bench_memory();
    met_machine_end(&mach);
    met_machine_print(&mach, stdout);
    return rc;
}
