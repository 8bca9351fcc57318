/* scn_validate.c — scenario defaults and the pure check of a scenario: ranges, cross-field rules, variants and their params. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "link_registry.h"
#include "scn_internal.h"

_Static_assert(SCN_WIRE_HDR_BYTES == 48, "payloads carry struct wire_hdr (wire.h): 48 bytes");

static const struct scn_variant_info builtin_infos[SCN_BUILTIN_N] = {
    {"dual", NULL}, {"batch", NULL}, {"poll", NULL}, {"hybrid", NULL}, {"pair", NULL}, {"evloop", NULL},
};
static const struct scn_catalog builtin_catalog = {builtin_infos, SCN_BUILTIN_N};

const struct scn_catalog *scn_catalog_builtin(void)
{
    return &builtin_catalog;
}

/* Every default of the format in one place (docs/scenarios.md lists them). */
void scn_defaults(struct scn *s)
{
    memset(s, 0, sizeof *s);
    s->links = 100;
    s->duration_s = 2.0;
    s->warmup_s = 0.5;
    s->repetitions = 3;
    s->connect_rate_per_s = 10000;
    s->processes = 1;
    s->n_variants = SCN_BUILTIN_N;
    for (int i = 0; i < SCN_BUILTIN_N; i++)
        snprintf(s->variants[i], SCN_VARIANT_BYTES, "%s", scn__builtin_variants[i]), s->variants_at[i] = i;
    s->client = (struct scn_client){
        .rate_per_s = 10,
        .pattern = SCN_PATTERN_CONSTANT,
        .payload = {.dist = SCN_DIST_FIXED, .min_bytes = 64, .max_bytes = 64},
        .in_flight_max = 0,
        .stop_reading_at_s = -1,
        .close_rate_per_s = 0,
        .reconnect = false,
        /* every browser offers permessage-deflate; the server decides (its variant's
         * compression param, off by default), so an offer costs nothing otherwise */
        .compression = SCN_COMPRESSION_OFFER,
        .payload_fill = SCN_FILL_TEXT,
    };
    s->app = (struct scn_app){
        .mode = SCN_APP_ECHO,
        .workers = 2,
        .service_time_us = 0,
        .push_rate_per_s = 0,
        .push_pattern = SCN_PATTERN_CONSTANT,
        .push_payload = {.dist = SCN_DIST_FIXED, .min_bytes = 64, .max_bytes = 64},
        .idle_timeout_ms = 0,
        .idle_period_ms = 1000,
        .auto_close = true,
    };
    s->limits = (struct scn_limits){.rate_limit_per_s = 0, .max_msg_bytes = 4 << 20};
    s->driver_threads = 0;
    s->driver_tick_us = 50;
    s->driver_remeasure = 2;
    s->driver_saturated_cpu = 0.8;
    s->driver_saturated_lag_us = 1000;
    s->driver_stall_ms = 100;
    s->driver_nice = -10;
}

struct vctx {
    const char *file;
    struct scn_diag *d;
    int errs;
};

#define PATH_BYTES 256
#define MAX_PAYLOAD_BYTES (64LL << 20)

static void verr(struct vctx *c, const char *path, const char *got, const char *rule)
{
    scn__err(c->d, c->file, path, got, "%s", rule);
    c->errs++;
}

/* Integer in [lo, hi]: the rule names the bound that was crossed. */
static bool chk_i(struct vctx *c, const char *path, int64_t v, int64_t lo, int64_t hi)
{
    char rule[64], got[32];
    if (v >= lo && v <= hi) return true;
    snprintf(rule, sizeof rule, v < lo ? "must be >= %" PRId64 : "must be <= %" PRId64, v < lo ? lo : hi);
    verr(c, path, scn__i64_text(v, got, sizeof got), rule);
    return false;
}

/* Real in [lo, hi], or (lo, hi] when lo_open. */
static bool chk_d(struct vctx *c, const char *path, double v, double lo, bool lo_open, double hi)
{
    char rule[64], got[40];
    if ((lo_open ? v > lo : v >= lo) && v <= hi) return true;
    if (lo_open ? v <= lo : v < lo)
        snprintf(rule, sizeof rule, "must be %s %.15g", lo_open ? ">" : ">=", lo);
    else
        snprintf(rule, sizeof rule, "must be <= %.15g", hi);
    verr(c, path, scn__dbl_text(v, got, sizeof got), rule);
    return false;
}

static void join(char *buf, const char *prefix, const char *key)
{
    scn__join(buf, PATH_BYTES, prefix, key);
}

static void chk_payload(struct vctx *c, const char *path, const struct scn_payload *p)
{
    char sub[PATH_BYTES], rule[96], got[32];
    if (p->dist == SCN_DIST_FIXED) {
        if (p->min_bytes < SCN_WIRE_HDR_BYTES)
            verr(c, path, scn__i64_text(p->min_bytes, got, sizeof got),
                 "must be >= 48, the wire header every message carries");
        else
            chk_i(c, path, p->min_bytes, SCN_WIRE_HDR_BYTES, MAX_PAYLOAD_BYTES);
        return;
    }
    join(sub, path, "min");
    if (p->min_bytes < SCN_WIRE_HDR_BYTES)
        verr(c, sub, scn__i64_text(p->min_bytes, got, sizeof got),
             "must be >= 48, the wire header every message carries");
    join(sub, path, "max");
    if (chk_i(c, sub, p->max_bytes, SCN_WIRE_HDR_BYTES, MAX_PAYLOAD_BYTES) && p->max_bytes < p->min_bytes) {
        snprintf(rule, sizeof rule, "must be >= min (%" PRId64 ")", p->min_bytes);
        verr(c, sub, scn__i64_text(p->max_bytes, got, sizeof got), rule);
    }
    if (p->dist == SCN_DIST_EXPONENTIAL && p->max_bytes > p->min_bytes &&
        (p->mean_bytes <= p->min_bytes || p->mean_bytes >= p->max_bytes)) {
        join(sub, path, "mean");
        snprintf(rule, sizeof rule, "must be between min and max (%" PRId64 " < mean < %" PRId64 ")",
                 p->min_bytes, p->max_bytes);
        verr(c, sub, scn__i64_text(p->mean_bytes, got, sizeof got), rule);
    }
}

/* The client keys under prefix; mask says which to check (a group checks only its own). */
static void chk_client(struct vctx *c, const struct scn *s, const char *prefix,
                       const struct scn_client *cl, unsigned mask)
{
    char p[PATH_BYTES], rule[96], got[40];
    if (mask & SCN_CK_RATE) join(p, prefix, "rate_per_s"), chk_d(c, p, cl->rate_per_s, 0, false, 1e6);
    if (mask & SCN_CK_PAYLOAD) join(p, prefix, "payload_bytes"), chk_payload(c, p, &cl->payload);
    if (mask & SCN_CK_IN_FLIGHT) {
        join(p, prefix, "in_flight_max");
        if (chk_i(c, p, cl->in_flight_max, 0, 1000000) && cl->in_flight_max > 0 &&
            s->app.mode != SCN_APP_ECHO)
            verr(c, p, scn__i64_text(cl->in_flight_max, got, sizeof got),
                 "needs app.mode echo: a sink sends no replies to count in flight");
    }
    if ((mask & SCN_CK_STOP_READING) && cl->stop_reading_at_s >= s->duration_s) {
        join(p, prefix, "stop_reading_at_s");
        snprintf(rule, sizeof rule, "must be < duration_s (%.15g)", s->duration_s);
        verr(c, p, scn__dbl_text(cl->stop_reading_at_s, got, sizeof got), rule);
    }
    if (mask & SCN_CK_CLOSE_RATE) join(p, prefix, "close_rate_per_s"), chk_d(c, p, cl->close_rate_per_s, 0, false, 1000);
    if (mask & SCN_CK_MESSAGES) join(p, prefix, "messages_per_link"), chk_i(c, p, cl->messages_per_link, 0, 1000000000000);
}

/* One server process cannot hold more than SCN_LINKS_PER_PROCESS_MAX links: say why. */
static void chk_links(struct vctx *c, const char *path, int64_t links, int64_t processes)
{
    if (!chk_i(c, path, links, 1, 1000000) || processes < 1) return;
    int64_t per = (links + processes - 1) / processes;
    if (per <= SCN_LINKS_PER_PROCESS_MAX) return;
    char rule[320], got[32];
    if (processes == 1)
        snprintf(rule, sizeof rule,
                 "must be <= %d for one server process: the machine allows 20000 open files per "
                 "process (a hard limit) and the server needs some for itself; set \"processes\" "
                 "to %" PRId64 " or more to go beyond",
                 SCN_LINKS_PER_PROCESS_MAX, (links + SCN_LINKS_PER_PROCESS_MAX - 1) / SCN_LINKS_PER_PROCESS_MAX);
    else
        snprintf(rule, sizeof rule,
                 "must be <= %d per server process (20000 open files per process): %" PRId64
                 " processes hold %" PRId64 " links each; raise \"processes\"",
                 SCN_LINKS_PER_PROCESS_MAX, processes, per);
    verr(c, path, scn__i64_text(links, got, sizeof got), rule);
}

static bool valid_name(const char *n)
{
    if (!*n) return false;
    for (const char *p = n; *p; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

const struct scn_instance *scn_instance_find(const struct scn *s, const char *name)
{
    for (int i = 0; i < s->n_instances; i++)
        if (!strcmp(s->instances[i].name, name)) return &s->instances[i];
    return NULL;
}

const char *scn_variant_module(const struct scn *s, const char *name)
{
    const struct scn_instance *in = scn_instance_find(s, name);
    return in ? in->variant : name;
}

static const struct scn_variant_info *lookup(const struct scn_catalog *cat, const char *name)
{
    for (int i = 0; i < cat->n; i++)
        if (!strcmp(cat->variants[i].name, name)) return &cat->variants[i];
    return NULL;
}

/* "unknown variant (did you mean ...)" into rule when name is not in cat (nor, with
 * builtins, one of the six built-in names). Suggestions come from both. */
static bool known_variant(const struct scn_catalog *cat, bool builtins, const char *name,
                          char *rule, size_t n, const struct scn *s)
{
    if (lookup(cat, name)) return true;
    /* go:<design>: the seed's own Go design beside its C port (run_go.h); where a run
     * leaves it out, its config and expect lines name it like a built-in */
    if (builtins && !strncmp(name, "go:", 3) && strcmp(name + 3, "evloop"))
        for (int i = 0; i < SCN_BUILTIN_N; i++)
            if (!strcmp(name + 3, scn__builtin_variants[i])) return true;
    const char *names[64 + 2 * SCN_BUILTIN_N + SCN_VARIANTS_MAX] = {0};
    int k = 0;
    for (int i = 0; i < cat->n && k < 64; i++) {
        bool dup = false;   /* a catalog built from a list with a repeat */
        for (int j = 0; j < k; j++) dup |= !strcmp(names[j], cat->variants[i].name);
        if (!dup) names[k++] = cat->variants[i].name;
    }
    for (int i = 0; i < SCN_BUILTIN_N; i++) {
        if (!strcmp(name, scn__builtin_variants[i])) {
            if (builtins) return true;
            /* a built-in the caller could not load: say that, not "did you mean" itself */
            snprintf(rule, n, "variant \"%s\" is built in but its module was not found (is it built?)", name);
            return false;
        }
        if (!lookup(cat, scn__builtin_variants[i])) names[k++] = scn__builtin_variants[i];
    }
    /* the scenario's instances, for expect lines ("did you mean \"poll@50ms\"?") */
    for (int i = 0; s && i < s->n_instances && k < 64 + SCN_BUILTIN_N; i++) names[k++] = s->instances[i].name;
    const char *near = scn_closest(name, names, k);
    size_t o = (size_t)snprintf(rule, n, "unknown variant \"%s\"", name);
    if (near) {
        snprintf(rule + o, n - o, " (did you mean \"%s\"?)", near);
    } else {
        o += (size_t)snprintf(rule + o, n - o, " (known:");
        for (int i = 0; i < k && o < n; i++) o += (size_t)snprintf(rule + o, n - o, " %s", names[i]);
        if (o < n) snprintf(rule + o, n - o, ")");
    }
    return false;
}

/* drops_by_reason.<reason> of a variant that cannot drop for that reason reads 0 by
 * construction: an expectation that can never fail. Refused when the variant's module
 * is loaded (its table declares its reasons); "*" names every variant of the scenario. */
static void chk_drop_reason(struct vctx *c, const struct scn *s, const struct scn_catalog *cat,
                            const char *path, const char *got, const struct scn_ref *ref)
{
    static const char pre[] = "drops_by_reason.";
    if (strncmp(ref->metric, pre, sizeof pre - 1)) return;
    int reason = link_drop_reason_parse(ref->metric + sizeof pre - 1);
    if (reason < 0) return;   /* the parser refused it already */
    bool all = !strcmp(ref->variant, "*");
    for (int i = 0; i < (all ? s->n_variants : 1); i++) {
        /* an instance (poll@50ms) declares what its module does */
        const char *name = scn_variant_module(s, all ? s->variants[i] : ref->variant);
        const struct scn_variant_info *vi = lookup(cat, name);
        const struct link_variant *v = vi ? vi->v : NULL;
        if (!v || (v->drop_reasons & LINK_DROP_BIT(reason))) continue;
        char rule[400], can[200] = "";
        size_t o = 0;
        for (int k = 0; k < LINK_DROP_COUNT && o < sizeof can; k++)
            if (v->drop_reasons & LINK_DROP_BIT(k))
                o += (size_t)snprintf(can + o, sizeof can - o, "%s%s", o ? ", " : "",
                                      link_drop_reason_name((enum link_drop_reason)k));
        snprintf(rule, sizeof rule, "%s cannot drop for reason %s (it declares: %s), so this "
                 "line could never fail%s", v->name, link_drop_reason_name((enum link_drop_reason)reason),
                 can[0] ? can : "none", all ? "; name the variants it is meant for" : "");
        verr(c, path, got, rule);
    }
}

/* An instance's name: it goes into report keys, file names, chart legends and expect
 * lines ("poll@50ms.lat_out_us.p99"), so no '.', ':', '/' or spaces. */
static bool instance_name_ok(const char *n)
{
    if (!(('a' <= *n && *n <= 'z') || ('A' <= *n && *n <= 'Z'))) return false;
    for (const char *p = n; *p; p++)
        if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '+' || *p == '@'))
            return false;
    return true;
}

static bool builtin_name(const char *n)
{
    for (int i = 0; i < SCN_BUILTIN_N; i++)
        if (!strcmp(n, scn__builtin_variants[i])) return true;
    return false;
}

static bool runs(const struct scn *s, const char *name)
{
    for (int i = 0; i < s->n_variants; i++)
        if (!strcmp(s->variants[i], name)) return true;
    return false;
}

static void chk_instances(struct vctx *c, const struct scn *s, const struct scn_catalog *cat)
{
    char p[PATH_BYTES], rule[400], got[96];
    for (int k = 0; k < s->n_instances; k++) {
        const struct scn_instance *in = &s->instances[k];
        /* an instance a --variant list leaves out needs no loaded module (a run loads
         * only the modules it runs): a built-in name is enough, as in variant_config */
        bool builtins = !runs(s, in->name);
        snprintf(p, sizeof p, "variants[%d].name", in->at);
        snprintf(got, sizeof got, "\"%s\"", in->name);
        if (!instance_name_ok(in->name))
            verr(c, p, got, "an instance's name starts with a letter and holds only letters, digits, "
                            "'_', '-', '+' and '@' (it names files and expect lines)");
        else if (builtin_name(in->name) || lookup(cat, in->name))
            verr(c, p, got, "is a variant's name: an instance needs a name of its own (for example "
                            "\"poll@50ms\")");
        snprintf(p, sizeof p, "variants[%d].variant", in->at);
        snprintf(got, sizeof got, "\"%s\"", in->variant);
        if (scn_instance_find(s, in->variant))
            verr(c, p, got, "must name a variant module, not another instance");
        else if (!known_variant(cat, builtins, in->variant, rule, sizeof rule, NULL))
            verr(c, p, got, rule);
    }
}

static void chk_variants(struct vctx *c, const struct scn *s, const struct scn_catalog *cat)
{
    char p[2 * PATH_BYTES], rule[400], got[96];
    if (s->n_variants == 0) verr(c, "variants", "[]", "must name at least one variant");
    for (int i = 0; i < s->n_variants; i++) {
        snprintf(p, sizeof p, "variants[%d]", s->variants_at[i]);
        snprintf(got, sizeof got, "\"%s\"", s->variants[i]);
        /* an instance defined in the file is checked by chk_instances; one named only on
         * the command line (--variant) and defined nowhere is an unknown variant */
        if (!scn_instance_find(s, s->variants[i]) &&
            !known_variant(cat, false, s->variants[i], rule, sizeof rule, s))
            verr(c, p, got, rule);
        for (int j = 0; j < i; j++)
            if (!strcmp(s->variants[i], s->variants[j])) {
                snprintf(p, sizeof p, "variants[%d]", s->variants_at[i]);
                verr(c, p, got, "listed twice");
            }
    }
    chk_instances(c, s, cat);
    for (int i = 0; i < s->n_vparams; i++) {
        const struct scn_vparam *vp = &s->vparams[i];
        const struct scn_instance *in = scn_instance_find(s, vp->variant);
        const char *module = vp->variant;
        char base[PATH_BYTES];
        if (vp->of_instance) {
            if (!in) continue;   /* an instance whose definition failed: already said */
            snprintf(base, sizeof base, "variants[%d].config", in->at);
            module = in->variant;
            if (scn_instance_find(s, module)) continue;   /* said by chk_instances */
        } else {
            snprintf(base, sizeof base, "variant_config.%s", vp->variant);
            if (in) {
                if (i == 0 || s->vparams[i - 1].of_instance || strcmp(s->vparams[i - 1].variant, vp->variant)) {
                    snprintf(rule, sizeof rule, "\"%s\" is an instance: its params go in its own "
                             "\"config\" (variants[%d].config)", vp->variant, in->at);
                    verr(c, base, NULL, rule);
                }
                continue;
            }
        }
        if (!known_variant(cat, true, module, rule, sizeof rule, NULL)) {
            /* one error per variant, not one per param (an instance's module: said above) */
            if (!vp->of_instance && (i == 0 || s->vparams[i - 1].of_instance ||
                                     strcmp(s->vparams[i - 1].variant, vp->variant)))
                verr(c, base, NULL, rule);
            continue;
        }
        const struct scn_variant_info *vi = lookup(cat, module);
        const struct link_variant *v = vi ? vi->v : NULL;
        if (!v) continue;   /* its params are unknown here */
        snprintf(p, sizeof p, "%s.%s", base, vp->param);
        /* The registry's setter is the authority on names and ranges; the messages are
         * ours, in the scenario's "file: key: rule (got value)" form. */
        int64_t vals[256];
        char why[256];
        if (v->n_params > 256) continue;
        link_params_defaults(v, vals);
        int rc = link_params_set(v, vals, vp->param, vp->value, why, sizeof why);
        if (rc == 0) continue;
        int idx = link_params_find(v, vp->param);
        if (idx < 0) {
            const char *names[256] = {0};
            for (int j = 0; j < v->n_params; j++) names[j] = v->params[j].name;
            const char *near = scn_closest(vp->param, names, v->n_params);
            size_t o = (size_t)snprintf(rule, sizeof rule, "%s has no param \"%s\"", module, vp->param);
            if (near) {
                snprintf(rule + o, sizeof rule - o, " (did you mean \"%s\"?)", near);
            } else {
                o += (size_t)snprintf(rule + o, sizeof rule - o, " (its params:");
                for (int j = 0; j < v->n_params && o < sizeof rule; j++)
                    o += (size_t)snprintf(rule + o, sizeof rule - o, " %s", names[j]);
                if (o < sizeof rule) snprintf(rule + o, sizeof rule - o, ")");
            }
            verr(c, p, NULL, rule);
            continue;
        }
        const struct link_param *lp = &v->params[idx];
        snprintf(rule, sizeof rule, "must be in [%" PRId64 ", %" PRId64 "] (%.200s's default is %" PRId64 ")",
                 lp->min, lp->max, module, lp->def);
        verr(c, p, scn__i64_text(vp->value, got, sizeof got), rule);
    }
    for (int i = 0; i < s->n_expect; i++) {
        const struct scn_ref *refs[2] = {&s->expect[i].lhs, s->expect[i].rhs_is_ref ? &s->expect[i].rhs : NULL};
        snprintf(p, sizeof p, "expect[%d]", i);
        char g[SCN_EXPECT_BYTES + 2];
        snprintf(g, sizeof g, "\"%s\"", s->expect[i].text);
        for (int r = 0; r < 2; r++) {
            if (!refs[r]) continue;
            if (strcmp(refs[r]->variant, "*") && !scn_instance_find(s, refs[r]->variant) &&
                !known_variant(cat, true, refs[r]->variant, rule, sizeof rule, s)) {
                verr(c, p, g, rule);
                continue;
            }
            chk_drop_reason(c, s, cat, p, g, refs[r]);
        }
    }
}

int64_t scn_group_links(const struct scn *s, int i, int64_t links)
{
    if (i < s->n_groups) {
        const struct scn_group *g = &s->groups[i];
        return g->links >= 0 ? g->links : g->fraction > 0 ? llround(g->fraction * (double)links) : 0;
    }
    int64_t rest = links;
    for (int j = 0; j < s->n_groups; j++) rest -= scn_group_links(s, j, links);
    return rest > 0 ? rest : 0;
}

static void chk_groups(struct vctx *c, const struct scn *s)
{
    char gp[PATH_BYTES], p[PATH_BYTES], got[96], rule[160];
    for (int i = 0; i < s->n_groups; i++) {
        const struct scn_group *g = &s->groups[i];
        snprintf(gp, sizeof gp, "groups[%d]", i);
        join(p, gp, "name");
        snprintf(got, sizeof got, "\"%s\"", g->name);
        if (!g->name[0]) { /* missing or empty: reported by the parser */ }
        else if (!valid_name(g->name)) verr(c, p, got, "must be a name of letters, digits, _ and -");
        else if (!strcmp(g->name, "default"))
            verr(c, p, got, "\"default\" is the implicit group of the links in no group");
        for (int j = 0; j < i; j++)
            if (!strcmp(g->name, s->groups[j].name)) verr(c, p, got, "used by another group");
        if (g->links >= 0) join(p, gp, "links"), chk_i(c, p, g->links, 0, 1000000);
        else if (g->fraction != -1) join(p, gp, "fraction"), chk_d(c, p, g->fraction, 0, true, 1);
        chk_client(c, s, gp, &g->client, g->set_mask);
    }
    /* The groups must fit in every run's link count. */
    int n_runs = s->n_steps ? s->n_steps : 1;
    for (int r = 0; r < n_runs && s->n_groups; r++) {
        int64_t links = s->n_steps ? s->steps[r] : s->links, sum = 0;
        for (int i = 0; i < s->n_groups; i++) sum += scn_group_links(s, i, links);
        if (sum > links) {
            snprintf(rule, sizeof rule, "the groups take %" PRId64 " links, more than the %" PRId64 " of %s",
                     sum, links, s->n_steps ? "this step" : "the scenario");
            if (s->n_steps) snprintf(p, sizeof p, "steps[%d]", r);
            else snprintf(p, sizeof p, "groups");
            verr(c, p, NULL, rule);
            break;
        }
    }
}

static void chk_faults(struct vctx *c, const struct scn *s)
{
    char fp[PATH_BYTES], p[PATH_BYTES], rule[128], got[96];
    for (int i = 0; i < s->n_faults; i++) {
        const struct scn_fault *f = &s->faults[i];
        snprintf(fp, sizeof fp, "faults[%d]", i);
        join(p, fp, "at_s");
        if (chk_d(c, p, f->at_s, 0, false, 1e9) && f->at_s >= s->duration_s) {
            snprintf(rule, sizeof rule, "must be < duration_s (%.15g)", s->duration_s);
            verr(c, p, scn__dbl_text(f->at_s, got, sizeof got), rule);
        }
        if (f->links >= 0) join(p, fp, "links"), chk_i(c, p, f->links, 0, 1000000);
        else join(p, fp, "fraction"), chk_d(c, p, f->fraction, 0, true, 1);
        join(p, fp, "duration_s");
        if (f->kind == SCN_FAULT_PAUSE_APP) chk_d(c, p, f->duration_s, 0, true, 1e9);
        else chk_d(c, p, f->duration_s, 0, false, 1e9);
        if (f->group[0]) {
            bool found = false;
            found = !strcmp(f->group, "default");   /* the links in no group */
            for (int g = 0; g < s->n_groups; g++) found |= !strcmp(s->groups[g].name, f->group);
            if (!found) {
                join(p, fp, "group");
                snprintf(got, sizeof got, "\"%s\"", f->group);
                verr(c, p, got, "no group of that name in \"groups\" (nor \"default\")");
            }
        }
    }
}

static void chk_cpus(struct vctx *c, const char *path, const int *cpus, int n)
{
    char p[PATH_BYTES], got[32];
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s[%d]", path, i);
        if (!chk_i(c, p, cpus[i], 0, 1023)) continue;
        for (int j = 0; j < i; j++)
            if (cpus[j] == cpus[i]) verr(c, p, scn__i64_text(cpus[i], got, sizeof got), "listed twice");
    }
}

int scn_validate(const struct scn *s, const struct scn_catalog *cat, const char *file,
                 struct scn_diag *d)
{
    struct vctx c = {.file = file, .d = d, .errs = 0};
    char got[96], rule[128], p[PATH_BYTES];
    if (!cat) cat = scn_catalog_builtin();
    snprintf(got, sizeof got, "\"%s\"", s->name);
    if (!valid_name(s->name)) verr(&c, "name", got, "must be a name of letters, digits, _ and -");
    chk_i(&c, "processes", s->processes, 1, 64);
    chk_links(&c, "links", s->links, s->processes);
    chk_d(&c, "duration_s", s->duration_s, 0, true, 3600);
    chk_d(&c, "warmup_s", s->warmup_s, 0, false, 600);
    chk_i(&c, "repetitions", s->repetitions, 1, 100);
    chk_d(&c, "connect_rate_per_s", s->connect_rate_per_s, 0, false, 1e6);
    for (int i = 0; i < s->n_steps; i++) {
        snprintf(p, sizeof p, "steps[%d]", i);
        chk_links(&c, p, s->steps[i], s->processes);
    }
    chk_variants(&c, s, cat);
    chk_client(&c, s, "client", &s->client, ~0u);
    chk_groups(&c, s);

    const struct scn_app *a = &s->app;
    chk_i(&c, "app.workers", a->workers, 1, 64);
    chk_i(&c, "app.service_time_us", a->service_time_us, 0, 10000000);
    chk_d(&c, "app.push.rate_per_s", a->push_rate_per_s, 0, false, 1e6);
    chk_payload(&c, "app.push.payload_bytes", &a->push_payload);
    if (a->push_payload.dist != SCN_DIST_FIXED) /* the app model pushes one size */
        verr(&c, "app.push.payload_bytes", NULL, "must be a fixed size in bytes, not a distribution");
    chk_i(&c, "app.idle.timeout_ms", a->idle_timeout_ms, 0, 3600000);
    if (chk_i(&c, "app.idle.period_ms", a->idle_period_ms, 1, 3600000) && a->idle_timeout_ms > 0 &&
        a->idle_period_ms > a->idle_timeout_ms) {
        /* a scan period longer than the timeout makes the timeout meaningless */
        snprintf(rule, sizeof rule, "must be <= app.idle.timeout_ms (%" PRId64 ")", a->idle_timeout_ms);
        verr(&c, "app.idle.period_ms", scn__i64_text(a->idle_period_ms, got, sizeof got), rule);
    }
    chk_i(&c, "limits.rate_limit_per_s", s->limits.rate_limit_per_s, 0, 1000000);
    chk_i(&c, "limits.max_msg_bytes", s->limits.max_msg_bytes, SCN_WIRE_HDR_BYTES, 256LL << 20);
    chk_faults(&c, s);
    chk_cpus(&c, "pin.server", s->pin_server, s->n_pin_server);
    chk_cpus(&c, "pin.driver", s->pin_driver, s->n_pin_driver);
    chk_i(&c, "driver.threads", s->driver_threads, 0, 64);
    chk_d(&c, "driver.tick_us", s->driver_tick_us, 1, false, 10000);
    chk_i(&c, "driver.remeasure", s->driver_remeasure, 0, 10);
    chk_d(&c, "driver.saturated_cpu", s->driver_saturated_cpu, 0, true, 1);
    chk_d(&c, "driver.saturated_lag_us", s->driver_saturated_lag_us, 1, false, 10000000);
    chk_d(&c, "driver.stall_ms", s->driver_stall_ms, 1, false, 100000);
    chk_i(&c, "driver.nice", s->driver_nice, -20, 19);
    return c.errs;
}
