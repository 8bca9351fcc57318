/* run_plan.c — a scenario as the server child's configuration and the driver's parameters. */
#include "run_plan.h"

#include <math.h>
#include <sched.h>
#include <string.h>

#include "run_go.h"

json_t *run_plan_server_config(const struct scn *s, const char *variant, int64_t links)
{
    json_t *params = json_object();
    /* An instance runs its module with the module's variant_config, then its own config.
     * go:<design> takes its C port's variant_config first (one scenario drives both the
     * same way), then its own entries. Later entries win. */
    const char *module = scn_variant_module(s, variant);
    const char *twin = run_go_design(module);
    const char *owners[3] = {twin, module, strcmp(module, variant) ? variant : NULL};
    for (int pass = 0; pass < 3; pass++)
        for (int i = 0; owners[pass] && i < s->n_vparams; i++)
            if (!strcmp(s->vparams[i].variant, owners[pass]) &&
                s->vparams[i].of_instance == (pass == 2))
                json_object_set_new(params, s->vparams[i].param, json_integer(s->vparams[i].value));
    json_t *pin = json_array();
    for (int i = 0; i < s->n_pin_server; i++)
        json_array_append_new(pin, json_integer(s->pin_server[i]));
    /* reconnecting clients take new link ids: leave room for churn */
    int64_t max_links = links * 4 > 65536 ? links * 4 : 65536;
    /* a whole rate as an integer: the Go reference server reads push_per_s as one */
    double rate = s->app.push_rate_per_s;
    json_t *push_rate = rate == floor(rate) && rate < 9e15 ? json_integer((json_int_t)rate) : json_real(rate);
    return json_pack("{s:s,s:o,s:{s:I,s:b,s:I},s:{s:I,s:s,s:I,s:o,s:s,s:I,s:I,s:I,s:I,s:I,s:b},s:o}",
        "variant", module, "params", params,
        "common", "rate_limit_per_s", (json_int_t)s->limits.rate_limit_per_s,
        "auto_close", s->app.auto_close, "max_msg_bytes", (json_int_t)s->limits.max_msg_bytes,
        "app", "workers", (json_int_t)s->app.workers,
        "mode", s->app.mode == SCN_APP_SINK ? "sink" : "echo",
        "service_ns", (json_int_t)(s->app.service_time_us * 1000),
        "push_per_s", push_rate,
        "push_pattern", s->app.push_pattern == SCN_PATTERN_POISSON ? "poisson" : "constant",
        "push_seed", (json_int_t)1,
        "push_bytes", (json_int_t)s->app.push_payload.min_bytes,
        "idle_timeout_ns", (json_int_t)(s->app.idle_timeout_ms * 1000000),
        "reap_period_ns", (json_int_t)(s->app.idle_period_ms * 1000000),
        "max_links", (json_int_t)max_links, "inline", s->app.inline_handlers,
        "pin", pin);
}

static void set_group(struct drv_group *g, const struct scn_client *c, int64_t links,
                      const struct scn *s, int64_t warmup_ns)
{
    g->links = (uint32_t)links;
    g->rate_per_s = c->rate_per_s;
    g->pattern = c->pattern == SCN_PATTERN_POISSON ? DRV_POISSON : DRV_CONSTANT;
    g->payload_min_bytes = (uint32_t)c->payload.min_bytes;
    g->payload_max_bytes = (uint32_t)c->payload.max_bytes;
    g->size_dist = c->payload.dist == SCN_DIST_UNIFORM       ? DRV_SIZE_UNIFORM
                 : c->payload.dist == SCN_DIST_EXPONENTIAL ? DRV_SIZE_EXPONENTIAL
                                                           : DRV_SIZE_FIXED;
    g->in_flight_max = (uint32_t)c->in_flight_max;
    g->msgs_per_link = (uint64_t)c->messages_per_link;
    g->stop_reading_at_ns = c->stop_reading_at_s < 0 ? -1
                          : warmup_ns + (int64_t)(c->stop_reading_at_s * 1e9);
    /* the scenario's rate is per link (docs/scenarios.md); the driver's is the group's
     * total, closing its links round robin: each lives about 1/rate s either way */
    g->close_rate_per_s = c->close_rate_per_s * (double)links;
    g->reconnect = c->reconnect;
    g->push_rate_per_s = s->app.push_rate_per_s;
}

void run_plan_driver(const struct scn *s, int64_t links, uint16_t port, struct drv_params *p,
                     struct drv_fault *faults, int *nxf, run_xfault *xf)
{
    drv_params_default(p);
    p->port = port;
    p->connect_rate_per_s = s->connect_rate_per_s;
    p->warmup_ns = (int64_t)(s->warmup_s * 1e9);
    p->duration_ns = (int64_t)(s->duration_s * 1e9);
    p->cpu = s->n_pin_driver > 0 ? s->pin_driver[0] : -1;
    /* the driver's threads: each on one of pin.driver's CPUs, by default one per CPU
     * it lists, else one per CPU the server is not pinned to (drv.h) */
    for (int i = 0; i < s->n_pin_driver && i < DRV_THREADS_MAX; i++)
        p->cpus[p->n_cpus++] = s->pin_driver[i];
    cpu_set_t mine;
    if (s->n_pin_driver == 0 && s->n_pin_server > 0 && sched_getaffinity(0, sizeof mine, &mine) == 0) {
        for (int i = 0; i < s->n_pin_server; i++)
            if (s->pin_server[i] >= 0 && s->pin_server[i] < CPU_SETSIZE)
                CPU_CLR(s->pin_server[i], &mine);
        for (int c = 0; c < CPU_SETSIZE && p->n_cpus < DRV_THREADS_MAX; c++)
            if (CPU_ISSET(c, &mine))
                p->cpus[p->n_cpus++] = c;
    }
    int64_t th = s->driver_threads ? s->driver_threads : p->n_cpus;
    p->threads = (int)(th < 1 ? 1 : th > DRV_THREADS_MAX ? DRV_THREADS_MAX : th);
    p->tick_ns = (int64_t)(s->driver_tick_us * 1e3);
    p->saturated_cpu_frac = s->driver_saturated_cpu;
    p->saturated_lag_ns = (int64_t)(s->driver_saturated_lag_us * 1e3);
    p->nice = (int)s->driver_nice;
    p->deflate = (int)s->client.compression;   /* scn_compression follows VSOCK_DEFLATE_* */
    p->fill_random = s->client.payload_fill == SCN_FILL_RANDOM;

    /* groups in scenario order, the implicit default group last; link indices follow */
    int64_t first[SCN_GROUPS_MAX + 1], count[SCN_GROUPS_MAX + 1];
    int64_t at = 0;
    p->n_groups = 0;
    for (int i = 0; i <= s->n_groups; i++) {
        int64_t n = scn_group_links(s, i, links);
        first[i] = at;
        count[i] = n;
        at += n;
        if (n <= 0 || p->n_groups >= DRV_MAX_GROUPS)
            continue;
        const struct scn_client *c = i < s->n_groups ? &s->groups[i].client : &s->client;
        set_group(&p->groups[p->n_groups++], c, n, s, p->warmup_ns);
    }

    int nf = 0;
    *nxf = 0;
    for (int i = 0; i < s->n_faults; i++) {
        const struct scn_fault *f = &s->faults[i];
        int64_t at_ns = p->warmup_ns + (int64_t)(f->at_s * 1e9);
        int64_t dur_ns = (int64_t)(f->duration_s * 1e9);
        if (f->kind == SCN_FAULT_KILL_SERVER || f->kind == SCN_FAULT_PAUSE_APP) {
            xf[(*nxf)++] = (run_xfault){.at_ns = at_ns, .kind = f->kind, .duration_ns = dur_ns};
            continue;
        }
        /* the target: one group (lowest link ids first) or every link */
        int64_t t_first = 0, t_count = links;
        if (f->group[0]) {
            for (int g = 0; g < s->n_groups; g++)
                if (!strcmp(s->groups[g].name, f->group)) {
                    t_first = first[g];
                    t_count = count[g];
                }
            if (!strcmp(f->group, "default")) {
                t_first = first[s->n_groups];
                t_count = count[s->n_groups];
            }
        }
        int64_t n = f->links >= 0 ? f->links : llround(f->fraction * (double)t_count);
        if (n > t_count)
            n = t_count;
        enum drv_fault_kind k = f->kind == SCN_FAULT_STOP_READING   ? DRV_FAULT_STOP_READING
                              : f->kind == SCN_FAULT_RESUME_READING ? DRV_FAULT_RESUME_READING
                              : f->kind == SCN_FAULT_CLOSE_LINKS    ? DRV_FAULT_CLOSE
                                                                    : DRV_FAULT_RESET;
        faults[nf++] = (struct drv_fault){.at_ns = at_ns, .kind = k,
                                          .link_first = (uint32_t)t_first, .link_count = (uint32_t)n};
        if (k == DRV_FAULT_STOP_READING && dur_ns > 0)
            faults[nf++] = (struct drv_fault){.at_ns = at_ns + dur_ns, .kind = DRV_FAULT_RESUME_READING,
                                              .link_first = (uint32_t)t_first, .link_count = (uint32_t)n};
    }
    p->faults = nf ? faults : NULL;
    p->n_faults = nf;
}

int run_plan_order(int rep, int i, int n)
{
    if (n <= 0)
        return 0;
    int r = rep % n;
    return (i + (r < 0 ? r + n : r)) % n;
}
