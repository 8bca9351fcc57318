/* scn_parse.c — scenario JSON to struct scn: defaults first, then the file; key and type errors only. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scn_internal.h"

/* ---------------------------------------------------------------- typed readers */

struct ctx {
    const char *file;
    struct scn_diag *d;
    int errs;
};

#define PATH_BYTES 256
#define GOT_BYTES 96

static void err(struct ctx *c, const char *path, const json_t *got, const char *rule)
{
    char g[GOT_BYTES];
    scn__err(c->d, c->file, path, got ? scn__json_text(got, g, sizeof g) : NULL, "%s", rule);
    c->errs++;
}

static const char *join(char *buf, const char *prefix, const char *key)
{
    return scn__join(buf, PATH_BYTES, prefix, key);
}

static const char *index_path(char *buf, const char *prefix, size_t i)
{
    return scn__index(buf, PATH_BYTES, prefix, i);
}

static void unknown_key(struct ctx *c, const char *path, const char *key,
                        const char *const *known, int n)
{
    const char *near = scn_closest(key, known, n);
    char rule[512];
    if (near) {
        snprintf(rule, sizeof rule, "unknown key (did you mean \"%s\"?)", near);
    } else {
        size_t o = (size_t)snprintf(rule, sizeof rule, "unknown key (known here:");
        for (int i = 0; i < n && o < sizeof rule; i++)
            o += (size_t)snprintf(rule + o, sizeof rule - o, " %s", known[i]);
        if (o < sizeof rule) snprintf(rule + o, sizeof rule - o, ")");
    }
    err(c, path, NULL, rule);
}

static bool is_object(struct ctx *c, const char *path, const json_t *v)
{
    if (json_is_object(v)) return true;
    err(c, path, v, "must be an object");
    return false;
}

static bool is_array(struct ctx *c, const char *path, const json_t *v, size_t max)
{
    if (!json_is_array(v)) {
        err(c, path, v, "must be an array");
        return false;
    }
    if (json_array_size(v) > max) {
        char rule[64], got[32];
        snprintf(rule, sizeof rule, "must have at most %zu entries", max);
        snprintf(got, sizeof got, "%zu", json_array_size(v));
        scn__err(c->d, c->file, path, got, "%s", rule);
        c->errs++;
        return false;
    }
    return true;
}

static void get_double(struct ctx *c, const char *path, const json_t *v, double *out)
{
    if (!json_is_number(v)) {
        err(c, path, v, "must be a number");
        return;
    }
    *out = json_number_value(v);
}

/* Integers may be written 1e6 (jansson reads that as a real): accept any real with
 * an exact integer value. */
static void get_int(struct ctx *c, const char *path, const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return;
    }
    if (json_is_real(v)) {
        double x = json_real_value(v);
        if (x == floor(x) && fabs(x) < 9007199254740992.0) {
            *out = (int64_t)x;
            return;
        }
    }
    err(c, path, v, "must be an integer");
}

static void get_bool(struct ctx *c, const char *path, const json_t *v, bool *out)
{
    if (!json_is_boolean(v)) {
        err(c, path, v, "must be true or false");
        return;
    }
    *out = json_is_true(v);
}

static void get_string(struct ctx *c, const char *path, const json_t *v, char *out, size_t n)
{
    if (!json_is_string(v)) {
        err(c, path, v, "must be a string");
        return;
    }
    if (json_string_length(v) >= n) {
        char rule[64];
        snprintf(rule, sizeof rule, "must be at most %zu characters", n - 1);
        err(c, path, v, rule);
        return;
    }
    snprintf(out, n, "%s", json_string_value(v));
}

static void get_enum(struct ctx *c, const char *path, const json_t *v,
                     const char *const *names, int n, int *out)
{
    char rule[256];
    size_t o = (size_t)snprintf(rule, sizeof rule, "must be one of");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(rule + o, sizeof rule - o, "%s %s", i ? "," : "", names[i]);
    if (json_is_string(v)) {
        for (int i = 0; i < n; i++)
            if (!strcmp(json_string_value(v), names[i])) {
                *out = i;
                return;
            }
    }
    err(c, path, v, rule);
}

#define NKEYS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---------------------------------------------------------------- sections */

static const char *const payload_keys[] = {"min", "max", "dist", "mean"};

/* A number (fixed size) or {min, max, dist, mean}. */
static void parse_payload(struct ctx *c, const char *path, const json_t *v, struct scn_payload *p)
{
    char sub[PATH_BYTES];
    if (json_is_number(v)) {
        int64_t b = p->min_bytes;
        get_int(c, path, v, &b);
        *p = (struct scn_payload){.dist = SCN_DIST_FIXED, .min_bytes = b, .max_bytes = b};
        return;
    }
    if (!json_is_object(v)) {
        err(c, path, v, "must be a size in bytes or {\"min\", \"max\", \"dist\"}");
        return;
    }
    struct scn_payload q = {.dist = SCN_DIST_UNIFORM, .min_bytes = -1, .max_bytes = -1};
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        join(sub, path, k);
        if (!strcmp(k, "min")) get_int(c, sub, x, &q.min_bytes);
        else if (!strcmp(k, "max")) get_int(c, sub, x, &q.max_bytes);
        else if (!strcmp(k, "mean")) get_int(c, sub, x, &q.mean_bytes);
        else if (!strcmp(k, "dist")) {
            /* "fixed" is written as a plain number, so an object names a distribution */
            int e = 0;
            get_enum(c, sub, x, scn__dist_names + SCN_DIST_UNIFORM, 2, &e);
            q.dist = (enum scn_dist)(SCN_DIST_UNIFORM + e);
        } else unknown_key(c, sub, k, payload_keys, NKEYS(payload_keys));
    }
    if (!json_object_get(v, "min")) err(c, join(sub, path, "min"), NULL, "required key missing");
    if (!json_object_get(v, "max")) err(c, join(sub, path, "max"), NULL, "required key missing");
    if (q.dist == SCN_DIST_EXPONENTIAL && !json_object_get(v, "mean") && q.min_bytes >= 0 &&
        q.max_bytes >= q.min_bytes)
        q.mean_bytes = q.min_bytes + (q.max_bytes - q.min_bytes) / 4;   /* small sizes most likely */
    if (q.dist != SCN_DIST_EXPONENTIAL && json_object_get(v, "mean"))
        err(c, join(sub, path, "mean"), NULL, "only used with \"dist\": \"exponential\"");
    *p = q;
}

static const char *const client_keys[] = {"rate_per_s", "pattern", "payload_bytes", "in_flight_max",
                                          "stop_reading_at_s", "close_rate_per_s", "reconnect",
                                          "messages_per_link", "compression", "payload_fill"};

/* One client key into cl; false if key is not a client key. */
static bool parse_client_key(struct ctx *c, const char *prefix, const char *k, const json_t *x,
                             struct scn_client *cl, unsigned *mask)
{
    char p[PATH_BYTES];
    join(p, prefix, k);
    int e;
    if (!strcmp(k, "rate_per_s")) {
        get_double(c, p, x, &cl->rate_per_s);
        *mask |= SCN_CK_RATE;
    } else if (!strcmp(k, "pattern")) {
        e = (int)cl->pattern;
        get_enum(c, p, x, scn__pattern_names, 2, &e);
        cl->pattern = (enum scn_pattern)e;
        *mask |= SCN_CK_PATTERN;
    } else if (!strcmp(k, "payload_bytes")) {
        parse_payload(c, p, x, &cl->payload);
        *mask |= SCN_CK_PAYLOAD;
    } else if (!strcmp(k, "in_flight_max")) {
        get_int(c, p, x, &cl->in_flight_max);
        *mask |= SCN_CK_IN_FLIGHT;
    } else if (!strcmp(k, "stop_reading_at_s")) {
        double t = cl->stop_reading_at_s;
        get_double(c, p, x, &t);
        /* checked here, not in scn_validate: a negative value in the struct means "never" */
        if (t < 0) err(c, p, x, "must be >= 0 (leave the key out for never)");
        else cl->stop_reading_at_s = t;
        *mask |= SCN_CK_STOP_READING;
    } else if (!strcmp(k, "close_rate_per_s")) {
        get_double(c, p, x, &cl->close_rate_per_s);
        *mask |= SCN_CK_CLOSE_RATE;
    } else if (!strcmp(k, "reconnect")) {
        get_bool(c, p, x, &cl->reconnect);
        *mask |= SCN_CK_RECONNECT;
    } else if (!strcmp(k, "messages_per_link")) {
        get_int(c, p, x, &cl->messages_per_link);
        *mask |= SCN_CK_MESSAGES;
    } else {
        return false;
    }
    return true;
}

static void parse_client(struct ctx *c, const json_t *v, struct scn_client *cl)
{
    if (!is_object(c, "client", v)) return;
    const char *k;
    json_t *x;
    unsigned mask = 0;
    char p[PATH_BYTES];
    json_object_foreach((json_t *)v, k, x) {
        /* keys of the whole driver, not of a group: parse_client_key leaves them out */
        int e;
        if (!strcmp(k, "compression")) {
            e = (int)cl->compression;
            get_enum(c, join(p, "client", k), x, scn__compression_names, 3, &e);
            cl->compression = (enum scn_compression)e;
        } else if (!strcmp(k, "payload_fill")) {
            e = (int)cl->payload_fill;
            get_enum(c, join(p, "client", k), x, scn__fill_names, 2, &e);
            cl->payload_fill = (enum scn_fill)e;
        } else if (!parse_client_key(c, "client", k, x, cl, &mask)) {
            unknown_key(c, join(p, "client", k), k, client_keys, NKEYS(client_keys));
        }
    }
}

static const char *const group_keys[] = {"name", "links", "fraction", "rate_per_s", "pattern",
                                         "payload_bytes", "in_flight_max", "stop_reading_at_s",
                                         "close_rate_per_s", "reconnect", "messages_per_link"};

/* Groups are read after the default client, so their clients start from it. */
static void parse_groups(struct ctx *c, const json_t *v, struct scn *s)
{
    if (!is_array(c, "groups", v, SCN_GROUPS_MAX)) return;
    size_t i;
    json_t *g;
    json_array_foreach(v, i, g) {
        char gp[PATH_BYTES], p[PATH_BYTES];
        index_path(gp, "groups", i);
        if (!is_object(c, gp, g)) continue;
        struct scn_group *gr = &s->groups[s->n_groups++];
        gr->links = -1;
        gr->fraction = -1;
        gr->client = s->client;
        const char *k;
        json_t *x;
        json_object_foreach(g, k, x) {
            join(p, gp, k);
            if (!strcmp(k, "name")) {
                get_string(c, p, x, gr->name, sizeof gr->name);
                if (json_is_string(x) && !json_string_length(x)) err(c, p, x, "must not be empty");
            }
            else if (!strcmp(k, "links")) get_int(c, p, x, &gr->links);
            else if (!strcmp(k, "fraction")) get_double(c, p, x, &gr->fraction);
            else if (!parse_client_key(c, gp, k, x, &gr->client, &gr->set_mask))
                unknown_key(c, p, k, group_keys, NKEYS(group_keys));
        }
        if (!json_object_get(g, "name")) err(c, join(p, gp, "name"), NULL, "required key missing");
        bool has_l = json_object_get(g, "links"), has_f = json_object_get(g, "fraction");
        if (has_l && has_f) err(c, gp, NULL, "give \"links\" or \"fraction\", not both");
        if (!has_l && !has_f) err(c, gp, NULL, "required: \"links\" or \"fraction\"");
    }
}

static const char *const push_keys[] = {"rate_per_s", "pattern", "payload_bytes"};
static const char *const idle_keys[] = {"timeout_ms", "period_ms"};
static const char *const app_keys[] = {"mode", "workers", "service_time_us", "push", "idle",
                                       "auto_close", "inline"};

static void parse_app(struct ctx *c, const json_t *v, struct scn_app *a)
{
    if (!is_object(c, "app", v)) return;
    const char *k, *k2;
    json_t *x, *y;
    char p[PATH_BYTES], p2[PATH_BYTES];
    json_object_foreach((json_t *)v, k, x) {
        join(p, "app", k);
        if (!strcmp(k, "mode")) {
            int e = (int)a->mode;
            get_enum(c, p, x, scn__mode_names, 2, &e);
            a->mode = (enum scn_app_mode)e;
        } else if (!strcmp(k, "workers")) get_int(c, p, x, &a->workers);
        else if (!strcmp(k, "service_time_us")) get_int(c, p, x, &a->service_time_us);
        else if (!strcmp(k, "auto_close")) get_bool(c, p, x, &a->auto_close);
        else if (!strcmp(k, "inline")) get_bool(c, p, x, &a->inline_handlers);
        else if (!strcmp(k, "push")) {
            if (!is_object(c, p, x)) continue;
            json_object_foreach(x, k2, y) {
                join(p2, p, k2);
                if (!strcmp(k2, "rate_per_s")) get_double(c, p2, y, &a->push_rate_per_s);
                else if (!strcmp(k2, "pattern")) {
                    int e = (int)a->push_pattern;
                    get_enum(c, p2, y, scn__pattern_names, 2, &e);
                    a->push_pattern = (enum scn_pattern)e;
                }
                else if (!strcmp(k2, "payload_bytes")) parse_payload(c, p2, y, &a->push_payload);
                else unknown_key(c, p2, k2, push_keys, NKEYS(push_keys));
            }
        } else if (!strcmp(k, "idle")) {
            if (!is_object(c, p, x)) continue;
            json_object_foreach(x, k2, y) {
                join(p2, p, k2);
                if (!strcmp(k2, "timeout_ms")) get_int(c, p2, y, &a->idle_timeout_ms);
                else if (!strcmp(k2, "period_ms")) get_int(c, p2, y, &a->idle_period_ms);
                else unknown_key(c, p2, k2, idle_keys, NKEYS(idle_keys));
            }
        } else unknown_key(c, p, k, app_keys, NKEYS(app_keys));
    }
}

static const char *const limits_keys[] = {"rate_limit_per_s", "max_msg_bytes"};

static void parse_limits(struct ctx *c, const json_t *v, struct scn_limits *l)
{
    if (!is_object(c, "limits", v)) return;
    const char *k;
    json_t *x;
    char p[PATH_BYTES];
    json_object_foreach((json_t *)v, k, x) {
        join(p, "limits", k);
        if (!strcmp(k, "rate_limit_per_s")) get_int(c, p, x, &l->rate_limit_per_s);
        else if (!strcmp(k, "max_msg_bytes")) get_int(c, p, x, &l->max_msg_bytes);
        else unknown_key(c, p, k, limits_keys, NKEYS(limits_keys));
    }
}

static const char *const fault_keys[] = {"at_s", "kind", "links", "fraction", "group", "duration_s"};

static void parse_faults(struct ctx *c, const json_t *v, struct scn *s)
{
    if (!is_array(c, "faults", v, SCN_FAULTS_MAX)) return;
    size_t i;
    json_t *f;
    json_array_foreach(v, i, f) {
        char fp[PATH_BYTES], p[PATH_BYTES];
        index_path(fp, "faults", i);
        if (!is_object(c, fp, f)) continue;
        struct scn_fault *ft = &s->faults[s->n_faults++];
        *ft = (struct scn_fault){.at_s = 0, .kind = SCN_FAULT_COUNT, .links = -1, .fraction = 1.0};
        const char *k;
        json_t *x;
        json_object_foreach(f, k, x) {
            join(p, fp, k);
            if (!strcmp(k, "at_s")) get_double(c, p, x, &ft->at_s);
            else if (!strcmp(k, "links")) get_int(c, p, x, &ft->links);
            else if (!strcmp(k, "fraction")) get_double(c, p, x, &ft->fraction);
            else if (!strcmp(k, "group")) get_string(c, p, x, ft->group, sizeof ft->group);
            else if (!strcmp(k, "duration_s")) get_double(c, p, x, &ft->duration_s);
            else if (!strcmp(k, "kind")) {
                int e = SCN_FAULT_COUNT;
                get_enum(c, p, x, scn__fault_names, SCN_FAULT_COUNT, &e);
                ft->kind = (enum scn_fault_kind)e;
            } else unknown_key(c, p, k, fault_keys, NKEYS(fault_keys));
        }
        if (!json_object_get(f, "at_s")) err(c, join(p, fp, "at_s"), NULL, "required key missing");
        if (!json_object_get(f, "kind")) err(c, join(p, fp, "kind"), NULL, "required key missing");
        if (json_object_get(f, "links") && json_object_get(f, "fraction"))
            err(c, fp, NULL, "give \"links\" or \"fraction\", not both");
        /* Keys a kind does not use are errors: a silently ignored key misleads. */
        bool whole = ft->kind == SCN_FAULT_KILL_SERVER || ft->kind == SCN_FAULT_PAUSE_APP;
        bool timed = ft->kind == SCN_FAULT_STOP_READING || ft->kind == SCN_FAULT_PAUSE_APP;
        static const char *const target_keys[] = {"links", "fraction", "group"};
        for (int t = 0; whole && t < 3; t++)
            if (json_object_get(f, target_keys[t]))
                err(c, join(p, fp, target_keys[t]), NULL,
                    ft->kind == SCN_FAULT_KILL_SERVER ? "not used by kind kill_server"
                                                      : "not used by kind pause_app");
        if (!timed && ft->kind != SCN_FAULT_COUNT && json_object_get(f, "duration_s"))
            err(c, join(p, fp, "duration_s"), NULL,
                "only used by kinds stop_reading and pause_app");
        if (ft->kind == SCN_FAULT_PAUSE_APP && !json_object_get(f, "duration_s"))
            err(c, join(p, fp, "duration_s"), NULL, "required key missing for kind pause_app");
    }
}

static void parse_cpus(struct ctx *c, const char *path, const json_t *v, int *cpus, int *n)
{
    if (!is_array(c, path, v, SCN_CPUS_MAX)) return;
    size_t i;
    json_t *x;
    char p[PATH_BYTES];
    *n = 0;
    json_array_foreach(v, i, x) {
        int64_t cpu = 0;
        int before = c->errs;
        get_int(c, index_path(p, path, i), x, &cpu);
        if (c->errs != before) continue;   /* reported; not checked again for range */
        cpus[(*n)++] = (int)(cpu < -1 ? -1 : cpu > 1 << 20 ? 1 << 20 : cpu);
    }
}

static const char *const pin_keys[] = {"server", "driver"};

static void parse_pin(struct ctx *c, const json_t *v, struct scn *s)
{
    if (!is_object(c, "pin", v)) return;
    const char *k;
    json_t *x;
    char p[PATH_BYTES];
    json_object_foreach((json_t *)v, k, x) {
        join(p, "pin", k);
        if (!strcmp(k, "server")) parse_cpus(c, p, x, s->pin_server, &s->n_pin_server);
        else if (!strcmp(k, "driver")) parse_cpus(c, p, x, s->pin_driver, &s->n_pin_driver);
        else unknown_key(c, p, k, pin_keys, NKEYS(pin_keys));
    }
}

static const char *const driver_keys[] = {"threads", "tick_us", "remeasure", "saturated_cpu",
                                           "saturated_lag_us", "stall_ms", "nice"};

static void parse_driver(struct ctx *c, const json_t *v, struct scn *s)
{
    if (!is_object(c, "driver", v)) return;
    const char *k;
    json_t *x;
    char p[PATH_BYTES];
    json_object_foreach((json_t *)v, k, x) {
        join(p, "driver", k);
        if (!strcmp(k, "threads")) get_int(c, p, x, &s->driver_threads);
        else if (!strcmp(k, "tick_us")) get_double(c, p, x, &s->driver_tick_us);
        else if (!strcmp(k, "remeasure")) get_int(c, p, x, &s->driver_remeasure);
        else if (!strcmp(k, "saturated_cpu")) get_double(c, p, x, &s->driver_saturated_cpu);
        else if (!strcmp(k, "saturated_lag_us")) get_double(c, p, x, &s->driver_saturated_lag_us);
        else if (!strcmp(k, "stall_ms")) get_double(c, p, x, &s->driver_stall_ms);
        else if (!strcmp(k, "nice")) get_int(c, p, x, &s->driver_nice);
        else unknown_key(c, p, k, driver_keys, NKEYS(driver_keys));
    }
}

/* [1000, 5000] or [{"links": 1000}, {"links": 5000}]. */
static void parse_steps(struct ctx *c, const json_t *v, struct scn *s)
{
    if (!is_array(c, "steps", v, SCN_STEPS_MAX)) return;
    static const char *const step_keys[] = {"links"};
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        char sp[PATH_BYTES], p[PATH_BYTES];
        index_path(sp, "steps", i);
        int64_t links = 0;
        if (json_is_object(x)) {
            const char *k;
            json_t *y;
            json_object_foreach(x, k, y) {
                join(p, sp, k);
                if (!strcmp(k, "links")) get_int(c, p, y, &links);
                else unknown_key(c, p, k, step_keys, 1);
            }
            if (!json_object_get(x, "links")) err(c, join(p, sp, "links"), NULL, "required key missing");
        } else if (json_is_number(x)) {
            get_int(c, sp, x, &links);
        } else {
            err(c, sp, x, "must be a link count or {\"links\": N}");
        }
        s->steps[s->n_steps++] = links;
    }
}

/* One {param: int} object into s->vparams under `owner` (a variant or an instance name). */
static void parse_params(struct ctx *c, const char *path, const char *owner, bool of_instance,
                         const json_t *x, struct scn *s)
{
    const char *par;
    json_t *y;
    char p2[PATH_BYTES];
    if (!is_object(c, path, x)) return;
    json_object_foreach((json_t *)x, par, y) {
        join(p2, path, par);
        if (s->n_vparams == SCN_VPARAMS_MAX) {
            err(c, p2, NULL, "too many params (variant_config and instance configs: at most 128 in all)");
            return;
        }
        struct scn_vparam *vp = &s->vparams[s->n_vparams];
        if (strlen(owner) >= sizeof vp->variant || strlen(par) >= sizeof vp->param) {
            err(c, p2, NULL, "name too long");
            continue;
        }
        int before = c->errs;
        get_int(c, p2, y, &vp->value);
        if (c->errs != before) continue;
        snprintf(vp->variant, sizeof vp->variant, "%s", owner);
        snprintf(vp->param, sizeof vp->param, "%s", par);
        vp->of_instance = of_instance;
        s->n_vparams++;
    }
}

/* An instance: {"name": N, "variant": V, "config": {param: int}}. Its name goes into
 * variants[], its definition into instances[]; names are checked in scn_validate. */
static void parse_instance(struct ctx *c, const char *path, size_t i, const json_t *x,
                           struct scn *s)
{
    static const char *const keys[] = {"name", "variant", "config"};
    struct scn_instance *in = &s->instances[s->n_instances];
    memset(in, 0, sizeof *in);
    in->at = (int)i;
    const char *k;
    json_t *y;
    char p[PATH_BYTES];
    json_object_foreach((json_t *)x, k, y) {
        join(p, path, k);
        if (!strcmp(k, "name")) get_string(c, p, y, in->name, sizeof in->name);
        else if (!strcmp(k, "variant")) get_string(c, p, y, in->variant, sizeof in->variant);
        else if (strcmp(k, "config")) unknown_key(c, p, k, keys, 3);
    }
    for (int j = 0; j < 2; j++)
        if (!json_object_get(x, keys[j])) err(c, join(p, path, keys[j]), NULL, "required key missing");
    if (!in->name[0] || !in->variant[0]) return;
    const json_t *cfg = json_object_get(x, "config");
    if (cfg) parse_params(c, join(p, path, "config"), in->name, true, cfg, s);
    s->variants_at[s->n_variants] = (int)i;
    memcpy(s->variants[s->n_variants++], in->name, SCN_NAME_BYTES);   /* both NUL-terminated within */
    s->n_instances++;
}

/* Each entry a variant's name, or an instance (an object). */
static void parse_variants(struct ctx *c, const json_t *v, struct scn *s)
{
    if (!is_array(c, "variants", v, SCN_VARIANTS_MAX)) return;
    s->n_variants = 0;
    s->n_instances = 0;
    size_t i;
    json_t *x;
    char p[PATH_BYTES];
    json_array_foreach(v, i, x) {
        index_path(p, "variants", i);
        if (json_is_object(x)) {
            parse_instance(c, p, i, x, s);
            continue;
        }
        if (!json_is_string(x)) {
            err(c, p, x, "must be a variant's name or an instance {\"name\", \"variant\", \"config\"}");
            continue;
        }
        s->variants_at[s->n_variants] = (int)i;
        get_string(c, p, x, s->variants[s->n_variants++], SCN_VARIANT_BYTES);
    }
}

/* {variant: {param: int}}; names are checked against the catalog in scn_validate. */
static void parse_variant_config(struct ctx *c, const json_t *v, struct scn *s)
{
    if (!is_object(c, "variant_config", v)) return;
    const char *var;
    json_t *x;
    char p[PATH_BYTES];
    json_object_foreach((json_t *)v, var, x)
        parse_params(c, join(p, "variant_config", var), var, false, x, s);
}

static const char *const expect_keys[] = {"line", "why"};

/* An entry is a line ("evloop.msgs_dropped == 0"), or {"line": ..., "why": ...} where
 * why says which bug the line would catch (docs/scenarios.md: a line that no plausible
 * bug breaks is no check). */
static void parse_expect(struct ctx *c, const json_t *v, struct scn *s)
{
    if (!is_array(c, "expect", v, SCN_EXPECT_MAX)) return;
    size_t i;
    json_t *x;
    char p[PATH_BYTES], p2[PATH_BYTES], why[256];
    json_array_foreach(v, i, x) {
        index_path(p, "expect", i);
        struct scn_expect *e = &s->expect[s->n_expect];
        const json_t *line = x;
        char because[SCN_EXPECT_BYTES] = "";
        if (json_is_object(x)) {
            const char *k;
            json_t *y;
            int bad = 0;
            json_object_foreach((json_t *)x, k, y) {
                if (!strcmp(k, "why")) get_string(c, join(p2, p, k), y, because, sizeof because);
                else if (strcmp(k, "line")) unknown_key(c, join(p2, p, k), k, expect_keys, NKEYS(expect_keys)), bad++;
            }
            line = json_object_get(x, "line");
            if (!line) {
                err(c, p, x, "needs \"line\": the expectation, like \"evloop.msgs_dropped == 0\"");
                continue;
            }
            join(p2, p, "line");
            snprintf(p, sizeof p, "%s", p2);
            if (bad) continue;
        }
        if (!json_is_string(line)) {
            err(c, p, line, "must be a string like \"evloop.msgs_dropped == 0\" (or an object "
                "with \"line\" and \"why\")");
            continue;
        }
        if (scn_expect_parse(json_string_value(line), e, why, sizeof why) < 0) {
            err(c, p, line, why);
            continue;
        }
        snprintf(e->why, sizeof e->why, "%s", because);
        s->n_expect++;
    }
}

static const char *const top_keys[] = {
    "name", "description", "links", "duration_s", "warmup_s", "repetitions",
    "connect_rate_per_s", "processes", "variants", "variant_config", "client", "groups",
    "app", "limits", "faults", "pin", "driver", "steps", "expect"};

int scn_parse_json(const char *file, const json_t *root, struct scn *s, struct scn_diag *d)
{
    struct ctx c = {.file = file, .d = d, .errs = 0};
    scn_defaults(s);
    if (!json_is_object(root)) {
        char g[GOT_BYTES];
        scn_diag_add(d, "%s: must be a JSON object (got %s)", file, scn__json_text(root, g, sizeof g));
        return 1;
    }
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)root, k, x) {
        if (!strcmp(k, "name")) get_string(&c, k, x, s->name, sizeof s->name);
        else if (!strcmp(k, "description")) get_string(&c, k, x, s->description, sizeof s->description);
        else if (!strcmp(k, "links")) get_int(&c, k, x, &s->links);
        else if (!strcmp(k, "duration_s")) get_double(&c, k, x, &s->duration_s);
        else if (!strcmp(k, "warmup_s")) get_double(&c, k, x, &s->warmup_s);
        else if (!strcmp(k, "repetitions")) get_int(&c, k, x, &s->repetitions);
        else if (!strcmp(k, "connect_rate_per_s")) get_double(&c, k, x, &s->connect_rate_per_s);
        else if (!strcmp(k, "processes")) get_int(&c, k, x, &s->processes);
        else if (!strcmp(k, "variants")) parse_variants(&c, x, s);
        else if (!strcmp(k, "variant_config")) parse_variant_config(&c, x, s);
        else if (!strcmp(k, "client")) parse_client(&c, x, &s->client);
        else if (!strcmp(k, "groups")) continue;   /* below */
        else if (!strcmp(k, "app")) parse_app(&c, x, &s->app);
        else if (!strcmp(k, "limits")) parse_limits(&c, x, &s->limits);
        else if (!strcmp(k, "faults")) parse_faults(&c, x, s);
        else if (!strcmp(k, "pin")) parse_pin(&c, x, s);
        else if (!strcmp(k, "driver")) parse_driver(&c, x, s);
        else if (!strcmp(k, "steps")) parse_steps(&c, x, s);
        else if (!strcmp(k, "expect")) parse_expect(&c, x, s);
        else unknown_key(&c, k, k, top_keys, NKEYS(top_keys));
    }
    /* Groups start from the default client, wherever "client" appears in the file. */
    const json_t *groups = json_object_get(root, "groups");
    if (groups) parse_groups(&c, groups, s);
    return c.errs;
}

/* The scenario's name when the file gives none: its base name without ".json". */
static void name_from_file(const char *file, char *out, size_t n)
{
    const char *b = strrchr(file, '/');
    b = b ? b + 1 : file;
    size_t len = strlen(b);
    if (len > 5 && !strcmp(b + len - 5, ".json")) len -= 5;
    if (len >= n) len = n - 1;
    memcpy(out, b, len);
    out[len] = '\0';
}

int scn_parse_file(const char *file, struct scn *s, struct scn_diag *d)
{
    scn_defaults(s);
    name_from_file(file, s->name, sizeof s->name);
    FILE *f = fopen(file, "rb");
    if (!f) {
        scn_diag_add(d, "%s: cannot read: %s", file, strerror(errno));
        return 1;
    }
    json_error_t je;
    /* Duplicate keys are refused: with two "links" only one would count, silently. */
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!root) {
        scn_diag_add(d, "%s:%d:%d: invalid JSON: %s", file, je.line, je.column, je.text);
        return 1;
    }
    char name[SCN_NAME_BYTES];
    snprintf(name, sizeof name, "%s", s->name);
    int n = scn_parse_json(file, root, s, d);
    if (!json_object_get(root, "name")) snprintf(s->name, sizeof s->name, "%s", name);
    json_decref(root);
    return n;
}

int scn_load_file(const char *file, const struct scn_catalog *cat, struct scn *s,
                  struct scn_diag *d)
{
    int n = scn_parse_file(file, s, d);
    return n + scn_validate(s, cat, file, d);
}
