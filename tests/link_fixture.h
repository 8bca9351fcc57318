/* link_fixture.h — test helpers: a variant running under the app model, links over mem pairs or loopback tcp. */
#ifndef LINKBENCH_TEST_LINK_FIXTURE_H
#define LINKBENCH_TEST_LINK_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app.h"
#include "link_host_impl.h"
#include "link_registry.h"
#include "srv_acceptor.h"
#include "wire.h"

enum fx_backend { FX_MEM, FX_TCP };

typedef struct fx {
    link_module *mod;
    const struct link_variant *v;
    link_host_impl host;
    app *app;
    struct link_server *srv;
    int64_t params[64];
    struct link_common common;
    enum fx_backend backend;
    srv_acceptor *acc;
    int64_t base_live[RT_GROUP_COUNT];   /* rt group live counts before the fixture */
    char err[1024];
} fx;

static inline int64_t fx_live(rt_group g)
{
    rt_group_stats st;
    rt_group_get(g, &st);
    return st.live;
}

/* Poll cond every millisecond until it holds or `limit` passes. Tests then assert on the
 * state, never on the time it took: the limit only keeps a broken variant from hanging. */
#define FX_WAIT(cond, limit)                                                  \
    do {                                                                      \
        rt_ns fx_end_ = rt_deadline_in(limit);                                \
        while (!(cond) && rt_now() < fx_end_) rt_sleep(RT_MS, NULL);          \
    } while (0)

static inline void fx_common_default(struct link_common *c)
{
    memset(c, 0, sizeof *c);
    c->auto_close = true;
    c->max_msg_bytes = 1 << 20;
}

/* A variant param set for a test (applied when the variant's name matches). */
struct fx_override {
    const char *variant, *key;
    int64_t value;
};

/* Load the variant, start it under an app with params ap (NULL: defaults) and common
 * settings c (NULL: defaults), with the matching overrides applied through
 * link_params_set. 0, or a negative error with f->err set. */
static inline int fx_start_with(fx *f, const char *variant, enum fx_backend b, const app_params *ap,
                                const struct link_common *c, const struct fx_override *ov, size_t n_ov)
{
    memset(f, 0, sizeof *f);
    for (int g = 0; g < RT_GROUP_COUNT; g++) f->base_live[g] = fx_live((rt_group)g);
    f->backend = b;
    int rc = link_module_load(variant, &f->mod, f->err, sizeof f->err);
    if (rc < 0) return rc;
    f->v = f->mod->v;
    if (f->v->n_params > 64) {
        snprintf(f->err, sizeof f->err, "%s: more than 64 params", f->v->name);
        return -E2BIG;
    }
    link_params_defaults(f->v, f->params);
    for (size_t i = 0; i < n_ov; i++) {
        if (strcmp(ov[i].variant, f->v->name)) continue;
        rc = link_params_set(f->v, f->params, ov[i].key, ov[i].value, f->err, sizeof f->err);
        if (rc < 0) return rc;
    }
    if (c) f->common = *c;
    else fx_common_default(&f->common);
    link_host_init(&f->host);
    app_params p;
    if (ap) p = *ap;
    else app_params_default(&p);
    f->app = app_create(&p, f->v, &f->host);
    if (!f->app) {
        snprintf(f->err, sizeof f->err, "app_create failed");
        return -ENOMEM;
    }
    struct link_start_args sa = {.host = &f->host.base, .params = f->params, .common = &f->common};
    rc = f->v->start(&sa, &f->srv);
    if (rc < 0) {
        snprintf(f->err, sizeof f->err, "%s: start: %s", f->v->name, strerror(-rc));
        return rc;
    }
    rc = app_start(f->app, f->srv);
    if (rc < 0) {
        snprintf(f->err, sizeof f->err, "app_start: %s", strerror(-rc));
        return rc;
    }
    if (b == FX_TCP) {
        srv_acceptor_opts o;
        srv_acceptor_opts_default(&o);
        o.vs.max_msg_bytes = (size_t)f->common.max_msg_bytes;
        f->acc = srv_acceptor_start(&o, f->app, &rc);
        if (!f->acc) {
            snprintf(f->err, sizeof f->err, "acceptor: %s", strerror(-rc));
            return rc;
        }
    }
    return 0;
}

static inline int fx_start(fx *f, const char *variant, enum fx_backend b, const app_params *ap,
                           const struct link_common *c)
{
    return fx_start_with(f, variant, b, ap, c, NULL, 0);
}

/* Stop in the harness's order: no new links, app threads, the variant, then free. */
static inline void fx_stop(fx *f)
{
    srv_acceptor_destroy(f->acc);
    f->acc = NULL;
    if (f->app) app_stop(f->app);
    if (f->srv) f->v->stop(f->srv);
    f->srv = NULL;
    app_destroy(f->app);
    f->app = NULL;
    link_module_unload(f->mod);
    f->mod = NULL;
}

static inline int fx_tcp_client(uint16_t port, vsock **out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    vsock_opts o;
    vsock_opts_default(&o);
    o.max_msg_bytes = 1 << 20;
    vsock *c = vsock_tcp_wrap(fd, VSOCK_CLIENT, &o);
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    int rc = vsock_handshake(c, "127.0.0.1", "/", rt_deadline_in(10 * RT_S));
    if (rc < 0) {
        vsock_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Open one link: the client end in *client, the server's link id in *id. */
static inline int fx_link(fx *f, vsock **client, uint32_t *id)
{
    app_stats before;
    app_stats_get(f->app, &before);
    if (f->backend == FX_MEM) {
        vsock *s;
        vsock_opts o;
        vsock_opts_default(&o);
        o.max_msg_bytes = (size_t)f->common.max_msg_bytes;
        int rc = vsock_mem_pair(&s, client, &o);
        if (rc < 0) return rc;
        rc = app_attach(f->app, s, id);
        if (rc < 0) vsock_destroy(*client);
        return rc;
    }
    int rc = fx_tcp_client(srv_acceptor_port(f->acc), client);
    if (rc < 0) return rc;
    app_stats now;
    FX_WAIT((app_stats_get(f->app, &now), now.links_attached + now.attach_failed >
             before.links_attached + before.attach_failed), 10 * RT_S);
    if (now.links_attached <= before.links_attached) {
        vsock_destroy(*client);
        return -EAGAIN;
    }
    *id = app_links(f->app) - 1;   /* one connection at a time: the newest id */
    return 0;
}

/* A client message with a wire header (kind echo) and a fill pattern. */
static inline int fx_send(vsock *c, uint32_t link, uint64_t seq, uint32_t len, rt_ns limit)
{
    /* One buffer kept across calls (test thread only): a retry of a timed-out write must
     * pass the same pointer to be resumed rather than written twice. Not a __thread
     * array: static TLS is carved out of every thread's 64 KiB stack. */
    static uint8_t *buf;
    static size_t cap;
    if (len < WIRE_HDR_BYTES) len = WIRE_HDR_BYTES;
    if (len > cap) {
        free(buf);
        buf = malloc(len);
        cap = buf ? len : 0;
        if (!buf) return -ENOMEM;
    }
    memset(buf + WIRE_HDR_BYTES, (int)(seq & 0xff), len - WIRE_HDR_BYTES);
    rt_ns now = rt_now();
    struct wire_hdr h = {.magic = WIRE_MAGIC, .kind = WIRE_ECHO, .link_id = link, .len = len,
                         .seq = seq, .t_sched = now, .t_sent = now};
    wire_put(buf, &h);
    return vsock_write(c, buf, len, VSOCK_BINARY, rt_deadline_in(limit));
}

/* Read one message and its header; -EBADMSG if it has none. */
static inline int fx_recv(vsock *c, struct wire_hdr *h, rt_ns limit)
{
    vsock_msg *m = NULL;
    int rc = vsock_read(c, &m, rt_deadline_in(limit));
    if (rc < 0) return rc;
    rc = wire_get(m->data, m->len, h) == 0 ? 0 : -EBADMSG;
    vsock_msg_free(m);
    return rc;
}

/* Declared threads for k links: pair runs two links per thread, an odd last one alone. */
static inline int64_t fx_expected_threads(const struct link_variant *v, int k)
{
    return (int64_t)ceil(v->threads_per_link * k - 1e-9);
}

#endif
