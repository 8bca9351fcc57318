/* app_push.c — the app model's server push: each link on its own schedule (constant with a random phase, or Poisson), late pushes sent late, never skipped. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "app_internal.h"
#include "wire.h"

/* Why a schedule per link: with one ticker for all links every push of a period left
 * together, and a 1 s push period locked with batch's 1 s read deadline, so batch's
 * push latency measured the accident of that phase (27 ms p50 where a push at a random
 * moment waits half the deadline). A real server pushes when its events happen. */

/* ---------------------------------------------------------------- the pure schedule */

/* splitmix64 (the driver's generator): tiny, seedable, reproducible across runs. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]: never 0, so -log() is finite. */
static double rng_unit(uint64_t *s)
{
    return ((double)(rng_next(s) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

static rt_ns period_ns(const app_params *p)
{
    double v = 1e9 / p->push_per_s;
    return v < 1 ? 1 : (rt_ns)(v + 0.5);
}

void app_push_first(const app_params *p, uint32_t id, rt_ns t0, rt_ns now, app_push_sched *out)
{
    out->rng = p->push_seed * 0x9e3779b97f4a7c15ull ^ ((uint64_t)id + 1) * 0xd1b54a32d192ed03ull;
    rng_next(&out->rng);
    rt_ns per = period_ns(p);
    if (p->push_pattern == APP_PUSH_POISSON) {
        /* memoryless: the process may start whenever the link is seen */
        out->next = now + (rt_ns)(-log(rng_unit(&out->rng)) * (double)per);
        return;
    }
    /* constant: ticks at t0 + phase + k * period, the phase drawn per link; the first
     * tick not before now (a link that just attached has missed nothing) */
    rt_ns phase = (rt_ns)((rng_unit(&out->rng) - 0x1p-53) * (double)per);
    rt_ns first = t0 + phase;
    if (first < now)
        first += ((now - first + per - 1) / per) * per;
    out->next = first;
}

rt_ns app_push_advance(const app_params *p, app_push_sched *s)
{
    rt_ns per = period_ns(p);
    rt_ns d = p->push_pattern == APP_PUSH_POISSON ? (rt_ns)(-log(rng_unit(&s->rng)) * (double)per) : per;
    s->next += d > 0 ? d : 1;
    return s->next;
}

/* ---------------------------------------------------------------- the generator */

typedef struct entry {
    uint32_t id;
    app_push_sched s;
} entry;

typedef struct heap {
    entry *e;
    size_t n, cap;
} heap;

static void sift_up(heap *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->e[p].s.next <= h->e[i].s.next)
            break;
        entry t = h->e[p];
        h->e[p] = h->e[i];
        h->e[i] = t;
        i = p;
    }
}

static void sift_down(heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->e[l].s.next < h->e[m].s.next)
            m = l;
        if (r < h->n && h->e[r].s.next < h->e[m].s.next)
            m = r;
        if (m == i)
            return;
        entry t = h->e[m];
        h->e[m] = h->e[i];
        h->e[i] = t;
        i = m;
    }
}

static int add(heap *h, entry e)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        entry *n = realloc(h->e, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        h->e = n;
        h->cap = cap;
    }
    h->e[h->n++] = e;
    sift_up(h, h->n - 1);
    return 0;
}

static void record_lag(app *a, rt_ns lag)
{
    int64_t max = atomic_load(&a->st.push_lag_max_ns);
    while (lag > max && !atomic_compare_exchange_weak(&a->st.push_lag_max_ns, &max, lag)) {}
}

/* Make the push of link e for its scheduled time `sched` (now or late). False when the
 * link is gone (it leaves the schedule). */
static bool push_one(app *a, uint32_t id, rt_ns sched)
{
    slot *s = slot_get(a, id);
    if (!s || atomic_load(&s->closed) || atomic_load(&s->state) != ST_OPEN)
        return false;
    vsock_msg *m = vsock_msg_new(a->p.push_bytes);
    if (!m)
        return true;
    memset(m->data, WIRE_PUSH_FILL, a->p.push_bytes);
    m->len = a->p.push_bytes;
    m->opcode = VSOCK_BINARY;
    m->link_id = id;
    m->t_decoded = 0;
    pthread_mutex_lock(&s->mu);
    /* latency runs from the scheduled tick (t_sched), as the driver's does from its
     * scheduled send time; t_app says when the app actually made it */
    struct wire_hdr h = {.magic = WIRE_MAGIC, .kind = WIRE_PUSH, .link_id = id,
                         .len = a->p.push_bytes, .seq = (uint64_t)s->push_seq++,
                         .t_sched = sched, .t_sent = 0, .t_app = rt_now()};
    wire_put(m->data, &h);
    ADD(pushed, 1);
    if (s->push_t)   /* a push never delivered is censored from the same origin */
        s->push_t[h.seq % APP_PUSH_RING] = sched;
    app__offer_locked(a, s, m);
    pthread_mutex_unlock(&s->mu);
    return true;
}

/* New links are seen at the latest after this long: a link attaching while every other
 * link's next push is far away still starts its schedule soon. */
#define DISCOVER_NS (100 * RT_MS)

void app__push_main(void *arg)
{
    app *a = arg;
    heap h = {0};
    uint32_t seen = 0;
    rt_ns t0 = rt_now();
    for (;;) {
        rt_ns now = rt_now();
        uint32_t n = atomic_load(&a->next_id);
        /* a link joins the schedule once attached (ids are given in accept order; one
         * still attaching holds the later ones back until the next look) */
        for (; seen < n && seen < a->p.max_links; seen++) {
            slot *s = slot_get(a, seen);
            int st = s ? atomic_load(&s->state) : ST_ATTACHING;
            if (st == ST_ATTACHING)
                break;
            if (st != ST_OPEN)
                continue;
            entry e = {.id = seen};
            app_push_first(&a->p, seen, t0, now, &e.s);
            if (add(&h, e) < 0)
                goto out;
        }
        /* paused for the census (the end of the run): no more pushes, none skipped
         * before it */
        bool open = app_gate_enter(a);
        /* every push due by now, in schedule order; one a whole interval late (its
         * link's next tick already due too) is counted late and still sent */
        while (open && h.n > 0 && h.e[0].s.next <= now) {
            entry *e = &h.e[0];
            rt_ns sched = e->s.next;
            record_lag(a, now - sched);
            if (!push_one(a, e->id, sched)) {
                h.e[0] = h.e[--h.n];
                sift_down(&h, 0);
                continue;
            }
            if (app_push_advance(&a->p, &e->s) <= now)
                ADD(pushes_late, 1);
            sift_down(&h, 0);
        }
        if (open)
            app_gate_leave(a);
        rt_ns wake = now + DISCOVER_NS;
        if (open && h.n > 0 && h.e[0].s.next < wake)
            wake = h.e[0].s.next;
        if (rt_sleep_until(wake, a->ctx) == -ECANCELED)
            break;
    }
out:
    free(h.e);
}
