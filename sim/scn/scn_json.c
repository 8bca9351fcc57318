/* scn_json.c — the effective scenario as JSON in the file format, for report.json's "config". */
#include <string.h>

#include "scn_internal.h"

static void set(json_t *o, const char *k, json_t *v)
{
    json_object_set_new(o, k, v);
}

static json_t *payload_json(const struct scn_payload *p)
{
    if (p->dist == SCN_DIST_FIXED) return json_integer(p->min_bytes);
    json_t *o = json_object();
    set(o, "min", json_integer(p->min_bytes));
    set(o, "max", json_integer(p->max_bytes));
    set(o, "dist", json_string(scn__dist_names[p->dist]));
    if (p->dist == SCN_DIST_EXPONENTIAL) set(o, "mean", json_integer(p->mean_bytes));
    return o;
}

/* The client keys in mask into o (a group writes only its own). */
static void client_json(json_t *o, const struct scn_client *c, unsigned mask)
{
    if (mask & SCN_CK_RATE) set(o, "rate_per_s", json_real(c->rate_per_s));
    if (mask & SCN_CK_PATTERN) set(o, "pattern", json_string(scn__pattern_names[c->pattern]));
    if (mask & SCN_CK_PAYLOAD) set(o, "payload_bytes", payload_json(&c->payload));
    if (mask & SCN_CK_IN_FLIGHT) set(o, "in_flight_max", json_integer(c->in_flight_max));
    if ((mask & SCN_CK_STOP_READING) && c->stop_reading_at_s >= 0)
        set(o, "stop_reading_at_s", json_real(c->stop_reading_at_s));
    if (mask & SCN_CK_CLOSE_RATE) set(o, "close_rate_per_s", json_real(c->close_rate_per_s));
    if (mask & SCN_CK_RECONNECT) set(o, "reconnect", json_boolean(c->reconnect));
    if ((mask & SCN_CK_MESSAGES) && c->messages_per_link > 0)
        set(o, "messages_per_link", json_integer(c->messages_per_link));
}

static json_t *cpus_json(const int *cpus, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(cpus[i]));
    return a;
}

static json_t *fault_json(const struct scn_fault *f)
{
    json_t *o = json_object();
    set(o, "at_s", json_real(f->at_s));
    set(o, "kind", json_string(f->kind < SCN_FAULT_COUNT ? scn__fault_names[f->kind] : "?"));
    if (f->kind != SCN_FAULT_KILL_SERVER && f->kind != SCN_FAULT_PAUSE_APP) {
        if (f->links >= 0) set(o, "links", json_integer(f->links));
        else set(o, "fraction", json_real(f->fraction));
        if (f->group[0]) set(o, "group", json_string(f->group));
    }
    if (f->kind == SCN_FAULT_STOP_READING || f->kind == SCN_FAULT_PAUSE_APP)
        set(o, "duration_s", json_real(f->duration_s));
    return o;
}

json_t *scn_to_json(const struct scn *s)
{
    json_t *o = json_object();
    set(o, "name", json_string(s->name));
    set(o, "description", json_string(s->description));
    set(o, "links", json_integer(s->links));
    set(o, "duration_s", json_real(s->duration_s));
    set(o, "warmup_s", json_real(s->warmup_s));
    set(o, "repetitions", json_integer(s->repetitions));
    set(o, "connect_rate_per_s", json_real(s->connect_rate_per_s));
    set(o, "processes", json_integer(s->processes));

    /* an instance as the object that defines it, its config beside it */
    json_t *v = json_array();
    for (int i = 0; i < s->n_variants; i++) {
        const struct scn_instance *in = scn_instance_find(s, s->variants[i]);
        if (!in) {
            json_array_append_new(v, json_string(s->variants[i]));
            continue;
        }
        json_t *cfg = json_object();
        for (int k = 0; k < s->n_vparams; k++)
            if (s->vparams[k].of_instance && !strcmp(s->vparams[k].variant, in->name))
                set(cfg, s->vparams[k].param, json_integer(s->vparams[k].value));
        json_t *io = json_object();
        set(io, "name", json_string(in->name));
        set(io, "variant", json_string(in->variant));
        set(io, "config", cfg);
        json_array_append_new(v, io);
    }
    set(o, "variants", v);

    json_t *vc = json_object();
    for (int i = 0; i < s->n_vparams; i++) {
        if (s->vparams[i].of_instance) continue;   /* in its instance's object above, or not run */
        json_t *per = json_object_get(vc, s->vparams[i].variant);
        if (!per) {
            per = json_object();
            set(vc, s->vparams[i].variant, per);
        }
        set(per, s->vparams[i].param, json_integer(s->vparams[i].value));
    }
    set(o, "variant_config", vc);

    json_t *cl = json_object();
    client_json(cl, &s->client, ~0u);
    set(cl, "compression", json_string(scn__compression_names[s->client.compression]));
    set(cl, "payload_fill", json_string(scn__fill_names[s->client.payload_fill]));
    set(o, "client", cl);

    json_t *gs = json_array();
    for (int i = 0; i < s->n_groups; i++) {
        const struct scn_group *g = &s->groups[i];
        json_t *go = json_object();
        set(go, "name", json_string(g->name));
        if (g->links >= 0) set(go, "links", json_integer(g->links));
        else set(go, "fraction", json_real(g->fraction));
        client_json(go, &g->client, g->set_mask);
        json_array_append_new(gs, go);
    }
    set(o, "groups", gs);

    const struct scn_app *a = &s->app;
    json_t *app = json_object(), *push = json_object(), *idle = json_object();
    set(app, "mode", json_string(scn__mode_names[a->mode]));
    set(app, "workers", json_integer(a->workers));
    set(app, "inline", json_boolean(a->inline_handlers));
    set(app, "service_time_us", json_integer(a->service_time_us));
    set(push, "rate_per_s", json_real(a->push_rate_per_s));
    set(push, "pattern", json_string(scn__pattern_names[a->push_pattern]));
    set(push, "payload_bytes", payload_json(&a->push_payload));
    set(app, "push", push);
    set(idle, "timeout_ms", json_integer(a->idle_timeout_ms));
    set(idle, "period_ms", json_integer(a->idle_period_ms));
    set(app, "idle", idle);
    set(app, "auto_close", json_boolean(a->auto_close));
    set(o, "app", app);

    json_t *lim = json_object();
    set(lim, "rate_limit_per_s", json_integer(s->limits.rate_limit_per_s));
    set(lim, "max_msg_bytes", json_integer(s->limits.max_msg_bytes));
    set(o, "limits", lim);

    json_t *fs = json_array();
    for (int i = 0; i < s->n_faults; i++) json_array_append_new(fs, fault_json(&s->faults[i]));
    set(o, "faults", fs);

    json_t *pin = json_object();
    set(pin, "server", cpus_json(s->pin_server, s->n_pin_server));
    set(pin, "driver", cpus_json(s->pin_driver, s->n_pin_driver));
    set(o, "pin", pin);

    json_t *drv = json_object();
    set(drv, "threads", json_integer(s->driver_threads));
    set(drv, "tick_us", json_real(s->driver_tick_us));
    set(drv, "remeasure", json_integer(s->driver_remeasure));
    set(drv, "saturated_cpu", json_real(s->driver_saturated_cpu));
    set(drv, "saturated_lag_us", json_real(s->driver_saturated_lag_us));
    set(drv, "stall_ms", json_real(s->driver_stall_ms));
    set(drv, "nice", json_integer(s->driver_nice));
    set(o, "driver", drv);

    json_t *st = json_array();
    for (int i = 0; i < s->n_steps; i++) json_array_append_new(st, json_integer(s->steps[i]));
    set(o, "steps", st);

    json_t *ex = json_array();
    for (int i = 0; i < s->n_expect; i++) {
        const struct scn_expect *e = &s->expect[i];
        json_array_append_new(ex, e->why[0] ? json_pack("{s:s,s:s}", "line", e->text, "why", e->why)
                                            : json_string(e->text));
    }
    set(o, "expect", ex);
    return o;
}
