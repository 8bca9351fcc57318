/* drv_floor.c — the floor client: the driver's schedule and batching with only the system calls they require (drv_floor.h). */
#include "drv_floor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drv_internal.h"
#include "ws_handshake.h"

#define MAXEV 1024
#define BATCH 1024          /* prebuilt frames: the most one send carries */
#define RX_BYTES (256 << 10)

struct flink {
    struct drv_wnode wn;
    int fd;
    rt_ns next_t;
    uint64_t rng;
    uint32_t owed;          /* messages due that the kernel refused: sent once it takes them */
    bool wblocked;
};

struct floor {
    const struct drv_floor_params *p;
    struct drv_floor_result *r;
    struct flink *links;
    struct drv_group g;     /* the schedule's generator takes a group */
    uint8_t *frames, *rx;
    size_t flen, slen;      /* a client frame's and a server frame's bytes */
    int epfd;
    struct drv_wheel wheel;
    rt_ns t_wake, t_meas0, t_end;
    bool in_window;
    int scfd;
    int64_t sc0;
    uint64_t rx_bytes_window, rx_carry;   /* bytes read in the window; a frame's part before it */
};

void drv_floor_params_default(struct drv_floor_params *p)
{
    memset(p, 0, sizeof *p);
    p->host = "127.0.0.1";
    p->links = 100;
    p->rate_per_s = 100;
    p->payload_bytes = 64;
    p->tick_ns = 50 * RT_US;
    p->warmup_ns = 500 * RT_MS;
    p->duration_ns = 2 * RT_S;
    p->cpu = -1;
    p->seed = 1;
}

/* Blocking connect and upgrade, outside the window. The fd, or -errno. */
static int open_link(const struct drv_floor_params *p, uint32_t ip, uint64_t *rng)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(p->port), .sin_addr.s_addr = ip};
    int rc = connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 ? -errno : 0;
    uint8_t nonce[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t v = drv_rng_next(rng);
        memcpy(nonce + i, &v, 8);
    }
    char key[WS_KEY_LEN + 1], accept[WS_ACCEPT_LEN + 1], req[1024], host[64], buf[WS_HS_MAX_BYTES];
    ws_make_key(nonce, key);
    ws_accept_key(key, WS_KEY_LEN, accept);
    snprintf(host, sizeof host, "%s:%u", p->host, p->port);
    int n = rc ? -1 : ws_build_request(req, sizeof req, host, "/", key);
    if (!rc && (n < 0 || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n))
        rc = -EPROTO;
    size_t len = 0;
    const char *why;
    while (!rc) {
        ssize_t r = recv(fd, buf + len, sizeof buf - len, 0);
        if (r <= 0) {
            rc = -ECONNRESET;
            break;
        }
        len += (size_t)r;
        int head = ws_parse_response(buf, len, accept, &why);
        if (head < 0)
            rc = head;
        else if (head > 0)
            rc = (size_t)head == len ? 1 : -EPROTO;   /* an echo server says nothing unasked */
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void mark(struct floor *f, bool end)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    int64_t sign = end ? 1 : -1;
    f->r->cpu_ns += sign * drv_thread_cpu();
    f->r->cpu_user_ns += sign * ((int64_t)ru.ru_utime.tv_sec * RT_S + ru.ru_utime.tv_usec * 1000);
    f->r->cpu_sys_ns += sign * ((int64_t)ru.ru_stime.tv_sec * RT_S + ru.ru_stime.tv_usec * 1000);
    f->r->wakeups_kernel += sign * ru.ru_nvcsw;
    f->r->wall_ns += sign * rt_now();
    int64_t sc = drv_syscall_count(f->scfd);
    if (!end)
        f->sc0 = sc;
    else
        f->r->syscalls = sc < 0 || f->sc0 < 0 ? -1 : sc - f->sc0;
}

/* The due slots of one link in one send (what the kernel refuses is owed). */
static void send_due(struct floor *f, struct flink *L, rt_ns now)
{
    uint32_t k = L->owed;
    while (L->next_t <= now && k < BATCH) {
        if (L->next_t >= f->t_meas0 && L->next_t < f->t_end) {
            f->r->scheduled++;
            f->r->sent++;   /* counted as the driver does: framed for its send */
        }
        if (now - L->next_t > f->r->lag_max_ns)
            f->r->lag_max_ns = now - L->next_t;
        L->next_t += drv_sched_interval(&f->g, &L->rng);
        k++;
    }
    if (!L->wblocked && k) {
        ssize_t w = send(L->fd, f->frames, k * f->flen, MSG_DONTWAIT | MSG_NOSIGNAL);
        f->r->sends += f->in_window;
        size_t done = w > 0 ? (size_t)w / f->flen : 0;
        if (w > 0 && (size_t)w % f->flen) {
            /* a frame cut by the kernel: finish it blocking (rare; keeps the stream whole) */
            size_t rest = f->flen - (size_t)w % f->flen;
            fcntl(L->fd, F_SETFL, fcntl(L->fd, F_GETFL) & ~O_NONBLOCK);
            send(L->fd, f->frames, rest, MSG_NOSIGNAL);
            fcntl(L->fd, F_SETFL, fcntl(L->fd, F_GETFL) | O_NONBLOCK);
            done++;
        }
        k -= (uint32_t)done;
        if (k) {
            L->wblocked = true;
            struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)(L - f->links)};
            epoll_ctl(f->epfd, EPOLL_CTL_MOD, L->fd, &e);
        }
    }
    L->owed = k;
    drv_wheel_add(&f->wheel, &L->wn, L->next_t);
}

static void on_event(struct floor *f, struct flink *L, uint32_t ev)
{
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        for (;;) {
            ssize_t n = recv(L->fd, f->rx, RX_BYTES, MSG_DONTWAIT);
            f->r->reads += f->in_window;
            if (n <= 0)
                break;
            if (f->in_window)
                f->rx_bytes_window += (uint64_t)n;
            if ((size_t)n < RX_BYTES)
                break;
        }
    }
    if ((ev & EPOLLOUT) && L->wblocked) {
        L->wblocked = false;
        struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint64_t)(L - f->links)};
        epoll_ctl(f->epfd, EPOLL_CTL_MOD, L->fd, &e);
        send_due(f, L, rt_now());
    }
}

static int run(struct floor *f)
{
    const struct drv_floor_params *p = f->p;
    struct epoll_event *evs = calloc(MAXEV, sizeof *evs);
    if (!evs)
        return -ENOMEM;
    f->scfd = drv_syscall_counter();
    f->r->syscalls = f->scfd < 0 ? -1 : 0;
    rt_ns now = rt_now();
    drv_wheel_init(&f->wheel, p->tick_ns, now);
    for (uint32_t i = 0; i < p->links; i++) {
        /* the driver's first slot: a random phase (constant) or one interval (Poisson) */
        struct flink *L = &f->links[i];
        int64_t iv = drv_sched_interval(&f->g, &L->rng);
        L->next_t = now + (p->pattern == DRV_CONSTANT ? (int64_t)(drv_rng_unit(&L->rng) * (double)iv) : iv);
        drv_wheel_add(&f->wheel, &L->wn, L->next_t);
    }
    f->t_meas0 = now + p->warmup_ns;
    f->t_end = f->t_meas0 + p->duration_ns;
    rt_ns t_stop = f->t_end + 200 * RT_MS;   /* echoes of the window's last slots come back */
    for (;;) {
        now = rt_now();
        if (!f->in_window && now >= f->t_meas0 && now < f->t_end) {
            f->in_window = true;
            mark(f, false);
        }
        if (f->in_window && now >= f->t_end) {
            f->in_window = false;
            mark(f, true);
        }
        if (now >= t_stop)
            break;
        if (now < f->t_end) {
            struct drv_wnode *x = drv_wheel_due(&f->wheel, now);
            while (x) {
                struct drv_wnode *nx = x->next;
                struct flink *L = (struct flink *)((char *)x - offsetof(struct flink, wn));
                if (L->next_t <= now)
                    send_due(f, L, now);
                else
                    drv_wheel_add(&f->wheel, &L->wn, L->next_t);
                x = nx;
            }
        }
        rt_ns dl = now < f->t_meas0 ? f->t_meas0 : now < f->t_end ? f->t_end : t_stop;
        if (now < f->t_end) {
            rt_ns w = drv_wheel_next(&f->wheel, f->t_wake + p->tick_ns);
            if (w < dl)
                dl = w;
        }
        int n = drv_tick_wait(f->epfd, evs, MAXEV, &f->t_wake, p->tick_ns, dl);
        f->r->wakeups += f->in_window;
        for (int i = 0; i < n; i++)
            on_event(f, &f->links[evs[i].data.u64], evs[i].events);
    }
    f->r->received = (int64_t)(f->rx_bytes_window / f->slen);
    if (f->scfd >= 0)
        close(f->scfd);
    free(evs);
    return 0;
}

int drv_floor_run(const struct drv_floor_params *p, struct drv_floor_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (p->payload_bytes < 2 || p->payload_bytes >= 65536 || p->links == 0 || p->rate_per_s <= 0 ||
        p->tick_ns < RT_US) {
        snprintf(err, errlen, "floor: payload 2..65535 bytes, links > 0, rate > 0, tick >= 1 us");
        return -EINVAL;
    }
    struct floor f = {.p = p, .r = r, .epfd = -1};
    f.g.rate_per_s = p->rate_per_s;
    f.g.pattern = p->pattern;
    f.flen = p->payload_bytes + (p->payload_bytes < 126 ? 2 : 4) + 4;
    f.slen = p->payload_bytes + (p->payload_bytes < 126 ? 2 : 4);
    f.links = calloc(p->links, sizeof *f.links);
    f.frames = malloc(f.flen * BATCH);
    f.rx = malloc(RX_BYTES);
    f.epfd = epoll_create1(EPOLL_CLOEXEC);
    int rc = f.links && f.frames && f.rx && f.epfd >= 0 ? 0 : -ENOMEM;
    if (rc == 0) {
        /* BATCH copies of one masked frame: the floor sends bytes, it builds no message */
        uint8_t *fr = f.frames;
        size_t h = 0;
        fr[h++] = 0x82;
        if (p->payload_bytes < 126) {
            fr[h++] = (uint8_t)(0x80 | p->payload_bytes);
        } else {
            fr[h++] = 0x80 | 126;
            fr[h++] = (uint8_t)(p->payload_bytes >> 8);
            fr[h++] = (uint8_t)p->payload_bytes;
        }
        uint32_t key = 0x5a17c3e1;
        memcpy(fr + h, &key, 4);
        for (uint32_t i = 0; i < p->payload_bytes; i++)
            fr[h + 4 + i] = (uint8_t)('a' + i % 26) ^ ((const uint8_t *)&key)[i & 3];
        for (int i = 1; i < BATCH; i++)
            memcpy(f.frames + (size_t)i * f.flen, f.frames, f.flen);
    }
    uint32_t ip = 0;
    inet_pton(AF_INET, p->host, &ip);
    uint64_t hs_rng = p->seed ^ 0x243f6a8885a308d3ull;
    for (uint32_t i = 0; rc == 0 && i < p->links; i++) {
        struct flink *L = &f.links[i];
        L->rng = drv_link_seed(p->seed, i);
        int fd = open_link(p, ip, &hs_rng);
        if (fd < 0) {
            snprintf(err, errlen, "floor: link %u: %s", i, strerror(-fd));
            rc = fd;
            break;
        }
        L->fd = fd;
        r->links_open++;
        struct epoll_event e = {.events = EPOLLIN, .data.u64 = i};
        epoll_ctl(f.epfd, EPOLL_CTL_ADD, fd, &e);
    }
    cpu_set_t old;
    bool pinned = false;
    if (rc == 0 && p->cpu >= 0 && sched_getaffinity(0, sizeof old, &old) == 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(p->cpu, &one);
        pinned = sched_setaffinity(0, sizeof one, &one) == 0;
    }
    int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);   /* as the driver's threads */
    if (rc == 0)
        rc = run(&f);
    if (slack > 0)
        prctl(PR_SET_TIMERSLACK, (unsigned long)slack, 0, 0, 0);
    if (pinned)
        sched_setaffinity(0, sizeof old, &old);
    for (uint32_t i = 0; f.links && i < r->links_open; i++)
        close(f.links[i].fd);
    if (f.epfd >= 0)
        close(f.epfd);
    free(f.links);
    free(f.frames);
    free(f.rx);
    return rc;
}
