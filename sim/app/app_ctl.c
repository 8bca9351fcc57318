/* app_ctl.c — the app model's params, control from the server (close, idle, service time) and its statistics. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app_internal.h"
#include "wire.h"

void app_params_default(app_params *p)
{
    memset(p, 0, sizeof *p);
    p->workers = 2;
    p->mode = APP_ECHO;
    p->recv_batch = 64;
    p->service_kind = APP_SERVICE_BUSY;
    p->push_bytes = 64;
    p->push_pattern = APP_PUSH_CONSTANT;
    p->push_seed = 1;
    p->reap_period_ns = RT_S;
    p->max_links = 65536;
}

int app_params_check(const app_params *p, char *err, size_t errlen)
{
#define RULE(cond, key, rule, val) \
    if (!(cond)) { snprintf(err, errlen, "%s: %s (got %lld)", key, rule, (long long)(val)); return -EINVAL; }
    RULE(p->workers >= 1 && p->workers <= 256, "workers", "must be in [1, 256]", p->workers);
    RULE(p->mode == APP_ECHO || p->mode == APP_SINK, "mode", "must be echo or sink", p->mode);
    RULE(p->recv_batch >= 1, "recv_batch", "must be >= 1", p->recv_batch);
    RULE(p->service_ns >= 0, "service_ns", "must be >= 0", p->service_ns);
    if (!(p->push_per_s >= 0 && p->push_per_s <= 1000000)) {
        snprintf(err, errlen, "push_per_s: must be in [0, 1000000] (got %g)", p->push_per_s);
        return -EINVAL;
    }
    RULE(p->push_pattern == APP_PUSH_CONSTANT || p->push_pattern == APP_PUSH_POISSON, "push_pattern",
         "must be constant or poisson", p->push_pattern);
    RULE(p->push_per_s == 0 || p->push_bytes >= WIRE_HDR_BYTES, "push_bytes",
         "must be >= 48 (the wire header)", p->push_bytes);
    RULE(p->idle_timeout_ns >= 0, "idle_timeout_ns", "must be >= 0", p->idle_timeout_ns);
    RULE(p->idle_timeout_ns == 0 || p->reap_period_ns > 0, "reap_period_ns", "must be > 0",
         p->reap_period_ns);
    RULE(p->max_links >= 1, "max_links", "must be >= 1", p->max_links);
#undef RULE
    return 0;
}

/* ---------------------------------------------------------------- control and stats */

int app_close_link(app *a, uint32_t id)
{
    slot *s = slot_get(a, id);
    if (!s || atomic_load(&s->state) != ST_OPEN) return -ENOENT;
    pthread_mutex_lock(&s->mu);
    int rc = s->released ? -ENOENT : a->v->close(atomic_load(&s->l));
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int app_try_close_if_idle(app *a, uint32_t id, rt_ns idle, bool *closed)
{
    *closed = false;
    slot *s = slot_get(a, id);
    if (!s || atomic_load(&s->state) != ST_OPEN) return -ENOENT;
    pthread_mutex_lock(&s->mu);
    int rc = -ENOENT;
    if (!s->released && !atomic_load(&s->closed)) {
        *closed = a->v->try_close_if_idle(atomic_load(&s->l), idle);
        rc = 0;
        if (*closed && s->recv_msgs > 0) {
            int64_t quiet = rt_now() - s->last_recv;
            ADD(idle_closed_active, 1);
            /* the app heard from it within the timeout: a reaper that closed a link
             * still talking (the variant's activity time is never older than this) */
            if (quiet < idle) ADD(idle_closed_talking, 1);
            int64_t max = atomic_load(&a->st.idle_closed_active_silence_max_ns);
            while (quiet > max &&
                   !atomic_compare_exchange_weak(&a->st.idle_closed_active_silence_max_ns, &max, quiet)) {}
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (*closed) ADD(idle_closed, 1);
    return rc;
}

void app_set_service(app *a, rt_ns service_ns, enum app_service kind)
{
    atomic_store(&a->service_kind, (int)kind);
    atomic_store(&a->service_ns, service_ns);
}

uint32_t app_links(app *a)
{
    uint32_t n = atomic_load(&a->next_id);
    return n < a->p.max_links ? n : a->p.max_links;
}

uint32_t app_max_links(app *a)
{
    return a->p.max_links;
}

void app_stats_get(app *a, app_stats *o)
{
#define GET(f) o->f = atomic_load(&a->st.f)
    GET(links_attached); GET(attach_failed); GET(attach_thread_limit); GET(links_refused);
    GET(links_closed); GET(links_released); GET(closed_twice);
    GET(recv_msgs); GET(recv_bytes); GET(recv_no_hdr); GET(seq_gaps); GET(seq_backwards);
    GET(seq_missing); GET(seq_late); GET(seq_dup);
    GET(sent); GET(echoed); GET(pushed); GET(sink_freed); GET(send_eagain);
    GET(held_now); GET(held_peak); GET(unsent_at_close); GET(variant_drops);
    GET(idle_closed); GET(reaper_runs); GET(reaper_busy_ns);
    GET(pushes_late); GET(push_lag_max_ns);
    GET(idle_closed_active); GET(idle_closed_active_silence_max_ns); GET(idle_closed_talking);
#undef GET
    o->lat_in_overflow = atomic_load(&a->st.lat_overflow);
}

void app_link_stats_get(app *a, uint32_t id, app_link_stats *o)
{
    memset(o, 0, sizeof *o);
    slot *s = slot_get(a, id);
    if (!s) return;
    o->exists = true;
    o->closed = atomic_load(&s->closed);
    o->open = atomic_load(&s->state) == ST_OPEN && !o->closed;
    o->cause = (enum link_close_cause)atomic_load(&s->cause);
    o->closed_calls = atomic_load(&s->closed_calls);
    pthread_mutex_lock(&s->mu);
    o->released = s->released;
    o->recv_msgs = s->recv_msgs;
    o->dropped = s->dropped;
    o->next_seq = s->next_seq;
    o->seq_gaps = s->seq_gaps;
    o->seq_backwards = s->seq_backwards;
    o->held = s->held;
    o->push_seq = s->push_seq;
    pthread_mutex_unlock(&s->mu);
}

bool app_inline(const app *a)
{
    return a->inl;
}

void app_lat_in_merge(app *a, met_hist *dst)
{
    if (a->inl) {
        pthread_mutex_lock(&a->inline_w.mu);
        if (a->inline_w.hist) met_hist_merge(dst, a->inline_w.hist);
        pthread_mutex_unlock(&a->inline_w.mu);
    }
    for (int i = 0; i < a->p.workers; i++) {
        pthread_mutex_lock(&a->workers[i].mu);
        if (a->workers[i].hist) met_hist_merge(dst, a->workers[i].hist);
        pthread_mutex_unlock(&a->workers[i].mu);
    }
}
