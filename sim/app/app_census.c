/* app_census.c — the app model at the end of a run: stop it (quiesce), then what each link holds and what was done with its messages. */
#include <errno.h>
#include <string.h>

#include "app_internal.h"

_Static_assert(APP_CENSUS_PUSH_RING == APP_PUSH_RING, "one ring size");

int app_quiesce(app *a, rt_ns deadline)
{
    atomic_store(&a->paused, true);
    /* app_gate_enter bumps busy before it looks at paused (both sequentially
     * consistent): once busy reads 0 after the store, nobody is inside and nobody
     * gets in. */
    while (atomic_load(&a->busy) > 0) {
        if (rt_now() >= deadline) return -ETIMEDOUT;
        rt_sleep(RT_MS / 4, NULL);
    }
    return 0;
}

uint32_t app_census(app *a, app_link_census *out, uint32_t cap)
{
    uint32_t n = app_links(a);
    if (n > cap) n = cap;
    for (uint32_t id = 0; id < n; id++) {
        app_link_census *c = &out[id];
        memset(c, 0, sizeof *c);
        c->id = id;
        slot *s = slot_get(a, id);
        if (!s) continue;   /* reserved, not yet attached */
        c->attached = atomic_load(&s->state) == ST_OPEN;
        c->closed = atomic_load(&s->closed);
        c->sock = s->sock;
        pthread_mutex_lock(&s->mu);
        c->released = s->released;
        c->taken = s->recv_msgs;
        c->echoed = s->echoed;
        c->pushed = s->push_seq;
        c->accepted = s->accepted;
        c->held = s->held;
        c->refused = s->refused;
        c->dropped_in = s->dropped_in;
        c->dropped_out = s->dropped_out;
        c->seq_started = s->seq_started;
        c->next_seq = s->next_seq;
        c->seen_win = s->seen_win;
        if (s->push_t) memcpy(c->push_t, s->push_t, sizeof c->push_t);
        c->push_seq_m0 = s->push_seq_m0;
        struct link *l = atomic_load(&s->l);
        /* under the lock: release (which frees l) cannot run meanwhile */
        if (c->attached && !s->released && l) {
            a->v->held(l, &c->variant_in, &c->variant_out);
            c->variant_asked = true;
        }
        pthread_mutex_unlock(&s->mu);
    }
    return n;
}

void app_window_start(app *a)
{
    uint32_t n = app_links(a);
    for (uint32_t id = 0; id < n; id++) {
        slot *s = slot_get(a, id);
        if (!s) continue;
        pthread_mutex_lock(&s->mu);
        s->push_seq_m0 = s->push_seq;
        pthread_mutex_unlock(&s->mu);
    }
}
