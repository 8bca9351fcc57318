/* srv_census.c — the server's census at the driver's end: quiesce the app, take censuses until two agree, write the census document. */
#include "srv_census.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* sockets of open links by address, for the pass over the live sockets */
typedef struct sockmap {
    const vsock **key;
    uint32_t *idx;
    uint32_t cap;
} sockmap;

static uint32_t hash_ptr(const void *p, uint32_t cap)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x & (cap - 1);
}

struct pass {
    sockmap *m;
    srv_census_link *links;
};

static void found(void *arg, vsock *s, const vsock_census *vc)
{
    struct pass *p = arg;
    for (uint32_t i = hash_ptr(s, p->m->cap);; i = (i + 1) & (p->m->cap - 1)) {
        if (!p->m->key[i])
            return;   /* not an open link's socket */
        if (p->m->key[i] == s) {
            p->links[p->m->idx[i]].have_sock = true;
            p->links[p->m->idx[i]].sock = *vc;
            return;
        }
    }
}

static bool is_open(const app_link_census *a)
{
    return a->attached && !a->closed && !a->released && a->sock;
}

/* One census into links[0..n): the app's view of every link (the variant's held op
 * included), then every live socket, matched to its open link by pointer (the
 * registry is locked meanwhile: no socket goes away). */
static uint32_t take_one(app *a, srv_census_link *links, uint32_t cap, sockmap *m)
{
    app_link_census *tmp = calloc(cap ? cap : 1, sizeof *tmp);
    if (!tmp)
        return 0;
    uint32_t n = app_census(a, tmp, cap);
    memset(m->key, 0, m->cap * sizeof *m->key);
    for (uint32_t i = 0; i < n; i++) {
        memset(&links[i], 0, sizeof links[i]);
        links[i].app = tmp[i];
        if (!is_open(&tmp[i]))
            continue;
        uint32_t k = hash_ptr(tmp[i].sock, m->cap);
        while (m->key[k] && m->key[k] != tmp[i].sock)
            k = (k + 1) & (m->cap - 1);
        m->key[k] = tmp[i].sock;   /* a pointer reused by a later link: the open one wins */
        m->idx[k] = i;
    }
    free(tmp);
    struct pass p = {m, links};
    vsock_census_each(found, &p);
    return n;
}

#define SAME(f) (x->f == y->f)
static bool same_link(const srv_census_link *a, const srv_census_link *b)
{
    const app_link_census *x = &a->app, *y = &b->app;
    if (!(SAME(attached) && SAME(closed) && SAME(released) && SAME(taken) && SAME(echoed) &&
          SAME(pushed) && SAME(accepted) && SAME(held) && SAME(refused) && SAME(dropped_in) &&
          SAME(dropped_out) && SAME(variant_in) && SAME(variant_out) && SAME(next_seq)))
        return false;
    if (a->have_sock != b->have_sock)
        return false;
    const vsock_census *p = &a->sock, *q = &b->sock;
#define SAMEV(f) (p->f == q->f)
    return SAMEV(fd_open) && SAMEV(msgs_in) && SAMEV(msgs_out) && SAMEV(inbox_msgs) &&
           SAMEV(rx_partial_bytes) && SAMEV(out_bytes) && SAMEV(bytes_in) && SAMEV(bytes_out) &&
           SAMEV(kernel_in_bytes) && SAMEV(kernel_out_bytes);
#undef SAMEV
}
#undef SAME

int srv_census_take(app *a, link_host_impl *h, srv_census *c, rt_ns deadline)
{
    memset(c, 0, sizeof *c);
    rt_ns t0 = rt_now();
    c->quiesce_timeout = app_quiesce(a, deadline) < 0;
    uint32_t cap = app_links(a);
    sockmap m = {.cap = 16};
    while (m.cap < 2 * (cap + 1))
        m.cap *= 2;
    m.key = calloc(m.cap, sizeof *m.key);
    m.idx = calloc(m.cap, sizeof *m.idx);
    srv_census_link *prev = calloc(cap ? cap : 1, sizeof *prev);
    srv_census_link *cur = calloc(cap ? cap : 1, sizeof *cur);
    if (!m.key || !m.idx || !prev || !cur) {
        free(m.key);
        free(m.idx);
        free(prev);
        free(cur);
        return -ENOMEM;
    }
    link_host_snapshot hp, hc;
    link_host_snapshot_get(h, &hp);
    uint32_t np = take_one(a, prev, cap, &m), nc = 0;
    c->rounds = 1;
    for (;;) {
        /* long enough for a thread woken by the last move to make the next one */
        rt_sleep(10 * RT_MS, NULL);
        nc = take_one(a, cur, cap, &m);
        link_host_snapshot_get(h, &hc);
        c->rounds++;
        bool same = nc == np && hc.drops_total == hp.drops_total;
        for (uint32_t i = 0; same && i < nc; i++)
            same = same_link(&prev[i], &cur[i]);
        if (same || rt_now() >= deadline) {
            c->settled = same;
            break;
        }
        srv_census_link *t = prev;
        prev = cur;
        cur = t;
        np = nc;
        hp = hc;
    }
    free(prev);
    free(m.key);
    free(m.idx);
    c->n = nc;
    c->links = cur;
    c->settle_ns = rt_now() - t0;
    return 0;
}

bool srv_census_same(const srv_census *a, const srv_census *b)
{
    if (a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++)
        if (!same_link(&a->links[i], &b->links[i]))
            return false;
    return true;
}

void srv_census_deinit(srv_census *c)
{
    free(c->links);
    memset(c, 0, sizeof *c);
}

static json_t *push_stamps(const app_link_census *a)
{
    int64_t k0 = a->pushed > APP_CENSUS_PUSH_RING ? a->pushed - APP_CENSUS_PUSH_RING : 0;
    json_t *arr = json_array();
    for (int64_t k = k0; k < a->pushed; k++) {
        rt_ns t = a->push_t[k % APP_CENSUS_PUSH_RING];
        json_array_append_new(arr, json_integer((t + 999) / 1000));
    }
    return arr;
}

json_t *srv_census_json(const srv_census *c)
{
    json_t *links = json_array();
    int64_t closed[12] = {0};
    for (uint32_t i = 0; i < c->n; i++) {
        const srv_census_link *l = &c->links[i];
        const app_link_census *a = &l->app;
        if (!a->attached)
            continue;
        if (!is_open(a) || !l->have_sock) {
            int64_t v[12] = {1, a->taken, a->echoed, a->pushed, a->accepted, a->held, a->refused,
                             a->dropped_in, a->dropped_out, a->variant_in, a->variant_out,
                             a->pushed - a->push_seq_m0};
            for (int k = 0; k < 12; k++)
                closed[k] += v[k];
            continue;
        }
        const vsock_census *s = &l->sock;
        json_t *o = json_pack(
            "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "id", (json_int_t)a->id,
            "taken", (json_int_t)a->taken, "echoed", (json_int_t)a->echoed, "pushed",
            (json_int_t)a->pushed, "pushed_m0", (json_int_t)a->push_seq_m0, "accepted",
            (json_int_t)a->accepted, "held", (json_int_t)a->held, "refused",
            (json_int_t)a->refused, "drop_in", (json_int_t)a->dropped_in, "drop_out",
            (json_int_t)a->dropped_out, "v_in", (json_int_t)a->variant_in, "v_out",
            (json_int_t)a->variant_out, "next_seq", a->seq_started ? (json_int_t)a->next_seq : (json_int_t)-1);
        json_object_set_new(o, "sock", json_pack(
            "{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "tcp", s->tcp, "peer_ip",
            (json_int_t)s->peer_ip, "peer_port", (json_int_t)s->peer_port, "msgs_in",
            (json_int_t)s->msgs_in, "msgs_out", (json_int_t)s->msgs_out, "inbox",
            (json_int_t)s->inbox_msgs, "partial_bytes", (json_int_t)s->rx_partial_bytes,
            "out_bytes", (json_int_t)s->out_bytes, "bytes_in", (json_int_t)s->bytes_in,
            "bytes_out", (json_int_t)s->bytes_out, "k_in", (json_int_t)s->kernel_in_bytes,
            "k_out", (json_int_t)s->kernel_out_bytes));
        /* taken seqs just below next_seq: bit d set = next_seq-1-d taken (holes in it) */
        if (a->seq_started && ~a->seen_win)
            json_object_set_new(o, "seen_win", json_sprintf("%016llx", (unsigned long long)a->seen_win));
        if (a->pushed > 0)
            json_object_set_new(o, "push_t_us", push_stamps(a));
        json_array_append_new(links, o);
    }
    json_t *cl = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "links",
        (json_int_t)closed[0], "taken", (json_int_t)closed[1], "echoed", (json_int_t)closed[2],
        "pushed", (json_int_t)closed[3], "accepted", (json_int_t)closed[4], "held",
        (json_int_t)closed[5], "refused", (json_int_t)closed[6], "drop_in", (json_int_t)closed[7],
        "drop_out", (json_int_t)closed[8], "v_in", (json_int_t)closed[9], "v_out",
        (json_int_t)closed[10], "pushed_window", (json_int_t)closed[11]);
    return json_pack("{s:I,s:I,s:I,s:I,s:o,s:o}", "unsettled", (json_int_t)!c->settled,
                     "quiesce_timeouts", (json_int_t)c->quiesce_timeout, "rounds",
                     (json_int_t)c->rounds, "settle_ns", (json_int_t)c->settle_ns, "links", links,
                     "closed", cl);
}
